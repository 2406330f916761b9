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

import math

from amaranth.hdl import Signal

__all__ = ["FANOUT_PER_COPY", "REPLICA_MARK", "copies_for", "replicated", "replicated_tree",
           "slices"]

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


def replicated_tree(m, early_next, copies: int, name: str) -> list[Signal]:
    """``copies`` one-bit registers equal to ``early_next`` two cycles before, fed through a
    first level of ⌈√copies⌉ registers (``<name>_mid<REPLICA_MARK><j>``): no net reaches all
    the copies, which sit next to their slices all over the bank.  The caller passes the value
    one cycle early (e.g. the token timeline one offset earlier), so the copies equal what
    :func:`replicated` would give for the value a cycle later."""
    k = math.isqrt(copies - 1) + 1
    mids = replicated(m, early_next, k, f"{name}_mid")
    regs = [Signal(name=f"{name}{REPLICA_MARK}{i}") for i in range(copies)]
    m.d.sync += [r.eq(mids[i * k // copies]) for i, r in enumerate(regs)]
    return regs


def slices(items: int, copies: int) -> list[range]:
    """The items copy g of ``copies`` drives: ``range(g·items // copies, (g+1)·items // copies)``
    (contiguous, every item once; the split every replicated control of a bank uses)."""
    return [range(g * items // copies, (g + 1) * items // copies) for g in range(copies)]
