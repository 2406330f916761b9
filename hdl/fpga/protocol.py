"""The one home of the host-link frame format: codes, CRC, SLIP bytes, payload sizes.

The gateware (:mod:`hdl.fpga.framing`, :mod:`hdl.fpga.link`) builds its logic from these
constants and the host side (:mod:`flows.fpga.protocol`) encodes and decodes with them.

Frame on the wire (both directions): ``END`` · SLIP-escaped(``code``, ``seq``, payload…,
``crc_hi``, ``crc_lo``) · ``END``.  The CRC is CRC-16 with polynomial :data:`CRC_POLY`, initial
value :data:`CRC_INIT`, no reflection, no final XOR, over ``code``, ``seq`` and the payload;
sent big-endian, so the CRC over the whole frame body including it is 0.

Host → board (commands; ``seq`` = the host's 8-bit frame number, checked in order):

=================  =========================================================================
``CMD_RESET``      reset the head and the twin; sets the expected ``seq`` to this one + 1.
``CMD_TOKEN``      payload = one token (``token_bytes(cfg)``: the head's ``token_layout``
                   bits, little-endian, zero-padded to whole bytes).
``CMD_STATUS``     no payload; answered by ``RSP_STATUS``.
``CMD_TIME_SCALE`` payload = R (16 bit little-endian): one head cycle per R fabric cycles.
=================  =========================================================================

Board → host (responses; every command frame gets exactly one ``RSP_ACK`` or ``RSP_NAK``, a
token later also its ``RSP_OUT``):

``RSP_ACK`` (seq of the command) · ``RSP_NAK`` (payload: reason, expected seq) ·
``RSP_OUT`` (seq of the token; payload = the d signed sums, ``sum_width`` bits each,
little-endian, zero-padded) · ``RSP_STATUS`` (payload = :data:`STATUS_FIELDS`, 16 bit each, LE).
"""

from __future__ import annotations

from ..config import HeadConfig
from ..payload import payload_width

__all__ = ["CMD_RESET", "CMD_TOKEN", "CMD_STATUS", "CMD_TIME_SCALE", "RSP_ACK", "RSP_NAK",
           "RSP_OUT", "RSP_STATUS", "NAK_CRC", "NAK_SEQ", "NAK_BUSY", "NAK_BAD", "NAK_RANGE",
           "CRC_POLY", "CRC_INIT", "SLIP_END", "SLIP_ESC", "SLIP_ESC_END", "SLIP_ESC_ESC",
           "STATUS_FIELDS", "token_bits", "token_bytes", "output_bytes", "command_payload_max",
           "response_payload_max"]

CMD_RESET, CMD_TOKEN, CMD_STATUS, CMD_TIME_SCALE = 0x01, 0x02, 0x03, 0x04
RSP_ACK, RSP_NAK, RSP_OUT, RSP_STATUS = 0x81, 0x82, 0x83, 0x84

#: NAK reasons.  CRC: the frame's CRC or SLIP escape was wrong (or a UART framing error hit it);
#: SEQ: not the expected sequence number (a frame before it was lost); BUSY: the token buffer
#: is full (refused, resend later); BAD: unknown command or wrong length; RANGE: time scale
#: below the twin's minimum.
NAK_CRC, NAK_SEQ, NAK_BUSY, NAK_BAD, NAK_RANGE = 1, 2, 3, 4, 5

CRC_POLY, CRC_INIT = 0x1021, 0xFFFF
SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD

#: Counters of RSP_STATUS, in order (16 bit each, wrapping).
STATUS_FIELDS = ("frames", "crc_errors", "overruns", "refused", "seq_errors", "tokens",
                 "outputs", "twin_late", "time_scale", "min_time_scale", "token_credit")


def token_bits(cfg: HeadConfig) -> int:
    """Bits of one token: the head's payload (:func:`hdl.payload.payload_width`)."""
    return payload_width(cfg)


def token_bytes(cfg: HeadConfig) -> int:
    """Payload bytes of a ``CMD_TOKEN`` frame."""
    return -(-token_bits(cfg) // 8)


def output_bytes(cfg: HeadConfig) -> int:
    """Payload bytes of an ``RSP_OUT`` frame: d signed sums of ``sum_width`` bits."""
    return -(-cfg.array.head_dim * cfg.array.sum_width // 8)


def command_payload_max(cfg: HeadConfig) -> int:
    """Longest command payload: a token (at least the 2 bytes of ``CMD_TIME_SCALE``)."""
    return max(token_bytes(cfg), 2)


def response_payload_max(cfg: HeadConfig) -> int:
    """Longest response payload: an output vector or the status counters."""
    return max(output_bytes(cfg), 2 * len(STATUS_FIELDS), 2)
