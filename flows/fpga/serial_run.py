"""The host program on a real board: :class:`flows.fpga.host.HostSession` over pyserial."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time

import numpy as np

from hdl.cli import RunFailed
from hdl.config import HeadConfig

from .boards import BAUD, BOARDS
from .host import HostSession
from .protocol import token_payload

__all__ = ["program_board", "run_serial"]

log = logging.getLogger(__name__)


def program_board(board: str, bitstream: str) -> None:
    """Load the bitstream with the board's programmer (iceprog / openFPGALoader)."""
    cmd = [*BOARDS[board].programmer, bitstream]
    if shutil.which(cmd[0]) is None:
        raise RunFailed(f"{cmd[0]} is not on PATH: install it to use --program")
    log.info("programming: %s", " ".join(cmd))
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise RunFailed(f"{cmd[0]} exited with {out.returncode}: "
                        f"{(out.stderr or out.stdout).strip().splitlines()[-1:]}")


def run_serial(cfg: HeadConfig, port: str, q: np.ndarray, k: np.ndarray, v: np.ndarray, *,
               credit: int = 4, timeout_s: float = 0.5, baud: int = BAUD
               ) -> tuple[HostSession, float]:
    """Stream the token codes (T, d) each through the board on ``port`` at ``baud`` (the
    board's, :attr:`flows.fpga.boards.Board.baud`); (session, wall s)."""
    import serial  # pyserial: only this command needs it

    payloads = [token_payload(cfg, q[t], k[t], v[t]) for t in range(len(q))]
    session = HostSession(cfg, payloads, credit=credit, timeout_s=timeout_s)
    with serial.Serial(port, baud, timeout=0.01) as line:
        line.reset_input_buffer()
        t0 = time.monotonic()
        while not session.done:
            now = time.monotonic() - t0
            out = session.pending(now)
            if out:
                line.write(out)
            data = line.read(4096)
            if data:
                session.feed(data, time.monotonic() - t0)
        return session, time.monotonic() - t0
