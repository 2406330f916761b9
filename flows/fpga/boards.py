"""The boards the prototype is built for: platform, prototype config, bitstream, programmer.

One entry per board; ``--board`` takes these names.  The prototype config of each board is the
largest that was made to fit with the twin and the link (see the README's "Run it on a board").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

__all__ = ["Board", "BOARDS", "BAUD"]

#: Serial link speed (the FTDI bridges of both boards run it without trouble).
BAUD = 115200


@dataclass(frozen=True)
class Board:
    name: str
    platform: Callable[[], object]         # amaranth-boards platform factory
    overrides: tuple[str, ...]             # the prototype config (``--set`` style)
    bitstream: str                         # file name the build leaves
    programmer: tuple[str, ...]            # command to load it (the file appended)
    env: tuple[tuple[str, str], ...] = ()  # extra environment for the build
    synth_opts: str = ""                   # extra options of synth_<family> (iCE40: DSPs)
    token_credit: int = 4                  # depth of the link's token buffer
    script_after_read: str = ""            # Yosys commands before synth_<family>


def _icebreaker():
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    return ICEBreakerPlatform()


def _ulx3s_85f():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    return ULX3S_85F_Platform()


BOARDS = {
    "icebreaker": Board("icebreaker", _icebreaker,
                        ("array.head_dim=8", "array.n_tiles=4", "array.tile_cols=16"),
                        "top.bin", ("iceprog",), synth_opts="-dsp", token_credit=2),
    # the platform looks for openFPGALoader even when not programming (DESIGN.md §7)
    # ABC9 of Yosys 0.70 asserts in synth_ecp5 on the full head unless the design is flattened
    # and its nets split first (DESIGN.md §7)
    "ulx3s-85f": Board("ulx3s-85f", _ulx3s_85f, (), "top.bit",
                       ("openFPGALoader", "-b", "ulx3s"), (("OPENFPGALOADER", "true"),),
                       script_after_read="proc\nflatten\nsplitnets -ports -format __"),
}
