"""Signed pulse-counter bank: one saturating counter plus sign flip-flop per (tile, dim).

Each signed charge-to-pulse circuit of the V array fires a pulse whose width, in clock cycles,
is the magnitude of the tile's output and a sign bit (P §2.1: 16-level counter plus sign).
The bank counts the high cycles of every pulse inside the count window, saturating at
``count_max``, and latches the sign when the pulse starts.

Written bit-sliced on purpose: bit j of all N = n_tiles·d counters is one N-bit register (a
"bit plane"), and increment, saturation and negation are ripple logic across the planes using
only bitwise operators on N-bit vectors.  The generated Verilog then has count_bits + 2 wide
registers instead of N small always-blocks, which keeps Icarus and Verilator fast at full size
(DESIGN.md §7).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .config import HeadConfig

__all__ = ["CounterBank"]


class CounterBank(wiring.Component):
    """N = n_tiles × head_dim signed saturating pulse counters, bit-sliced.

    Channel index is flat: ``ch = tile * head_dim + dim``, in every port.

    Parameters
    ----------
    cfg : HeadConfig
        ``cfg.array.n_tiles``, ``cfg.array.head_dim`` (N channels), ``cfg.array.count_bits``
        (magnitude bits; saturation at ``count_max = 2**count_bits − 1``).

    Ports
    -----
    i_pulse : In(N)
        Charge-to-pulse output of each channel.
    i_sign : In(N)
        Sign of each channel's pulse (1 = negative); sampled only at the pulse start.
    i_enable : In(1)
        Count window.  High cycles of a pulse outside the window are ignored.
    i_clear : In(1)
        Synchronous clear of all counts and latched signs (between tokens).  Has priority: a
        pulse cycle coinciding with a clear is not counted.
    o_counts : Out(ArrayLayout(signed(count_bits + 1), N))
        ``-count`` if the latched sign is 1 else ``+count``, from registers (no input path).

    Behaviour per channel, per cycle with ``p = i_pulse & i_enable``:

    * if ``i_clear``: count ← 0, sign ← 0, the sign flip-flop is re-armed;
    * else if ``p``: count ← min(count + 1, count_max); if this is the first ``p`` cycle since
      the last clear (the pulse start: its first high cycle inside the window) sign ←
      ``i_sign``.  The sign then holds until the next clear: a sign input that changes during
      the pulse, a gap in ``i_enable`` or a second pulse in the same window do not re-latch
      it, so the count and its sign always belong to the same (first) pulse.

    Timing
    ------
    latency = 1: a pulse cycle is visible in ``o_counts`` in the next cycle.  After the last
    pulse cycle of a window, the final ±count appears the cycle after and holds until a clear.
    Throughput: one pulse cycle per channel per clock.
    """

    def __init__(self, cfg: HeadConfig):
        self._cfg = cfg
        a = cfg.array
        n = a.n_tiles * a.head_dim
        super().__init__({
            "i_pulse": In(n),
            "i_sign": In(n),
            "i_enable": In(1),
            "i_clear": In(1),
            "o_counts": Out(data.ArrayLayout(signed(a.count_width), n)),
        })

    @property
    def cfg(self) -> HeadConfig:
        return self._cfg

    @property
    def channels(self) -> int:
        """N = n_tiles × head_dim."""
        return self._cfg.array.n_tiles * self._cfg.array.head_dim

    @property
    def latency(self) -> int:
        """Cycles from a counted pulse cycle to its effect in ``o_counts``: 1."""
        return 1

    def elaborate(self, platform):
        m = Module()
        a = self._cfg.array
        n, cb = self.channels, a.count_bits

        # Bit planes: mag_r[j][ch] is bit j of channel ch's magnitude.
        mag_r = [Signal(n, name=f"mag{j}_r") for j in range(cb)]
        sign_r = Signal(n)
        seen_r = Signal(n)      # a p cycle since the last clear: the sign is latched

        # p = i_pulse & i_enable, written as a Mux so no N-bit replicate of i_enable is built.
        active = Signal(n)
        start = Signal(n)
        sat = Signal(n)
        inc = Signal(n)
        m.d.comb += [
            active.eq(Mux(self.i_enable, self.i_pulse, 0)),
            start.eq(active & ~seen_r),
        ]
        sat_expr = mag_r[0]
        for j in range(1, cb):
            sat_expr = sat_expr & mag_r[j]
        m.d.comb += [
            sat.eq(sat_expr),
            inc.eq(active & ~sat),
        ]

        # Ripple increment across the planes: sum_j = m_j ^ c_j, c_{j+1} = m_j & c_j, c_0 = inc.
        carry = inc
        mag_next = []
        for j in range(cb):
            nxt = Signal(n, name=f"mag{j}_next")
            c_next = Signal(n, name=f"inc_carry{j + 1}")
            m.d.comb += [
                nxt.eq(mag_r[j] ^ carry),
                c_next.eq(mag_r[j] & carry),
            ]
            mag_next.append(nxt)
            carry = c_next

        with m.If(self.i_clear):
            m.d.sync += [plane.eq(0) for plane in mag_r]
            m.d.sync += [sign_r.eq(0), seen_r.eq(0)]
        with m.Else():
            m.d.sync += [plane.eq(nxt) for plane, nxt in zip(mag_r, mag_next)]
            m.d.sync += [
                sign_r.eq((sign_r & ~start) | (self.i_sign & start)),
                seen_r.eq(seen_r | active),
            ]

        # Conditional two's-complement negation across the planes, magnitude zero-extended
        # to count_bits + 1: x_j = m_j ^ s, out_j = x_j ^ c_j, c_{j+1} = x_j & c_j, c_0 = s.
        out = []
        carry = sign_r
        for j in range(cb):
            x = Signal(n, name=f"inv{j}")
            o = Signal(n, name=f"out{j}")
            c_next = Signal(n, name=f"neg_carry{j + 1}")
            m.d.comb += [x.eq(mag_r[j] ^ sign_r), o.eq(x ^ carry), c_next.eq(x & carry)]
            out.append(o)
            carry = c_next
        o_msb = Signal(n, name=f"out{cb}")
        m.d.comb += o_msb.eq(sign_r ^ carry)
        out.append(o_msb)

        # o_counts is only rewiring of the planes: element ch, bit j = out[j][ch].
        flat = self.o_counts.as_value()
        w = a.count_width
        for ch in range(n):
            m.d.comb += flat[ch * w:(ch + 1) * w].eq(Cat(*(plane[ch] for plane in out)))
        return m
