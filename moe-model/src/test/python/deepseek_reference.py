"""The DeepSeekMoE reference forward in plain PyTorch, shared by make_reference.py and make_generate_reference.py.

A transcription of DeepSeekMoE 16B's modeling_deepseek.py (deepseekmoe.md 3.2-3.3) over a dict of weights in the 16B
checkpoint names: pre-norm RMSNorm (fp32 statistics), MHA with rotate-half RoPE, eager fp32 softmax, SwiGLU MLPs,
MoEGate softmax -> topk (no renorm) + fused shared experts, untied head; the seq_aux balance loss
alpha * mean_b sum_i ce_i P_i. Dimensions come from the model's HF config.json (as a dict).
"""
import math
import torch
import torch.nn.functional as F


class DeepSeekReference:
    def __init__(self, config):
        if config["norm_topk_prob"] or config["scoring_func"] != "softmax" or not config["seq_aux"]:
            raise ValueError("this transcription covers softmax routing without renormalisation and seq_aux only")
        self.D, self.H = config["hidden_size"], config["num_attention_heads"]
        self.HD = self.D // self.H
        self.L, self.E, self.K = config["num_hidden_layers"], config["n_routed_experts"], config["num_experts_per_tok"]
        self.EPS, self.THETA, self.ALPHA = config["rms_norm_eps"], config["rope_theta"], config["aux_loss_alpha"]
        self.first_dense, self.moe_freq = config["first_k_dense_replace"], config["moe_layer_freq"]

    def is_moe(self, layer):
        return self.E > 0 and layer >= self.first_dense and layer % self.moe_freq == 0

    def rms(self, x, w):
        xf = x.float()
        return w * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.EPS)).to(x.dtype)

    def rotate_half(self, x):
        return torch.cat((-x[..., self.HD // 2:], x[..., :self.HD // 2]), dim=-1)

    def rope(self, t):
        """cos and sin of positions 0..t-1, shaped to broadcast over [b, heads, t, head_dim]."""
        inv_freq = 1.0 / (self.THETA ** (torch.arange(0, self.HD, 2).float() / self.HD))
        freqs = torch.outer(torch.arange(t).float(), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos()[None, None], emb.sin()[None, None]

    def attention(self, x, q_w, k_w, v_w, o_w):
        b, t, _ = x.shape
        cos, sin = self.rope(t)
        q = F.linear(x, q_w).view(b, t, self.H, self.HD).transpose(1, 2)
        k = F.linear(x, k_w).view(b, t, self.H, self.HD).transpose(1, 2)
        v = F.linear(x, v_w).view(b, t, self.H, self.HD).transpose(1, 2)
        q = q * cos + self.rotate_half(q) * sin
        k = k * cos + self.rotate_half(k) * sin
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.HD)
        mask = torch.full((t, t), float("-inf")).triu(1)
        probs = F.softmax(scores + mask, dim=-1, dtype=torch.float32).to(q.dtype)
        return F.linear(torch.matmul(probs, v).transpose(1, 2).reshape(b, t, self.D), o_w)

    @staticmethod
    def mlp(x, g, u, d):
        return F.linear(F.silu(F.linear(x, g)) * F.linear(x, u), d)

    def moe(self, x, w, prefix):
        """The MoE MLP of the layer whose weights start with prefix; returns its output and the seq_aux loss."""
        b, t, _ = x.shape
        flat = x.reshape(-1, self.D)
        scores = F.linear(flat, w[prefix + "gate.weight"]).softmax(dim=-1)
        topk_w, topk_i = torch.topk(scores, k=self.K, dim=-1, sorted=False)
        y = torch.zeros_like(flat)
        for e in range(self.E):
            rows, slot = (topk_i == e).nonzero(as_tuple=True)
            if rows.numel():
                ex = prefix + f"experts.{e}."
                y = y.index_add(0, rows, topk_w[rows, slot, None] * self.mlp(
                    flat[rows], w[ex + "gate_proj.weight"], w[ex + "up_proj.weight"], w[ex + "down_proj.weight"]))
        sh = prefix + "shared_experts."
        y = y + self.mlp(flat, w[sh + "gate_proj.weight"], w[sh + "up_proj.weight"], w[sh + "down_proj.weight"])
        # seq_aux: ce[b,i] = count / (T*K/E), P[b,i] = mean_t scores, aux = alpha * mean_b sum_i ce*P
        s = scores.view(b, t, self.E)
        ce = torch.zeros(b, self.E).scatter_add_(1, topk_i.view(b, -1), torch.ones(b, t * self.K)).div_(
            t * self.K / self.E)
        aux = (ce * s.mean(dim=1)).sum(dim=1).mean() * self.ALPHA
        return y.view(b, t, self.D), aux

    def forward(self, w, ids):
        """Logits [b, t, vocab] of the token ids [b, t] and the summed balance loss of the MoE layers."""
        x = w["model.embed_tokens.weight"][ids]
        aux_total = torch.zeros(())
        for l in range(self.L):
            q = f"model.layers.{l}."
            x = x + self.attention(self.rms(x, w[q + "input_layernorm.weight"]), w[q + "self_attn.q_proj.weight"],
                                   w[q + "self_attn.k_proj.weight"], w[q + "self_attn.v_proj.weight"],
                                   w[q + "self_attn.o_proj.weight"])
            h = self.rms(x, w[q + "post_attention_layernorm.weight"])
            if self.is_moe(l):
                y, aux = self.moe(h, w, q + "mlp.")
                x = x + y
                aux_total = aux_total + aux
            else:
                x = x + self.mlp(h, w[q + "mlp.gate_proj.weight"], w[q + "mlp.up_proj.weight"],
                                 w[q + "mlp.down_proj.weight"])
        logits = F.linear(self.rms(x, w["model.norm.weight"]), w["lm_head.weight"]).float()
        return logits, aux_total
