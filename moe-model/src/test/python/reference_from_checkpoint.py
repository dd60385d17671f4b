"""Loads one of our checkpoint directories into the reference DeepSeekMoE forward and prints its loss and logits.

The forward is make_reference.py's plain PyTorch transcription of DeepSeekMoE 16B's modeling_deepseek.py, driven by
the checkpoint's config.json instead of fixed sizes (dense layers before first_k_dense_replace and between MoE layers
per moe_layer_freq, softmax top-K gate, renormalised only with norm_topk_prob, fused shared experts, untied head).
Weights come from model.safetensors, or from the shards a model.safetensors.index.json lists (Hugging Face's
sharded layout, as our Checkpoints writes past 5 GB): that is the check that our checkpoint loads in the reference.

Usage: python3 reference_from_checkpoint.py CHECKPOINT_DIR IDS_FILE [--batch B] [--seq T] [--device cuda|cpu]
  IDS_FILE: little-endian int32 rows of T+1 token ids (ShardBatchDump's batches); the first B rows are scored.
Prints the mean cross-entropy over the B*T shifted targets, per-sequence losses, and the first logits.
"""
import argparse, json, math, os, sys
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

ap = argparse.ArgumentParser()
ap.add_argument("checkpoint")
ap.add_argument("ids")
ap.add_argument("--batch", type=int, default=4)
ap.add_argument("--seq", type=int, default=128)
ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
args = ap.parse_args()
dev = torch.device(args.device)

with open(os.path.join(args.checkpoint, "config.json")) as f:
    cfg = json.load(f)
index = os.path.join(args.checkpoint, "model.safetensors.index.json")
if os.path.exists(index):
    with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    files = sorted(set(weight_map.values()))
else:
    weight_map, files = None, ["model.safetensors"]
W = {}
for name in files:
    part = load_file(os.path.join(args.checkpoint, name))
    if weight_map is not None:
        wrong = [k for k in part if k in weight_map and weight_map[k] != name]
        assert not wrong, f"{name} holds {wrong[:3]} that the index puts elsewhere"
    W.update({k: v.to(dev, torch.float32) for k, v in part.items()})
if weight_map is not None:
    missing = [k for k in weight_map if k not in W]
    assert not missing, f"tensors listed in the index but in no shard: {missing[:3]}"
print(f"loaded {len(W)} tensors from {len(files)} file(s), "
      f"{sum(v.numel() for v in W.values()):,} parameters", flush=True)

V, D, H, L = cfg["vocab_size"], cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
E, K = cfg.get("n_routed_experts") or 0, cfg.get("num_experts_per_tok") or 0
FIRST_DENSE, FREQ = cfg.get("first_k_dense_replace", 0), cfg.get("moe_layer_freq", 1)
NORM_TOPK, EPS, THETA = cfg.get("norm_topk_prob", False), cfg["rms_norm_eps"], cfg["rope_theta"]
HD = D // H

def is_moe(l):
    return E > 0 and l >= FIRST_DENSE and l % FREQ == 0

def rms(x, w):
    xf = x.float()
    return w * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS)).to(x.dtype)

def rotate_half(x):
    return torch.cat((-x[..., HD // 2:], x[..., :HD // 2]), dim=-1)

def attention(x, q_w, k_w, v_w, o_w, cos, sin):
    b, t, _ = x.shape
    q = F.linear(x, q_w).view(b, t, H, HD).transpose(1, 2)
    k = F.linear(x, k_w).view(b, t, H, HD).transpose(1, 2)
    v = F.linear(x, v_w).view(b, t, H, HD).transpose(1, 2)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(HD)
    mask = torch.full((t, t), float("-inf"), device=x.device).triu(1)
    probs = F.softmax(scores + mask, dim=-1, dtype=torch.float32).to(q.dtype)
    return F.linear(torch.matmul(probs, v).transpose(1, 2).reshape(b, t, D), o_w)

def mlp(x, g, u, d):
    return F.linear(F.silu(F.linear(x, g)) * F.linear(x, u), d)

def moe(x, prefix):
    b, t, _ = x.shape
    flat = x.reshape(-1, D)
    scores = F.linear(flat, W[prefix + "gate.weight"]).softmax(dim=-1)
    topk_w, topk_i = torch.topk(scores, k=K, dim=-1, sorted=False)
    if NORM_TOPK:
        topk_w = topk_w / (topk_w.sum(dim=-1, keepdim=True) + 1e-20)
    y = torch.zeros_like(flat)
    for e in range(E):
        rows, slot = (topk_i == e).nonzero(as_tuple=True)
        if rows.numel():
            ex = prefix + f"experts.{e}."
            y = y.index_add(0, rows, topk_w[rows, slot, None] * mlp(flat[rows], W[ex + "gate_proj.weight"],
                                                                     W[ex + "up_proj.weight"], W[ex + "down_proj.weight"]))
    sh = prefix + "shared_experts."
    if sh + "gate_proj.weight" in W:
        y = y + mlp(flat, W[sh + "gate_proj.weight"], W[sh + "up_proj.weight"], W[sh + "down_proj.weight"])
    return y.view(b, t, D)

@torch.no_grad()
def forward(ids):
    t = ids.shape[1]
    inv_freq = 1.0 / (THETA ** (torch.arange(0, HD, 2, device=dev).float() / HD))
    emb = torch.cat((torch.outer(torch.arange(t, device=dev).float(), inv_freq),) * 2, dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]
    x = W["model.embed_tokens.weight"][ids]
    for l in range(L):
        q = f"model.layers.{l}."
        x = x + attention(rms(x, W[q + "input_layernorm.weight"]), W[q + "self_attn.q_proj.weight"],
                          W[q + "self_attn.k_proj.weight"], W[q + "self_attn.v_proj.weight"],
                          W[q + "self_attn.o_proj.weight"], cos, sin)
        h = rms(x, W[q + "post_attention_layernorm.weight"])
        x = x + (moe(h, q + "mlp.") if is_moe(l) else
                 mlp(h, W[q + "mlp.gate_proj.weight"], W[q + "mlp.up_proj.weight"], W[q + "mlp.down_proj.weight"]))
    return F.linear(rms(x, W["model.norm.weight"]), W["lm_head.weight"]).float()

rows = np.fromfile(args.ids, dtype="<i4")[: args.batch * (args.seq + 1)].reshape(args.batch, args.seq + 1)
ids = torch.from_numpy(rows.astype(np.int64)).to(dev)
logits = forward(ids[:, :-1])
ce = F.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1), reduction="none").view(args.batch, -1)
print(f"reference forward on {args.batch} x {args.seq} ids ({args.device}): mean CE {ce.mean().item():.6f}")
print("per-sequence CE", " ".join(f"{v:.6f}" for v in ce.mean(dim=1).tolist()))
print("logits[0, 0, :5]", " ".join(f"{v:.6f}" for v in logits[0, 0, :5].tolist()))
