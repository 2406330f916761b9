"""cocotb: generated ``write_sequencer`` Verilog against :class:`sim.blockref.WriteSequencerRef`.

Start requests in segments (held high = back-to-back tokens, sparse, bursty, idle); new random K
and V codes every cycle, so only the codes of the accept cycle may ever reach the DACs.
"""

from __future__ import annotations

import cocotb
import numpy as np

from sim.blockref import WriteSequencerRef
from tb.cosim.blocks.common import Stepper, block_setup, manifest_entry
from tb.cosim.bus import read_fields, write_fields

FLAGS = ("discharge_k", "we_k", "discharge_v", "we_v", "busy", "done", "ready")
CONTRACT_LATENCY = 1  # accept → first K discharge cycle (the block's documented contract)


@cocotb.test()
async def write_sequencer_matches_reference(dut):
    cfg, seed = block_setup("write_sequencer")
    d, bits = cfg.array.head_dim, cfg.array.kv_bits
    assert manifest_entry("write_sequencer")["latency_cycles"] == CONTRACT_LATENCY
    ref = WriteSequencerRef(cfg, latency=CONTRACT_LATENCY)
    rng = np.random.default_rng(seed)
    cycles = 1000
    p_start = np.repeat(rng.choice([1.0, 0.05, 0.3, 0.6, 0.0], size=cycles // 50), 50)
    start = rng.random(cycles) < p_start
    k_codes = rng.integers(0, 1 << bits, size=(cycles, d))
    v_codes = rng.integers(0, 1 << bits, size=(cycles, d))
    cover = {"accepts": 0, "back_to_back": 0, "ignored": 0}

    for sig in (dut.i_start, dut.i_k, dut.i_v):
        sig.value = 0
    st = Stepper(dut, cfg)
    await st.start()
    for k in range(cycles):
        dut.i_start.value = int(start[k])
        write_fields(dut.i_k, k_codes[k], bits)
        write_fields(dut.i_v, v_codes[k], bits)
        exp = ref.step({"start": int(start[k]), "k": k_codes[k], "v": v_codes[k]})
        await st.settle()
        got = {f: int(getattr(dut, f"o_{f}").value) for f in FLAGS}
        got["dac_k"] = read_fields(dut.o_dac_k, d, bits).tolist()
        got["dac_v"] = read_fields(dut.o_dac_v, d, bits).tolist()
        for key, value in got.items():
            assert value == exp[key], f"cycle {k}: o_{key} = {value}, expected {exp[key]}"
        accepted = bool(start[k] and exp["ready"])
        cover["accepts"] += accepted
        cover["back_to_back"] += accepted and bool(exp["busy"])
        cover["ignored"] += bool(start[k] and not exp["ready"])
        await st.next_cycle()
    dut._log.info("write_sequencer: %d cycles, %s", cycles, cover)
    assert cover["accepts"] > 20 and cover["back_to_back"] > 5 and cover["ignored"] > 5, cover
