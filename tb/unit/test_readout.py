"""analog_models.readout: one token's writes and read-out, shared by golden model and bridge."""

import numpy as np

from analog_models.array import GainCellBank
from analog_models.c2p import relu_c2p, signed_c2p, signed_value
from analog_models.dac import code_to_volts, pulse_fraction
from analog_models.readout import read_token, write_token_column
from hdl.config import HeadConfig

CFG = HeadConfig().with_overrides(["array.head_dim=8", "array.tile_cols=4", "array.n_tiles=3",
                                   "analog.variability=on", "analog.tau_retention_s=1e-6"])


def test_write_and_read_are_the_bank_calls_in_order():
    """The golden path (write_token_column) and the bridge (discharge and write at two pin
    edges, the read-out at the fire edge) leave the banks in the same state and read the same
    floats, bit for bit."""
    rng = np.random.default_rng(0)
    ours = [GainCellBank.for_head(CFG, kind) for kind in "KV"]
    split = [GainCellBank.for_head(CFG, kind) for kind in "KV"]
    valid = np.zeros((3, 4), bool)
    for t in range(14):
        tile, col = divmod(t % 12, 4)
        valid.flat[t % 12] = True
        codes = rng.integers(0, 8, (2, 8))
        for bank, c in zip(ours, codes):
            write_token_column(bank, tile, col, code_to_volts(c, CFG), t * 1e-7)
        for bank, c in zip(split, codes):
            bank.discharge_column(tile, col)
            bank.write_column(tile, col, code_to_volts(c, CFG), t * 1e-7)
        x = pulse_fraction(rng.integers(0, 16, 8), CFG)
        r = read_token(*ours, x, t * 1e-7 + 3e-9, valid, CFG)
        s = split[0].read_columns(x, t * 1e-7 + 3e-9, valid)
        o = split[1].read_rows(relu_c2p(s, CFG), t * 1e-7 + 3e-9)
        sign, count = signed_c2p(o, CFG)
        for got, want in ((r.scores, s), (r.activations, relu_c2p(s, CFG)), (r.charges, o),
                          (r.sign, sign), (r.count, count), (r.values, signed_value(sign, count))):
            np.testing.assert_array_equal(got, want)
        assert np.all(r.scores[~valid] == 0) and r.count.dtype == np.int64
    assert np.abs(r.values).max() > 0
