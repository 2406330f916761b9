"""The paper's flow on a small character LM, one row of the result table per step
(model-spec §4.3, §7):

====================  ======================================================================
softmax               trained from scratch, full causal context (``steps`` steps)
softmax_window        + the head's sliding window W (fine-tuned ``steps/4``)
linear_ideal          ideal linear ReLU attention: the hardware head with quantisation,
                      nonlinearity and leakage off, scalers at the C defaults (``steps/2``)
linear_quant          + 4-bit Q, 3-bit K/V, signed count quantisation (``steps/2``); its
                      per-head stage statistics are the adaptation's targets
nonlinear             the cubic cell with offset, same weights and scalers (evaluation only)
adapted               statistics-matching adaptation of every scaler (its trace is kept)
finetuned             + fine-tuning of the whole model through the nonlinear head (``steps/4``)
leakage               + leakage at the schedule's token step (evaluation only)
variability           + per-cell mismatch, 3 seeds (evaluation only; mean ± spread)
====================  ======================================================================

Each row is evaluated on the same validation windows (bits per character, next-character
accuracy).  After every row the model and the results so far are written to ``out/state``;
a run with the same settings resumes after the last finished row.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from analog_models.leakage import per_token_lambda
from flows.cache import read_json, write_atomic
from hdl.config import HeadConfig

from .adaptation import adapt_model, measure_stats, mismatch
from .corpus import load_corpus
from .model import SIZES, CharLM, LMConfig
from .train import evaluate, train

__all__ = ["ROWS", "STUDY_CONFIG", "StudySettings", "run_study", "row_config"]

log = logging.getLogger(__name__)

#: (key, label) of each row, in the order of the flow.
ROWS = (
    ("softmax", "softmax, full context"),
    ("softmax_window", "softmax, sliding window"),
    ("linear_ideal", "ideal linear ReLU attention"),
    ("linear_quant", "quantised linear hardware"),
    ("nonlinear", "nonlinear hardware, no adaptation"),
    ("adapted", "+ statistics-matching adaptation"),
    ("finetuned", "+ fine-tuning"),
    ("leakage", "+ leakage"),
    ("variability", "+ variability (3 seeds)"),
)

#: The study's head: d = 16 (the model's head dimension), 4 tiles of 16 columns → W = 64,
#: half the 128-character context, so the window binds for half the positions; the other
#: fields are the paper's defaults.  ``timing.layers`` is set to the model's layer count.
STUDY_CONFIG = {"array.head_dim": 16, "array.tile_cols": 16, "array.n_tiles": 4}

#: Non-idealities switched off per row (the rest of the config stays as given).
_OFF = {
    "linear_ideal": ("quantization", "nonlinearity", "leakage", "variability"),
    "linear_quant": ("nonlinearity", "leakage", "variability"),
    "nonlinear": ("leakage", "variability"),
    "adapted": ("leakage", "variability"),
    "finetuned": ("leakage", "variability"),
    "leakage": ("variability",),
    "variability": (),
}
#: Training steps of each row as a fraction of ``--steps`` (0: evaluation only).
_TRAIN = {"softmax": 1.0, "softmax_window": 0.25, "linear_ideal": 0.5, "linear_quant": 0.5,
          "finetuned": 0.25}
#: Relative cost of a hardware-attention step against a softmax step (for the ETA).
_HW_COST = 2.5


@dataclasses.dataclass(frozen=True)
class StudySettings:
    steps: int = 1500
    size: str = "tiny"
    corpus: str = "pydoc"
    context: int = 128
    batch: int = 32
    lr: float = 3e-3
    seed: int = 0
    val_batches: int = 16
    calib_batch: int = 16
    var_seeds: int = 3
    cfg: HeadConfig = dataclasses.field(default_factory=HeadConfig)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["cfg"] = self.cfg.to_dict()
        return d


def row_config(key: str, base: HeadConfig) -> HeadConfig:
    """The head config of a hardware row: ``base`` with the row's non-idealities off."""
    an = dataclasses.replace(base.analog, variability=True).ideal(*_OFF[key])
    return dataclasses.replace(base, analog=an)


def _set_mode(model: CharLM, key: str, s: StudySettings, seed: int = 0) -> None:
    if key == "softmax":
        model.set_attention("softmax")
    elif key == "softmax_window":
        model.set_attention("softmax", window=s.cfg.array.window)
    else:
        model.set_attention("hardware", cfg=row_config(key, s.cfg), seed=seed)


def _units(key: str, s: StudySettings) -> float:
    """Work of a row in softmax-step units (for the ETA)."""
    steps = int(_TRAIN.get(key, 0) * s.steps)
    cost = 1.0 if key.startswith("softmax") else _HW_COST
    return steps * cost + (0.05 * s.steps if key not in _TRAIN else 0) + 1


