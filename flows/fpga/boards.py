"""The boards the prototype is built for: platform, prototype config, bitstream, programmer.

One entry per board; ``--board`` takes these names.  The prototype config of each board is the
largest that was made to fit with the twin and the link (see the README's "Run it on a board").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..synth.fpga import ECP5_CLASSIC_LUT_MAP

__all__ = ["Board", "Resource", "BOARDS", "BAUD"]

#: Default serial link speed (every FTDI bridge runs it).
BAUD = 115200


@dataclass(frozen=True)
class Resource:
    """One resource of the device, estimated from the Yosys cells after synthesis: Σ weight ×
    count of the cells whose type starts with each prefix, against ``available × limit`` (the
    share the placer is asked to reach; nextpnr loops rather than stop on over-use)."""

    name: str
    cells: tuple[tuple[str, float], ...]
    available: int
    limit: float = 1.0


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
    script_after_synth: str = ""           # Yosys commands after it (the top is ``top``)
    baud: int = BAUD                       # serial link speed (an integer divisor of the clock)
    lanes: int | None = None               # twin lanes; None = derived (build.board_lanes)
    resources: tuple[Resource, ...] = ()   # the device, for the fit check before P&R
    nextpnr_opts: str = ""                 # extra nextpnr options
    flow: str = ""                         # the synthesis/P&R path, for the report


def _icebreaker():
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    return ICEBreakerPlatform()


def _ulx3s_85f():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    return ULX3S_85F_Platform()


BOARDS = {
    "icebreaker": Board("icebreaker", _icebreaker,
                        ("array.head_dim=8", "array.n_tiles=4", "array.tile_cols=16"),
                        "top.bin", ("iceprog",), synth_opts="-dsp", token_credit=2,
                        flow="synth_ice40 -dsp, nextpnr-ice40",
                        # logic cells: a LUT4 each, flip-flops mostly packed beside them
                        # (0.8: the prototype's 2,907 LUT4 + 2,226 FF placed in 4,643 LCs)
                        resources=(Resource("LC", (("SB_LUT4", 1), ("SB_DFF", 0.8)), 5280),
                                   Resource("FF", (("SB_DFF", 1),), 5280),
                                   Resource("RAM", (("SB_RAM40_4K", 1),), 30),
                                   Resource("DSP", (("SB_MAC16", 1),), 8))),
    # the platform looks for openFPGALoader even when not programming (DESIGN.md §7)
    # LUTs mapped by classic ABC (synth_ecp5 stopped before map_luts, resumed after).  The
    # twin has 8 lanes, not the 16 with which the head would keep up with the 1 Mbaud link:
    # the default head + 16-lane twin (52,653 LUT4, 62 %) did not route (router2 got to 41
    # over-used wires, then diverged; ABC9: 199, then diverged), with 8 lanes (47,741 LUT4,
    # 57 %) router2 converges in 40 iterations: 34.7 MHz, R = 1094, 737 tokens/s (head-bound).
    "ulx3s-85f": Board("ulx3s-85f", _ulx3s_85f, (), "top.bit",
                       ("openFPGALoader", "-b", "ulx3s"), (("OPENFPGALOADER", "true"),),
                       synth_opts="-run begin:map_luts",
                       script_after_synth=ECP5_CLASSIC_LUT_MAP
                       + "\nsynth_ecp5 -top top -run map_cells:",
                       # 25 MHz / 1 Mbaud: an exact divisor (25); the FT231X runs up to 3 Mbaud
                       baud=1_000_000, lanes=8,
                       # router1 did not converge on the default head in 25 min (190 k of
                       # 228 k arcs left, rip-ups growing); router2 routed the head before
                       # (DESIGN.md §7)
                       nextpnr_opts="--router router2",
                       flow="synth_ecp5, LUTs mapped by classic ABC (abc -lut 4), "
                            "nextpnr-ecp5 --router router2",
                       # a CCU2C is two LUT4s with their carry; a 16×4 distributed RAM ~4
                       resources=(Resource("LUT4", (("LUT4", 1), ("CCU2C", 2),
                                                    ("TRELLIS_DPR16X4", 4)), 83640, 0.85),
                                  Resource("FF", (("TRELLIS_FF", 1),), 83640, 0.9),
                                  Resource("EBR", (("DP16KD", 1),), 208),
                                  Resource("DSP", (("MULT18X18D", 1),), 156))),
}
