"""Cycle-accurate numpy references of the per-channel datapath blocks (PWM, counters, adders).

One class per block of ``hdl/``: :class:`PwmBankRef` (``hdl.blocks.pwm_bank.PwmBank``),
:class:`CounterBankRef` (``hdl.blocks.counter_bank.CounterBank``), :class:`AdderTreeRef`
(``hdl.blocks.adder_tree.AdderTreeBank``) and :class:`PulseSumRef`
(``hdl.blocks.pulse_sum.PulseSum``).  Each is written from the block's contract, per
channel in plain numpy integers, independently of how the RTL is built (no bit planes, no tree).

Usage, once per clock cycle::

    out = ref.step(...inputs of this cycle...)

``step`` returns the outputs the block shows in this cycle (after the inputs of this cycle have
settled through any combinational path) and then advances the state by one clock edge.  Both
test tiers (Amaranth simulator and cocotb) drive the RTL and the model with the same inputs and
compare every cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hdl.config import HeadConfig

__all__ = [
    "PwmBankRef",
    "CounterBankRef",
    "AdderTreeRef",
    "PulseSumRef",
    "PwmOut",
    "AdderOut",
]


@dataclass(frozen=True)
class PwmOut:
    """Outputs of the PWM bank in one cycle."""

    wl: np.ndarray      # (d,) bool
    busy: bool
    last: bool
    ready: bool


class PwmBankRef:
    """PWM bank: a start accepted in cycle t runs a frame in cycles t+1 … t+q_max; line i is
    high in the first code_i cycles of the frame.  Ready when idle or in the last frame cycle.
    """

    latency = 1   # accept cycle → first frame cycle

    def __init__(self, cfg: HeadConfig):
        self.d = cfg.array.head_dim
        self.q_max = cfg.array.q_max
        self.codes = np.zeros(self.d, dtype=np.int64)
        self.frame_cycle: int | None = None     # None = idle, else 0 … q_max − 1

    def step(self, codes: np.ndarray, start: bool) -> PwmOut:
        codes = np.asarray(codes, dtype=np.int64)
        if codes.shape != (self.d,) or codes.min() < 0 or codes.max() > self.q_max:
            raise ValueError(f"codes must be {self.d} integers in 0..{self.q_max}")
        running = self.frame_cycle is not None
        last = running and self.frame_cycle == self.q_max - 1
        ready = (not running) or last
        if running:
            wl = self.frame_cycle < self.codes
        else:
            wl = np.zeros(self.d, dtype=bool)
        out = PwmOut(wl=wl, busy=running, last=last, ready=ready)
        # clock edge
        if start and ready:
            self.codes = codes.copy()
            self.frame_cycle = 0
        elif running and not last:
            self.frame_cycle += 1
        else:
            self.frame_cycle = None
        return out


class CounterBankRef:
    """Signed saturating pulse counters, N = n_tiles·d channels (flat index tile·d + dim).

    Per channel and cycle, with p = pulse and enable: clear has priority and zeroes count and
    sign and re-arms the sign latch; otherwise a p cycle adds one to the count up to count_max,
    and the first p cycle since the last clear (the pulse start) latches the sign input, which
    then holds until the next clear.  The output
    (−count if sign else count) reflects the state before this cycle's edge, so a pulse cycle is
    seen one cycle later.
    """

    latency = 1

    def __init__(self, cfg: HeadConfig):
        self.n = cfg.array.n_channels
        self.count_max = cfg.array.count_max
        self.count = np.zeros(self.n, dtype=np.int64)
        self.sign = np.zeros(self.n, dtype=bool)
        self.latched = np.zeros(self.n, dtype=bool)   # sign taken since the last clear

    def output(self) -> np.ndarray:
        return np.where(self.sign, -self.count, self.count)

    def step(self, pulse: np.ndarray, sign: np.ndarray, enable: bool, clear: bool) -> np.ndarray:
        pulse = np.asarray(pulse, dtype=bool)
        sign = np.asarray(sign, dtype=bool)
        out = self.output()
        if clear:
            self.count[:] = 0
            self.sign[:] = False
            self.latched[:] = False
            return out
        high = pulse if enable else np.zeros(self.n, dtype=bool)
        first = high & ~self.latched
        self.sign = np.where(first, sign, self.sign)
        self.count = np.minimum(self.count + high, self.count_max)
        self.latched |= high
        return out


@dataclass(frozen=True)
class AdderOut:
    """Outputs of the adder-tree bank in one cycle."""

    sums: np.ndarray    # (d,) int64
    valid: bool


class AdderTreeRef:
    """Per-dimension sum over tiles, delayed by ``latency`` cycles (a shift register).

    With ``cfg.timing.clock_gating`` each stage loads only when the valid entering it is high
    (it holds otherwise), and with no stage at all the sums are zero while valid is low."""

    def __init__(self, cfg: HeadConfig, latency: int):
        self.d = cfg.array.head_dim
        self.n_tiles = cfg.array.n_tiles
        self.latency = latency
        self.gated = cfg.timing.clock_gating
        # Registers power up to zero, as the RTL's do.
        self.pipe = [(np.zeros(self.d, dtype=np.int64), False) for _ in range(latency)]

    def step(self, counts: np.ndarray, valid: bool) -> AdderOut:
        counts = np.asarray(counts, dtype=np.int64).reshape(self.n_tiles, self.d)
        now = (counts.sum(axis=0), bool(valid))
        if self.latency == 0:
            if self.gated and not valid:
                return AdderOut(np.zeros(self.d, dtype=np.int64), False)
            return AdderOut(*now)
        out = self.pipe[0]
        if not self.gated:
            self.pipe = self.pipe[1:] + [now]
        else:
            nxt = self.pipe[1:] + [now]
            self.pipe = [(n[0] if n[1] else old[0], n[1]) for old, n in zip(self.pipe, nxt)]
        return AdderOut(*out)


class PulseSumRef:
    """Pulse-sum read-out, from its contract: in cycle c, sum e = Σ over the cycles k with
    k0 < k ≤ c − 1 − latency (k0 = the last clear cycle ≤ c − 1 − latency) of
    Σ_tile v(k, tile, e), v = +1 for an enabled pulse cycle with sign 0, −1 with sign 1, 0
    otherwise; valid = the valid input ``latency`` cycles earlier; sums modulo 2**sum_width
    (two's complement).  latency = 1, or 2 with ``timing.pulse_tree_register``.  Kept as the
    history of per-cycle contributions, no registers modelled."""

    def __init__(self, cfg: HeadConfig):
        self.latency = 1 + int(cfg.timing.pulse_tree_register)
        self.d = cfg.array.head_dim
        self.n_tiles = cfg.array.n_tiles
        self.sum_width = cfg.array.sum_width
        self.cum: list[np.ndarray] = []         # per cycle, (d,) Σ of contributions so far
        self.clears: list[int] = []             # cycles with clear
        self.valids: list[bool] = []

    def step(self, pulse: np.ndarray, sign: np.ndarray, enable: bool, clear: bool,
             valid: bool) -> AdderOut:
        c = len(self.cum)
        horizon = c - 1 - self.latency
        k0 = max((k for k in self.clears if k <= horizon), default=-1)
        zero = np.zeros(self.d, dtype=np.int64)
        # Σ_{k0 < k ≤ horizon} contribution(k), from the running totals
        sums = (self.cum[horizon] if horizon >= 0 else zero) - (self.cum[k0] if k0 >= 0 else zero)
        # Two's complement of sum_width bits: a window of ≤ count_max enabled cycles always
        # fits; longer stretches without a clear wrap around, as the accumulator does.
        half = 1 << (self.sum_width - 1)
        sums = (sums + half) % (2 * half) - half
        out = AdderOut(sums, bool(self.valids[-self.latency])
                       if len(self.valids) >= self.latency else False)
        p = np.asarray(pulse, dtype=bool) & bool(enable)
        v = np.where(p, np.where(np.asarray(sign, dtype=bool), -1, 1), 0)
        now = v.reshape(self.n_tiles, self.d).sum(axis=0)
        self.cum.append(now + (self.cum[-1] if self.cum else 0))
        if clear:
            self.clears.append(c)
        self.valids.append(bool(valid))
        return out
