"""DAC / write sequencer: writes one token's K and V columns into the gain-cell arrays.

Per token the target column is discharged, then the K DAC codes are driven with the K write
enable; the V column is discharged and written while the K array is already being read, or
right before the A fire in the ``pingpong`` schedule (the phase offsets are those of
:class:`hdl.schedule.Schedule`).  Which column is written is the
write-address controller's business; the head advances it on ``o_done``.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..config import HeadConfig
from ..schedule import Schedule

__all__ = ["WriteSequencer"]


class WriteSequencer(wiring.Component):
    """Discharge / DAC / write-enable sequence of one token, timed by :class:`Schedule`.

    Parameters
    ----------
    cfg : HeadConfig
        ``d = cfg.array.head_dim`` codes of ``cfg.array.kv_bits`` bits per array; phase lengths
        ``cfg.timing.discharge_cycles`` and ``cfg.timing.dac_write_cycles``.

    Ports
    -----
    i_start : In(1)
        Request to write a token; accepted in a cycle where ``i_start & o_ready``.  A start while
        ``o_ready`` is low is ignored (never disturbs the sequence in progress).
    o_ready : Out(1)
        High when idle and in the last cycle of a V write (``o_done``), so a start then runs
        back-to-back.
    i_k, i_v : In(ArrayLayout(unsigned(kv_bits), d))
        K and V DAC codes, latched in the accept cycle — or, with ``latch=False``, not latched:
        the caller then holds them from the cycle after the accept to the end of the V write
        (the head does, in its input register: no 2·d·kv_bits-bit enable on the accept).
    o_discharge_k, o_we_k, o_discharge_v, o_we_v : Out(1)
        Column discharge and write enable of the K and V arrays.
    o_dac_k, o_dac_v : Out(ArrayLayout(unsigned(kv_bits), d))
        Latched codes while the matching write enable is high, 0 otherwise.
    o_busy : Out(1)
        A token sequence is in progress (offsets 0 … duration−1).
    o_done : Out(1)
        One-cycle pulse in the last cycle of the V write (offset duration−1).

    Timing
    ------
    Let ``a`` be the accept cycle and ``S = Schedule(cfg)``.  Offset ``o`` is cycle ``a + 1 + o``
    (offset 0 = the first cycle after the accept, Schedule's token start).  Then

    * ``o_discharge_k`` for ``o ∈ S.k_discharge``; ``o_we_k``, ``o_dac_k`` for ``S.k_write``;
    * ``o_discharge_v`` for ``o ∈ S.v_discharge``; ``o_we_v``, ``o_dac_v`` for ``S.v_write``;
    * ``o_busy`` for ``0 ≤ o < duration``; ``o_done`` and ``o_ready`` at ``o = duration − 1``;

    ``duration = S.v_write[1]`` (= 2·discharge_cycles + 2·dac_write_cycles at the reference
    schedule: 6 cycles at defaults; 18 = the end of the QK read in the ``pingpong`` one).
    ``latency = 1`` cycle from the accept to ``o_discharge_k`` high; initiation interval =
    ``duration`` cycles (back-to-back starts).  Outside a sequence
    (idle, reset) every output is 0 except ``o_ready``.

    The control outputs are registers (glitch-free toward the analog arrays); the DAC codes are
    the latched codes AND-ed with the registered write enable.
    """

    def __init__(self, cfg: HeadConfig, *, latch: bool = True) -> None:
        self.cfg = cfg
        self.schedule = Schedule(cfg)
        self._latch = latch
        codes = data.ArrayLayout(unsigned(cfg.array.kv_bits), cfg.array.head_dim)
        super().__init__({
            "i_start": In(1),
            "o_ready": Out(1),
            "i_k": In(codes),
            "i_v": In(codes),
            "o_discharge_k": Out(1),
            "o_we_k": Out(1),
            "o_dac_k": Out(codes),
            "o_discharge_v": Out(1),
            "o_we_v": Out(1),
            "o_dac_v": Out(codes),
            "o_busy": Out(1),
            "o_done": Out(1),
        })

    @property
    def latency(self) -> int:
        """Cycles from the accept (``i_start & o_ready``) to ``o_discharge_k`` high: 1."""
        return 1

    @property
    def duration(self) -> int:
        """Cycles a token keeps the sequencer busy = end of the V write = initiation interval."""
        s = self.schedule
        return max(s.k_discharge[1], s.k_write[1], s.v_discharge[1], s.v_write[1])

    def elaborate(self, platform):
        m = Module()
        s = self.schedule
        last = self.duration - 1

        busy = self.o_busy
        # The offset of the current cycle, one-hot (bit o = offset o): every phase window is an
        # OR of a few bits — no comparators, no constants of mismatched width in the Verilog,
        # one gate level per window.
        step = Signal(self.duration)
        k_r = Signal.like(self.i_k.as_value()) if self._latch else self.i_k.as_value()
        v_r = Signal.like(self.i_v.as_value()) if self._latch else self.i_v.as_value()

        accept = Signal()
        m.d.comb += [
            self.o_ready.eq(~busy | self.o_done),
            accept.eq(self.i_start & self.o_ready),
        ]

        # Next state, computed combinationally so every control output can be a register.
        step_nxt = Signal.like(step)
        with m.If(accept):
            m.d.comb += step_nxt.eq(1)
            if self._latch:
                m.d.sync += [k_r.eq(self.i_k), v_r.eq(self.i_v)]
        with m.Elif(busy & ~step[last]):
            m.d.comb += step_nxt.eq(step << 1)
        busy_nxt = step_nxt.any()

        def within(span: tuple[int, int]):
            lo, hi = span
            return step_nxt[lo:hi].any() if hi > lo else Const(0, 1)

        m.d.sync += [
            busy.eq(busy_nxt),
            step.eq(step_nxt),
            self.o_discharge_k.eq(within(s.k_discharge)),
            self.o_we_k.eq(within(s.k_write)),
            self.o_discharge_v.eq(within(s.v_discharge)),
            self.o_we_v.eq(within(s.v_write)),
            self.o_done.eq(step_nxt[last]),
        ]
        m.d.comb += [
            self.o_dac_k.eq(Mux(self.o_we_k, k_r, 0)),
            self.o_dac_v.eq(Mux(self.o_we_v, v_r, 0)),
        ]
        return m
