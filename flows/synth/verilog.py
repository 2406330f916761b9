"""The design under synthesis: which blocks (from :mod:`hdl.registry`), their Verilog (through
:func:`hdl.generate.generate`) and their ports as the Verilog declares them.

Ports are read from the Verilog text, not from the Amaranth component
(:func:`hdl.generate.port_list`): the FPGA flow also takes hand-written Verilog, and only the
Verilog says whether a block has ``clk`` and ``rst`` (Amaranth adds them when the block uses its
clock domain; they are not members of the component's signature).
"""

from __future__ import annotations

import re
from pathlib import Path

from hdl.config import HeadConfig
from hdl.registry import BLOCKS, HEAD_BLOCK

from .targets import SynthError

__all__ = ["resolve_blocks", "emit_verilog", "parse_ports"]


def resolve_blocks(spec: str) -> list[str]:
    """``NAME`` | ``all`` (every registered block) | ``head`` (the whole head) → registry names;
    comma-separated allowed."""
    names: list[str] = []
    for item in [s.strip() for s in spec.split(",") if s.strip()]:
        if item == "all":
            names += [b for b in BLOCKS if b not in names]
        elif item == "head":
            names.append(HEAD_BLOCK)
        elif item in BLOCKS:
            names.append(item)
        else:
            raise SynthError(f"unknown block {item!r}; known: {', '.join(BLOCKS)}, all, head")
    if not names:
        raise SynthError("no block given")
    return names


def emit_verilog(cfg: HeadConfig, block: str, out_dir: Path) -> Path:
    """Write ``<block>.v`` (with ``config.json`` and ``manifest.json``) for ``cfg`` into
    ``out_dir``; return the Verilog file."""
    from hdl.generate import generate

    generate(cfg, out_dir, blocks=[block])
    return Path(out_dir) / f"{block}.v"


_PORT_RE = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?"
                      r"(?:\[(-?\d+):(-?\d+)\]\s*)?(\\\S+|[A-Za-z_][\w$]*)\s*;")


def parse_ports(verilog_text: str, top: str) -> list[tuple[str, str, int]]:
    """Ports of module ``top``: (direction, name, width), in declaration order."""
    m = re.search(rf"^module\s+\\?{re.escape(top)}\s*\(", verilog_text, re.M)
    if m is None:
        raise SynthError(f"module {top!r} not found in the Verilog")
    end = verilog_text.find("endmodule", m.end())
    ports = []
    for line in verilog_text[m.end():end].splitlines():
        pm = _PORT_RE.match(line)
        if pm:
            d, hi, lo, name = pm.groups()
            width = abs(int(hi) - int(lo)) + 1 if hi is not None else 1
            ports.append((d, name, width))
    return ports
