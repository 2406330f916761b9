"""The host link: UART + SLIP frames + commands, between a serial line and the head's streams.

Protocol (codes, frame format, status fields) in :mod:`hdl.fpga.protocol`; host side in
:mod:`flows.fpga.protocol`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, ResetInserter, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..config import HeadConfig
from . import protocol as P
from .framing import FrameReceiver, FrameSender
from .uart import UartRx, UartTx

__all__ = ["HostLink"]


class HostLink(wiring.Component):
    """Commands from the host in, tokens to the head, outputs and answers back.

    Parameters
    ----------
    cfg : HeadConfig           sizes of a token and of an output vector.
    divisor : int              fabric cycles per UART bit.
    min_time_scale : int       smallest R ``CMD_TIME_SCALE`` accepts (the twin's minimum).
    time_scale : int           R after power-up (≥ ``min_time_scale``).
    token_credit : int         depth of the token buffer = the tokens the host may have sent and
                               not yet seen the output of (reported in the status).

    Ports
    -----
    i_rx : In(1), o_tx : Out(1)        the serial line (idle high).
    o_tok : Out(stream.Signature(token_bits))   tokens in arrival order (head payload bits).
    i_out : In(stream.Signature(d·sum_width))   the head's outputs, in token order.
    o_reset : Out(1)                   one-cycle pulse: reset the head and the twin (CMD_RESET);
                                       the link's token buffers are emptied with it.
    o_time_scale : Out(16)             the current R.
    i_twin_late : In(1)                pulse counted in the status (``twin_late``).

    Behaviour
    ---------
    Every command frame gets exactly one answer: ``RSP_ACK``/``RSP_STATUS`` if taken, else
    ``RSP_NAK`` with the reason and the expected sequence number.  Frames are taken only in
    sequence order (go-back-N: after a lost frame every later one is refused until the host
    resends from the expected number); ``CMD_RESET`` is taken with any number and sets the
    expected one.  A bad frame (CRC, escape, UART stop bit, length) never reaches the token
    buffer.  A token that finds the buffer full is refused (``NAK_BUSY``), never dropped.
    Each output goes back as ``RSP_OUT`` with the sequence number of its token.  If an answer
    cannot be queued (the host ignored its window) the frame is counted in ``overruns`` and
    not answered; the host's timeout resends it.  UART overruns are counted there too.
    """

    def __init__(self, cfg: HeadConfig, *, divisor: int, min_time_scale: int,
                 time_scale: int, token_credit: int = 4):
        if not 1 <= min_time_scale <= time_scale < 1 << 16:
            raise ValueError(f"time_scale must be {min_time_scale}..65535, not {time_scale}")
        if token_credit < 1:
            raise ValueError(f"token_credit must be ≥ 1, not {token_credit}")
        self.cfg, self.divisor = cfg, divisor
        self.min_time_scale, self.time_scale = min_time_scale, time_scale
        self.token_credit = token_credit
        self.tok_bits = P.token_bits(cfg)
        self.out_bits = cfg.array.head_dim * cfg.array.sum_width
        super().__init__({
            "i_rx": In(1, init=1),
            "o_tx": Out(1, init=1),
            "o_tok": Out(stream.Signature(self.tok_bits)),
            "i_out": In(stream.Signature(self.out_bits)),
            "o_reset": Out(1),
            "o_time_scale": Out(16, init=time_scale),
            "i_twin_late": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        cmd_max, rsp_max = P.command_payload_max(cfg), P.response_payload_max(cfg)
        tok_bytes = P.token_bytes(cfg)
        m.submodules.rx = rx = UartRx(self.divisor)
        m.submodules.tx = tx = UartTx(self.divisor)
        m.submodules.deframe = rcv = FrameReceiver(cmd_max)
        m.submodules.frame = snd = FrameSender(rsp_max)
        m.d.comb += [rx.i_rx.eq(self.i_rx), self.o_tx.eq(tx.o_tx)]
        wiring.connect(m, rx.o_data, rcv.i_byte)
        m.d.comb += rcv.i_error.eq(rx.o_error)
        wiring.connect(m, snd.o_byte, tx.i_data)

        # -- token buffer (token + its seq) and the seqs of tokens inside the head -------------
        reset = Signal()
        m.d.comb += self.o_reset.eq(reset)
        toks = ResetInserter(reset)(SyncFIFO(width=self.tok_bits + 8, depth=self.token_credit))
        # the head holds at most its output FIFO + the tokens in its pipeline: credit bounds it
        seqs = ResetInserter(reset)(SyncFIFO(width=8, depth=self.token_credit + 1))
        m.submodules.toks, m.submodules.seqs = toks, seqs
        m.d.comb += [
            self.o_tok.payload.eq(toks.r_data[:self.tok_bits]),
            # a token leaves only if its seq has room to wait for the output
            self.o_tok.valid.eq(toks.r_rdy & seqs.w_rdy),
            toks.r_en.eq(self.o_tok.valid & self.o_tok.ready),
            seqs.w_data.eq(toks.r_data[self.tok_bits:]),
            seqs.w_en.eq(self.o_tok.valid & self.o_tok.ready),
        ]

        # -- status counters -------------------------------------------------------------------
        ctr = {name: Signal(16, name=f"st_{name}") for name in P.STATUS_FIELDS
               if name not in ("time_scale", "min_time_scale", "token_credit")}
        status = Cat(*[ctr[n] if n in ctr else {
            "time_scale": self.o_time_scale,
            "min_time_scale": Const(self.min_time_scale, 16),
            "token_credit": Const(self.token_credit, 16)}[n] for n in P.STATUS_FIELDS])

        def bump(name, cond):
            with m.If(cond):
                m.d.sync += ctr[name].eq(ctr[name] + 1)

        # -- answers: queued at the frame's END, sent before outputs --------------------------
        ans_layout = data.StructLayout({"code": 8, "seq": 8, "reason": 8, "expect": 8})
        m.submodules.answers = answers = SyncFIFO(width=ans_layout.size, depth=4)
        ans = data.View(ans_layout, Signal(ans_layout.size))
        m.d.comb += answers.w_data.eq(ans.as_value())

        expected = Signal(8)
        frame = rcv.o_frame
        take = Signal()
        m.d.comb += answers.w_en.eq(frame & answers.w_rdy)
        bump("frames", frame)
        bump("overruns", (frame & ~answers.w_rdy) | rx.o_overrun)
        code_is = {c: rcv.o_code == c for c in (P.CMD_RESET, P.CMD_TOKEN, P.CMD_STATUS,
                                                 P.CMD_TIME_SCALE)}
        length = rcv.o_length
        new_r = rcv.o_tail[8 * (cmd_max - 2): 8 * cmd_max]
        toks_w = Signal()
        m.d.comb += [toks.w_data.eq(Cat(rcv.o_tail[:self.tok_bits], rcv.o_seq)),
                     toks.w_en.eq(toks_w)]

        def nak(reason, counter=None):
            m.d.comb += [ans.code.eq(P.RSP_NAK), ans.reason.eq(reason)]
            if counter:
                bump(counter, frame & answers.w_rdy)

        m.d.comb += [ans.seq.eq(rcv.o_seq), ans.expect.eq(expected)]
        with m.If(~rcv.o_ok):
            nak(P.NAK_CRC, "crc_errors")
        with m.Elif(code_is[P.CMD_RESET] & (length == 0)):
            m.d.comb += [ans.code.eq(P.RSP_ACK), take.eq(1),
                         reset.eq(frame & answers.w_rdy)]
        with m.Elif(rcv.o_seq != expected):
            nak(P.NAK_SEQ, "seq_errors")
        with m.Elif(code_is[P.CMD_TOKEN] & (length == tok_bytes)):
            with m.If(toks.w_rdy):
                m.d.comb += [ans.code.eq(P.RSP_ACK), take.eq(1),
                             toks_w.eq(frame & answers.w_rdy)]
                bump("tokens", frame & answers.w_rdy)
            with m.Else():
                nak(P.NAK_BUSY, "refused")
        with m.Elif(code_is[P.CMD_STATUS] & (length == 0)):
            m.d.comb += [ans.code.eq(P.RSP_STATUS), take.eq(1)]
        with m.Elif(code_is[P.CMD_TIME_SCALE] & (length == 2)):
            with m.If(new_r >= self.min_time_scale):
                m.d.comb += [ans.code.eq(P.RSP_ACK), take.eq(1)]
                with m.If(frame & answers.w_rdy):
                    m.d.sync += self.o_time_scale.eq(new_r)
            with m.Else():
                nak(P.NAK_RANGE)
        with m.Else():
            nak(P.NAK_BAD)
        with m.If(frame & answers.w_rdy & take):
            m.d.sync += expected.eq(rcv.o_seq + 1)

        # -- sender: an answer if one waits, else an output with its token's seq ---------------
        f = snd.i_frame.payload
        head = data.View(ans_layout, answers.r_data)
        with m.If(answers.r_rdy):
            m.d.comb += [snd.i_frame.valid.eq(1), answers.r_en.eq(snd.i_frame.ready),
                         f.code.eq(head.code), f.seq.eq(head.seq)]
            with m.If(head.code == P.RSP_NAK):
                m.d.comb += [f.length.eq(2), f.payload.eq(Cat(head.reason, head.expect))]
            with m.Elif(head.code == P.RSP_STATUS):
                m.d.comb += [f.length.eq(2 * len(P.STATUS_FIELDS)), f.payload.eq(status)]
            with m.Else():
                m.d.comb += f.length.eq(0)
        with m.Elif(self.i_out.valid & seqs.r_rdy):
            m.d.comb += [snd.i_frame.valid.eq(1), f.code.eq(P.RSP_OUT), f.seq.eq(seqs.r_data),
                         f.length.eq(P.output_bytes(cfg)), f.payload.eq(self.i_out.payload),
                         self.i_out.ready.eq(snd.i_frame.ready),
                         seqs.r_en.eq(snd.i_frame.ready)]
            bump("outputs", snd.i_frame.ready)
        bump("twin_late", self.i_twin_late)
        return m
