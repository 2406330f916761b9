"""cocotb: generated ``address_decoder`` Verilog against :class:`sim.blockref.AddressDecoderRef`.

Combinational: every (tile, col, en) the port widths allow, out-of-range tiles included, in a
seeded random order.
"""

from __future__ import annotations

import itertools

import cocotb
import numpy as np

from sim.bits import bits_to_int
from sim.blockref import AddressDecoderRef
from tb.cosim.blocks.common import Stepper, block_setup, manifest_entry
from tb.cosim.bus import read_bits


@cocotb.test()
async def address_decoder_matches_reference(dut):
    cfg, seed = block_setup("address_decoder")
    a = cfg.array
    ref = AddressDecoderRef(cfg)
    assert manifest_entry("address_decoder")["latency_cycles"] == 0
    assert not hasattr(dut, "clk")
    rng = np.random.default_rng(seed)
    stim = list(itertools.product(range(1 << a.tile_bits), range(1 << a.col_bits), (0, 1)))
    stim = [stim[i] for i in rng.permutation(len(stim))]
    hits = {"out_of_range": 0, "disabled": 0, "selected": 0}

    st = Stepper(dut, cfg)
    await st.start()
    for tile, col, en in stim:
        dut.i_tile.value = tile
        dut.i_col.value = col
        dut.i_en.value = en
        exp = ref.step({"tile": tile, "col": col, "en": en})
        await st.settle()
        got = {"tile_sel": bits_to_int(read_bits(dut.o_tile_sel)),
               "col_sel": bits_to_int(read_bits(dut.o_col_sel))}
        assert got == exp, f"tile={tile} col={col} en={en}: {got} != {exp}"
        hits["out_of_range"] += en and tile >= a.n_tiles
        hits["disabled"] += not en
        hits["selected"] += exp["tile_sel"] != 0
    dut._log.info("address_decoder: %d addresses, %s", len(stim), hits)
    assert hits["disabled"] > 0 and hits["selected"] > 0
    assert (hits["out_of_range"] > 0) == ((1 << a.tile_bits) > a.n_tiles)
