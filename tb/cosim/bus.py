"""Fast conversions between wide cocotb buses and numpy arrays (cocotb 2.x).

Iterating a 1024-bit ``LogicArray`` costs ~700 µs; going through its string costs ~3 µs
(DESIGN.md §7).  Every testbench and the analog bridge read and write wide buses through these.
Bit 0 of a bus is element 0 of the array; an ``ArrayLayout`` port of ``n`` fields of ``w`` bits
holds field ``i`` in bits ``[i·w, (i+1)·w)``.
"""

from __future__ import annotations

import numpy as np

from sim.blocks_ref import pack_array

__all__ = ["read_bits", "write_bits", "read_fields", "pack_fields", "write_fields", "handle"]


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
    a = np.asarray(bits, dtype=bool)
    sig.value = int.from_bytes(np.packbits(a, bitorder="little").tobytes(), "little")


def read_fields(sig, n: int, width: int, signed: bool = False) -> np.ndarray:
    """Decode ``n`` packed fields of ``width`` bits (field i at bits [i·w, (i+1)·w))."""
    bits = read_bits(sig)[: n * width].reshape(n, width).astype(np.int64)
    vals = bits @ (1 << np.arange(width, dtype=np.int64))
    if signed:
        vals = np.where(vals >= 1 << (width - 1), vals - (1 << width), vals)
    return vals


#: Pack integers (two's complement for negatives) into one bus value, field i first — the
#: same packing the Amaranth-simulator tests use.
pack_fields = pack_array


def write_fields(sig, values: np.ndarray, width: int) -> None:
    sig.value = pack_fields(values, width)
