"""Gain-cell current, DAC and leakage against the numbers of model-spec §1, §2, §4."""

import dataclasses
import math

import numpy as np
import pytest

from analog_models.dac import code_to_volts, kv_code, pulse_fraction, query_code
from analog_models.gain_cell import cell_current, cell_g, effective_poly
from analog_models.leakage import (
    apply_preset,
    cell_age_s,
    decay_factor,
    decay_powers,
    per_token_lambda,
)
from hdl.config import AnalogConfig, HeadConfig
from hdl.schedule import Schedule

AN = AnalogConfig()
CFG = HeadConfig()
# The code's ten coefficients c[0..9] (model-spec §1.1), i outer, j inner.
C10 = [0.17393044, 0.15653739, 0.14088365, 0.12679529, 5.51975209, 4.96777688, 4.4709992,
       -1.44776001, -1.30298401, 46.05483778]


def test_cubic_collapses_from_the_ten_coefficients():
    it = iter(C10)
    coll = [sum(next(it) * 0.9 ** j for j in range(4 - i)) for i in range(4)]
    np.testing.assert_allclose(effective_poly(AN), coll, rtol=1e-7)


@pytest.mark.parametrize("y, expected", [(-0.45, -10.3315), (0.0, 0.5214), (0.45, 10.3130)])
def test_spec_values(y, expected):
    assert float(cell_current(AN.v_mid_V + y, 1.0, AN)) == pytest.approx(expected, abs=6e-5)


def test_currents_at_the_eight_kv_levels():
    volts = code_to_volts(np.arange(8), CFG)
    np.testing.assert_allclose(volts, [i * 0.9 / 7 for i in range(8)], rtol=0, atol=1e-15)
    spec = [-10.332, -5.654, -2.532, -0.377, 1.398, 3.380, 6.155, 10.313]
    np.testing.assert_allclose(cell_current(volts, 1.0, AN), spec, atol=6e-4)
    lin = dataclasses.replace(AN, nonlinearity=False)
    np.testing.assert_allclose(cell_current(volts, 1.0, lin),
                               [-8.685, -6.204, -3.722, -1.241, 1.241, 3.722, 6.204, 8.685],
                               atol=6e-4)


def test_shape_zero_crossing_and_slopes():
    ys = np.linspace(-0.2, 0.2, 400001)
    zero = ys[np.argmin(np.abs(cell_g(ys, AN)))]
    assert zero == pytest.approx(-0.0378, abs=2e-4)          # V_s ≈ 0.412 V
    h = 1e-6
    slope = lambda y: (cell_g(y + h, AN) - cell_g(y - h, AN)) / (2 * h)   # noqa: E731
    assert slope(0.0) == pytest.approx(13.6, abs=0.05)
    assert slope(0.45) == pytest.approx(39.2, abs=0.05)
    assert slope(-0.45) == pytest.approx(43.9, abs=0.05)


def test_linear_fit_slope():
    y = np.linspace(-0.45, 0.45, 2001)
    slope = np.polyfit(y, cell_g(y, AN), 1)[0]
    assert slope == pytest.approx(19.22, abs=0.02)            # model-spec §1.4
    # analytic: C1 + C3·(3/5)·0.45²
    assert slope == pytest.approx(AN.cell_poly_uA[1] + AN.cell_poly_uA[3] * 0.6 * 0.45 ** 2,
                                  abs=0.01)


def test_switches_pulse_fraction_decay_and_broadcast():
    v = np.array([[0.1, 0.45, 0.8]])
    x = np.array([[0.0], [0.5], [1.0]])
    i = cell_current(v, x, AN)
    assert i.shape == (3, 3)
    np.testing.assert_allclose(i[1], 0.5 * i[2])
    assert np.all(i[0] == 0)
    y = v - 0.45
    c = AN.cell_poly_uA
    np.testing.assert_allclose(cell_current(v, 1.0, dataclasses.replace(AN, offset=False)),
                               c[1] * y + c[2] * y ** 2 + c[3] * y ** 3, rtol=1e-12)
    np.testing.assert_allclose(cell_current(v, 1.0, dataclasses.replace(AN, nonlinearity=False)),
                               19.3 * y, rtol=1e-12)
    # Leakage shrinks the signed value; the offset C0 stays.
    d = 0.5
    z = d * y
    np.testing.assert_allclose(cell_current(v, 1.0, AN, decay=d),
                               c[0] + c[1] * z + c[2] * z ** 2 + c[3] * z ** 3, rtol=1e-12)
    assert float(cell_current(0.45, 1.0, AN, decay=0.0)) == pytest.approx(c[0])
    assert float(cell_current(0.2, 1.0)) == float(cell_current(0.2, 1.0, AN))


def test_dac_codes():
    q = np.array([-0.2, 0.0, 0.5 / 15, 1.5 / 15, 0.5, 1.0, 1.7])
    np.testing.assert_array_equal(query_code(q, CFG), [0, 0, 0, 2, 8, 15, 15])  # half to even
    np.testing.assert_allclose(pulse_fraction(np.arange(16), CFG), np.arange(16) / 15)
    v = np.array([-1.0, 0.0, 0.06, 0.07, 0.45, 0.9, 2.0])
    np.testing.assert_array_equal(kv_code(v, CFG), [0, 0, 0, 1, 4, 7, 7])
    with pytest.raises(ValueError, match=r"pulse width must be 0..15 cycles, found 0..16"):
        pulse_fraction(np.array([0, 16]), CFG)
    with pytest.raises(ValueError, match="pulse width must be integer cycles"):
        pulse_fraction(np.array([0.5]), CFG)
    with pytest.raises(ValueError, match=r"DAC code must be 0..7, found -1..3"):
        code_to_volts(np.array([-1, 3]), CFG)
    with pytest.raises(ValueError, match="DAC code must be an integer"):
        code_to_volts(np.array([1.0]), CFG)


def test_leakage_factor_and_presets():
    assert float(decay_factor(cell_age_s(6e-3, 1e-3), 5e-3)) == pytest.approx(math.exp(-1))
    assert float(cell_age_s(1.0, 2.0)) == 0.0
    d = np.array([0.5, 0.9])
    np.testing.assert_allclose(decay_powers(d, (0, 1, 3)), [[1, 1], d, d ** 3])
    # default token step: L = 12 layers × (latency 54 cycles at 1 ns)
    assert per_token_lambda(CFG) == pytest.approx(12 * Schedule(CFG).latency * 1e-9 / 5e-3)
    paper = apply_preset(CFG, "code_per_token")
    assert paper.timing.layers == 12
    assert per_token_lambda(paper) == pytest.approx(1.6e-4, rel=1e-12)
    assert apply_preset(CFG, "osfet").analog.tau_retention_s == pytest.approx(
        1000 * apply_preset(CFG, "cmos").analog.tau_retention_s)
    with pytest.raises(ValueError, match="leakage preset must be one of cmos, code_per_token, "
                                         "osfet, not 'x'"):
        apply_preset(CFG, "x")
