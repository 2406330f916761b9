"""The co-simulation shell: a small Verilog top level around the generated ``attention_head``.

It passes the head's analog-boundary pins through under the same names and adds the circuits
that would otherwise run in Python once per clock cycle or once per pin change:

* **PWM width counters** ``o_wl_width`` (:func:`width_bits` bit planes of head_dim bits, the
  layout of :func:`tb.cosim.bus.bit_planes`): cycles each query word line ``o_wl_q[i]`` was
  high while ``o_c2p1_integrate`` was high, restarted when integrate rises; saturating.
* **Pulse player** for the signed C2P inputs: the bridge sets the counts ``i_pp_planes``
  (n_tiles·head_dim counts as count_bits bit planes, :func:`tb.cosim.bus.bit_planes`) and
  signs ``i_pp_sign`` of the next token to fire, once per token; the shell registers them at
  every rising edge outside the signed C2P fire (so no logic depends on an input pin
  combinationally: Verilator re-evaluates such logic at every pin write), so it plays the
  values the pins had at the edge the fire rose at and holds them while it fires (a double
  buffer: the bridge may load the next token while this one plays, as the ping-pong schedule
  needs), and drives ``i_c2p_pulse[j] = fire ∧ (count[j] > k)`` with k the
  cycles since ``o_c2p2_fire`` rose, and ``i_c2p_sign = fire ? sign : 0`` — what the head
  samples at its falling edges.
* **Clock** ``clk`` (an output): a delay loop, high for the first half period from the moment
  the testbench raises ``i_clk_run`` — no simulator callback or pin write per edge (Verilator
  builds with ``--timing``).  Only the ports are public to Verilator (``/*verilator
  public_flat_rw*/`` on inputs, ``public_flat_rd`` on outputs), so it optimises everything
  else and re-evaluates nothing because cocotb might write it.
* **Bridge record** ``o_br_rec`` (:func:`bridge_fields`): each array event of the head latched
  when it happens — the K/V discharge and write enables with the tile/column select and DAC
  codes on the pins at that moment, the cycle the K discharge and the QK integrate began, a
  count of each event — beside the live pins the read-out needs (valid mask, widths).  The
  bridge reads it once per token, at the ReLU C2P fire, as one bus, latched at the falling
  edges it reads at (the wake-up below, every cycle in reset), not rebuilt in every cycle.
* **Token feeder**: a ring of ``2·FEED`` tokens the testbench refills ``FEED`` at a time
  (``i_tb_feed``, ``i_tb_feed_gaps``: idle cycles before each token is offered,
  ``i_tb_feed_n``, toggle ``i_tb_feed_seq``); it drives ``i_tok__valid``/``i_tok__payload`` and
  logs the cycle each token was accepted (``o_tb_acc``, ``o_tb_nacc``).
* **Output ready and capture**: ``o_out__ready`` follows a stall pattern the testbench loads
  ``PATTERN`` cycles at a time (two halves, ``i_tb_pat``, toggle ``i_tb_pat_seq``), or is
  always high (``i_tb_rdy_always``); each output taken is logged with its payload, the cycle it
  was taken and the cycle it first was valid (``o_tb_cap``, ``o_tb_ntake``); in the tail
  (``i_tb_tail``) outputs are only counted (``o_tb_extra``).  Counters: cycles the input was
  valid / idle while tokens remained, cycles a token was refused after an output stall.
* **Testbench alarm** ``o_tb_wake``: the feeder has room for a batch, a pattern half was
  used up, ``FEED`` log entries are unread, ``i_tb_take_goal`` outputs were taken, or
  ``i_tb_sleep`` cycles passed after ``i_tb_seq`` toggled — one trigger the testbench sleeps on.

With two C2P sets per column (``timing.schedule = "pingpong"``) the phase pins have a bit per
set: the circuits above use their OR (one set integrates, one fires at a time), the record
keeps the set bits (``*_set`` fields) so the bridge can check which set does what, and
``o_br_wake`` is the one-bit pin the bridge wakes on: it rises at the falling edge of the cycle in
which the OR of ``o_c2p1_fire`` rose, right after the record was latched there (one trigger per
token where a rise of the fire pin and then a falling clock edge took two), and falls at the
next falling edge.

Cycle numbers in the logs are the shell's counter ``cyc`` (rising edges since the start); a
logged event happened in the cycle that ended at that edge.  The port widths are read from the
generated head (its ``module attention_head`` declarations), so the shell follows any config
(:mod:`tb.cosim.head` writes it beside the head's Verilog).
"""

