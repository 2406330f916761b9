"""Registry of the digital blocks that ``hdl.generate`` emits, one module per block.

Each entry maps the block's name (its Verilog module and file name) to the module and the
``wiring.Component`` class that builds it from a :class:`~hdl.config.HeadConfig`.  Modules are
imported lazily so that listing the blocks costs nothing.
"""

from __future__ import annotations

import importlib

from .config import HeadConfig

__all__ = ["BLOCKS", "build_block"]

#: name → (module, class).  Order = the order of the generated manifest.
BLOCKS: dict[str, tuple[str, str]] = {
    "pwm_bank": ("hdl.pwm_bank", "PwmBank"),
    "counter_bank": ("hdl.counter_bank", "CounterBank"),
    "adder_tree": ("hdl.adder_tree", "AdderTreeBank"),
    "write_address": ("hdl.write_address", "WriteAddressController"),
    "address_decoder": ("hdl.address_decoder", "AddressDecoder"),
    "write_sequencer": ("hdl.write_sequencer", "WriteSequencer"),
    "attention_head": ("hdl.head", "AttentionHead"),
}


def build_block(name: str, cfg: HeadConfig):
    """Instantiate block ``name`` for ``cfg``."""
    if name not in BLOCKS:
        raise ValueError(f"unknown block {name!r}; known: {', '.join(BLOCKS)}")
    module, cls = BLOCKS[name]
    return getattr(importlib.import_module(module), cls)(cfg)
