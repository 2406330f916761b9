"""cocotb: :class:`tb.cosim.vpi.VectorPort` against cocotb's own reads and writes.

The loop-back module of :mod:`tb.cosim.test_vpi` drives each output ``y<w>`` with its input
``a<w>`` inverted (``w`` the width); an X register ``x<w>`` is never assigned.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, Timer

from tb.cosim.bus import read_bits, write_bits
from tb.cosim.vpi import VectorPort


@cocotb.test()
async def vector_port_matches_cocotb(dut):
    widths = [int(w) for w in os.environ["GCA_VPI_WIDTHS"].split(",")]
    rng = np.random.default_rng(1)
    for w in widths:
        a, y, x = (getattr(dut, f"{p}{w}") for p in "ayx")
        pa, py, px = VectorPort(a), VectorPort(y), VectorPort(x)
        assert (pa.width, py.width) == (w, w)
        # X reads as 0, as cocotb's bus reads do (tb.cosim.bus; Icarus: all X, Verilator has
        # two states)
        await ReadOnly()
        bits, value = px.read()
        assert np.array_equal(bits, read_bits(x))
        assert value == sum(1 << int(i) for i in np.flatnonzero(bits))
        if cocotb.SIM_NAME.lower().startswith("icarus"):
            assert set(str(x.value).lower()) == {"x"} and value == 0
        await Timer(1, "ns")
        for case in ([True] * w, [False] * w, *(rng.random(w) < 0.5 for _ in range(4))):
            want = np.array(case, bool)
            pa.write_bits(want)               # at once: no other write is pending
            assert np.array_equal(read_bits(a), want)
            await ReadOnly()
            bits, value = py.read()
            assert np.array_equal(bits, ~want) and bits.dtype == bool
            assert value == int(str(y.value), 2) == sum(1 << i for i in range(w) if not want[i])
            words = py.read_words()
            assert words.dtype == np.uint32 and len(words) == (w + 31) // 32
            await Timer(1, "ns")
            # cocotb writes, the port reads
            write_bits(a, ~want)
            await ReadOnly()
            assert np.array_equal(pa.read()[0], ~want) and np.array_equal(py.read()[0], want)
            await Timer(1, "ns")
        try:
            pa.write_bits(np.zeros(w + 1, bool))
        except ValueError as e:
            assert f"{w + 1} bits written to a {w}-bit port" in str(e)
        else:
            raise AssertionError("a write of the wrong width was accepted")
