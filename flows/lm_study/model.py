"""A small character-level transformer whose attention is softmax or the hardware head.

Pre-LayerNorm GPT blocks (attention + 4× MLP, GELU), learned position embeddings, the output
layer tied to the token embedding.  Every attention layer is in one of three modes, switched
in place with :meth:`CharLM.set_attention` (weights are kept, so each step of the study's flow
starts from the previous one):

``softmax``   q·kᵀ/√d, causal, optionally a sliding window of W tokens (−∞ outside);
``hardware``  per head the four scalers ``y = max(a, A_MIN)·x + b`` of :mod:`sim.scalers` on
              Q, K, V and the tile-summed output, around :class:`.hw_attention.HardwareHead`
              (model-spec §6: no 1/√d, no softmax, no normalisation).

In hardware mode a forward pass can record each stage's output mean and standard deviation per
head (over batch, tokens and features, model-spec §7): :attr:`CharLM.record` on, then
:meth:`CharLM.stage_stats`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hdl.config import HeadConfig
from sim.scalers import A_MIN, STAGES, HeadScalers

from .hw_attention import HardwareHead

__all__ = ["LMConfig", "SIZES", "CharLM"]


@dataclass(frozen=True)
class LMConfig:
    vocab: int
    context: int = 128
    n_layer: int = 2
    n_head: int = 4
    head_dim: int = 16

    @property
    def n_embd(self) -> int:
        return self.n_head * self.head_dim


#: Model sizes of ``--size`` (layers, heads, head dim); ~0.11 M and ~0.21 M parameters at a
#: vocabulary of ~100 characters.
SIZES = {"tiny": dict(n_layer=2, n_head=4, head_dim=16),
         "small": dict(n_layer=4, n_head=4, head_dim=16)}


class Attention(nn.Module):
    def __init__(self, c: LMConfig) -> None:
        super().__init__()
        self.c = c
        self.qkv = nn.Linear(c.n_embd, 3 * c.n_embd)
        self.proj = nn.Linear(c.n_embd, c.n_embd)
        init = HeadScalers()
        for s in STAGES:   # per-head scalers, initialised to the C constructors' defaults
            sc = getattr(init, s)
            self.register_parameter(f"{s}_a", nn.Parameter(torch.full((c.n_head,), sc.a)))
            self.register_parameter(f"{s}_b", nn.Parameter(torch.full((c.n_head,), sc.b)))
        self.mode, self.window, self.hw = "softmax", None, None
        self.record, self.stats = False, {}

    def scale(self, s: str, x: torch.Tensor) -> torch.Tensor:
        a = getattr(self, f"{s}_a").clamp(min=A_MIN).to(x.dtype)[:, None, None]
        y = a * x + getattr(self, f"{s}_b").to(x.dtype)[:, None, None]
        if self.record:
            yd = y.detach().double()
            self.stats[s] = (yd.mean(dim=(0, 2, 3)).numpy(), yd.std(dim=(0, 2, 3),
                                                                    correction=0).numpy())
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        H, d = self.c.n_head, self.c.head_dim
        q, k, v = self.qkv(x).view(B, T, 3, H, d).permute(2, 0, 3, 1, 4)
        if self.mode == "softmax":
            i = torch.arange(T)
            mask = i[None, :] <= i[:, None]
            if self.window is not None:
                mask = mask & (i[None, :] > i[:, None] - self.window)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            y = self.hw(self.scale("q", q), self.scale("k", k), self.scale("v", v))
            if self.record:   # share of non-zero head outputs (the counters did count)
                self.stats["nonzero"] = float((y != 0).double().mean())
            y = self.scale("out", y)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, c: LMConfig) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(c.n_embd), nn.LayerNorm(c.n_embd)
        self.attn = Attention(c)
        self.mlp = nn.Sequential(nn.Linear(c.n_embd, 4 * c.n_embd), nn.GELU(),
                                 nn.Linear(4 * c.n_embd, c.n_embd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class CharLM(nn.Module):
    def __init__(self, c: LMConfig) -> None:
        super().__init__()
        self.c = c
        self.tok = nn.Embedding(c.vocab, c.n_embd)
        self.pos = nn.Embedding(c.context, c.n_embd)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln = nn.LayerNorm(c.n_embd)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def n_params(self) -> int:
        return sum(p.numel() for n, p in self.named_parameters()
                   if not any(n.endswith(f"{s}_{ab}") for s in STAGES for ab in "ab"))

    @property
    def attentions(self) -> list[Attention]:
        return [b.attn for b in self.blocks]

    def set_attention(self, mode: str, *, window: int | None = None,
                      cfg: HeadConfig | None = None, seed: int = 0) -> None:
        """Switch every layer to ``softmax`` (``window`` or full context) or ``hardware``
        (``cfg``; head h of layer l gets variability seed ``seed·1000 + l·n_head + h``)."""
        if mode not in ("softmax", "hardware"):
            raise ValueError(f"attention mode must be softmax or hardware, not {mode!r}")
        for li, at in enumerate(self.attentions):
            at.mode, at.window, at.hw = mode, window, None
            if mode == "hardware":
                if cfg is None or cfg.array.head_dim != self.c.head_dim:
                    raise ValueError(f"hardware mode needs a HeadConfig with head_dim="
                                     f"{self.c.head_dim}")
                cfgs = [dataclasses.replace(cfg, analog=dataclasses.replace(
                    cfg.analog, seed=seed * 1000 + li * self.c.n_head + h))
                    for h in range(self.c.n_head)]
                at.hw = HardwareHead(cfgs, self.c.context)

    def reset_scalers(self) -> None:
        """All scalers to a = 1, b = 0 (:meth:`HeadScalers.reset`, the adaptation start)."""
        r = HeadScalers.reset()
        with torch.no_grad():
            for at in self.attentions:
                for s in STAGES:
                    getattr(at, f"{s}_a").fill_(getattr(r, s).a)
                    getattr(at, f"{s}_b").fill_(getattr(r, s).b)

    def set_record(self, on: bool) -> None:
        for at in self.attentions:
            at.record, at.stats = on, {}

    def stage_stats(self) -> dict[str, np.ndarray]:
        """{stage: (mean, std)} arrays of shape (n_layer, n_head) from the last forward."""
        return {s: tuple(np.stack([at.stats[s][i] for at in self.attentions]) for i in (0, 1))
                for s in STAGES}

    def nonzero_share(self) -> float:
        """Share of non-zero hardware head outputs in the last recorded forward pass."""
        return float(np.mean([at.stats["nonzero"] for at in self.attentions]))

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        T = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(T))
        for b in self.blocks:
            x = b(x)
        logits = self.ln(x) @ self.tok.weight.t()
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

