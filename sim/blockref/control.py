"""Cycle models of the head's control blocks, written from their contracts, not from the RTL.

Each model has ``step(inputs) -> outputs``, called once per clock cycle with the values on the
block's input ports in that cycle.  Port names are the RTL's without the ``i_``/``o_``
prefixes; one-hot vectors and masks are Python ints (bit i = line i), code vectors are lists of
ints.  What ``step`` returns, and so how a test lines it up with the RTL's ``latency``:

* :class:`AddressDecoderRef` and :class:`WriteAddressRef` return the *response* to the inputs
  (the decoded selects; the pointer state after the clock edge).  The RTL shows it ``latency``
  cycles later (0 and 1); before the first response the RTL shows :meth:`WriteAddressRef.outputs`
  of the reset state.
* :class:`WriteSequencerRef` returns the outputs *during* the cycle (its ``ready`` decides
  whether the start of that cycle is accepted); token offset 0 is ``latency`` cycles after the
  accept, with ``latency`` a constructor argument (the RTL's contract: 1).

* :class:`AddressDecoderRef`      — :class:`hdl.blocks.address_decoder.AddressDecoder`
* :class:`WriteAddressRef`        — :class:`hdl.blocks.write_address.WriteAddressController`
* :class:`WriteSequencerRef`      — :class:`hdl.blocks.write_sequencer.WriteSequencer`
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hdl.config import HeadConfig
from hdl.schedule import Schedule
from sim.bits import bits_to_int

__all__ = ["AddressDecoderRef", "WriteAddressRef", "WriteSequencerRef"]


class AddressDecoderRef:
    """Binary → one-hot tile and column decoders (combinational)."""

    def __init__(self, cfg: HeadConfig) -> None:
        self.n = cfg.array.n_tiles
        self.c = cfg.array.tile_cols

    def step(self, inputs: dict[str, int]) -> dict[str, int]:
        tile, col, en = inputs["tile"], inputs["col"], inputs["en"]
        tile_sel = np.zeros(self.n, bool)
        col_sel = np.zeros(self.c, bool)
        if en:
            if tile < self.n:
                tile_sel[tile] = True
            if col < self.c:
                col_sel[col] = True
        return {"tile_sel": bits_to_int(tile_sel), "col_sel": bits_to_int(col_sel)}


class WriteAddressRef:
    """Sliding-window bookkeeping: which of the W columns hold a token, and where the next goes.

    Kept as the number of tokens written since the last clear; token j went to column j mod W.
    """

    def __init__(self, cfg: HeadConfig) -> None:
        self.n = cfg.array.n_tiles
        self.c = cfg.array.tile_cols
        self.w = cfg.array.window
        self.written = 0  # tokens written since the last clear (unbounded)

    def outputs(self) -> dict[str, int]:
        ptr = self.written % self.w
        tile, col = divmod(ptr, self.c)
        valid = np.zeros(self.w, bool)
        valid[: min(self.written, self.w)] = True  # columns 0 … written−1 (all once wrapped)
        return {
            "ptr": ptr,
            "tile": tile,
            "col": col,
            "tile_sel": 1 << tile,
            "col_sel": 1 << col,
            "valid": bits_to_int(valid),
            "full": int(self.written >= self.w),
            "count": int(valid.sum()),
        }

    def step(self, inputs: dict[str, int]) -> dict[str, int]:
        """Apply one cycle's ``advance``/``clear`` (clear wins) and return the new outputs."""
        if inputs["clear"]:
            self.written = 0
        elif inputs["advance"]:
            self.written += 1
        return self.outputs()


class WriteSequencerRef:
    """Token write sequence: the token in flight, with its accept cycle and latched codes.

    Offset ``o`` of a token accepted in cycle ``a`` is cycle ``a + latency + o``; the phases are
    those of :class:`Schedule`; the sequencer takes a new token in the last cycle of a V write.
    """

    def __init__(self, cfg: HeadConfig, latency: int = 1) -> None:
        self.latency = latency
        s = Schedule(cfg)
        self.d = cfg.array.head_dim
        self.phases = {
            "discharge_k": s.k_discharge,
            "we_k": s.k_write,
            "discharge_v": s.v_discharge,
            "we_v": s.v_write,
        }
        self.last = s.v_write[1] - 1  # offset of the last V-write cycle
        self.cycle = 0
        self.token: dict[str, Any] | None = None  # accept cycle and latched codes

    def _offset(self) -> int | None:
        """Offset of the current cycle in the token in flight; None when there is none."""
        if self.token is None:
            return None
        o = self.cycle - self.token["accepted"] - self.latency
        return o if o <= self.last else None

    def step(self, inputs: dict[str, Any]) -> dict[str, Any]:
        o = self._offset()
        active = o is not None and o >= 0
        out: dict[str, Any] = {name: int(active and lo <= o < hi)
                               for name, (lo, hi) in self.phases.items()}
        zeros = [0] * self.d
        out["dac_k"] = list(self.token["k"]) if out["we_k"] else zeros
        out["dac_v"] = list(self.token["v"]) if out["we_v"] else zeros
        out["busy"] = int(active)
        out["done"] = int(o == self.last)
        out["ready"] = int(o is None or o == self.last)
        if inputs["start"] and out["ready"]:
            self.token = {"accepted": self.cycle, "k": list(inputs["k"]), "v": list(inputs["v"])}
        self.cycle += 1
        return out
