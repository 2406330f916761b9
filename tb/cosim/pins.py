"""The analog bridge's pins, each direction in one C call (:file:`pins.c`): the bridge record
``o_br_rec`` (:func:`tb.cosim.shell.bridge_fields`) decoded into its fields, and the pulse
player's counts and signs written as bit planes into its ports' write buffers.

The bridge reads the record and writes the pulse player once per token; done with numpy (unpack
the bits, weigh each field's bits, make the planes, pack them) that was some 30 calls, 40–70 µs
a token at the defaults, about a tenth of the co-simulation's CPU time; this takes about half.
Every field is cut into *elements* of at most 64 bits — a counter, a cycle, 64-bit pieces of a
select, each DAC code, each PWM width counter (its bits are planes,
:func:`tb.cosim.bus.from_bit_planes`) — or read as its bits (the valid mask), and one call
extracts them all straight from the simulator's vector
(:meth:`tb.cosim.vpi.VectorPort.read_pairs`).

The C source is compiled on first use (:mod:`analog_models.native`); without a compiler numpy
does the same (one warning, same values, slower).
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import numpy as np

from analog_models import native
from hdl.config import HeadConfig
from tb.cosim.bus import bit_planes
from tb.cosim.shell import bridge_fields, width_bits
from tb.cosim.vpi import VectorPort

__all__ = ["RecordDecoder", "Record", "element_layout", "PlaneWriter", "kernel",
           "unavailable_reason"]

SOURCE = Path(__file__).with_name("pins.c")
_state: dict[str, object] = {}
_ptr, _long = ctypes.c_void_p, ctypes.c_long
#: widest element: a uint64
PIECE = 64


def kernel() -> ctypes.CDLL | None:
    """The compiled codec, built and loaded on first call; None (one warning) without it."""
    return native.load_once(_state, native.compiler, lambda cc: native.build(cc, SOURCE),
                            _declare, "co-simulation pin codec",
                            "the bridge's record and pulse-player words go through numpy "
                            "(same values, slower)")


class _Table(ctypes.Structure):
    """``struct gca_table`` of :file:`pins.c`: a record's element table and output buffers."""
    _fields_ = [("words", _long), ("n", _long), ("pos", _ptr), ("stride", _ptr),
                ("width", _ptr), ("out", _ptr), ("n_runs", _long), ("run_pos", _ptr),
                ("run_len", _ptr), ("out_bits", _ptr)]


def _declare(lib: ctypes.CDLL, path: Path) -> ctypes.CDLL:
    lib.gca_record.argtypes = [ctypes.POINTER(_Table), _ptr]
    for f in (lib.gca_planes, lib.gca_planes8):
        f.argtypes = [_long, ctypes.c_int, _ptr, _ptr]
    lib.gca_record.restype = lib.gca_planes.restype = lib.gca_planes8.restype = None
    return lib


def unavailable_reason() -> str | None:
    """Why :func:`kernel` returned None (None if it loaded or was not tried yet)."""
    return _state.get("why")  # type: ignore[return-value]


def element_layout(cfg: HeadConfig) -> tuple[dict[str, tuple[int, int, int, int]], tuple[str, ...]]:
    """The record's array fields: ``(numbers, bits)``.  ``numbers``: ``name → (count, width,
    step, stride)``, element i has ``width`` bits, bit b at field bit ``i·step + b·stride``;
    ``bits``: the fields read as their bits.  Every other field is one number (in pieces of 64
    bits when wider)."""
    a = cfg.array
    d = a.head_dim
    return ({"wk_dac": (d, a.kv_bits, a.kv_bits, 1), "wv_dac": (d, a.kv_bits, a.kv_bits, 1),
             # the shell's PWM width counters: bit planes (tb.cosim.bus.bit_planes)
             "wl_width": (d, width_bits(cfg), 1, d)},
            ("valid", "wl_q"))


