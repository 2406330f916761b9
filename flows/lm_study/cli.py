"""``python -m flows.lm_study [--steps N] [--size tiny|small] [--corpus pydoc|FILE] [--out DIR]
[--seed S] [--batch B] [--config F] [--set k=v]``: the small-LM study of the hardware head.

Writes ``results.json``, ``results.md``, ``curves.png`` and ``gap.png`` to ``--out`` (default
``build/lm_study``), checkpoints under ``--out/state`` (a rerun with the same settings resumes
after the last finished row), prints the table.  The head config is the study's
(:data:`.study.STUDY_CONFIG`: d = 16, 4 tiles × 16 columns) with ``--config``/``--set`` on top;
``timing.layers`` follows the model's layer count.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from hdl.cli import (
    Parser,
    RunFailed,
    UsageError,
    add_config_args,
    nonnegative_int,
    positive_int,
    run_cli,
    writable_dir,
)
from hdl.config import HeadConfig, load_config

__all__ = ["main", "build_parser"]

PROG = "python -m flows.lm_study"


def build_parser() -> argparse.ArgumentParser:
    ap = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=positive_int, default=1500,
                    help="training steps of the softmax model; later rows train a fraction")
    ap.add_argument("--size", choices=("tiny", "small"), default="tiny",
                    help="tiny: 2 layers (~0.11 M parameters); small: 4 layers (~0.21 M)")
    ap.add_argument("--corpus", default="pydoc",
                    help="pydoc (the standard library's pydoc_data/topics.py) or a UTF-8 "
                    "text file")
    ap.add_argument("--out", default="build/lm_study", help="output folder")
    ap.add_argument("--seed", type=nonnegative_int, default=0, help="training seed")
    ap.add_argument("--batch", type=positive_int, default=32, help="sequences per step")
    add_config_args(ap)
    return ap


def study_config(config_file: str | None, overrides: list[str], head_dim: int,
                 layers: int) -> HeadConfig:
    """The study's head: STUDY_CONFIG (or ``config_file``), then ``overrides``."""
    from .study import STUDY_CONFIG
    base = load_config(config_file, []) if config_file else \
        HeadConfig().with_overrides([f"{k}={v}" for k, v in STUDY_CONFIG.items()])
    cfg = base.with_overrides(overrides)
    if cfg.array.head_dim != head_dim:
        raise UsageError(f"array.head_dim={cfg.array.head_dim} must equal the model's head "
                         f"dimension {head_dim}")
    if cfg.analog.ir_drop:
        raise UsageError("analog.ir_drop is not modelled by the torch head: leave it off")
    return dataclasses.replace(cfg, timing=dataclasses.replace(cfg.timing, layers=layers))


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)

    def body() -> int:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise RunFailed("PyTorch is not installed: pip install -e '.[lm]' (torch==2.13.0, "
                            "a CPU build)") from None
        from .corpus import load_corpus
        from .model import SIZES

        out = writable_dir(args.out)
        size = SIZES[args.size]
        cfg = study_config(args.config, args.overrides, size["head_dim"], size["n_layer"])
        load_corpus(args.corpus)             # a bad corpus is refused before any work
        from .report import markdown_table, write_report
        from .study import StudySettings, run_study

        s = StudySettings(steps=args.steps, size=args.size, corpus=args.corpus,
                          batch=args.batch, seed=args.seed, cfg=cfg)
        res = run_study(s, out)
        paths = write_report(res, out)
        sys.stdout.write(markdown_table(res))
        print("wrote " + ", ".join(str(p) for p in paths))
        return 0

    return run_cli(PROG, body)
