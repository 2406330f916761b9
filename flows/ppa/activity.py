"""Switching activity of the synthesised head netlist over a run of tokens (gate-level VCD).

The generic gate netlist of ``attention_head`` written by :func:`flows.synth.synth_generic`
(flat ``$_*_`` gates and ``$_DFF_P_``; zero-delay, so glitches are not counted) is simulated
under a generated testbench on Verilator or Icarus (:mod:`flows.ppa.gatesim`; same counts):

* a stream of tokens offered back to back (``i_tok__valid`` held high, output always ready), so
  the head runs at its initiation interval;
* the analog side is replaced by the bit-true golden model (:mod:`sim.golden`) run on random
  queries, keys and values (:func:`sim.stimuli.random_tokens`) over W + n tokens, so the
  measured tokens see a full window (steady state): during each token's count phase the
  testbench drives ``i_c2p_pulse`` high for ``count`` cycles of every channel and
  ``i_c2p_sign`` with its sign;
* the head's outputs are checked against the golden sums (``output_mismatches``).

Toggles of every net are counted from the VCD between the accept of token ``warmup`` and the
accept of token ``warmup + measured`` (steady state), grouped by the net's fan-out in the netlist,
and returned per token together with the flip-flop clock events: a plain flip-flop is clocked
every cycle; an enable flip-flop of a clock-gated netlist (``$_DFFE_PP_``) only on the cycles its
enable net is high (time high in the VCD / clock period), and each distinct enable net is one
clock-gating cell clocked every cycle (``icg_clock_events``).  The clock net is not counted as a
net toggle as well (its load is the clock events' energy).
:func:`flows.ppa.energy.digital_energy` turns them into joules.  The token payload and the
stimulus rows are packed by :mod:`sim.bits` (payload order from the RTL's ``token_layout``).
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from hdl.config import HeadConfig
from hdl.schedule import Schedule
from sim.bits import bits_to_int, token_bits, token_width, unpack_array
from sim.stimuli import random_tokens

from .. import cache, netlist
from ..tools import BUILD
from .gatesim import DUT_SCOPE, TB, resolve_simulator, run_testbench
from .vcd import parse_vcd

__all__ = ["synthetic_tokens", "simulate_activity", "ACTIVITY_VERSION", "WARMUP_TOKENS",
           "min_tokens"]

log = logging.getLogger(__name__)

ACTIVITY_VERSION = "6"  # 6: Verilator or Icarus, ps testbench (window at the clock edges)
#: Tokens simulated before the measurement starts (the pipeline fills).
WARMUP_TOKENS = 4


def min_tokens(warmup: int = WARMUP_TOKENS) -> int:
    """Fewest tokens a run can measure: the warm-up plus two."""
    return warmup + 2


def synthetic_tokens(cfg: HeadConfig, n_tokens: int, seed: int = 0) -> dict[str, Any]:
    """Random tokens and the C2P counts the golden model (:mod:`sim.golden`) gives for them.

    q uniform on [0, 1], k and v uniform on [0, v_max].  The golden model runs W + n_tokens
    tokens and the last n_tokens are returned, so their window is full (steady state); it
    includes every non-ideality the config switches on (leakage at the schedule's token step).
    ``counts``/``signs`` are (n_tokens, n_tiles·d), channel index = tile·d + dim."""
    from analog_models.dac import kv_code, query_code
    from sim import golden

    a = cfg.array
    w = a.window
    q, k, v = random_tokens(cfg, w + n_tokens, seed)
    res = golden.run(q, k, v, cfg)
    signed = np.asarray(res.counts[w:]).reshape(n_tokens, a.n_channels)
    if not np.issubdtype(signed.dtype, np.integer):
        raise ValueError("switching activity needs quantised counts (analog.quantization on)")
    qc = query_code(q[w:], cfg)
    return {"q": qc, "k": kv_code(k[w:], cfg), "v": kv_code(v[w:], cfg),
            "counts": np.abs(signed), "signs": (signed < 0).astype(np.int64),
            "out": np.asarray(res.out[w:]),
            "q_duty": float(qc.mean() / a.q_max),
            "a_duty": float(res.activations[w:].sum(axis=1).mean() / w),
            "mean_count": float(np.abs(signed).mean())}


def _hexrow(bits: np.ndarray) -> str:
    """A bit vector (index 0 = LSB) as a hex string for $readmemh."""
    return f"{bits_to_int(bits):x}"


_ALIAS = re.compile(r"^\s*assign\s+\\?(\S+?)\s*(?:\[(\d+)\])?\s*=\s*(_\d+_)\s*;", re.M)


def _verilog_aliases(netlist_v: Path, names: dict[str, list]) -> dict[str, list]:
    """Names ``write_verilog`` invents for a flip-flop whose Q is one bit of a named net
    (``reg _8040_ = 1'h0; … assign \\seq.step [2] = _8040_;``): the VCD shows them, the JSON
    netlist does not.  Each maps to the bit of the net it drives, so its toggles are counted
    once (as that net's) and none is left unmapped."""
    out: dict[str, list] = {}
    for m in _ALIAS.finditer(Path(netlist_v).read_text()):
        net, idx, alias = m.group(1), m.group(2), m.group(3)
        bits = names.get(net)
        if alias not in names and bits is not None:
            i = int(idx) if idx is not None else 0
            if i < len(bits):
                out[alias] = [bits[i]]
    return out


def simulate_activity(cfg: HeadConfig, netlist_v: Path, netlist_json: Path, *,
                      n_tokens: int = 24, warmup: int = WARMUP_TOKENS, seed: int = 0,
                      work: Path | None = None, simulator: str = "auto") -> dict[str, Any]:
    """Simulate the head netlist over ``n_tokens`` tokens; per-token switching activity.

    Cached in ``work`` (default: ``build/synth/activity/<key>``) by a hash of the netlist and
    the stimulus; two processes asking for the same run (parallel test workers) are serialised
    by a lock on the folder (:mod:`flows.cache`).  The ``tech`` section of the config only
    prices the toggles (:mod:`flows.ppa.energy`), so it is not part of the key: heads that
    differ only in their technology presets share one run.  ``simulator``: ``verilator``,
    ``icarus`` or ``auto`` (Verilator for a large netlist when installed, else Icarus;
    :mod:`flows.ppa.gatesim`) — the counts are the same, the report says which one ran."""
    simulator = resolve_simulator(simulator, netlist_v)
    if n_tokens < min_tokens(warmup):
        raise ValueError(f"n_tokens must be at least warmup + 2 = {min_tokens(warmup)}, "
                         f"not {n_tokens}")
    stimulus = {k: v for k, v in cfg.to_dict().items() if k != "tech"}
    work = Path(work or BUILD / "synth" / "activity" / cache.key(
        Path(netlist_v).read_bytes(),
        [stimulus, n_tokens, warmup, seed, ACTIVITY_VERSION, TB, simulator]))
    with cache.locked(work / ".lock", f"switching activity of {Path(netlist_v).name} "
                                      f"({n_tokens} tokens)"):
        return _simulate_activity(cfg, netlist_v, netlist_json, n_tokens=n_tokens,
                                  warmup=warmup, seed=seed, work=work, simulator=simulator)


def _simulate_activity(cfg: HeadConfig, netlist_v: Path, netlist_json: Path, *,
                       n_tokens: int, warmup: int, seed: int, work: Path,
                       simulator: str) -> dict[str, Any]:
    cached = work / "activity.json"
    if (res := cache.read_json(cached)) is not None:
        res["cached"] = True
        return res
    a = cfg.array
    sched = Schedule(cfg)
    toks = synthetic_tokens(cfg, n_tokens, seed)
    f = a.count_max
    nch = a.n_channels
    netlist_v, netlist_json = Path(netlist_v), Path(netlist_json)
    t_start = time.monotonic()
    payload = [_hexrow(row) for row in token_bits(cfg, q=toks["q"], k=toks["k"], v=toks["v"])]
    (work / "tok.hex").write_text("\n".join(payload) + "\n")
    rows = []
    for t in range(n_tokens):
        cnt = toks["counts"][t]
        for kk in range(f):
            rows.append(_hexrow(cnt > kk))
    (work / "pulse.hex").write_text("\n".join(rows) + "\n")
    (work / "sign.hex").write_text("\n".join(_hexrow(s) for s in toks["signs"]) + "\n")
    pw = token_width(cfg)
    limit = 200 + (n_tokens + 2) * (sched.initiation_interval + sched.latency)
    ow = a.head_dim * a.sum_width
    tb = TB.format(nt=n_tokens, f=f, nch=nch, pw=pw, limit=limit, ow=ow,
                   sets=sched.c2p_sets)
    log.info("activity: simulating %d tokens (%d cycles max) on %s", n_tokens, limit, simulator)
    run = run_testbench(simulator, work, netlist_v, tb)
    events = (work / "events.txt").read_text().split("\n")
    accepts = {int(p[1]): (int(p[2]), int(p[3])) for p in (e.split() for e in events)
               if p and p[0] == "accept"}
    outs = sum(1 for e in events if e.startswith("out "))
    if outs < n_tokens or warmup + 1 >= len(accepts):
        raise RuntimeError(f"the head produced {outs} of {n_tokens} outputs "
                           f"({len(accepts)} tokens accepted); see {work}")
    # The netlist must compute what the stimulus implies: sum over tiles of sign·count.
    expect = toks["out"]
    mismatches = 0
    for e in events:
        p = e.split()
        if p and p[0] == "out":
            got = unpack_array(int(p[4], 16), a.sum_width, a.head_dim, signed=True)
            mismatches += int(not np.array_equal(expect[int(p[1])], got))
    last = max(accepts)
    measured = last - warmup
    (c0, t0), (c1, t1) = accepts[warmup], accepts[last]
    log.info("activity: counting toggles in %.0f MB of VCD",
             (work / "act.vcd").stat().st_size / 1e6)
    mod = netlist.load_module(netlist_json, "attention_head")
    # Fan-out as the energy model charges it: every sink pin, flip-flop clocks included.
    fanout = netlist.fanout(mod, latches=False, ff_sinks=None)
    ff_q = netlist.ff_outputs(mod, latches=False)
    n_ff = netlist.count_ffs(mod, latches=False)
    names = netlist.net_names(mod)
    names.update(_verilog_aliases(netlist_v, names))
    # Clock gating: the enable net of each clock gate, watched for the cycles it is high.
    enables = netlist.ff_enables(mod)
    en_bits = {b for b in enables if isinstance(b, int)}
    watch = {name for name, bits in names.items() if any(b in en_bits for b in bits)}
    t_parse = time.monotonic()
    vars_, tog, high = parse_vcd(work / "act.vcd", t0, t1, watch, scope=DUT_SCOPE)
    parse_s = time.monotonic() - t_parse
    period = (t1 - t0) / (c1 - c0)          # VCD time units per clock cycle
    en_cycles: dict[int | str, float] = {}
    for ident, per_bit in high.items():
        for name in vars_[ident][0]:
            bits = names.get(name, [])
            for i, t_high in enumerate(per_bit):
                if i < len(bits) and bits[i] in en_bits and bits[i] not in en_cycles:
                    en_cycles[bits[i]] = t_high / period
    # A constant enable is high every cycle (1) or never (0); an enable net the VCD does not
    # show is charged as always on (conservative) and counted.
    unobserved = [b for b in enables if b not in en_cycles and b not in ("0", "1")]
    for b in enables:
        if b not in en_cycles:
            en_cycles[b] = 0.0 if b == "0" else float(c1 - c0)
    # The clock net's toggles are the flip-flops' (and clock gates') clock energy, charged per
    # clock event below, not as a net.
    clock_nets = netlist.clock_bits(mod)
    seen: set[int] = set()
    by_fo: dict[int, int] = {}
    ff_data = 0
    unmapped = 0
    total = 0
    for ident, (var_names, width) in vars_.items():
        counts = tog.get(ident, [])
        known = [names[n] for n in var_names if n in names]
        if not known:
            unmapped += sum(counts)
            continue
        for i in range(width):
            n_t = counts[i] if i < len(counts) else 0
            # every net behind this id (Verilator gives nets it proved equal one id)
            for bits in known:
                b = bits[i] if i < len(bits) else None
                if not isinstance(b, int) or b in seen or b in clock_nets:
                    continue
                seen.add(b)
                total += n_t
                fo = fanout.get(b, 0)
                by_fo[fo] = by_fo.get(fo, 0) + n_t
                if b in ff_q:
                    ff_data += n_t
    cycles = c1 - c0
    n_gated = sum(enables.values())
    gated_events = sum(n * en_cycles[b] for b, n in enables.items())
    res = {
        "method": f"{simulator.capitalize()} zero-delay simulation of the synthesised generic "
                  "gate netlist (flows.synth), toggles counted from the VCD in steady state",
        "simulator": simulator,
        "stimulus": "random q, k, v (uniform) through the golden model sim.golden over "
                    "W + n tokens (window full, steady state); C2P pulses = its per-tile "
                    "counts and signs",
        "tokens_simulated": n_tokens, "tokens_measured": measured, "warmup_tokens": warmup,
        "cycles_measured": cycles, "cycles_per_token": cycles / measured,
        "n_ff": n_ff, "n_ff_gated": n_gated, "n_icg": len(enables),
        "enables_unobserved": len(unobserved),
        "ff_enable_duty": (gated_events / (n_gated * cycles)) if n_gated else None,
        # per clock gate, largest first: flip-flops behind it, cycles per token it is enabled
        "enable_groups": sorted(([n, en_cycles[b] / measured] for b, n in enables.items()),
                                reverse=True),
        "clock": "flip-flop clock events: ungated flip-flops every cycle, enable flip-flops on "
                 "the cycles their enable is high (time high / clock period, from the VCD); "
                 "clock gates every cycle; the clock net itself is not also charged as a net",
        "q_duty": toks["q_duty"], "a_duty": toks["a_duty"],
        "mean_count": toks["mean_count"], "seed": seed,
        "per_token": {
            "toggles_by_fanout": {str(k): v / measured for k, v in sorted(by_fo.items())},
            "net_toggles": total / measured,
            "ff_clock_events": ((n_ff - n_gated) * cycles + gated_events) / measured,
            "icg_clock_events": len(enables) * cycles / measured,
            "ff_data_toggles": ff_data / measured,
        },
        "outputs_checked": outs, "output_mismatches": mismatches,
        "unmapped_toggles": unmapped,
        "nets_with_activity": sum(1 for b in seen),
        "build_seconds": run["build_seconds"], "build_cached": run["build_cached"],
        "simulation_seconds": run["simulation_seconds"],
        "vcd_parse_seconds": round(parse_s, 1),
        "seconds": round(time.monotonic() - t_start, 1),
        "work": str(work),
        "cached": False,
    }
    (work / "act.vcd").unlink(missing_ok=True)  # large; the counts are kept
    cache.write_atomic(cached, json.dumps(res, indent=1))
    return res
