"""``python -m flows.synth`` (``gca-synth``): parse, check blocks, targets and ``--out``, then
synthesise and print ``report.md`` (progress on stderr through :mod:`logging`)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from hdl.cli import (
    Parser,
    UsageError,
    add_config_args,
    config_from_args,
    positive_float,
    run_cli,
    writable_dir,
)

from .flow import run_synth
from .fpga import MAPPINGS, ROUTERS
from .report import write_report
from .targets import BUILD, TARGETS, SynthError, check_targets
from .verilog import resolve_blocks

__all__ = ["main", "build_parser"]

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m flows.synth",
        description="Synthesis (Yosys) and place-and-route (nextpnr) reports of the generated "
                    "Verilog: cells, transistors, logic depth, LUT/FF/carry, utilisation, Fmax.")
    add_config_args(parser)
    parser.add_argument("--target", default="generic",
                        help=f"comma-separated, from: {', '.join(TARGETS)}, or 'all' "
                             "(default: generic)")
    parser.add_argument("--block", default="all",
                        help="a block of hdl/registry.py, 'all' (every block) or 'head' (the "
                             "whole head); comma-separated allowed (default: all)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="report directory (default: build/synth/<config hash>)")
    parser.add_argument("--harness", choices=("auto", "always", "never"), default="always",
                        help="shift-register I/O harness for FPGA targets: when the ports "
                             "exceed the package (auto), always, or never")
    parser.add_argument("--timeout", type=positive_float, default=3600.0, metavar="S",
                        help="stop nextpnr after S seconds and report 'timeout'")
    parser.add_argument("--mapping", choices=tuple(MAPPINGS), default="auto",
                        help="ECP5 LUT mapping: abc9 (synth_ecp5's ABC9 after splitnets), abc "
                             "(classic ABC), auto (ABC9, classic ABC if Yosys asserts; default)")
    parser.add_argument("--router", choices=ROUTERS, default="router1",
                        help="nextpnr router (default: router1)")
    parser.add_argument("--freq", type=positive_float, default=None, metavar="MHZ",
                        help="nextpnr clock constraint (default: the target's)")
    parser.add_argument("--force", action="store_true", help="ignore the cache")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cfg = config_from_args(parser, args)

    def body() -> int:
        targets = list(TARGETS) if args.target == "all" else \
            [t.strip() for t in args.target.split(",") if t.strip()]
        try:
            check_targets(targets)
            blocks = resolve_blocks(args.block)
        except SynthError as e:
            raise UsageError(str(e)) from None
        out = writable_dir(args.out) if args.out else BUILD / cfg.hash
        report = run_synth(cfg, blocks, targets, force=args.force, harness=args.harness,
                           timeout_s=args.timeout, mapping=args.mapping, router=args.router,
                           freq_mhz=args.freq)
        jpath, mpath = write_report(report, Path(out))
        print(mpath.read_text())
        log.info("wrote %s and %s", jpath, mpath)
        return 0

    return run_cli(parser.prog, body)
