"""Co-simulate the generated attention head with the analog models: ``python -m tb.cosim.head``.

Generates ``attention_head.v`` for the config (cached by config hash under ``build/cosim/``),
builds it with Icarus or Verilator (``--sim`` or ``SIM``), streams random tokens (or
``--inputs IN.npz``) through it with the analog bridge in the loop, compares every output with
the golden model bit for bit, and writes a JSON summary: ``tokens``, ``mismatches``,
``latency_cycles``, ``initiation_interval_cycles``, ``simulated_cycles``, ``wall_s``,
``tokens_per_s`` and more.  Exit status 1 when any output mismatched.

Library use: :func:`run_head_cosim` (the pytest scenarios call it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from hdl.cli import add_config_args, config_from_args
from hdl.config import HeadConfig
from tb.cosim.runner import REPO_ROOT, run_cocotb, selected_simulator

__all__ = ["run_head_cosim", "main"]

BUILD = REPO_ROOT / "build" / "cosim" / "head"


def generate_head(cfg: HeadConfig) -> tuple[Path, Path]:
    """Verilog of the head for ``cfg`` and its flattened simulation copy (reused when already
    generated for this config): ``(verilog folder, flattened file)``."""
    from flows.cache import locked
    from flows.tools import flatten_for_simulation
    from hdl.generate import generate

    out = BUILD / cfg.hash / "verilog"
    flat = out / "attention_head.flat.v"
    out.mkdir(parents=True, exist_ok=True)
    # parallel test workers may ask for the same config: one generates, the others wait
    with locked(out.parent / ".generate.lock", f"the head's Verilog for config {cfg.hash}"):
        if not flat.exists() or not (out / "config.json").exists():
            generate(cfg, out, ["attention_head"])
            tmp = flatten_for_simulation(out / "attention_head.v", "attention_head",
                                         out / "attention_head.flat.tmp.v")
            tmp.replace(flat)
    return out, flat


def check_scenario(tokens: int, backpressure: float, gaps: float, flag: str = "") -> None:
    """Reject a bad scenario with a message naming the setting (``flag`` = "--" for the CLI)."""
    if tokens < 1:
        raise ValueError(f"{flag}tokens must be ≥ 1, not {tokens}")
    for name, p in (("backpressure", backpressure), ("gaps", gaps)):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"{flag}{name} must be a probability in [0, 1), not {p}")


def run_head_cosim(cfg: HeadConfig, *, tokens: int = 64, seed: int = 0,
                   backpressure: float = 0.0, gaps: float = 0.0,
                   reset_after: int | None = None, inputs: str | Path | None = None,
                   sim: str | None = None, summary: str | Path | None = None,
                   tag: str = "run", fault_token: int | None = None) -> dict[str, Any]:
    """Run one co-simulation scenario; return the summary dict (raises on any mismatch).

    ``fault_token`` (tests only): corrupt that token's output on the pins and expect the
    scoreboard to report it (then a mismatch is the pass condition)."""
    check_scenario(tokens, backpressure, gaps)
    sim = selected_simulator(sim)
    vdir, flat = generate_head(cfg)
    work = BUILD / cfg.hash / tag
    work.mkdir(parents=True, exist_ok=True)
    summary_path = Path(summary).resolve() if summary else work / "summary.json"
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    if summary_path.exists():
        summary_path.unlink()
    scenario = {"tokens": tokens, "seed": seed, "backpressure": backpressure, "gaps": gaps,
                "reset_after": reset_after, "summary": str(summary_path),
                "inputs": str(Path(inputs).resolve()) if inputs else None,
                "fault_token": fault_token, "expect_mismatch": fault_token is not None}
    t0 = time.monotonic()
    try:
        run_cocotb(toplevel="attention_head", verilog_dir=vdir, test_module="tb.cosim.head_tb",
                   build_dir=work, sim=sim, sources=[flat],
                   extra_env={"GCA_SCENARIO": json.dumps(scenario)})
    finally:
        result = json.loads(summary_path.read_text()) if summary_path.exists() else None
    assert result is not None, f"the co-simulation wrote no summary ({summary_path})"
    result["simulator"] = sim
    result["total_wall_s"] = round(time.monotonic() - t0, 2)
    summary_path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tb.cosim.head",
        description="Co-simulate the generated attention head (Verilog) with the analog "
                    "behavioural models and compare every output with the golden model.")
    add_config_args(parser)
    parser.add_argument("--tokens", type=int, default=64, help="tokens to stream (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of tokens/handshakes")
    parser.add_argument("--inputs", metavar="IN.npz",
                        help="tokens from a file: q (T,d) in [0,1], k and v (T,d) in volts")
    parser.add_argument("--backpressure", type=float, default=0.0,
                        help="probability that the output is not ready in a cycle")
    parser.add_argument("--gaps", type=float, default=0.0,
                        help="probability of an idle input cycle before a token")
    parser.add_argument("--reset-after", type=int, default=None, metavar="K",
                        help="assert reset once K outputs have arrived, then continue")
    parser.add_argument("--sim", choices=("icarus", "verilator"), default=None,
                        help="simulator (default: $SIM or icarus)")
    parser.add_argument("--out", metavar="FILE.json", help="write the JSON summary here")
    args = parser.parse_args(argv)
    cfg = config_from_args(parser, args)
    try:
        check_scenario(args.tokens, args.backpressure, args.gaps, flag="--")
    except ValueError as e:
        parser.error(str(e))
    if args.inputs and not Path(args.inputs).is_file():
        parser.error(f"--inputs {args.inputs!r}: no such file")
    print(f"co-simulating config {cfg.hash} (d={cfg.array.head_dim}, n={cfg.array.n_tiles}, "
          f"W={cfg.array.window}) on {selected_simulator(args.sim)}: "
          f"{args.tokens} tokens", flush=True)
    try:
        res = run_head_cosim(cfg, tokens=args.tokens, seed=args.seed,
                             backpressure=args.backpressure, gaps=args.gaps,
                             reset_after=args.reset_after, inputs=args.inputs, sim=args.sim,
                             summary=args.out, tag="cli")
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    keys = ("tokens", "mismatches", "latency_cycles", "initiation_interval_cycles",
            "simulated_cycles", "wall_s", "tokens_per_s", "cycles_per_s")
    for k in keys:
        print(f"  {k:28s} {res.get(k)}")
    return 0 if res["mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
