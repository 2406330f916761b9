"""cocotb test of the generated ``attention_head`` Verilog with the analog models in the loop.

Run through :func:`tb.cosim.head.run_head_cosim` (pytest scenarios and the
``python -m tb.cosim.head`` command); the scenario arrives as JSON in ``GCA_SCENARIO``, the
token codes in the ``.npz`` it names (made and checked by the parent process), and the config
through the ``config.json`` sidecar (``GCA_CONFIG``).

The per-cycle work of the streams runs in Verilog, in the co-simulation shell
(:mod:`tb.cosim.shell`): the testbench loads the token feeder ``FEED`` tokens at a time, each
with its random gap of idle cycles; the output's ready follows a stall pattern it loads
``PATTERN`` cycles at a time (per-cycle random stalls and/or bursts of 100–300 stalled cycles,
:class:`Stalls`), or stays high; the shell logs the cycle each token was accepted and each
output with the cycles it was first valid and taken, and counts valid, idle and held-off input
cycles.  The testbench sleeps until the shell's alarm says there is work (a batch to load, a
pattern half to refill, ``FEED`` log entries to read, the output count at which to reset or
finish) and does its bookkeeping from the logs.  The analog bridge
(:class:`tb.cosim.bridge.AnalogBridge`) runs beside it, once per token; it sees only the pins
(through the shell).  Afterwards a scoreboard runs :mod:`sim.golden` on the tokens of each reset
segment with the write and read times the bridge observed and demands bit-exact equality.

Bookkeeping, per reset segment: tokens accepted, outputs taken, tokens dropped by the reset (by
design: accepted, output not yet taken), latency and initiation interval measured inside the
segment only; the most tokens outstanding (accepted, not yet taken) against the output FIFO's
depth (the head's admission credit: a token accepted beyond it is an error); cycles the input
was held off while the output stalled.  After the last expected output the run goes on for a
latency and a few intervals with the output ready: an extra output is an error.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly, ReadWrite, RisingEdge
from cocotb.utils import get_sim_time

from hdl.cli import PROJECT_PACKAGES
from hdl.schedule import Schedule
from sim.bits import bits_fields, bits_to_int, to_signed, token_bits
from tb.cosim.bridge import AnalogBridge
from tb.cosim.bus import read_fields
from tb.cosim.runner import load_sidecar_config
from tb.cosim.scoreboard import compare_with_golden
from tb.cosim.shell import CYC_BITS, FEED, PATTERN, capture_fields
from tb.cosim.vpi import VectorPort

PROGRESS_EVERY_S = 10.0


class Stalls:
    """Output back-pressure: per-cycle random stalls with probability ``p``, and bursts —
    each ready cycle starts, with probability ``p_burst``, a stall of 100–300 cycles."""

    def __init__(self, rng: np.random.Generator, p: float, p_burst: float,
                 burst: tuple[int, int] = (100, 300)) -> None:
        self.rng, self.p, self.p_burst, self.burst = rng, p, p_burst, burst
        self.left = 0

    @property
    def always_ready(self) -> bool:
        return not (self.p or self.p_burst)

    def pattern(self, n: int) -> np.ndarray:
        """Ready (True) or stalled for the next ``n`` cycles (a burst may run on into the next
        pattern)."""
        ready = np.ones(n, dtype=bool)
        if self.p:
            ready &= self.rng.random(n) >= self.p
        head = min(self.left, n)
        ready[:head] = False
        self.left -= head
        if self.p_burst:
            starts = np.flatnonzero(self.rng.random(n) < self.p_burst)
            busy_until = head
            for c in starts:              # a burst starts only in a cycle not already stalled
                if c < busy_until:
                    continue
                length = int(self.rng.integers(self.burst[0], self.burst[1] + 1))
                ready[c:c + length] = False
                busy_until = c + length
                self.left = max(0, c + length - n)
        return ready


def _new_segment(first: int, bridge_base: int) -> dict:
    return {"first": first, "outputs": [], "bridge_base": bridge_base, "accepts": [],
            "first_valid": [], "takes": [], "taken_before": 0, "dropped_by_reset": 0}


def _segment_figures(seg: dict) -> dict:
    acc = np.array(seg["accepts"])
    lat = [v - a for a, v in zip(seg["accepts"], seg["first_valid"])]
    return {"first_token": seg["first"], "accepted": len(acc), "outputs": len(seg["outputs"]),
            "dropped_by_reset": seg["dropped_by_reset"],
            "latency_min": int(min(lat)) if lat else None,
            "latency_max": int(max(lat)) if lat else None,
            "ii_min": int(np.diff(acc).min()) if len(acc) > 1 else None}


@cocotb.test()
async def head_scenario(dut):
    """Stream a token sequence through the head; compare every output with the golden model."""
    cfg = load_sidecar_config()
    sc = json.loads(os.environ["GCA_SCENARIO"])
    a = cfg.array
    sched = Schedule(cfg)
    fifo_depth = sched.out_fifo_depth     # the head's, without building it (no Amaranth here)
    with np.load(sc["tokens_file"]) as f:
        q_codes, k_codes, v_codes = f["q"], f["k"], f["v"]
    n_tok = len(q_codes)
    rng = np.random.default_rng(sc["seed"] + 1)      # handshake randomness (tokens use seed)
    resets = sorted(sc.get("reset_after") or [])     # reset once this many outputs arrived
    p_gap = float(sc.get("gaps", 0.0))
    stalls = Stalls(rng, float(sc.get("backpressure", 0.0)), float(sc.get("stall_bursts", 0.0)))
    # every token's payload bits and its gap (idle cycles before it is offered)
    tok_bits = token_bits(cfg, q=q_codes, k=k_codes, v=v_codes)
    gaps = (rng.geometric(1.0 - p_gap, n_tok) - 1 if p_gap else np.zeros(n_tok, np.int64))
    gaps = np.minimum(gaps, 0xFFFF)
    out_w = len(dut.o_out__payload)
    cap_w = sum(w for _, w in capture_fields(out_w))

    # every input of the shell defined before the first clock edge
    for name in ("i_tb_sleep", "i_tb_seq", "i_tb_feed_seq", "i_tb_pat_seq", "i_tb_tail",
                 "i_tb_acc_seen", "i_tb_cap_seen", "i_tb_more", "i_tb_feed_n", "i_tb_pat"):
        getattr(dut, name).value = 0
    # the wide logs and feeder inputs as VPI vectors (tb.cosim.vpi: a read of the output log as
    # a string of ~20,000 binary digits, default head, took more CPU time than the rest of a
    # wake-up)
    acc_log, cap_log = VectorPort(dut.o_tb_acc), VectorPort(dut.o_tb_cap)
    feed_port, gaps_port = VectorPort(dut.i_tb_feed), VectorPort(dut.i_tb_feed_gaps)
    feed_bits = np.zeros((FEED, feed_port.width // FEED), bool)
    gap_bits = np.zeros((FEED, 16), bool)
    feed_port.write_bits(feed_bits)
    gaps_port.write_bits(gap_bits)
    dut.i_tb_rdy_always.value = int(stalls.always_ready)
    dut.i_tb_take_goal.value = 2**32 - 1
    dut.rst.value = 1
    clk_period_ps = int(round(cfg.timing.t_clk_ns * 1000))
    dut.i_clk_run.value = 1       # the shell's clock starts (rising) now
    t_origin = get_sim_time("ps") + clk_period_ps / 2   # falling edge n at t_origin + (n−1)·P
    bridge = AnalogBridge(dut, cfg)
    bridge.fault_token = sc.get("fault_token")
    bridge.start()

    fed = 0                      # tokens loaded into the shell's feeder
    loaded = False               # a batch or pattern half loaded since the last wake
    feed_seq = pat_seq = tb_seq = 0
    acc_seen = cap_seen = 0      # log entries read
    sent = taken = 0             # tokens accepted, outputs taken (all segments)
    segments = [_new_segment(0, 0)]
    outstanding = max_outstanding = 0

    def load_feed() -> None:
        nonlocal fed, feed_seq, loaded
        n = min(FEED, n_tok - fed)
        if n <= 0:
            return
        loaded = True
        # at once (the shell takes the batch at the next rising edge, after the toggle below)
        feed_bits[:n], feed_bits[n:] = tok_bits[fed:fed + n], False
        gap_bits[:n], gap_bits[n:] = (gaps[fed:fed + n, None] >> np.arange(16)) & 1, False
        feed_port.write_bits(feed_bits)
        gaps_port.write_bits(gap_bits)
        dut.i_tb_feed_n.value = n
        fed += n
        dut.i_tb_more.value = int(fed < n_tok)
        feed_seq ^= 1
        dut.i_tb_feed_seq.value = feed_seq

    def load_pattern() -> None:
        nonlocal pat_seq, loaded
        loaded = True
        dut.i_tb_pat.value = bits_to_int(stalls.pattern(PATTERN))
        pat_seq ^= 1
        dut.i_tb_pat_seq.value = pat_seq

    def alarm(cycles: int) -> None:
        nonlocal tb_seq
        dut.i_tb_sleep.value = max(2, min(cycles, 2**32 - 1))
        tb_seq ^= 1
        dut.i_tb_seq.value = tb_seq

    def cycle_now() -> int:
        return int(round((get_sim_time("ps") - t_origin) / clk_period_ps)) + 1

    def drain(cycle: int) -> None:
        """Read the accept and output logs up to now into the current segment."""
        nonlocal acc_seen, cap_seen, sent, taken, outstanding, max_outstanding
        seg = segments[-1]
        n_acc = int(dut.o_tb_nacc.value)
        n_take = int(dut.o_tb_ntake.value)
        if n_acc - acc_seen > 2 * FEED or n_take - cap_seen > 2 * FEED:
            raise AssertionError(f"cycle {cycle}: the shell's logs overflowed (testbench late)")
        new_acc = []
        if n_acc > acc_seen:
            log = bits_fields(acc_log.read_bits(), 2 * FEED, CYC_BITS)
            new_acc = [int(log[i % (2 * FEED)]) for i in range(acc_seen, n_acc)]
        if n_take > cap_seen:
            bits = cap_log.read_bits()[: 2 * FEED * cap_w].reshape(2 * FEED, cap_w)
            e = bits[np.arange(cap_seen, n_take) % (2 * FEED)].astype(np.int64)
            k, sw = n_take - cap_seen, a.sum_width
            vals = to_signed(e[:, :out_w].reshape(k, a.head_dim, sw) @ (1 << np.arange(sw)), sw)
            cyc_w = 1 << np.arange(CYC_BITS, dtype=np.int64)
            seg["outputs"].extend(vals)
            seg["takes"].extend((e[:, out_w:out_w + CYC_BITS] @ cyc_w).tolist())
            seg["first_valid"].extend((e[:, out_w + CYC_BITS:] @ cyc_w).tolist())
        # admission credit: outstanding (accepted, not taken) when each token was accepted —
        # an output taken in the same cycle counts after the accept
        takes = seg["takes"]
        for c in new_acc:
            while seg["taken_before"] < len(takes) and takes[seg["taken_before"]] < c:
                seg["taken_before"] += 1
            before = len(seg["accepts"]) - seg["taken_before"]
            if before + 1 > fifo_depth:
                raise AssertionError(f"cycle {c}: token {sent} accepted with {before} "
                                     f"outstanding: the output FIFO ({fifo_depth}) has no room "
                                     f"for it")
            max_outstanding = max(max_outstanding, before + 1)
            seg["accepts"].append(c)
            sent += 1
        taken += n_take - cap_seen
        acc_seen, cap_seen = n_acc, n_take
        outstanding = len(seg["accepts"]) - len(seg["outputs"])
        dut.i_tb_acc_seen.value = acc_seen
        dut.i_tb_cap_seen.value = cap_seen

    def set_goal() -> None:
        # wake when the next reset is due or the last output is in
        finish = taken + outstanding + (n_tok - sent)
        dut.i_tb_take_goal.value = min([finish] + resets[:1])

    async def reset(cycles: int = 3, load: bool = False):
        dut.rst.value = 1
        for i in range(cycles):
            if load and 2 <= i <= 3:     # fill the feeder and the pattern while in reset
                # (not in the first two cycles: the shell's first edge saw no inputs)
                load_feed()
                if not stalls.always_ready:
                    load_pattern()
            await FallingEdge(dut.clk)
            await ReadWrite()            # the shell has latched the bridge record at the edge
            bridge.reset()
        dut.rst.value = 0

    await reset(5, load=True)
    set_goal()

    t0, cpu0 = time.monotonic(), time.process_time()
    t_report = t0
    max_cycles = sc.get("max_cycles") or (n_tok + 4) * sched.initiation_interval * 40 + 5000
    alarm(max_cycles - cycle_now() + 2)
    wakeups = 0
    tail, tail_end = False, 0
    cycle = cycle_now()
    while True:
        # the alarm once this wake's writes have landed (read before them, it is still high:
        # a second, empty wake one cycle later — half of all wakes at full rate): the seen
        # counts and the goal late in this time step, a loaded batch or pattern half only at
        # the next rising edge (the shell takes it there)
        if loaded:
            loaded = False
            await RisingEdge(dut.clk)
        await ReadOnly()
        if str(dut.o_tb_wake.value) != "1":
            await RisingEdge(dut.o_tb_wake)
        await FallingEdge(dut.clk)
        wakeups += 1
        cycle = cycle_now()
        if tail:
            if int(dut.o_tb_cyc.value) >= tail_end:
                break
            continue
        drain(cycle)
        if cycle > max_cycles:
            raise AssertionError(f"timeout after {cycle} cycles: {sent} tokens accepted, "
                                 f"{taken} outputs taken of {n_tok}")
        # ---- resets in the middle of the sequence ------------------------------------------
        if resets and taken >= resets[0]:
            resets.pop(0)
            seg = segments[-1]
            await reset()
            # tokens accepted but not yet taken are lost by the reset (by design); the new
            # segment restarts the window with the next token to send
            drain(cycle_now())
            seg["dropped_by_reset"] = len(seg["accepts"]) - len(seg["outputs"])
            segments.append(_new_segment(sent, len(bridge.tokens)))
            outstanding = 0
            set_goal()
            continue
        if sent == n_tok and outstanding == 0:
            # the tail: a latency and a few intervals with the output ready, watching for extras
            tail = True
            dut.i_tb_tail.value = 1
            dut.i_tb_rdy_always.value = 1
            dut.i_tb_take_goal.value = 2**32 - 1
            tail_cycles = sched.latency + 4 * sched.initiation_interval
            tail_end = int(dut.o_tb_cyc.value) + tail_cycles
            alarm(tail_cycles)
            continue
        if fed < n_tok and int(dut.o_tb_fcount.value) <= FEED:
            load_feed()
        if not stalls.always_ready and int(dut.o_tb_pat_state.value) & 3 != 3:
            load_pattern()
        set_goal()
        if time.monotonic() - t_report > PROGRESS_EVERY_S:
            t_report = time.monotonic()
            dut._log.info("GCA-PROGRESS %d of %d tokens accepted, %d outputs, cycle %d",
                          sent, n_tok, taken, cycle)
    wall = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    stats = read_fields(dut.o_tb_stats, 4, CYC_BITS)
    valid_cycles, idle_cycles, held_off, extra_outputs = (int(x) for x in stats)
    if int(dut.o_tb_pat_state.value) & 4:
        raise AssertionError("the output stall pattern ran out (testbench late)")

    report = compare_with_golden(cfg, q_codes, k_codes, v_codes, segments, bridge)
    figs = [_segment_figures(s) for s in segments]
    dropped = sum(f["dropped_by_reset"] for f in figs)
    unaccounted = sent - report["compared"] - dropped
    lat_min = [f["latency_min"] for f in figs if f["latency_min"] is not None]
    lat_max = [f["latency_max"] for f in figs if f["latency_max"] is not None]
    iis = [f["ii_min"] for f in figs if f["ii_min"] is not None]
    summary = {
        "tokens": n_tok,
        "tokens_sent": sent,
        "outputs_received": taken,
        "outputs_compared": report["compared"],
        "tokens_dropped_by_reset": dropped,
        "tokens_unaccounted": unaccounted,
        "extra_outputs": extra_outputs,
        "mismatches": report["mismatches"],
        "first_mismatch": report["first_mismatch"],
        "latency_cycles": min(lat_min) if lat_min else None,
        "latency_cycles_max": max(lat_max) if lat_max else None,
        "latency_cycles_expected": sched.latency,
        "initiation_interval_cycles": min(iis) if iis else None,
        "initiation_interval_expected": sched.initiation_interval,
        "max_outstanding_tokens": max_outstanding,
        "out_fifo_depth": fifo_depth,
        "input_held_off_cycles": held_off,
        "input_valid_cycles": valid_cycles,
        "input_idle_cycles": idle_cycles,
        "simulated_cycles": cycle,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "tokens_per_s": round(n_tok / wall, 2) if wall > 0 else None,
        "tokens_per_cpu_s": round(n_tok / cpu, 2) if cpu > 0 else None,
        "cycles_per_s": round(cycle / wall, 1) if wall > 0 else None,
        "peak_rss_MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "testbench_wakeups": wakeups,
        "bridge_wakeups": bridge.wakeups,
        "bridge_cpu_s": round(bridge.cpu_s, 3),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        # the project's modules pytest rewrote the asserts of (its imports at their top)
        "assert_rewritten_modules": sorted(
            name for name, m in list(sys.modules.items())
            if name.split(".")[0] in PROJECT_PACKAGES and "@py_builtins" in vars(m)),
        "segments": len(segments),
        "segment_figures": figs,
        "config_hash": cfg.hash,
        "scenario": sc,
    }
    if sc.get("summary"):
        with open(sc["summary"], "w") as f:
            json.dump(summary, f, indent=2)
    dut._log.info("summary: %s", json.dumps({k: v for k, v in summary.items()
                                             if k not in ("scenario", "segment_figures")}))
    assert extra_outputs == 0, f"{extra_outputs} output(s) after the last expected one"
    assert unaccounted == 0, (f"{unaccounted} token(s) unaccounted for: {sent} sent, "
                              f"{report['compared']} compared, {dropped} dropped by resets")
    if sc.get("expect_mismatch"):
        assert report["mismatches"] > 0, "an injected fault went unnoticed by the scoreboard"
    else:
        assert report["mismatches"] == 0, report["message"]
