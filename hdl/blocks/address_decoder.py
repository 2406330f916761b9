"""Tile and column address decoders of the gain-cell arrays (P §2.3, Fig. 3).

A write (or a refresh) addresses one column of one sub-tile: the tile decoder selects the
sub-tile, the column decoder the column inside it.  Both are binary-to-one-hot decoders.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..config import HeadConfig

__all__ = ["AddressDecoder"]


class AddressDecoder(wiring.Component):
    """Binary → one-hot decoders for the tile and the column address.

    Parameters
    ----------
    cfg : HeadConfig
        Sizes: ``n = cfg.array.n_tiles`` tiles, ``C = cfg.array.tile_cols`` columns per tile.

    Ports
    -----
    i_tile : In(tile_bits)
        Tile address.
    i_col : In(col_bits)
        Column address inside the tile.
    i_en : In(1)
        Enable; when low both one-hot outputs are all zero.
    o_tile_sel : Out(n)
        One-hot tile select, bit ``i_tile``.  All zero when disabled or when ``i_tile ≥ n``
        (possible when n is not a power of two).
    o_col_sel : Out(C)
        One-hot column select, bit ``i_col``.  All zero when disabled (or ``i_col ≥ C``, which
        only happens for C = 1, whose address field is still one bit wide).

    Timing
    ------
    Purely combinational: ``latency = 0`` cycles, one address per cycle.
    """

    def __init__(self, cfg: HeadConfig) -> None:
        self.cfg = cfg
        a = cfg.array
        super().__init__({
            "i_tile": In(a.tile_bits),
            "i_col": In(a.col_bits),
            "i_en": In(1),
            "o_tile_sel": Out(a.n_tiles),
            "o_col_sel": Out(a.tile_cols),
        })

    @property
    def latency(self) -> int:
        """Cycles from address to select: 0 (combinational)."""
        return 0

    def elaborate(self, platform):
        m = Module()
        n, c = self.cfg.array.n_tiles, self.cfg.array.tile_cols
        # 1 << addr is 2**bits wide; truncating it to n (C) bits drops out-of-range addresses.
        tile_oh = (Const(1, 1) << self.i_tile)[:n]
        col_oh = (Const(1, 1) << self.i_col)[:c]
        m.d.comb += [
            self.o_tile_sel.eq(Mux(self.i_en, tile_oh, 0)),
            self.o_col_sel.eq(Mux(self.i_en, col_oh, 0)),
        ]
        return m
