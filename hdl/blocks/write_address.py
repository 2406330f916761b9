"""Write-address controller: the circular write pointer of the sliding window (P §2.3).

Token t is written into column ``t mod W`` of the K and V arrays, W = n_tiles × tile_cols.  The
controller holds that pointer, splits it into (tile, column), decodes both to one-hot selects and
keeps the mask of columns that hold a token of the current window; the head gates the read-out
with the mask so that unwritten columns never contribute.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..config import HeadConfig
from .address_decoder import AddressDecoder

__all__ = ["WriteAddressController"]


class WriteAddressController(wiring.Component):
    """Circular write pointer over the W columns of the window, with valid mask and fill status.

    Parameters
    ----------
    cfg : HeadConfig
        Sizes: ``n = cfg.array.n_tiles``, ``C = cfg.array.tile_cols``, ``W = n·C``.

    Ports
    -----
    i_advance : In(1)
        The current column has been written: mark it valid and move the pointer on.
    i_clear : In(1)
        Synchronous clear to the empty window with the pointer at 0; wins over ``i_advance``.
    o_ptr : Out(ptr_bits)
        Current write column 0 … W−1; wraps from W−1 to 0.
    o_tile : Out(tile_bits)
        ``o_ptr // C``.
    o_col : Out(col_bits)
        ``o_ptr % C``.
    o_tile_sel : Out(n)
        One-hot of ``o_tile`` (an :class:`AddressDecoder` submodule, always enabled).
    o_col_sel : Out(C)
        One-hot of ``o_col``.
    o_valid : Out(W)
        Valid-column mask, bit ``tile·C + col``: the column was written since the last clear.
        Once the window has wrapped every column stays valid — an overwritten column holds the
        newest token and the oldest one has left the window.
    o_full : Out(1)
        The pointer has wrapped from W−1 to 0 at least once since the last clear.
    o_count : Out(range(W + 1))
        Number of valid columns = popcount(o_valid); saturates at W.

    Timing
    ------
    All outputs come from registers (the selects through the combinational decoder).  An
    ``i_advance`` or ``i_clear`` sampled at a clock edge is visible on every output in the next
    cycle: ``latency = 1``.  One advance per cycle.  Reset state = cleared.
    """

    def __init__(self, cfg: HeadConfig) -> None:
        self.cfg = cfg
        a = cfg.array
        super().__init__({
            "i_advance": In(1),
            "i_clear": In(1),
            "o_ptr": Out(a.ptr_bits),
            "o_tile": Out(a.tile_bits),
            "o_col": Out(a.col_bits),
            "o_tile_sel": Out(a.n_tiles),
            "o_col_sel": Out(a.tile_cols),
            "o_valid": Out(a.window),
            "o_full": Out(1),
            "o_count": Out(range(a.window + 1)),
        })

    @property
    def latency(self) -> int:
        """Cycles from ``i_advance``/``i_clear`` to the updated outputs: 1."""
        return 1

    def elaborate(self, platform):
        m = Module()
        a = self.cfg.array
        n, c, w = a.n_tiles, a.tile_cols, a.window
        col_shift = (c - 1).bit_length()  # C is a power of two: col = low bits of the pointer

        m.submodules.decoder = dec = AddressDecoder(self.cfg)

        ptr = self.o_ptr
        valid = self.o_valid
        full = self.o_full
        count = self.o_count

        col = ptr[:col_shift] if col_shift else Const(0, 1)
        tile = ptr[col_shift:] if col_shift < len(ptr) else Const(0, 1)
        m.d.comb += [
            self.o_col.eq(col),
            self.o_tile.eq(tile),
            dec.i_tile.eq(self.o_tile),
            dec.i_col.eq(self.o_col),
            dec.i_en.eq(1),
            self.o_tile_sel.eq(dec.o_tile_sel),
            self.o_col_sel.eq(dec.o_col_sel),
        ]

        # W-bit one-hot of the pointer from the two small one-hots: tile t owns bits [t·C, t·C+C).
        onehot = Cat(Mux(dec.o_tile_sel[t], dec.o_col_sel, 0) for t in range(n))
        last = ptr == w - 1

        # Next state as explicit multiplexers (clear wins over advance), every register written
        # every cycle: no incomplete case statement in the Verilog even when the parent ties
        # i_clear to a constant.  One vector update for the whole mask (one always block).
        clear, adv = self.i_clear, self.i_advance
        m.d.sync += [
            ptr.eq(Mux(clear, 0, Mux(adv, Mux(last, 0, ptr + 1), ptr))),
            valid.eq(Mux(clear, 0, Mux(adv, valid | onehot, valid))),
            full.eq(~clear & (full | (adv & last))),
            count.eq(Mux(clear, 0, Mux(adv & (count != w), count + 1, count))),
        ]
        return m
