"""Charge-to-pulse circuits (model-spec §3, DESIGN.md §5)."""

import numpy as np

from analog_models.c2p import relu_c2p, signed_c2p, signed_c2p_normalized, signed_value
from hdl.config import HeadConfig

CFG = HeadConfig()


def test_relu_c2p():
    s = np.array([-5.0, 0.0, 20.0, 80.0, 400.0])
    np.testing.assert_array_equal(relu_c2p(s, CFG), [0, 0, 0.25, 1, 1])
    np.testing.assert_array_equal(relu_c2p(s, CFG.analog), relu_c2p(s, CFG))


def test_signed_c2p_rounding_saturation_and_sign():
    lsb = 40.0 / 15          # one count of |O|
    o = np.array([0.0, 0.49 * lsb, 0.51 * lsb, -1.49 * lsb, -1.51 * lsb, 14.6 * lsb, 40.0,
                  1000.0, -1000.0])
    sign, count = signed_c2p(o, CFG)
    np.testing.assert_array_equal(count, [0, 0, 1, 1, 2, 15, 15, 15, 15])
    np.testing.assert_array_equal(sign, [False, False, False, True, True, False, False, False,
                                         True])
    assert count.dtype == np.int64
    np.testing.assert_array_equal(signed_value(sign, count), [0, 0, 1, -1, -2, 15, 15, 15, -15])
    np.testing.assert_allclose(signed_c2p_normalized(o, CFG),
                               np.clip(o / 40, -1, 1))


def test_counter_width_from_config():
    cfg = HeadConfig().with_overrides(["array.count_bits=5"])
    _, count = signed_c2p(np.array([40.0, 20.0]), cfg)
    np.testing.assert_array_equal(count, [31, 16])     # floor(15.5 + 0.5)
