"""The co-simulation shell's generator (tb/cosim/shell.py): ports mirrored from the head."""

import numpy as np
import pytest

from hdl.config import HeadConfig
from tb.cosim.shell import SHELL_TOP, head_ports, shell_verilog

HEAD = """module attention_head(clk, rst, o_wl_q, o_c2p1_integrate, o_c2p2_fire, i_c2p_pulse,
 i_c2p_sign, o_out__payload, o_out__valid, i_tok__ready);
  output o_out__valid;
  output i_tok__ready;
  input clk;
  input rst;
  output [3:0] o_wl_q;
  output o_c2p1_integrate;
  output o_c2p2_fire;
  input [11:0] i_c2p_pulse;
  input [11:0] i_c2p_sign;
  output [29:0] o_out__payload;
  output o_c2p1_fire;
  input i_tok__valid;
  input [39:0] i_tok__payload;
  input o_out__ready;
  output [11:0] o_valid;
  output [2:0] o_tile_sel;
  output [3:0] o_col_sel;
  output [11:0] o_dac_k;
  output [11:0] o_dac_v;
  output o_discharge_k;
  output o_we_k;
  output o_discharge_v;
  output o_we_v;
endmodule
"""
CFG = HeadConfig().with_overrides(["array.head_dim=4", "array.n_tiles=3", "array.tile_cols=4"])


def test_ports_are_read_from_the_head():
    assert head_ports(HEAD)[:10] == [("output", 1, "o_out__valid"), ("output", 1, "i_tok__ready"),
                                     ("input", 1, "clk"), ("input", 1, "rst"),
                                     ("output", 4, "o_wl_q"), ("output", 1, "o_c2p1_integrate"),
                                     ("output", 1, "o_c2p2_fire"), ("input", 12, "i_c2p_pulse"),
                                     ("input", 12, "i_c2p_sign"), ("output", 30, "o_out__payload")]
    assert len(head_ports(HEAD)) == 23


def test_shell_mirrors_the_pins_and_plays_the_pulses():
    v = shell_verilog(CFG, HEAD)
    assert f"module {SHELL_TOP}(" in v
    header = v.split(");", 1)[0]
    # the played pins are internal; every other head pin is a shell port of the same width
    assert "i_c2p_pulse" not in header and "i_c2p_sign" not in header
    assert "output [29:0] o_out__payload" in header and "output [3:0] o_wl_q" in header
    assert "input [47:0] i_pp_planes" in header          # 12 lanes × count_bits 4
    # 4 lanes × (q_bits 4 + 1) width bits
    assert "input [11:0] i_pp_sign" in header and "output [19:0] o_wl_width" in header
    assert ".i_c2p_pulse(i_c2p_pulse)" in v and ".o_wl_q(o_wl_q)" in v
    assert "input [31:0] i_tb_sleep" in header and "output o_tb_wake" in header
    assert "output o_br_wake" in header


def test_shell_needs_the_pins_it_drives():
    with pytest.raises(ValueError, match=r"the head lacks pins \['o_c2p2_fire'\]"):
        shell_verilog(CFG, HEAD.replace("o_c2p2_fire", "o_other"))
    with pytest.raises(ValueError, match="no module attention_head"):
        shell_verilog(CFG, "module x(); endmodule")


def _stub_head(body: str = "", driven: tuple[str, ...] = ()) -> str:
    """A module with HEAD's ports: the outputs in ``driven`` set by ``body``, the rest 0."""
    ports = head_ports(HEAD)
    decl = "\n".join(f"  {d} {'' if w == 1 else f'[{w - 1}:0] '}{n};" for d, w, n in ports)
    ties = "\n".join(f"  assign {n} = 0;" for d, _, n in ports
                     if d == "output" and n not in driven)
    return (f"module attention_head({', '.join(n for _, _, n in ports)});\n{decl}\n{ties}\n"
            f"{body}endmodule\n")


def test_shell_lints_clean(tmp_path):
    """The shell (around a head with the same ports, outputs tied to 0) has 0 warnings under
    Verilator's default lint, as the generated head has."""
    from flows.tools import lint_verilog

    stub = _stub_head()
    (tmp_path / "head.v").write_text(stub)
    (tmp_path / "shell.v").write_text(shell_verilog(CFG, stub))
    out = lint_verilog([tmp_path / "head.v", tmp_path / "shell.v"], SHELL_TOP)
    assert "%Warning" not in out, out


