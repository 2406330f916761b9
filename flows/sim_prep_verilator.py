"""The Verilator rewrite of Yosys-written Verilog (the Icarus one: :mod:`flows.sim_prep`).

The Verilator branch of :func:`tb.cosim.runner.run_cocotb` calls :func:`verilator_sources`,
which applies :func:`prepare_for_verilator` to the head's flat simulation copy, cached by
content like the Icarus copy (:func:`flows.sim_prep.prepared_sources`).

A Verilated model evaluates all the logic of a clock domain after every edge, whether its inputs
changed or not (the head's ``posedge clk``: 31 cycles per token); it folds a net read once into
its reader, and computes a net read in several places into a variable first.  An ``if`` in an
``always @*`` does not keep it from the work: it turns ``if (s) y = a; else y = 0;`` back into ``y = a & -s``, and computes a wide
concatenation before the ``if`` that uses it (both tried: :func:`flows.sim_prep.gate_wide_muxes`
without ``T0``, and the input transposes gated on a non-zero source).  On the full head:

* :func:`split_sliced_muxes` — 384 of the 640 read-out transposes pack two columns in one
  10-bit word (``add.$2``), which the adder tree reads as ``add.$2 [4:0]`` and ``add.$2 [9:5]``:
  read twice, each was computed into a variable in every cycle.  One mux per part read
  (``add.$2__4_0``, ``add.$2__9_5``), each read once, is folded into the first-level adder
  registers, which Yosys writes under the same ``if (sums_valid_rep0)``: the transposes are
  done only in the cycle they are registered.
* :func:`flows.sim_prep_words.lane_gathers` — the counter bank's two 1,024-bit input
  transposes (C2P pulse and sign, a shift, a mask and an OR per bit in every cycle) by delta
  swaps on sixteen 64-bit lanes, one wire per lane value.  (The same swaps on the whole
  1,024-bit vector, Icarus's form, cost more than the bit gather: Verilator loops over its 32
  words per operation.)

Measured with callgrind (instructions in the model's functions per clock cycle; a 100-token
default-head co-simulation, the model built without ``-march=native`` for valgrind, 3,307
cycles): Yosys copy 35,700; muxes split 19,800; and the lane transposes 12,500.  Also tried:
:func:`flows.sim_prep.merge_clocked` on top of the split (the counter planes' slice writes are
masked word writes under the count enable): 20,200, no gain; whole-vector delta swaps with it:
24,200.
Co-simulation timings: :func:`prepare_for_verilator`.  A split keeps every value (the part mux
gives the bits the part select of the whole mux gave), and the lane swaps are the gather
(``tb/unit/test_sim_prep.py`` checks both, the lanes in Python for random permutations too).
"""

from __future__ import annotations

import re
from pathlib import Path

from flows.sim_prep import (  # the patterns and helpers both rewrites use
    _MUX, _WIRE, _WRAPPED, _ZERO, MIN_SELECTS, _bare, _one_module, _sole_wires, prepared_sources)
from flows.sim_prep_words import NAME as _NAME, lane_gathers

__all__ = ["prepare_for_verilator", "split_sliced_muxes", "verilator_sources"]

# a read of a net, with its part select if any: `y [h:l]`, `y[n]`, or bare `y`
_READ = re.compile(rf"({_NAME}) ?(?:\[(\d+)(?::(\d+))?\])?")
_BIT_ITEM = re.compile(rf"^{_NAME} ?\[\d+\]$")


