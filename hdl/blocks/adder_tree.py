"""Adder-tree bank: sums the per-tile signed counts of each head dimension.

The head output of dimension e is the integer sum over the n_tiles sub-tiles of their signed
counts (DESIGN.md §5; P §2.3: one 16-input adder tree per output dimension).  One balanced
binary tree per dimension; pipelining is a configuration parameter
(``cfg.timing.adder_pipeline_every``).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..config import HeadConfig
from ..fanout import REPLICA_MARK, slices
from ..schedule import Schedule

__all__ = ["AdderTreeBank"]


class AdderTreeBank(wiring.Component):
    """d balanced binary adder trees over n_tiles signed counts each.

    Parameters
    ----------
    cfg : HeadConfig
        ``cfg.array.n_tiles`` inputs per tree, ``cfg.array.head_dim`` trees,
        ``cfg.array.count_width``-bit signed inputs, ``cfg.array.sum_width``-bit signed outputs,
        ``cfg.timing.adder_pipeline_every`` = k.

    Ports
    -----
    i_counts : In(ArrayLayout(signed(count_width), n_tiles × d))
        Flat index ``tile * d + dim``, the layout of :class:`hdl.blocks.counter_bank.CounterBank`.
    i_valid : In(copies)
        Qualifies ``i_counts``; delayed alongside the data.  ``copies`` (default 1) equal copies
        (:mod:`hdl.fanout`): copy g belongs to the trees ``fanout.slices(d, copies)[g]`` — it
        isolates their inputs (every tile) and, delayed in a chain of its own, enables their
        pipeline registers.  The caller gives every copy the same value.
    o_sums : Out(ArrayLayout(signed(sum_width), d))
        ``o_sums[e] = Σ_tile i_counts[tile * d + e]``, exact: every tree node is as wide as the
        extreme sum of the leaves below it needs (±m·count_max for m leaves), the root is
        ``sum_width`` bits.
    o_valid : Out(copies)
        ``i_valid`` delayed by ``latency``: bit g is the end of copy g's chain, next to the
        sums of its trees (a consumer can enable their slice with it, e.g. the output FIFO).

    With ``cfg.timing.clock_gating`` (operand isolation + enables): the trees add zeros in a
    cycle without ``i_valid`` and each pipeline register loads only when the valid beside it is
    high, so ``o_sums`` holds the last valid vector's sums (a combinational bank, latency 0,
    shows zeros while ``i_valid`` is low).  Valid vectors come out exactly as without gating.

    Structure: ``levels = ceil(log2(n_tiles))`` adder levels; each level adds neighbours
    pairwise and passes an odd last element through, so any n_tiles ≥ 1 works (n_tiles = 1:
    no adders, the count is sign-extended).

    Timing
    ------
    latency = ``Schedule(cfg).adder_latency`` = levels // k for k > 0 (a register after every
    k-th level, none after the last level unless it is a multiple of k), 0 for k = 0
    (combinational).  Throughput: one vector per cycle.
    """

    def __init__(self, cfg: HeadConfig, *, copies: int = 1):
        self._cfg = cfg
        a = cfg.array
        if not 1 <= copies <= a.head_dim:
            raise ValueError(f"copies must be from 1 to the {a.head_dim} trees, not {copies}")
        self._copies = copies
        super().__init__({
            "i_counts": In(data.ArrayLayout(signed(a.count_width), a.n_channels)),
            "i_valid": In(copies),
            "o_sums": Out(data.ArrayLayout(signed(a.sum_width), a.head_dim)),
            "o_valid": Out(copies),
        })

    @property
    def cfg(self) -> HeadConfig:
        return self._cfg

    @property
    def levels(self) -> int:
        """Adder levels per tree: ceil(log2(n_tiles))."""
        return Schedule(self._cfg).adder_levels

    @property
    def latency(self) -> int:
        """Register stages from ``i_counts`` to ``o_sums``: ``Schedule(cfg).adder_latency``."""
        return Schedule(self._cfg).adder_latency

    def elaborate(self, platform):
        m = Module()
        a = self._cfg.array
        d, n = a.head_dim, a.n_tiles
        k = self._cfg.timing.adder_pipeline_every

        def width(leaves: int) -> int:
            # Signed width holding ±leaves·count_max.
            return (leaves * a.count_max).bit_length() + 1

        gated = self._cfg.timing.clock_gating
        c = self._copies
        trees = slices(d, c)
        leaves_in = self.i_counts
        if gated:
            # Operand isolation: the trees see the counts only in the cycle they are summed
            # (i_valid), zero otherwise, so the adders do not follow every count change.
            # Copy g isolates the leaves of its own trees (all tiles of dims trees[g]), the
            # trees whose pipeline registers it also enables: each copy's net stays within
            # its trees (issue 12: a copy spanning a slice of every tree set the clock).
            # Built per tile (dims t·d … t·d + d − 1 are contiguous, so each copy's trees are a
            # slice), then one concatenation of the tiles: no per-leaf part-select drivers.
            leaves_in = Signal.like(self.i_counts, name="counts_isolated")
            flat, cw = self.i_counts.as_value(), a.count_width
            tiles = []
            for t in range(n):
                iso = Signal(d * cw, name=f"counts_isolated_t{t}")
                m.d.comb += iso.eq(Cat(
                    Mux(self.i_valid[g], flat[(t * d + dims.start) * cw:(t * d + dims.stop) * cw],
                        0)
                    for g, dims in enumerate(trees)))
                tiles.append(iso)
            m.d.comb += leaves_in.as_value().eq(Cat(*tiles))
        # Per tree: list of (value, number of leaves below it).
        nodes = [[(leaves_in[t * d + e], 1) for t in range(n)] for e in range(d)]
        valid = [self.i_valid[g] for g in range(c)]
        stages = 0
        for level in range(1, self.levels + 1):
            register = k > 0 and level % k == 0
            domain = m.d.sync if register else m.d.comb
            if register and gated:
                # Clock gating: a pipeline register loads only when its token passes.
                for g in range(c):
                    with m.If(valid[g]):
                        _level(nodes, level, m.d.sync, register, width, trees[g])
            else:
                _level(nodes, level, domain, register, width, range(d))
            if register:
                suffix = [""] if c == 1 else [f"{REPLICA_MARK}{g}" for g in range(c)]
                vs = [Signal(name=f"valid_l{level}_r{x}") for x in suffix]
                m.d.sync += [v.eq(u) for v, u in zip(vs, valid)]
                valid = vs
                stages += 1
        assert stages == self.latency, (stages, self.latency)

        for e in range(d):
            (root, leaves), = nodes[e]
            assert leaves == n and width(n) == a.sum_width <= len(root)
            m.d.comb += self.o_sums[e].eq(root[:a.sum_width])   # |sum| ≤ n·count_max fits
        m.d.comb += self.o_valid.eq(Cat(valid))
        return m


def _level(nodes, level, domain, register, width, trees):
    """One adder level of the trees ``trees``: ``nodes[e]`` (value, leaves below) replaced by the
    level's outputs, assigned in ``domain``."""
    for e in trees:
        nxt = []
        for i in range(0, len(nodes[e]), 2):
            pair = nodes[e][i:i + 2]
            leaves = sum(c for _, c in pair)
            name = f"sum_l{level}_d{e}_n{i // 2}" + ("_r" if register else "")
            # Width by level (2**level leaves' worth), not by the leaves below: the two operands
            # of every adder then have equal widths (lint-clean Verilog at odd tile counts; at
            # powers of two it is the same width).
            # Sums are not reset: a sum is only looked at with its valid (which is reset).
            s = Signal(signed(width(1 << level)), name=name, reset_less=register)
            if len(pair) == 2:
                domain += s.eq(pair[0][0] + pair[1][0])
            else:
                domain += s.eq(pair[0][0])   # odd element passes through this level
            nxt.append((s, leaves))
        nodes[e] = nxt
