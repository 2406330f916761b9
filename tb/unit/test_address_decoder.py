"""AddressDecoder against sim.blockref.AddressDecoderRef, every address, random order."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.blocks.address_decoder import AddressDecoder
from hdl.config import HeadConfig
from sim.blockref import AddressDecoderRef

CONFIGS = {
    "default": [],
    "tiny_n3": ["array.head_dim=4", "array.n_tiles=3", "array.tile_cols=4"],
    "n5_c8": ["array.n_tiles=5", "array.tile_cols=8"],
    "n1_c1": ["array.n_tiles=1", "array.tile_cols=1"],
}


@pytest.mark.parametrize("name", CONFIGS)
def test_address_decoder(name: str) -> None:
    cfg = HeadConfig().with_overrides(CONFIGS[name])
    a = cfg.array
    dut = AddressDecoder(cfg)
    ref = AddressDecoderRef(cfg)
    assert dut.latency == 0  # the contract: combinational

    # Every (tile, col, en) the port widths allow, including out-of-range tiles, shuffled.
    rng = np.random.default_rng(1234)
    stim = list(itertools.product(range(1 << a.tile_bits), range(1 << a.col_bits), (0, 1)))
    stim = [stim[i] for i in rng.permutation(len(stim))]
    hits = {"out_of_range": 0, "disabled": 0}

    async def tb(ctx):
        pending: list[dict[str, int]] = []
        for tile, col, en in stim:
            ctx.set(dut.i_tile, tile)
            ctx.set(dut.i_col, col)
            ctx.set(dut.i_en, en)
            pending.append(ref.step({"tile": tile, "col": col, "en": en}))
            if len(pending) > dut.latency:
                exp = pending.pop(0)
                got = {"tile_sel": ctx.get(dut.o_tile_sel), "col_sel": ctx.get(dut.o_col_sel)}
                assert got == exp, f"tile={tile} col={col} en={en}: {got} != {exp}"
            hits["out_of_range"] += en and tile >= a.n_tiles
            hits["disabled"] += not en
            await ctx.delay(1e-9)

    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()
    assert hits["disabled"] > 0
    assert (hits["out_of_range"] > 0) == ((1 << a.tile_bits) > a.n_tiles)


def test_address_decoder_literals() -> None:
    """A few selects written out by hand (n = 3, C = 4): pins the bit order."""
    cfg = HeadConfig().with_overrides(CONFIGS["tiny_n3"])
    dut = AddressDecoder(cfg)
    cases = [  # (tile, col, en) -> (tile_sel, col_sel)
        ((0, 0, 1), (0b001, 0b0001)),
        ((2, 3, 1), (0b100, 0b1000)),
        ((1, 2, 1), (0b010, 0b0100)),
        ((3, 1, 1), (0b000, 0b0010)),  # tile 3 does not exist
        ((2, 3, 0), (0b000, 0b0000)),
    ]

    async def tb(ctx):
        for (tile, col, en), exp in cases:
            ctx.set(dut.i_tile, tile)
            ctx.set(dut.i_col, col)
            ctx.set(dut.i_en, en)
            assert (ctx.get(dut.o_tile_sel), ctx.get(dut.o_col_sel)) == exp

    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()
