"""Greedy-decoding fixture for moe-model's GenerateReferenceTest (run once on a machine with PyTorch; CPU, seconds).

Loads the tiny DeepSeekMoE that make_reference.py wrote (../resources/reference/config.json, model.safetensors) into
the reference forward (deepseek_reference.py) and continues a few fixed prompts greedily: at every step a full
forward over the whole sequence, then the argmax of the last position's logits (torch.argmax: the lowest id on ties).
Writes OUT_DIR/generate.json:
  {"torch": version, "cases": [{"prompt": [ids], "generated": [ids], "min_margin": m}, ...]}
min_margin is the smallest gap between the best and the second-best logit over a case's steps: how far every choice
was from a tie, which float rounding could flip.
Usage: python3 make_generate_reference.py OUT_DIR   (OUT_DIR is normally ../resources/reference)
"""
import json, os, sys
import torch
from safetensors.torch import load_file
from deepseek_reference import DeepSeekReference

out = sys.argv[1]
fixture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "reference")
torch.set_default_dtype(torch.float32)
with open(os.path.join(fixture, "config.json")) as f:
    config = json.load(f)
weights = load_file(os.path.join(fixture, "model.safetensors"))
model = DeepSeekReference(config)
context, vocab = config["max_position_embeddings"], config["vocab_size"]

# Fixed prompts of several lengths; each is continued until it fills the context or gets 8 new tokens.
PROMPTS = [[1], [5, 17, 42], [63, 0, 31, 8, 8, 12, 50], [10, 20, 30, 40, 50, 60, 2, 4, 6, 9, 33], [7] * 5]
cases = []
with torch.no_grad():
    for prompt in PROMPTS:
        assert all(0 <= i < vocab for i in prompt) and len(prompt) < context
        ids = list(prompt)
        margins = []
        for _ in range(min(8, context - len(prompt))):
            logits, _ = model.forward(weights, torch.tensor([ids]))
            last = logits[0, -1]
            top2 = torch.topk(last, 2).values
            margins.append((top2[0] - top2[1]).item())
            ids.append(int(torch.argmax(last)))
        cases.append({"prompt": prompt, "generated": ids[len(prompt):], "min_margin": min(margins)})

os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "generate.json"), "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
for c in cases:
    print(c)
