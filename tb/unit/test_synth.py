"""flows.synth: report schema, logic depth, caching, I/O harness, and "does not fit"."""

from __future__ import annotations

import json

import pytest

from flows import synth as S
from hdl.config import load_config
from hdl.registry import BLOCKS

pytestmark = pytest.mark.xdist_group("flows-synth")  # one worker: they share build/synth/cache

SMALL = ["array.n_tiles=4", "array.head_dim=8"]


def _write(name: str, text: str):
    """Hand-written Verilog under build/ (YoWASP cannot see /tmp)."""
    d = S.BUILD / "test_designs"
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    p.write_text(text)
    return p


def test_report_schema_generic_and_fpga(tmp_path):
    cfg = load_config(None, SMALL)
    rep = S.run_synth(cfg, ["pwm_bank", "address_decoder"], ["generic", "ice40-hx8k"])
    assert rep["schema"] == "gca-synth-report/1"
    assert rep["config_hash"] == cfg.hash and rep["config"] == cfg.to_dict()
    assert set(rep["tools"]) == {"yosys", "nextpnr-ice40", "nextpnr-ecp5"}
    assert "Yosys" in rep["tools"]["yosys"]
    assert set(rep["rtl_source"]) == {"root", "commit", "hdl_uncommitted_changes"}
    for block in ("pwm_bank", "address_decoder"):
        g = rep["blocks"][block]["targets"]["generic"]
        assert g["status"] == "ok"
        assert g["n_cells"] == g["n_gates"] + g["n_ff"] == sum(g["cells_by_type"].values())
        t = g["transistors"]
        assert t["total"] == (t["gates"] + g["n_ff"] * S.FF_TRANSISTORS
                              + t["n_icg"] * S.ICG_TRANSISTORS)
        assert t["unknown_cell_types"] == []
        for k in ("reg_to_reg", "in_to_reg", "reg_to_out", "in_to_out", "ltp_noff"):
            assert isinstance(g["depth"][k], int) and g["depth"][k] >= 0
        # Yosys' ltp counts any path; ours split by start/end point: the longest must agree.
        d = g["depth"]
        assert d["ltp_noff"] == max(d["reg_to_reg"], d["in_to_reg"], d["reg_to_out"],
                                    d["in_to_out"])
        f = rep["blocks"][block]["targets"]["ice40-hx8k"]
        assert f["status"] == "ok", f
        assert f["lut"] > 0 and f["fmax_mhz"] > 0 and f["constraint_mhz"] > 0
        assert f["io"]["mode"] == "shift-register harness"
        assert f["ff"] >= f["io"]["harness_in_ffs"] + f["io"]["harness_out_ffs"]
        assert 0 < f["utilisation"]["ICESTORM_LC"]["pct"] < 100
    S.write_report(rep, tmp_path)
    back = json.loads((tmp_path / "report.json").read_text())
    assert back["blocks"].keys() == rep["blocks"].keys()
    md = (tmp_path / "report.md").read_text()
    assert "| pwm_bank |" in md and "ice40-hx8k" in md and "harness" in md


def test_logic_depth_of_a_known_circuit():
    v = _write("and4.v", """
module and4(input clk, input a, input b, input c, input d, output q);
  reg ar, br, cr, dr, qr;
  always @(posedge clk) begin ar <= a; br <= b; cr <= c; dr <= d; qr <= ar & br & cr & dr; end
  assign q = qr;
endmodule
""")
    r = S.synth_generic(v, "and4")
    assert r["n_ff"] == 5
    assert r["depth"]["reg_to_reg"] == 2          # a 4-input AND is two 2-input levels
    path = r["depth"]["reg_to_reg_path"]          # named by the registers that bound it
    assert path["from"] in ("ar", "br", "cr", "dr") and path["to"] in ("qr", "q")  # q = qr
    assert r["depth"]["in_to_reg"] == 0 and r["depth"]["reg_to_out"] == 0
    assert r["transistors"]["gates"] == 3 * 6     # three $_AND_ (6 T each)
    again = S.synth_generic(v, "and4")
    assert again["cached"] and again["depth"] == r["depth"]


