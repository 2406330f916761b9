"""Fast conversions between wide cocotb buses and numpy arrays (cocotb 2.x).

Iterating a 1024-bit ``LogicArray`` costs ~700 µs; going through its string costs ~3 µs
(DESIGN.md §7).  The block testbenches read and write wide buses through these; the head
co-simulation's per-token buses (bridge record, pulse player, logs) go through the VPI vectors
of :mod:`tb.cosim.vpi` (no string at all: far cheaper at thousands of bits).
Bit 0 of a bus is element 0 of the array; an ``ArrayLayout`` port of ``n`` fields of ``w`` bits
holds field ``i`` in bits ``[i·w, (i+1)·w)``.
"""

from __future__ import annotations

import numpy as np

from sim.bits import bits_fields, bits_to_int, pack_array

__all__ = ["read_bits", "write_bits", "read_fields", "pack_fields", "write_fields", "bit_planes",
           "from_bit_planes", "handle"]


def handle(dut, name: str):
    """The Verilog port ``name`` of ``dut`` (stream members are ``o_out__payload`` etc.)."""
    try:
        return getattr(dut, name)
    except AttributeError:
        raise AttributeError(f"{dut._name} has no port {name!r}") from None


def read_bits(sig) -> np.ndarray:
    """All bits of ``sig`` as a bool array, element i = bit i (X/Z read as 0)."""
    s = str(sig.value).encode()
    return (np.frombuffer(s, np.uint8)[::-1] == 49)


def write_bits(sig, bits: np.ndarray) -> None:
    """Drive ``sig`` from a bool/0-1 array, element i = bit i."""
    sig.value = bits_to_int(bits)


def read_fields(sig, n: int, width: int, signed: bool = False) -> np.ndarray:
    """Decode ``n`` packed fields of ``width`` bits (field i at bits [i·w, (i+1)·w))."""
    return bits_fields(read_bits(sig), n, width, signed)


#: Pack integers (two's complement for negatives) into one bus value, field i first — the
#: same packing the Amaranth-simulator tests use.
pack_fields = pack_array


def write_fields(sig, values: np.ndarray, width: int) -> None:
    sig.value = pack_fields(values, width)


def bit_planes(values: np.ndarray, width: int) -> np.ndarray:
    """``values`` (n unsigned integers below 2**width) as ``width`` bit planes, LSB first: bit
    ``b·n + i`` of the result is bit ``b`` of ``values[i]`` (the co-simulation shell's pulse
    player compares counts with its cycle count plane by plane)."""
    # a byte per value when they fit (shifts of bytes: ~2.5× faster than an unpack along
    # the values' short axis and a transpose)
    v = np.asarray(values).astype(np.uint8 if width <= 8 else np.int64, copy=False)
    return ((v[None, :] >> np.arange(width, dtype=v.dtype)[:, None]) & 1).astype(bool).ravel()


def from_bit_planes(bits: np.ndarray, n: int, width: int) -> np.ndarray:
    """The ``n`` unsigned integers (int64) whose ``width`` bit planes are ``bits``, in the layout
    of :func:`bit_planes` (the co-simulation shell's PWM width counters)."""
    planes = np.asarray(bits, dtype=bool)[: n * width].reshape(width, n)
    return (1 << np.arange(width, dtype=np.int64)) @ planes
