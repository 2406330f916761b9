"""Host link: frame format (host side against published CRC values), the gateware framer and
deframer against the host codec, and the link's command handling through its UART pins."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from flows.fpga.protocol import FrameDecoder, crc16, decode_status, encode_frame, token_payload
from flows.fpga.simboard import LineUart
from hdl.config import HeadConfig
from hdl.fpga import protocol as P
from hdl.fpga.framing import FrameReceiver, FrameSender
from hdl.fpga.link import HostLink
from hdl.fpga.uart import UartRx

CFG = HeadConfig().with_overrides(["array.head_dim=4", "array.n_tiles=2", "array.tile_cols=8"])


def test_crc_is_crc16_ccitt_false():
    # published check value of CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over "123456789"
    assert crc16(b"123456789") == 0x29B1
    assert (P.CRC_POLY, P.CRC_INIT) == (0x1021, 0xFFFF)


def test_host_codec_round_trip_and_escapes():
    payload = bytes([P.SLIP_END, P.SLIP_ESC, 0, 0xFF, P.SLIP_ESC_END])
    wire = encode_frame(P.CMD_TOKEN, P.SLIP_END, payload)
    assert wire[0] == wire[-1] == P.SLIP_END and P.SLIP_END not in wire[1:-1]
    dec = FrameDecoder()
    frames = dec.feed(wire[:3]) + dec.feed(wire[3:])
    assert [(f.code, f.seq, f.payload, f.ok) for f in frames] == \
        [(P.CMD_TOKEN, P.SLIP_END, payload, True)]
    bad = bytearray(wire)
    bad[4] ^= 1
    assert [f.ok for f in FrameDecoder().feed(bytes(bad))] == [False]


def test_sender_gateware_matches_host_decoder():
    rng = np.random.default_rng(3)
    mp = 6
    dut = FrameSender(mp)
    frames = []
    for _ in range(12):
        n = int(rng.integers(0, mp + 1))
        pay = bytes(rng.choice([0, 1, P.SLIP_END, P.SLIP_ESC, 0x55], n).tolist())
        frames.append((int(rng.integers(256)), int(rng.choice([7, P.SLIP_END])), pay))
    out = bytearray()

    width = (mp + 1).bit_length()

    async def tb(ctx):
        queue = list(frames)
        for _ in range(len(frames) * (4 * mp + 24)):
            if queue:
                code, seq, pay = queue[0]
                ctx.set(dut.i_frame.payload.as_value(), code | seq << 8 | len(pay) << 16
                        | int.from_bytes(pay.ljust(mp, b"\0"), "little") << (16 + width))
            ctx.set(dut.i_frame.valid, bool(queue))
            ctx.set(dut.o_byte.ready, int(rng.random() < 0.7))
            if queue and ctx.get(dut.i_frame.ready):
                queue.pop(0)
            if ctx.get(dut.o_byte.valid) and ctx.get(dut.o_byte.ready):
                out.append(ctx.get(dut.o_byte.payload))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    got = [(f.code, f.seq, f.payload) for f in FrameDecoder().feed(bytes(out)) if f.ok]
    assert got == frames
    assert bytes(out) == b"".join(encode_frame(*f) for f in frames)


def test_receiver_gateware_checks_frames():
    mp = 4
    dut = FrameReceiver(mp)
    good = [(P.CMD_TOKEN, 3, bytes([1, P.SLIP_END, P.SLIP_ESC, 9])), (P.CMD_STATUS, 4, b"")]
    wires = [encode_frame(*g) for g in good]
    flipped = bytearray(encode_frame(P.CMD_TOKEN, 5, b"\x01\x02\x03\x04"))
    flipped[3] ^= 0x40
    dropped = bytearray(encode_frame(P.CMD_TOKEN, 6, b"\x01\x02\x03\x04"))
    del dropped[4]
    too_long = encode_frame(P.CMD_TOKEN, 7, bytes(mp + 1))
    stream = wires[0] + bytes(flipped) + bytes(dropped) + too_long + wires[1]
    seen = []

    async def tb(ctx):
        for b in stream:
            ctx.set(dut.i_byte.payload, b)
            ctx.set(dut.i_byte.valid, 1)
            _, _, frame, ok, code, seq, length, tail = await ctx.tick().sample(
                dut.o_frame, dut.o_ok, dut.o_code, dut.o_seq, dut.o_length, dut.o_tail)
            if frame:
                n = length if ok else 0
                seen.append((ok, code, seq, (tail >> 8 * (mp - n)).to_bytes(mp + 2, "little")
                             [:n] if ok else None))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert [s[0] for s in seen] == [True, False, False, False, True]   # flipped, dropped, long
    assert seen[0] == (True, *good[0]) and seen[4] == (True, *good[1])


def _run_link(frames: list[bytes], *, ready_after: int | None = None, divisor: int = 4,
              credit: int = 2, cycles: int = 6000):
    """Send frames to a HostLink through its pins; the head side takes tokens only from cycle
    ``ready_after`` (None: never) and answers each with an output = its first byte."""
    dut = HostLink(CFG, divisor=divisor, min_time_scale=5, time_scale=7, token_credit=credit)
    line = LineUart(divisor)
    for f in frames:
        line.to_board += f
    taken = []

    async def tb(ctx):
        pending = []
        for cyc in range(cycles):
            ctx.set(dut.o_tok.ready, ready_after is not None and cyc >= ready_after)
            if ctx.get(dut.o_tok.valid) and ctx.get(dut.o_tok.ready):
                taken.append(ctx.get(dut.o_tok.payload))
                pending.append(taken[-1] & 0xFF)
            ctx.set(dut.i_out.valid, bool(pending))
            ctx.set(dut.i_out.payload, pending[0] if pending else 0)
            if pending and ctx.get(dut.i_out.ready):
                pending.pop(0)
            ctx.set(dut.i_rx, line.step(ctx.get(dut.o_tx)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return FrameDecoder().feed(bytes(line.from_board)), taken


def _tok(i: int) -> bytes:
    z = np.full(CFG.array.head_dim, i % 8)
    return token_payload(CFG, np.full(CFG.array.head_dim, i % 16), z, z)


def test_link_commands_and_refusals():
    frames = [encode_frame(P.CMD_RESET, 9),
              encode_frame(P.CMD_TIME_SCALE, 10, (4).to_bytes(2, "little")),   # < min 5
              encode_frame(P.CMD_TIME_SCALE, 10, (6).to_bytes(2, "little")),
              encode_frame(P.CMD_TOKEN, 12, _tok(0)),                         # seq gap
              encode_frame(P.CMD_TOKEN, 11, _tok(1)[:-1]),                    # too short
              encode_frame(P.CMD_TOKEN, 11, _tok(1)),
              encode_frame(P.CMD_TOKEN, 12, _tok(2)),
              encode_frame(P.CMD_TOKEN, 13, _tok(3)),                         # buffer full
              encode_frame(P.CMD_STATUS, 13)]
    got, taken = _run_link(frames, ready_after=None, cycles=9000)
    assert all(f.ok for f in got)
    summary = [(f.code, f.seq, f.payload if f.code == P.RSP_NAK else b"") for f in got
               if f.code != P.RSP_STATUS]
    assert summary == [
        (P.RSP_ACK, 9, b""), (P.RSP_NAK, 10, bytes([P.NAK_RANGE, 10])), (P.RSP_ACK, 10, b""),
        (P.RSP_NAK, 12, bytes([P.NAK_SEQ, 11])), (P.RSP_NAK, 11, bytes([P.NAK_BAD, 11])),
        (P.RSP_ACK, 11, b""), (P.RSP_ACK, 12, b""), (P.RSP_NAK, 13, bytes([P.NAK_BUSY, 13]))]
    st = decode_status(got[-1].payload)
    assert got[-1].code == P.RSP_STATUS and got[-1].seq == 13
    assert st["frames"] == 9 and st["refused"] == 1 and st["seq_errors"] == 1
    assert st["tokens"] == 2 and st["time_scale"] == 6 and st["min_time_scale"] == 5
    assert st["token_credit"] == 2 and st["crc_errors"] == 0 and taken == []


def test_link_delivers_tokens_in_order_and_rejects_damage():
    good = [encode_frame(P.CMD_RESET, 0)] + [encode_frame(P.CMD_TOKEN, i + 1, _tok(i))
                                             for i in range(3)]
    damaged = bytearray(encode_frame(P.CMD_TOKEN, 4, _tok(3)))
    damaged[3] ^= 0x08
    frames = good + [bytes(damaged), encode_frame(P.CMD_STATUS, 4)]
    got, taken = _run_link(frames, ready_after=0, credit=4)
    assert [int.from_bytes(_tok(i), "little") for i in range(3)] == taken
    outs = [(f.seq, f.payload[0]) for f in got if f.code == P.RSP_OUT]
    assert outs == [(i + 1, int.from_bytes(_tok(i), "little") & 0xFF) for i in range(3)]
    naks = [f.payload for f in got if f.code == P.RSP_NAK]
    assert naks == [bytes([P.NAK_CRC, 4])]
    at = [f.code for f in got].index(P.RSP_STATUS)
    st = decode_status(got[at].payload)
    outs_before = sum(f.code == P.RSP_OUT for f in got[:at])
    assert st["crc_errors"] == 1 and st["tokens"] == 3 and st["outputs"] == outs_before


def test_uart_divisor_checked():
    with pytest.raises(ValueError, match="UART divisor must be an integer ≥ 2"):
        UartRx(1)


def test_host_gives_up_when_nothing_answers():
    from flows.fpga.host import HostSession, LinkFailed

    s = HostSession(CFG, [_tok(0)], credit=2, timeout_s=0.1)
    sent = s.pending(0.0)
    assert FrameDecoder().feed(sent)[0].code == P.CMD_RESET
    with pytest.raises(LinkFailed, match="the board does not answer"):
        for i in range(1, 200):
            s.pending(i * 0.2)
    assert s.errors.timeouts == HostSession.MAX_TIMEOUTS + 1 and s.errors.resends > 0
