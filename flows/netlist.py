"""A flat Yosys JSON gate netlist (``write_json`` after ``synth -flatten``; ``$_*_`` gates and
``$_DFF_*_`` flip-flops): its nets' fan-out and its logic depth.

Read by the generic synthesis (:mod:`flows.synth.generic`: depth and mean fan-out in the report)
and the switching-activity run (:mod:`flows.ppa.activity`: toggles grouped by fan-out, the
flip-flops' outputs and count).  Net bits are Yosys' integer bit numbers; constants
(``"0"``, ``"1"``, ``"x"``) are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

__all__ = ["load_module", "is_ff", "fanout", "ff_outputs", "count_ffs", "ff_enables",
           "clock_bits", "net_names",
           "logic_depth"]


def load_module(netlist_json: Path, top: str) -> dict:
    """Module ``top`` of a Yosys JSON netlist (the first module when there is no ``top``)."""
    data = json.loads(Path(netlist_json).read_text())
    return data["modules"].get(top) or next(iter(data["modules"].values()))


def is_ff(cell_type: str, latches: bool = True) -> bool:
    """A storage cell: a flip-flop (and, with ``latches``, a latch)."""
    return "DFF" in cell_type or (latches and "LATCH" in cell_type)


def _bits(bits: Iterable) -> list[int]:
    return [b for b in bits if isinstance(b, int)]


def fanout(mod: dict, *, latches: bool = True,
           ff_sinks: tuple[str, ...] | None = ("D",)) -> dict[int, int]:
    """Sinks per net bit: every gate input pin (all but ``Y``), the storage cells' pins named in
    ``ff_sinks`` (None: all but ``Q``, clock and enables included) and each output port.

    ``latches`` says whether latches count as storage cells or as gates."""
    count: dict[int, int] = {}
    for cell in mod["cells"].values():
        ff = is_ff(cell["type"], latches)
        for pin, bits in cell["connections"].items():
            if ff and (pin == "Q" if ff_sinks is None else pin not in ff_sinks):
                continue
            if not ff and pin == "Y":
                continue
            for b in _bits(bits):
                count[b] = count.get(b, 0) + 1
    for p in mod["ports"].values():
        if p["direction"] != "input":
            for b in _bits(p["bits"]):
                count[b] = count.get(b, 0) + 1
    return count


def ff_outputs(mod: dict, *, latches: bool = True) -> set[int]:
    """Bits driven by storage cells (their ``Q`` pins)."""
    return {b for c in mod["cells"].values() if is_ff(c["type"], latches)
            for b in _bits(c["connections"].get("Q", []))}


def count_ffs(mod: dict, *, latches: bool = True) -> int:
    return sum(1 for c in mod["cells"].values() if is_ff(c["type"], latches))


def ff_enables(mod: dict) -> dict[int | str, int]:
    """Enable flip-flops (``$_DFFE_PP_``, positive enable): enable net bit → flip-flops it
    enables.  Each distinct enable net is one clock gate."""
    out: dict[int | str, int] = {}
    for c in mod["cells"].values():
        if is_ff(c["type"], latches=False) and "E" in c["connections"]:
            if c["type"] != "$_DFFE_PP_":
                raise ValueError(f"enable flip-flop {c['type']}: only positive-enable "
                                 "$_DFFE_PP_ cells are expected")
            (b,) = c["connections"]["E"]
            out[b] = out.get(b, 0) + 1
    return out


def clock_bits(mod: dict) -> set[int]:
    """Net bits driving flip-flop clock pins (their energy is the flip-flops' clock energy)."""
    return {b for c in mod["cells"].values() if is_ff(c["type"])
            for b in _bits(c["connections"].get("C", []))}


def net_names(mod: dict) -> dict[str, list]:
    """Net name (without Yosys' leading backslash) → its bits."""
    return {n.lstrip("\\"): v["bits"] for n, v in mod["netnames"].items()}


def logic_depth(netlist_json: Path, top: str) -> dict:
    """Longest paths in gate levels of a flat ``$_*_`` gate netlist (Yosys JSON).

    Start points are input ports, flip-flop Q outputs and constants; end points are output ports
    and flip-flop D inputs.  Returns reg→reg, in→reg, reg→out, in→out depths (gates on the path),
    the average fan-out of gate/flip-flop outputs, and the net count."""
    mod = load_module(netlist_json, top)
    driver_cell: dict[int, int] = {}      # bit → gate index driving it
    gate_inputs: list[list[int]] = []
    ff_d: list[int] = []
    for cell in mod["cells"].values():
        conns = cell["connections"]
        if is_ff(cell["type"]):
            ff_d += _bits(conns.get("D", []))
            continue
        idx = len(gate_inputs)
        gate_inputs.append([b for p, bits in conns.items() if p != "Y" for b in _bits(bits)])
        for b in _bits(conns.get("Y", [])):
            driver_cell[b] = idx
    ff_q = ff_outputs(mod)
    fan = fanout(mod)
    in_bits: set[int] = set()
    out_bits: list[int] = []
    for p in mod["ports"].values():
        if p["direction"] == "input":
            in_bits.update(_bits(p["bits"]))
        else:
            out_bits += _bits(p["bits"])
    # depth[g] = (longest from a register, longest from an input); -1 = unreachable.
    n = len(gate_inputs)
    from_reg = [-2] * n
    from_in = [-2] * n

    def source(bit: int) -> tuple[int, int]:
        if bit in ff_q:
            return (0, -1)
        if bit in in_bits:
            return (-1, 0)
        return (-1, -1)  # constant / undriven

    for g0 in range(n):
        if from_reg[g0] != -2:
            continue
        stack = [(g0, False)]
        while stack:
            g, expanded = stack.pop()
            if from_reg[g] != -2 and not expanded:
                continue
            if not expanded:
                stack.append((g, True))
                for b in gate_inputs[g]:
                    d = driver_cell.get(b)
                    if d is not None and from_reg[d] == -2:
                        stack.append((d, False))
                continue
            if from_reg[g] != -2:
                continue
            r = i = -1
            for b in gate_inputs[g]:
                d = driver_cell.get(b)
                if d is not None:
                    rr, ii = from_reg[d], from_in[d]
                    rr = -1 if rr < -1 else rr  # combinational loop guard
                    ii = -1 if ii < -1 else ii
                else:
                    rr, ii = source(b)
                r, i = max(r, rr), max(i, ii)
            from_reg[g] = r + 1 if r >= 0 else -1
            from_in[g] = i + 1 if i >= 0 else -1

    def end_depth(bits: list[int]) -> tuple[int, int]:
        r = i = 0
        for b in bits:
            d = driver_cell.get(b)
            if d is not None:
                r, i = max(r, from_reg[d]), max(i, from_in[d])
        return r, i

    rr, ir = end_depth(ff_d)
    ro, io = end_depth(out_bits)
    fo = [fan.get(b, 0) for b in list(driver_cell) + list(ff_q)]
    return {"reg_to_reg": rr, "in_to_reg": ir, "reg_to_out": ro, "in_to_out": io,
            "avg_fanout": round(sum(fo) / len(fo), 3) if fo else 0.0, "n_nets": len(fo),
            "reg_to_reg_path": _deepest_path(mod, ff_d, driver_cell, gate_inputs, from_reg,
                                             ff_q, rr)}


def _deepest_path(mod, ff_d, driver_cell, gate_inputs, from_reg, ff_q, depth) -> dict:
    """Start and end flip-flop (net names) of one deepest reg→reg path, walked back from the
    flip-flop input that ends it: where the clock is lost, for the report."""
    if depth <= 0:
        return {"from": None, "to": None}
    ports = set(mod["ports"])

    def rank(name: str) -> int:   # a register's own name before a port it drives, before $...
        return 2 if name[0] == "$" else 1 if name in ports else 0

    names: dict[int, str] = {}
    best: dict[int, int] = {}
    for name, net in mod["netnames"].items():
        for i, b in enumerate(net["bits"]):
            if isinstance(b, int) and rank(name) < best.get(b, 3):
                best[b] = rank(name)
                names[b] = f"{name}[{i}]" if len(net["bits"]) > 1 else name
    end = next(b for b in ff_d if driver_cell.get(b) is not None
               and from_reg[driver_cell[b]] == depth)
    g, start = driver_cell[end], None
    while start is None:
        for b in gate_inputs[g]:
            d = driver_cell.get(b)
            if d is not None and from_reg[d] == from_reg[g] - 1:
                g = d
                break
            if d is None and b in ff_q and from_reg[g] == 1:
                start = b
                break
        else:
            break   # no predecessor found (should not happen)
    # Name the end by the flip-flop it loads (its Q net), not by the gate net into its D.
    q_of = {}
    for c in mod["cells"].values():
        if is_ff(c["type"]):
            for d, q in zip(c["connections"].get("D", []), c["connections"].get("Q", [])):
                q_of[d] = q
    return {"from": names.get(start), "to": names.get(q_of.get(end, end))}
