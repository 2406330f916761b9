"""The co-simulation shell: a small Verilog top level around the generated ``attention_head``.

It passes every head pin through under the same name (the testbench and the analog bridge see
the head's pins as before) and adds two circuits the analog side would otherwise run in Python
once per clock cycle:

* **PWM width counters** ``o_wl_width`` (head_dim × 16 bits): cycles each query word line
  ``o_wl_q[i]`` was high while ``o_c2p1_integrate`` was high, restarted when integrate rises;
  what the bridge's per-cycle sum of the pins gave, read once at the ReLU C2P fire.
* **Pulse player** for the signed C2P inputs: the bridge loads the counts ``i_pp_count``
  (n_tiles·head_dim × count_bits) and signs ``i_pp_sign`` once per token, when
  ``o_c2p2_fire`` rises; the shell drives ``i_c2p_pulse[j] = fire ∧ (count[j] > k)`` with k the
  cycles since fire rose, and ``i_c2p_sign = fire ? sign : 0``.  The head samples exactly what
  the bridge drove before at its falling edges: ``count > k`` in the k-th fire cycle, and 0
  outside fire.
* **Testbench alarm** ``o_tb_wake``: rises when the output's valid rises (``i_tb_watch_valid``),
  the input's ready rises (``i_tb_watch_ready``), or ``i_tb_sleep`` cycles after the testbench
  toggled ``i_tb_seq`` (0: no alarm) — one trigger the testbench sleeps on, instead of a
  ``First`` of several (each a cocotb task).

With two C2P sets per column (``timing.schedule = "pingpong"``) the phase pins have a bit per
set; the shell uses their OR (one set integrates, one fires at a time).

The port widths are read from the generated head (its ``module attention_head`` declarations),
so the shell follows any config (:mod:`tb.cosim.head` writes it beside the head's Verilog).
"""

from __future__ import annotations

import re

from hdl.config import HeadConfig

__all__ = ["SHELL_TOP", "head_ports", "shell_verilog"]

SHELL_TOP = "attention_head_cosim"
#: Bits of each PWM width counter (saturating).
WIDTH_BITS = 16
_PLAYED = ("i_c2p_pulse", "i_c2p_sign")


def head_ports(verilog: str, module: str = "attention_head") -> list[tuple[str, int, str]]:
    """(direction, width, name) of ``module``'s ports, from its declarations."""
    m = re.search(rf"^module {module}\(.*?\);(.*?)^endmodule", verilog, re.S | re.M)
    if not m:
        raise ValueError(f"no module {module} in the Verilog")
    ports = []
    for d, hi, lo, name in re.findall(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?"
                                      r"(?:\[(\d+):(\d+)\]\s*)?(\w+)\s*;", m.group(1), re.M):
        ports.append((d, int(hi) - int(lo) + 1 if hi else 1, name))
    return ports


def _decl(d: str, width: int, name: str) -> str:
    return f"  {d} {'' if width == 1 else f'[{width - 1}:0] '}{name}"


def shell_verilog(cfg: HeadConfig, head_verilog: str) -> str:
    """The shell's Verilog for ``cfg`` around the head in ``head_verilog``."""
    a = cfg.array
    ports = head_ports(head_verilog)
    names = {n for _, _, n in ports}
    need = {"clk", "o_wl_q", "o_c2p1_integrate", "o_c2p2_fire", "o_out__valid", "i_tok__ready",
            *_PLAYED}
    if not need <= names:
        raise ValueError(f"the head lacks pins {sorted(need - names)}")
    lanes = a.n_tiles * a.head_dim
    cb, d, wb = a.count_bits, a.head_dim, WIDTH_BITS
    kb = cb + 1                                   # counts up to count_max, then saturates
    decls = [_decl(dr, w, n) for dr, w, n in ports if n not in _PLAYED]
    decls += [_decl("input", lanes * cb, "i_pp_count"), _decl("input", lanes, "i_pp_sign"),
              _decl("output", d * wb, "o_wl_width"), _decl("input", 32, "i_tb_sleep"),
              _decl("input", 1, "i_tb_seq"), _decl("input", 1, "i_tb_watch_valid"),
              _decl("input", 1, "i_tb_watch_ready"), _decl("output", 1, "o_tb_wake")]
    conns = ",\n".join(f"    .{n}({n})" for _, _, n in ports)
    decl_text = ",\n".join(decls)
    return f"""// Co-simulation shell around attention_head (tb/cosim/shell.py; generated, do not edit).
module {SHELL_TOP}(
{decl_text}
);
  wire [{lanes - 1}:0] i_c2p_pulse;
  wire [{lanes - 1}:0] i_c2p_sign;
  attention_head u_head(
{conns}
  );
  // pulse player: count > k in the k-th cycle of the signed C2P fire
  reg [{kb - 1}:0] pp_k = 0;
  always @(posedge clk)
    pp_k <= (|o_c2p2_fire) ? (pp_k == {{{kb}{{1'b1}}}} ? pp_k : pp_k + 1'b1) : {kb}'d0;
  genvar j;
  generate
    for (j = 0; j < {lanes}; j = j + 1) begin : play
      assign i_c2p_pulse[j] = (|o_c2p2_fire) & ({{1'b0, i_pp_count[j*{cb} +: {cb}]}} > pp_k);
    end
  endgenerate
  assign i_c2p_sign = (|o_c2p2_fire) ? i_pp_sign : {lanes}'d0;
  // PWM width counters: cycles each word line is high during the QK integrate
  reg integ_d = 0;
  always @(posedge clk) integ_d <= |o_c2p1_integrate;
  generate
    for (j = 0; j < {d}; j = j + 1) begin : pwm
      reg [{wb - 1}:0] w = 0;
      always @(posedge clk)
        if (|o_c2p1_integrate)
          w <= (integ_d ? (w == {{{wb}{{1'b1}}}} ? w : w + o_wl_q[j]) : {{{wb - 1}'d0, o_wl_q[j]}});
      assign o_wl_width[j*{wb} +: {wb}] = w;
    end
  endgenerate
  // testbench alarm: i_tb_sleep cycles after i_tb_seq toggled, or a watched rise
  reg tb_seq_d = 0;
  reg [31:0] tb_left = 0;
  always @(posedge clk) begin
    tb_seq_d <= i_tb_seq;
    if (i_tb_seq != tb_seq_d) tb_left <= i_tb_sleep;
    else if (tb_left != 0) tb_left <= tb_left - 1;
  end
  assign o_tb_wake = (i_tb_watch_valid & o_out__valid) | (i_tb_watch_ready & i_tok__ready)
                     | (tb_left == 32'd1);
endmodule
"""