from __future__ import annotations

import re

from hdl.config import HeadConfig
from hdl.schedule import Schedule

__all__ = ["SHELL_TOP", "FEED", "PATTERN", "head_ports", "bridge_fields", "capture_fields",
           "shell_verilog", "width_bits"]

SHELL_TOP = "attention_head_cosim"
#: Tokens per feeder batch (the ring holds two) and log entries per wake-up: a power of two.
FEED = 16
#: Cycles of output stall pattern per half.
PATTERN = 1024
#: Bits of the shell's cycle counter and of each log entry's cycle.
CYC_BITS = 32
#: Bits of each event counter in the bridge record (wraps; the bridge checks the increments).
EVENT_BITS = 8
_PLAYED = ("i_c2p_pulse", "i_c2p_sign")
_DRIVEN = ("i_tok__valid", "i_tok__payload", "o_out__ready")
EVENTS = ("dk", "wk", "dv", "wv", "in", "f2")      # discharge/write K, V; integrate; fire 2


def head_ports(verilog: str, module: str = "attention_head") -> list[tuple[str, int, str]]:
    """(direction, width, name) of ``module``'s ports, from its declarations."""
    m = re.search(rf"^module {module}\(.*?\);(.*?)^endmodule", verilog, re.S | re.M)
    if not m:
        raise ValueError(f"no module {module} in the Verilog")
    ports = []
    for d, hi, lo, name in re.findall(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?"
                                      r"(?:\[(\d+):(\d+)\]\s*)?(\w+)\s*;", m.group(1), re.M):
        ports.append((d, int(hi) - int(lo) + 1 if hi else 1, name))
    return ports


def width_bits(cfg: HeadConfig) -> int:
    """Bits of each PWM width counter: one more than a legal width needs, so a word line high
    for longer than the PWM frame (``q_max`` cycles) reads above ``q_max`` (saturating), which
    :func:`analog_models.dac.pulse_fraction` refuses."""
    return cfg.array.q_bits + 1


def bridge_fields(cfg: HeadConfig) -> list[tuple[str, int]]:
    """``(name, width)`` of the bridge record ``o_br_rec``, least significant first: event
    counters ``n_<event>``, the latched cycles and selects/codes, then the live pins."""
    a = cfg.array
    sel = a.n_tiles + a.tile_cols
    dac = a.head_dim * a.kv_bits
    sets = Schedule(cfg).c2p_sets
    return ([(f"n_{e}", EVENT_BITS) for e in EVENTS]
            + [("cyc", CYC_BITS), ("dk_cyc", CYC_BITS), ("in_cyc", CYC_BITS),
               ("dk_sel", sel), ("wk_sel", sel), ("dv_sel", sel), ("wv_sel", sel),
               ("wk_dac", dac), ("wv_dac", dac),
               ("valid", a.n_tiles * a.tile_cols), ("wl_width", a.head_dim * width_bits(cfg)),
               ("wl_q", a.head_dim), ("in_set", sets), ("in_fire1", sets), ("f2_set", sets),
               ("integrate", sets), ("fire1", sets), ("fire2", sets)])


def capture_fields(out_width: int) -> list[tuple[str, int]]:
    """``(name, width)`` of one output-capture entry of ``o_tb_cap``, least significant first."""
    return [("payload", out_width), ("take_cyc", CYC_BITS), ("valid_cyc", CYC_BITS)]


def _decl(d: str, width: int, name: str) -> str:
    # the ports are the only signals cocotb sees (Verilator: public just these, so every other
    # signal is the model's own and no logic is re-evaluated because cocotb might write it)
    access = "public_flat_rw" if d == "input" else "public_flat_rd"
    return f"  {d} {'' if width == 1 else f'[{width - 1}:0] '}{name} /*verilator {access}*/"


