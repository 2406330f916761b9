"""The FPGA-mapped head: the ``synth_ecp5`` netlist (with the ECP5 cell models of the same
Yosys) co-simulated with the analog models against the golden model, bit for bit.

ABC9 has mis-mapped ECP5 carry and clock-enable logic before (Yosys issue #5777): what goes on
a board is this netlist, not the RTL (issue 12).  A small config, both LUT mappings of
``python -m flows.synth --mapping``; the synthesis is the FPGA flow's, cached by content.
"""

from __future__ import annotations

import re

import pytest

from flows.synth.mapped import mapped_head_verilog
from hdl.cli import RunFailed
from hdl.config import HeadConfig
from hdl.schedule import Schedule
from tb.cosim.head import run_head_cosim

pytestmark = [pytest.mark.cosim, pytest.mark.xdist_group("fpga_mapped")]

SMALL = ["array.head_dim=4", "array.n_tiles=3", "array.tile_cols=4"]


@pytest.mark.parametrize("mapping", ["abc9", "abc"])
def test_mapped_head_is_bit_exact(mapping):
    """Back-pressure, input gaps, a window that wraps (W = 12 < 40 tokens) and a reset: every
    output of the mapped netlist equals the golden model, at the schedule's latency."""
    cfg = HeadConfig().with_overrides(SMALL)
    netlist = mapped_head_verilog(cfg, mapping)
    text = netlist.read_text()
    assert re.search(r"^\s*(LUT4|CCU2C|TRELLIS_FF) ", text, re.M), "not an ECP5 netlist"
    res = run_head_cosim(cfg, tokens=40, seed=5, backpressure=0.2, gaps=0.1, reset_after=[25],
                         sim="icarus", tag=f"mapped_{mapping}", netlist=netlist)
    assert res["mismatches"] == 0 and res["tokens_unaccounted"] == 0
    assert res["outputs_compared"] + res["tokens_dropped_by_reset"] == 40
    assert res["outputs_compared"] >= 30
    assert res["latency_cycles"] == Schedule(cfg).latency


def test_a_mis_mapped_netlist_is_caught():
    """The check sees the netlist: the same netlist with the adder trees' carry cells' first
    LUT function inverted (a wrong CCU2C mapping) gives output mismatches."""
    cfg = HeadConfig().with_overrides(SMALL)
    good = mapped_head_verilog(cfg, "abc9")
    bad_text, n = re.subn(r"(CCU2C #\(\s*\.INIT0\(16'h)([0-9a-f]{4})(\)[^;]*?\) \\add\.)",
                          lambda m: f"{m.group(1)}{0xffff ^ int(m.group(2), 16):04x}{m.group(3)}",
                          good.read_text())
    assert n > 0, "no CCU2C in the mapped adder trees"
    bad = good.with_name("mapped_sim_broken.v")
    bad.write_text(bad_text)
    with pytest.raises(RunFailed, match="outputs differ from the golden model"):
        run_head_cosim(cfg, tokens=10, seed=5, sim="icarus", tag="mapped_broken",
                       netlist=bad)
