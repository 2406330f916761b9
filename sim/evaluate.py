"""Error report of the golden hardware head against ideal linear ReLU attention.

``python -m sim.evaluate [--tokens 2048] [--batch 2] [--seed 0] [--out build/evaluate]
[--config F] [--set k=v]`` draws seeded uniform inputs (:func:`sim.stimuli.random_tokens`:
q ∈ [0, 1], k, v ∈ [0, v_max], as model-spec §10.1), runs the vectorised golden model with
every non-ideality off, then with one switched on at a time, at the configured defaults and
with all on, and reports the relative error ``‖y_hw − y_ideal‖₂/‖y_ideal‖₂`` of the head
output ``y_hw = out/count_max`` against :func:`sim.ideal.relu_attention` (plus mean/max
absolute error in counter LSBs).  Writes ``evaluate.json`` and ``evaluate.png`` (cell transfer
curve, C2P transfer curves, error breakdown) under ``--out`` and prints the table; progress on
stderr.

``offset`` only exists on the cubic cell, so its row is "nonlinearity+offset".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

import numpy as np

from hdl.cli import (
    Parser,
    add_config_args,
    config_from_args,
    nonnegative_int,
    positive_int,
    run_cli,
    writable_dir,
)
from hdl.config import NON_IDEALITIES, HeadConfig
from sim.stimuli import random_tokens

__all__ = ["error_table", "format_table", "main"]

log = logging.getLogger(__name__)


def _variant(cfg: HeadConfig, on: tuple[str, ...] | None) -> HeadConfig:
    """cfg with only the non-idealities ``on`` switched on (None = cfg as given)."""
    if on is None:
        return cfg
    flags = {n: n in on for n in NON_IDEALITIES}
    return dataclasses.replace(cfg, analog=dataclasses.replace(cfg.analog, **flags))


def _variants(cfg: HeadConfig) -> list[tuple[str, HeadConfig]]:
    rows = [("none (ideal linear)", _variant(cfg, ()))]
    for n in NON_IDEALITIES:
        if n == "offset":
            rows.append(("nonlinearity+offset", _variant(cfg, ("nonlinearity", "offset"))))
        else:
            rows.append((n, _variant(cfg, (n,))))
    on = tuple(n for n in NON_IDEALITIES if getattr(cfg.analog, n))
    rows.append((f"defaults: {'+'.join(n[:5] for n in on) or 'none'}", cfg))
    rows.append(("all", _variant(cfg, NON_IDEALITIES)))
    return rows


def error_table(cfg: HeadConfig, *, tokens: int = 2048, batch: int = 2, seed: int = 0,
                variants: list[tuple[str, HeadConfig]] | None = None) -> list[dict]:
    """One row per variant: name, rel_error, mean/max |error| in LSB, correlation.

    ``variants`` (name, config) pairs replace the default breakdown (every non-ideality alone,
    the defaults, all on); e.g. ``[("config", cfg)]`` for the error of ``cfg`` as given."""
    from sim.golden import run_vectorized
    from sim.ideal import relu_attention

    q, k, v = random_tokens(cfg, tokens, seed, batch=batch)
    ideal = np.stack([relu_attention(q[b], k[b], v[b], cfg) for b in range(batch)])
    cm = cfg.array.count_max
    rows = []
    variants = _variants(cfg) if variants is None else variants
    for i, (name, c) in enumerate(variants, 1):
        log.info("variant %d/%d: %s", i, len(variants), name)
        y = run_vectorized(q, k, v, c).out / cm
        err = y - ideal
        rows.append({
            "variant": name,
            # None (JSON null) where a figure is undefined: an all-zero ideal output (relative
            # error) or a constant one (correlation) — e.g. a single token.
            "rel_error": _ratio(np.linalg.norm(err), np.linalg.norm(ideal)),
            "mean_abs_error_lsb": float(np.mean(np.abs(err)) * cm),
            "max_abs_error_lsb": float(np.max(np.abs(err)) * cm),
            "correlation": (float(np.corrcoef(y.ravel(), ideal.ravel())[0, 1])
                            if np.std(y) > 0 and np.std(ideal) > 0 else None),
        })
    return rows


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def _fmt(x: float | None, spec: str) -> str:
    return format(x, spec) if x is not None else format("n/a", spec.rstrip("f").split(".")[0] + "s")


def _plot(cfg: HeadConfig, rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analog_models.c2p import relu_c2p, signed_c2p, signed_value
    from analog_models.dac import code_to_volts
    from analog_models.gain_cell import cell_current

    an = cfg.analog
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    vs = np.linspace(0, an.v_max_V, 200)
    ax[0].plot(vs, cell_current(vs, 1.0, an), label="cubic g (with C0)")
    ax[0].plot(vs, cell_current(vs, 1.0, dataclasses.replace(an, offset=False)),
               "--", label="cubic without C0")
    ax[0].plot(vs, cell_current(vs, 1.0, dataclasses.replace(an, nonlinearity=False)),
               ":", label=f"linear {an.linear_gain_uA_per_V:g}·y")
    lv = code_to_volts(np.arange(cfg.array.kv_max + 1), cfg)
    ax[0].plot(lv, cell_current(lv, 1.0, an), "o", label="K/V DAC levels")
    ax[0].set(xlabel="stored voltage V (V)", ylabel="cell current at x = 1 (µA)",
              title="gain-cell transfer curve")
    ax[0].legend(fontsize=8)
    ax[0].grid(alpha=.3)
    S = np.linspace(-0.5 * an.s_sat1_uA, 1.5 * an.s_sat1_uA, 400)
    ax[1].plot(S, relu_c2p(S, cfg), label="ReLU C2P: A = clip(S/S_sat1, 0, 1)")
    O = np.linspace(-1.3 * an.s_sat2_uA, 1.3 * an.s_sat2_uA, 1000)
    ax[1].plot(O / an.s_sat2_uA * an.s_sat1_uA, signed_value(*signed_c2p(O, cfg))
               / cfg.array.count_max, label="signed C2P ±count/count_max (x-axis ·S_sat1/S_sat2)")
    ax[1].set(xlabel="charge S (µA·T_max)", ylabel="normalised pulse width",
              title="charge-to-pulse transfer curves")
    ax[1].legend(fontsize=8)
    ax[1].grid(alpha=.3)
    names = [r["variant"] for r in rows]
    ax[2].barh(range(len(rows)), [r["rel_error"] or 0.0 for r in rows])
    ax[2].set_yticks(range(len(rows)), names, fontsize=8)
    ax[2].invert_yaxis()
    ax[2].set(xlabel="rel. error vs ideal linear ReLU attention",
              title="error breakdown")
    ax[2].grid(alpha=.3, axis="x")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def format_table(rows: list[dict]) -> str:
    w = max(len(r["variant"]) for r in rows)
    lines = [f"{'variant':{w}s}  rel.error  mean|err| LSB  max|err| LSB  corr",
             "-" * (w + 48)]
    for r in rows:
        lines.append(f"{r['variant']:{w}s}  {_fmt(r['rel_error'], '9.4f')}  "
                     f"{r['mean_abs_error_lsb']:13.3f}  {r['max_abs_error_lsb']:12.2f}  "
                     f"{_fmt(r['correlation'], '.4f')}")
    return "\n".join(lines)


def _evaluate(args: argparse.Namespace, cfg: HeadConfig) -> int:
    out = writable_dir(args.out)
    log.info("%d × %d tokens, seed %d, config %s", args.batch, args.tokens, args.seed, cfg.hash)
    rows = error_table(cfg, tokens=args.tokens, batch=args.batch, seed=args.seed)
    out.mkdir(parents=True, exist_ok=True)
    report = {"config": cfg.to_dict(), "config_hash": cfg.hash, "tokens": args.tokens,
              "batch": args.batch, "seed": args.seed,
              "metric": "||y_hw - y_ideal||_2 / ||y_ideal||_2, y = out/count_max, ideal = "
                        "sim.ideal.relu_attention", "rows": rows}
    (out / "evaluate.json").write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    _plot(cfg, rows, out / "evaluate.png")
    print(format_table(rows))
    print(f"wrote {out / 'evaluate.json'} and {out / 'evaluate.png'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = Parser(prog="python -m sim.evaluate",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=positive_int, default=2048,
                    help="tokens per sequence (2048)")
    ap.add_argument("--batch", type=positive_int, default=2, help="sequences (2)")
    ap.add_argument("--seed", type=nonnegative_int, default=0, help="input seed (0)")
    ap.add_argument("--out", default="build/evaluate", help="output folder (build/evaluate)")
    add_config_args(ap)
    args = ap.parse_args(argv)
    cfg = config_from_args(ap, args)
    return run_cli(ap.prog, lambda: _evaluate(args, cfg))


if __name__ == "__main__":
    sys.exit(main())
