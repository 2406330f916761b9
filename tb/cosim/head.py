"""Co-simulate the generated attention head with the analog models: ``python -m tb.cosim.head``.

Generates ``attention_head.v`` for the config (cached by config hash under ``build/cosim/``),
builds it with Icarus or Verilator (``--sim`` or ``SIM``), streams random tokens (or
``--inputs IN.npz``) through it with the analog bridge in the loop, compares every output with
the golden model bit for bit, and writes a JSON summary: ``tokens``, ``mismatches``,
``latency_cycles``, ``initiation_interval_cycles``, ``simulated_cycles``, ``wall_s``,
``tokens_per_s`` (simulation loop only), ``cpu_s`` and ``tokens_per_cpu_s`` (the simulator
process's CPU time: the figure a shared machine does not divide), ``peak_rss_MiB``, the
token accounting (sent, received, dropped by a reset, unaccounted), the output FIFO's peak
and more.  Runs of one config and tag at once each get their own run folder (``cli``,
``cli-2``, …).

Everything that can be checked is checked before anything is built: options, the config (the
co-simulation needs ``analog.quantization`` on and a clock period the simulator can represent),
the ``--inputs`` file, and that ``--out`` can be written.  Exit 2 for bad input, 1 for a failed
run (a mismatch, or the simulation's first error line and its log).

Library use: :func:`run_head_cosim` (the pytest scenarios call it).
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from hdl.cli import (
    Parser,
    RunFailed,
    UsageError,
    add_config_args,
    config_from_args,
    nonnegative_int,
    positive_int,
    run_cli,
    writable_file,
)
from hdl.config import HeadConfig
from hdl.schedule import Schedule
from tb.cosim.runner import REPO_ROOT, SIMULATORS, run_cocotb, selected_simulator
from tb.cosim.shell import SHELL_TOP, shell_verilog

__all__ = ["run_head_cosim", "main"]

BUILD = REPO_ROOT / "build" / "cosim" / "head"
log = logging.getLogger(__name__)

#: Above this many simulated cycles a run is announced with its predicted length.
LONG_RUN_CYCLES = 2_000_000


def head_verilog(cfg: HeadConfig) -> Path:
    """The folder of the head's Verilog for ``cfg`` (``attention_head.v``, ``config.json``,
    ``manifest.json``, no lint), generated once per config and RTL sources: parallel test
    workers asking for the same config wait for the one that generates it."""
    from flows.cache import locked
    from flows.tools import rtl_hash
    from hdl.generate import generate

    out = BUILD / cfg.hash / f"verilog-{rtl_hash()}"   # a new folder when hdl/ changes
    out.mkdir(parents=True, exist_ok=True)
    with locked(out.parent / ".generate.lock", f"the head's Verilog for config {cfg.hash}"):
        if not (out / "attention_head.v").exists() or not (out / "config.json").exists():
            generate(cfg, out, ["attention_head"])
    return out


def generate_head(cfg: HeadConfig) -> tuple[Path, Path, Path]:
    """Verilog of the head for ``cfg`` (:func:`head_verilog`), its flattened simulation copy and
    the co-simulation shell around it (:mod:`tb.cosim.shell`), reused when already generated
    for this config and these RTL sources: ``(verilog folder, flattened file, shell file)``."""
    from flows.cache import locked
    from flows.tools import flatten_for_simulation

    out = head_verilog(cfg)
    flat = out / "attention_head.flat.v"
    with locked(out.parent / ".generate.lock", f"the head's Verilog for config {cfg.hash}"):
        # cached by content (and by flows/tools.py): rewritten only when the copy changes
        flatten_for_simulation(out / "attention_head.v", "attention_head", flat)
        shell = out / f"{SHELL_TOP}.v"      # rewritten when tb/cosim/shell.py changes it
        text = shell_verilog(cfg, flat.read_text())
        if not shell.exists() or shell.read_text() != text:
            tmp = out / f"{SHELL_TOP}.tmp.v"
            tmp.write_text(text)
            tmp.replace(shell)
    return out, flat, shell


def check_scenario(tokens: int, backpressure: float, gaps: float, flag: str = "",
                   stall_bursts: float = 0.0, reset_after: list[int] | None = None,
                   seed: int = 0) -> None:
    """Reject a bad scenario with a message naming the setting (``flag`` = "--" for the CLI)."""
    if tokens < 1:
        raise ValueError(f"{flag}tokens must be ≥ 1, not {tokens}")
    if seed < 0:
        raise ValueError(f"{flag}seed must be ≥ 0, not {seed}")
    for name, p in (("backpressure", backpressure), ("gaps", gaps),
                    ("stall-bursts" if flag else "stall_bursts", stall_bursts)):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"{flag}{name} must be a probability in [0, 1), not {p}")
    for k in reset_after or []:
        if k < 0:
            raise ValueError(f"{flag}reset-after must be ≥ 0 outputs, not {k}")


def check_config(cfg: HeadConfig) -> None:
    """What the co-simulation needs of a config (checked before anything is built)."""
    if not cfg.analog.quantization:
        raise ValueError("the co-simulation needs analog.quantization on: the RTL moves codes "
                         "(analog.quantization=false is for the golden model only)")
    period_ps = cfg.timing.t_clk_ns * 1000
    if abs(period_ps - round(period_ps)) > 1e-6 or round(period_ps) < 2 or round(period_ps) % 2:
        raise ValueError(f"timing.t_clk_ns={cfg.timing.t_clk_ns} cannot be simulated: the "
                         "simulator's precision is 1 ps and a clock period must be an even "
                         "number of ps (≥ 0.002 ns)")


def prepare_tokens(cfg: HeadConfig, tokens: int, seed: int,
                   inputs: str | Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scenario's token codes (T, d) ×3: seeded random, or from ``inputs`` (the golden
    model's IN.npz: one sequence q, k, v; its time arrays are refused — the co-simulation's
    times come from the simulated clock).  A bad file raises ValueError naming it."""
    from tb.cosim.scoreboard import make_tokens

    if inputs is not None:
        from sim.golden.io import TIME_KEYS, load_inputs

        present = [k for k in TIME_KEYS if k in load_inputs(inputs)]
        if present:
            raise ValueError(f"inputs file {str(inputs)!r} has {', '.join(present)}: the "
                             "co-simulation takes its write and read times from the simulated "
                             "clock; remove them (sim.golden uses them)")
    try:
        return make_tokens(cfg, {"inputs": str(inputs) if inputs else None,
                                 "seed": seed, "tokens": tokens})
    except ValueError as e:
        raise ValueError(f"--inputs {str(inputs)!r}: {e}" if inputs else str(e)) from None


