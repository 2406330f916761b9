"""The analog bridge's pin codec (tb/cosim/pins): the bridge record decoded field by field and
the pulse player's bit planes, compiled and numpy, against the layouts written out directly —
each field's value packed at its place in the record (tb.cosim.shell.bridge_fields), DAC codes
of kv_bits each, the PWM widths and the counts as bit planes (tb.cosim.bus) — X and Z reading
as 0; bad ports and values refused with a clear message; without a compiler numpy with one
warning."""

import numpy as np
import pytest

from analog_models import native
from hdl.config import HeadConfig
from tb.cosim import pins
from tb.cosim.bus import bit_planes, from_bit_planes
from tb.cosim.shell import bridge_fields, width_bits
from tb.cosim.vpi import VectorPort

DEFAULT = HeadConfig()
# selects of 130 bits (three 64-bit pieces), fields off byte and word boundaries, 7-bit codes
ODD = HeadConfig().with_overrides(["array.n_tiles=2", "array.tile_cols=128",
                                   "array.head_dim=8", "array.kv_bits=7"])


class MemoryPort(VectorPort):
    """A port over memory: ``sim`` stands for the simulator's (aval, bval) words; a put copies
    the write buffer there."""

    def __init__(self, width: int) -> None:
        self._buffers(width)
        self.sim = np.zeros((self._words, 2), np.uint32)
        self.puts = 0

    def read_pairs(self) -> int:
        return self.sim.ctypes.data

    def put(self) -> None:
        self.sim[...] = self._out
        self.puts += 1

    def bus(self) -> int:
        """The bus as an int, X and Z as 0."""
        words = self.sim[:, 0] & ~self.sim[:, 1]
        return sum(int(w) << (32 * i) for i, w in enumerate(words))


