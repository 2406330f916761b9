"""Wide buses read and written through the simulator's VPI as vectors (``vpiVectorVal``).

cocotb 2.x moves a bus wider than 32 bits as a string of binary digits: a write formats the
int as ~5,000 characters, which Verilator's ``vpi_put_value`` then sets bit by bit (a function
call per bit), and a read builds the string in the simulator and upper-cases it character by
character in cocotb's GPI.  For the analog bridge's two buses per token (the bridge record in,
then 2,966 bits, the 5,120-bit pulse-player counts and signs out, default head) that was about
as much CPU time as the Verilated model's whole evaluation.  A :class:`VectorPort` moves 32 bits
per word instead, through the standard VPI calls the simulator itself exports (the cocotb
library calls the same functions): ``vpi_handle_by_name``, ``vpi_get_value`` and
``vpi_put_value`` with ``vpiVectorVal``, called through ctypes from the simulator process the
cocotb test runs in.

A write is applied at once (``vpiNoDelay``), like cocotb's :class:`cocotb.handle.Immediate`:
the value is on the pin when the call returns, with no ReadWrite callback into Python
afterwards (cocotb's deposit queues a write for that phase).  Use it only where the writer
alone drives the pin and a write inside the current time step is what the design expects
(the shell's pulse player registers its inputs at the next rising edge).

Bit 0 of a bus is element 0 of the arrays, as in :mod:`tb.cosim.bus`; X and Z read as 0.
"""

from __future__ import annotations

import ctypes

import numpy as np

__all__ = ["VectorPort"]

# IEEE 1800 vpi_user.h
_VPI_VECTOR_VAL = 9
_VPI_NO_DELAY = 1


class _VpiValue(ctypes.Structure):
    # s_vpi_value: the format, then a union whose vector member is a pointer (the union holds a
    # double too, so it is 8-byte aligned)
    _fields_ = [("format", ctypes.c_int32), ("vector", ctypes.c_void_p)]


_lib: ctypes.CDLL | None = None


def _vpi() -> ctypes.CDLL:
    """The VPI functions of the running simulator (this process's own symbols)."""
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(None)
        try:
            lib.vpi_handle_by_name.restype = ctypes.c_void_p
            lib.vpi_handle_by_name.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
            lib.vpi_get_value.restype = None
            lib.vpi_get_value.argtypes = [ctypes.c_void_p, ctypes.POINTER(_VpiValue)]
            lib.vpi_put_value.restype = ctypes.c_void_p
            lib.vpi_put_value.argtypes = [ctypes.c_void_p, ctypes.POINTER(_VpiValue),
                                          ctypes.c_void_p, ctypes.c_int32]
        except AttributeError as e:
            raise RuntimeError(f"the simulator exports no VPI function ({e}): VectorPort runs "
                               f"only inside a cocotb simulation") from None
        _lib = lib
    return _lib


class VectorPort:
    """One port of the top level, read and written 32 bits per VPI word.

    ``sig`` is its cocotb handle (for the name and width)."""

    def __init__(self, sig) -> None:
        lib = _vpi()
        # the full name cocotb found it by (``_path``: public, ":meta public:" in cocotb 2.1)
        self._handle = lib.vpi_handle_by_name(sig._path.encode(), None)
        if not self._handle:
            raise RuntimeError(f"vpi_handle_by_name found no {sig._path!r}")
        self._get, self._put = lib.vpi_get_value, lib.vpi_put_value
        self._buffers(len(sig))

    def _buffers(self, width: int) -> None:
        self.width = width
        self._words = (self.width + 31) // 32
        # the write buffer: (aval, bval) per word, bval 0 (no X or Z)
        self._out = np.zeros((self._words, 2), np.uint32)
        self._out_value = _VpiValue(_VPI_VECTOR_VAL, self._out.ctypes.data)
        self._bytes = np.zeros(4 * self._words, np.uint8)     # the packed bits, padded
        self._in_value = _VpiValue(_VPI_VECTOR_VAL, None)
        self._in_type = ctypes.c_uint32 * (2 * self._words)

    def read_pairs(self) -> int:
        """The address of the simulator's ``vpiVectorVal`` words of the bus — (aval, bval)
        pairs of 32 bits, ``(width + 31) // 32`` of them — for a reader in C
        (:mod:`tb.cosim.pins`); valid until the simulator's next ``vpi_get_value``."""
        self._get(self._handle, ctypes.byref(self._in_value))
        return self._in_value.vector

    def read_words(self) -> np.ndarray:
        """The bus as little-endian 32-bit words (bit i of the bus is bit i % 32 of word
        i // 32), a copy; bits above the width are 0."""
        # the simulator's buffer, valid until its next vpi_get_value: copied at once
        vec = np.frombuffer(self._in_type.from_address(self.read_pairs()),
                            np.uint32).reshape(self._words, 2)
        words = vec[:, 0] & ~vec[:, 1]               # only 1 reads as 1 (X, Z as 0)
        if self.width % 32:
            words[-1] &= np.uint32((1 << (self.width % 32)) - 1)
        return words

    def read_bits(self) -> np.ndarray:
        """The bus as a bool array (element i = bit i)."""
        return self._bits(self.read_words().view(np.uint8))

    def read(self) -> tuple[np.ndarray, int]:
        """``(bits, value)``: the bus as a bool array (element i = bit i) and as one int."""
        raw = self.read_words().view(np.uint8)
        return self._bits(raw), int.from_bytes(raw.tobytes(), "little")

    def _bits(self, raw: np.ndarray) -> np.ndarray:
        return np.unpackbits(raw, bitorder="little", count=self.width).view(bool)

    def write_bits(self, bits: np.ndarray) -> None:
        """Drive the bus from a bool/0-1 array of its width (element i = bit i), at once."""
        b = np.asarray(bits, dtype=bool).ravel()
        if b.size != self.width:
            raise ValueError(f"{b.size} bits written to a {self.width}-bit port")
        packed = np.packbits(b, bitorder="little")
        self._bytes[:packed.size] = packed
        self._out[:, 0] = self._bytes.view(np.uint32)
        self.put()

    @property
    def write_buffer(self) -> np.ndarray:
        """The write buffer: ``(words, 2)`` uint32, (aval, bval) per 32 bits of the bus, bval 0
        (no X or Z).  Fill it (e.g. from C, :mod:`tb.cosim.pins`), then :meth:`put`."""
        return self._out

    def put(self) -> None:
        """Drive the bus from the write buffer, at once."""
        self._put(self._handle, ctypes.byref(self._out_value), None, _VPI_NO_DELAY)