def predicted_cycles(cfg: HeadConfig, tokens: int) -> int:
    """Cycles the run takes at full rate: tokens × initiation interval + latency."""
    s = Schedule(cfg)
    return tokens * s.initiation_interval + s.latency


def long_run_warning(cfg: HeadConfig, tokens: int) -> str | None:
    """A warning for a run that will simulate millions of cycles (e.g. array.count_bits=16:
    a 65,551-cycle interval per token), else None."""
    cycles = predicted_cycles(cfg, tokens)
    if cycles <= LONG_RUN_CYCLES:
        return None
    return (f"this run simulates at least {cycles:,} cycles ({tokens:,} tokens × "
            f"{Schedule(cfg).initiation_interval:,}-cycle interval): expect minutes to hours")


def run_head_cosim(cfg: HeadConfig, *, tokens: int = 64, seed: int = 0,
                   backpressure: float = 0.0, gaps: float = 0.0, stall_bursts: float = 0.0,
                   reset_after: int | list[int] | None = None,
                   inputs: str | Path | None = None,
                   sim: str | None = None, summary: str | Path | None = None,
                   tag: str = "run", fault_token: int | None = None,
                   max_cycles: int | None = None,
                   codes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                   netlist: Path | None = None) -> dict[str, Any]:
    """Run one co-simulation scenario; return the summary dict.

    Raises ``ValueError`` for a bad scenario, config or inputs file (before building), and
    :class:`RunFailed` when the simulation failed — a mismatch (with the first one named), an
    unaccounted or extra token, or an error inside the simulation (its first error line and
    log).  ``tokens`` is ignored with ``inputs`` (the file's length counts).  ``reset_after``:
    reset once that many outputs (in total) have been taken; a list resets several times.
    ``stall_bursts``: probability per ready cycle that the output stalls for 100–300 cycles.
    ``fault_token`` (tests only): corrupt that token's output on the pins and expect the
    scoreboard to report it (then a mismatch is the pass condition); ``max_cycles`` (tests
    only): the testbench's timeout; ``codes``: the (q, k, v) codes :func:`prepare_tokens`
    already made for this scenario (the CLI checks its inputs first and does not load twice);
    ``netlist``: a Verilog file that replaces the RTL head (module ``attention_head`` with the
    same ports, e.g. the FPGA-mapped netlist of :func:`flows.synth.mapped.mapped_head_verilog`;
    Icarus only)."""
    resets = [reset_after] if isinstance(reset_after, int) else list(reset_after or [])
    check_scenario(tokens, backpressure, gaps, stall_bursts=stall_bursts, reset_after=resets,
                   seed=seed)
    check_config(cfg)
    sim = selected_simulator(sim)
    q, k, v = codes if codes is not None else prepare_tokens(cfg, tokens, seed, inputs)
    warning = long_run_warning(cfg, len(q))
    if warning:
        log.warning("%s", warning)
    vdir, flat, shell = generate_head(cfg)
    from flows.cache import first_unlocked

    # two runs of one config and tag at once (e.g. two CLI runs) each get their own folder:
    # `tag`, else `tag-2`, `tag-3`, … (the first no running process holds)
    names = (tag if i == 0 else f"{tag}-{i + 1}" for i in itertools.count())
    lock_files = (BUILD / cfg.hash / f".{name}.lock" for name in names)
    with first_unlocked(lock_files, f"the co-simulation run folder {tag!r}") as i:
        work = BUILD / cfg.hash / (tag if i == 0 else f"{tag}-{i + 1}")
        return _run_in(cfg, work, q, k, v, seed=seed, backpressure=backpressure, gaps=gaps,
                       stall_bursts=stall_bursts, resets=resets, inputs=inputs, sim=sim,
                       summary=summary, fault_token=fault_token, max_cycles=max_cycles,
                       vdir=vdir, flat=flat, shell=shell, netlist=netlist)


