"""Rewrites of Yosys-written Verilog that make the simulators fast: Icarus and Verilator.

Both simulators get the head's simulation copy (:func:`flows.tools.flatten_for_simulation`), one
flat Yosys-written module, rewritten for each (same behaviour): the Icarus branch of
:func:`tb.cosim.runner.run_cocotb` calls :func:`icarus_sources`, the Verilator branch
:func:`flows.sim_prep_verilator.verilator_sources`; each applies its ``prepare_for_…`` to the
flat sources, cached by content (and by this code) under ``build/simprep``.

**Icarus** (:func:`prepare_for_icarus`).  Icarus evaluates a continuous assignment whenever a
net it reads changes, whatever its select says, its continuous operators work bit by bit, and
it wakes every process that waits on an event.  On the full head:

* :func:`gate_wide_muxes` — the read-out transposes the counter bit planes into per-column
  words once per token, in ``assign y = reset ? {cnt4_r[511], cnt3_r[511], …} : 0`` (since
  issue 12's per-tree operand isolation: 640 such assigns, 5,120 one-bit selects, all with the
  select ``sums_valid_rep0``), yet the planes change in every counting cycle, and each change
  re-ran ~1,100 part-select nodes per plane.  The muxes sharing a select become one process,
  ``always @* if (reset) begin y1 = {…}; … end``, which only tests the select while it is 0;
  constant ``else`` values are set by a second process only when the select changes.  (Bare
  head: ~3× faster.  Reading 64-bit slices of the planes there instead of bit selects of the
  1,024-bit planes, each of which loads the whole plane, was tried: no measurable gain.)
* :func:`procedural_wide_assigns` — ``assign y = e;`` on ≥ 256-bit wires (the counter planes'
  XOR/AND logic) becomes ``always @* y = e;``: process instructions work a word at a time —
  except vvp's XOR, written ``(a | b) & ~(a & b)`` instead, and bit gathers such as the
  transposes of the C2P pulse and sign inputs into the bank's dimension-first planes, done by
  delta swaps in a process of their own (:func:`flows.sim_prep_words.word_ops`).
* :func:`merge_clocked` — Yosys writes one ``always @(posedge clk)`` per flip-flop group (1,340
  in the head; 40 slices of each 1,024-bit counter plane with the same enables, each slice an
  event that re-evaluates every reader of the whole plane).  All processes on one edge become
  one, slices of one register with the same conditions become one assignment (a zero written
  ``16'h0000`` or ``32'd0`` alike), and statements under the same ``if`` share it.

Measured on the bare default head (a Verilog testbench driving ``attention_head`` with random
tokens at full rate, 4,000 cycles, 128 outputs, vvp 11 CPU time on the shared 2-core machine,
medians of 5 alternated runs; the outputs' checksum is the same for every variant): 062ca40's
head with that day's rewrite 0.55 s; issue 12's head with it 3.02 s; merging the counter
planes' slices whose zeros Yosys now writes ``32'd0`` (400 slice writes per cycle → 10)
1.13 s; word-wise XOR 0.85 s; the two 1,024-bit transposes by delta swaps (~260 → ~24 µs per
evaluation) 0.41 s.  Co-simulation at defaults (``python -m tb.cosim.head --sim icarus
--tokens 40 --seed 3``, alternated with the previous rewrite): median 56.4 → 122.3 tokens per
CPU-s (5 runs each); ``--tokens 200 --seed 4``: 52.3 → 139.7 (3 runs each); 0 mismatches.

Behaviour is kept: a process computing the same expression as a continuous assignment gives
the same values at every time step — every process made here also reads :data:`T0`, which
rises once at time zero, so it runs then as the assignment would; non-blocking assignments to
different registers on one edge commute, and a slice merge only joins slices with the same
conditions and matching source slices (``tb/unit/test_sim_prep.py`` simulates before and
after).  Anything that does not match the expected shapes is left as it is; a file with more
than one module is not touched.

**Verilator**: :mod:`flows.sim_prep_verilator` (its own rewrites; it shares the mux pattern
and the cache of this module).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Callable

from flows.sim_prep_words import NAME as _NAME, word_ops

log = logging.getLogger(__name__)

__all__ = [
    "MIN_SELECTS",
    "MIN_WIDTH",
    "T0",
    "gate_wide_muxes",
    "icarus_sources",
    "merge_clocked",
    "prepare_for_icarus",
    "prepared_sources",
    "procedural_wide_assigns",
]

#: A mux is rewritten when its line has at least this many bit / part selects.
MIN_SELECTS = 5
#: A continuous assignment this wide or wider becomes a process (word-wise operators).
MIN_WIDTH = 256
#: A register that rises once at time zero (``initial #0``): every process made here reads
#: it, so each runs once at time zero as the continuous assignment it replaces would.
T0 = "sim_prep_t0"

# `assign Y = S ? A : B;` with a plain select S; A and B may not hold another `?`
_MUX = re.compile(rf"^\s*assign ({_NAME}) ?= ({_NAME}) ?\? ([^?]*) : ([^?]*);$")
_CONST = re.compile(r"^\s*\d+'[bhd][0-9a-fA-F_]+\s*$")
_WIRE = re.compile(rf"^(\s*)wire ((?:\[\d+:\d+\] )?)({_NAME}) ?;$")
_ALWAYS = re.compile(r"^  always @\((posedge|negedge) ([A-Za-z_][\w$]*)\)( begin)?$")


def _bare(name: str) -> str:
    return name.strip()


def _sole_wires(lines: list[str]) -> dict[str, int]:
    """Line index of the declaration of each ``wire`` declared once and driven by exactly one
    ``assign`` (the only nets a rewrite may turn into a ``reg``)."""
    drivers: dict[str, int] = {}
    wires: dict[str, int] = {}
    for i, ln in enumerate(lines):
        m = re.match(rf"^\s*assign ({_NAME}) ?[=\[]", ln)
        if m:
            drivers[_bare(m.group(1))] = drivers.get(_bare(m.group(1)), 0) + 1
        w = _WIRE.match(ln)
        if w:
            name = _bare(w.group(3))
            wires[name] = -1 if name in wires else i         # -1: declared twice, not touched
    return {n: i for n, i in wires.items() if i >= 0 and drivers.get(n) == 1}


def gate_wide_muxes(text: str, min_selects: int = MIN_SELECTS) -> tuple[str, int]:
    """Rewrite every ``assign y = s ? a : b;`` whose line has ≥ ``min_selects`` bit or part
    selects (``[``) into a process (one per select ``s``) and declare ``y`` a ``reg``.  Only a
    ``y`` declared once as a plain ``wire`` and driven by that one assign is touched.  Returns
    the text and how many muxes were rewritten."""
    orig = text.split("\n")
    lines: list[str | None] = list(orig)
    sole = _sole_wires(orig)
    groups: dict[str, list[tuple[int, str, str, str]]] = {}
    for i, ln in enumerate(orig):
        m = _MUX.match(ln)
        if not m or ln.count("[") < min_selects:
            continue
        y, sel, a, b = m.groups()
        if _bare(y) not in sole:
            continue
        d = _WIRE.match(orig[sole[_bare(y)]])
        assert d is not None
        lines[sole[_bare(y)]] = f"{d.group(1)}reg {d.group(2)}{d.group(3)};"
        groups.setdefault(sel, []).append((i, y, a, b))
    for sel, muxes in groups.items():
        then = "".join(f"\n    {y} = {a};" for _, y, a, _ in muxes)
        other = "".join(f"\n    {y} = {b};" for _, y, _, b in muxes)
        if all(_CONST.match(b) for *_, b in muxes):
            # constant "else" values (operand isolation): set only when the select changes, so
            # a change of an operand while the select is 0 costs one test, not every assignment
            lines[muxes[0][0]] = (f"  always @* if ({T0}) if ({sel}) begin{then}\n  end\n"
                                  f"  always @({sel} or {T0}) if ({T0}) if ({sel}) ; "
                                  f"else begin{other}\n  end")
        else:
            lines[muxes[0][0]] = (f"  always @* if ({T0}) begin\n  if ({sel}) begin{then}\n  end "
                                  f"else begin{other}\n  end\n  end")
        for i, *_ in muxes[1:]:
            lines[i] = None
    return "\n".join(ln for ln in lines if ln is not None), sum(map(len, groups.values()))


def procedural_wide_assigns(text: str, min_width: int = MIN_WIDTH) -> tuple[str, int]:
    """``assign y = e;`` with ``y`` a wire of ≥ ``min_width`` bits, declared once and driven
    by that one assign, becomes ``always @* if (T0) y = e;``: Icarus's continuous operators
    work bit by bit, its process instructions a machine word at a time.  Returns the text and
    how many were rewritten."""
    lines = text.split("\n")
    sole = _sole_wires(lines)
    done = 0
    for i, ln in enumerate(lines):
        m = re.match(rf"^(\s*)assign ({_NAME}) ?= (.*);$", ln)
        if not m or _bare(m.group(2)) not in sole:
            continue
        d = _WIRE.match(lines[sole[_bare(m.group(2))]])
        assert d is not None
        if not d.group(2):                          # a one-bit wire
            continue
        hi, lo = map(int, re.findall(r"\d+", d.group(2)))
        if abs(hi - lo) + 1 < min_width:
            continue
        lines[sole[_bare(m.group(2))]] = f"{d.group(1)}reg {d.group(2)}{d.group(3)};"
        lines[i] = f"{m.group(1)}always @* if ({T0}) {m.group(2)} = {m.group(3)};"
        done += 1
    return "\n".join(lines), done



_SLICE_LINE = re.compile(rf"^(\s*(?:else )?(?:if \([^\[\]]*\) )?)({_NAME}) ?\[(\d+):(\d+)\]"
                         r" <= (.*);$")
_ZERO = re.compile(r"^\d+'[bdh]0+$")


def _statements(body: list[str]) -> list[list[str]]:
    """Split a process body (lines indented ≥ 4) into statements: a line at indent 4 that is
    not an ``else`` starts one; deeper lines and ``else`` lines continue it."""
    out: list[list[str]] = []
    for ln in body:
        if out and ln.startswith(("     ", "    else")):
            out[-1].append(ln)
        else:
            out.append([ln])
    return out


def _slice_key(stmt: list[str]) -> tuple[str, int, int] | None:
    """``(shape, high, low)`` of a statement that assigns one slice ``x [h:l]`` on each line,
    from a zero constant or the same slice ``[h:l]`` of one signal (conditions unsliced); the
    shape is the statement with the range and the constants blanked.  Else None."""
    shape, rng, target = [], None, None
    for ln in stmt:
        m = _SLICE_LINE.match(ln)
        if not m or (rng or m.group(3, 4)) != m.group(3, 4) or (target or m.group(2)) != m.group(2):
            return None
        rng, target = m.group(3, 4), m.group(2)
        rhs = m.group(5).strip()
        src = re.fullmatch(rf"({_NAME}) ?\[(\d+):(\d+)\]", rhs)
        if _ZERO.match(rhs):
            rhs = "#ZERO#"
        elif src and src.group(2, 3) == rng:
            rhs = f"{src.group(1)}[#]"
        else:
            return None
        shape.append(f"{m.group(1)}{m.group(2)}[#] <= {rhs};")
    assert rng is not None
    return "\n".join(shape), int(rng[0]), int(rng[1])


def _merge_slices(stmts: list[list[str]]) -> list[list[str]]:
    """Join statements that differ only in adjacent slices ``[h:l]`` (same shape)."""
    runs: dict[str, list[tuple[int, int, int]]] = {}
    for n, s in enumerate(stmts):
        k = _slice_key(s)
        if k:
            runs.setdefault(k[0], []).append((k[2], k[1], n))
    replace: dict[int, list[str] | None] = {}
    for shape, parts in runs.items():
        parts.sort()
        start = 0
        for j in range(1, len(parts) + 1):
            if j < len(parts) and parts[j][0] == parts[j - 1][1] + 1:
                continue
            run = parts[start:j]
            if len(run) > 1:
                lo, hi = run[0][0], run[-1][1]
                text = shape.replace("[#]", f" [{hi}:{lo}]").replace("#ZERO#",
                                                                      f"{hi - lo + 1}'h0")
                replace[run[0][2]] = text.split("\n")
                replace.update({n: None for *_, n in run[1:]})
            start = j
    out = []
    for n, s in enumerate(stmts):
        r = replace.get(n, s)
        if r is not None:
            out.append(r)
    return out


def _lone_if(stmt: list[str]) -> tuple[str, str] | None:
    """``(condition, statement)`` of a one-line ``if (c) x <= e;``, else None."""
    if len(stmt) != 1 or not stmt[0].startswith("    if ("):
        return None
    text, depth = stmt[0][len("    if "):], 0
    for n, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            rest = text[n + 1:].strip()
            if rest.startswith("begin") or not rest.endswith(";") or "<=" not in rest:
                return None
            return text[1:n], rest
    return None


def _group_ifs(stmts: list[list[str]]) -> list[str]:
    """Statements ``if (c) x <= e;`` (no ``else``) under one ``if (c) begin … end`` per c."""
    groups: dict[str, list[str]] = {}
    order: list[str | list[str]] = []
    for s in stmts:
        lone = _lone_if(s)
        if lone:
            if lone[0] not in groups:
                groups[lone[0]] = []
                order.append(lone[0])
            groups[lone[0]].append(f"      {lone[1]}")
        else:
            order.append(s)
    out: list[str] = []
    for item in order:
        if isinstance(item, str):
            out += [f"    if ({item}) begin", *groups[item], "    end"]
        else:
            out += item
    return out


def merge_clocked(text: str) -> tuple[str, int]:
    """All ``always @(posedge c)`` (or ``negedge``) processes of one edge into one, with their
    register slices merged and their single-``if`` statements grouped by condition.  Returns
    the text and how many processes were merged."""
    lines = text.split("\n")
    kept: list[str] = []
    # per edge: statements kept whole, statements to merge
    bodies: dict[tuple[str, str], tuple[list[str], list[list[str]]]] = {}
    merged, i = 0, 0
    while i < len(lines):
        m = _ALWAYS.match(lines[i])
        if not m:
            kept.append(lines[i])
            i += 1
            continue
        body, i = [], i + 1
        while i < len(lines) and lines[i].startswith("    "):
            body.append(lines[i])
            i += 1
        stmts = bodies.setdefault((m.group(1), m.group(2)), ([], []))
        if m.group(3):                                # `begin` … `  end`: kept whole
            if i >= len(lines) or lines[i] != "  end":
                raise ValueError(f"unexpected process shape near line {i + 1}")
            i += 1
            stmts[0].extend(["    begin", *body, "    end"])
        else:
            stmts[1].extend(_statements(body))
        merged += 1
    if not bodies:
        return text, 0
    end = max(n for n, ln in enumerate(kept) if ln.startswith("endmodule"))
    block = []
    for (edge, clk), (whole, stmts) in bodies.items():
        block += [f"  always @({edge} {clk}) begin", *whole,
                  *_group_ifs(_merge_slices(stmts)), "  end"]
    kept[end:end] = block
    return "\n".join(kept), merged


# -- the whole rewrite, cached -----------------------------------------------------------------
_WRAPPED = re.compile(r",\n    ")


def _one_module(text: str) -> bool:
    return text.count("\nmodule ") + text.startswith("module ") == 1


def prepare_for_icarus(text: str) -> tuple[str, dict[str, int]]:
    """All Icarus rewrites on one flat Yosys-written module (``wrap_long_lines`` undone
    first): the text and how many of each were made.  Text with more than one module is
    returned as is."""
    if not _one_module(text):
        return text, {}
    text = _WRAPPED.sub(", ", text)
    text, muxes = gate_wide_muxes(text)
    text, wide = procedural_wide_assigns(text)
    text, words = word_ops(text, T0)
    text, clocked = merge_clocked(text)
    if muxes or wide:
        m = re.search(r"^module [^;]*;$", text, re.MULTILINE)
        assert m is not None
        text = (text[:m.end()] + f"\n  reg {T0} = 1'b0;\n  initial #0 {T0} = 1'b1;"
                + text[m.end():])
    return text, {"gated_muxes": muxes, "wide_assigns": wide, **words,
                  "clocked_processes": clocked}


def prepared_sources(sources: list[Path], simulator: str,
                      prepare: Callable[[str], tuple[str, dict[str, int]]]) -> list[Path]:
    """``sources`` with each flat Yosys-written file replaced by its ``prepare`` copy for
    ``simulator`` (cached by content and by this code under ``build/simprep``); other files
    unchanged."""
    from flows.cache import key, locked, write_atomic
    from flows.tools import BUILD, source_hash

    sources_key = source_hash("flows/sim_prep.py", "flows/sim_prep_words.py",
                              "flows/sim_prep_verilator.py", "hdl/generate.py")
    out = []
    for src in map(Path, sources):
        data = src.read_bytes()
        if not data.startswith(b"/* Generated by Yosys"):
            out.append(src)
            continue
        copy = BUILD / "simprep" / f"{src.stem}-{simulator}-{key(data, sources_key, simulator)}.v"
        with locked(copy.with_suffix(".lock"), f"the {simulator} copy of {src.name}"):
            if not copy.exists():
                text, made = prepare(data.decode())
                log.info("%s copy of %s: %s", simulator, src.name,
                         ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in made.items())
                         or "unchanged (not one flat module)")
                write_atomic(copy, text)
        out.append(copy)
    return out


def icarus_sources(sources: list[Path]) -> list[Path]:
    """``sources`` with each flat Yosys-written file replaced by its :func:`prepare_for_icarus`
    copy (cached by content under ``build/simprep``); other files unchanged."""
    return prepared_sources(sources, "icarus", prepare_for_icarus)
