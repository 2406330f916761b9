"""The attention head top: token stream in, output stream out, the analog boundary in between.

``AttentionHead`` instantiates every digital block of the periphery and the controller that runs
the reference token schedule of :mod:`hdl.schedule`.  The arrays and charge-to-pulse circuits are
outside (analog); their ports are the boundary of DESIGN.md §4.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from .blocks.adder_tree import AdderTreeBank
from .blocks.counter_bank import CounterBank
from .blocks.pulse_sum import PulseSum
from .blocks.pwm_bank import PwmBank
from .blocks.write_address import WriteAddressController
from .blocks.write_sequencer import WriteSequencer
from .compare import eq_const, in_range, lt_const
from .config import HeadConfig
from .schedule import Schedule

__all__ = ["AttentionHead", "token_layout"]


def token_layout(cfg: HeadConfig) -> data.StructLayout:
    """Payload of the input stream: q codes, then k codes, then v codes (field i = dim i)."""
    a = cfg.array
    return data.StructLayout({
        "q": data.ArrayLayout(unsigned(a.q_bits), a.head_dim),
        "k": data.ArrayLayout(unsigned(a.kv_bits), a.head_dim),
        "v": data.ArrayLayout(unsigned(a.kv_bits), a.head_dim),
    })


class AttentionHead(wiring.Component):
    """One gain-cell attention head: digital periphery and controller.

    Parameters
    ----------
    cfg : HeadConfig
        d = ``head_dim``, n = ``n_tiles``, C = ``tile_cols``, W = n·C.

    Ports (Verilog names; streams flatten to ``i_tok__payload``, ``i_tok__valid`` …)
    -----
    i_tok : In(stream.Signature(token_layout(cfg)))
        One token per transfer: q codes (q_bits each), k and v DAC codes (kv_bits each).
    o_out : Out(stream.Signature(ArrayLayout(signed(sum_width), d)))
        The token's d signed sums over the tiles (the float output is sum / count_max).
    o_wl_q : Out(d)
        Query word-line pulses (PWM), shared by the K arrays of all tiles.
    o_dac_k, o_dac_v : Out(ArrayLayout(unsigned(kv_bits), d))
        Codes of the write DACs, broadcast to every tile: each tile has d DACs of its own
        (one per row, shared by its K and V arrays: P's "64 shared DACs per tile", n·d in all,
        as the area model counts them); the one-hot tile select decides which tile writes.
        Zero outside their write phase.
    o_we_k, o_we_v, o_discharge_k, o_discharge_v : Out(1)
        Write enable and column discharge of the selected column, K and V arrays.
    o_tile_sel : Out(n), o_col_sel : Out(C)
        One-hot select of the column being written (meaningful while a write or discharge is on).
    o_valid : Out(W)
        Columns holding a token of the window (bit tile·C + col).  The analog side gates the
        ReLU C2P of invalid columns (A = 0): unwritten columns never contribute.
    o_c2p1_integrate, o_c2p1_fire, o_c2p1_reset : Out(c2p_sets)
        ReLU C2P phases: integrate the K bit-line charge during the QK read, fire A pulses into
        the V array, reset.  Bit s drives C2P set s of every column (``Schedule.c2p_sets``: 1,
        or 2 in the ``pingpong`` schedule, token j on set j mod 2), so the pins say which set
        a token uses.
    o_c2p2_integrate, o_c2p2_fire, o_c2p2_reset : Out(c2p_sets)
        Signed C2P phases: integrate the V-array charge, fire the output pulses (counted), reset.
        Bit s = set s, as for the ReLU C2P.
    i_c2p_pulse, i_c2p_sign : In(n·d)
        Signed C2P output pulses and their sign bits, channel tile·d + dim.  With two sets the
        sets of a channel share the line: only the set whose ``o_c2p2_fire`` bit is high drives
        it (the schedule never lets two count windows overlap).

    Timing (all from :class:`~hdl.schedule.Schedule`)
    ------
    latency = 1 + counts_final + readout_latency + 1 cycles from the accept of a token to its
    output valid (54 at defaults); a new token is accepted every ``initiation_interval`` cycles
    (31 at defaults, 18 with ``timing.schedule = "pingpong"``) at most.  Back-pressure: a token
    is accepted only while the output FIFO has room for it and every token in flight, so no
    output is ever lost or duplicated.
    """

    #: Depth of the output FIFO (tokens).  Must exceed the tokens that can be in flight.
    OUT_FIFO_DEPTH = 4

    def __init__(self, cfg: HeadConfig):
        self._cfg = cfg
        self._sched = Schedule(cfg)
        a = cfg.array
        n_ch = a.n_channels
        sets = self._sched.c2p_sets
        kv = data.ArrayLayout(unsigned(a.kv_bits), a.head_dim)
        super().__init__({
            "i_tok": In(stream.Signature(token_layout(cfg))),
            "o_out": Out(stream.Signature(data.ArrayLayout(
                signed(a.sum_width), a.head_dim))),
            "o_wl_q": Out(a.head_dim),
            "o_dac_k": Out(kv),
            "o_dac_v": Out(kv),
            "o_we_k": Out(1),
            "o_we_v": Out(1),
            "o_discharge_k": Out(1),
            "o_discharge_v": Out(1),
            "o_tile_sel": Out(a.n_tiles),
            "o_col_sel": Out(a.tile_cols),
            "o_valid": Out(a.window),
            "o_c2p1_integrate": Out(sets),
            "o_c2p1_fire": Out(sets),
            "o_c2p1_reset": Out(sets),
            "o_c2p2_integrate": Out(sets),
            "o_c2p2_fire": Out(sets),
            "o_c2p2_reset": Out(sets),
            "i_c2p_pulse": In(n_ch),
            "i_c2p_sign": In(n_ch),
        })

    @property
    def cfg(self) -> HeadConfig:
        return self._cfg

    @property
    def latency(self) -> int:
        """Cycles from a token's accept to its output valid (Schedule.latency)."""
        return self._sched.latency

    @property
    def initiation_interval(self) -> int:
        """Smallest number of cycles between two token accepts (Schedule.initiation_interval)."""
        return self._sched.initiation_interval

    @property
    def slot_life(self) -> int:
        """Cycles a token's timeline slot lives: until its counts reach the adder trees and the
        signed C2P has been reset."""
        s = self._sched
        return max(s.counts_final + 1, s.c2p2_reset[1])

    @property
    def n_in_flight(self) -> int:
        """Tokens that can be in flight at once: ceil(slot_life / initiation_interval)."""
        return -(-self.slot_life // self.initiation_interval)

    @property
    def n_slots(self) -> int:
        """Timeline slots: :attr:`n_in_flight`, rounded up to a multiple of ``c2p_sets`` so
        that slot i (token j takes slot j mod n_slots) always uses C2P set i mod c2p_sets."""
        sets = self._sched.c2p_sets
        return -(-self.n_in_flight // sets) * sets

    @property
    def out_fifo_depth(self) -> int:
        """Entries of the output FIFO = the most tokens that can be accepted and not yet taken
        at the output (the admission's credit): ``max(OUT_FIFO_DEPTH, n_in_flight + 1)``."""
        return max(self.OUT_FIFO_DEPTH, self.n_in_flight + 1)

    def elaborate(self, platform):
        m = Module()
        cfg, s = self._cfg, self._sched
        a = cfg.array

        m.submodules.pwm = pwm = PwmBank(cfg)
        m.submodules.seq = seq = WriteSequencer(cfg)
        m.submodules.wac = wac = WriteAddressController(cfg)
        fifo_depth = self.out_fifo_depth
        m.submodules.fifo = fifo = SyncFIFO(width=a.head_dim * a.sum_width, depth=fifo_depth)

        if seq.latency != 1:
            raise ValueError(f"the head expects a write sequencer latency of 1, not {seq.latency}")
        pwm_start_at = s.qk_read[0] - pwm.latency
        if pwm_start_at < 0:
            raise ValueError(f"the QK read starts at {s.qk_read[0]}, before the PWM bank "
                             f"(latency {pwm.latency}) can be started")
        if s.count[0] - 1 + s.initiation_interval < s.counts_final:
            # tokens overlap (ping-pong): the next token's counter / pulse-sum clear must not
            # come before the read-out took this token's final counts
            raise ValueError(f"the next token clears the counters at cycle "
                             f"{s.count[0] - 1 + s.initiation_interval}, before this token's "
                             f"counts are read at {s.counts_final}")

        # -- admission: initiation interval and output credits --------------------------------
        ii = self.initiation_interval
        gap = Signal(range(ii + 1))          # cycles until the next accept is allowed
        in_flight = Signal(range(fifo_depth + 1))
        accept = Signal()
        done_token = Signal()               # a result enters the FIFO this cycle
        room = Signal()
        m.d.comb += [
            room.eq(lt_const(in_flight + fifo.r_level, fifo_depth)),
            self.i_tok.ready.eq(~gap.any() & room & seq.o_ready),
            accept.eq(self.i_tok.valid & self.i_tok.ready),
        ]
        with m.If(accept):
            m.d.sync += gap.eq(ii - 1)
        with m.Elif(gap.any()):
            m.d.sync += gap.eq(gap - 1)
        m.d.sync += in_flight.eq(in_flight + accept - done_token)

        # -- token timelines: one slot per token in flight -------------------------------------
        life = self.slot_life
        slot_busy = [Signal(name=f"slot{i}_busy") for i in range(self.n_slots)]
        slot_off = [Signal(range(life + 1), name=f"slot{i}_off") for i in range(self.n_slots)]
        nxt = Signal(range(self.n_slots))   # slot the next accepted token takes
        with m.If(accept):
            m.d.sync += nxt.eq(0 if self.n_slots == 1 else (nxt + 1) % self.n_slots)
        nb_list, no_list = [], []
        for i, (busy, off) in enumerate(zip(slot_busy, slot_off)):
            nb = Signal(name=f"slot{i}_busy_next")
            no = Signal(range(life + 1), name=f"slot{i}_off_next")
            with m.If(accept & eq_const(nxt, i)):
                m.d.comb += [nb.eq(1), no.eq(0)]
            with m.Elif(busy & ~eq_const(off, life - 1)):
                m.d.comb += [nb.eq(1), no.eq(off + 1)]
            m.d.sync += [busy.eq(nb), off.eq(no)]
            nb_list.append(nb)
            no_list.append(no)

        def at(offset: int):
            """Some token is at ``offset`` in the current cycle."""
            return _any([b & eq_const(o, offset) for b, o in zip(slot_busy, slot_off)])

        sets = s.c2p_sets

        def phase_next(phase: tuple[int, int], c2p_set: int = 0):
            """Some token of C2P set ``c2p_set`` (slots i ≡ c2p_set mod c2p_sets) will be inside
            ``phase`` in the next cycle (for registered outputs)."""
            lo, hi = phase
            return _any([b & in_range(o, lo, hi)
                         for i, (b, o) in enumerate(zip(nb_list, no_list)) if i % sets == c2p_set])

        # -- writes: sequencer started with the accept; pointer advances when V is written ----
        m.d.comb += [
            seq.i_start.eq(accept),
            seq.i_k.eq(self.i_tok.payload.k),
            seq.i_v.eq(self.i_tok.payload.v),
            wac.i_advance.eq(seq.o_done),
            wac.i_clear.eq(0),
            self.o_dac_k.eq(seq.o_dac_k),
            self.o_dac_v.eq(seq.o_dac_v),
            self.o_we_k.eq(seq.o_we_k),
            self.o_we_v.eq(seq.o_we_v),
            self.o_discharge_k.eq(seq.o_discharge_k),
            self.o_discharge_v.eq(seq.o_discharge_v),
            self.o_tile_sel.eq(wac.o_tile_sel),
            self.o_col_sel.eq(wac.o_col_sel),
            self.o_valid.eq(wac.o_valid),
        ]

        # -- QK read: the query is held from the accept until the PWM frame starts ------------
        q_r = Signal(data.ArrayLayout(unsigned(a.q_bits), a.head_dim))
        with m.If(accept):
            m.d.sync += q_r.eq(self.i_tok.payload.q)
        m.d.comb += [
            pwm.i_codes.eq(q_r),
            pwm.i_start.eq(at(pwm_start_at)),
            self.o_wl_q.eq(pwm.o_wl),
        ]

        # -- charge-to-pulse phase controls (registered) ---------------------------------------
        def pin(sig, c: int):
            """Bit ``c`` (C2P set c) of a phase pin (the whole 1-bit pin with one set)."""
            return sig if sets == 1 else sig[c]

        for c in range(sets):
            m.d.sync += [
                pin(self.o_c2p1_integrate, c).eq(phase_next(s.qk_read, c)),
                pin(self.o_c2p1_fire, c).eq(phase_next(s.a_fire, c)),
                pin(self.o_c2p1_reset, c).eq(phase_next(s.c2p1_reset, c)),
                pin(self.o_c2p2_integrate, c).eq(phase_next(s.a_fire, c)),
                pin(self.o_c2p2_fire, c).eq(phase_next(s.count, c)),
                pin(self.o_c2p2_reset, c).eq(phase_next(s.c2p2_reset, c)),
            ]

        # -- read-out (counters + adder trees, or pulse sums), output FIFO ----------------------
        if cfg.timing.readout == "pulse_sum":
            m.submodules.psum = add = front = PulseSum(cfg)
        else:
            m.submodules.cnt = front = CounterBank(cfg)
            m.submodules.add = add = AdderTreeBank(cfg)
            m.d.comb += add.i_counts.eq(front.o_counts)
        m.d.comb += [                        # the pulses go to the counters or the pulse sums
            front.i_pulse.eq(self.i_c2p_pulse),
            front.i_sign.eq(self.i_c2p_sign),
            front.i_enable.eq(self.o_c2p2_fire.any() if sets > 1 else self.o_c2p2_fire),
            front.i_clear.eq(at(s.count[0] - 1)),
        ]
        if add.latency != s.readout_latency:
            raise ValueError(f"read-out latency {add.latency} differs from the schedule's "
                             f"{s.readout_latency}")
        m.d.comb += [
            add.i_valid.eq(at(s.counts_final)),
            fifo.w_data.eq(add.o_sums.as_value()),
            fifo.w_en.eq(add.o_valid),
            done_token.eq(add.o_valid),
            self.o_out.payload.eq(fifo.r_data),
            self.o_out.valid.eq(fifo.r_rdy),
            fifo.r_en.eq(self.o_out.ready),
        ]
        return m


def _any(terms):
    out = terms[0]
    for t in terms[1:]:
        out = out | t
    return out