def shell_verilog(cfg: HeadConfig, head_verilog: str) -> str:
    """The shell's Verilog for ``cfg`` around the head in ``head_verilog``."""
    a = cfg.array
    ports = head_ports(head_verilog)
    width = {n: w for _, w, n in ports}
    need = {"clk", "rst", "o_wl_q", "o_c2p1_integrate", "o_c2p1_fire", "o_c2p2_fire",
            "o_out__valid", "o_out__payload", "i_tok__ready", "o_valid", "o_tile_sel",
            "o_col_sel", "o_dac_k", "o_dac_v", "o_discharge_k", "o_we_k", "o_discharge_v",
            "o_we_v", *_PLAYED, *_DRIVEN}
    if not need <= set(width):
        raise ValueError(f"the head lacks pins {sorted(need - set(width))}")
    lanes = a.n_tiles * a.head_dim
    cb, d, wb = a.count_bits, a.head_dim, width_bits(cfg)
    kb = cb + 1                                   # counts up to count_max, then saturates
    pw, ow = width["i_tok__payload"], width["o_out__payload"]
    f2, lf = 2 * FEED, (2 * FEED).bit_length() - 1
    cw = sum(w for _, w in capture_fields(ow))
    # whole ps (1ns/1ps timescale; tb.cosim.head refuses a period of an odd number of ps)
    half_ns = round(cfg.timing.t_clk_ns * 1000) / 2 / 1000
    rec = bridge_fields(cfg)
    rec_w = sum(w for _, w in rec)
    decls = [_decl(dr, w, n) for dr, w, n in ports if n not in _PLAYED + _DRIVEN + ("clk",)]
    decls += [_decl("output reg", 1, "clk"), _decl("input", 1, "i_clk_run")]
    decls += [_decl("input", lanes * cb, "i_pp_planes"), _decl("input", lanes, "i_pp_sign"),
              _decl("output", d * wb, "o_wl_width"), _decl("output reg", rec_w, "o_br_rec"),
              _decl("output", 1, "o_br_wake"),
              _decl("input", FEED * pw, "i_tb_feed"), _decl("input", FEED * 16, "i_tb_feed_gaps"),
              _decl("input", 8, "i_tb_feed_n"), _decl("input", 1, "i_tb_feed_seq"),
              _decl("input", 1, "i_tb_more"), _decl("input", PATTERN, "i_tb_pat"),
              _decl("input", 1, "i_tb_pat_seq"), _decl("input", 1, "i_tb_rdy_always"),
              _decl("input", 1, "i_tb_tail"), _decl("input", CYC_BITS, "i_tb_acc_seen"),
              _decl("input", CYC_BITS, "i_tb_cap_seen"),
              _decl("input", CYC_BITS, "i_tb_take_goal"),
              _decl("output", f2 * CYC_BITS, "o_tb_acc"), _decl("output", CYC_BITS, "o_tb_nacc"),
              _decl("output reg", f2 * cw, "o_tb_cap"), _decl("output", CYC_BITS, "o_tb_ntake"),
              _decl("output", 4 * CYC_BITS, "o_tb_stats"), _decl("output", CYC_BITS, "o_tb_cyc"),
              _decl("output", lf + 2, "o_tb_fcount"), _decl("output", 3, "o_tb_pat_state"),
              _decl("input", 32, "i_tb_sleep"), _decl("input", 1, "i_tb_seq"),
              _decl("output", 1, "o_tb_wake")]
    conns = ",\n".join(f"    .{n}({n})" for _, _, n in ports)
    decl_text = ",\n".join(decls)
    sel = "{o_col_sel, o_tile_sel}"
    latch = {"dk": ("o_discharge_k", f"br_dk_cyc <= cyc; br_dk_sel <= {sel};"),
             "wk": ("o_we_k", f"br_wk_sel <= {sel}; br_wk_dac <= o_dac_k;"),
             "dv": ("o_discharge_v", f"br_dv_sel <= {sel};"),
             "wv": ("o_we_v", f"br_wv_sel <= {sel}; br_wv_dac <= o_dac_v;"),
             "in": ("(|o_c2p1_integrate)",
                    "br_in_cyc <= cyc; br_in_set <= o_c2p1_integrate; br_in_fire1 <= o_c2p1_fire;"),
             "f2": ("(|o_c2p2_fire)", "br_f2_set <= o_c2p2_fire;")}
    sets = dict(rec)["in_set"]                    # C2P sets: the record's set-bit fields
    sw, dw = a.n_tiles + a.tile_cols, d * a.kv_bits
    regs = [f"  reg [{EVENT_BITS - 1}:0] br_n_{e} = 0;\n  reg br_d_{e} = 0;" for e in EVENTS]
    regs += [f"  reg [{CYC_BITS - 1}:0] br_dk_cyc = 0, br_in_cyc = 0;",
             f"  reg [{sw - 1}:0] br_dk_sel = 0, br_wk_sel = 0, br_dv_sel = 0, br_wv_sel = 0;",
             f"  reg [{dw - 1}:0] br_wk_dac = 0, br_wv_dac = 0;",
             f"  reg [{sets - 1}:0] br_in_set = 0, br_in_fire1 = 0, br_f2_set = 0;"]
    events = "\n".join(
        f"    br_d_{e} <= {pin};\n    if ({pin} & ~br_d_{e}) begin br_n_{e} <= br_n_{e} + 1'b1; "
        f"{act} end" for e, (pin, act) in latch.items())
    live = {"cyc": "cyc", "dk_cyc": "br_dk_cyc", "in_cyc": "br_in_cyc", "dk_sel": "br_dk_sel",
            "wk_sel": "br_wk_sel", "dv_sel": "br_dv_sel", "wv_sel": "br_wv_sel",
            "wk_dac": "br_wk_dac", "wv_dac": "br_wv_dac", "valid": "o_valid",
            "wl_width": "o_wl_width", "wl_q": "o_wl_q", "in_set": "br_in_set",
            "in_fire1": "br_in_fire1", "f2_set": "br_f2_set", "integrate": "o_c2p1_integrate",
            "fire1": "o_c2p1_fire", "fire2": "o_c2p2_fire", **{f"n_{e}": f"br_n_{e}" for e in EVENTS}}
    # o_valid and o_wl_q may be wider than the fields (the head's own port widths)
    rec_expr = ", ".join(
        f"{live[n]}[{w - 1}:0]" if n in ("valid", "wl_q") and width.get(live[n], w) != w
        else live[n] for n, w in reversed(rec))
    return f"""// Co-simulation shell around attention_head (tb/cosim/shell.py; generated, do not edit).
module {SHELL_TOP}(
{decl_text}
);
  wire [{lanes - 1}:0] i_c2p_pulse;
  wire [{lanes - 1}:0] i_c2p_sign;
  wire i_tok__valid;
  wire [{pw - 1}:0] i_tok__payload;
  wire o_out__ready;
  attention_head u_head(
{conns}
  );
  // the clock: high for the first half period from the moment i_clk_run rises (no simulator
  // callback or pin write per edge)
  initial begin
    clk = 1'b0;
    wait (i_clk_run);
    forever begin clk = 1'b1; #{half_ns}; clk = 1'b0; #{half_ns}; end
  end
  reg [{CYC_BITS - 1}:0] cyc = 0;
  always @(posedge clk) cyc <= cyc + 1'b1;
  assign o_tb_cyc = cyc;
  // the C2P phase pins have a bit per C2P set; one set integrates / fires at a time
  wire integ = |o_c2p1_integrate, fire2 = |o_c2p2_fire;
  // the bridge's wake-up: the falling edge of the cycle the ReLU C2P fire (any set) rose in
  wire fire1 = |o_c2p1_fire;
  reg fire1_d = 0;
  always @(posedge clk) fire1_d <= fire1;
  // pulse player: count > k in the k-th cycle of the signed C2P fire; the counts and signs
  // follow i_pp_* at every rising edge without the fire (a register: no logic of the head
  // depends on an input pin combinationally, so Verilator evaluates none of it when a pin is
  // written), so they are the pins' values at the edge the fire rose at, held while it fires
  // (a double buffer: the bridge may write the next token meanwhile; one register, not a
  // sample at every edge and a copy and a mux in the first fire cycle: default head, Icarus
  // ~10 % more tokens per CPU second; Verilator the same, callgrind)
  reg [{kb - 1}:0] pp_k = 0;
  reg [{lanes * cb - 1}:0] pp_planes = 0;
  reg [{lanes - 1}:0] pp_sign = 0;
  always @(posedge clk) begin
    pp_k <= fire2 ? (pp_k == {{{kb}{{1'b1}}}} ? pp_k : pp_k + 1'b1) : {kb}'d0;
    if (~fire2) begin pp_planes <= i_pp_planes; pp_sign <= i_pp_sign; end
  end
  genvar j;
  // count > k, plane by plane from the LSB (the counts come as {cb} bit planes)
  reg [{lanes - 1}:0] pp_gt;
  integer pk;
  always @* begin
    pp_gt = {lanes}'d0;
    if (fire2)
      for (pk = 0; pk < {kb}; pk = pk + 1)
        if (pk < {cb}) pp_gt = pp_k[pk] ? (pp_planes[pk*{lanes} +: {lanes}] & pp_gt)
                                         : (pp_planes[pk*{lanes} +: {lanes}] | pp_gt);
        else if (pp_k[pk]) pp_gt = {lanes}'d0;
  end
  assign i_c2p_pulse = pp_gt;
  assign i_c2p_sign = fire2 ? pp_sign : {lanes}'d0;
  // PWM width counters: cycles each word line is high during the QK integrate
  reg integ_d = 0;
  always @(posedge clk) integ_d <= integ;
  // bit-sliced (plane b, bits [b*{d} +: {d}], is bit b of every lane): a ripple-carry add of
  // o_wl_q, a few vector operations per cycle, not an add and a compare per lane
  reg [{d * wb - 1}:0] pwm_w = 0, pwm_n;
  reg [{d - 1}:0] pwm_c;
  integer pwb;
  always @(posedge clk)
    if (integ) begin
      if (integ_d) begin
        pwm_c = {{{d}{{1'b1}}}};                 // saturated lanes (every bit 1) keep their count
        for (pwb = 0; pwb < {wb}; pwb = pwb + 1) pwm_c = pwm_c & pwm_w[pwb*{d} +: {d}];
        pwm_c = o_wl_q[{d - 1}:0] & ~pwm_c;
        for (pwb = 0; pwb < {wb}; pwb = pwb + 1) begin
          pwm_n[pwb*{d} +: {d}] = pwm_w[pwb*{d} +: {d}] ^ pwm_c;
          pwm_c = pwm_c & pwm_w[pwb*{d} +: {d}];
        end
      end else
        pwm_n = {{{(wb - 1) * d}'d0, o_wl_q[{d - 1}:0]}};
      pwm_w <= pwm_n;
    end
  assign o_wl_width = pwm_w;
  // bridge record: each array event latched at the edge after it rose (pins as they were)
{chr(10).join(regs)}
  always @(posedge clk) begin
{events}
  end
  // latched only at the falling edges the bridge reads at (wake-up, reset), not rebuilt in
  // every cycle (callgrind: ~700 of the model's ~12,500 instructions per cycle); blocking,
  // record first: it is new when the wake pin rises
  reg br_wake = 0;
  initial o_br_rec = 0;
  always @(negedge clk) begin
    if ((fire1 & ~fire1_d) | rst) o_br_rec = {{{rec_expr}}};
    br_wake = fire1 & ~fire1_d;
  end
  assign o_br_wake = br_wake;
  // token feeder: a ring of {f2} tokens, each offered after its gap of idle cycles
  reg [{f2 * pw - 1}:0] f_tok = 0;
  reg [{f2 * 16 - 1}:0] f_gap = 0;
  reg [{lf - 1}:0] f_wr = 0, f_rd = 0;
  reg [{lf + 1}:0] f_count = 0;
  reg [15:0] f_since = 0;
  reg f_seq_d = 0;
  reg [{f2 * CYC_BITS - 1}:0] f_acc = 0;
  reg [{CYC_BITS - 1}:0] n_acc = 0;
  wire f_more = (f_count != 0) | i_tb_more;
  assign i_tok__valid = ~rst & (f_count != 0) & (f_since >= f_gap[f_rd*16 +: 16]);
  assign i_tok__payload = f_tok[f_rd*{pw} +: {pw}];
  wire f_take = i_tok__valid & i_tok__ready;
  integer i;
  reg [{lf - 1}:0] f_slot;              // ring slot of the i-th token of a batch (wraps)
  always @(posedge clk) begin
    f_seq_d <= i_tb_feed_seq;
    if (i_tb_feed_seq != f_seq_d) begin
      for (i = 0; i < {FEED}; i = i + 1)
        if (i < i_tb_feed_n) begin
          f_slot = f_wr + i[{lf - 1}:0];
          f_tok[f_slot*{pw} +: {pw}] <= i_tb_feed[i*{pw} +: {pw}];
          f_gap[f_slot*16 +: 16] <= i_tb_feed_gaps[i*16 +: 16];
        end
      f_wr <= f_wr + i_tb_feed_n[{lf - 1}:0];
    end
    if (i_tb_feed_seq != f_seq_d)      // (an unknown input before the first write: no load)
      f_count <= f_count + i_tb_feed_n[{lf + 1}:0] - {{{lf + 1}'d0, f_take}};
    else
      f_count <= f_count - {{{lf + 1}'d0, f_take}};
    if (f_take) begin
      f_acc[n_acc[{lf - 1}:0]*{CYC_BITS} +: {CYC_BITS}] <= cyc;
      n_acc <= n_acc + 1'b1;
      f_rd <= f_rd + 1'b1;
    end
    f_since <= (rst | f_take) ? 16'd0 : (f_since == 16'hffff ? f_since : f_since + 1'b1);
  end
  assign o_tb_acc = f_acc;
  assign o_tb_nacc = n_acc;
  assign o_tb_fcount = f_count;
  // output ready from the stall pattern (two halves), capture of every output taken
  reg [{PATTERN - 1}:0] p_bits0 = 0, p_bits1 = 0;
  reg [1:0] p_full = 0;
  reg p_half = 0, p_seq_d = 0;
  reg [{(PATTERN - 1).bit_length() - 1}:0] p_pos = 0;
  wire p_bit = p_half ? p_bits1[p_pos] : p_bits0[p_pos];
  assign o_out__ready = ~rst & (i_tb_rdy_always | (p_full[p_half] & p_bit));
  wire take = o_out__valid & o_out__ready;
  initial o_tb_cap = 0;          // the log itself (no copy of it into the port per cycle)
  reg [{CYC_BITS - 1}:0] n_take = 0, v_first = 0;
  reg v_seen = 0, stalled = 0;
  reg [{CYC_BITS - 1}:0] st_valid = 0, st_idle = 0, st_held = 0, st_extra = 0;
  wire [{CYC_BITS - 1}:0] v_cyc = v_seen ? v_first : cyc;
  always @(posedge clk) begin
    p_seq_d <= i_tb_pat_seq;
    if (i_tb_pat_seq != p_seq_d) begin      // load the half in use if empty, else the other
      if (p_full[p_half] == 1'b0) begin
        if (p_half) p_bits1 <= i_tb_pat; else p_bits0 <= i_tb_pat;
        p_full[p_half] <= 1'b1;
      end else begin
        if (p_half) p_bits0 <= i_tb_pat; else p_bits1 <= i_tb_pat;
        p_full[~p_half] <= 1'b1;
      end
    end
    if (~rst & ~i_tb_rdy_always & p_full[p_half]) begin
      p_pos <= p_pos + 1'b1;
      if (p_pos == {(PATTERN - 1).bit_length()}'d{PATTERN - 1}) begin
        p_full[p_half] <= 1'b0;
        p_half <= ~p_half;
      end
    end
    if (~rst) begin
      if (f_more) begin
        st_valid <= st_valid + i_tok__valid;
        st_idle <= st_idle + {{{CYC_BITS - 1}'d0, ~i_tok__valid}};
      end
      if (i_tok__valid & ~f_take & stalled) st_held <= st_held + 1'b1;
      stalled <= ~o_out__ready;
    end
    v_seen <= o_out__valid & ~take & ~rst;
    if (o_out__valid & ~v_seen) v_first <= cyc;
    if (take) begin
      if (i_tb_tail) st_extra <= st_extra + 1'b1;
      else begin
        o_tb_cap[n_take[{lf - 1}:0]*{cw} +: {cw}] <= {{v_cyc, cyc, o_out__payload}};
        n_take <= n_take + 1'b1;
      end
    end
  end
  reg p_under = 0;          // a cycle without a pattern: the testbench was late (sticky)
  always @(posedge clk) if (~rst & ~i_tb_rdy_always & ~p_full[p_half]) p_under <= 1'b1;
  assign o_tb_pat_state = {{p_under, p_full}};
  assign o_tb_ntake = n_take;
  assign o_tb_stats = {{st_extra, st_held, st_idle, st_valid}};
  // testbench alarm: work to do, or i_tb_sleep cycles after i_tb_seq toggled
  reg tb_seq_d = 0;
  reg [31:0] tb_left = 0;
  always @(posedge clk) begin
    tb_seq_d <= i_tb_seq;
    if (i_tb_seq != tb_seq_d) tb_left <= i_tb_sleep;
    else if (tb_left != 0) tb_left <= tb_left - 1;
  end
  assign o_tb_wake = (i_tb_more & (f_count <= {FEED}))
                     | (~i_tb_rdy_always & (p_full != 2'b11))
                     | ((n_acc - i_tb_acc_seen) >= {FEED}) | ((n_take - i_tb_cap_seen) >= {FEED})
                     | (n_take >= i_tb_take_goal) | (tb_left == 32'd1);
endmodule
"""
