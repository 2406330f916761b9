"""Training and evaluation of :class:`.model.CharLM`: AdamW, warm-up + cosine learning rate,
gradient clipping 1.0 (the paper code's optimiser settings, model-spec §8, at this scale's
learning rate); validation bits per character and next-character accuracy."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import torch

from .corpus import Corpus
from .model import CharLM

__all__ = ["train", "evaluate"]

log = logging.getLogger(__name__)


def train(model: CharLM, corpus: Corpus, steps: int, *, lr: float, batch: int, seed: int,
          label: str = "", log_every: int = 50) -> list[dict]:
    """``steps`` AdamW steps on random training windows; returns the curve
    ``[{step, loss (nats), lr, seconds}]`` (one entry per ``log_every`` steps and the last)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": other, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95))
    warm = max(1, steps // 20)
    curve, t0, run = [], time.monotonic(), []
    model.train()
    for step in range(1, steps + 1):
        f = step / warm if step <= warm else \
            0.1 + 0.45 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))
        for g in opt.param_groups:
            g["lr"] = lr * f
        x, y = corpus.batch(rng, batch, model.c.context)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        run.append(loss.item())
        if step % log_every == 0 or step == steps:
            el = time.monotonic() - t0
            curve.append({"step": step, "loss": float(np.mean(run)), "lr": lr * f,
                          "seconds": el})
            log.info("%s step %d/%d loss %.3f (%.1f s, ETA %.0f s)", label, step, steps,
                     curve[-1]["loss"], el, el / step * (steps - step))
            run = []
    model.eval()
    return curve


@torch.no_grad()
def evaluate(model: CharLM, corpus: Corpus, *, n_batches: int, batch: int) -> dict:
    """Validation loss in bits per character and next-character accuracy (fixed windows)."""
    model.eval()
    nll, hit, n = 0.0, 0, 0
    for x, y in corpus.val_batches(n_batches, batch, model.c.context):
        logits, loss = model(x, y)
        nll += loss.item() * y.numel()
        hit += int((logits.argmax(-1) == y).sum())
        n += y.numel()
    return {"bpc": nll / n / math.log(2), "accuracy": hit / n, "tokens": n}
