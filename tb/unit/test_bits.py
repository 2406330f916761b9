"""sim/bits.py: packing integers into bus values (the fast byte path agrees with the bit path)."""

import numpy as np
import pytest

from sim.bits import bits_to_int, field_bits, pack_array, unpack_array


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
