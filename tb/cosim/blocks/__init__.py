"""cocotb tests of the generated Verilog of each digital block (tier 2).

One module per block, ``cocotb_<block>.py`` (not ``test_*``: pytest must not collect them), run
by ``tb/cosim/test_blocks_cosim.py`` through :func:`tb.cosim.runner.run_cocotb`.  Each reads the
config from the ``config.json`` sidecar, drives seeded random stimuli and compares every cycle
with the same numpy reference (:mod:`sim.blockref`) and stimuli (:mod:`sim.stimuli`) as the
Amaranth unit tests in ``tb/unit``.
"""