def test_bit_planes_layout():
    """Plane b holds bit b of every count (the pulse player's layout), checked bit by bit."""
    from tb.cosim.bus import bit_planes
    counts = np.array([0, 1, 5, 15, 8, 6])
    planes = bit_planes(counts, 4)
    assert planes.shape == (24,)
    for b in range(4):
        for i, c in enumerate(counts):
            assert planes[b * len(counts) + i] == bool((int(c) >> b) & 1)


def test_from_bit_planes_reads_the_planes_back():
    """Bit b of value i is bit b·n + i of the planes (checked against bit-by-bit sums)."""
    from tb.cosim.bus import bit_planes, from_bit_planes
    rng = np.random.default_rng(3)
    for width in (1, 3, 5, 12):
        values = rng.integers(0, 1 << width, 37)
        planes = rng.random(37 * width) < 0.5
        got = from_bit_planes(planes, 37, width)
        assert got.dtype == np.int64
        assert got.tolist() == [sum(int(planes[b * 37 + i]) << b for b in range(width))
                                for i in range(37)]
        assert np.array_equal(from_bit_planes(bit_planes(values, width), 37, width), values)


@pytest.mark.parametrize("t_clk_ns, high, low", [(1.0, "0.5", "0.5"), (1.25, "0.625", "0.625")])
def test_shell_clock_is_high_then_low_for_the_period(t_clk_ns, high, low):
    """The shell's own clock: high for the first half period once i_clk_run rises (the
    testbench and the bridge count cycles as elapsed time / period from that moment)."""
    cfg = CFG.with_overrides([f"timing.t_clk_ns={t_clk_ns}"])
    v = shell_verilog(cfg, HEAD)
    assert f"forever begin clk = 1'b1; #{high}; clk = 1'b0; #{low}; end" in v
    assert "output reg clk /*verilator public_flat_rd*/" in v
    assert "wait (i_clk_run);" in v


def test_pwm_width_counters_count_restart_and_saturate(tmp_path):
    """The shell's bit-sliced PWM width counters, simulated (Icarus) around a stub head whose
    word lines stay high for 3, 15, 31 and 40 cycles of a 44-cycle integrate, then 3, 6, 6, 6
    of a 6-cycle one: each lane reads min(cycles high, 2**width_bits − 1) — a line high past
    the PWM frame reads above q_max, which pulse_fraction refuses — and restarts at the next
    integrate."""
    from analog_models.dac import pulse_fraction
    from flows.tools import compile_icarus, run_vvp
    from tb.cosim.bus import from_bit_planes
    from tb.cosim.shell import width_bits

    d, wb, q_max = CFG.array.head_dim, width_bits(CFG), CFG.array.q_max
    high = [3, 15, 31, 40]
    lanes = ", ".join(f"k < {h}" for h in reversed(high))
    stub = _stub_head(f"""  reg [7:0] n = 0;
  always @(posedge clk) n <= n + 1;
  assign o_c2p1_integrate = (n >= 2 && n < 46) || (n >= 50 && n < 56);
  wire [7:0] k = n >= 50 ? n - 50 : n - 2;       // cycles since the integrate rose
  assign o_wl_q = {{{lanes}}};
""", driven=("o_wl_q", "o_c2p1_integrate"))
    tb = f"""module tb;
  reg run = 0;
  wire clk;
  wire [{d * wb - 1}:0] w;
  {SHELL_TOP} dut(.clk(clk), .i_clk_run(run), .o_wl_width(w));
  initial run = 1;
  always @(negedge clk) begin
    if (dut.u_head.n == 48) $display("W1 %b", w);
    if (dut.u_head.n == 58) begin $display("W2 %b", w); $finish; end
  end
endmodule
"""
    (tmp_path / "head.v").write_text(stub)
    (tmp_path / "shell.v").write_text(shell_verilog(CFG, stub))
    (tmp_path / "tb.v").write_text(tb)
    compile_icarus([tmp_path / "head.v", tmp_path / "shell.v", tmp_path / "tb.v"], "tb",
                   tmp_path / "sim.vvp")
    out = run_vvp(tmp_path / "sim.vvp", tmp_path)
    got = {}
    for line in out.splitlines():
        if line.startswith(("W1 ", "W2 ")):
            bits = np.array([c == "1" for c in line.split()[1]][::-1])
            got[line[:2]] = from_bit_planes(bits, d, wb).tolist()
    top = 2**wb - 1
    assert got == {"W1": [min(h, top) for h in high], "W2": [min(h, 6) for h in high]}, out
    assert got["W1"][3] > q_max
    with pytest.raises(ValueError, match=rf"pulse width must be 0\.\.{q_max} cycles, found"):
        pulse_fraction(np.array(got["W1"]), CFG)
