"""Replicated control registers: one broadcast control, several equal flip-flops.

A control that reaches hundreds or thousands of flip-flops (a capture enable, the counters'
count window and clear, the adder trees' valid, the valid mask's advance) is not one register
driving one huge net: each copy drives a slice of the bank, so no net spans the whole design
and placement keeps each copy next to its slice (issue 12; DESIGN.md §7: the head's accept once
fanned out combinationally to hundreds of flip-flops and set the routed clock).

The copies are equal by construction, so a synthesis tool merges them unless told not to:
every copy is named ``<name>_rep<i>`` (:data:`REPLICA_MARK`) and the FPGA flow marks the
flip-flops driving such nets ``keep`` (``flows/synth/fpga.py``).  In the generic gate count they
merge back into one flip-flop (the ASIC netlist decides its own buffering).
"""

from __future__ import annotations

from amaranth.hdl import Signal

__all__ = ["FANOUT_PER_COPY", "REPLICA_MARK", "copies_for", "replicated", "slices"]

#: Part of the name of every replicated register (the synthesis scripts select on it).
REPLICA_MARK = "_rep"

#: Flip-flops (or gates) one copy of a control should drive at most.
FANOUT_PER_COPY = 128


def copies_for(loads: int, *, at_most: int | None = None) -> int:
    """Copies needed so that no copy drives more than :data:`FANOUT_PER_COPY` of ``loads``
    (at least 1, at most ``at_most``)."""
    n = max(1, -(-loads // FANOUT_PER_COPY))
    return min(n, at_most) if at_most else n


def replicated(m, next_value, copies: int, name: str, *, init: int = 0) -> list[Signal]:
    """``copies`` one-bit registers, each loaded with ``next_value`` every cycle (so each equals
    ``next_value`` of the cycle before), named ``<name>_rep<i>``."""
    regs = [Signal(name=f"{name}{REPLICA_MARK}{i}", init=init) for i in range(copies)]
    m.d.sync += [r.eq(next_value) for r in regs]
    return regs


def slices(items: int, copies: int) -> list[range]:
    """The items copy g of ``copies`` drives: ``range(g·items // copies, (g+1)·items // copies)``
    (contiguous, every item once; the split every replicated control of a bank uses)."""
    return [range(g * items // copies, (g + 1) * items // copies) for g in range(copies)]
