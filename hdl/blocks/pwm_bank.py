"""Query-pulse generator bank: one PWM word line per array row.

The query code of each head dimension becomes a pulse on its word line whose width, in clock
cycles, is the code (P §2.1, §4.1: 16 levels over T_max = 15 cycles at defaults).  All d lines
start together; a frame always lasts q_max = 2**q_bits − 1 cycles, the QK read phase of the
token schedule (:attr:`hdl.schedule.Schedule.qk_read`).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..config import HeadConfig

__all__ = ["PwmBank"]


class PwmBank(wiring.Component):
    """Bank of d pulse-width generators sharing one frame counter.

    Parameters
    ----------
    cfg : HeadConfig
        ``d = cfg.array.head_dim`` lines, codes of ``cfg.array.q_bits`` bits,
        frame length ``q_max = cfg.array.q_max`` cycles.

    Ports
    -----
    i_codes : In(ArrayLayout(unsigned(q_bits), d))
        Pulse width of each line in cycles, 0..q_max; sampled (latched) when a start is accepted.
    i_start : In(1)
        Request a frame.  Accepted in a cycle where ``i_start & o_ready``.
    o_ready : Out(1)
        High when idle and in the last cycle of a frame, so a waiting start runs the next frame
        back-to-back with no dead cycle.  ``~o_busy | o_last`` (decoded from registers only).
    o_wl : Out(d)
        Word lines (registered).  In frame cycle k (0 … q_max − 1) line i is high iff
        ``k < code_i``: code 0 never rises, code q_max is high for the whole frame.
    o_busy : Out(1)
        High in every cycle of a frame (registered).
    o_last : Out(1)
        High in the last cycle of a frame (registered).

    Timing
    ------
    latency = 1: the first frame cycle is the cycle after the accept cycle.
    Throughput: one frame every q_max cycles (back-to-back starts).  Start to end of frame:
    1 + q_max cycles.
    """

    def __init__(self, cfg: HeadConfig):
        self._cfg = cfg
        a = cfg.array
        super().__init__({
            "i_codes": In(data.ArrayLayout(unsigned(a.q_bits), a.head_dim)),
            "i_start": In(1),
            "o_ready": Out(1),
            "o_wl": Out(a.head_dim),
            "o_busy": Out(1),
            "o_last": Out(1),
        })

    @property
    def cfg(self) -> HeadConfig:
        return self._cfg

    @property
    def latency(self) -> int:
        """Cycles from the accept cycle to the first frame cycle: 1 (registered outputs)."""
        return 1

    @property
    def frame_cycles(self) -> int:
        """Cycles of one frame = q_max = 2**q_bits − 1."""
        return self._cfg.array.q_max

    def elaborate(self, platform):
        m = Module()
        a = self._cfg.array
        d, q_max = a.head_dim, a.q_max

        # Latched at every start, never read before one: not reset.
        codes_r = Signal(data.ArrayLayout(unsigned(a.q_bits), d), reset_less=True)
        # Index of the current frame cycle, 0 … q_max − 1, and the next one, ≤ q_max: both fit
        # q_bits (q_max = 2**q_bits − 1), so every compare below is of equal widths.
        pos_r = Signal(a.q_bits)
        pos_next = Signal(a.q_bits)
        m.d.comb += pos_next.eq(pos_r + 1)

        accept = Signal()
        m.d.comb += [
            self.o_ready.eq(~self.o_busy | self.o_last),
            accept.eq(self.i_start & self.o_ready),
        ]

        with m.If(accept):
            # First frame cycle next: lines with a non-zero code rise; codes are latched.
            m.d.sync += [
                codes_r.eq(self.i_codes),
                pos_r.eq(0),
                self.o_busy.eq(1),
                self.o_last.eq(q_max == 1),
                self.o_wl.eq(Cat(*(self.i_codes[i] != 0 for i in range(d)))),
            ]
        with m.Elif(self.o_busy & ~self.o_last):
            m.d.sync += [
                pos_r.eq(pos_next),
                self.o_last.eq(pos_next == q_max - 1),
                # Line i stays high while the next frame cycle index is below its code.
                self.o_wl.eq(Cat(*(pos_next < codes_r[i] for i in range(d)))),
            ]
        with m.Else():
            # Idle, or the last cycle of a frame with no start waiting.
            m.d.sync += [
                self.o_busy.eq(0),
                self.o_last.eq(0),
                self.o_wl.eq(0),
            ]
        return m
