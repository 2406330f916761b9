"""SLIP framing with a CRC-16, both directions (format: :mod:`hdl.fpga.protocol`).

:class:`FrameReceiver` turns received bytes into whole, checked frames; :class:`FrameSender`
turns a frame record into escaped bytes with its CRC.  Neither knows the commands: that is
:mod:`hdl.fpga.link`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .protocol import CRC_INIT, CRC_POLY, SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC

__all__ = ["crc16_step", "FrameReceiver", "FrameSender", "frame_layout"]


def crc16_step(crc: Value, byte: Value) -> Value:
    """CRC-16 (:data:`~hdl.fpga.protocol.CRC_POLY`, MSB first) of ``crc`` advanced by one byte
    (combinational)."""
    c = crc
    for i in range(8):
        fb = c[15] ^ byte[7 - i]
        c = Cat(Const(0, 1), c[:15]) ^ Mux(fb, CRC_POLY, 0)
    return c


def frame_layout(max_payload: int) -> data.StructLayout:
    """A frame record: code, seq, payload length in bytes, payload (byte i = bits 8i..8i+7)."""
    return data.StructLayout({"code": 8, "seq": 8, "length": range(max_payload + 1),
                              "payload": 8 * max_payload})


class FrameReceiver(wiring.Component):
    """SLIP decoder and CRC check.

    Ports
    -----
    i_byte : In(stream.Signature(8))   always ready (one byte per cycle at most).
    i_error : In(1)                    a line error (UART stop bit): the frame in progress is bad.
    o_frame : Out(1)                   one-cycle pulse at the END byte closing a non-empty frame.
    o_ok : Out(1)                      with ``o_frame``: CRC right, no bad escape or line error,
                                       4 ≤ body bytes ≤ max_payload + 4.
    o_code, o_seq : Out(8)             the first two body bytes.
    o_length : Out(range(max_payload + 1))   payload bytes (body − 4), meaningful if ``o_ok``.
    o_tail : Out(8·(max_payload + 2))  the last max_payload + 2 body bytes, the last at the
        top: a payload of ``max_payload`` bytes is ``o_tail[:8·max_payload]`` (byte i at
        8i); a shorter payload of L bytes starts at byte max_payload − L.

    All outputs except ``o_frame`` are held until the next byte; a bad frame never raises
    ``o_ok``, so nothing behind the receiver acts on a partial or corrupt frame.
    """

    def __init__(self, max_payload: int):
        if max_payload < 2:
            raise ValueError(f"max_payload must be ≥ 2 bytes, not {max_payload}")
        self.max_payload = max_payload
        super().__init__({
            "i_byte": In(stream.Signature(8)),
            "i_error": In(1),
            "o_frame": Out(1),
            "o_ok": Out(1),
            "o_code": Out(8),
            "o_seq": Out(8),
            "o_length": Out(range(max_payload + 1)),
            "o_tail": Out(8 * (max_payload + 2)),
        })

    def elaborate(self, platform):
        m = Module()
        mp = self.max_payload
        body_max = mp + 4
        count = Signal(range(body_max + 2))     # body bytes so far, saturating at body_max + 1
        crc = Signal(16, init=CRC_INIT)
        esc = Signal()
        bad = Signal()
        byte = Signal(8)
        got = Signal()                          # a decoded body byte this cycle
        m.d.comb += self.i_byte.ready.eq(1)
        b = self.i_byte.payload
        with m.If(self.i_error):
            m.d.sync += bad.eq(1)
        with m.If(self.i_byte.valid):
            with m.If(b == SLIP_END):
                m.d.comb += [
                    self.o_frame.eq(count != 0),
                    self.o_ok.eq(~bad & ~esc & ~self.i_error & (crc == 0) & (count >= 4)
                                 & (count <= body_max)),
                ]
                m.d.sync += [count.eq(0), crc.eq(CRC_INIT), esc.eq(0), bad.eq(0)]
            with m.Elif(esc):
                m.d.sync += esc.eq(0)
                with m.If(b == SLIP_ESC_END):
                    m.d.comb += [byte.eq(SLIP_END), got.eq(1)]
                with m.Elif(b == SLIP_ESC_ESC):
                    m.d.comb += [byte.eq(SLIP_ESC), got.eq(1)]
                with m.Else():
                    m.d.sync += bad.eq(1)
            with m.Elif(b == SLIP_ESC):
                m.d.sync += esc.eq(1)
            with m.Else():
                m.d.comb += [byte.eq(b), got.eq(1)]
        with m.If(got):
            m.d.sync += [crc.eq(crc16_step(crc, byte)),
                         self.o_tail.eq(Cat(self.o_tail[8:], byte))]
            with m.If(count <= body_max):
                m.d.sync += count.eq(count + 1)
            with m.If(count == 0):
                m.d.sync += self.o_code.eq(byte)
            with m.If(count == 1):
                m.d.sync += self.o_seq.eq(byte)
        m.d.comb += self.o_length.eq(count - 4)
        return m


class FrameSender(wiring.Component):
    """SLIP encoder with CRC: one frame record in, its bytes out.

    Ports
    -----
    i_frame : In(stream.Signature(frame_layout(max_payload)))   taken when the sender is idle.
    o_byte : Out(stream.Signature(8))

    Bytes: END, escaped(code, seq, payload[0:length], crc_hi, crc_lo), END.  One byte per cycle
    when ``o_byte.ready`` stays high (an escaped byte takes two).
    """

    def __init__(self, max_payload: int):
        self.max_payload = max_payload
        super().__init__({
            "i_frame": In(stream.Signature(frame_layout(max_payload))),
            "o_byte": Out(stream.Signature(8)),
        })

    def elaborate(self, platform):
        m = Module()
        mp = self.max_payload
        code, seq = Signal(8), Signal(8)
        length = Signal(range(mp + 1))
        payload = Signal(8 * mp)
        idx = Signal(range(mp + 5))
        crc = Signal(16)
        esc = Signal()
        raw = Signal(8)
        with m.If(idx == 0):
            m.d.comb += raw.eq(code)
        with m.Elif(idx == 1):
            m.d.comb += raw.eq(seq)
        with m.Elif(idx < length + 2):
            m.d.comb += raw.eq(payload[:8])
        with m.Elif(idx == length + 2):
            m.d.comb += raw.eq(crc[8:])
        with m.Else():
            m.d.comb += raw.eq(crc[:8])
        special = (raw == SLIP_END) | (raw == SLIP_ESC)
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.i_frame.ready.eq(1)
                with m.If(self.i_frame.valid):
                    f = self.i_frame.payload
                    m.d.sync += [code.eq(f.code), seq.eq(f.seq), length.eq(f.length),
                                 payload.eq(f.payload), idx.eq(0), crc.eq(CRC_INIT), esc.eq(0)]
                    m.next = "START"
            with m.State("START"):
                m.d.comb += [self.o_byte.valid.eq(1), self.o_byte.payload.eq(SLIP_END)]
                with m.If(self.o_byte.ready):
                    m.next = "BODY"
            with m.State("BODY"):
                m.d.comb += self.o_byte.valid.eq(1)
                advance = Signal()
                with m.If(special & ~esc):
                    m.d.comb += self.o_byte.payload.eq(SLIP_ESC)
                    with m.If(self.o_byte.ready):
                        m.d.sync += esc.eq(1)
                with m.Elif(esc):
                    m.d.comb += [self.o_byte.payload.eq(Mux(raw == SLIP_END, SLIP_ESC_END,
                                                            SLIP_ESC_ESC)),
                                 advance.eq(self.o_byte.ready)]
                with m.Else():
                    m.d.comb += [self.o_byte.payload.eq(raw), advance.eq(self.o_byte.ready)]
                with m.If(advance):
                    m.d.sync += [esc.eq(0), idx.eq(idx + 1)]
                    with m.If(idx < length + 2):
                        m.d.sync += crc.eq(crc16_step(crc, raw))
                    with m.If((idx >= 2) & (idx < length + 2)):
                        m.d.sync += payload.eq(payload >> 8)
                    with m.If(idx == length + 3):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.comb += [self.o_byte.valid.eq(1), self.o_byte.payload.eq(SLIP_END)]
                with m.If(self.o_byte.ready):
                    m.next = "IDLE"
        return m
