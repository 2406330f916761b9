"""The attention head top: token stream in, output stream out, the analog boundary in between.

``AttentionHead`` instantiates every digital block of the periphery and the controller that runs
the reference token schedule of :mod:`hdl.schedule`.  The arrays and charge-to-pulse circuits are
outside (analog); their ports are the boundary of DESIGN.md §4.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .blocks.adder_tree import AdderTreeBank
from .blocks.counter_bank import CounterBank
from .blocks.output_fifo import OutputFifo
from .blocks.pulse_sum import PulseSum
from .blocks.pwm_bank import PwmBank
from .blocks.write_address import WriteAddressController
from .blocks.write_sequencer import WriteSequencer
from .compare import eq_const
from .config import HeadConfig
from .fanout import copies_for, replicated, replicated_tree
from .payload import token_parts
from .schedule import Schedule

__all__ = ["AttentionHead", "token_layout"]


def token_layout(cfg: HeadConfig) -> data.StructLayout:
    """Payload of the input stream: q codes, then k codes, then v codes (field i = dim i), as
    :func:`hdl.payload.token_parts` lists them."""
    return data.StructLayout({name: data.ArrayLayout(unsigned(width), count)
                              for name, count, width in token_parts(cfg)})


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

    For the clock (issue 12): ``i_tok.ready`` is a register, the payload goes into an input
    register whose enable is a replicated register (not the accept), and every control that
    reaches a whole bank (count window, clear, sums valid, the mask's advance) is a replicated
    register (:mod:`hdl.fanout`) loaded from a one-hot token timeline (one more per C2P set
    for the phase pins with two sets).  None of this moves a cycle: the ports behave exactly
    as the schedule says.
    """

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
        """Cycles a token's timeline slot lives (:attr:`Schedule.slot_life`)."""
        return self._sched.slot_life

    @property
    def n_in_flight(self) -> int:
        """Tokens that can be in flight at once (:attr:`Schedule.n_in_flight`)."""
        return self._sched.n_in_flight

    @property
    def out_fifo_depth(self) -> int:
        """Entries of the output FIFO (:attr:`Schedule.out_fifo_depth`)."""
        return self._sched.out_fifo_depth

    def elaborate(self, platform):
        m = Module()
        cfg, s = self._cfg, self._sched
        a = cfg.array
        n_ch = a.n_channels

        m.submodules.pwm = pwm = PwmBank(cfg)
        # The input register holds the codes for the sequencer (no latch of its own).
        m.submodules.seq = seq = WriteSequencer(cfg, latch=False)
        m.submodules.wac = wac = WriteAddressController(
            cfg, copies=copies_for(a.window, at_most=a.n_tiles))
        fifo_depth = self.out_fifo_depth

        ii = self.initiation_interval
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
        if not 2 <= ii or seq.duration > ii or pwm_start_at >= ii:
            raise ValueError(f"the input register must hold a token's codes through its writes "
                             f"and the PWM start: initiation interval {ii} < 2 or below the "
                             f"write sequence ({seq.duration}) or the PWM start "
                             f"({pwm_start_at + 1})")

        # -- admission: registered ready (initiation interval and output credits) -------------
        # ready is a register: its next value is worked out from next-cycle state, so the port
        # sees the same ready, cycle for cycle, as the combinational rule "no accept in the
        # last ii − 1 cycles, and room in the output FIFO for every token in flight", and
        # accept = valid & ready is one gate (issue 12: it no longer sets the clock).  An
        # entry taken from the output FIFO comes back as a credit one cycle later (``pop`` is a
        # register: the FIFO's read side, spread over the die with its slices, does not reach
        # the admission and the input register's enables in the same cycle); with the output
        # ready, credits never run out (depth > tokens in flight), so no rate changes.
        gap = Signal(range(ii + 1))          # cycles until the next accept is allowed
        free = Signal(range(fifo_depth + 1), init=fifo_depth)  # FIFO entries not yet claimed
        ready = Signal(init=1)
        accept = Signal()
        pop = Signal()                       # the output FIFO gave an entry back last cycle
        m.d.comb += [
            self.i_tok.ready.eq(ready),
            accept.eq(self.i_tok.valid & ready),
        ]
        with m.If(accept):
            m.d.sync += gap.eq(ii - 1)
        with m.Elif(gap.any()):
            m.d.sync += gap.eq(gap - 1)
        ready_next = Signal()
        m.d.comb += ready_next.eq(~accept & ~gap[1:].any() & (free.any() | pop))
        m.d.sync += [
            free.eq(free + pop - accept),
            # next gap == 0 (ii ≥ 2) and next free > 0; the sequencer is then always ready
            # (its sequence is no longer than ii).
            ready.eq(ready_next),
        ]

        # -- the input register: the payload, captured in every ready cycle by replicated
        # copies of ready (a register, no accept in the enable), then held from the cycle after
        # the accept until ready again, ≥ ii cycles: the codes of the writes and the PWM -------
        tok = self.i_tok.payload.as_value()
        tok_r = Signal(data.StructLayout(token_layout(cfg).members), name="tok_r",
                       reset_less=True)   # read only after an accept captured it
        flat_r = tok_r.as_value()
        nc = copies_for(len(tok))
        capture = replicated(m, ready_next, nc, "tok_capture", init=1)
        for g in range(nc):
            lo, hi = g * len(tok) // nc, (g + 1) * len(tok) // nc
            with m.If(capture[g]):
                m.d.sync += flat_r[lo:hi].eq(tok[lo:hi])

        # -- token timeline: bit o of a shift register = a token is at offset o ---------------
        # Tokens are ≥ ii cycles apart, so each bit holds at most one; every phase control
        # below is a register loaded from a few bits (no decoding of per-token offsets).  The
        # phase pins have a bit per C2P set (token j uses set j mod c2p_sets): each set has the
        # timeline of its own tokens, and the head's timeline is their OR (one set: the same).
        life = self.slot_life
        sets = s.c2p_sets
        if sets == 1:
            starts = [accept]
            set_tl = [Signal(life, name="timeline")]
        else:
            turn = Signal(range(sets))       # the C2P set of the next token accepted
            with m.If(accept):
                m.d.sync += turn.eq(Mux(eq_const(turn, sets - 1), 0, turn + 1))
            starts = [accept & eq_const(turn, c) for c in range(sets)]
            set_tl = [Signal(life, name=f"timeline_set{c}") for c in range(sets)]
        set_tl_next = [Cat(start, t[:-1]) for start, t in zip(starts, set_tl)]
        m.d.sync += [t.eq(n) for t, n in zip(set_tl, set_tl_next)]
        tl, tl_next = set_tl[0], set_tl_next[0]
        for t, n in zip(set_tl[1:], set_tl_next[1:]):
            tl, tl_next = tl | t, tl_next | n

        def at(offset: int):
            """Some token is at ``offset`` in the current cycle."""
            return tl[offset]

        def phase_next(phase: tuple[int, int], c2p_set: int | None = None):
            """Some token (of C2P set ``c2p_set``, if given) will be inside ``phase`` in the next
            cycle (for registered outputs)."""
            lo, hi = phase
            if c2p_set is None:
                return tl_next[lo:hi].any()
            return set_tl_next[c2p_set][lo:hi].any()

        def control(offset: int, loads: int, name: str, at_most: int) -> list[Signal]:
            """Replicated registers equal to ``at(offset)`` (for a control with many loads),
            through a fan-out tree loaded from the timeline one offset earlier if there is one."""
            copies = copies_for(loads, at_most=at_most)
            if offset == 0:
                return replicated(m, tl_next[offset], copies, name)
            return replicated_tree(m, tl_next[offset - 1], copies, name)

        # -- writes: sequencer started with the accept; pointer advances when V is written ----
        m.d.comb += [
            seq.i_start.eq(accept),
            seq.i_k.eq(tok_r.k),
            seq.i_v.eq(tok_r.v),
            wac.i_advance.eq(Cat(control(seq.duration - 1, a.window, "advance",
                                         len(wac.i_advance)))),
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

        # -- QK read: the query waits in the input register until the PWM frame starts -------
        m.d.comb += [
            pwm.i_codes.eq(tok_r.q),
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
        # The count window (= o_c2p2_fire), the clear and the sums' valid reach every channel:
        # replicated registers, one copy per slice of the bank.
        loads = n_ch * a.count_width
        most = a.head_dim
        if cfg.timing.readout == "pulse_sum":
            m.submodules.psum = add = front = PulseSum(
                cfg, copies=copies_for(loads, at_most=most))
        else:
            m.submodules.cnt = front = CounterBank(cfg, copies=copies_for(loads, at_most=most))
            m.submodules.add = add = AdderTreeBank(cfg, copies=copies_for(loads, at_most=most))
            m.d.comb += add.i_counts.eq(front.o_counts)
        lo, hi = s.count                     # the window one offset earlier feeds the tree
        fire = (replicated_tree(m, phase_next((lo - 1, hi - 1)), copies_for(loads, at_most=most),
                                "count_en") if lo >= 1 else
                replicated(m, phase_next(s.count), copies_for(loads, at_most=most), "count_en"))
        m.d.comb += [                        # the pulses go to the counters or the pulse sums
            front.i_pulse.eq(self.i_c2p_pulse),
            front.i_sign.eq(self.i_c2p_sign),
            front.i_enable.eq(Cat(fire)),
            front.i_clear.eq(Cat(control(s.count[0] - 1, loads, "count_clear", most))),
        ]
        if add.latency != s.readout_latency:
            raise ValueError(f"read-out latency {add.latency} differs from the schedule's "
                             f"{s.readout_latency}")
        # The output FIFO is written by the read-out's valid copies (registers, each next to
        # its slice of the sums) and never looks at its level: the credits above reserve an
        # entry for every token admitted (``free`` starts at the FIFO's depth), so it cannot
        # overflow: the FIFO's sticky o_overflow flag is checked by its own test, and in the
        # head an overflow would overwrite an unread output, which the co-simulation's
        # scoreboard compares with the golden model under output stalls.
        m.submodules.fifo = fifo = OutputFifo(add.o_sums.shape(), fifo_depth,
                                              copies=len(add.o_valid))
        m.d.comb += [
            add.i_valid.eq(Cat(control(s.counts_final, loads, "sums_valid", most))),
            fifo.w_data.eq(add.o_sums),
            fifo.w_en.eq(add.o_valid),
            self.o_out.payload.eq(fifo.r_data),
            self.o_out.valid.eq(fifo.r_rdy),
            fifo.r_en.eq(self.o_out.ready),
        ]
        m.d.sync += pop.eq(fifo.r_en & fifo.r_rdy)
        return m

