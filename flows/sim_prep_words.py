"""Word-wise forms of wide operators: XOR and bit gathers for Icarus, bit gathers for Verilator.

:func:`lane_gathers` (used by :func:`flows.sim_prep_verilator.prepare_for_verilator`) does a
gather by delta swaps on 64-bit lanes; :func:`word_ops` (used by
:func:`flows.sim_prep.prepare_for_icarus` on the processes it makes of wide assignments, ``always @* if (T0) y = e;``) works on the whole
vector, which vvp does a machine word at a time.  For Icarus, measured with vvp 11 on 1,024-bit
vectors (a process re-run 20,000 times, CPU time per run on the shared 2-core machine):

* ``a ^ b`` — vvp's ``%xor`` sets one bit at a time (~7 µs); ``(a | b) & ~(a & b)`` is the same
  function of 0, 1, x and z (any x or z operand bit gives x in both) and its operators work a
  machine word at a time (~0.9 µs).
* ``{s[1023], s[959], …}`` — a concatenation of single-bit selects of one signal (since issue 12
  the counter bank stores its planes dimension first, so the C2P pulse and sign inputs are
  transposed this way): each element loads the whole 1,024-bit ``s`` and the concatenation
  grows by one bit, ~260 µs per run.  When the gather is a permutation of the bits of the
  index (a transpose of power-of-two sides is one), it is done instead by a few delta swaps
  of index bits, ``x = (x & keep) | ((x >> d) & m) | ((x & m) << d)`` with the masks held in
  registers (~24 µs), in a process of its own that waits only on ``s``: an expression that
  used the gather (``zero & {…}``) no longer redoes it when its other operand changes.
"""

from __future__ import annotations

import re

__all__ = ["LANE", "MIN_GATHER", "NAME", "bit_permutation_swaps", "declared_widths", "lane_gathers",
           "lane_swap_ops", "word_ops"]

#: A concatenation of at least this many single-bit selects of one signal is a gather.
MIN_GATHER = 64

#: A Verilog identifier as Yosys writes it (an escaped name ends in a space).
NAME = r"(?:\\\S+ |[A-Za-z_][\w$]*)"
_PROC = re.compile(r"^(  always @\* if \((\w+)\) )(" + NAME + r") ?= (.*);$")
_XOR = re.compile(rf"^({NAME}) ?\^ ({NAME})$")
_CONCAT = re.compile(r"\{([^{}]*)\}")
_BIT = re.compile(rf"^({NAME}) ?\[(\d+)\]$")
_DECL = re.compile(rf"^\s*(?:input|output|inout|wire|reg)(?: signed)? \[(\d+):0\] ({NAME}) ?[;=]",
                   re.MULTILINE)


def _ref(name: str) -> str:
    """``name`` as written before an operator: an escaped name ends in a space."""
    return f"{name} " if name.startswith("\\") else name


def declared_widths(text: str) -> dict[str, int]:
    """Width of every signal declared ``[n-1:0]`` in ``text`` (names without trailing space)."""
    return {m.group(2).strip(): int(m.group(1)) + 1 for m in _DECL.finditer(text)}


def bit_permutation_swaps(src: list[int]) -> list[tuple[int, int]] | None:
    """``src[i]`` is the source bit of bit ``i`` (a list of 2**k entries).  If every bit of
    ``src[i]`` is one fixed bit of ``i`` (a permutation of index bits), the swaps ``(p, q)`` of
    index bits p < q that, applied in order to the source, give the gather; else None."""
    n = len(src)
    k = n.bit_length() - 1
    if n < 2 or n != 1 << k or sorted(src) != list(range(n)):
        return None
    want = []                              # bit q of src(i) is bit want[q] of i
    for q in range(k):
        bits = [b for b in range(k) if all((src[i] >> q & 1) == (i >> b & 1) for i in range(n))]
        if len(bits) != 1:
            return None
        want.append(bits[0])
    have, swaps = list(range(k)), []
    for q in range(k):
        if have[q] != want[q]:
            a, b = have[q], want[q]
            swaps.append((min(a, b), max(a, b)))
            have = [b if v == a else a if v == b else v for v in have]
    return swaps


