"""The reference token schedule of one head, derived from the configuration.

Pure arithmetic, no Amaranth: the head controller (RTL), the write sequencer, the golden model
(time of each write and read, for leakage) and the energy/latency model all read the phase
offsets from here, so the schedule is written down once.

Offsets are in clock cycles from the cycle a token starts (cycle 0 = the first cycle of the K
column discharge, the cycle after the controller accepted the token).  Each phase is a half-open
interval ``[start, end)``.  At defaults (1 ns clock)::

    K discharge     [ 0,  1)   column of the write pointer, K array
    K write         [ 1,  3)   dac_k codes + we_k
    QK read         [ 3, 18)   PWM frame of q_t on the K array; ReLU C2P integrates
    V discharge     [ 3,  4)   V array column, while the K array is read
    V write         [ 4,  6)   dac_v codes + we_v
    A fire / V read [18, 33)   ReLU C2P fires A pulses into the V array; signed C2P integrates
    ReLU C2P reset  [33, 34)
    count           [33, 48)   signed C2P fires, counters count high cycles (≤ count_max)
    signed C2P reset[48, 49)
    counts final     48        the counters hold ±count from here until the next clear

The resources are the K array (write + QK read), the ReLU C2P (QK read → A fire → reset),
the V array (write + A fire), the signed C2P (A fire → count → reset) and the counters.  The next
token may start once none of its phases overlaps a phase of the previous token on the same
resource; :attr:`Schedule.initiation_interval` is that smallest distance.

``timing.schedule = "pingpong"`` (issue 11 §3) changes two things: every column has two ReLU and
two signed C2Ps (:attr:`Schedule.c2p_sets` = 2), token j using set j mod 2, so a C2P set only
has to be free again two tokens later; and the V column is discharged and written right before
the A fire instead of during the QK read, so the V array is busy 3 + 15 cycles::

    V discharge     [15, 16)   V array column, the last cycles of the QK read
    V write         [16, 18)
    (every other phase as above: latency unchanged)

A resource with c copies used in turn bounds the interval to ceil(busy / c) cycles; the K and V
arrays (18 cycles each) then set it: 18 cycles at defaults, against 31.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import HeadConfig

__all__ = ["Schedule", "OUT_FIFO_DEPTH"]


#: Smallest depth of the head's output FIFO (tokens); :attr:`Schedule.out_fifo_depth` is at
#: least one more than the tokens that can be in flight.
OUT_FIFO_DEPTH = 4


@dataclass(frozen=True)
class Schedule:
    """Phase offsets (cycles) of one token step, derived from a :class:`HeadConfig`."""

    cfg: HeadConfig

    # -- phases ---------------------------------------------------------------------------------
    @property
    def k_discharge(self) -> tuple[int, int]:
        return (0, self.cfg.timing.discharge_cycles)

    @property
    def k_write(self) -> tuple[int, int]:
        s = self.k_discharge[1]
        return (s, s + self.cfg.timing.dac_write_cycles)

    @property
    def qk_read(self) -> tuple[int, int]:
        """PWM frame of the query: T_max = q_max cycles; ReLU C2P integrates meanwhile."""
        s = self.k_write[1]
        return (s, s + self.cfg.array.q_max)

    @property
    def c2p_sets(self) -> int:
        """ReLU and signed C2P circuits per column (each): 1, or 2 used by alternate tokens
        (token j uses set j mod c2p_sets) in the ``pingpong`` schedule."""
        return 2 if self.cfg.timing.schedule == "pingpong" else 1

    @property
    def v_discharge(self) -> tuple[int, int]:
        """The V column is discharged and written while the K array is read (``paper``), or
        right before the A fire, ending with the QK read (``pingpong``)."""
        t = self.cfg.timing
        if t.schedule == "pingpong":
            s = self.qk_read[1] - t.dac_write_cycles - t.discharge_cycles
            s = max(s, self.qk_read[0])
        else:
            s = self.qk_read[0]
        return (s, s + t.discharge_cycles)

    @property
    def v_write(self) -> tuple[int, int]:
        s = self.v_discharge[1]
        return (s, s + self.cfg.timing.dac_write_cycles)

    @property
    def a_fire(self) -> tuple[int, int]:
        """ReLU C2P fires A (≤ T_max) into the V array; needs the QK read and V write done."""
        s = max(self.qk_read[1], self.v_write[1])
        return (s, s + self.cfg.array.q_max)

    @property
    def c2p1_reset(self) -> tuple[int, int]:
        s = self.a_fire[1]
        return (s, s + self.cfg.timing.c2p_reset_cycles)

    @property
    def count(self) -> tuple[int, int]:
        """Signed C2P fires (≤ count_max cycles); the counters count its high cycles."""
        s = self.a_fire[1]
        return (s, s + self.cfg.array.count_max)

    @property
    def c2p2_reset(self) -> tuple[int, int]:
        s = self.count[1]
        return (s, s + self.cfg.timing.c2p_reset_cycles)

    @property
    def counts_final(self) -> int:
        """First cycle at which the counter outputs hold the token's final ±count."""
        return self.count[1]

    # -- resource occupancy and the initiation interval ---------------------------------------
    def resources(self) -> dict[str, tuple[int, int]]:
        """Busy interval of each shared resource within one token step."""
        return {
            "k_array": (self.k_discharge[0], self.qk_read[1]),
            "relu_c2p": (self.qk_read[0], self.c2p1_reset[1]),
            "v_array": (self.v_discharge[0], self.a_fire[1]),
            "signed_c2p": (self.a_fire[0], self.c2p2_reset[1]),
            "counters": (self.count[0], self.counts_final + 1),
        }

    def copies(self) -> dict[str, int]:
        """Copies of each resource of :meth:`resources`, used by successive tokens in turn."""
        sets = self.c2p_sets
        return {name: sets if name in ("relu_c2p", "signed_c2p") else 1
                for name in self.resources()}

    @property
    def initiation_interval(self) -> int:
        """Smallest start-to-start distance of two tokens with no resource used twice at once:
        a resource busy b cycles with c copies in turn needs c·II ≥ b, so II ≥ ceil(b / c)."""
        copies = self.copies()
        return max(-(-(end - start) // copies[name])
                   for name, (start, end) in self.resources().items())

    @property
    def step_cycles(self) -> int:
        """Cycles from token start until every phase of the token has ended."""
        return max(end for _, end in self.resources().values())

    # -- digital tail, head latency, and the real-time token step ------------------------------
    @property
    def adder_levels(self) -> int:
        """Adder levels of one tree over n_tiles inputs: ceil(log2(n_tiles))."""
        return (self.cfg.array.n_tiles - 1).bit_length()

    @property
    def adder_latency(self) -> int:
        """Registers in an adder tree: one after every k-th level (k = adder_pipeline_every)."""
        k = self.cfg.timing.adder_pipeline_every
        return self.adder_levels // k if k else 0

    @property
    def readout_latency(self) -> int:
        """Cycles from counts_final (the cycle after the last pulse cycle) to the read-out's
        valid sums: the adder trees' registers (``tile_counters``), or for ``pulse_sum`` its
        partial-sum register, 1, + 1 with ``timing.pulse_tree_register`` (the accumulator plays
        the counters' part)."""
        if self.cfg.timing.readout == "pulse_sum":
            return 1 + int(self.cfg.timing.pulse_tree_register)
        return self.adder_latency

    @property
    def latency(self) -> int:
        """Cycles from the cycle a token is accepted to the cycle its output is valid:
        1 (accept → start) + counts_final + readout_latency + 1 (output register)."""
        return 1 + self.counts_final + self.readout_latency + 1

    # -- admission: tokens in flight and the output FIFO ----------------------------------------
    @property
    def slot_life(self) -> int:
        """Cycles a token's timeline slot lives: until its counts reach the adder trees and the
        signed C2P has been reset."""
        return max(self.counts_final + 1, self.c2p2_reset[1])

    @property
    def n_in_flight(self) -> int:
        """Tokens that can be in flight at once: ceil(slot_life / initiation_interval)."""
        return -(-self.slot_life // self.initiation_interval)

    @property
    def out_fifo_depth(self) -> int:
        """Entries of the head's output FIFO = the most tokens that can be accepted and not yet
        taken at the output (the admission's credit): ``max(OUT_FIFO_DEPTH, n_in_flight + 1)``
        (the testbench checks it without building the head)."""
        return max(OUT_FIFO_DEPTH, self.n_in_flight + 1)

    @property
    def token_step_s(self) -> float:
        """Real time between two tokens of one head in an L-layer model generating one token at
        a time: every layer's attention takes one latency (P eq. 7: Δt = L × latency)."""
        return self.cfg.timing.layers * self.latency * self.cfg.timing.t_clk_s
