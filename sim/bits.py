"""Integers ↔ bus values, and the token payload — the one place that packs bits.

Conventions (those of Amaranth's ``ArrayLayout`` and of the generated Verilog): element 0 of an
array sits in the least significant bits; field ``i`` of ``width`` bits occupies bits
``[i·width, (i+1)·width)``; negative values are two's complement.  The order of the token
payload's parts is not decided here: it is read from :func:`hdl.payload.token_parts`, which
the RTL's stream layout (:func:`hdl.head.token_layout`) is built from, so the RTL, the
testbenches and the activity stimulus cannot disagree.

Used by the block references (``sim/blockref``), the cocotb bus helpers (``tb/cosim/bus.py``),
the head testbench and the gate-level activity run (``flows/ppa``).
"""

from __future__ import annotations

import numpy as np

from hdl.config import HeadConfig
from hdl.payload import payload_width, token_parts

__all__ = ["pack_array", "unpack_array", "bits_to_int", "int_to_bits", "to_signed",
           "field_bits", "bits_fields", "token_fields", "pack_token", "token_bits", "token_width"]


def bits_to_int(bits: np.ndarray) -> int:
    """A bit vector (element i = bit i) as one int."""
    a = np.asarray(bits, dtype=bool).ravel()
    return int.from_bytes(np.packbits(a, bitorder="little").tobytes(), "little")


def int_to_bits(raw: int, n: int) -> np.ndarray:
    """The low ``n`` bits of ``raw`` as a bool vector (element i = bit i)."""
    nbytes = (n + 7) // 8
    buf = np.frombuffer(int(raw).to_bytes(max(nbytes, 1), "little"), dtype=np.uint8)
    return np.unpackbits(buf, bitorder="little")[:n].astype(bool)


def field_bits(values: np.ndarray, width: int) -> np.ndarray:
    """Integers (..., n) → their bits (..., n·width), field i in bits [i·w, (i+1)·w)."""
    v = np.asarray(values, dtype=np.int64) & ((1 << width) - 1)
    bits = (v[..., None] >> np.arange(width)) & 1
    return bits.reshape(*v.shape[:-1], v.shape[-1] * width).astype(bool) if v.ndim else \
        bits.astype(bool)


def to_signed(values: np.ndarray, width: int) -> np.ndarray:
    """Unsigned ``width``-bit field values → two's-complement signed values."""
    v = np.asarray(values, dtype=np.int64)
    return np.where(v >= 1 << (width - 1), v - (1 << width), v)


def pack_array(values: np.ndarray, width: int) -> int:
    """Pack integers (``width`` bits each, element 0 lowest, two's complement for negatives)
    into one int: the raw value of an ``ArrayLayout`` or of a bit vector (``width = 1``)."""
    v = np.asarray(values).ravel()
    if width in (2, 4, 8):            # whole fields per byte: pack bytes, not bits (~5× faster)
        k = 8 // width
        b = (v.astype(np.int64) & ((1 << width) - 1)).astype(np.uint8)
        if len(b) % k:
            b = np.concatenate([b, np.zeros(k - len(b) % k, np.uint8)])
        b = b.reshape(-1, k)
        byte = b[:, 0].copy()
        for j in range(1, k):
            byte |= b[:, j] << np.uint8(j * width)
        return int.from_bytes(byte.tobytes(), "little")
    return bits_to_int(field_bits(v, width))


def unpack_array(raw: int, width: int, n: int, signed: bool) -> np.ndarray:
    """Inverse of :func:`pack_array`: ``n`` fields of ``width`` bits from ``raw``."""
    return bits_fields(int_to_bits(raw, n * width), n, width, signed)


#: Little-endian unsigned integer types by byte count, for :func:`bits_fields`.
_UINT_LE = {1: "u1", 2: "<u2", 4: "<u4", 8: "<u8"}


def bits_fields(bits: np.ndarray, n: int, width: int, signed: bool = False) -> np.ndarray:
    """Decode ``n`` fields of ``width`` bits from a bit vector (element i = bit i), int64."""
    b = np.asarray(bits)[: n * width].reshape(n, width)
    nbytes = (width + 7) // 8
    if width < 64 and width == 8 * nbytes and nbytes in _UINT_LE:
        # whole bytes per field: the fields' bits pack as one run (~4× faster than packing
        # row by row; the bridge's 16-bit PWM widths, the logs' 32-bit cycles)
        packed = np.packbits(b.astype(bool, copy=False).ravel(), bitorder="little")
        v = packed.view(_UINT_LE[nbytes]).astype(np.int64)
    elif width < 64 and nbytes in _UINT_LE:
        # each field packs into 1, 2, 4 or 8 bytes (zero-padded above its width): one numpy
        # call, not a matrix product of the bits with their weights (~5× faster at 1,024 bits)
        packed = np.packbits(b.astype(bool, copy=False), axis=1, bitorder="little")
        v = packed.view(_UINT_LE[nbytes])[:, 0].astype(np.int64)
    else:
        v = b.astype(np.int64) @ (1 << np.arange(width, dtype=np.int64))
    return to_signed(v, width) if signed else v


def token_fields(cfg: HeadConfig) -> list[tuple[str, int, int, int]]:
    """The token payload's parts as ``(name, offset, count, width)``, in bit order
    (:func:`hdl.payload.token_parts`, one after another)."""
    parts, offset = [], 0
    for name, count, width in token_parts(cfg):
        parts.append((name, offset, count, width))
        offset += count * width
    return parts


def token_width(cfg: HeadConfig) -> int:
    """Bits of one token payload."""
    return payload_width(cfg)


def token_bits(cfg: HeadConfig, **codes: np.ndarray) -> np.ndarray:
    """Payload bits of tokens: ``codes`` maps each part (``q``, ``k``, ``v``) to its (T, d) or
    (d,) integer codes; returns (T, payload_width) or (payload_width,) bool."""
    fields = token_fields(cfg)
    missing = {name for name, *_ in fields} ^ set(codes)
    if missing:
        raise ValueError(f"token parts must be exactly {', '.join(n for n, *_ in fields)}; "
                         f"got {', '.join(sorted(codes))}")
    return np.concatenate([field_bits(codes[name], width) for name, _, _, width in fields],
                          axis=-1)


def pack_token(cfg: HeadConfig, **codes: np.ndarray) -> int:
    """One token's payload as an int (what drives ``i_tok__payload``)."""
    return bits_to_int(token_bits(cfg, **codes))
