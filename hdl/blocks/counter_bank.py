"""Signed pulse-counter bank: one saturating counter plus sign flip-flop per (tile, dim).

Each signed charge-to-pulse circuit of the V array fires a pulse whose width, in clock cycles,
is the magnitude of the tile's output and a sign bit (P §2.1: 16-level counter plus sign).
The bank counts the high cycles of every pulse inside the count window, saturating at
``count_max``, and latches the sign when the pulse starts.

Written bit-sliced on purpose: bit j of all N = n_tiles·d signed counts is one N-bit register
(a "bit plane"), and the saturating up/down count is ripple logic across the planes using only
bitwise operators on N-bit vectors.  The generated Verilog then has count_bits + 1 wide
registers instead of N small always-blocks, which keeps Icarus and Verilator fast at full size
(DESIGN.md §7).  The counts are stored already signed (two's complement), so ``o_counts`` is
the registers, rewired.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..config import HeadConfig
from ..fanout import slices

__all__ = ["CounterBank"]

_CHUNK = 32   # channels per rewiring chunk (simulator limits only; no logic)


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
    i_enable : In(copies)
        Count window.  High cycles of a pulse outside the window are ignored.
    i_clear : In(copies)
        Synchronous clear of all counts and latched signs (between tokens).  Has priority: a
        pulse cycle coinciding with a clear is not counted.

    ``copies`` (default 1) equal copies of each control (:mod:`hdl.fanout`): copy g drives the
    channels of the dims ``fanout.slices(head_dim, copies)[g]``, every tile — the channels that
    feed the same adder trees (whose valid copy g also drives), so each copy's net stays where
    its trees are placed (issue 12).  The caller gives every copy the same value.
    o_counts : Out(ArrayLayout(signed(count_bits + 1), N))
        ``-count`` if the latched sign is 1 else ``+count``, from registers (no input path).

    Behaviour per channel, per cycle with ``p = i_pulse & i_enable``:

    * if ``i_clear``: count ← 0, sign ← 0, the sign flip-flop is re-armed;
    * else if ``p``: count ← min(count + 1, count_max); if this is the first ``p`` cycle since
      the last clear (the pulse start: its first high cycle inside the window) sign ←
      ``i_sign``.  The sign then holds until the next clear: a sign input that changes during
      the pulse, a gap in ``i_enable`` or a second pulse in the same window do not re-latch
      it, so the count and its sign always belong to the same (first) pulse.

    The counts are not reset by the domain's reset (only by ``i_clear``): their owner clears
    them before every count window.

    Timing
    ------
    latency = 1: a pulse cycle is visible in ``o_counts`` in the next cycle.  After the last
    pulse cycle of a window, the final ±count appears the cycle after and holds until a clear.
    Throughput: one pulse cycle per channel per clock.
    """

    def __init__(self, cfg: HeadConfig, *, copies: int = 1):
        self._cfg = cfg
        a = cfg.array
        n = a.n_channels
        if not 1 <= copies <= a.head_dim:
            self._MustUse__silence = True    # never built: no "unused" warning on top
            raise ValueError(f"copies must be from 1 to the {a.head_dim} dimensions, "
                             f"not {copies}")
        self._copies = copies
        super().__init__({
            "i_pulse": In(n),
            "i_sign": In(n),
            "i_enable": In(copies),
            "i_clear": In(copies),
            "o_counts": Out(data.ArrayLayout(signed(a.count_width), n)),
        })

    @property
    def cfg(self) -> HeadConfig:
        return self._cfg

    @property
    def channels(self) -> int:
        """N = n_tiles × head_dim."""
        return self._cfg.array.n_channels

    @property
    def latency(self) -> int:
        """Cycles from a counted pulse cycle to its effect in ``o_counts``: 1."""
        return 1

    def elaborate(self, platform):
        m = Module()
        a = self._cfg.array
        n, cb, w = self.channels, a.count_bits, a.count_width

        # State: the signed count itself, two's complement, as w = count_bits + 1 bit planes:
        # cnt_r[j][ch] is bit j of channel ch.  The count is 0 exactly until the first counted
        # cycle after a clear (it never returns to 0 without one), so "no pulse seen yet" is
        # cnt == 0 and the latched sign is the count's own sign bit: no extra planes.
        # Not reset (reset_less): a clear precedes every count window, and a reset net to every
        # count bit would be the design's largest fan-out (issue 12).
        cnt_r = [Signal(n, name=f"cnt{j}_r", reset_less=True) for j in range(w)]
        msb = cnt_r[cb]

        # The planes hold the channels in dim-major order (bit e·n_tiles + tile): the channels
        # of a copy's dims are then one contiguous slice [lo, hi) of every plane.  Only wiring:
        # the ports keep the flat order tile·d + dim.
        d, nt = a.head_dim, a.n_tiles
        c = self._copies
        groups = [(r.start * nt, r.stop * nt) for r in slices(d, c)]
        pulse, sign = Signal(n), Signal(n)
        m.d.comb += [
            pulse.eq(_regroup(m, self.i_pulse, d, nt, "pulse_d")),
            sign.eq(_regroup(m, self.i_sign, d, nt, "sign_d")),
        ]
        # p = i_pulse & i_enable, written as a Mux so no N-bit replicate of i_enable is built.
        # Clock-gated, the planes load only inside the window (or on a clear), so the window
        # needs no gate here: the enable reaches the flip-flops' enables, not the count logic.
        gated = self._cfg.timing.clock_gating
        active = Signal(n)
        zero = Signal(n)
        down = Signal(n)
        sat = Signal(n)
        inc = Signal(n)
        any_bit = cnt_r[0]
        for j in range(1, w):
            any_bit = any_bit | cnt_r[j]
        # Saturated: +count_max = 0 1…1 1 or −count_max = 1 0…0 1, i.e. bit 0 set and every
        # middle bit different from the sign bit.
        sat_expr = cnt_r[0]
        for j in range(1, cb):
            sat_expr = sat_expr & (cnt_r[j] ^ msb)
        m.d.comb += [
            active.eq(pulse if gated else Cat(Mux(self.i_enable[g], pulse[lo:hi], 0)
                                              for g, (lo, hi) in enumerate(groups))),
            zero.eq(~any_bit),
            # Direction: the sign input at the pulse start (count still 0), else the latched
            # sign = the count's sign bit.  A changing i_sign mid-pulse is never looked at.
            down.eq((zero & sign) | (~zero & msb)),
            sat.eq(sat_expr),
            inc.eq(active & ~sat),
        ]

        # Ripple up/down count across the planes: bit j toggles when t_j is set;
        # t_0 = inc, t_{j+1} = t_j & (c_j ^ down) (all lower bits 1 counting up, 0 counting down).
        toggle = inc
        cnt_next = []
        for j in range(w):
            nxt = Signal(n, name=f"cnt{j}_next")
            m.d.comb += nxt.eq(cnt_r[j] ^ toggle)
            cnt_next.append(nxt)
            if j + 1 < w:
                t = Signal(n, name=f"toggle{j + 1}")
                m.d.comb += t.eq(toggle & (cnt_r[j] ^ down))
                toggle = t

        # Clock gating (timing.clock_gating): the planes load only on a clear or inside the
        # count window — outside it the next state equals the state (inc = 0), so the enable
        # changes no output; synthesis keeps it as the flip-flops' enable (a gated clock).
        for g, (lo, hi) in enumerate(groups):
            whole = (lo, hi) == (0, n)      # one copy: whole-plane assignments, as before
            with m.If(self.i_clear[g]):
                m.d.sync += [(p if whole else p[lo:hi]).eq(0) for p in cnt_r]
            with m.Elif(self.i_enable[g] if gated else 1):
                m.d.sync += [(p if whole else p[lo:hi]).eq(x if whole else x[lo:hi])
                             for p, x in zip(cnt_r, cnt_next)]

        # o_counts is only rewiring of the planes: element ch, bit j = cnt_r[j][ch].  Built as
        # one assignment of a concatenation of per-chunk concatenations: N part-select assigns
        # to the same net make Icarus re-resolve the whole N·w-bit net on every driver change
        # (~1000× slower), and one flat N·w-term Cat overflows the Amaranth simulator's
        # expression compiler (RecursionError).
        flat = []                           # the planes back in the flat channel order
        for j, plane in enumerate(cnt_r):
            f = Signal(n, name=f"cnt{j}_flat")
            m.d.comb += f.eq(_regroup(m, plane, nt, d, f"cnt{j}_t"))
            flat.append(f)
        pieces = []
        for c0 in range(0, n, _CHUNK):
            c1 = min(n, c0 + _CHUNK)
            chunks = []
            for j, plane in enumerate(flat):
                ch = Signal(c1 - c0, name=f"cnt{j}_c{c0 // _CHUNK}")
                m.d.comb += ch.eq(plane[c0:c1])
                chunks.append(ch)
            elems = Signal((c1 - c0) * w, name=f"counts_c{c0 // _CHUNK}")
            m.d.comb += elems.eq(Cat(*(chunk[i] for i in range(c1 - c0) for chunk in chunks)))
            pieces.append(elems)
        m.d.comb += self.o_counts.as_value().eq(Cat(*pieces))
        return m


def _regroup(m: Module, vec, groups: int, per: int, name: str):
    """``vec`` with bit ``i·groups + g`` moved to bit ``g·per + i`` (a transpose of ``per``
    rows of ``groups`` bits): a signal ``{name}{g}`` per group, then one concatenation (short
    expressions).  Flat channel order (bit tile·d + dim) → dim-major (bit dim·nt + tile) is
    ``groups = d, per = nt``; the way back is ``groups = nt, per = d``."""
    parts = []
    for g in range(groups):
        x = Signal(per, name=f"{name}{g}")
        m.d.comb += x.eq(Cat(vec[i * groups + g] for i in range(per)))
        parts.append(x)
    return Cat(*parts)