def _gather(items: list[str], widths: dict[str, int]) -> tuple[str, list[int]] | None:
    """``(signal, src)`` of a concatenation (items MSB first) of all the single bits of one
    signal declared ``[n-1:0]``, else None."""
    bits = [_BIT.match(it.strip()) for it in items]
    if not all(bits) or len({b.group(1).strip() for b in bits if b}) != 1:
        return None
    sig = bits[0].group(1).strip()
    src = [int(b.group(2)) for b in reversed(bits) if b]
    if widths.get(sig) != len(src):
        return None
    return sig, src


def _declare(text: str, decls: list[str]) -> str:
    """``text`` with the lines ``decls`` after its module header, as Yosys declares."""
    if not decls:
        return text
    h = re.search(r"^module [^;]*;$", text, re.MULTILINE)
    assert h is not None
    return text[:h.end()] + "\n" + "\n".join(decls) + text[h.end():]


def word_ops(text: str, t0: str, min_gather: int = MIN_GATHER) -> tuple[str, dict[str, int]]:
    """Rewrite the processes ``always @* if (t0) y = e;`` of ``text``: ``e = a ^ b`` as
    ``(a | b) & ~(a & b)``, and each bit gather in ``e`` that permutes index bits (≥
    ``min_gather`` bits) as a register set by delta swaps in a process waiting on its source.
    Returns the text and how many of each were rewritten."""
    widths = declared_widths(text)
    lines = text.split("\n")
    decls: list[str] = []
    made = {"word_xors": 0, "bit_permutations": 0}
    for i, ln in enumerate(lines):
        m = _PROC.match(ln)
        if not m or m.group(2) != t0:
            continue
        head, y, expr = m.group(1), m.group(3), m.group(4)
        x = _XOR.match(expr)
        if x:
            a, b = x.group(1), x.group(2)
            expr = f"({a} | {b}) & ~({a} & {b})"
            made["word_xors"] += 1

        def permute(c: re.Match) -> str:
            items = c.group(1).split(",")
            g = _gather(items, widths) if len(items) >= min_gather else None
            swaps = bit_permutation_swaps(g[1]) if g else None
            if not g or swaps is None:
                return c.group(0)
            sig, src = g
            n, name = len(src), f"sim_prep_perm{made['bit_permutations']}"
            made["bit_permutations"] += 1
            steps = []
            for s, (p, q) in enumerate(swaps):
                d = (1 << q) - (1 << p)
                mask = sum(1 << j for j in range(n) if j >> p & 1 and not j >> q & 1)
                keep = (1 << n) - 1 & ~(mask | mask << d)
                decls.extend([f"  reg [{n - 1}:0] {name}_m{s} = {n}'h{mask:x};",
                              f"  reg [{n - 1}:0] {name}_k{s} = {n}'h{keep:x};"])
                steps.append(f"    {name}_x = ({name}_x & {name}_k{s}) | (({name}_x >> {d}) "
                             f"& {name}_m{s}) | (({name}_x & {name}_m{s}) << {d});")
            decls.extend([f"  reg [{n - 1}:0] {name}_x;", f"  reg [{n - 1}:0] {name};",
                          f"  always @({_ref(sig)} or {t0}) if ({t0}) begin",
                          f"    {name}_x = {_ref(sig)};", *steps, f"    {name} = {name}_x;", "  end"])
            return name

        expr = _CONCAT.sub(permute, expr)
        lines[i] = f"{head}{y} = {expr};"
    text = "\n".join(lines)
    return _declare(text, decls), made


#: Lane width of :func:`lane_gathers`: Verilator's widest native word (``QData``).
LANE = 64


