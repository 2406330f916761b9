"""sim/bits.py: packing integers into bus values (the fast byte path agrees with the bit path)."""

import numpy as np
import pytest

from sim.bits import bits_fields, bits_to_int, field_bits, pack_array, unpack_array


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 8, 9, 16])
@pytest.mark.parametrize("n", [0, 1, 3, 7, 8, 1025])
def test_pack_array_is_field_i_at_bits_i_times_width(width, n):
    values = np.random.default_rng(width * 100 + n).integers(-(2 ** width), 2 ** width, n)
    expected = sum((int(v) & ((1 << width) - 1)) << (i * width) for i, v in enumerate(values))
    assert pack_array(values, width) == expected == bits_to_int(field_bits(values, width))
    if n:
        low = ((values + (1 << width)) % (1 << width))
        assert np.array_equal(unpack_array(expected, width, n, signed=False), low)


def test_pack_array_takes_any_shape_and_bools():
    assert pack_array(np.array([[3, -1]], np.int8), 4) == 0xF3
    assert pack_array(np.array([True, False, True]), 1) == 5


@pytest.mark.parametrize("width", [1, 3, 4, 7, 8, 9, 12, 16, 24, 32, 40, 48])
@pytest.mark.parametrize("signed", [False, True])
def test_bits_fields_reads_field_i_from_bits_i_times_width(width, signed):
    # the byte path (whole bytes per field) and the weighted-sum path against a plain loop
    rng = np.random.default_rng(width)
    n = 37
    bits = rng.random(n * width + 5) < 0.5          # trailing bits beyond the fields ignored
    expected = []
    for i in range(n):
        v = sum(int(bits[i * width + j]) << j for j in range(width))
        expected.append(v - (1 << width) if signed and v >> (width - 1) else v)
    got = bits_fields(bits, n, width, signed)
    assert got.dtype == np.int64 and got.tolist() == expected
    # a 0/1 integer vector, not bool, decodes the same
    assert bits_fields(bits.astype(np.uint8), n, width, signed).tolist() == expected


@pytest.mark.parametrize("dtype", [np.uint8, np.int64])
def test_bit_planes_put_bit_b_of_value_i_at_b_times_n_plus_i(dtype):
    from tb.cosim.bus import bit_planes
    values = np.random.default_rng(1).integers(0, 16, 100).astype(dtype)
    planes = bit_planes(values, 4)
    assert planes.dtype == bool and planes.shape == (400,)
    for b in range(4):
        for i, v in enumerate(values):
            assert planes[b * 100 + i] == bool(int(v) >> b & 1)


@pytest.mark.parametrize("overrides", [[], ["array.head_dim=8", "array.q_bits=5",
                                            "array.kv_bits=7", "array.count_bits=5"]])
def test_token_fields_are_the_rtl_stream_layout(overrides):
    """The payload parts every packer reads (hdl.payload, no Amaranth) are exactly the fields
    of the RTL's input stream layout: names, offsets, element counts and widths."""
    from hdl.config import HeadConfig
    from hdl.fpga import protocol
    from hdl.head import token_layout
    from sim.bits import token_fields, token_width

    cfg = HeadConfig().with_overrides(overrides)
    rtl = sorted(((name, f.offset, f.shape.length, f.shape.elem_shape.width)
                  for name, f in token_layout(cfg)), key=lambda p: p[1])
    assert token_fields(cfg) == rtl
    assert [name for name, *_ in rtl] == ["q", "k", "v"]
    assert token_width(cfg) == token_layout(cfg).size == protocol.token_bits(cfg)