def test_critical_path_from_a_nextpnr_report():
    """Start and end of the slowest path, logic and routing split (nextpnr --report layout)."""
    def seg(kind, a, b, delay, net=None):
        s = {"type": kind, "from": {"cell": a, "port": "Q"}, "to": {"cell": b, "port": "D"},
             "delay": delay}
        return {**s, "net": net} if net else s

    rep = {"critical_paths": [
        {"from": "posedge clk", "to": "posedge clk", "path": [seg("clk-to-q", "f1", "f1", 0.5),
                                                              seg("routing", "f1", "f2", 1.0,
                                                                  "fast_q")]},
        {"from": "posedge clk", "to": "posedge clk", "path": [
            seg("clk-to-q", "ready_FF", "ready_FF", 0.5),
            seg("routing", "ready_FF", "lut", 3.0, "ready"),
            seg("logic", "lut", "lut", 0.4),
            seg("routing", "lut", "tok_FF", 2.0, "tok_en"),
            seg("setup", "tok_FF", "tok_FF", 0.1)]}]}
    cp = S.critical_path(rep)
    assert (cp["from_cell"], cp["to_cell"]) == ("ready_FF", "tok_FF")
    assert (cp["from_net"], cp["to_net"], cp["segments"]) == ("ready", "tok_en", 2)
    assert cp["routing_ns"] == 5.0 and cp["logic_ns"] == 1.0 and cp["total_ns"] == 6.0
    assert S.critical_path({}) is None


def test_too_big_design_is_reported_not_fit():
    # 16 bit × 10240 words of block RAM = 40 SB_RAM40_4K; an iCE40 UP5K has 30.
    v = _write("bigram.v", """
module bigram(input clk, input rst, input we, input [13:0] wa, input [13:0] ra,
              input [15:0] wd, output reg [15:0] rd);
  reg [15:0] mem [0:10239];
  always @(posedge clk) begin
    if (we) mem[wa] <= wd;
    rd <= mem[ra];
  end
endmodule
""")
    r = S.synth_fpga(v, "bigram", "ice40-up5k", harness="never", timeout_s=300)
    assert r["status"] == "does not fit", r
    assert "ICESTORM_RAM" in r["reason"]
    assert r["utilisation"]["ICESTORM_RAM"]["used"] > r["utilisation"]["ICESTORM_RAM"][
        "available"]
    assert "fmax_mhz" not in r


def test_block_names_resolve_from_the_registry():
    assert S.resolve_blocks("head") == [S.HEAD_BLOCK]
    assert S.resolve_blocks("all") == list(BLOCKS)
    assert S.resolve_blocks("pwm_bank, adder_tree") == ["pwm_bank", "adder_tree"]


def test_unknown_block_and_target_are_clear_errors(capsys):
    assert S.main(["--block", "nope"]) == 2
    assert "unknown block 'nope'" in capsys.readouterr().err
    with pytest.raises(S.SynthError, match="unknown target"):
        S.run_synth(load_config(None, SMALL), ["pwm_bank"], ["fpga9000"])


def test_harness_covers_every_port():
    ports = [("input", "clk", 1), ("input", "rst", 1), ("input", "i_a", 3),
             ("input", "\\i_b.x", 2), ("output", "o_y", 4)]
    text, info = S.harness_verilog("blk", ports)
    assert info == {"harness_in_ffs": 5, "harness_out_ffs": 4, "in_bits": 5, "out_bits": 4,
                    "harness_pins": 5, "harness_control_ffs": 2}   # registered rst and cap
    assert ".i_a(h_si[2:0])" in text and ".\\i_b.x (h_si[4:3])" in text
    assert ".o_y(h_do[3:0])" in text and ".clk(clk)" in text and ".rst(h_rst)" in text
    # Long ports are split into parallel chains (one long chain overflows YoWASP's stack).
    text, info = S.harness_verilog("blk", [("input", "i_w", 1000), ("output", "o_w", 1)],
                                   chain=512)
    assert info["harness_pins"] == 3 + 2 + 1
    assert "h_si[511:0] <= {h_si[510:0], sin[0]}" in text
    assert "h_si[999:512] <= {h_si[998:512], sin[1]}" in text
    assert "h_so[0:0] <= h_cap_rep0 ? h_do[0:0] : 1'b0" in text   # registered capture


def test_cli_writes_reports_outside_build(tmp_path, capsys):
    # --out under /tmp works: the tools run in build/synth, only the reports go to --out.
    args = ["--block", "address_decoder", "--target", "generic", "--out", str(tmp_path)]
    assert S.main(args + [f"--set={s}" for s in SMALL]) == 0
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["blocks"]["address_decoder"]["targets"]["generic"]["status"] == "ok"
    assert "| address_decoder |" in capsys.readouterr().out