class RecordDecoder:
    """The element table of one config's bridge record; :meth:`decode` reads the record."""

    def __init__(self, cfg: HeadConfig) -> None:
        arrays, bit_fields = element_layout(cfg)
        pos, width, stride = [], [], []
        self.scalars: dict[str, tuple[int, int]] = {}   # name → (first element, pieces)
        self.arrays: dict[str, slice] = {}
        self.runs: dict[str, slice] = {}                # name → its bits in the bit buffer
        run_pos, run_len = [], []
        self.width = 0
        later = []
        for name, w in bridge_fields(cfg):
            if name in bit_fields:
                self.runs[name] = slice(sum(run_len), sum(run_len) + w)
                run_pos.append(self.width)
                run_len.append(w)
            elif name in arrays:
                later.append((name, self.width))
            else:     # the numbers first: their values become Python ints in one call
                self.scalars[name] = (len(pos), -(-w // PIECE))
                for p in range(0, w, PIECE):
                    pos.append(self.width + p)
                    width.append(min(PIECE, w - p))
                    stride.append(1)
            self.width += w
        self.n_scalar = len(pos)
        # each piece's key: the field's name for its first piece (the whole number when it has
        # one), (name, j) for the others
        self._piece_keys = [k for name, (_, n) in self.scalars.items()
                            for k in [name, *((name, j) for j in range(1, n))]]
        self._multi = [(name, [((name, j), PIECE * j) for j in range(1, n)])
                       for name, (_, n) in self.scalars.items() if n > 1]
        for name, at in later:
            count, w, step, s = arrays[name]
            self.arrays[name] = slice(len(pos), len(pos) + count)
            pos += [at + i * step for i in range(count)]
            width += [w] * count
            stride += [s] * count
        self.words = (self.width + 31) // 32
        # C long and int arrays, and the output buffers (reused: see decode)
        self._tables = [np.array(pos, dtype=np.int_), np.array(width, dtype=np.intc),
                        np.array(stride, dtype=np.int_), np.array(run_pos, dtype=np.int_),
                        np.array(run_len, dtype=np.int_)]
        self._out = np.zeros(len(pos), dtype=np.uint64)
        self._bits = np.zeros(sum(run_len), dtype=np.uint8)
        t = [a.ctypes.data for a in self._tables]
        self._struct = _Table(self.words, len(pos), t[0], t[2], t[1], self._out.ctypes.data,
                              len(run_pos), t[3], t[4], self._bits.ctypes.data)
        self._table = ctypes.byref(self._struct)
        # numpy: the numbers of each width as one gather of their bits (index rows)
        self._groups = []
        p_, w_, s_ = self._tables[:3]
        for w in sorted(set(width)):
            e = np.flatnonzero(w_ == w)
            idx = p_[e, None] + np.arange(w)[None, :] * s_[e, None]
            self._groups.append((e, idx, np.arange(w, dtype=np.uint64)))
        self._run_bits = np.concatenate([np.arange(p, p + n) for p, n in zip(run_pos, run_len)]
                                        or [np.zeros(0, dtype=np.int_)])

    def decode(self, port: VectorPort, *, compiled: bool = True) -> "Record":
        """The record on ``port`` now (``compiled=False``: the numpy steps, for tests).  Its
        values are this decoder's buffers: valid until the next decode (copy what is kept)."""
        if port.width != self.width:
            raise ValueError(f"a {port.width}-bit port holds no {self.width}-bit bridge record")
        lib = kernel() if compiled else None
        if lib is not None:
            lib.gca_record(self._table, port.read_pairs())
        else:
            bits = np.unpackbits(port.read_words().view(np.uint8), bitorder="little")
            for e, idx, shift in self._groups:
                self._out[e] = (bits[idx].astype(np.uint64) << shift).sum(axis=1,
                                                                         dtype=np.uint64)
            self._bits[:] = bits[self._run_bits]
        return Record(self, self._out, self._bits.view(bool))


class Record:
    """One read of the bridge record: the numbers (``ints``: name → int), each array field's
    elements, each bit field's bits."""

    def __init__(self, decoder: RecordDecoder, values: np.ndarray, bits: np.ndarray) -> None:
        self._dec, self.values, self._bit_values = decoder, values, bits
        self.ints = ints = dict(zip(decoder._piece_keys, values[:decoder.n_scalar].tolist()))
        for name, rest in decoder._multi:       # the pieces' keys stay: tuples, not names
            v = ints[name]
            for key, shift in rest:
                v |= ints[key] << shift
            ints[name] = v

    def int(self, name: str) -> int:
        return self.ints[name]

    def array(self, name: str) -> np.ndarray:
        """The elements of array field ``name`` (uint64, a view of :attr:`values`)."""
        return self.values[self._dec.arrays[name]]

    def bits(self, name: str) -> np.ndarray:
        """The bits of field ``name`` (bool, a view; element i = bit i)."""
        return self._bit_values[self._dec.runs[name]]


class PlaneWriter:
    """Drives ``port`` with the ``width`` bit planes of its ``port.width // width`` values (the
    layout of :func:`tb.cosim.bus.bit_planes`; width 1: the values' bits)."""

    def __init__(self, port: VectorPort, width: int) -> None:
        if width < 1 or port.width % width:
            raise ValueError(f"a {port.width}-bit port holds no whole {width}-bit planes")
        self.port, self.width, self.n = port, width, port.width // width
        # bytes, eight at a time (gca_planes8: a little-endian host), when they hold the values
        # and fill the groups
        self._bytes = width <= 8 and self.n % 8 == 0 and sys.byteorder == "little"
        self._v = np.zeros(self.n, dtype=np.uint8 if self._bytes else np.int64)
        self._ptrs = (self._v.ctypes.data, port.write_buffer.ctypes.data)

    def put(self, values: np.ndarray, *, compiled: bool = True) -> None:
        """Drive the port at once with ``values`` (n unsigned integers below 2**width, any
        shape; ``compiled=False``: numpy, for tests)."""
        if np.size(values) != self.n:
            raise ValueError(f"{np.size(values)} values written to {self.n} lanes of "
                             f"{self.width}-bit planes")
        self._v[...] = np.ravel(values)
        lib = kernel() if compiled else None
        if lib is None:
            self.port.write_bits(bit_planes(self._v, self.width))
            return
        (lib.gca_planes8 if self._bytes else lib.gca_planes)(self.n, self.width, *self._ptrs)
        self.port.put()
