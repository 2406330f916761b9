"""The hardware attention head in PyTorch, parametrised by :class:`hdl.config.HeadConfig`.

The same numerics as :mod:`sim.golden` (model-spec §6, DESIGN.md §5), on (B, H, T, d) tensors of
already-scaled projections, every sequence starting with an empty window at t = 0:

1. quantisers with straight-through gradients: ``x = round(clip(q, 0, 1)·q_max)/q_max`` (the PWM
   code / q_max), ``V = round(clip(v, 0, v_max)/v_max·kv_max)·v_max/kv_max`` (the DAC level);
   forward = the code, backward = the gradient of the clip (quantization off: the clip only);
2. the cell current ``gain·Σ_i C_i·(D·y)^i + offset``, y = V − v_mid, coefficients
   :func:`analog_models.gain_cell.effective_poly` (cubic + offset, or the linear surrogate),
   D = :func:`analog_models.leakage.decay_factor` of the token times
   :func:`sim.golden.default_times` (the schedule's token step), gain/offset the per-cell draws
   of :class:`analog_models.array.GainCellBank` at the cell (tile, column) a token is written to;
3. ``S[t, s] = Σ_d x[t, d]·I_K(s, d)``, 0 outside the window t − W < s ≤ t (never written or
   overwritten columns), ``A = clip(S/S_sat1, 0, 1)``;
4. per tile j (token s sits in tile (s mod W) // tile_cols):
   ``O_j[t, e] = Σ_{s∈j} A[t, s]·I_V(s, e)``; count = min(count_max, floor(|O|/S_sat2·count_max
   + 0.5)) with the sign of O (straight-through: backward = clip(O/S_sat2, −1, 1)·count_max);
   quantization off: the unrounded clip(O/S_sat2, −1, 1)·count_max, as the golden model;
5. output ``Σ_j count_j / count_max`` (the head's float output, before the output scaler).

The polynomial is expanded as ``Σ_i D^i·(x @ term_i)`` like the vectorised golden path; the
terms ``gain·C_i·y^i`` (+ offset in i = 0) are computed here in torch from the same coefficients.
IR drop is not modelled (``analog.ir_drop`` must be off).  A test checks counts against
:func:`sim.golden.run_token_by_token` in float64.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from analog_models.array import GainCellBank
from analog_models.gain_cell import effective_poly, term_powers
from analog_models.leakage import cell_age_s, decay_factor
from hdl.config import HeadConfig
from sim.golden import default_times

__all__ = ["HardwareHead", "ste", "quantise_query", "quantise_kv", "count_quantise"]


def ste(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Forward ``q``, backward the identity on ``x`` (exactly ``q`` when no gradient is taken)."""
    if not (torch.is_grad_enabled() and x.requires_grad):
        return q
    return x + (q - x).detach()


def quantise_query(q: torch.Tensor, cfg: HeadConfig) -> torch.Tensor:
    """Pulse fraction of the query: code/q_max (dac.query_code, dac.pulse_fraction)."""
    xc = q.clamp(0.0, 1.0)
    if not cfg.analog.quantization:
        return xc
    return ste(xc, torch.round(xc * cfg.array.q_max) / cfg.array.q_max)


def quantise_kv(v: torch.Tensor, cfg: HeadConfig) -> torch.Tensor:
    """Stored voltage of a K/V value: code·v_max/kv_max (dac.kv_code, dac.code_to_volts)."""
    vmax, kvm = cfg.analog.v_max_V, cfg.array.kv_max
    vc = v.clamp(0.0, vmax)
    if not cfg.analog.quantization:
        return vc
    return ste(vc, torch.round(vc / vmax * kvm) * vmax / kvm)


def count_quantise(o: torch.Tensor, cfg: HeadConfig) -> torch.Tensor:
    """Signed counter reading ±count of tile charges O (c2p.signed_c2p)."""
    cmax = cfg.array.count_max
    norm = (o / cfg.analog.s_sat2_uA).clamp(-1.0, 1.0) * cmax
    if not cfg.analog.quantization:
        return norm
    count = torch.clamp(torch.floor(o.abs() / cfg.analog.s_sat2_uA * cmax + 0.5), max=cmax)
    return ste(norm, torch.where(o < 0, -count, count))