def split_sliced_muxes(text: str, min_selects: int = MIN_SELECTS) -> tuple[str, int]:
    """Each ``assign y = s ? {b_n, …, b_0} : K'h0;`` of single-bit items (≥ ``min_selects``)
    whose ``y`` is read only through part or bit selects ``y [h:l]`` becomes one such mux per
    select read, a wire ``y__h_l`` of the items of bits h…l, and each read reads its wire.  Only
    a ``y`` declared once as a plain ``wire`` of as many bits as items, driven by that one
    assign, is touched.  Returns the text and how many muxes were split."""
    lines = text.split("\n")
    sole = _sole_wires(lines)
    muxes: dict[str, tuple[int, str, list[str]]] = {}
    for i, ln in enumerate(lines):
        m = _MUX.match(ln)
        if not m or ln.count("[") < min_selects:
            continue
        y, sel, a, b = m.groups()
        a = a.strip()
        if _bare(y) not in sole or not _ZERO.match(b.strip().replace("_", "")) \
                or not (a.startswith("{") and a.endswith("}")):
            continue
        items = [t.strip() for t in a[1:-1].split(",")]
        d = _WIRE.match(lines[sole[_bare(y)]])
        assert d is not None
        width = int(re.findall(r"\d+", d.group(2))[0]) + 1 if d.group(2) else 1
        if len(items) == width and all(_BIT_ITEM.match(t) for t in items):
            muxes[_bare(y)] = (i, sel, items)
    if not muxes:
        return text, 0
    # the selects read of each mux (its declaration and its assign's left side are no reads);
    # a mux read whole (or any other way) is left as it is
    reads: dict[str, set[tuple[int, int]]] = {y: set() for y in muxes}
    decls = {sole[y] for y in muxes}
    assigns = {i for i, *_ in muxes.values()}
    for n, ln in enumerate(lines):
        if n in decls:
            continue
        for r in _READ.finditer(ln.split("=", 1)[1] if n in assigns else ln):
            y = _bare(r.group(1))
            if y in reads:
                if r.group(2) is None:
                    reads.pop(y)
                    muxes.pop(y)
                else:
                    hi = int(r.group(2))
                    reads[y].add((hi, int(r.group(3) or hi)))

    def part(y: str, hi: int, lo: int) -> str:
        base = f"{y}__{hi}_{lo}"
        return f"{base} " if y.startswith("\\") else base

    for y in list(muxes):
        width = len(muxes[y][2])
        if not reads[y] or any(part(y, hi, lo) in text or not 0 <= lo <= hi < width
                               for hi, lo in reads[y]):
            muxes.pop(y)
    for y, (i, sel, items) in muxes.items():
        decl, drives = [], []
        indent = _WIRE.match(lines[sole[y]]).group(1)     # type: ignore[union-attr]
        for hi, lo in sorted(reads[y]):
            w, name = hi - lo + 1, part(y, hi, lo)
            bits = items[len(items) - 1 - hi:len(items) - lo]
            decl.append(f"{indent}wire {f'[{w - 1}:0] ' if w > 1 else ''}{name};")
            drives.append(f"  assign {name} = {sel} ? {{ {', '.join(bits)} }} : {w}'h0;")
        lines[sole[y]], lines[i] = "\n".join(decl), "\n".join(drives)

    def reread(r: re.Match) -> str:
        y = _bare(r.group(1))
        if y not in muxes or r.group(2) is None:
            return r.group(0)
        hi = int(r.group(2))
        return part(y, hi, int(r.group(3) or hi))

    return "\n".join(_READ.sub(reread, ln) for ln in lines), len(muxes)


# -- clocked processes ------------------------------------------------------------------------
# one line of a register-slice statement: `[else ][if (cond) ]x [h:l] <= rhs;`, cond unsliced


def prepare_for_verilator(text: str) -> tuple[str, dict[str, int]]:
    """The Verilator rewrites (:func:`split_sliced_muxes`,
    :func:`flows.sim_prep_words.lane_gathers`) on one flat Yosys-written module, long lines
    wrapped again after (``wrap_long_lines``: Verilator's token limit per line): the text and
    how many of each were made.  Text with more than one module is returned as is.

    Co-simulation at defaults (``python -m tb.cosim.head --sim verilator --tokens 3000 --seed
    i``, i = 1…4 twice, alternated with the Yosys copy on the shared 2-core machine under load
    ~3): CPU-s of model, cocotb and testbench per token (``cpu_s − bridge_cpu_s``) median 0.351
    → 0.276 ms (lower in all 8 pairs, median ratio 0.71), ``tokens_per_cpu_s`` 1,161 → 1,256;
    0 mismatches.  The model's C++ is 3.4 MB instead of 4.4 MB; cold build 78 s against 87 s
    (one pair)."""
    from hdl.generate import wrap_long_lines

    if not _one_module(text):
        return text, {}
    text = _WRAPPED.sub(", ", text)
    text, split = split_sliced_muxes(text)
    text, lanes = lane_gathers(text)
    return wrap_long_lines(text), {"split_muxes": split, "lane_gathers": lanes}


def verilator_sources(sources: list[Path]) -> list[Path]:
    """``sources`` with each flat Yosys-written file replaced by its
    :func:`prepare_for_verilator` copy (cached by content under ``build/simprep``); other
    files unchanged."""
    return prepared_sources(sources, "verilator", prepare_for_verilator)
