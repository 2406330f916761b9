"""Output FIFO of the head: a first-word-fall-through queue whose writes never look at its level.

The head admits a token only with a free entry reserved for its output (the credit count of
:mod:`hdl.head`), so a write never meets a full FIFO: this FIFO has no ``w_rdy`` and its write
enable is the writer's valid itself.  A general FIFO's ``level`` → ``w_rdy`` → write enable of
every storage LUT-RAM was the routed critical path of the head (issue 12).  The write side is
also split: copy g of the write enable (a register of the writer, e.g. the end of adder-tree
chain g) writes the elements ``fanout.slices(count, copies)[g]`` into a memory of their own,
at a write pointer of its own (``wptr_rep<g>``), so no write-side net spans the whole word.

Overflow is a fault of the caller, not a back-pressure case: ``o_overflow`` is a sticky flag
(cleared only by reset) set by a write into a full FIFO without a read in the same cycle
(the oldest entry is then overwritten); the tests check it stays low.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Shape, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..compare import eq_const
from ..fanout import REPLICA_MARK, slices

__all__ = ["OutputFifo"]


class OutputFifo(wiring.Component):
    """``depth`` entries of ``layout`` (an ``ArrayLayout``), first word falls through.

    Ports
    -----
    w_data : In(layout)
    w_en : In(copies)
        Equal copies of the write enable; copy g writes the elements
        ``fanout.slices(layout.length, copies)[g]``.  No ready: the caller guarantees room.
    r_data : Out(layout)
        The oldest entry (valid while ``r_rdy``).
    r_rdy : Out(1)
        Not empty.
    r_en : In(1)
        Take the oldest entry (ignored while empty).
    level : Out(range(depth + 1))
        Entries held.
    o_overflow : Out(1)
        Sticky: some write came while full and nothing was read.

    Timing
    ------
    Latency 1: a write in cycle t is at ``r_data`` with ``r_rdy`` in cycle t + 1 (as
    ``amaranth.lib.fifo.SyncFIFO`` with ``fwft``).  One write and one read per cycle.
    """

    def __init__(self, layout: data.ArrayLayout, depth: int, *, copies: int = 1):
        if depth < 1 or not 1 <= copies <= layout.length:
            self._MustUse__silence = True    # never built: no "unused" warning on top
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        if not 1 <= copies <= layout.length:
            raise ValueError(f"copies must be from 1 to the {layout.length} elements, "
                             f"not {copies}")
        self._layout, self._depth, self._copies = layout, depth, copies
        super().__init__({
            "w_data": In(layout),
            "w_en": In(copies),
            "r_data": Out(layout),
            "r_rdy": Out(1),
            "r_en": In(1),
            "level": Out(range(depth + 1)),
            "o_overflow": Out(1),
        })

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def latency(self) -> int:
        """Cycles from a write to the entry at ``r_data``: 1."""
        return 1

    def elaborate(self, platform):
        m = Module()
        depth, c = self._depth, self._copies
        ew = Shape.cast(self._layout.elem_shape).width
        wdata, rdata = self.w_data.as_value(), self.r_data.as_value()
        pop = Signal()
        full = Signal()
        nonempty = Signal()                  # r_rdy from a flip-flop: level ≠ 0
        m.d.comb += [
            self.r_rdy.eq(nonempty),
            pop.eq(self.r_en & nonempty),
            full.eq(eq_const(self.level, depth)),
        ]

        def advance(ptr):
            return Mux(eq_const(ptr, depth - 1), 0, ptr + 1)[:len(ptr)]

        suffix = (lambda g: "") if c == 1 else (lambda g: f"{REPLICA_MARK}{g}")
        outs = []
        for g, elems in enumerate(slices(self._layout.length, c)):
            lo, hi = elems.start * ew, elems.stop * ew
            mem = Memory(shape=hi - lo, depth=depth, init=[])
            m.submodules[f"mem{g}"] = mem
            wp = mem.write_port()
            rp = mem.read_port(domain="comb")
            # Equal copies of the pointers, one per memory: kept apart by the FPGA flow.
            wptr = Signal(range(depth), name=f"wptr{suffix(g)}")
            rptr = Signal(range(depth), name=f"rptr{suffix(g)}")
            m.d.comb += [
                wp.addr.eq(wptr), wp.data.eq(wdata[lo:hi]), wp.en.eq(self.w_en[g]),
                rp.addr.eq(rptr),
            ]
            outs.append(rp.data)
            with m.If(self.w_en[g]):
                m.d.sync += wptr.eq(advance(wptr))
            with m.If(pop):
                m.d.sync += rptr.eq(advance(rptr))

        m.d.comb += rdata.eq(Cat(*outs))   # one driver for the whole word

        # Level and the fault flag follow copy 0 (all copies are equal); not in the write path.
        write = self.w_en[0]
        with m.If(write & ~pop & ~full):
            m.d.sync += [self.level.eq(self.level + 1), nonempty.eq(1)]
        with m.Elif(pop & ~write):
            m.d.sync += [self.level.eq(self.level - 1), nonempty.eq(~eq_const(self.level, 1))]
        with m.If(write & full & ~pop):
            m.d.sync += self.o_overflow.eq(1)
        return m
