"""The prototype's top: host link → head (under a clock enable) ↔ array twin → host link.

:class:`PrototypeCore` is board-independent (UART pins and LEDs as ports): the simulated board
(:mod:`flows.fpga.simboard`) drives it through ``i_rx``/``o_tx`` bit by bit.
:class:`BoardTop` binds it to an amaranth-boards platform's ``uart`` and ``led`` resources.
"""

from __future__ import annotations

from amaranth.build import ResourceError
from amaranth.hdl import Elaboratable, EnableInserter, Module, ResetInserter, Signal
from amaranth.lib import io, wiring
from amaranth.lib.wiring import In, Out

from ..config import HeadConfig
from ..head import AttentionHead
from .link import HostLink
from .twin import ArrayTwin, TwinTables

__all__ = ["PrototypeCore", "BoardTop", "BOUNDARY"]

#: The analog boundary: head output → twin input (``i_`` + name), in the head's port order.
BOUNDARY = ("wl_q", "dac_k", "dac_v", "we_k", "we_v", "discharge_k", "discharge_v", "tile_sel",
            "col_sel", "valid", "c2p1_integrate", "c2p1_fire", "c2p2_fire")


class PrototypeCore(wiring.Component):
    """Link, head and twin.

    Parameters
    ----------
    cfg, tables : the head's configuration and the twin's integer tables.
    divisor : fabric cycles per UART bit.
    time_scale : R after power-up; ``None`` = the twin's minimum (``min_time_scale``).
    token_credit : depth of the link's token buffer.
    lanes : the twin's parallel lanes (:class:`~hdl.fpga.twin.ArrayTwin`; R falls with them).

    Ports
    -----
    i_rx : In(1), o_tx : Out(1)   the serial line.
    o_leds : Out(3)   0: blinks with the head clock enable (one toggle per 2^k head cycles);
                      1: toggles with each output token; 2: the twin was late (sticky).

    Time scaling: the head runs under ``EnableInserter`` — one head cycle (``ce``) every R
    fabric cycles, R from the link (``CMD_TIME_SCALE``) — so its logic is unchanged; its token
    and output handshakes complete only in ``ce`` cycles.  ``CMD_RESET`` resets the head, the
    twin and the link's token buffers (the twin's memories keep their codes; the head's valid
    mask hides them).
    """

    def __init__(self, cfg: HeadConfig, tables: TwinTables, *, divisor: int,
                 time_scale: int | None = None, token_credit: int = 4, lanes: int = 1):
        self.cfg, self.tables = cfg, tables
        self.twin = ArrayTwin(cfg, tables, lanes)
        self.head = AttentionHead(cfg)
        r = self.twin.min_time_scale if time_scale is None else time_scale
        self.link = HostLink(cfg, divisor=divisor, min_time_scale=self.twin.min_time_scale,
                             time_scale=r, token_credit=token_credit)
        super().__init__({"i_rx": In(1, init=1), "o_tx": Out(1, init=1), "o_leds": Out(3)})

    @property
    def min_time_scale(self) -> int:
        return self.twin.min_time_scale

    def elaborate(self, platform):
        m = Module()
        link, head, twin = self.link, self.head, self.twin
        ce = Signal()
        reset = link.o_reset
        m.submodules.link = link
        m.submodules.head = ResetInserter(reset)(EnableInserter(ce)(head))
        m.submodules.twin = ResetInserter(reset)(twin)
        m.d.comb += [link.i_rx.eq(self.i_rx), self.o_tx.eq(link.o_tx)]

        phase = Signal(16)
        with m.If(phase + 1 >= link.o_time_scale):
            m.d.sync += phase.eq(0)
        with m.Else():
            m.d.sync += phase.eq(phase + 1)
        m.d.comb += ce.eq(phase == 0)

        m.d.comb += [
            head.i_tok.payload.eq(link.o_tok.payload),
            head.i_tok.valid.eq(link.o_tok.valid),
            link.o_tok.ready.eq(head.i_tok.ready & ce),
            link.i_out.payload.eq(head.o_out.payload),
            link.i_out.valid.eq(head.o_out.valid & ce),
            head.o_out.ready.eq(link.i_out.ready),
            twin.i_ce.eq(ce),
            head.i_c2p_pulse.eq(twin.o_c2p_pulse),
            head.i_c2p_sign.eq(twin.o_c2p_sign),
            link.i_twin_late.eq(twin.o_late),
        ]
        for name in BOUNDARY:
            m.d.comb += getattr(twin, f"i_{name}").eq(getattr(head, f"o_{name}"))

        blink = Signal(12)
        late = Signal()
        with m.If(ce):
            m.d.sync += blink.eq(blink + 1)
        with m.If(link.i_out.valid & link.i_out.ready):
            m.d.sync += self.o_leds[1].eq(~self.o_leds[1])
        with m.If(twin.o_late):
            m.d.sync += late.eq(1)
        with m.If(reset):
            m.d.sync += late.eq(0)
        m.d.comb += [self.o_leds[0].eq(blink[-1]), self.o_leds[2].eq(late)]
        return m


class BoardTop(Elaboratable):
    """:class:`PrototypeCore` on an amaranth-boards platform: ``uart`` 0 and ``led`` 0–2.

    ``baud`` sets the UART divisor = round(clock / baud) from the platform's default clock.
    Only ``uart.rx``/``uart.tx`` are used.  The ULX3S platform also lists a
    ``uart_tx_enable`` output (pin L3), but on the board that pin is the FT231X's TXDEN, an
    output of the USB bridge ("FPGA receives" in the board's own constraint file,
    emard/ulx3s ``doc/constraints/ulx3s_v20.lpf``): driving it would fight the bridge, so the
    top leaves it unrequested (an input).
    """

    def __init__(self, cfg: HeadConfig, tables: TwinTables, *, baud: int = 115200,
                 token_credit: int = 4, lanes: int = 1):
        self.cfg, self.tables, self.baud, self.token_credit = cfg, tables, baud, token_credit
        self.lanes = lanes

    def elaborate(self, platform):
        m = Module()
        divisor = round(platform.default_clk_frequency / self.baud)
        m.submodules.core = core = PrototypeCore(self.cfg, self.tables, divisor=divisor,
                                                 token_credit=self.token_credit,
                                                 lanes=self.lanes)
        # Amaranth 0.5 I/O: raw ports (dir="-") through explicit buffers; a port's inversion
        # (active-low LEDs) is applied by the buffer.
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buf = rx = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx = io.Buffer("o", uart.tx)
        m.d.comb += [core.i_rx.eq(rx.i), tx.o.eq(core.o_tx)]
        for i in range(3):
            try:
                led = platform.request("led", i, dir="-")
            except ResourceError:   # boards with fewer LEDs: show what fits
                break
            m.submodules[f"led{i}_buf"] = buf = io.Buffer("o", led)
            m.d.comb += buf.o.eq(core.o_leds[i])
        return m