def _run_in(cfg: HeadConfig, work: Path, q, k, v, *, seed, backpressure, gaps, stall_bursts,
            resets, inputs, sim, summary, fault_token, max_cycles, vdir, flat, shell,
            netlist) -> dict[str, Any]:
    """:func:`run_head_cosim` in its own run folder ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    tokens_file = work / "tokens.npz"
    np.savez(tokens_file, q=q, k=k, v=v)
    summary_path = Path(summary).resolve() if summary else work / "summary.json"
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    if summary_path.exists():
        summary_path.unlink()
    scenario = {"tokens": len(q), "seed": seed, "backpressure": backpressure, "gaps": gaps,
                "stall_bursts": stall_bursts, "reset_after": resets,
                "summary": str(summary_path), "tokens_file": str(tokens_file),
                "inputs": str(Path(inputs).resolve()) if inputs else None,
                "fault_token": fault_token, "expect_mismatch": fault_token is not None,
                "max_cycles": max_cycles}
    t0 = time.monotonic()
    failure: RunFailed | None = None
    ran = None
    try:
        ran = run_cocotb(toplevel=SHELL_TOP, verilog_dir=vdir,
                         test_module="tb.cosim.head_tb", build_dir=work, sim=sim,
                         sources=[netlist or flat, shell], ports_only=True,
                         extra_env={"GCA_SCENARIO": json.dumps(scenario)})
    except RunFailed as e:
        failure = e
    result = json.loads(summary_path.read_text()) if summary_path.exists() else None
    if result is None:
        raise failure or RunFailed(f"the co-simulation wrote no summary ({summary_path})")
    result["simulator"] = sim
    if ran is not None:
        result["build_s"], result["build_cached"] = ran.build_s, ran.build_cached
    result["total_wall_s"] = round(time.monotonic() - t0, 2)
    summary_path.write_text(json.dumps(result, indent=2) + "\n")
    if failure is not None:
        if result.get("mismatches"):
            raise RunFailed(f"{result['mismatches']} of {result['outputs_compared']} outputs "
                            f"differ from the golden model; first: "
                            f"{_describe(result['first_mismatch'])}", log=failure.log)
        raise failure
    return result


def _describe(first: dict | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (first or {}).items() if k != "tile_counts")


SUMMARY_KEYS = ("tokens_sent", "outputs_received", "outputs_compared", "tokens_dropped_by_reset",
                "tokens_unaccounted", "mismatches", "latency_cycles", "latency_cycles_max",
                "initiation_interval_cycles", "max_outstanding_tokens", "simulated_cycles",
                "wall_s", "tokens_per_s", "cpu_s", "tokens_per_cpu_s", "cycles_per_s",
                "peak_rss_MiB", "build_s", "build_cached")


def main(argv: list[str] | None = None) -> int:
    prog = "python -m tb.cosim.head"
    parser = Parser(
        prog=prog,
        description="Co-simulate the generated attention head (Verilog) with the analog "
                    "behavioural models and compare every output with the golden model.")
    add_config_args(parser)
    parser.add_argument("--tokens", type=int, default=64, help="tokens to stream (default 64)")
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="random seed of tokens/handshakes (≥ 0)")
    parser.add_argument("--inputs", metavar="IN.npz",
                        help="tokens from a file: q (T,d) in [0,1], k and v (T,d) in volts "
                             "(replaces --tokens)")
    parser.add_argument("--backpressure", type=float, default=0.0,
                        help="probability that the output is not ready in a cycle")
    parser.add_argument("--stall-bursts", type=float, default=0.0, metavar="P",
                        help="probability per ready cycle that the output stalls for 100–300 "
                             "cycles (fills the output FIFO)")
    parser.add_argument("--gaps", type=float, default=0.0,
                        help="probability of an idle input cycle before a token")
    parser.add_argument("--reset-after", type=positive_int, action="append", metavar="K",
                        help="assert reset once K outputs (in total) have arrived, then "
                             "continue (repeatable)")
    parser.add_argument("--sim", choices=SIMULATORS, default=None,
                        help="simulator (default: $SIM or icarus)")
    parser.add_argument("--out", metavar="FILE.json", help="write the JSON summary here")
    args = parser.parse_args(argv)
    cfg = config_from_args(parser, args)

    def body() -> int:
        try:
            check_scenario(args.tokens, args.backpressure, args.gaps, flag="--",
                           stall_bursts=args.stall_bursts, reset_after=args.reset_after)
            check_config(cfg)
            sim = selected_simulator(args.sim)
            if args.inputs and not Path(args.inputs).is_file():
                raise UsageError(f"--inputs {args.inputs!r}: no such file")
            codes = prepare_tokens(cfg, args.tokens, args.seed, args.inputs)
            n = len(codes[0])
        except ValueError as e:
            raise UsageError(str(e)) from None
        out = writable_file(args.out, suffix=".json") if args.out else None
        print(f"co-simulating config {cfg.hash} (d={cfg.array.head_dim}, n={cfg.array.n_tiles}, "
              f"W={cfg.array.window}) on {sim}: {n} tokens"
              + (f" from {args.inputs}" if args.inputs else ""), flush=True)
        res = run_head_cosim(cfg, tokens=args.tokens, seed=args.seed,
                             backpressure=args.backpressure, gaps=args.gaps,
                             stall_bursts=args.stall_bursts, reset_after=args.reset_after,
                             inputs=args.inputs, sim=sim, summary=out, tag="cli",
                             codes=codes)
        for key in SUMMARY_KEYS:
            print(f"  {key:28s} {res.get(key)}")
        if out:
            print(f"wrote {out}")
        return 0

    return run_cli(prog, body)


if __name__ == "__main__":
    sys.exit(main())
