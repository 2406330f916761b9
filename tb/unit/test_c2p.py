"""Charge-to-pulse circuits (model-spec §3, DESIGN.md §5)."""

import numpy as np

from analog_models.c2p import (
    relu_c2p,
    signed_c2p,
    signed_c2p_normalized,
    signed_value,
    signed_value_of_normalized,
)
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
    np.testing.assert_array_equal(signed_value_of_normalized(signed_c2p_normalized(o, CFG), CFG),
                                  [0, 0, 1, -1, -2, 15, 15, 15, -15])


def test_signed_value_of_normalized_is_the_counter_reading_exactly():
    """The short path agrees with sign + count on every charge, including the half-count
    boundaries (|O| = (k + ½)·S_sat2/15 as floats round them), ±0 and saturation."""
    rng = np.random.default_rng(0)
    lsb = 40.0 / 15
    edges = (np.arange(-20, 20) + 0.5) * lsb
    o = np.concatenate([rng.normal(0, 30, 100_000), edges, np.nextafter(edges, 0),
                        np.nextafter(edges, np.inf), [0.0, -0.0, -1e-300, 40.0, -40.0, 1e9]])
    want = np.where(o < 0, -1, 1) * np.minimum(np.floor(np.abs(o) / 40.0 * 15 + 0.5), 15)
    got = signed_value_of_normalized(signed_c2p_normalized(o, CFG), CFG)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want.astype(np.int64))
    np.testing.assert_array_equal(got, signed_value(*signed_c2p(o, CFG)))


def test_counter_width_from_config():
    cfg = HeadConfig().with_overrides(["array.count_bits=5"])
    _, count = signed_c2p(np.array([40.0, 20.0]), cfg)
    np.testing.assert_array_equal(count, [31, 16])     # floor(15.5 + 0.5)
