"""Rewrites of Yosys-written Verilog that make an event-driven simulator (Icarus) fast.

Icarus evaluates a continuous assignment whenever any net it reads changes, whatever its
select says.  The head's read-out transposes the counter bit planes into per-column words once
per token, in ``assign y = reset ? {cnt4_r[511], cnt3_r[511], …} : 0`` (40 such assigns, 5,120
one-bit selects), yet the planes change in every counting cycle: each change re-ran ~1,100
part-select nodes per plane (≈ two thirds of the simulator's time at full size).
:func:`gate_wide_muxes` turns such a mux into a process, ``always @* if (reset) y = {…}; else
y = 0;``, which only tests the select while it is 0.  A process and a continuous assignment of
the same expression give the same values at every time step (an ``always @*`` also runs at time
zero); only the event count differs.

Used by :func:`flows.tools.flatten_for_simulation` (for both simulators: Verilator compiles
either form to the same code).
"""

from __future__ import annotations

import re

__all__ = ["gate_wide_muxes", "MIN_SELECTS"]

#: A mux is rewritten when its line has at least this many bit / part selects.
MIN_SELECTS = 32

_NAME = r"(?:\\\S+ |[A-Za-z_][\w$]*)"
# `assign Y = S ? A : B;` with a plain select S; A and B may not hold another `?`
_MUX = re.compile(rf"^(\s*)assign ({_NAME}) ?= ({_NAME}) ?\? ([^?]*) : ([^?]*);$")
_WIRE = re.compile(rf"^(\s*)wire ((?:\[\d+:\d+\] )?)({_NAME}) ?;$")


def _bare(name: str) -> str:
    return name.strip()


def gate_wide_muxes(text: str, min_selects: int = MIN_SELECTS) -> tuple[str, int]:
    """Rewrite every ``assign y = s ? a : b;`` whose line has ≥ ``min_selects`` bit or part
    selects (``[``) into ``always @* if (s) y = a; else y = b;`` and declare ``y`` a ``reg``.
    Only a ``y`` declared once as a plain ``wire`` and driven by that one assign is touched;
    the rest of ``text`` is kept byte for byte.  Returns the text and how many were rewritten."""
    lines = text.split("\n")
    drivers: dict[str, int] = {}
    for ln in lines:
        m = re.match(rf"^\s*assign ({_NAME}) ?[=\[]", ln)
        if m:
            drivers[_bare(m.group(1))] = drivers.get(_bare(m.group(1)), 0) + 1
    wires: dict[str, list[int]] = {}
    for i, ln in enumerate(lines):
        m = _WIRE.match(ln)
        if m:
            wires.setdefault(_bare(m.group(3)), []).append(i)
    done = 0
    for i, ln in enumerate(lines):
        m = _MUX.match(ln)
        if not m or ln.count("[") < min_selects:
            continue
        indent, y, sel, a, b = m.groups()
        name = _bare(y)
        if drivers.get(name) != 1 or len(wires.get(name, ())) != 1:
            continue
        d = _WIRE.match(lines[wires[name][0]])
        assert d is not None
        lines[wires[name][0]] = f"{d.group(1)}reg {d.group(2)}{d.group(3)};"
        lines[i] = f"{indent}always @* if ({sel}) {y} = {a}; else {y} = {b};"
        done += 1
    return "\n".join(lines), done
