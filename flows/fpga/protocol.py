"""Host side of the link: frames encoded and decoded in pure Python.

Codes, CRC parameters and sizes come from :mod:`hdl.fpga.protocol` (the one home of the frame
format, which the gateware is built from); this module only turns them into bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hdl.config import HeadConfig
from hdl.fpga import protocol as P
from sim.bits import pack_token, unpack_array

__all__ = ["crc16", "encode_frame", "FrameDecoder", "Frame", "token_payload", "decode_output",
           "decode_status"]


def crc16(data: bytes, crc: int = P.CRC_INIT) -> int:
    """CRC-16 of the frame format (polynomial ``CRC_POLY``, MSB first, no final XOR)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ P.CRC_POLY) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _escape(body: bytes) -> bytes:
    out = bytearray()
    for b in body:
        if b == P.SLIP_END:
            out += bytes((P.SLIP_ESC, P.SLIP_ESC_END))
        elif b == P.SLIP_ESC:
            out += bytes((P.SLIP_ESC, P.SLIP_ESC_ESC))
        else:
            out.append(b)
    return bytes(out)


def encode_frame(code: int, seq: int, payload: bytes = b"") -> bytes:
    """END · escaped(code, seq, payload, crc_hi, crc_lo) · END."""
    body = bytes((code, seq & 0xFF)) + bytes(payload)
    crc = crc16(body)
    return bytes((P.SLIP_END,)) + _escape(body + bytes((crc >> 8, crc & 0xFF))) + \
        bytes((P.SLIP_END,))


@dataclass(frozen=True)
class Frame:
    """A decoded frame: ``ok`` False if its CRC or an escape was wrong or it was too short."""

    code: int
    seq: int
    payload: bytes
    ok: bool


class FrameDecoder:
    """Bytes in (any chunking), whole frames out."""

    def __init__(self) -> None:
        self._body = bytearray()
        self._esc = False
        self._bad = False

    def feed(self, data: bytes) -> list[Frame]:
        frames = []
        for b in data:
            if b == P.SLIP_END:
                if self._body:
                    body = bytes(self._body)
                    ok = not self._bad and not self._esc and len(body) >= 4 \
                        and crc16(body) == 0
                    frames.append(Frame(body[0], body[1] if len(body) > 1 else 0,
                                        body[2:-2], ok))
                self._body.clear()
                self._esc = self._bad = False
            elif self._esc:
                self._esc = False
                if b == P.SLIP_ESC_END:
                    self._body.append(P.SLIP_END)
                elif b == P.SLIP_ESC_ESC:
                    self._body.append(P.SLIP_ESC)
                else:
                    self._bad = True
            elif b == P.SLIP_ESC:
                self._esc = True
            else:
                self._body.append(b)
        return frames


def token_payload(cfg: HeadConfig, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> bytes:
    """One token's ``CMD_TOKEN`` payload from its (d,) integer codes."""
    return pack_token(cfg, q=q, k=k, v=v).to_bytes(P.token_bytes(cfg), "little")


def decode_output(cfg: HeadConfig, payload: bytes) -> np.ndarray:
    """The d signed sums of an ``RSP_OUT`` payload (int64)."""
    if len(payload) != P.output_bytes(cfg):
        raise ValueError(f"output payload must be {P.output_bytes(cfg)} bytes, "
                         f"not {len(payload)}")
    a = cfg.array
    return unpack_array(int.from_bytes(payload, "little"), a.sum_width, a.head_dim, True)


def decode_status(payload: bytes) -> dict[str, int]:
    """``RSP_STATUS`` payload → {field: value}."""
    n = len(P.STATUS_FIELDS)
    if len(payload) != 2 * n:
        raise ValueError(f"status payload must be {2 * n} bytes, not {len(payload)}")
    return {name: int.from_bytes(payload[2 * i: 2 * i + 2], "little")
            for i, name in enumerate(P.STATUS_FIELDS)}
