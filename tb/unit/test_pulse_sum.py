"""PulseSum (``timing.readout = "pulse_sum"``) in the Amaranth simulator.

* against :class:`sim.blockref.PulseSumRef` (its contract) cycle by cycle, on the counter bank's
  random episodes (clean tokens, noisy stretches with clears and gaps in the window, signs that
  change mid-pulse): gated and ungated, odd and even tile counts;
* the claim that makes it a read-out option: on C2P-like tokens (one pulse per channel from the
  window start, sign held, window of count_max cycles) its sums equal the paper's read-out — the
  counter bank's then the adder trees' references — one cycle later, bit for bit, including the
  extremes ±n_tiles·count_max.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.blocks.pulse_sum import PulseSum
from hdl.config import HeadConfig
from hdl.schedule import Schedule
from sim.bits import pack_array, unpack_array
from sim.blockref import AdderTreeRef, CounterBankRef, PulseSumRef
from sim.stimuli import counter_episodes

CONFIGS = {
    "tiny": ["array.head_dim=4", "array.n_tiles=3", "array.tile_cols=4"],
    "n5_c2": ["array.head_dim=8", "array.n_tiles=5", "array.q_bits=2", "array.count_bits=2"],
    "one_tile": ["array.head_dim=2", "array.n_tiles=1"],
    "n16": ["array.head_dim=4", "array.n_tiles=16"],
    "tiny_ungated": ["array.head_dim=4", "array.n_tiles=3", "array.tile_cols=4",
                     "timing.clock_gating=false"],
    "n16_ungated": ["array.head_dim=4", "array.n_tiles=16", "timing.clock_gating=false"],
    # timing.pulse_tree_register: a register halfway up the tree (latency 2)
    "n16_split": ["array.head_dim=4", "array.n_tiles=16", "timing.pulse_tree_register=true"],
    "n5_split_ungated": ["array.head_dim=8", "array.n_tiles=5", "array.q_bits=2",
                         "array.count_bits=2", "timing.pulse_tree_register=true",
                         "timing.clock_gating=false"],
    "one_tile_split": ["array.head_dim=2", "array.n_tiles=1", "timing.pulse_tree_register=true"],
}


#: Copies of enable / clear / valid (hdl/fanout.py) per config: as many as the dims, an uneven
#: split (with and without the mid-tree register).
COPIES = {"tiny": 4, "n5_c2": 3, "n16_split": 3, "n5_split_ungated": 5}


def _cfg(name: str) -> HeadConfig:
    return HeadConfig().with_overrides(CONFIGS[name] + ["timing.readout=pulse_sum"])


def _simulate(cfg: HeadConfig, stim, check, copies: int = 1) -> None:
    """Drive ``stim`` = [(pulse, sign, enable, clear, valid)] (every control copy equal) and call
    ``check(cycle, sums, valid)`` with the block's outputs of every cycle (every valid copy
    must be equal)."""
    a = cfg.array
    dut = PulseSum(cfg, copies=copies)
    ones = (1 << copies) - 1
    assert dut.latency == Schedule(cfg).readout_latency == PulseSumRef(cfg).latency == (
        2 if cfg.timing.pulse_tree_register else 1)

    async def tb(ctx):
        for c, (pulse, sign, enable, clear, valid) in enumerate(stim):
            ctx.set(dut.i_pulse, pack_array(pulse, 1))
            ctx.set(dut.i_sign, pack_array(sign, 1))
            ctx.set(dut.i_enable, ones if enable else 0)
            ctx.set(dut.i_clear, ones if clear else 0)
            ctx.set(dut.i_valid, ones if valid else 0)
            got = unpack_array(ctx.get(dut.o_sums.as_value()), a.sum_width, a.head_dim,
                               signed=True)
            got_valid = ctx.get(dut.o_valid)
            assert got_valid in (0, ones), (c, got_valid)
            check(c, got, bool(got_valid))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_testbench(tb)
    sim.run()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_pulse_sum_matches_reference(name):
    cfg = _cfg(name)
    a = cfg.array
    rng = np.random.default_rng(5 + len(name))
    stim = [(p, s, e, c, bool(rng.random() < 0.3))
            for p, s, e, c, _ in counter_episodes(rng, a.n_channels, a.count_max, 30)]
    ref = PulseSumRef(cfg)
    seen = {"nonzero": 0, "negative": 0, "valid": 0}

    def check(c, got, valid):
        exp = ref.step(*stim[c])
        assert valid == exp.valid, c
        assert np.array_equal(got, exp.sums), (c, got, exp.sums)
        seen["nonzero"] += int(np.count_nonzero(got))
        seen["negative"] += int((got < 0).sum())
        seen["valid"] += int(valid)

    _simulate(cfg, stim, check, COPIES.get(name, 1))
    assert seen["nonzero"] and seen["negative"] and seen["valid"]


def _c2p_tokens(rng, cfg: HeadConfig, tokens: int, extremes: bool = True):
    """Per token: clear, a count_max-cycle window where each channel pulses from the start for
    its count cycles with its sign held, then a gap; the first tokens are the extremes."""
    a = cfg.array
    n, cmax = a.n_channels, a.count_max
    for t in range(tokens):
        count = rng.integers(0, cmax + 1, size=n)
        sign = rng.random(n) < 0.5
        if extremes and t == 0:
            count, sign = np.full(n, cmax), np.zeros(n, bool)
        elif extremes and t == 1:
            count, sign = np.full(n, cmax), np.ones(n, bool)
        yield np.zeros(n, bool), rng.random(n) < 0.5, False, True      # clear
        for k in range(cmax):
            yield count > k, sign, True, False
        for _ in range(int(rng.integers(1, 4))):
            yield rng.random(n) < 0.5, rng.random(n) < 0.5, False, False  # junk off-window


@pytest.mark.parametrize("name", ["tiny", "n5_c2", "n16", "n16_ungated", "n16_split",
                                  "n5_split_ungated"])
def test_pulse_sum_equals_counters_plus_adder_trees(name):
    cfg = _cfg(name)
    lat = PulseSumRef(cfg).latency
    a = cfg.array
    rng = np.random.default_rng(11)
    stim = list(_c2p_tokens(rng, cfg, 12))
    counters = CounterBankRef(cfg)
    trees = AdderTreeRef(HeadConfig().with_overrides(
        [o for o in CONFIGS[name] if not o.startswith("timing.pulse_tree_register")]), 0)
    paper = []                                      # Σ_tiles ±count of each cycle
    for pulse, sign, enable, clear in stim:
        paper.append(trees.step(counters.step(pulse, sign, enable, clear), True).sums)
    compared = []

    def check(c, got, valid):
        # latency cycles later than the counters (+ combinational trees)
        if c >= lat:
            assert np.array_equal(got, paper[c - lat]), (c, got, paper[c - lat])
            compared.append(got.copy())

    _simulate(cfg, [(p, s, e, c, False) for p, s, e, c in stim], check, COPIES.get(name, 1))
    n, cmax = a.n_tiles, a.count_max
    # the extremes (tokens 0 and 1) reached their closed form ±n·count_max
    assert any(np.all(g == n * cmax) for g in compared)
    assert any(np.all(g == -n * cmax) for g in compared)


def test_readout_latency_pinned():
    """Head latency with the pulse-sum read-out, by hand: 1 (accept) + counts_final 48 + 1
    (partial-sum register) + 1 (output) = 51 at defaults; II unchanged (31)."""
    s = Schedule(HeadConfig().with_overrides(["timing.readout=pulse_sum"]))
    assert (s.latency, s.initiation_interval) == (51, 31)
    # + the mid-tree register: one cycle more
    s = Schedule(HeadConfig().with_overrides(["timing.readout=pulse_sum",
                                              "timing.pulse_tree_register=true"]))
    assert (s.latency, s.initiation_interval) == (52, 31)