def run_study(s: StudySettings, out: Path) -> dict:
    """Run (or resume) the flow; returns the results dict also written to out/results.json."""
    torch.set_num_threads(1)
    corpus = load_corpus(s.corpus)
    lmc = LMConfig(vocab=corpus.vocab, context=s.context, **SIZES[s.size])
    model = CharLM(lmc)
    state_dir = out / "state"
    ident = json.loads(json.dumps(s.to_dict()))
    saved = read_json(state_dir / "results.json")
    if saved is not None and saved.get("settings") == ident and saved.get("done"):
        model.load_state_dict(torch.load(state_dir / f"model-{saved['done'][-1]}.pt",
                                         weights_only=True))
        res = saved
        log.info("resuming after %s (%d of %d rows done)", res["done"][-1], len(res["done"]),
                 len(ROWS))
    else:
        res = {"settings": ident, "model": {"params": model.n_params(), "n_layer": lmc.n_layer,
                                            "n_head": lmc.n_head, "head_dim": lmc.head_dim,
                                            "context": lmc.context, "vocab": lmc.vocab},
               "corpus": {"name": corpus.name, "train_chars": len(corpus.train),
                          "val_chars": len(corpus.val)},
               "window": s.cfg.array.window,
               "leakage_lambda_per_token": per_token_lambda(s.cfg),
               "oldest_cell_decay": float(np.exp(-per_token_lambda(s.cfg) * (s.cfg.array.window - 1))),
               "rows": {}, "done": [], "seconds": 0.0}
    calib = corpus.batch(np.random.default_rng(s.seed + 12345), s.calib_batch, s.context)
    total = sum(_units(k, s) for k, _ in ROWS)
    done_units = units0 = sum(_units(k, s) for k in res["done"])
    t_start, spent0 = time.monotonic(), res["seconds"]
    ev = dict(n_batches=s.val_batches, batch=s.batch)
    for i, (key, label) in enumerate(ROWS):
        if key in res["done"]:
            continue
        t_row = time.monotonic()
        row: dict = {"label": label}
        _set_mode(model, key, s)
        if key != "softmax" and key in _TRAIN:
            row["before_training"] = evaluate(model, corpus, **ev)
        if key in _TRAIN:
            steps = max(1, int(_TRAIN[key] * s.steps))
            lr = s.lr if key == "softmax" else s.lr / 3
            row["curve"] = train(model, corpus, steps, lr=lr, batch=s.batch,
                                 seed=s.seed + i, label=key)
            row["steps"] = steps
        if key == "adapted":
            row["adaptation"] = adapt_model(model, _targets(res), *calib)
            row["adaptation"]["mismatch_before"] = res["mismatch_unadapted"]
        if key == "variability":
            evs = []
            for seed in range(s.var_seeds):
                _set_mode(model, key, s, seed=seed)
                evs.append(evaluate(model, corpus, **ev))
            row["seeds"] = evs
            for m in ("bpc", "accuracy"):
                vals = np.array([e[m] for e in evs])
                row[m], row[f"{m}_std"] = float(vals.mean()), float(vals.std())
                row[f"{m}_min"], row[f"{m}_max"] = float(vals.min()), float(vals.max())
        else:
            row.update(evaluate(model, corpus, **ev))
        if not key.startswith("softmax"):
            measure_stats(model, *calib[:1])
            row["nonzero_outputs"] = model.nonzero_share()
        if key == "linear_quant":
            stats, _ = measure_stats(model, *calib)
            res["targets"] = {k: [v[0].tolist(), v[1].tolist()] for k, v in stats.items()}
        if key == "nonlinear":
            stats, _ = measure_stats(model, *calib)
            res["mismatch_unadapted"] = mismatch(stats, _targets(res))
        row["seconds"] = time.monotonic() - t_row
        res["rows"][key] = row
        res["done"].append(key)
        res["seconds"] = spent0 + time.monotonic() - t_start
        _checkpoint(model, res, state_dir)
        done_units += _units(key, s)
        el = time.monotonic() - t_start
        eta = el / (done_units - units0) * (total - done_units)
        log.info("row %d/%d %s: %.3f bits/char, accuracy %.3f (%.0f s; ETA %.0f s)", i + 1,
                 len(ROWS), key, row["bpc"], row["accuracy"], row["seconds"], eta)
    return res


def _targets(res: dict) -> dict:
    return {k: (np.asarray(v[0]), np.asarray(v[1])) for k, v in res["targets"].items()}


def _checkpoint(model: CharLM, res: dict, state_dir: Path) -> None:
    """The model after the last finished row (its own file), then the results naming it: an
    interruption between the two writes leaves the previous, consistent pair."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    write_atomic(state_dir / f"model-{res['done'][-1]}.pt", buf.getvalue())
    write_atomic(state_dir / "results.json", json.dumps(res, indent=1))