class HardwareHead(torch.nn.Module):
    """H hardware heads of one layer (constants only; the scalers live in the model).

    ``cfgs``: one :class:`HeadConfig` per head (same geometry; they differ only in the
    variability seed), ``max_len``: longest sequence.  ``forward(q, k, v)`` takes the scaled
    projections (B, H, T, d) and returns the head outputs (B, H, T, d) = Σ_j counts / count_max;
    ``forward(..., tiles=True)`` returns the per-tile counter readings (B, H, T, n_tiles, d).
    """

    def __init__(self, cfgs: list[HeadConfig], max_len: int) -> None:
        super().__init__()
        cfg = cfgs[0]
        if any(c.analog.ir_drop for c in cfgs):
            raise ValueError("the torch hardware head does not model IR drop: set "
                             "analog.ir_drop=false")
        geo = {dataclasses.astuple(c.array) for c in cfgs}
        if len(geo) != 1 or any(dataclasses.replace(c.analog, seed=0)
                                != dataclasses.replace(cfg.analog, seed=0) for c in cfgs):
            raise ValueError("all heads of a layer need the same config up to the seed")
        self.cfg, self.max_len = cfg, max_len
        ar, an = cfg.array, cfg.analog
        self.W, self.cols, self.nt, self.d = ar.window, ar.tile_cols, ar.n_tiles, ar.head_dim
        poly = effective_poly(an)
        # Terms with a zero coefficient only matter as the per-cell offset under variability.
        self.powers = tuple(p for p in term_powers(an, with_constant=True)
                            if poly[p] != 0.0 or an.variability)
        self.coef = [poly[p] for p in self.powers]
        t = np.arange(max_len)
        w, r = default_times(max_len, cfg)
        valid = (t[None, :] <= t[:, None]) & (t[None, :] > t[:, None] - self.W)
        self.register_buffer("valid", torch.from_numpy(valid), persistent=False)
        dec = decay_factor(cell_age_s(r[:, None], w[None, :]), an.tau_retention_s) \
            if an.leakage else np.ones((max_len, max_len))
        self.register_buffer("decay", torch.from_numpy(dec), persistent=False)
        p = t % self.W
        tile, col = p // self.cols, p % self.cols
        if an.variability:
            gk, ok, gv, ov = [], [], [], []
            for c in cfgs:
                kb, vb = GainCellBank.for_head(c, "K"), GainCellBank.for_head(c, "V")
                # cell (tile, row d, col) of the token at position s → (s, d)
                gk.append(kb.gain[tile, :, col]), ok.append(kb.offset_uA[tile, :, col])
                gv.append(vb.gain[tile, :, col]), ov.append(vb.offset_uA[tile, :, col])
            for name, arr in (("gain_k", gk), ("off_k", ok), ("gain_v", gv), ("off_v", ov)):
                self.register_buffer(name, torch.from_numpy(np.stack(arr)), persistent=False)
        else:
            self.gain_k = self.off_k = self.gain_v = self.off_v = None

    def _terms(self, y: torch.Tensor, gain, off) -> list[torch.Tensor]:
        """Per-cell terms gain·C_i·y^i (+ offset for i = 0), y (B, H, T, d)."""
        T = y.shape[2]
        out, ypow, done = [], torch.ones_like(y), 0
        for c, p in zip(self.coef, self.powers):
            while done < p:
                ypow = ypow * y
                done += 1
            term = c * ypow
            if gain is not None:
                term = gain[:, :T].to(y.dtype) * term
                if p == 0:
                    term = term + off[:, :T].to(y.dtype)
            out.append(term)
        return out

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *,
                tiles: bool = False) -> torch.Tensor:
        cfg, an = self.cfg, self.cfg.analog
        B, H, T, d = q.shape
        if T > self.max_len:
            raise ValueError(f"sequence of {T} tokens is longer than max_len={self.max_len}")
        x = quantise_query(q, cfg)
        yk = quantise_kv(k, cfg) - an.v_mid_V
        yv = quantise_kv(v, cfg) - an.v_mid_V
        dec = self.decay[:T, :T].to(q.dtype)
        valid = self.valid[:T, :T]
        tk = self._terms(yk, self.gain_k, self.off_k)
        tv = self._terms(yv, self.gain_v, self.off_v)
        s = None
        for i in range(len(self.powers) - 1, -1, -1):      # Horner over D, highest power first
            m = x @ tk[i].transpose(-1, -2)
            s = m if s is None else s + m
            for _ in range(self.powers[i] - (self.powers[i - 1] if i else 0)):
                s = s * dec
        s = torch.where(valid, s, torch.zeros((), dtype=s.dtype))
        a = (s / an.s_sat1_uA).clamp(0.0, 1.0)
        # Chunks of tile_cols tokens; chunk c lands in tile c mod n_tiles.
        cols = self.cols
        Tp = -(-T // cols) * cols
        nch = Tp // cols
        a_p = torch.nn.functional.pad(a, (0, Tp - T)).reshape(B, H, T, nch, cols)
        d_p = torch.nn.functional.pad(dec, (0, Tp - T)).reshape(T, nch, cols)
        o = 0
        dp, done = None, 0
        for c, p, term in zip(self.coef, self.powers, tv):
            while done < p:
                dp = d_p if dp is None else dp * d_p
                done += 1
            ap = a_p if dp is None else a_p * dp
            tp = torch.nn.functional.pad(term, (0, 0, 0, Tp - T)).reshape(B, H, nch, cols, d)
            o = o + torch.einsum("bhtnc,bhncd->bhtnd", ap, tp)
        ntp = -(-nch // self.nt) * self.nt
        o = torch.nn.functional.pad(o, (0, 0, 0, ntp - nch))
        o = o.reshape(B, H, T, ntp // self.nt, self.nt, d).sum(dim=3)   # (B, H, T, nt, d)
        counts = count_quantise(o, cfg)
        if tiles:
            return counts
        return counts.sum(dim=3) / cfg.array.count_max
