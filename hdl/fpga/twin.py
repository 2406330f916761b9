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

__all__ = ["TwinTables", "ArrayTwin", "check_lanes", "check_supported", "engine_cycles",
           "min_time_scale", "s_phase_cycles"]


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


def check_lanes(cfg: HeadConfig, lanes: int) -> None:
    """``lanes`` must divide d and be at most the tile's columns (the counts of a group of
    ``lanes`` dims are made one per cycle while the next group accumulates, C cycles)."""
    a = cfg.array
    if lanes < 1 or a.head_dim % lanes or lanes > a.tile_cols:
        raise ValueError(f"twin lanes must divide head_dim = {a.head_dim} and be at most "
                         f"tile_cols = {a.tile_cols}, not {lanes}")


def tree_depth(lanes: int) -> int:
    """Register levels of the S phase's adder tree over ``lanes`` cell currents."""
    return (lanes - 1).bit_length()


def s_phase_cycles(cfg: HeadConfig, lanes: int = 1) -> int:
    """Fabric cycles from the A-fire rise to the last Sc written: W·d/lanes issues and the
    pipeline (K read, LUT read, adder tree, accumulate)."""
    a = cfg.array
    return a.window * a.head_dim // lanes + tree_depth(lanes) + 4


def engine_cycles(cfg: HeadConfig, lanes: int = 1) -> int:
    """Fabric cycles of the twin's read-out engine per token, from the A-fire rise to the
    counts being ready: the S phase, the O phase (W·d/lanes issues), the serial count of the
    last group (lanes cycles) and the pipeline, with 2 cycles of margin."""
    a = cfg.array
    return s_phase_cycles(cfg, lanes) + 1 + a.window * a.head_dim // lanes + lanes + 6


