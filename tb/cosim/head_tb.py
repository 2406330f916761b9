"""cocotb test of the generated ``attention_head`` Verilog with the analog models in the loop.

Run through :func:`tb.cosim.head.run_head_cosim` (pytest scenarios and the
``python -m tb.cosim.head`` command); the scenario arrives as JSON in ``GCA_SCENARIO``, the
token codes in the ``.npz`` it names (made and checked by the parent process), and the config
through the ``config.json`` sidecar (``GCA_CONFIG``).

The testbench's loop steps at falling clock edges, when every RTL output of the cycle is
stable: it drives the token stream (with random gaps), takes outputs (with random per-cycle
back-pressure and/or bursts of 100–300 stalled cycles).  It sleeps through quiet stretches —
no output valid (or a stall burst), the input waiting for ready or in a gap — and wakes when
the input's ready or the output's valid rises or when it will next drive something; the
skipped cycles' bookkeeping is replayed in Python (:class:`_Loop`), so the figures are those of
a per-cycle loop.  The analog bridge (:class:`tb.cosim.bridge.AnalogBridge`) runs beside it,
woken by the head's control pins; it sees only the pins (through the co-simulation shell,
:mod:`tb.cosim.shell`).  Afterwards a scoreboard runs :mod:`sim.golden` on the tokens of each
reset segment with the write and read times the bridge observed and demands bit-exact
equality.

Bookkeeping, per reset segment: tokens accepted, outputs taken, tokens dropped by the reset (by
design: accepted, output not yet taken), latency and initiation interval measured inside the
segment only; the most tokens outstanding (accepted, not yet taken) against the output FIFO's
depth (the head's admission credit); cycles the input was held off while the output stalled.
After the last expected output the run goes on for a latency and a few intervals with the output
ready: an extra output is an error.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge
from cocotb.utils import get_sim_time

from hdl.head import AttentionHead
from hdl.schedule import Schedule
from sim.bits import pack_token
from tb.cosim.bridge import AnalogBridge
from tb.cosim.bus import read_fields
from tb.cosim.runner import load_sidecar_config
from tb.cosim.scoreboard import compare_with_golden

PROGRESS_EVERY_S = 10.0


class Stalls:
    """Output back-pressure: per-cycle random stalls with probability ``p``, and bursts —
    each ready cycle starts, with probability ``p_burst``, a stall of 100–300 cycles."""

    def __init__(self, rng: np.random.Generator, p: float, p_burst: float,
                 burst: tuple[int, int] = (100, 300)) -> None:
        self.rng, self.p, self.p_burst, self.burst = rng, p, p_burst, burst
        self.left = 0

    def ready(self) -> bool:
        if self.left:
            self.left -= 1
            return False
        if self.p_burst and self.rng.random() < self.p_burst:
            self.left = int(self.rng.integers(self.burst[0], self.burst[1] + 1)) - 1
            return False
        return not (self.p and self.rng.random() < self.p)


class _Loop:
    """The testbench's per-cycle bookkeeping of the token and output streams.

    :meth:`step` is one cycle at its falling edge: with ``pins`` it drives and reads the head;
    without, it replays a quiet cycle (no pin the loop reads changed, nothing to drive) in
    Python only — so the simulator need not wake the testbench in such cycles.  Input gaps are
    drawn when a token is accepted (each cycle idle with probability ``p_gap``: a geometric
    count), so the loop knows in advance when it will next drive the input.
    """

    def __init__(self, n_tok: int, p_gap: float, rng: np.random.Generator) -> None:
        self.n_tok, self.p_gap, self.rng = n_tok, p_gap, rng
        self.sent = 0                  # next token to offer = tokens accepted so far
        self.taken = 0                 # outputs taken, all segments
        self.outstanding = self.max_outstanding = 0
        self.held_off = 0              # cycles a token was offered and refused, output stalled
        self.valid_cycles = self.idle_cycles = 0   # input valid / not, while tokens remained
        self.offering = self.accepted_last = False
        self.tail_left: int | None = None   # cycles still watched after the last output
        self.extra_outputs = 0
        self.stalled_since: int | None = None
        self.next_offer = 0
        self.last_valid = 0
        self.last_rdy = False

    def plan_gap(self, first: int) -> None:
        """The next token is offered in cycle ``first`` + (idle cycles drawn now)."""
        g = 0
        while self.p_gap and self.rng.random() < self.p_gap:
            g += 1
        self.next_offer = first + g

    def step(self, cycle: int, seg: dict, stalls: Stalls, *, tok_ready: int, out_valid: int,
             fifo_depth: int, pins) -> None:
        # ---- input stream: a transfer happens at the rising edge that ends a cycle in which
        # valid and ready are both high; valid/payload stay put until the next falling edge.
        if self.accepted_last:
            self.offering = False
            self.plan_gap(cycle)
        if not self.offering and self.sent < self.n_tok and cycle >= self.next_offer:
            tok_valid, tok_payload, payloads = pins[:3]
            tok_payload.value = payloads[self.sent]
            tok_valid.value = 1
            self.offering = True
        elif not self.offering and pins is not None:
            pins[0].value = 0
        if self.sent < self.n_tok:
            self.valid_cycles += self.offering
            self.idle_cycles += not self.offering
        self.accepted_last = self.offering and bool(tok_ready)
        if self.accepted_last:
            seg["accepts"].append(cycle)
            self.sent += 1
            self.outstanding += 1
            self.max_outstanding = max(self.max_outstanding, self.outstanding)
            if self.outstanding > fifo_depth:
                raise AssertionError(f"cycle {cycle}: token {self.sent - 1} accepted with "
                                     f"{self.outstanding - 1} outstanding: the output FIFO "
                                     f"({fifo_depth}) has no room for it")
        elif self.offering and self.stalled_since is not None:
            self.held_off += 1
        # ---- output stream: back-pressure ------------------------------------------------
        rdy = stalls.ready() if self.tail_left is None else True
        self.stalled_since = None if rdy else (self.stalled_since or cycle)
        self.last_rdy, self.last_valid = rdy, out_valid
        if pins is not None:
            pins[3].value = int(rdy)
        if out_valid:
            if self.tail_left is not None:
                self.extra_outputs += rdy
            else:
                k = len(seg["outputs"])
                if len(seg["first_valid"]) == k:
                    seg["first_valid"].append(cycle)
                if rdy:
                    if pins is None:
                        raise AssertionError(f"cycle {cycle}: an output was taken in a cycle "
                                             f"the testbench slept through")
                    a = pins[5]
                    seg["outputs"].append(read_fields(pins[4], a.head_dim, a.sum_width, True))
                    self.taken += 1
                    self.outstanding -= 1

    def quiet_cycles(self, cycle: int, stalls: Stalls, max_cycles: int) -> int:
        """How many cycles after ``cycle`` (the one just stepped) the loop may sleep through
        unless a pin it watches rises: it drives nothing new and no transfer can happen."""
        if self.accepted_last:
            return 0                               # the next cycle offers the next token
        if self.last_valid and (self.last_rdy or self.tail_left is not None):
            return 0                               # an output may transfer
        n = min(10_000, max_cycles - cycle + 1)
        if self.last_valid:
            n = min(n, stalls.left + 1)            # a stall burst: not ready for its length
        if not self.offering and self.sent < self.n_tok:
            n = min(n, self.next_offer - cycle)    # the next token's gap ends
        if self.tail_left is not None:
            n = min(n, self.tail_left)
        return max(0, n)


def _new_segment(first: int, bridge_base: int) -> dict:
    return {"first": first, "outputs": [], "bridge_base": bridge_base, "accepts": [],
            "first_valid": [], "dropped_by_reset": 0}


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
    top = AttentionHead(cfg)
    top._MustUse__silence = True          # built for its figures, never elaborated
    fifo_depth = top.out_fifo_depth
    with np.load(sc["tokens_file"]) as f:
        q_codes, k_codes, v_codes = f["q"], f["k"], f["v"]
    n_tok = len(q_codes)
    rng = np.random.default_rng(sc["seed"] + 1)      # handshake randomness (tokens use seed)
    resets = sorted(sc.get("reset_after") or [])     # reset once this many outputs arrived
    p_gap = float(sc.get("gaps", 0.0))
    stalls = Stalls(rng, float(sc.get("backpressure", 0.0)), float(sc.get("stall_bursts", 0.0)))

    payloads = [pack_token(cfg, q=q_codes[t], k=k_codes[t], v=v_codes[t]) for t in range(n_tok)]

    clk_period_ps = int(round(cfg.timing.t_clk_ns * 1000))
    Clock(dut.clk, clk_period_ps, unit="ps", impl="gpi").start()
    bridge = AnalogBridge(dut, cfg)
    bridge.fault_token = sc.get("fault_token")
    bridge.start()

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
    await reset()

    segments = [_new_segment(0, 0)]
    st = _Loop(n_tok, p_gap, rng)
    t0 = t_report = time.monotonic()
    max_cycles = sc.get("max_cycles") or (n_tok + 4) * sched.initiation_interval * 40 + 5000
    period_ps = clk_period_ps
    t_origin = get_sim_time("ps") - (cycle - 0.5) * period_ps   # falling edge n at (n − ½)·P
    st.plan_gap(cycle + 1)
    real_steps = 0
    tb_seq = 0
    for name in ("i_tb_sleep", "i_tb_seq", "i_tb_watch_valid", "i_tb_watch_ready"):
        getattr(dut, name).value = 0
    while True:
        await FallingEdge(dut.clk)
        now = int(round((get_sim_time("ps") - t_origin) / period_ps + 0.5))
        # cycles since the last step were quiet: the pins the loop reads did not change
        while cycle + 1 < now:
            cycle += 1
            st.step(cycle, segments[-1], stalls, tok_ready=0, out_valid=st.last_valid,
                    fifo_depth=fifo_depth, pins=None)
            if st.tail_left is not None:
                st.tail_left -= 1
        cycle = now
        real_steps += 1
        seg = segments[-1]
        pins = (tok_valid, tok_payload, payloads, out_ready, out_payload, a)
        st.step(cycle, seg, stalls, tok_ready=int(str(tok_ready.value) == "1"),
                out_valid=int(str(out_valid.value) == "1"), fifo_depth=fifo_depth, pins=pins)
        # ---- resets in the middle of the sequence ------------------------------------------
        if resets and st.taken >= resets[0]:
            resets.pop(0)
            await reset()
            # tokens accepted but not yet taken are lost by the reset (by design); the new
            # segment restarts the window with the next token to send
            seg["dropped_by_reset"] = st.outstanding
            st.outstanding = 0
            segments.append(_new_segment(st.sent, len(bridge.tokens)))
            st.offering = st.accepted_last = False
            st.plan_gap(cycle + 1)
            continue
        done = st.sent == n_tok and st.outstanding == 0
        if done and st.tail_left is None:
            st.tail_left = sched.latency + 4 * sched.initiation_interval
        if st.tail_left is not None:
            st.tail_left -= 1
            if st.tail_left <= 0:
                break
        if cycle > max_cycles:
            raise AssertionError(f"timeout after {cycle} cycles: {st.sent} tokens accepted, "
                                 f"{st.taken} outputs taken of {n_tok}")
        if time.monotonic() - t_report > PROGRESS_EVERY_S:
            t_report = time.monotonic()
            dut._log.info("GCA-PROGRESS %d of %d tokens accepted, %d outputs, cycle %d",
                          st.sent, n_tok, st.taken, cycle)
        # ---- nothing can happen for a while: sleep until a pin changes ---------------------
        quiet = st.quiet_cycles(cycle, stalls, max_cycles)
        if quiet >= 2:      # the shell's alarm: valid or ready rises, or `quiet` cycles pass
            dut.i_tb_watch_valid.value = int(not st.last_valid)
            dut.i_tb_watch_ready.value = int(st.offering)
            dut.i_tb_sleep.value = quiet
            tb_seq ^= 1
            dut.i_tb_seq.value = tb_seq
            await RisingEdge(dut.o_tb_wake)
    sent, taken, cycle = st.sent, st.taken, cycle
    max_outstanding, held_off = st.max_outstanding, st.held_off
    valid_cycles, idle_cycles, extra_outputs = st.valid_cycles, st.idle_cycles, st.extra_outputs
    wall = time.monotonic() - t0

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
        "tokens_per_s": round(n_tok / wall, 2) if wall > 0 else None,
        "cycles_per_s": round(cycle / wall, 1) if wall > 0 else None,
        "testbench_wakeups": real_steps,
        "bridge_wakeups": bridge.wakeups,
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