def lane_swap_ops(swaps: list[tuple[int, int]], n: int,
                  lane: int = LANE) -> tuple[list[tuple], list[int]]:
    """The swaps of index bits ``(p, q)`` (:func:`bit_permutation_swaps`, n bits) as operations
    on ``n / lane`` lanes of ``lane`` bits: ``("in", a, d, m)`` — lane a's bits at the positions
    set in m swap with those d above them; ``("across", a, b, s, m)`` — lane a's bits at the
    positions s above those set in m swap with lane b's bits at the positions set in m.  Swaps
    of two lane-index bits only rename lanes: the second list is the lane that ends up at each
    place.  Every operation works on one or two lanes, a machine word each."""
    k = lane.bit_length() - 1
    assert lane == 1 << k and n % lane == 0
    order = list(range(n // lane))          # order[i]: the lane variable at lane place i
    ops: list[tuple] = []
    for p, q in swaps:
        if q < k:                                          # both bits inside a lane
            d = (1 << q) - (1 << p)
            m = sum(1 << j for j in range(lane) if j >> p & 1 and not j >> q & 1)
            ops += [("in", order[a], d, m) for a in range(len(order))]
        elif p >= k:                                       # both lane-index bits: renaming
            pl, ql = p - k, q - k
            for a in range(len(order)):
                if a >> pl & 1 and not a >> ql & 1:
                    b = a - (1 << pl) + (1 << ql)
                    order[a], order[b] = order[b], order[a]
        else:                                              # bit p in the lane, q of the lane
            s, ql = 1 << p, q - k
            m = sum(1 << j for j in range(lane) if not j >> p & 1)
            ops += [("across", order[a], order[a + (1 << ql)], s, m)
                    for a in range(len(order)) if not a >> ql & 1]
    return ops, order


def lane_gathers(text: str, min_gather: int = MIN_GATHER,
                 lane: int = LANE) -> tuple[str, int]:
    """Each bit gather (≥ ``min_gather`` bits, a permutation of index bits) in an ``assign``
    of ``text``, computed instead by delta swaps on lanes of ``lane`` bits
    (:func:`lane_swap_ops`), one wire per lane value: Verilator writes a gather as a shift, a
    mask and an OR per bit, and a delta swap of a whole 1,024-bit vector as loops over its 32
    words; on 64-bit lanes each swap is a few operations per lane.  Returns the text and how
    many gathers were rewritten."""
    widths = declared_widths(text)
    decls: list[str] = []
    made = 0

    def permute(c: re.Match) -> str:
        nonlocal made
        items = c.group(1).split(",")
        g = _gather(items, widths) if len(items) >= min_gather else None
        swaps = bit_permutation_swaps(g[1]) if g else None
        if not g or swaps is None or len(g[1]) % lane:
            return c.group(0)
        sig, src = g
        n, name = len(src), f"sim_prep_lanes{made}"
        made += 1
        ops, order = lane_swap_ops(swaps, n, lane)
        # one wire per lane value (continuous: evaluated at time zero in every simulator)
        cur = [f"{name}_{i}" for i in range(n // lane)]
        wires = [f"{cur[i]} = {_ref(sig)}[{lane * i + lane - 1}:{lane * i}]"
                 for i in range(len(cur))]
        for s, op in enumerate(ops):
            if op[0] == "in":
                _, a, d, m = op
                keep = (1 << lane) - 1 & ~(m | m << d)
                new = f"{name}_{a}_{s}"
                wires.append(f"{new} = ({cur[a]} & {lane}'h{keep:x}) | (({cur[a]} >> {d}) & "
                             f"{lane}'h{m:x}) | (({cur[a]} & {lane}'h{m:x}) << {d})")
                cur[a] = new
            else:
                _, a, b, sh, m = op
                t, na, nb = f"{name}_t{s}", f"{name}_{a}_{s}", f"{name}_{b}_{s}"
                wires += [f"{t} = (({cur[a]} >> {sh}) ^ {cur[b]}) & {lane}'h{m:x}",
                          f"{nb} = {cur[b]} ^ {t}", f"{na} = {cur[a]} ^ ({t} << {sh})"]
                cur[a], cur[b] = na, nb
        decls.extend(f"  wire [{lane - 1}:0] {w};" for w in wires)
        decls.append(f"  wire [{n - 1}:0] {name} = "
                     f"{{ {', '.join(cur[i] for i in reversed(order))} }};")
        return name

    lines = text.split("\n")
    for i, ln in enumerate(lines):
        if re.match(r"^\s*assign ", ln) and "{" in ln:
            lines[i] = _CONCAT.sub(permute, ln)
    text = "\n".join(lines)
    return _declare(text, decls), made
