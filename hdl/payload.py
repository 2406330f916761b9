"""The input token's payload — its parts in bit order — without Amaranth.

One token is the d query codes (``q_bits`` each), then the d K DAC codes and the d V DAC codes
(``kv_bits`` each); element i of a part is dimension i, element 0 in the least significant
bits.  The RTL's stream layout (:func:`hdl.head.token_layout`) is built from
:func:`token_parts`, and so are the bit packing of :mod:`sim.bits`, the co-simulation
testbench and the FPGA host protocol: they agree by construction and need no Amaranth (the
co-simulation's simulator process and the host start faster without it).
"""

from __future__ import annotations

from hdl.config import HeadConfig

__all__ = ["token_parts", "payload_width"]


def token_parts(cfg: HeadConfig) -> tuple[tuple[str, int, int], ...]:
    """``(name, count, width)`` of the payload's parts, in bit order."""
    a = cfg.array
    return (("q", a.head_dim, a.q_bits), ("k", a.head_dim, a.kv_bits),
            ("v", a.head_dim, a.kv_bits))


def payload_width(cfg: HeadConfig) -> int:
    """Bits of one token's payload."""
    return sum(count * width for _, count, width in token_parts(cfg))
