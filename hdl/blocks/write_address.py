"""Write-address controller: the circular write pointer of the sliding window (P §2.3).

Token t is written into column ``t mod W`` of the K and V arrays, W = n_tiles × tile_cols.  The
controller holds that pointer, splits it into (tile, column), keeps both as one-hot selects and
keeps the mask of columns that hold a token of the current window; the head gates the read-out
with the mask so that unwritten columns never contribute.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..config import HeadConfig

__all__ = ["WriteAddressController"]


class WriteAddressController(wiring.Component):
    """Circular write pointer over the W columns of the window, with valid mask and fill status.

    Parameters
    ----------
    cfg : HeadConfig
        Sizes: ``n = cfg.array.n_tiles``, ``C = cfg.array.tile_cols``, ``W = n·C``.

    Ports
    -----
    i_advance : In(copies)
        The current column has been written: mark it valid and move the pointer on.
        ``copies`` (default 1) equal copies (:mod:`hdl.fanout`): copy g updates the mask of the
        tiles ``[g·n // copies, (g+1)·n // copies)``, copy 0 also the pointer.  The caller
        gives every copy the same value.
    i_clear : In(1)
        Synchronous clear to the empty window with the pointer at 0; wins over ``i_advance``.
    o_ptr : Out(ptr_bits)
        Current write column 0 … W−1; wraps from W−1 to 0.
    o_tile : Out(tile_bits)
        ``o_ptr // C``.
    o_col : Out(col_bits)
        ``o_ptr % C``.
    o_tile_sel : Out(n)
        One-hot of ``o_tile`` (a register: the value :mod:`hdl.blocks.address_decoder` decodes).
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
    All outputs come from registers.  An
    ``i_advance`` or ``i_clear`` sampled at a clock edge is visible on every output in the next
    cycle: ``latency = 1``.  One advance per cycle.  Reset state = cleared.
    """

    def __init__(self, cfg: HeadConfig, *, copies: int = 1) -> None:
        self.cfg = cfg
        a = cfg.array
        if not 1 <= copies <= a.n_tiles:
            raise ValueError(f"copies must be from 1 to the {a.n_tiles} tiles, not {copies}")
        self._copies = copies
        super().__init__({
            "i_advance": In(copies),
            "i_clear": In(1),
            "o_ptr": Out(a.ptr_bits),
            "o_tile": Out(a.tile_bits),
            "o_col": Out(a.col_bits),
            "o_tile_sel": Out(a.n_tiles, init=1),
            "o_col_sel": Out(a.tile_cols, init=1),
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

        ptr = self.o_ptr
        valid = self.o_valid
        full = self.o_full
        count = self.o_count

        col = ptr[:col_shift] if col_shift else Const(0, 1)
        tile = ptr[col_shift:] if col_shift < len(ptr) else Const(0, 1)
        m.d.comb += [self.o_col.eq(col), self.o_tile.eq(tile)]

        # The selects are registers of their own, one-hot rotated with the pointer (the same
        # values as decoding o_tile / o_col, as AddressDecoder does, without the decoder and the
        # pointer's incrementer in front of the W-bit mask update: issue 12).  The column
        # one-hot rotates on every advance; the tile one-hot when the column wraps.
        tsel, csel = self.o_tile_sel, self.o_col_sel
        last = ptr == w - 1
        col_last = csel[c - 1]

        def rot(v):
            return Cat(v[-1], v[:-1]) if len(v) > 1 else v

        # Next state as explicit multiplexers (clear wins over advance), every register written
        # every cycle: no incomplete case statement in the Verilog even when the parent ties
        # i_clear to a constant.
        clear = self.i_clear
        adv = self.i_advance[0]
        m.d.sync += [
            ptr.eq(Mux(clear, 0, Mux(adv, Mux(last, 0, ptr + 1), ptr))),
            full.eq(~clear & (full | (adv & last))),
            count.eq(Mux(clear, 0, Mux(adv & (count != w), count + 1, count))),
            csel.eq(Mux(clear, 1, Mux(adv, rot(csel), csel))),
            tsel.eq(Mux(clear, 1, Mux(adv & col_last, rot(tsel), tsel))),
        ]
        # The mask: tile t owns bits [t·C, t·C + C) and takes the advance copy of its group.
        k = self._copies
        pieces = []
        for t in range(n):
            v_t = valid[t * c:(t + 1) * c]
            pieces.append(Mux(clear, 0, Mux(self.i_advance[t * k // n] & tsel[t],
                                            v_t | csel, v_t)))
        m.d.sync += valid.eq(Cat(*pieces))
        return m
