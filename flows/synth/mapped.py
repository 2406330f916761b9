"""The FPGA-mapped netlist of the head as simulation Verilog.

What goes on a board is the netlist after LUT mapping, not the RTL: Yosys' ABC9 has mis-mapped
ECP5 carry and clock-enable logic before (Yosys issue #5777), so the head's ``synth_ecp5``
netlist is simulated too (issue 12).  :func:`mapped_head_verilog` gives one Verilog file that
replaces the RTL head in the co-simulation (``tb.cosim.head``, ``netlist=``):

* the ECP5 netlist of ``attention_head`` (the chosen mapping, :data:`flows.synth.fpga.MAPPINGS`;
  the synthesis is the one the FPGA flow caches), renamed ``attention_head_mapped``;
* a module ``attention_head`` with the RTL's ports around it (the ``abc9`` mapping splits the
  ports into bits — ``splitnets -ports -format __`` names bit i of ``p`` ``p_i_``);
* the ECP5 cell models of the Yosys that mapped it (``share/lattice/common_sim.vh`` and
  ``ccu2c_sim.vh``: LUT4, PFUMX, L6MUX21, CCU2C, TRELLIS_FF, TRELLIS_DPR16X4 ...).

The file is cached by content beside the synthesis (:mod:`flows.cache` key of the synthesis).
"""

from __future__ import annotations

import re
from pathlib import Path

from hdl.config import HeadConfig
from hdl.registry import HEAD_BLOCK

from .fpga import MAPPINGS, fpga_synthesis
from .targets import BUILD, CACHE, SynthError
from .verilog import emit_verilog, parse_ports

__all__ = ["ecp5_cell_models", "mapped_head_verilog"]

#: The mapped module's name in the simulation file.
MAPPED_TOP = f"{HEAD_BLOCK}_mapped"


def ecp5_cell_models(netlist: str) -> str:
    """The ECP5 simulation models (Yosys ``share/lattice``, of the Yosys in use) of the cells
    ``netlist`` instantiates, and of the cells those use: only these, since other models
    (TRELLIS_COMB's ``$error``, vendor wrappers) are not plain Verilog-2005 for Icarus."""
    from hdl.toolchain import yosys_share

    lattice = yosys_share() / "lattice"
    text = "\n".join((lattice / n).read_text() for n in ("common_sim.vh", "ccu2c_sim.vh"))
    models = {m.group(1).lstrip("\\"): m.group(0) for m in
              re.finditer(r"^module\s+(\S+?)\s*[(#].*?^endmodule\b", text, re.S | re.M)}
    want, seen = set(_instantiated(netlist)) & set(models), set()
    while want:
        name = want.pop()
        seen.add(name)
        want |= (set(_instantiated(models[name])) & set(models)) - seen
    return "".join(f"// ---- {n} (Yosys share/lattice)\n{models[n]}\n" for n in sorted(seen))


def _instantiated(verilog: str) -> list[str]:
    """Module names instantiated in ``verilog`` (``Name #(`` or ``Name inst (``)."""
    return re.findall(r"^\s*\\?([A-Za-z_$][\w$]*)\s+(?:#\s*\(|\\?[\w$.\[\]]+\s*\()", verilog,
                      re.M)


def _adapter(rtl_ports: list[tuple[str, str, int]], mapped_ports: set[str]) -> str:
    """``module attention_head`` with the RTL's ports around the mapped module."""
    decl, conns = [], []
    for d, name, w in rtl_ports:
        decl.append(f"  {d} {'' if w == 1 else f'[{w - 1}:0] '}{name};")
        if name in mapped_ports:
            conns.append(f".{name}({name})")
        elif all(f"{name}_{i}_" in mapped_ports for i in range(w)):
            conns += [f".{name}_{i}_({name}[{i}])" for i in range(w)]
        else:
            raise SynthError(f"the mapped {HEAD_BLOCK} has no port {name} (nor its bits)")
    names = ", ".join(n for _, n, _ in rtl_ports)
    return (f"module {HEAD_BLOCK}({names});\n" + "\n".join(decl)
            + f"\n  {MAPPED_TOP} mapped (\n    " + ",\n    ".join(conns) + "\n  );\nendmodule\n")


def mapped_head_verilog(cfg: HeadConfig, mapping: str = "abc9", *,
                        force: bool = False) -> Path:
    """One Verilog file: the ECP5-mapped head for ``cfg``, the RTL-port wrapper and the cell
    models (see the module docstring); built once per synthesis result."""
    if mapping not in MAPPINGS:
        raise SynthError(f"mapping must be one of {', '.join(MAPPINGS)}, not {mapping!r}")
    vfile = emit_verilog(cfg, HEAD_BLOCK, BUILD / "verilog" / cfg.hash)
    skey, syn = fpga_synthesis(vfile, HEAD_BLOCK, "ecp5", harness=False, mapping=mapping,
                               force=force)
    sdir = CACHE.dir(skey)
    out = sdir / "mapped_sim.v"
    with CACHE.lock(skey, f"mapped simulation Verilog of {HEAD_BLOCK}", shared=True):
        if out.exists() and not force:
            return out
        net = (sdir / "netlist.v").read_text()
        net, n = re.subn(rf"^module {HEAD_BLOCK}\(", f"module {MAPPED_TOP}(", net, flags=re.M)
        if n != 1:
            raise SynthError(f"no module {HEAD_BLOCK} in {sdir / 'netlist.v'}")
        mapped_ports = {p for _, p, _ in parse_ports(net, MAPPED_TOP)}
        rtl_ports = parse_ports(vfile.read_text(), HEAD_BLOCK)
        text = (f"// {HEAD_BLOCK} after {syn.get('synth_command')} (flows/synth/mapped.py)\n"
                + net + "\n" + _adapter(rtl_ports, mapped_ports) + "\n" + ecp5_cell_models(net))
        tmp = out.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(out)
    return out
