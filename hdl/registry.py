"""The project's lists, each written once: the blocks the generator emits and the names of
the energy-model presets the configuration may select.

* :data:`BLOCKS` — block name (its Verilog module and file name) → (module, ``wiring.Component``
  class).  ``hdl.generate``, the synthesis and PPA flows and the cocotb block tests all read it.
  Modules are imported lazily so that listing the blocks costs nothing.
* :data:`TECH_PRESETS`, :data:`ANALOG_ENERGY_PRESETS` — the preset names ``tech.preset`` and
  ``tech.analog_preset`` accept.  The numbers behind each name, with their sources, live in the
  energy model (``flows/ppa/energy.py``), which checks at import that it defines exactly these.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import HeadConfig

__all__ = ["BLOCKS", "HEAD_BLOCK", "SUB_BLOCKS", "Block", "build_block", "block_class",
           "head_blocks",
           "TECH_PRESETS", "ANALOG_ENERGY_PRESETS"]

@dataclass(frozen=True)
class Block:
    """One generated block."""

    module: str
    """Python module that defines it."""
    cls: str
    """Its ``wiring.Component`` class."""
    scales_with: str
    """What its size grows with, for structural scaling: ``d`` (head dimension), ``nd``
    (channels n_tiles·d), ``W`` (window columns) or ``head`` (the whole head)."""
    readout: str | None = None
    """The ``timing.readout`` whose head contains it; None = every head."""


#: name → :class:`Block`.  Order = the order of the generated manifest.
BLOCKS: dict[str, Block] = {
    "pwm_bank": Block("hdl.blocks.pwm_bank", "PwmBank", "d"),
    "counter_bank": Block("hdl.blocks.counter_bank", "CounterBank", "nd",
                          readout="tile_counters"),
    "adder_tree": Block("hdl.blocks.adder_tree", "AdderTreeBank", "nd", readout="tile_counters"),
    "pulse_sum": Block("hdl.blocks.pulse_sum", "PulseSum", "nd", readout="pulse_sum"),
    "write_address": Block("hdl.blocks.write_address", "WriteAddressController", "W"),
    "address_decoder": Block("hdl.blocks.address_decoder", "AddressDecoder", "W"),
    "write_sequencer": Block("hdl.blocks.write_sequencer", "WriteSequencer", "d"),
    "attention_head": Block("hdl.head", "AttentionHead", "head"),
}

#: The top: every other block is instantiated inside it.
HEAD_BLOCK = "attention_head"

#: Every block but the top, in manifest order.
SUB_BLOCKS: tuple[str, ...] = tuple(name for name in BLOCKS if name != HEAD_BLOCK)

#: Technology presets of the energy / area model (flows/ppa/energy.py).
TECH_PRESETS: tuple[str, ...] = ("n28", "nangate45", "sky130")

#: Analog energy presets (flows/ppa/energy.py); ``paper`` = model-spec §9.1.
ANALOG_ENERGY_PRESETS: tuple[str, ...] = ("paper",)


def head_blocks(cfg: "HeadConfig") -> tuple[str, ...]:
    """The sub-blocks the head of ``cfg`` instantiates (its read-out's, and the common ones)."""
    return tuple(b for b in SUB_BLOCKS if BLOCKS[b].readout in (None, cfg.timing.readout))


def block_class(name: str) -> type:
    """The ``wiring.Component`` class of block ``name``."""
    if name not in BLOCKS:
        raise ValueError(f"unknown block {name!r}; known: {', '.join(BLOCKS)}")
    block = BLOCKS[name]
    return getattr(importlib.import_module(block.module), block.cls)


def build_block(name: str, cfg: "HeadConfig"):
    """Instantiate block ``name`` for ``cfg``."""
    return block_class(name)(cfg)
