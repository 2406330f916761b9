"""The simulated board: the host program drives :class:`hdl.fpga.top.PrototypeCore` through its
UART pins, bit by bit, in the Amaranth simulator (host → link → head → twin → head → link →
host).  Fault injection on the host → board line proves that a flipped or a dropped byte is
detected, reported and recovered from.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from amaranth.sim import Simulator

from hdl.config import HeadConfig
from hdl.fpga.top import PrototypeCore
from sim.twin import twin_tables

from .host import HostSession
from .protocol import token_payload

__all__ = ["LineUart", "Fault", "SimRun", "simulate_board"]

log = logging.getLogger(__name__)


class LineUart:
    """The host's UART at the pin level, one call per fabric cycle: serialises bytes onto the
    board's rx line and deserialises its tx line (8N1, ``divisor`` cycles per bit)."""

    def __init__(self, divisor: int) -> None:
        self.divisor = divisor
        self.to_board = bytearray()
        self.from_board = bytearray()
        self._bits: list[int] = []
        self._bit_left = 0
        self._level = 1
        self._rx: list | None = None        # [cycles to next sample, bits]

    def step(self, tx: int) -> int:
        """Sample the board's tx, return the level to put on its rx for the next cycle."""
        if self._rx is None:
            if tx == 0:
                self._rx = [self.divisor + self.divisor // 2 - 1, []]
        elif self._rx[0] == 0:
            if len(self._rx[1]) < 8:
                self._rx[1].append(tx)
                self._rx[0] = self.divisor - 1
            else:
                self.from_board.append(sum(b << i for i, b in enumerate(self._rx[1])))
                self._rx = None
        else:
            self._rx[0] -= 1
        if self._bit_left == 0:
            if not self._bits and self.to_board:
                b = self.to_board.pop(0)
                self._bits = [0] + [(b >> i) & 1 for i in range(8)] + [1]
            self._level = self._bits.pop(0) if self._bits else 1
            self._bit_left = self.divisor
        self._bit_left -= 1
        return self._level


@dataclass
class Fault:
    """Damage one frame on the line: the ``frame``-th frame sent (counting resends) host →
    board, or board → host with ``to_host``; byte ``offset`` of it XOR-ed with ``xor``
    (``xor=None``: the byte is dropped)."""

    frame: int
    offset: int
    xor: int | None = 0x10
    to_host: bool = False


class _ReturnLine:
    """Board → host faults, byte by byte (frames arrive in pieces): counts frames END … END
    and damages the faults' bytes; keeps each damaged frame's code byte."""

    def __init__(self, faults: list[Fault]) -> None:
        self.faults = sorted(faults, key=lambda f: (f.frame, f.offset))
        self.frame, self.offset, self.inside = 0, 0, False
        self.damaged_codes: list[int] = []

    def __call__(self, data: bytes) -> bytes:
        from hdl.fpga.protocol import SLIP_END

        out = bytearray()
        for b in data:
            if not self.inside:
                if b != SLIP_END:
                    out.append(b)
                    continue
                self.inside, self.offset = True, 0
            else:
                self.offset += 1
            f = self.faults[0] if self.faults else None
            if self.offset == 1 and f and f.frame == self.frame:
                self.damaged_codes.append(b)
            end = self.inside and self.offset > 0 and b == SLIP_END
            if f and (f.frame, f.offset) == (self.frame, self.offset):
                self.faults.pop(0)
                if f.xor is not None:
                    out.append(b ^ f.xor)
            else:
                out.append(b)
            if end:
                self.inside, self.frame = False, self.frame + 1
        return bytes(out)


@dataclass
class SimRun:
    session: HostSession
    cycles: int
    wall_s: float
    faults_applied: int
    min_time_scale: int
    time_scale: int
    extra: dict = field(default_factory=dict)
    lanes: int = 1


def simulate_board(cfg: HeadConfig, q: np.ndarray, k: np.ndarray, v: np.ndarray, *,
                   divisor: int = 4, time_scale: int | None = None, token_credit: int = 4,
                   faults: list[Fault] = (), max_cycles: int = 50_000_000,
                   clock_hz: float = 12e6, host_time_scale: int | None = None,
                   lanes: int = 1) -> SimRun:
    """Run the token codes (T, d) each through the simulated board; the host's session holds
    the outputs, its error counts and the board's final status.  ``time_scale``: R at power-up
    (default the twin's minimum); ``host_time_scale``: R the host sets with CMD_TIME_SCALE;
    ``lanes``: the twin's parallel lanes."""
    tables = twin_tables(cfg)
    core = PrototypeCore(cfg, tables, divisor=divisor, time_scale=time_scale,
                         token_credit=token_credit, lanes=lanes)
    payloads = [token_payload(cfg, q[t], k[t], v[t]) for t in range(len(q))]
    r = core.min_time_scale if time_scale is None else time_scale
    r = r if host_time_scale is None else host_time_scale
    # timeout: a few frames' time on the line plus a token's time in the head
    frame_s = (len(payloads[0]) + 8) * 10 * divisor / clock_hz if payloads else 0.0
    head_s = 4 * core.head.latency * r / clock_hz
    session = HostSession(cfg, payloads, credit=token_credit, timeout_s=8 * frame_s + head_s,
                          time_scale=host_time_scale)
    line = LineUart(divisor)
    back = _ReturnLine([f for f in faults if f.to_host])
    pending_faults = sorted((f for f in faults if not f.to_host), key=lambda f: f.frame)
    state = {"cycles": 0, "frames": 0, "applied": 0}

    def damage(frames: bytes) -> bytes:
        out = bytearray()
        for chunk in _split_frames(frames):
            if pending_faults and pending_faults[0].frame == state["frames"]:
                f = pending_faults.pop(0)
                chunk = bytearray(chunk)
                if f.xor is None:
                    del chunk[f.offset]
                else:
                    chunk[f.offset] ^= f.xor
                state["applied"] += 1
            state["frames"] += 1
            out += chunk
        return bytes(out)

    async def bench(ctx):
        cycle = 0
        while not session.done and cycle < max_cycles:
            if cycle % divisor == 0:
                now = cycle / clock_hz
                if line.from_board:
                    session.feed(back(bytes(line.from_board)), now)
                    line.from_board.clear()
                if not line.to_board:
                    line.to_board += damage(session.pending(now))
            ctx.set(core.i_rx, line.step(ctx.get(core.o_tx)))
            await ctx.tick()
            cycle += 1
        state["cycles"] = cycle

    sim = Simulator(core)
    sim.add_clock(1 / clock_hz)
    sim.add_testbench(bench)
    t0 = time.perf_counter()
    sim.run()
    wall = time.perf_counter() - t0
    return SimRun(session, state["cycles"], wall, state["applied"] + len(back.damaged_codes),
                  core.min_time_scale, r, {"damaged_to_host": back.damaged_codes}, lanes)


def _split_frames(data: bytes) -> list[bytes]:
    """Frames of an encoded byte string (each END … END)."""
    from hdl.fpga.protocol import SLIP_END

    out, start, inside = [], 0, False
    for i, b in enumerate(data):
        if b == SLIP_END:
            if inside:
                out.append(data[start:i + 1])
                inside = False
            else:
                start, inside = i, True
    return out
