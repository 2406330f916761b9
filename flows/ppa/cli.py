"""``python -m flows.ppa`` (``gca-ppa``): parse, check the options and ``--out``, then run the
PPA flow and print ``ppa.md`` (progress on stderr through :mod:`logging`)."""

from __future__ import annotations

import argparse
import logging

from hdl.cli import (
    Parser,
    UsageError,
    add_config_args,
    config_from_args,
    nonnegative_int,
    positive_int,
    run_cli,
    writable_dir,
)

from ..tools import BUILD
from .activity import WARMUP_TOKENS, min_tokens
from .flow import run_ppa
from .gatesim import SIMULATORS
from .report import write_ppa
from .variants import VARIANTS, run_variants, write_variants

__all__ = ["main", "build_parser"]

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m flows.ppa",
        description="Energy / latency / area of one head: analog model + digital energy from "
                    "switching activity of the synthesised RTL, against the paper and GPUs.")
    add_config_args(parser)
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output directory (default: build/ppa/<config hash>)")
    parser.add_argument("--tokens", type=positive_int, default=24,
                        help=f"tokens simulated for switching activity (default 24; "
                             f"{WARMUP_TOKENS} warm-up)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="stimulus seed")
    parser.add_argument("--heads", type=positive_int, default=12,
                        help="heads in the comparison (12)")
    parser.add_argument("--simulator", choices=["auto", *SIMULATORS], default="auto",
                        help="gate-level simulator of the switching-activity run (default auto: "
                             "Verilator for a large netlist when installed, else Icarus; same "
                             "counts)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the scaling sweep")
    parser.add_argument("--variants", action="store_true",
                        help=f"also run every architecture variant ({', '.join(VARIANTS)}) "
                             "and add their table to ppa.md (variants.json, variants.md)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cfg = config_from_args(parser, args)

    def body() -> int:
        if args.tokens < min_tokens():
            raise UsageError(f"--tokens must be at least {min_tokens()} ({WARMUP_TOKENS} warm-up "
                             f"+ 2 measured), not {args.tokens}")
        out = writable_dir(args.out) if args.out else BUILD / "ppa" / cfg.hash
        r = run_ppa(cfg, n_tokens=args.tokens, seed=args.seed, heads=args.heads,
                    sweep=not args.no_sweep, simulator=args.simulator)
        paths = write_ppa(r, out)
        if args.variants:
            rows = run_variants(cfg, n_tokens=args.tokens, seed=args.seed,
                                simulator=args.simulator)
            paths += write_variants(rows, out, r["tech_preset"])
            with open(out / "ppa.md", "a") as f:
                f.write("\n" + (out / "variants.md").read_text())
        print((out / "ppa.md").read_text())
        log.info("wrote %s", ", ".join(str(p) for p in paths))
        return 0

    return run_cli(parser.prog, body)