def _record(cfg, rng):
    """A random record: each field's value, and the port holding them at their places."""
    values, value, pos = {}, 0, 0
    for name, w in bridge_fields(cfg):
        values[name] = int.from_bytes(rng.bytes(-(-w // 8)), "little") & ((1 << w) - 1)
        value |= values[name] << pos
        pos += w
    port = MemoryPort(pos)
    for i in range(port._words):
        port.sim[i, 0] = (value >> (32 * i)) & 0xFFFFFFFF
    return values, port


def _bits(value, n):
    return np.array([(value >> i) & 1 for i in range(n)], dtype=bool)


@pytest.mark.parametrize("cfg", [DEFAULT, ODD], ids=["default", "odd"])
@pytest.mark.parametrize("compiled", [True, False], ids=["C", "numpy"])
def test_the_record_decodes_into_every_field(cfg, compiled):
    a = cfg.array
    rng = np.random.default_rng(a.tile_cols)
    dec = pins.RecordDecoder(cfg)
    arrays, bit_fields = pins.element_layout(cfg)
    for _ in range(3):
        values, port = _record(cfg, rng)
        rec = dec.decode(port, compiled=compiled)
        for name, w in bridge_fields(cfg):
            v = values[name]
            if name in bit_fields:
                assert np.array_equal(rec.bits(name), _bits(v, w)), name
            elif name in ("wk_dac", "wv_dac"):
                kb = a.kv_bits
                assert rec.array(name).tolist() == [(v >> (i * kb)) & ((1 << kb) - 1)
                                                    for i in range(a.head_dim)], name
            elif name == "wl_width":
                assert np.array_equal(rec.array(name), from_bit_planes(
                    _bits(v, w), a.head_dim, width_bits(cfg))), name
            else:
                assert name not in arrays
                assert rec.int(name) == v, name


def test_the_kernel_reads_a_number_of_any_width_at_any_offset():
    """Every width 1–64 at every bit offset in a word, plain and strided, across the end of
    the bus (the bits past it read as 0), and bit runs — against Python's int."""
    lib = pins.kernel()
    rng = np.random.default_rng(11)
    words = 5
    pairs = np.zeros((words, 2), np.uint32)
    pairs[:, 0] = rng.integers(0, 1 << 32, words)
    bus = sum(int(w) << (32 * i) for i, w in enumerate(pairs[:, 0]))
    cases = [(p, w, 1) for p in range(64) for w in range(1, 65)] + \
        [(3, 5, 7), (100, 8, 9), (0, 64, 2), (150, 3, 1), (140, 64, 1)]
    pos = np.array([c[0] for c in cases], np.int_)
    width = np.array([c[1] for c in cases], np.intc)
    stride = np.array([c[2] for c in cases], np.int_)
    out = np.zeros(len(cases), np.uint64)
    run_pos, run_len = np.array([5, 130, 31], np.int_), np.array([40, 30, 3], np.int_)
    bits = np.zeros(73, np.uint8)
    table = pins._Table(words, len(cases), pos.ctypes.data, stride.ctypes.data,
                        width.ctypes.data, out.ctypes.data, 2, run_pos.ctypes.data,
                        run_len.ctypes.data, bits.ctypes.data)
    lib.gca_record(table, pairs.ctypes.data)
    for (p, w, s), got in zip(cases, out.tolist()):
        assert got == sum(((bus >> (p + b * s)) & 1) << b for b in range(w)), (p, w, s)
    assert bits.tolist() == [(bus >> i) & 1 for i in [*range(5, 45), *range(130, 160),
                                                      *range(31, 34)]]


@pytest.mark.parametrize("compiled", [True, False], ids=["C", "numpy"])
def test_x_and_z_bits_of_the_record_read_as_0(compiled):
    values, port = _record(DEFAULT, np.random.default_rng(5))
    port.sim[:, 0] = 0xFFFFFFFF                 # every bit 1 …
    port.sim[:, 1] = 0x0F0F0F0F                 # … but these X (aval 1, bval 1)
    rec = pins.RecordDecoder(DEFAULT).decode(port, compiled=compiled)
    want = port.bus()
    pos = 0
    for name, w in bridge_fields(DEFAULT):
        if name == "valid":
            assert np.array_equal(rec.bits(name), _bits(want >> pos, w))
        if name == "cyc":
            cyc = (want >> pos) & ((1 << w) - 1)
            assert rec.int(name) == cyc and cyc != (1 << w) - 1
        pos += w


# (lanes, width): the default pulse player's counts (bytes, eight at a time) and signs, 16-bit
# counts (the widest count_bits), lanes not a multiple of eight
PLANES = [(1024, 4), (1024, 1), (64, 16), (12, 3), (40, 8)]


@pytest.mark.parametrize("n,width", PLANES)
@pytest.mark.parametrize("compiled", [True, False], ids=["C", "numpy"])
def test_the_planes_on_the_port_are_the_values_bits(n, width, compiled):
    rng = np.random.default_rng(n + width)
    port = MemoryPort(n * width)
    writer = pins.PlaneWriter(port, width)
    for values in (rng.integers(0, 1 << width, n), np.full(n, (1 << width) - 1),
                   np.zeros(n, np.int64), rng.integers(0, 1 << width, (2, n // 2))):
        port.sim[:, 1] = 0xFFFFFFFF            # stale X from before: a write clears it
        writer.put(values.astype(np.uint16 if width > 8 else np.uint8), compiled=compiled)
        flat = values.ravel()
        want = sum(((int(flat[i]) >> b) & 1) << (b * n + i) for b in range(width)
                   for i in range(n))
        assert port.bus() == want
        assert not port.sim[:, 1].any()
        assert np.array_equal(_bits(port.bus(), n * width), bit_planes(flat, width))
    assert port.puts == 4


def test_bad_ports_and_values_are_refused():
    with pytest.raises(ValueError, match=r"a 100-bit port holds no 2262-bit bridge record"):
        pins.RecordDecoder(DEFAULT).decode(MemoryPort(100))
    with pytest.raises(ValueError, match=r"a 10-bit port holds no whole 4-bit planes"):
        pins.PlaneWriter(MemoryPort(10), 4)
    writer = pins.PlaneWriter(MemoryPort(64), 4)
    with pytest.raises(ValueError, match=r"15 values written to 16 lanes of 4-bit planes"):
        writer.put(np.zeros(15, np.uint8))


def test_the_pin_codec_builds_here():
    """CI installs a C compiler (flows/run.sh): the codec must load, not fall back."""
    assert pins.kernel() is not None, pins.unavailable_reason()


def test_without_a_compiler_the_codec_runs_numpy_with_one_warning(monkeypatch):
    monkeypatch.setattr(pins, "_state", {})
    monkeypatch.setattr(native, "compiler", lambda: None)
    values, port = _record(DEFAULT, np.random.default_rng(9))
    with pytest.warns(RuntimeWarning, match=r"co-simulation pin codec unavailable \(no C "
                                            r"compiler .*\): the bridge's record and "
                                            r"pulse-player words go through numpy"):
        rec = pins.RecordDecoder(DEFAULT).decode(port)
    assert pins.unavailable_reason().startswith("no C compiler")
    assert rec.int("cyc") == values["cyc"]
    out = MemoryPort(256)
    pins.PlaneWriter(out, 4).put(np.arange(64) % 16)
    assert np.array_equal(_bits(out.bus(), 256), bit_planes(np.arange(64) % 16, 4))
