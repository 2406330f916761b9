"""Counting in a VCD file: toggles of every bit, and the time each watched bit is 1, inside a
time window — what the switching-activity run (:mod:`flows.ppa.activity`) measures.

Icarus and Verilator both write the value of a var at the end of each time step; they differ
in what they dump (Verilator dumps the whole design whatever ``$dumpvars`` asks: ``scope``
keeps one scope's vars) and in aliases (Verilator gives nets it proved equal one id: every
name of an id is kept)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["parse_vcd"]


def parse_vcd(path: Path, t0: int, t1: int, watch_names: set[str] = frozenset(),
              scope: tuple[str, ...] | None = None
              ) -> tuple[dict[str, tuple[list[str], int]], dict[str, list[int]],
                         dict[str, list[int]]]:
    """Var table {id: (names, width)} of the vars declared directly in ``scope`` (a path of
    scope names, e.g. ``("tb", "dut")``; None = every var), per-id per-bit toggle counts in
    [t0, t1), and for the ids with a name in ``watch_names`` the time each bit is 1 inside
    [t0, t1) (VCD time units)."""
    vars_: dict[str, tuple[list[str], int]] = {}
    path_now: list[str] = []
    prev: dict[str, str] = {}
    tog: dict[str, list[int]] = {}
    high: dict[str, list[int]] = {}
    since: dict[str, list[int | None]] = {}
    now = 0
    in_header = True

    def close(ident: str, i: int, until: int) -> None:
        start = since[ident][i]
        if start is not None:
            high[ident][i] += max(0, min(until, t1) - max(start, t0))
            since[ident][i] = None

    with open(path, "r", errors="replace") as f:
        for line in f:
            if in_header:
                line = line.lstrip()  # Verilator indents the header
                if line.startswith("$var"):
                    p = line.split()
                    if scope is None or tuple(path_now) == scope:
                        names, _ = vars_.setdefault(p[3], ([], int(p[2])))
                        names.append(p[4].lstrip("\\"))
                elif line.startswith("$scope"):
                    path_now.append(line.split()[2])
                elif line.startswith("$upscope"):
                    path_now.pop()
                elif line.startswith("$enddefinitions"):
                    in_header = False
                    tog = {i: [0] * w for i, (_, w) in vars_.items()}
                    for i, (names, w) in vars_.items():
                        if any(n in watch_names for n in names):
                            high[i] = [0] * w
                            since[i] = [None] * w
                continue
            c = line[0] if line else ""
            if c == "#":
                now = int(line[1:])
                if now >= t1:
                    break
                continue
            if c == "b" or c == "B":
                val, _, ident = line[1:].strip().partition(" ")
            elif c in "01xzXZ":
                val, ident = c, line[1:].strip()
            else:
                continue
            if ident not in vars_:
                continue
            width = vars_[ident][1]
            if len(val) < width:
                val = (val[0] if val[0] in "xzXZ" else "0") * (width - len(val)) + val
            old = prev.get(ident)
            prev[ident] = val
            if ident in high:
                for i in range(width):
                    bit = val[width - 1 - i]
                    if bit == "1" and since[ident][i] is None:
                        since[ident][i] = now
                    elif bit != "1":
                        close(ident, i, now)
            if old is None or now < t0:
                continue
            if width == 1:
                if old != val and old in "01" and val in "01":
                    tog[ident][0] += 1
            else:
                counts = tog[ident]
                for i in range(width):
                    o, n_ = old[i], val[i]
                    if o != n_ and o in "01" and n_ in "01":
                        counts[width - 1 - i] += 1
    for ident, bits in since.items():
        for i in range(len(bits)):
            close(ident, i, t1)
    return vars_, tog, high
