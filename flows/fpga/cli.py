"""``python -m flows.fpga build|run|sim`` — the FPGA prototype's three commands.

* ``build --board B [--fit] [--lanes L]``: bitstream + report (utilisation, Fmax vs board
  clock, the twin's lanes, R, tokens/s), JSON and Markdown in ``--out`` (default
  ``build/fpga/<board>/<config hash>``).  A config that does not fit (estimated after
  synthesis) fails naming the resource; ``--fit`` builds the largest smaller one that fits.
* ``run --board B --port DEV [--tokens N | --inputs F.npz] [--program]``: stream tokens to the
  board over the serial port, compare with the twin reference and the golden model, write the
  JSON summary.
* ``sim --board B [--tokens N]``: the same host code drives the simulated board top through its
  UART pins (Amaranth simulator), same summary.
* ``agree --board B [--tokens 2000]``: the twin reference (``sim.twin``) against the golden
  model with leakage/variability/IR drop off: share equal, largest difference, every
  disagreement with its distance to the rounding boundary.

The config is the board's prototype config (``flows.fpga.boards``) unless ``--config`` is
given; ``--set`` applies on top of either.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from hdl.cli import (
    Parser,
    RunFailed,
    UsageError,
    add_config_args,
    nonnegative_int,
    positive_int,
    run_cli,
    writable_dir,
    writable_file,
)
from hdl.config import HeadConfig, load_config

from .boards import BOARDS

__all__ = ["main", "build_parser"]

log = logging.getLogger(__name__)
PROG = "python -m flows.fpga"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description="FPGA prototype of the head's digital control: "
                    "board builds, runs on a board over a serial port, the simulated board.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    b = sub.add_parser("build", help="bitstream and report for a board")
    r = sub.add_parser("run", help="stream tokens through a programmed board")
    s = sub.add_parser("sim", help="the same host code against the simulated board top")
    g = sub.add_parser("agree", help="the twin's counts against the golden model (float): "
                                     "agreement and every disagreement")
    for p in (b, r, s, g):
        p.add_argument("--board", required=True, choices=sorted(BOARDS))
        add_config_args(p)
    b.add_argument("--out", metavar="DIR", help="report folder")
    b.add_argument("--force", action="store_true", help="ignore the cache")
    b.add_argument("--fit", action="store_true",
                   help="if the config does not fit the board, build the largest smaller one "
                        "that does (halving tiles, columns, d; estimated after synthesis)")
    for p in (b, r, s):
        p.add_argument("--lanes", type=positive_int, metavar="L",
                       help="the array twin's parallel lanes (a power of two dividing d, at "
                            "most the tile's columns; default: the board's, derived from the "
                            "link speed)")
    g.add_argument("--tokens", type=positive_int, default=2000, metavar="N")
    g.add_argument("--seed", type=nonnegative_int, default=11)
    g.add_argument("--out", metavar="FILE.json", help="write the agreement (with the list)")
    for p in (r, s):
        p.add_argument("--tokens", type=positive_int, default=20, metavar="N")
        p.add_argument("--seed", type=nonnegative_int, default=0)
        p.add_argument("--out", metavar="FILE.json", help="write the JSON summary here")
    r.add_argument("--port", required=True, metavar="DEV", help="serial port, e.g. /dev/ttyUSB1")
    r.add_argument("--inputs", metavar="F.npz", help="q, k, v floats (T, d) instead of --tokens")
    r.add_argument("--program", action="store_true",
                   help="build (cached) and load the bitstream first (iceprog/openFPGALoader)")
    s.add_argument("--divisor", type=positive_int, default=4,
                   help="fabric cycles per UART bit in the simulation (default 4)")
    return parser


def _config(parser, args) -> HeadConfig:
    from hdl.fpga.twin import check_supported

    try:
        if args.config:
            cfg = load_config(args.config, args.overrides)
        else:
            cfg = HeadConfig().with_overrides([*BOARDS[args.board].overrides, *args.overrides])
        check_supported(cfg)
        return cfg
    except ValueError as e:
        parser.error(str(e))
        raise


def _tokens(cfg: HeadConfig, args):
    from sim.stimuli import random_tokens

    if getattr(args, "inputs", None):
        from sim.golden import load_inputs, validate_inputs

        data = load_inputs(args.inputs)
        return validate_inputs(data["q"], data["k"], data["v"], cfg)
    return random_tokens(cfg, args.tokens, args.seed)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cfg = _config(parser, args)
    if getattr(args, "lanes", None):
        from hdl.fpga.twin import check_lanes

        try:
            check_lanes(cfg, args.lanes)
        except ValueError as e:
            parser.error(f"--lanes: {e}")

    def body() -> int:
        if args.command == "build":
            return _build(cfg, args)
        out = writable_file(args.out) if args.out else None
        if args.command == "agree":
            return _agree(cfg, args, out)
        floats = _tokens(cfg, args)
        from .summary import codes_of, summarise

        q, k, v = codes_of(cfg, *floats)
        if args.command == "sim":
            from .build import board_lanes
            from .simboard import simulate_board

            if args.divisor < 2:
                raise UsageError(f"--divisor must be ≥ 2, not {args.divisor}")
            res = simulate_board(cfg, q, k, v, divisor=args.divisor,
                                 token_credit=BOARDS[args.board].token_credit,
                                 lanes=board_lanes(args.board, cfg, args.lanes))
            summary = summarise(cfg, floats, res.session, res.wall_s, board=args.board,
                                simulated=True, fabric_cycles=res.cycles,
                                time_scale_R=res.time_scale, lanes=res.lanes)
        else:
            from .serial_run import program_board, run_serial

            if args.program:
                from .build import build_board

                program_board(args.board, build_board(args.board, cfg,
                                                      lanes=args.lanes)["bitstream"])
            session, wall = run_serial(cfg, args.port, q, k, v,
                                       credit=BOARDS[args.board].token_credit,
                                       baud=BOARDS[args.board].baud)
            summary = summarise(cfg, floats, session, wall, board=args.board, simulated=False)
        text = json.dumps(summary, indent=2)
        if out:
            out.write_text(text + "\n")
        print(text)
        if summary["mismatches"] or summary["outputs_missing"]:
            raise RunFailed(f"{summary['mismatches']} mismatches, "
                            f"{summary['outputs_missing']} outputs missing of {summary['tokens']}")
        return 0

    return run_cli(PROG, body)


def _build(cfg: HeadConfig, args) -> int:
    from .build import build_board, report_markdown

    from .build import DoesNotFit, synth_use
    from .fit import candidates, fit_search

    out = writable_dir(args.out) if args.out else None
    try:
        if args.fit:
            cfg, tried = fit_search(candidates(cfg),
                                    lambda c: synth_use(args.board, c, args.lanes))
            for h, over in tried:
                log.info("config %s: %s", h, "fits" if not over else
                         "does not fit (" + ", ".join(over) + ")")
        res = build_board(args.board, cfg, force=args.force, lanes=args.lanes)
    except DoesNotFit as e:
        raise RunFailed(str(e)) from None
    out = out or Path("build") / "fpga" / args.board / cfg.hash
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    md = f"# FPGA prototype build: {args.board}\n\n" + report_markdown(res)
    (out / "report.md").write_text(md)
    print(md)
    log.info("report: %s", out / "report.md")
    return 0


def _agree(cfg: HeadConfig, args, out: Path | None) -> int:
    from sim.stimuli import random_tokens
    from sim.twin import golden_agreement

    res = golden_agreement(cfg, *random_tokens(cfg, args.tokens, args.seed))
    res = {"board": args.board, "config_hash": cfg.hash, "seed": args.seed, **res}
    if out:
        out.write_text(json.dumps(res, indent=1) + "\n")
    d = res["disagreements"]
    print(json.dumps({k: v for k, v in res.items() if k != "disagreements"}
                     | {"n_disagreements": len(d), "max_boundary_distance":
                        max((x["boundary_distance"] for x in d), default=None)}, indent=2))
    for x in d[:20]:
        print(f"token {x['token']} tile {x['tile']} dim {x['dim']}: twin {x['twin']} golden "
              f"{x['golden']}, {x['boundary_distance']:.2e} from the rounding boundary")
    if len(d) > 20:
        print(f"… {len(d) - 20} more" + (f" in {out}" if out else " (--out FILE.json)"))
    return 0