def min_time_scale(cfg: HeadConfig, lanes: int = 1) -> int:
    """Smallest R (fabric cycles per head cycle) with the twin's S phase done before the next
    token's K discharge, II − a_fire_start head cycles after the A-fire rise, and the whole
    engine done by the count phase, count_start − a_fire_start head cycles after it."""
    check_supported(cfg)
    check_lanes(cfg, lanes)
    s = Schedule(cfg)
    k_budget = s.initiation_interval - s.a_fire[0]
    c_budget = s.count[0] - s.a_fire[0]
    return max(-(-s_phase_cycles(cfg, lanes) // k_budget),
               -(-engine_cycles(cfg, lanes) // c_budget), 1)


class ArrayTwin(wiring.Component):
    """The analog side on the fabric: K and V codes in block RAM, a read-out engine of
    ``lanes`` parallel lanes.

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
    rise of ``i_c2p1_fire`` the engine runs in fabric cycles, ``lanes`` (L, dividing d, at most
    C) rows or dims at a time: S phase, W·d/L cycles (L lookups of the cell-current table,
    an adder tree with a register per level, the column sum over d/L groups, the valid mask,
    the ReLU clip, Sc into a W-word memory); O phase, W·d/L cycles (per tile, group of L dims
    and column: Sc·gv[code] for the L dims, accumulated over the tile's columns; each group's
    L products then counted one per cycle from the thresholds, with the sign).  While
    ``i_c2p2_fire`` is high, channel c's pulse is high in its first count[c] head cycles and
    its sign held.  Leakage, variability and IR drop are not modelled.

    Timing: :attr:`engine_cycles` = 2·W·d/L + L + log2 L + 11; :attr:`min_time_scale` R is the
    smallest R with the S phase done before the next token's K discharge (II − a_fire_start
    head cycles later) and the counts ready at the count phase (count_start − a_fire_start
    head cycles later).
    """

    def __init__(self, cfg: HeadConfig, tables: TwinTables, lanes: int = 1):
        a = cfg.array
        if len(tables.lut) != a.kv_max + 1 or any(len(r) != a.q_max + 1 for r in tables.lut):
            raise ValueError(f"twin lut must be {a.kv_max + 1}×{a.q_max + 1}")
        if len(tables.gv) != a.kv_max + 1 or len(tables.thresholds) != a.count_max:
            raise ValueError("twin gv / thresholds do not match the config")
        check_supported(cfg)
        check_lanes(cfg, lanes)
        s = Schedule(cfg)
        if s.initiation_interval <= s.a_fire[0]:
            raise ValueError("the twin needs II > the A-fire start (it reads the K memory "
                             "before the next token writes it)")
        self.cfg, self.tables, self.lanes, self._sched = cfg, tables, lanes, s
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
        return engine_cycles(self.cfg, self.lanes)

    @property
    def min_time_scale(self) -> int:
        """Smallest R (fabric cycles per head cycle) the engine keeps up with."""
        return min_time_scale(self.cfg, self.lanes)

    def elaborate(self, platform):
        m = Module()
        cfg, t, L = self.cfg, self.tables, self.lanes
        a = cfg.array
        n, d, C, W, kvb, qb = a.n_tiles, a.head_dim, a.tile_cols, a.window, a.kv_bits, a.q_bits
        G = d // L                       # groups of L rows (S) or dims (O)
        depth = tree_depth(L)
        ce = self.i_ce
        lut_flat = [t.lut[k][w] for k in range(a.kv_max + 1) for w in range(a.q_max + 1)]
        lut_w = _sbits(min(lut_flat), max(lut_flat))
        s_w = _sbits(d * min(min(lut_flat), 0), d * max(max(lut_flat), 0))
        sc_w = t.sat1.bit_length()
        gv_w = _sbits(min(t.gv), max(t.gv))
        p_max = C * t.sat1 * max(abs(g) for g in t.gv)
        p_w = _sbits(-p_max, p_max)

        def group(value, index, width):
            """The index-th of the G words of ``width`` bits of ``value``."""
            return value if G == 1 else value.word_select(index, width)

        # -- memories: K and V codes per window column, Sc per column, the cell table -------
        m.submodules.kmem = kmem = Memory(shape=d * kvb, depth=W, init=[])
        m.submodules.vmem = vmem = Memory(shape=d * kvb, depth=W, init=[])
        m.submodules.scmem = scmem = Memory(shape=sc_w, depth=W, init=[])
        kw, vw, sw = kmem.write_port(), vmem.write_port(), scmem.write_port()
        kr, vr, sr = kmem.read_port(), vmem.read_port(), scmem.read_port()
        # the cell table in logic, one registered lookup per lane (as a 16-port ROM memory
        # it crashed Yosys 0.70's memory_libmap for ECP5)
        lut_rom = Array(Const(v, signed(lut_w)) for v in lut_flat)
        lane_cur = [Signal(signed(lut_w)) for _ in range(L)]

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
        widths = Signal(data.ArrayLayout(unsigned(qb), d))
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

        # -- engine, stage A: issue (S: column j, group g; O: tile t, group g, column j) -----
        if any(v % (1 << t.th_shift) for v in t.thresholds):
            raise ValueError(f"twin thresholds must be multiples of 2^{t.th_shift}")
        th = [Const(v >> t.th_shift, unsigned(max((v >> t.th_shift).bit_length(), 1)))
              for v in t.thresholds]
        j_a, g_a, t_a = Signal(range(W)), Signal(range(max(G, 2))), Signal(range(max(n, 2)))
        issue, phase_o = Signal(), Signal()
        drain = Signal(range(depth + 3))
        o_col = Signal(range(W))
        m.d.comb += o_col.eq(t_a * C + j_a)
        m.d.comb += [kr.addr.eq(j_a), vr.addr.eq(o_col), sr.addr.eq(o_col)]
        # the pipeline's control, stage B (memory data) onwards
        b_valid, b_o = Signal(), Signal()
        b_j, b_g, b_t = Signal(range(W)), Signal(range(max(G, 2))), Signal(range(max(n, 2)))
        m.d.sync += [b_valid.eq(issue), b_o.eq(phase_o), b_j.eq(j_a), b_g.eq(g_a), b_t.eq(t_a)]
        res_n = Signal(range(L + 1))     # products of a group still to count
        c_valid, p_valid = Signal(), Signal()
        s_busy = Signal()                # S-phase values in the LUT / tree / accumulator
        with m.FSM():
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += [j_a.eq(0), g_a.eq(0), t_a.eq(0), issue.eq(1), phase_o.eq(0),
                                 self.o_busy.eq(1)]
                    m.next = "S"
            with m.State("S"):                   # loops: column, group
                with m.If(g_a == G - 1):
                    m.d.sync += [g_a.eq(0), j_a.eq(j_a + 1)]
                    with m.If(j_a == W - 1):
                        m.d.sync += [issue.eq(0), j_a.eq(0), drain.eq(depth + 2)]
                        m.next = "S_DRAIN"
                with m.Else():
                    m.d.sync += g_a.eq(g_a + 1)
            with m.State("S_DRAIN"):             # the last Sc lands in its memory
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 1):
                    m.d.sync += [issue.eq(1), phase_o.eq(1)]
                    m.next = "O"
            with m.State("O"):                   # loops: tile, group, column
                with m.If(j_a == C - 1):
                    m.d.sync += j_a.eq(0)
                    with m.If(g_a == G - 1):
                        m.d.sync += [g_a.eq(0), t_a.eq(t_a + 1)]
                        with m.If(t_a == n - 1):
                            m.d.sync += issue.eq(0)
                            m.next = "O_DRAIN"
                    with m.Else():
                        m.d.sync += g_a.eq(g_a + 1)
                with m.Else():
                    m.d.sync += j_a.eq(j_a + 1)
            with m.State("O_DRAIN"):
                with m.If(~b_valid & ~s_busy & ~p_valid & (res_n == 0) & ~c_valid):
                    m.d.sync += self.o_busy.eq(0)
                    m.next = "IDLE"

        # -- S phase: stage B looks up L cells, C has their currents, the tree adds them ----
        codes_k = group(kr.data, b_g, L * kvb)
        w_g = group(widths.as_value(), b_g, L * qb)
        for lane, cur in enumerate(lane_cur):
            m.d.sync += cur.eq(lut_rom[codes_k.word_select(lane, kvb) * (a.q_max + 1)
                                       + w_g.word_select(lane, qb)])
        # control through the LUT read and the tree: valid, column, first/last group, mask
        ctl = [(b_valid & ~b_o, b_j, b_g == 0, b_g == G - 1, self.i_valid.bit_select(b_j, 1))]
        for _ in range(depth + 1):
            regs = tuple(Signal(len(x)) for x in ctl[-1])
            m.d.sync += [r.eq(x) for r, x in zip(regs, ctl[-1])]
            ctl.append(regs)
        level = list(lane_cur)
        while len(level) > 1:
            nxt = []
            for i in range(0, len(level), 2):
                pair = level[i:i + 2]
                r = Signal(signed(len(pair[0]) + 1))
                m.d.sync += r.eq(pair[0] + pair[1] if len(pair) == 2 else pair[0])
                nxt.append(r)
            level = nxt
        d_valid, d_j, d_first, d_last, d_mask = ctl[-1]
        s_acc = Signal(signed(s_w))
        s_sum = Signal(signed(s_w + 1))
        m.d.comb += s_sum.eq(Mux(d_first, 0, s_acc) + level[0])
        s_clip = Signal(unsigned(sc_w))
        with m.If(~d_mask | (s_sum <= 0)):
            m.d.comb += s_clip.eq(0)
        with m.Elif(s_sum >= t.sat1):
            m.d.comb += s_clip.eq(t.sat1)
        with m.Else():
            m.d.comb += s_clip.eq(s_sum)
        m.d.comb += [sw.addr.eq(d_j), sw.data.eq(s_clip), sw.en.eq(d_valid & d_last)]
        with m.If(d_valid):
            m.d.sync += s_acc.eq(s_sum)
        m.d.comb += s_busy.eq(Cat(x[0] for x in ctl).any())

        # -- O phase: stage B forms Sc × gv[code] for the L dims, C accumulates them ---------
        codes_v = group(vr.data, b_g, L * kvb)
        sc = Cat(sr.data, Const(0, 1)).as_signed()
        prods = [Signal(signed(sc_w + gv_w + 1)) for _ in range(L)]
        if L > a.kv_max:                 # the kv_max + 1 products once, a choice per lane
            table = Array(sc * Const(g, signed(gv_w)) for g in t.gv)
            m.d.sync += [p.eq(table[codes_v.word_select(i, kvb)]) for i, p in enumerate(prods)]
        else:
            gv_rom = Array(Const(g, signed(gv_w)) for g in t.gv)
            m.d.sync += [p.eq(sc * gv_rom[codes_v.word_select(i, kvb)])
                         for i, p in enumerate(prods)]
        p_j, p_ch = Signal(range(C)), Signal(range(n * d))
        m.d.sync += [p_valid.eq(b_valid & b_o), p_j.eq(b_j), p_ch.eq(b_t * d + b_g * L)]
        p_acc = [Signal(signed(p_w)) for _ in range(L)]
        p_sum = [Signal(signed(p_w)) for _ in range(L)]
        for s_, acc, pr in zip(p_sum, p_acc, prods):
            m.d.comb += s_.eq(Mux(p_j == 0, 0, acc) + pr)
        with m.If(p_valid):
            m.d.sync += [acc.eq(s_) for acc, s_ in zip(p_acc, p_sum)]

        # a group's L sums, counted one per cycle (the next group needs C ≥ L cycles)
        res = [Signal(signed(p_w)) for _ in range(L)]
        res_ch = Signal(range(n * d))
        c_fin, c_ch = Signal(signed(p_w)), Signal(range(n * d))
        m.d.sync += [c_valid.eq(res_n != 0), c_fin.eq(res[0]), c_ch.eq(res_ch)]
        with m.If(p_valid & (p_j == C - 1)):
            m.d.sync += [*(r.eq(s_) for r, s_ in zip(res, p_sum)), res_ch.eq(p_ch),
                         res_n.eq(L)]
        with m.Elif(res_n != 0):
            m.d.sync += [*(r.eq(nx) for r, nx in zip(res, res[1:])), res_ch.eq(res_ch + 1),
                         res_n.eq(res_n - 1)]

        # count = thresholds reached by |P|; sign = P < 0
        counts = Signal(data.ArrayLayout(unsigned(a.count_bits), n * d))
        signs = Signal(n * d)
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
