"""The array twin: a synthesizable stand-in for the gain-cell arrays and C2P circuits.

It watches the head's analog-boundary outputs as the arrays would and drives the signed C2P
pulses back, like the co-simulation bridge (:mod:`tb.cosim.bridge`) does in simulation, with
the integer arithmetic of :mod:`sim.twin` (the bit-exact reference; the tables come from
there, generated from :mod:`analog_models` at build time, and enter here as plain integers).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..config import HeadConfig
from ..schedule import Schedule

__all__ = ["TwinTables", "ArrayTwin", "check_supported", "engine_cycles", "min_time_scale"]


def _sbits(lo: int, hi: int) -> int:
    """Signed width holding lo..hi."""
    return max(lo.bit_length() if lo >= 0 else (~lo).bit_length(),
               hi.bit_length() if hi >= 0 else (~hi).bit_length()) + 1


@dataclass(frozen=True)
class TwinTables:
    """Integer tables of the twin (built by :func:`sim.twin.twin_tables`).

    ``lut[k][w]`` cell current of K code k for a w-cycle pulse (2^frac_s units); ``gv[c]`` cell
    current of V code c for a full pulse (2^frac_g units); ``sat1`` the ReLU C2P saturation
    (2^frac_s units); ``thresholds[c-1]`` the smallest |P| counted as c.
    """

    lut: tuple[tuple[int, ...], ...]
    gv: tuple[int, ...]
    sat1: int
    thresholds: tuple[int, ...]
    frac_s: int
    frac_g: int
    th_shift: int = 0       # every threshold is a multiple of 2^th_shift


def check_supported(cfg: HeadConfig) -> None:
    """Refuse a configuration the twin cannot stand in for (ValueError with the reason)."""
    if Schedule(cfg).c2p_sets != 1:
        raise ValueError(f"the FPGA prototype does not support timing.schedule="
                         f"{cfg.timing.schedule}: its array twin has one C2P set per column "
                         f"and reads the K memory after the A-fire rise, when the ping-pong "
                         f"schedule already writes the next token; use timing.schedule=paper")


def engine_cycles(cfg: HeadConfig) -> int:
    """Fabric cycles of the twin's read-out engine per token, from the A-fire rise to the
    counts being ready: S phase W·d, O phase W·d, pipeline and drain (8, with margin)."""
    a = cfg.array
    return 2 * a.window * a.head_dim + 8


def min_time_scale(cfg: HeadConfig) -> int:
    """Smallest R (fabric cycles per head cycle) with the twin's S phase (W·d + 2 cycles) done
    before the next token's K discharge, II − a_fire_start head cycles after the A-fire rise,
    and the whole engine done by the count phase, count_start − a_fire_start head cycles
    after it."""
    check_supported(cfg)
    a, s = cfg.array, Schedule(cfg)
    k_budget = s.initiation_interval - s.a_fire[0]
    c_budget = s.count[0] - s.a_fire[0]
    return max(-(-(a.window * a.head_dim + 2) // k_budget),
               -(-engine_cycles(cfg) // c_budget), 1)


class ArrayTwin(wiring.Component):
    """The analog side on the fabric: K and V codes in block RAM, a serial read-out engine.

    Ports (``i_`` = the head's outputs of the same name without prefix change: ``o_wl_q`` →
    ``i_wl_q`` …; ``o_c2p_pulse``/``o_c2p_sign`` → the head's ``i_c2p_pulse``/``i_c2p_sign``)
    -----
    i_ce : In(1)        the head's clock enable: the head's outputs are sampled in these cycles.
    i_wl_q, i_dac_k, i_dac_v, i_we_k, i_we_v, i_discharge_k, i_discharge_v, i_tile_sel,
    i_col_sel, i_valid, i_c2p1_integrate, i_c2p1_fire, i_c2p2_fire : the head's boundary.
    o_c2p_pulse, o_c2p_sign : Out(n·d)   channel tile·d + dim.
    o_busy : Out(1)     the engine is computing a token.
    o_late : Out(1)     one-cycle pulse: a read-out was needed before the engine finished
                        (the time scale is below :attr:`min_time_scale`).

    Behaviour (head cycles = ``i_ce`` cycles): a discharge writes code 0 into the selected
    column, a write enable the DAC codes (K and V memories, W words of d codes).  While the
    ReLU C2P integrates, each row counts its word-line's high cycles (the pulse width).  At the
    rise of ``i_c2p1_fire`` the engine runs in fabric cycles: S phase, W·d cycles (one LUT
    lookup per cell, column sums, the valid mask, the ReLU clip, Sc into a W-word memory); O
    phase, W·d cycles (per tile, dim and column Sc·gv[code] accumulated; per channel the count
    from the thresholds and the sign).  While ``i_c2p2_fire`` is high, channel c's pulse is high
    in its first count[c] head cycles and its sign held.  Leakage, variability and IR drop are
    not modelled.

    Timing: :attr:`engine_cycles` = 2·W·d + 8; :attr:`min_time_scale` R is the smallest R with
    the S phase done before the next token's K discharge (II − a_fire_start head cycles later)
    and the counts ready at the count phase (count_start − a_fire_start head cycles later).
    """

    def __init__(self, cfg: HeadConfig, tables: TwinTables):
        a = cfg.array
        if len(tables.lut) != a.kv_max + 1 or any(len(r) != a.q_max + 1 for r in tables.lut):
            raise ValueError(f"twin lut must be {a.kv_max + 1}×{a.q_max + 1}")
        if len(tables.gv) != a.kv_max + 1 or len(tables.thresholds) != a.count_max:
            raise ValueError("twin gv / thresholds do not match the config")
        check_supported(cfg)
        s = Schedule(cfg)
        if s.initiation_interval <= s.a_fire[0]:
            raise ValueError("the twin needs II > the A-fire start (it reads the K memory "
                             "before the next token writes it)")
        self.cfg, self.tables, self._sched = cfg, tables, s
        n, d, C, W = a.n_tiles, a.head_dim, a.tile_cols, a.window
        kv = data.ArrayLayout(unsigned(a.kv_bits), d)
        super().__init__({
            "i_ce": In(1),
            "i_wl_q": In(d), "i_dac_k": In(kv), "i_dac_v": In(kv),
            "i_we_k": In(1), "i_we_v": In(1), "i_discharge_k": In(1), "i_discharge_v": In(1),
            "i_tile_sel": In(n), "i_col_sel": In(C), "i_valid": In(W),
            "i_c2p1_integrate": In(1), "i_c2p1_fire": In(1), "i_c2p2_fire": In(1),
            "o_c2p_pulse": Out(n * d), "o_c2p_sign": Out(n * d),
            "o_busy": Out(1), "o_late": Out(1),
        })

    @property
    def engine_cycles(self) -> int:
        """Fabric cycles from the A-fire rise to the counts being ready (with margin)."""
        return engine_cycles(self.cfg)

    @property
    def min_time_scale(self) -> int:
        """Smallest R (fabric cycles per head cycle) the engine keeps up with."""
        return min_time_scale(self.cfg)

    def elaborate(self, platform):
        m = Module()
        cfg, t = self.cfg, self.tables
        a = cfg.array
        n, d, C, W, kvb = a.n_tiles, a.head_dim, a.tile_cols, a.window, a.kv_bits
        ce = self.i_ce
        lut_flat = [t.lut[k][w] for k in range(a.kv_max + 1) for w in range(a.q_max + 1)]
        lut_w = _sbits(min(lut_flat), max(lut_flat))
        s_w = _sbits(d * min(min(lut_flat), 0), d * max(max(lut_flat), 0))
        sc_w = t.sat1.bit_length()
        gv_w = _sbits(min(t.gv), max(t.gv))
        p_max = C * t.sat1 * max(abs(g) for g in t.gv)
        p_w = _sbits(-p_max, p_max)

        # -- memories: K and V codes per window column, Sc per column ------------------------
        m.submodules.kmem = kmem = Memory(shape=d * kvb, depth=W, init=[])
        m.submodules.vmem = vmem = Memory(shape=d * kvb, depth=W, init=[])
        m.submodules.scmem = scmem = Memory(shape=sc_w, depth=W, init=[])
        kw, vw, sw = kmem.write_port(), vmem.write_port(), scmem.write_port()
        kr, vr, sr = kmem.read_port(), vmem.read_port(), scmem.read_port()

        def onehot_index(sel, width):
            idx = Signal(range(max(width, 2)))
            for i in range(width):
                with m.If(sel[i]):
                    m.d.comb += idx.eq(i)
            return idx

        addr = Signal(range(W))
        m.d.comb += addr.eq(onehot_index(self.i_tile_sel, n) * C
                            + onehot_index(self.i_col_sel, C))
        for port, we, dis, dac in ((kw, self.i_we_k, self.i_discharge_k, self.i_dac_k),
                                   (vw, self.i_we_v, self.i_discharge_v, self.i_dac_v)):
            m.d.comb += [port.addr.eq(addr), port.en.eq(ce & (we | dis)),
                         port.data.eq(Mux(we, Cat(*[dac[i] for i in range(d)]), 0))]

        # -- query pulse widths ---------------------------------------------------------------
        widths = Signal(data.ArrayLayout(unsigned(a.q_bits), d))
        prev_int, prev_f1, prev_f2 = Signal(), Signal(), Signal()
        with m.If(ce):
            m.d.sync += [prev_int.eq(self.i_c2p1_integrate), prev_f1.eq(self.i_c2p1_fire),
                         prev_f2.eq(self.i_c2p2_fire)]
            with m.If(self.i_c2p1_integrate):
                for i in range(d):
                    m.d.sync += widths[i].eq(Mux(prev_int, widths[i], 0) + self.i_wl_q[i])
        start = ce & self.i_c2p1_fire & ~prev_f1
        count_start = ce & self.i_c2p2_fire & ~prev_f2
        m.d.comb += self.o_late.eq((start | count_start) & self.o_busy)

        # -- engine: S phase then O phase, a two-stage pipeline each -------------------------
        lut_rom = Array(Const(v, signed(lut_w)) for v in lut_flat)
        gv_rom = Array(Const(v, signed(gv_w)) for v in t.gv)
        if any(v % (1 << t.th_shift) for v in t.thresholds):
            raise ValueError(f"twin thresholds must be multiples of 2^{t.th_shift}")
        th = [Const(v >> t.th_shift, unsigned(max((v >> t.th_shift).bit_length(), 1)))
              for v in t.thresholds]
        j_a = Signal(range(W))           # column (S) / column within the tile (O: c_a)
        i_a = Signal(range(d))           # row (S) / dim (O)
        t_a = Signal(range(max(n, 2)))   # tile (O)
        issue = Signal()                 # stage A valid
        phase_o = Signal()               # issuing the O phase
        b_valid, b_j, b_i, b_t = Signal(), Signal(range(W)), Signal(range(d)), \
            Signal(range(max(n, 2)))
        b_o = Signal()
        s_acc = Signal(signed(s_w))
        p_acc = Signal(signed(p_w))
        c_valid, c_fin, c_ch = Signal(), Signal(signed(p_w)), Signal(range(n * d))
        counts = Signal(data.ArrayLayout(unsigned(a.count_bits), n * d))
        signs = Signal(n * d)

        o_col = Signal(range(W))
        m.d.comb += o_col.eq(t_a * C + j_a)
        m.d.comb += [kr.addr.eq(j_a), vr.addr.eq(o_col), sr.addr.eq(o_col)]
        last_i = i_a == d - 1
        with m.FSM():
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += [j_a.eq(0), i_a.eq(0), t_a.eq(0), issue.eq(1), phase_o.eq(0),
                                 self.o_busy.eq(1)]
                    m.next = "S"
            with m.State("S"):
                with m.If(last_i):
                    m.d.sync += [i_a.eq(0), j_a.eq(j_a + 1)]
                    with m.If(j_a == W - 1):
                        m.d.sync += [issue.eq(0), j_a.eq(0)]
                        m.next = "S_DRAIN"
                with m.Else():
                    m.d.sync += i_a.eq(i_a + 1)
            with m.State("S_DRAIN"):             # the last Sc lands in its memory
                m.d.sync += [issue.eq(1), phase_o.eq(1)]
                m.next = "O"
            with m.State("O"):                   # loops: tile, dim, column
                with m.If(j_a == C - 1):
                    m.d.sync += j_a.eq(0)
                    with m.If(last_i):
                        m.d.sync += [i_a.eq(0), t_a.eq(t_a + 1)]
                        with m.If(t_a == n - 1):
                            m.d.sync += issue.eq(0)
                            m.next = "O_DRAIN"
                    with m.Else():
                        m.d.sync += i_a.eq(i_a + 1)
                with m.Else():
                    m.d.sync += j_a.eq(j_a + 1)
            with m.State("O_DRAIN"):
                with m.If(~b_valid & ~c_valid):
                    m.d.sync += self.o_busy.eq(0)
                    m.next = "IDLE"
        m.d.sync += [b_valid.eq(issue), b_j.eq(j_a), b_i.eq(i_a), b_t.eq(t_a),
                     b_o.eq(phase_o)]

        # stage B, S phase: one LUT lookup per cycle, column sum, mask, ReLU clip
        code_k = kr.data.word_select(b_i, kvb)
        cell = lut_rom[code_k * (a.q_max + 1) + widths[b_i]]
        s_sum = Signal(signed(s_w + 1))
        m.d.comb += s_sum.eq(Mux(b_i == 0, 0, s_acc) + cell)
        s_clip = Signal(unsigned(sc_w))
        with m.If(~self.i_valid.bit_select(b_j, 1) | (s_sum <= 0)):
            m.d.comb += s_clip.eq(0)
        with m.Elif(s_sum >= t.sat1):
            m.d.comb += s_clip.eq(t.sat1)
        with m.Else():
            m.d.comb += s_clip.eq(s_sum)
        m.d.comb += [sw.addr.eq(b_j), sw.data.eq(s_clip),
                     sw.en.eq(b_valid & ~b_o & (b_i == d - 1))]
        with m.If(b_valid & ~b_o):
            m.d.sync += s_acc.eq(s_sum)

        # stage B, O phase: Sc × gv[code], accumulated over the tile's columns
        code_v = vr.data.word_select(b_i, kvb)
        prod = Signal(signed(sc_w + gv_w + 1))
        m.d.comb += prod.eq(Cat(sr.data, Const(0, 1)).as_signed() * gv_rom[code_v])
        p_sum = Signal(signed(p_w))
        m.d.comb += p_sum.eq(Mux(b_j == 0, 0, p_acc) + prod)
        m.d.sync += c_valid.eq(0)
        with m.If(b_valid & b_o):
            m.d.sync += p_acc.eq(p_sum)
            with m.If(b_j == C - 1):
                m.d.sync += [c_valid.eq(1), c_fin.eq(p_sum), c_ch.eq(b_t * d + b_i)]

        # stage C: count = thresholds reached by |P|; sign = P < 0
        mag = Signal(unsigned(p_w))
        m.d.comb += mag.eq(Mux(c_fin < 0, -c_fin, c_fin))
        cnt = Signal(unsigned(a.count_bits))
        high = mag[t.th_shift:]
        m.d.comb += cnt.eq(sum((high >= x for x in th), Const(0, a.count_bits)))
        with m.If(c_valid):
            m.d.sync += [counts[c_ch].eq(cnt), signs.bit_select(c_ch, 1).eq(c_fin < 0)]

        # -- drive the signed C2P pulses while the counters count ----------------------------
        k = Signal(unsigned(a.count_bits))
        with m.If(ce):
            m.d.sync += k.eq(Mux(self.i_c2p2_fire & (k != a.count_max), k + 1,
                                 Mux(self.i_c2p2_fire, k, 0)))
        fire = self.i_c2p2_fire
        m.d.comb += [
            self.o_c2p_pulse.eq(Cat(*[fire & (counts[ch] > k) for ch in range(n * d)])),
            self.o_c2p_sign.eq(Mux(fire, signs, 0)),
        ]
        return m

