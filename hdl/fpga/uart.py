"""8N1 UART receiver and transmitter (Amaranth 0.5 ``wiring.Component`` with ``stream`` ports).

amaranth-stdio on the package index is an empty placeholder and its source pins Amaranth < 0.5
(DESIGN.md §7), so the project has its own.  ``divisor`` = fabric clock cycles per bit
(clock / baud, rounded); a small divisor keeps simulations fast.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["UartRx", "UartTx"]


def _check_divisor(owner, divisor: int) -> int:
    if not isinstance(divisor, int) or divisor < 2:
        owner._MustUse__silence = True      # never elaborated: no "unused" warning on top
        raise ValueError(f"UART divisor must be an integer ≥ 2 cycles per bit, not {divisor!r}")
    return divisor


class UartRx(wiring.Component):
    """UART receiver, 8 data bits, no parity, 1 stop bit, LSB first.

    Ports
    -----
    i_rx : In(1)        the line (idle high); synchronised by two flip-flops inside.
    o_data : Out(stream.Signature(8))
        A received byte, held valid until taken.  The receiver never waits for the consumer.
    o_error : Out(1)    one-cycle pulse: a stop bit was low (the byte is discarded).
    o_overrun : Out(1)  one-cycle pulse: a byte completed while the previous one was still not
                        taken (the old one is replaced — counted, never silent).

    Timing: the byte is valid 2 + 9.5·divisor cycles after the start bit's falling edge
    (middle of the stop bit).
    """

    def __init__(self, divisor: int):
        self.divisor = _check_divisor(self, divisor)
        super().__init__({"i_rx": In(1, init=1), "o_data": Out(stream.Signature(8)),
                          "o_error": Out(1), "o_overrun": Out(1)})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        sync = [Signal(init=1, name=f"rx_s{i}") for i in range(2)]
        m.d.sync += [sync[0].eq(self.i_rx), sync[1].eq(sync[0])]
        rx = sync[1]
        timer = Signal(range(d + d // 2 + 1))
        bits = Signal(8)
        n = Signal(range(9))
        with m.If(self.o_data.ready):
            m.d.sync += self.o_data.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    # first data bit is sampled 1.5 bit times after the start edge
                    m.d.sync += [timer.eq(d + d // 2 - 1), n.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [bits.eq(rx << 7 | bits >> 1), n.eq(n + 1), timer.eq(d - 1)]
                    with m.If(n == 7):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(rx):
                        m.d.sync += [self.o_data.payload.eq(bits), self.o_data.valid.eq(1)]
                        m.d.comb += self.o_overrun.eq(self.o_data.valid & ~self.o_data.ready)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.comb += self.o_error.eq(1)
                        m.next = "BREAK"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("BREAK"):          # wait for the line to go idle after a bad stop bit
                with m.If(rx):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """UART transmitter, 8N1, LSB first.

    Ports
    -----
    i_data : In(stream.Signature(8))   taken when the transmitter is idle.
    o_tx : Out(1)                      the line (idle high).

    Throughput: one byte per 10·divisor + 1 cycles.
    """

    def __init__(self, divisor: int):
        self.divisor = _check_divisor(self, divisor)
        super().__init__({"i_data": In(stream.Signature(8)), "o_tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        shreg = Signal(10, init=0x3FF)      # stop · data · start, shifted out LSB first
        left = Signal(range(11))
        timer = Signal(range(d))
        m.d.comb += [self.o_tx.eq(shreg[0]), self.i_data.ready.eq(left == 0)]
        with m.If(self.i_data.valid & self.i_data.ready):
            m.d.sync += [shreg.eq((1 << 9) | (self.i_data.payload << 1)), left.eq(10),
                         timer.eq(d - 1)]
        with m.Elif(left != 0):
            with m.If(timer == 0):
                m.d.sync += [shreg.eq((1 << 9) | (shreg >> 1)), left.eq(left - 1),
                             timer.eq(d - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m
