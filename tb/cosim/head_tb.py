"""cocotb test of the generated ``attention_head`` Verilog with the analog models in the loop.

Run through :func:`tb.cosim.head.run_head_cosim` (pytest scenarios and the
``python -m tb.cosim.head`` command); the scenario arrives as JSON in ``GCA_SCENARIO`` and the
config through the ``config.json`` sidecar (``GCA_CONFIG``).

One coroutine does all per-cycle work at the falling clock edge, when every RTL output of the
cycle is stable: it drives the token stream (with random gaps), takes outputs (with random
back-pressure), and runs the analog bridge (:class:`tb.cosim.bridge.AnalogBridge`), which sees
only the head's pins.  Afterwards a scoreboard runs :mod:`sim.golden` on the same tokens with
the write and read times the bridge observed and demands bit-exact equality.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from hdl.schedule import Schedule
from sim.bits import pack_token
from tb.cosim.bridge import AnalogBridge
from tb.cosim.bus import read_fields
from tb.cosim.runner import load_sidecar_config
from tb.cosim.scoreboard import compare_with_golden, make_tokens


@cocotb.test()
async def head_scenario(dut):
    """Stream a token sequence through the head; compare every output with the golden model."""
    cfg = load_sidecar_config()
    sc = json.loads(os.environ["GCA_SCENARIO"])
    a = cfg.array
    sched = Schedule(cfg)
    rng = np.random.default_rng(sc["seed"] + 1)      # handshake randomness (tokens use seed)
    q_codes, k_codes, v_codes = make_tokens(cfg, sc)
    n_tok = len(q_codes)
    reset_after = sc.get("reset_after")               # reset once this many outputs arrived
    p_gap, p_stall = float(sc.get("gaps", 0.0)), float(sc.get("backpressure", 0.0))

    payloads = [pack_token(cfg, q=q_codes[t], k=k_codes[t], v=v_codes[t]) for t in range(n_tok)]

    clk_period_ps = int(round(cfg.timing.t_clk_ns * 1000))
    Clock(dut.clk, clk_period_ps, unit="ps", impl="gpi").start()
    bridge = AnalogBridge(dut, cfg)
    bridge.fault_token = sc.get("fault_token")

    tok_valid, tok_payload = dut.i_tok__valid, dut.i_tok__payload
    tok_ready = dut.i_tok__ready
    out_valid, out_ready, out_payload = dut.o_out__valid, dut.o_out__ready, dut.o_out__payload

    cycle = 0

    async def reset(cycles: int = 3):
        nonlocal cycle
        dut.rst.value = 1
        tok_valid.value = 0
        out_ready.value = 0
        for _ in range(cycles):
            await FallingEdge(dut.clk)
            cycle += 1
            bridge.reset()
        dut.rst.value = 0

    tok_valid.value = 0
    out_ready.value = 0
    dut.i_c2p_pulse.value = 0
    dut.i_c2p_sign.value = 0
    await reset()

    segments: list[dict] = [{"first": 0, "outputs": [], "bridge_base": 0}]
    accept_cycle: dict[int, int] = {}
    first_valid: dict[int, int] = {}     # output index → first cycle its valid was seen
    sent = 0                               # next token to offer
    received = 0                           # outputs taken in the current segment
    t0 = time.monotonic()
    max_cycles = sc.get("max_cycles") or (n_tok + 4) * sched.initiation_interval * 20 + 1000
    offering = False
    accepted_last = False
    did_reset = False
    while True:
        await FallingEdge(dut.clk)
        cycle += 1
        bridge.cycle(cycle)
        seg = segments[-1]
        # ---- input stream: a transfer happens at the rising edge that ends a cycle in which
        # valid and ready are both high; valid/payload stay put until the next falling edge.
        if accepted_last:
            offering = False
        if not offering:
            if sent < n_tok and rng.random() >= p_gap:
                tok_payload.value = payloads[sent]
                tok_valid.value = 1
                offering = True
            else:
                tok_valid.value = 0
        accepted_last = offering and bool(int(tok_ready.value))
        if accepted_last:
            accept_cycle[sent] = cycle
            sent += 1
        # ---- output stream: random back-pressure --------------------------------------------
        rdy = rng.random() >= p_stall
        out_ready.value = int(rdy)
        if int(out_valid.value):
            idx = seg["first"] + received
            first_valid.setdefault(idx, cycle)
            if rdy:
                seg["outputs"].append(read_fields(out_payload, a.head_dim, a.sum_width, True))
                received += 1
        # ---- reset in the middle of the sequence ----------------------------------------------
        if reset_after is not None and not did_reset and received >= reset_after:
            did_reset = True
            await reset()
            # tokens accepted but not yet out are lost by the reset; the new segment restarts
            # the window with the next token to send
            segments.append({"first": sent, "outputs": [],
                             "bridge_base": len(bridge.tokens)})
            received = 0
            offering = accepted_last = False
            continue
        if sent == n_tok and seg["first"] + received == n_tok:
            break
        if cycle > max_cycles:
            raise AssertionError(f"timeout after {cycle} cycles: {sent} tokens accepted, "
                                 f"{seg['first'] + received} outputs of {n_tok}")
    wall = time.monotonic() - t0
    await FallingEdge(dut.clk)

    report = compare_with_golden(cfg, q_codes, k_codes, v_codes, segments, bridge)
    acc = np.array([accept_cycle[t] for t in sorted(accept_cycle)])
    lat = [first_valid[t] - accept_cycle[t] for t in first_valid if t in accept_cycle]
    summary = {
        "tokens": n_tok,
        "outputs_compared": report["compared"],
        "mismatches": report["mismatches"],
        "first_mismatch": report["first_mismatch"],
        "latency_cycles": int(min(lat)) if lat else None,
        "latency_cycles_max": int(max(lat)) if lat else None,
        "latency_cycles_expected": sched.latency,
        "initiation_interval_cycles": int(np.diff(acc).min()) if len(acc) > 1 else None,
        "initiation_interval_expected": sched.initiation_interval,
        "simulated_cycles": cycle,
        "wall_s": round(wall, 3),
        "tokens_per_s": round(n_tok / wall, 2) if wall > 0 else None,
        "cycles_per_s": round(cycle / wall, 1) if wall > 0 else None,
        "segments": len(segments),
        "config_hash": cfg.hash,
        "scenario": sc,
    }
    if sc.get("summary"):
        with open(sc["summary"], "w") as f:
            json.dump(summary, f, indent=2)
    dut._log.info("summary: %s", json.dumps({k: v for k, v in summary.items()
                                             if k != "scenario"}))
    if sc.get("expect_mismatch"):
        assert report["mismatches"] > 0, "an injected fault went unnoticed by the scoreboard"
    else:
        assert report["mismatches"] == 0, report["message"]
