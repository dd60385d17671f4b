"""Reference tensors for moe-model's ReferenceEqualityTest (run once on a machine with PyTorch + transformers).

Writes to OUT_DIR:
  config.json, model.safetensors  a tiny DeepSeekMoE (dense layer 0, MoE layer 1) in the 16B checkpoint names
  reference.safetensors           input ids, the 16B reference code's logits / CE / seq-aux loss and every gradient
                                  of CE + aux (autograd), and HF transformers' DeepseekV2Moe output on layer 1's weights
The whole-model forward is deepseek_reference.py's plain PyTorch transcription of DeepSeekMoE 16B's
modeling_deepseek.py (huggingface.co/deepseek-ai/deepseek-moe-16b-base); the loss is mean CE on shifted labels plus the seq_aux balance loss.
Usage: python3 make_reference.py OUT_DIR
"""
import json, os, sys
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from deepseek_reference import DeepSeekReference

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(20240111)
torch.set_default_dtype(torch.float32)

V, D, H, L, I_DENSE, I_MOE, E, S, K, T, B = 64, 32, 4, 2, 48, 12, 8, 2, 3, 8, 2
THETA, EPS, ALPHA = 10000.0, 1e-6, 0.01
W = {}
def p(name, *shape, std=0.1, ones=False):
    W[name] = (1.0 + 0.1 * torch.randn(*shape)) if ones else torch.randn(*shape) * std

p("model.embed_tokens.weight", V, D, std=0.5)
for l in range(L):
    q = f"model.layers.{l}."
    p(q + "input_layernorm.weight", D, ones=True)
    for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
        p(q + f"self_attn.{proj}.weight", D, D, std=0.15)
    p(q + "post_attention_layernorm.weight", D, ones=True)
    if l == 0:
        p(q + "mlp.gate_proj.weight", I_DENSE, D, std=0.15)
        p(q + "mlp.up_proj.weight", I_DENSE, D, std=0.15)
        p(q + "mlp.down_proj.weight", D, I_DENSE, std=0.15)
    else:
        p(q + "mlp.gate.weight", E, D, std=0.3)
        for e in range(E):
            p(q + f"mlp.experts.{e}.gate_proj.weight", I_MOE, D, std=0.15)
            p(q + f"mlp.experts.{e}.up_proj.weight", I_MOE, D, std=0.15)
            p(q + f"mlp.experts.{e}.down_proj.weight", D, I_MOE, std=0.15)
        p(q + "mlp.shared_experts.gate_proj.weight", S * I_MOE, D, std=0.15)
        p(q + "mlp.shared_experts.up_proj.weight", S * I_MOE, D, std=0.15)
        p(q + "mlp.shared_experts.down_proj.weight", D, S * I_MOE, std=0.15)
p("model.norm.weight", D, ones=True)
p("lm_head.weight", V, D, std=0.15)

config = dict(architectures=["DeepseekForCausalLM"], model_type="deepseek", vocab_size=V, hidden_size=D,
              intermediate_size=I_DENSE, moe_intermediate_size=I_MOE, num_hidden_layers=L, num_attention_heads=H,
              num_key_value_heads=H, n_routed_experts=E, n_shared_experts=S, num_experts_per_tok=K,
              first_k_dense_replace=1, moe_layer_freq=1, norm_topk_prob=False, scoring_func="softmax",
              aux_loss_alpha=ALPHA, seq_aux=True, hidden_act="silu", max_position_embeddings=16,
              rms_norm_eps=EPS, rope_theta=THETA, rope_scaling=None, attention_bias=False,
              tie_word_embeddings=False, torch_dtype="float32", sparkmoe_preset="reference-tiny")
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
save_file({k: v.contiguous() for k, v in W.items()}, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})

model = DeepSeekReference(config)

ids_full = torch.randint(0, V, (B, T + 1))
params = {k: v.clone().requires_grad_(True) for k, v in W.items()}
logits, aux = model.forward(params, ids_full[:, :-1])
ce = F.cross_entropy(logits.view(-1, V), ids_full[:, 1:].reshape(-1))
(ce + aux).backward()
ref = {"input_ids": ids_full.float(), "logits": logits.detach(), "ce_loss": ce.detach().reshape(1),
       "aux_loss": aux.detach().reshape(1)}
for k, v in params.items():
    ref["grad." + k] = v.grad.detach()

meta = {"torch": torch.__version__}
x_moe = torch.randn(B, T, D)
with torch.no_grad():
    y_ref, _ = model.moe(x_moe, W, "model.layers.1.mlp.")
ref["moe.x"] = x_moe
ref["moe.y_reference_code"] = y_ref
try:
    import transformers
    from transformers.models.deepseek_v2.configuration_deepseek_v2 import DeepseekV2Config
    from transformers.models.deepseek_v2.modeling_deepseek_v2 import DeepseekV2Moe
    meta["transformers"] = transformers.__version__
    mc = DeepseekV2Config(hidden_size=D, intermediate_size=I_DENSE, moe_intermediate_size=I_MOE, n_routed_experts=E,
                          n_shared_experts=S, num_experts_per_tok=K, topk_method="greedy", routed_scaling_factor=1.0,
                          norm_topk_prob=False, hidden_act="silu", n_group=1, topk_group=1)
    hf = DeepseekV2Moe(mc).float().eval()
    pre = "model.layers.1.mlp."
    new = {}
    for key, v in hf.state_dict().items():
        parts = key.split(".")
        if parts[0] == "experts" and len(parts) > 2 and parts[1].isdigit():
            t = W[pre + key]
        elif "gate_up_proj" in key:
            g = torch.stack([W[pre + f"experts.{e}.gate_proj.weight"] for e in range(E)])
            u = torch.stack([W[pre + f"experts.{e}.up_proj.weight"] for e in range(E)])
            t = torch.cat([g, u], dim=1)
            if t.shape != v.shape:
                t = t.transpose(1, 2)
        elif parts[0] == "experts" and "down_proj" in key:
            t = torch.stack([W[pre + f"experts.{e}.down_proj.weight"] for e in range(E)])
            if t.shape != v.shape:
                t = t.transpose(1, 2)
        elif parts[0] == "gate" and key.endswith("weight"):
            t = W[pre + "gate.weight"]
        elif parts[0] == "gate":
            t = torch.zeros_like(v)
        elif parts[0] == "shared_experts":
            t = W[pre + key]
        else:
            raise KeyError("unmapped HF key " + key + " " + str(tuple(v.shape)))
        if tuple(t.shape) != tuple(v.shape):
            raise ValueError(f"{key}: ours {tuple(t.shape)} vs HF {tuple(v.shape)}")
        new[key] = t.contiguous()
    hf.load_state_dict(new, strict=True)
    with torch.no_grad():
        y_hf = hf(x_moe)
    if isinstance(y_hf, tuple):
        y_hf = y_hf[0]
    ref["moe.y_hf"] = y_hf.reshape(B, T, D).contiguous()
    meta["hf_keys"] = ",".join(f"{k}{tuple(v.shape)}" for k, v in hf.state_dict().items())
    meta["hf_vs_reference_code_max_abs"] = repr((y_hf.reshape(B, T, D) - y_ref).abs().max().item())
except Exception as e:
    meta["hf_error"] = repr(e)[:2000]
save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(out, "reference.safetensors"), metadata=meta)
print(json.dumps(meta, indent=1))
print("ce", ce.item(), "aux", aux.item())
