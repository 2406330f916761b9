"""The host program's protocol engine, independent of the transport (sans-I/O).

:class:`HostSession` decides what to send and makes sense of what comes back; a transport
moves the bytes: pyserial for a board (:mod:`flows.fpga.serial_run`) or the UART pins of the
simulated board (:mod:`flows.fpga.simboard`).  Both run this same code.

Protocol use (format in :mod:`hdl.fpga.protocol`): ``CMD_RESET`` (seq 0) until acknowledged,
optionally ``CMD_TIME_SCALE``, then the tokens, then — once every output is in —
``CMD_STATUS``.  Go-back-N: at most ``window`` unacknowledged frames; on a NAK the host resends
from the sequence number the board expects (a NAK naming a number already being resent is not
acted on twice); if nothing arrives for ``timeout`` seconds the unacknowledged frames are
resent.  Flow control: at most ``credit`` tokens sent whose output has not arrived (the
board's token buffer), so back-pressure from the head reaches the host; a ``NAK_BUSY``
refusal is resent like a loss.  Outputs must arrive in token order with their token's
sequence number: anything else is counted as ``mixed_up``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdl.config import HeadConfig
from hdl.fpga import protocol as P

from .protocol import FrameDecoder, decode_output, decode_status, encode_frame

__all__ = ["HostSession", "LinkErrors", "LinkFailed"]


class LinkFailed(RuntimeError):
    """The board refused a command as malformed or out of range, or stopped answering."""


@dataclass
class LinkErrors:
    """What the host saw go wrong (the board's own counters are in the final status)."""

    bad_frames: int = 0              # frames from the board with a bad CRC / escape
    naks: dict[str, int] = field(default_factory=dict)   # by reason
    resends: int = 0                 # frames sent again
    timeouts: int = 0
    mixed_up: int = 0                # outputs out of order or with an unknown seq
    duplicated: int = 0
    #: outputs whose frame was damaged on the way back (seen as a gap in the sequence
    #: numbers, or missing when the board's status counts them sent): the board keeps no
    #: copy to resend, so they are reported missing, never guessed or mixed up
    lost_outputs: int = 0


_NAK_NAMES = {P.NAK_CRC: "crc", P.NAK_SEQ: "seq", P.NAK_BUSY: "busy", P.NAK_BAD: "bad",
              P.NAK_RANGE: "range"}


class HostSession:
    #: Give up after this many timeouts (nothing answered the frames sent).
    MAX_TIMEOUTS = 50

    def __init__(self, cfg: HeadConfig, payloads: list[bytes], *, credit: int,
                 time_scale: int | None = None, window: int = 8, timeout_s: float = 0.5):
        self.cfg, self.credit, self.window, self.timeout_s = cfg, credit, window, timeout_s
        cmds: list[tuple[int, bytes]] = [(P.CMD_RESET, b"")]
        if time_scale is not None:
            cmds.append((P.CMD_TIME_SCALE, time_scale.to_bytes(2, "little")))
        self._first_token = len(cmds)
        cmds += [(P.CMD_TOKEN, p) for p in payloads]
        cmds.append((P.CMD_STATUS, b""))
        self._cmds = cmds
        self.n_tokens = len(payloads)
        self.outputs: list[np.ndarray | None] = [None] * self.n_tokens
        self.n_out = 0
        self.status: dict[str, int] | None = None
        self.errors = LinkErrors()
        self._base = 0                  # first unacknowledged command
        self._next = 0                  # next command to send
        self._sent_once = 0             # commands sent at least once
        self._decoder = FrameDecoder()
        self._last_progress = 0.0
        self._rewound: tuple[int, float] | None = None
        #: Times the host held a token back for lack of credit (back-pressure from the head).
        self.credit_waits = 0

    # -- state ---------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.status is not None

    def _seq(self, i: int) -> int:
        return i & 0xFF         # RESET is command 0 with seq 0

    def _index(self, seq: int, lo: int, hi: int) -> int | None:
        """The command in [lo, hi] with this seq (commands in flight span < 256)."""
        i = lo + ((seq - self._seq(lo)) & 0xFF)
        return i if i <= hi else None

    # -- what to send --------------------------------------------------------------------------
    def pending(self, now: float) -> bytes:
        """Frames the host may send now (call often)."""
        if self._base < len(self._cmds) and now - self._last_progress > self.timeout_s \
                and (self._next > self._base or self.n_out < self._tokens_sent()):
            if self._next > self._base:
                self.errors.timeouts += 1
                if self.errors.timeouts > self.MAX_TIMEOUTS:
                    raise LinkFailed(f"the board does not answer ({self.MAX_TIMEOUTS} timeouts "
                                     f"of {self.timeout_s:g} s)")
                self._rewind(self._base, now)
            elif now - self._last_progress > 20 * self.timeout_s:
                raise LinkFailed(f"no output for {20 * self.timeout_s:g} s "
                                 f"({self.n_out} of {self.n_tokens} received)")
        out = bytearray()
        while self._next < len(self._cmds) and self._next - self._base < self.window:
            i = self._next
            code, payload = self._cmds[i]
            if i > 0 and self._base == 0:
                break                   # nothing before the reset is acknowledged
            if code == P.CMD_TOKEN and (i - self._first_token) - self.n_out >= self.credit:
                self.credit_waits += 1
                break                   # the board's token buffer may be full
            if code == P.CMD_STATUS and self.n_out < self.n_tokens:
                if now - self._last_progress <= 4 * self.timeout_s:
                    break               # status once every output is in …
                self._last_progress = now   # … or none came for a while (its timeout)
            out += encode_frame(code, self._seq(i), payload)
            if i < self._sent_once:
                self.errors.resends += 1
            self._sent_once = max(self._sent_once, i + 1)
            self._next += 1
        return bytes(out)

    def _tokens_sent(self) -> int:
        return max(0, min(self._next, len(self._cmds) - 1) - self._first_token)

    def _rewind(self, i: int, now: float) -> None:
        self._next = i
        self._rewound = (i, now)
        self._last_progress = now

    # -- what came back ------------------------------------------------------------------------
    def feed(self, data: bytes, now: float) -> None:
        for f in self._decoder.feed(data):
            if not f.ok:
                self.errors.bad_frames += 1
                continue
            if f.code in (P.RSP_ACK, P.RSP_STATUS):
                i = self._index(f.seq, self._base, self._next - 1) \
                    if self._next > self._base else None
                if i is not None:
                    self._base = i + 1
                    self._last_progress = now
                    if f.code == P.RSP_STATUS and i == len(self._cmds) - 1:
                        self.status = decode_status(f.payload)
                        # outputs the board sent that never arrived whole
                        self.errors.lost_outputs += max(
                            0, min(self.status["outputs"], self.n_tokens) - self.n_out)
            elif f.code == P.RSP_NAK:
                reason, expect = f.payload[0], f.payload[1]
                name = _NAK_NAMES.get(reason, str(reason))
                self.errors.naks[name] = self.errors.naks.get(name, 0) + 1
                if reason in (P.NAK_BAD, P.NAK_RANGE):
                    raise LinkFailed(f"the board refused command seq {f.seq}: {name}")
                if self._base == 0:
                    continue            # before the reset: resent on timeout
                i = self._index(expect, self._base, self._next)
                if i is None:
                    continue
                self._base = i
                if self._rewound and self._rewound[0] == i and \
                        now - self._rewound[1] < self.timeout_s:
                    continue            # already resending from there
                self._rewind(i, now)
            elif f.code == P.RSP_OUT:
                self._output(f.seq, f.payload, now)

    def _output(self, seq: int, payload: bytes, now: float) -> None:
        if self.n_out >= self.n_tokens:
            self.errors.duplicated += 1
            return
        expect = self._first_token + self.n_out
        if seq != self._seq(expect):
            i = self._index(seq, expect, self._first_token + self._tokens_sent() - 1)
            if i is None:
                self.errors.mixed_up += 1
                return
            self.errors.lost_outputs += i - expect     # frames lost in between
            self.n_out = i - self._first_token
        self.outputs[self.n_out] = decode_output(self.cfg, payload)
        self.n_out += 1
        self._last_progress = now
