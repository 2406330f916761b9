"""cocotb: generated ``write_address`` Verilog against :class:`sim.blockref.WriteAddressRef`.

Random advances with gaps and random clears (one forced early, one forced late with a full
window); long enough that the pointer wraps.  The model returns the state after the edge; the
RTL shows it ``latency`` = 1 cycle later.
"""

from __future__ import annotations

import cocotb
import numpy as np

from sim.bits import bits_to_int
from sim.blockref import WriteAddressRef
from tb.cosim.blocks.common import Stepper, block_setup, manifest_entry
from tb.cosim.bus import read_bits

OUTPUTS = ("ptr", "tile", "col", "tile_sel", "col_sel", "valid", "full", "count")


@cocotb.test()
async def write_address_matches_reference(dut):
    cfg, seed = block_setup("write_address")
    w = cfg.array.window
    ref = WriteAddressRef(cfg)
    lat = manifest_entry("write_address")["latency_cycles"]
    assert lat == 1
    rng = np.random.default_rng(seed)
    # Small windows: frequent random clears; large: none, so that the pointer surely wraps.
    p_adv, p_clr = 0.8, (0.02 if w <= 64 else 0.0)
    cycles = max(int(2.4 * w), 300)
    advance = rng.random(cycles) < p_adv
    clear = rng.random(cycles) < p_clr
    clear[rng.integers(cycles // 8, cycles // 4)] = True   # a clear early on
    clear[cycles - 10] = advance[cycles - 10] = True         # a full window, clear wins
    cover = {"wraps": 0, "clear_full": 0, "clear_and_advance": 0, "gaps": int((~advance).sum())}

    dut.i_advance.value = 0
    dut.i_clear.value = 0
    st = Stepper(dut, cfg)
    await st.start()
    pending = [ref.outputs()] * lat     # reset state until the first response
    before = ref.outputs()
    for k in range(cycles):
        dut.i_advance.value = int(advance[k])
        dut.i_clear.value = int(clear[k])
        pending.append(ref.step({"advance": int(advance[k]), "clear": int(clear[k])}))
        exp = pending.pop(0)
        await st.settle()
        got = {port: bits_to_int(read_bits(getattr(dut, f"o_{port}"))) for port in OUTPUTS}
        for port in OUTPUTS:
            assert got[port] == exp[port], (f"cycle {k}: o_{port} = {got[port]:#x}, "
                                            f"expected {exp[port]:#x}")
        cover["wraps"] += bool(advance[k] and not clear[k] and before["ptr"] == w - 1)
        cover["clear_full"] += bool(clear[k] and before["full"])
        cover["clear_and_advance"] += bool(clear[k] and advance[k])
        before = pending[-1] if pending else exp
        await st.next_cycle()
    dut._log.info("write_address: %d cycles, W=%d, %s", cycles, w, cover)
    assert cover["wraps"] >= 1 and cover["clear_full"] >= 1 and cover["gaps"] > 0, cover
    assert cover["clear_and_advance"] >= 1, cover
