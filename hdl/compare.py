"""Comparisons of an unsigned value against a constant that stay width-clean in the Verilog.

Amaranth narrows a constant operand to its minimal width (``x < 18`` with a 6-bit ``x`` becomes
``x < 5'h12``), which Verilator's default lint reports as WIDTHEXPAND.  These helpers split the
value instead: the bits above the constant's width must be zero, and the low bits are compared
with a constant of exactly their width.  The logic is the same; only the Verilog changes.
"""

from __future__ import annotations

from amaranth.hdl import Const, Value

__all__ = ["eq_const", "lt_const", "ge_const", "in_range"]


def _split(x: Value, c: int) -> tuple[Value | None, Value | None, int]:
    """(low bits of c's width, high bits or None, width of c)."""
    x = Value.cast(x)
    if c < 0:
        raise ValueError(f"constant must be ≥ 0, not {c}")
    m = c.bit_length()
    if m >= len(x):
        return x, None, m
    return (x[:m] if m else None), x[m:], m


def eq_const(x: Value, c: int) -> Value:
    """``x == c``."""
    low, high, m = _split(x, c)
    if m > len(Value.cast(x)):
        return Const(0, 1)
    parts = []
    if high is not None:
        parts.append(~high.any())
    if low is not None:
        parts.append(low == c if c else ~low.any())
    return _and(parts)


def lt_const(x: Value, c: int) -> Value:
    """``x < c``."""
    low, high, m = _split(x, c)
    if c == 0:
        return Const(0, 1)
    if m > len(Value.cast(x)):
        return Const(1, 1)
    parts = [low < c]
    if high is not None:
        parts.insert(0, ~high.any())
    return _and(parts)


def ge_const(x: Value, c: int) -> Value:
    """``x >= c``."""
    return Const(1, 1) if c == 0 else ~lt_const(x, c)


def in_range(x: Value, lo: int, hi: int) -> Value:
    """``lo <= x < hi``."""
    return ge_const(x, lo) & lt_const(x, hi)


def _and(parts: list[Value]) -> Value:
    out = parts[0]
    for p in parts[1:]:
        out = out & p
    return out
