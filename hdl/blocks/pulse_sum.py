"""Pulse-sum read-out (``timing.readout = "pulse_sum"``): per dimension, the tiles' signed C2P
pulses are added while they arrive, into one accumulator per dimension.

The paper counts each tile's pulse in its own counter (n_tiles·d counters) and adds the tiles
afterwards (:mod:`hdl.blocks.counter_bank`, :mod:`hdl.blocks.adder_tree`).  Every tile fires in
the same count window, so the d sums can be built on the fly: each cycle, per dimension, a
balanced tree adds the n_tiles pulse values (+1: pulse high and sign 0, −1: pulse high and sign
1, 0: no pulse) into a registered partial sum, and the accumulator adds the partial sum.  The
result equals Σ_tiles (±count) of the counter bank + adder trees bit for bit when each pulse's
sign is held while it is high and a window has at most count_max enabled cycles (the signed
C2P contract and the schedule's count window, so the counters never saturate).  Flip-flops:
d·(partial + accumulator) instead of n_tiles·d·(count_bits + 1) + the adder-tree registers.
With ``timing.pulse_tree_register`` the tree is also registered halfway (after ⌊levels/2⌋
adder levels): half the gate depth for one cycle of latency.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..config import HeadConfig
from ..fanout import REPLICA_MARK, slices

__all__ = ["PulseSum"]


class PulseSum(wiring.Component):
    """d pulse accumulators over n_tiles signed pulse inputs each.

    Parameters
    ----------
    cfg : HeadConfig
        ``array.n_tiles`` pulses per dimension, ``array.head_dim`` = d accumulators of
        ``array.sum_width`` bits, ``timing.clock_gating`` (enables on the registers),
        ``timing.pulse_tree_register`` (a register halfway up the tree: latency 2).

    Ports
    -----
    i_pulse, i_sign : In(N)
        Signed C2P pulse and sign of each channel, flat index ``tile * d + dim`` (as the
        counter bank's).
    i_enable : In(copies)
        Count window: pulse cycles outside it are ignored.
    i_clear : In(copies)
        Zeroes the sums (between tokens); a pulse cycle coinciding with it is not counted.
    i_valid : In(copies)
        Marks the cycle after the last pulse cycle of a window; delayed alongside the data.

    ``copies`` (default 1) equal copies of each control (:mod:`hdl.fanout`): copy g belongs to
    the dimensions ``fanout.slices(d, copies)[g]`` — their pulses (every tile), tree registers
    and accumulators — and is delayed in a chain of its own.  The caller gives every copy the
    same value.
    o_sums : Out(ArrayLayout(signed(sum_width), d))
        ``o_sums[e]`` in cycle c = Σ over cycles k with k0 < k ≤ c − 1 − latency of
        Σ_tile v(k, tile, e), v = +1 / −1 / 0 for a pulse cycle in the window with sign 0 /
        sign 1 / otherwise, and k0 the last clear cycle ≤ c − 1 − latency; two's complement
        modulo 2**sum_width (a window of at most count_max enabled cycles between clears always
        fits).
    o_valid : Out(copies)
        ``i_valid`` delayed by ``latency`` (bit g: copy g's chain): with the window's last pulse cycle at c − latency,
        ``o_sums`` holds the window's full sums while ``o_valid`` is high.

    Timing
    ------
    latency = 1 cycle more than the counters (which show a pulse cycle the cycle after): the
    partial-sum register keeps the tree and the accumulator adder in separate cycles; 2 with
    ``timing.pulse_tree_register``.
    """

    def __init__(self, cfg: HeadConfig, *, copies: int = 1):
        self._cfg = cfg
        a = cfg.array
        if not 1 <= copies <= a.head_dim:
            self._MustUse__silence = True    # never built: no "unused" warning on top
            raise ValueError(f"copies must be from 1 to the {a.head_dim} dimensions, "
                             f"not {copies}")
        self._copies = copies
        super().__init__({
            "i_pulse": In(a.n_channels),
            "i_sign": In(a.n_channels),
            "i_enable": In(copies),
            "i_clear": In(copies),
            "i_valid": In(copies),
            "o_sums": Out(data.ArrayLayout(signed(a.sum_width), a.head_dim)),
            "o_valid": Out(copies),
        })

    @property
    def cfg(self) -> HeadConfig:
        return self._cfg

    @property
    def latency(self) -> int:
        """Cycles from ``i_valid`` to ``o_valid``: 1, or 2 with ``timing.pulse_tree_register``
        (see the class docstring)."""
        return 1 + int(self._cfg.timing.pulse_tree_register)

    def elaborate(self, platform):
        m = Module()
        a = self._cfg.array
        d, n = a.head_dim, a.n_tiles
        gated = self._cfg.timing.clock_gating
        split = self._cfg.timing.pulse_tree_register
        mid_level = (n - 1).bit_length() // 2   # adder levels below the mid-tree register
        c = self._copies
        dims = slices(d, c)
        copy_of = [g for g, r in enumerate(dims) for _ in r]   # dimension → its copy
        # clear, enable and valid delayed stage by stage, a chain per copy: the register stage
        # s (0 = the first behind the pulses) sees the enable delayed s cycles, so a gated
        # register loads exactly its window's values; the accumulator sees all three
        # ``latency`` cycles late.
        delayed = [[(self.i_clear[g], self.i_enable[g], self.i_valid[g]) for g in range(c)]]
        for stage in range(self.latency):
            tag = "_r" if stage == 0 else f"_r{stage + 1}"
            rep = [""] if c == 1 else [f"{REPLICA_MARK}{g}" for g in range(c)]
            nxt = [tuple(Signal(name=f"{what}{tag}{x}") for what in ("clear", "en", "valid"))
                   for x in rep]
            m.d.sync += [new.eq(old) for g in range(c)
                         for new, old in zip(nxt[g], delayed[-1][g])]
            delayed.append(nxt)
        en_part = [x[1] for x in delayed[self.latency - 1]]   # the partial-sum register's stage

        # Pulse values as two bit vectors over all channels: bit 0 = pulse in the window, bit 1
        # = pulse in the window and negative (two's complement of +1 / −1 / 0 in 2 bits).
        # Per tile the dims are contiguous, so each copy gates a slice of every tile (built per
        # tile, then one concatenation: no long expression, no per-slice drivers).
        p = Signal(a.n_channels)
        neg = Signal(a.n_channels)
        tiles = []
        for t in range(n):
            p_t = Signal(d, name=f"pulse_t{t}")
            m.d.comb += p_t.eq(Cat(
                Mux(self.i_enable[g], self.i_pulse[t * d + r.start:t * d + r.stop], 0)
                for g, r in enumerate(dims)))
            tiles.append(p_t)
        m.d.comb += [p.eq(Cat(*tiles)), neg.eq(p & self.i_sign)]

        part_w = n.bit_length() + 1            # signed width of ±n
        parts = []
        for e in range(d):
            nodes = []
            for t in range(n):
                leaf = Signal(signed(2), name=f"v_d{e}_t{t}")
                m.d.comb += leaf.eq(Cat(p[t * d + e], neg[t * d + e]))
                nodes.append(leaf)
            level = 0
            while True:
                if split and level == mid_level:     # the mid-tree register
                    nodes = [_reg(m, x, f"mid_d{e}_n{i}",
                                  self.i_enable[copy_of[e]] if gated else None)
                             for i, x in enumerate(nodes)]
                if len(nodes) == 1:
                    break
                level += 1
                nxt = []
                for i in range(0, len(nodes), 2):
                    s = Signal(signed(level + 2), name=f"ps_l{level}_d{e}_n{i // 2}")
                    pair = nodes[i:i + 2]
                    w = level + 2                  # result width at this level
                    m.d.comb += s.eq(_add(pair[0], pair[1], w) if len(pair) == 2
                                     else _add(pair[0], None, w))
                    nxt.append(s)
                nodes = nxt
            part_r = Signal(signed(part_w), name=f"part_d{e}_r")
            if gated:
                with m.If(en_part[copy_of[e]]):
                    m.d.sync += part_r.eq(nodes[0])
            else:
                m.d.sync += part_r.eq(nodes[0])
            parts.append(part_r)

        # Ungated, part_r is zero after a cycle outside the window, so adding it every cycle
        # is the same as adding it after window cycles only (the gated accumulator's enable).
        for e in range(d):
            clear_r, en_r, _ = delayed[-1][copy_of[e]]
            acc = Signal(signed(a.sum_width), name=f"acc_d{e}")
            with m.If(clear_r):
                m.d.sync += acc.eq(0)
            with m.Elif(en_r if gated else 1):
                m.d.sync += acc.eq(_add(acc, parts[e], a.sum_width))
            m.d.comb += self.o_sums[e].eq(acc)
        m.d.comb += self.o_valid.eq(Cat(x[2] for x in delayed[-1]))
        return m


def _reg(m: Module, x, name: str, enable):
    """``x`` registered (loaded only while ``enable`` is high, unless it is None)."""
    r = Signal(signed(len(x)), name=name)
    if enable is None:
        m.d.sync += r.eq(x)
    else:
        with m.If(enable):
            m.d.sync += r.eq(x)
    return r


def _add(x, y, width: int):
    """``x + y`` (signed; ``y`` None = 0) modulo 2**width, as a signed value of ``width`` bits.

    Written in unsigned arithmetic on explicit sign-extending concatenations, so the Verilog
    adds two operands of exactly ``width`` bits (lint-clean): signed operands of different
    widths would be extended implicitly, which Verilator's lint reports."""
    def ext(v):
        return Cat(v, *([v[-1]] * (width - len(v)))) if len(v) < width else v[:width]
    total = ext(x) if y is None else ext(x) + ext(y)
    return total[:width].as_signed()
