"""Shared plumbing of the per-block cocotb tests: config, seed, clock, reset, cycle stepping.

Timing discipline: inputs are driven at the falling clock edge (the RTL samples them at the
next rising edge); outputs are read in the ``ReadOnly`` phase of the same time step, after the
new inputs have settled through any combinational path.  That is exactly what the reference
models' ``step`` returns (the outputs during the cycle, given this cycle's inputs).
Combinational blocks (no ``clk`` port) advance by a 1 ns ``Timer`` instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer

from hdl.config import HeadConfig
from tb.cosim.runner import load_sidecar_config

__all__ = ["block_setup", "manifest_entry", "Stepper"]


def manifest_entry(block: str) -> dict[str, Any]:
    """The block's entry of the ``manifest.json`` written beside the Verilog and config.json."""
    path = Path(os.environ["GCA_CONFIG"]).with_name("manifest.json")
    for mod in json.loads(path.read_text())["modules"]:
        if mod["module"] == block:
            return mod
    raise AssertionError(f"{block} is not in {path}")


def _seed(block: str, cfg: HeadConfig) -> int:
    """Seed from the block and config hash (override with GCA_SEED): reruns are identical."""
    if os.environ.get("GCA_SEED"):
        return int(os.environ["GCA_SEED"])
    return int(hashlib.sha256(f"{block}:{cfg.hash}".encode()).hexdigest()[:8], 16)


def block_setup(block: str) -> tuple[HeadConfig, int]:
    """Config from the sidecar and the stimulus seed of this block."""
    cfg = load_sidecar_config()
    return cfg, _seed(block, cfg)


class Stepper:
    """Clock, reset and the per-cycle drive/sample rhythm of one DUT."""

    def __init__(self, dut, cfg: HeadConfig) -> None:
        self.dut = dut
        self.clocked = hasattr(dut, "clk")
        self.period_ps = int(round(cfg.timing.t_clk_ns * 1000))

    async def start(self, reset_cycles: int = 2) -> None:
        """Start the clock, hold ``rst`` (Amaranth's synchronous reset) for ``reset_cycles``
        rising edges and release it at a falling edge; the caller then drives cycle 0."""
        if not self.clocked:
            return
        self.dut.rst.value = 1
        Clock(self.dut.clk, self.period_ps, unit="ps", impl="gpi").start()
        for _ in range(reset_cycles):
            await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def settle(self) -> None:
        """Wait until this cycle's inputs have propagated: then read the outputs."""
        if self.clocked:
            await ReadOnly()
        else:
            await Timer(self.period_ps, unit="ps")

    async def next_cycle(self) -> None:
        """Advance to the next falling edge (clocked) — the moment to drive the next inputs."""
        if self.clocked:
            await FallingEdge(self.dut.clk)
