"""The shift-register I/O harness that puts a wide block on an FPGA package.

The blocks' ports (hundreds to thousands of bits) exceed every package: for FPGA figures the
block is wrapped so that every data input is a bit of a serial-in shift register and every
output is captured into a parallel-load shift register shifted out.  All paths of the block are
then register-bounded, and the pin count is small whatever the block's width (DESIGN.md §7).
The harness source is part of the FPGA cache key (:func:`flows.synth.fpga.script_hash`).
"""

from __future__ import annotations

from hdl.fanout import REPLICA_MARK

__all__ = ["HARNESS_CHAIN", "harness_verilog"]

#: Longest harness shift register.  One long chain (thousands of flip-flops) overflows the
#: call stack of YoWASP Yosys in synth_ecp5's techmap (a recursive topological sort); chains of
#: this length are measured safe, and the harness uses as many as it needs, in parallel.
HARNESS_CHAIN = 512

#: Output bits per copy of the registered capture enable.
CAPTURE_COPY_BITS = 128


def _vname(name: str) -> str:
    """A port name usable in a Verilog reference (escaped identifiers keep their trailing space)."""
    return name + " " if name.startswith("\\") else name


def harness_verilog(top: str, ports: list[tuple[str, str, int]],
                    chain: int = HARNESS_CHAIN) -> tuple[str, dict[str, int]]:
    """A shift-register I/O harness around ``top``: pins clk, rst, cap, sin[i], sout[o]
    (``rst`` reaches the block through a flip-flop).

    Every data input is a bit of a serial-in shift register; every output is captured into a
    parallel-load shift register (``cap``) shifted out.  Chains are at most ``chain`` bits long
    (one serial pin each).  All paths of the block are register-bounded, and the pin count is
    small whatever the block's width."""
    ins = [(n, w) for d, n, w in ports if d == "input" and n not in ("clk", "rst")]
    outs = [(n, w) for d, n, w in ports if d == "output"]
    has_rst = any(n == "rst" for _, n, _ in ports)
    has_clk = any(n == "clk" for _, n, _ in ports)
    ni = max(1, sum(w for _, w in ins))
    no = max(1, sum(w for _, w in outs))
    ci, co = -(-ni // chain), -(-no // chain)
    conns = []
    if has_clk:
        conns.append(".clk(clk)")
    if has_rst:
        conns.append(".rst(h_rst)")   # registered: the pin is not a timed path to every FF
    pos = 0
    for n, w in ins:
        conns.append(f".{_vname(n)}(h_si[{pos + w - 1}:{pos}])")
        pos += w
    pos = 0
    for n, w in outs:
        conns.append(f".{_vname(n)}(h_do[{pos + w - 1}:{pos}])")
        pos += w
    body = []
    for k in range(ci):
        lo, hi = k * chain, min(ni, (k + 1) * chain) - 1
        src = f"{{h_si[{hi - 1}:{lo}], sin[{k}]}}" if hi > lo else f"sin[{k}]"
        body.append(f"  always @(posedge clk) h_si[{hi}:{lo}] <= {src};")
    # The capture pin, registered and replicated (one copy per CAPTURE_COPY_BITS outputs,
    # kept by the FPGA flow: hdl/fanout.py names), so that it is not one net to every output.
    caps = []
    for k in range(co):
        lo, hi = k * chain, min(no, (k + 1) * chain) - 1
        for c_lo in range(lo, hi + 1, CAPTURE_COPY_BITS):
            c_hi = min(hi, c_lo + CAPTURE_COPY_BITS - 1)
            cap = f"h_cap{REPLICA_MARK}{len(caps)}"
            caps.append(cap)
            body.append(f"  always @(posedge clk) {cap} <= cap;")
            prev = "1'b0" if c_lo == lo else f"h_so[{c_lo - 1}]"   # the bit shifted in
            shift = f"{{h_so[{c_hi - 1}:{c_lo}], {prev}}}" if c_hi > c_lo else prev
            body.append(f"  always @(posedge clk) h_so[{c_hi}:{c_lo}] <= {cap} ? "
                        f"h_do[{c_hi}:{c_lo}] : {shift};")
        body.append(f"  assign sout[{k}] = h_so[{hi}];")
    text = f"""// I/O harness (flows/synth/harness.py): the block's {ni} input and {no} output
// bits are reached through {ci} + {co} shift registers of <= {chain} bits (FPGA figures only).
module harness_top(input clk, input rst, input cap, input [{ci - 1}:0] sin,
                   output [{co - 1}:0] sout);
  reg [{ni - 1}:0] h_si = 0;
  reg [{no - 1}:0] h_so = 0;
  reg h_rst = 0;
  reg {", ".join(f"{c} = 0" for c in caps)};
  always @(posedge clk) h_rst <= rst;
  wire [{no - 1}:0] h_do;
{chr(10).join(body)}
  {top} dut (
    {(',' + chr(10) + '    ').join(conns)}
  );
endmodule
"""
    return text, {"harness_in_ffs": ni, "harness_out_ffs": no,
                  "in_bits": sum(w for _, w in ins), "out_bits": sum(w for _, w in outs),
                  "harness_pins": 3 + ci + co, "harness_control_ffs": 1 + len(caps)}
