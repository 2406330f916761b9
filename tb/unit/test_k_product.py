"""The vectorised golden path's K product (sim/golden/k_product): from the codes (CodeK) and
from the per-cell numbers (FloatK), both against the K product written out directly from the
spec's equations in exact arithmetic; the code sums exact at their bound; the compiled combine
equal, bit for bit, to its terms added in order; CodeK used where it applies (the paper's
defaults) and FloatK with the reason elsewhere; whole runs of either way with the same counts;
bad buffers refused with a clear message (without a compiler: test_block_steps.py)."""

from fractions import Fraction

import numpy as np
import pytest

from analog_models.array import GainCellBank
from hdl.config import HeadConfig
from sim.golden import k_product, run_token_by_token, run_vectorized, vectorized
from sim.golden.io import hardware_codes, hardware_inputs
from sim.stimuli import random_tokens

CFG = HeadConfig()
EPS = np.finfo(float).eps


def _same_bits(got, want):
    np.testing.assert_array_equal(np.asarray(got).view(np.uint64),
                                  np.asarray(want).view(np.uint64))


def test_the_k_kernel_builds_here():
    """CI installs a C compiler (flows/run.sh): the combine must load, not fall back."""
    assert k_product.kernel() is not None, k_product.unavailable_reason()


def _words(fields, pack):
    """The packed words (bq, L·n_words) float64 of integer sums ``fields`` (bq, L, n), built
    in int64 (exact): word w = Σ_{i in w} fields_i·shift_i."""
    word, shift, nw = pack
    bq, L, n = fields.shape
    out = np.zeros((bq, L, nw), np.int64)
    for i in range(n):
        out[:, :, word[i]] += fields[:, :, i] * int(shift[i])
    assert np.abs(out).max() < k_product.EXACT
    return out.reshape(bq, L * nw).astype(np.float64)


def _combine_spec(fields, ap, kb, e):
    """The combine's contract: the terms added in order, then e (numpy, elementwise)."""
    m = fields.astype(np.float64)
    out = ap[0][:, None] * (kb[None, :, 0] * m[:, :, 0])
    for i in range(1, ap.shape[0]):
        out = out + ap[i][:, None] * (kb[None, :, i] * m[:, :, i])
    return out if e is None else out + e[:, None]


# bounds of the integer sums: 1 to 4 in one word (the vectorised rows), the paper's head, 5 in
# two words and two words of one sum each (the generic row)
BOUNDS = {"1": [1000], "2": [1000] * 2, "3": [1000] * 3, "4": [1000] * 4,
          "paper": [6720, 47040, 329280], "5 in 2 words": [1000] * 5,
          "2 words": [2 ** 52, 2 ** 52 + 5], "kv_bits=8": [244800, 62424000, 15918120000]}


@pytest.mark.parametrize("name", BOUNDS)
@pytest.mark.parametrize("L,pad,with_e", [(64, 0, True), (13, 2, False), (1152, 0, False),
                                          (37, 1, True)])
def test_combine_unpacks_and_adds_in_order_bit_for_bit(name, L, pad, with_e):
    """Random sums within their bounds, each bound itself (±) among them; L not a multiple of
    a vector; ``pad``: rows longer than the words (a strided view, as the product's buffer)."""
    bounds = BOUNDS[name]
    pack = k_product.packing(bounds)
    n = len(bounds)
    rng = np.random.default_rng(L + n)
    bq = 7
    fields = np.stack([rng.integers(-b, b + 1, (bq, L)) for b in bounds], axis=-1)
    fields[0, 0], fields[1, 0] = bounds, [-b for b in bounds]
    m = np.zeros((bq, L * pack[2] + pad))
    m[:, :L * pack[2]] = _words(fields, pack)
    ap = rng.uniform(0.5, 2.0, (n, bq))
    kb = rng.uniform(-3.0, 3.0, (L, n))
    e = rng.uniform(-1.0, 1.0, bq) if with_e else None
    out = np.full((bq, L), np.nan)
    k_product.combine(m, ap, kb, e, out, pack)
    _same_bits(out, _combine_spec(fields, ap, kb, e))
    for i in range(n):                            # each sum alone: recovered exactly
        one = np.zeros((n, bq))
        one[i] = 1.0
        k_product.combine(m, one, np.ones((L, n)), None, out, pack)
        np.testing.assert_array_equal(out, fields[:, :, i].astype(np.float64))


def test_packing_places_the_sums_apart_and_below_2_to_53():
    """The paper's head: one word, M_1 + 2^14·M_2 + 2^31·M_3; a sum too large alone: None."""
    word, shift, nw = k_product.packing([6720, 47040, 329280])
    assert nw == 1 and list(word) == [0, 0, 0] and list(shift) == [1.0, 2.0 ** 14, 2.0 ** 31]
    word, shift, nw = k_product.packing([10, 2 ** 40, 2 ** 10])
    assert nw == 2 and list(word) == [0, 0, 1] and list(shift) == [1.0, 2.0 ** 5, 1.0]
    assert k_product.packing([2 ** 53 - 1])[2] == 1
    assert k_product.packing([5, 2 ** 53]) is None


def test_combine_refuses_bad_buffers_with_their_name():
    pack = k_product.packing([100] * 3)
    m, ap, kb = np.zeros((4, 10)), np.ones((3, 4)), np.ones((10, 3))
    with pytest.raises(ValueError, match=r"m must be float64 rows of at least 10 contiguous "
                                         r"values for 4 queries, not float32 \(4, 10\)"):
        k_product.combine(m.astype(np.float32), ap, kb, None, np.empty((4, 10)), pack)
    with pytest.raises(ValueError, match=r"m must be float64 rows of at least 11 contiguous"):
        k_product.combine(m, ap, np.ones((11, 3)), None, np.empty((4, 11)), pack)
    with pytest.raises(ValueError, match=r"kb must be a C-contiguous float64 array of shape "
                                         r"\(10, 3\), not float64 \(3, 10\)"):
        k_product.combine(m, ap, kb.T, None, np.empty((4, 10)), pack)
    with pytest.raises(ValueError, match=r"e must be a C-contiguous float64 array of shape "
                                         r"\(4,\), not float64 \(5,\)"):
        k_product.combine(m, ap, kb, np.ones(5), np.empty((4, 10)), pack)
    with pytest.raises(ValueError, match=r"the packing must place 2 sums, not 3"):
        k_product.combine(m, ap[:2], kb[:, :2], None, np.empty((4, 10)), pack)
    with pytest.raises(ValueError, match=r"the combine takes 1 to 64 sums in at most as many "
                                         r"words, not 0 in 0"):
        k_product.combine(m, ap[:0], kb[:, :0], None, np.empty((4, 10)),
                          (np.zeros(0, np.int32), np.zeros(0), 0))


def test_combine_without_the_kernel_says_why(monkeypatch):
    monkeypatch.setattr(k_product, "_state", {"kernel": None, "why": "no C compiler (…)"})
    with pytest.raises(RuntimeError, match=r"the K-product kernel is unavailable \(no C "
                                           r"compiler"):
        k_product.combine(np.zeros((1, 1)), np.ones((3, 1)), np.ones((1, 3)), None,
                          np.empty((1, 1)), k_product.packing([1, 1, 1]))
    cfg = HeadConfig()
    assert k_product.code_form_reason(cfg, GainCellBank.for_head(cfg, "K")) == (
        "the combine kernel is unavailable (no C compiler (…))")


def _exact_s(x, kv, cfg, ap, bp, xk0):
    """S[t, s] = Σ_i ap[i, t]·bp[i, s]·Σ_d x[t, d]·term_i(kv[s, d]) + xk0[t], in exact
    arithmetic from the per-cell numbers the K bank stores (the token path's), and Σ|terms|."""
    kb = GainCellBank.for_head(cfg, "K")
    T, S = x.shape[0], kv.shape[0]
    terms = kb.line_terms(kv, 0, 0, read="columns")                 # (n, keys, d)
    out, mag = np.empty((T, S)), np.empty((T, S))
    for t in range(T):
        for s in range(S):
            acc, a = Fraction(0), 0.0
            for i in range(len(kb.powers)):
                dot = sum(Fraction(float(xv)) * Fraction(float(tv))
                          for xv, tv in zip(x[t], terms[i, s]))
                f = Fraction(float(ap[i, t])) * Fraction(float(bp[i, s]))
                acc += f * dot
                a += abs(float(f)) * float(np.abs(x[t] * terms[i, s]).sum())
            if xk0 is not None:
                acc += Fraction(float(xk0[t]))
                a += abs(xk0[t])
            out[t, s], mag[t, s] = float(acc), a
    return out, mag


def _block(cfg, T=6, S=40, seed=0, leak=True):
    """Both ways' S for queries 0 … T − 1 against keys 0 … S − 1 through their public steps."""
    rng = np.random.default_rng(seed)
    q, k, v = rng.uniform(0, 1, (S, 64)), rng.uniform(0, 0.9, (S, 64)), np.zeros((S, 64))
    codes = hardware_codes(q, k, v, cfg)
    x, kv, _ = hardware_inputs(q, k, v, cfg, codes=codes)
    kb = GainCellBank.for_head(cfg, "K")
    n = len(kb.powers)
    xk0 = kb.const_uA * x.sum(1) if kb.const_uA else None
    ap = rng.uniform(0.97, 1.0, (n, T)) ** np.arange(1, n + 1)[:, None] if leak else np.ones(
        (n, T))
    bp = rng.uniform(1.0, 1.03, (n, S)) ** np.arange(1, n + 1)[:, None] if leak else np.ones(
        (n, S))
    got = {}
    idx = np.arange(S)
    for way in (k_product.CodeK(cfg, kb, codes[0], codes[1], xk0),
                k_product.FloatK(kb, x, kv, xk0)):
        store = way.alloc(0, S, S)
        way.fill(store, 0, S, slice(0, S), idx // 64, idx % 64, bp)
        qpart = way.queries(0, T, ap)
        buf = np.empty(way.buffer_size(T, S))
        got[type(way).__name__] = way.product(qpart, way.view(store, 0, S), ap,
                                              np.empty((T, S)), buf)
    return got, _exact_s(x[:T], kv, cfg, ap, bp, xk0)


@pytest.mark.parametrize("overrides,leak", [([], True), ([], False),
                                             (["analog.nonlinearity=false"], True),
                                             (["analog.offset=false"], True)])
def test_both_ways_are_the_exact_k_product_to_rounding(overrides, leak):
    """The code sums are exact, so CodeK's S is off the exact sum of the per-cell numbers
    only by the few roundings of its combine and the ulps of the levels (h·c against V −
    v_mid); FloatK's by its dot products' rounding."""
    cfg = HeadConfig().with_overrides(overrides)
    assert k_product.code_form_reason(cfg, GainCellBank.for_head(cfg, "K")) is None
    got, (want, mag) = _block(cfg, leak=leak)
    assert np.all(np.abs(got["CodeK"] - want) <= 16 * EPS * mag)
    assert np.all(np.abs(got["FloatK"] - want) <= (2 * 64 * 3 + 4) * EPS * mag)
    assert np.abs(want).max() > 1.0                                    # not a trivial case


@pytest.mark.parametrize("overrides", [[], ["array.kv_bits=5"]])
def test_the_code_sums_are_exact_at_their_bound(overrides):
    """Every query code at q_max and every key at the top or the bottom level: the largest
    sums the head can make (the paper's: q_max·kv_max³·d = 329,280) come out of the float64
    product of the packed words exactly — each word equal, as an integer, to its sums at
    their shifts (int64 arithmetic as the reference).  kv_bits = 5 needs two words."""
    cfg = HeadConfig().with_overrides(overrides)
    ar = cfg.array
    kb = GainCellBank.for_head(cfg, "K")
    rng = np.random.default_rng(3)
    T, S = 8, 100
    qcode = np.full((T, ar.head_dim), ar.q_max)
    qcode[1] = rng.integers(0, ar.q_max + 1, ar.head_dim)
    kcode = rng.choice([0, ar.kv_max], (S, ar.head_dim))
    kcode[0], kcode[1] = ar.kv_max, 0
    way = k_product.CodeK(cfg, kb, qcode, kcode, None)
    word, shift, nw = way.pack
    assert nw == (1 if not overrides else 2)
    store = way.alloc(0, S, S)
    way.fill(store, 0, S, slice(0, S), np.zeros(S, int), np.arange(S) % 64,
             np.ones((len(kb.powers), S)))
    kc, _ = way.view(store, 0, S)
    got = (way.queries(0, T, None)[0] @ kc).reshape(T, S, nw)
    c = 2 * kcode - ar.kv_max
    sums = [qcode @ (c ** p).T for p in kb.powers]                          # int64 (T, S)
    assert np.abs(sums[-1]).max() == ar.q_max * ar.kv_max ** 3 * ar.head_dim
    for w in range(nw):
        want = sum(sums[i] * int(shift[i]) for i in range(len(sums)) if word[i] == w)
        np.testing.assert_array_equal(got[:, :, w].astype(np.int64), want)


@pytest.mark.parametrize("overrides,why", [
    (["analog.quantization=false"], "quantization is off (no codes)"),
    (["analog.variability=true"], "variability is on (the cells' terms differ)"),
    (["analog.ir_drop=true"], "IR drop weighs the rows"),
    (["analog.v_mid_V=0.4"], "the DAC levels are not symmetric about v_mid"),
])
def test_the_code_form_applies_only_where_it_is_exact(overrides, why):
    """Elsewhere the run takes FloatK, and the counts still agree with the token path."""
    cfg = HeadConfig().with_overrides(["array.head_dim=16", "array.tile_cols=8",
                                       "array.n_tiles=4", *overrides])
    assert k_product.code_form_reason(cfg, GainCellBank.for_head(cfg, "K")) == why
    q, k, v = random_tokens(cfg, 90, 4)
    got, want = run_vectorized(q, k, v, cfg).counts, run_token_by_token(q, k, v, cfg).counts
    if cfg.analog.quantization:
        np.testing.assert_array_equal(got, want)
    else:                                     # counts are floats: the sums to rounding
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_a_sum_too_large_for_float64_is_said(monkeypatch):
    """No head the configuration allows comes near 2^53 (q_max·kv_max³·d ≤ 2^32·d): the
    reason pinned through the bounds."""
    monkeypatch.setattr(k_product, "_bounds", lambda cfg, kb: [2 ** 53])
    cfg = HeadConfig()
    assert k_product.code_form_reason(cfg, GainCellBank.for_head(cfg, "K")) == (
        "a code sum could exceed float64's exact integers")


def test_the_defaults_take_the_code_sums(monkeypatch):
    """The paper's head runs CodeK: its combine is called once per block of the plan."""
    calls = []
    real = k_product.combine

    def counting(*args):
        calls.append(args[4].shape)               # out (bq, keys)
        return real(*args)

    monkeypatch.setattr(k_product, "combine", counting)
    cfg = HeadConfig()
    q, k, v = random_tokens(cfg, 300, 2)
    run_vectorized(q, k, v, cfg, block=128)
    assert [c[0] for c in calls] == [128, 128, 44]


SMALL = ["array.head_dim=16", "array.tile_cols=8", "array.n_tiles=4"]


@pytest.mark.parametrize("T,block,overrides", [(4500, 64, SMALL), (700, 128, []),
                                                (300, 64, SMALL + ["array.kv_bits=5"])])
def test_a_whole_run_either_way_has_the_same_counts(monkeypatch, T, block, overrides):
    """CodeK against FloatK (forced) on the same run: the same counts and sums; scores to
    rounding.  4,500 tokens of a small head slide the key cache past its first fill (both
    ways' join), 700 of the default head cross blocks and tiles, kv_bits = 5 packs its sums
    in two words (the combine's generic row)."""
    cfg = HeadConfig().with_overrides(overrides)
    q, k, v = random_tokens(cfg, T, 9)
    codes = run_vectorized(q, k, v, cfg, block=block)
    monkeypatch.setattr(k_product, "code_form_reason", lambda cfg, kb: "forced")
    floats = run_vectorized(q, k, v, cfg, block=block)
    np.testing.assert_array_equal(codes.counts, floats.counts)
    np.testing.assert_array_equal(codes.out, floats.out)
    np.testing.assert_allclose(codes.scores, floats.scores, rtol=1e-13, atol=1e-12)
    assert np.abs(codes.out).max() > 3


def test_the_code_sums_across_reference_times(monkeypatch):
    """Reads spanning many leakage spans (τ = 1 µs, 100 ns a token): the plan changes its
    reference time several times and the key store restarts at each; CodeK's counts are the
    token path's and FloatK's."""
    cfg = HeadConfig().with_overrides(SMALL + ["analog.tau_retention_s=1e-6"])
    T = 2000
    q, k, v = random_tokens(cfg, T, 5)
    w = np.arange(T) * 1e-7
    head = vectorized._Head(q, k, v, cfg, w, w, 40)
    assert isinstance(head.ks, k_product.CodeK)
    assert len({ref for _, _, ref in head.plan()}) >= 4                 # the path under test
    codes = run_vectorized(q, k, v, cfg, write_times_s=w, read_times_s=w, block=40)
    assert np.abs(codes.out).max() > 0
    np.testing.assert_array_equal(codes.counts, run_token_by_token(
        q, k, v, cfg, write_times_s=w, read_times_s=w).counts)
    monkeypatch.setattr(k_product, "code_form_reason", lambda cfg, kb: "forced")
    floats = run_vectorized(q, k, v, cfg, write_times_s=w, read_times_s=w, block=40)
    np.testing.assert_array_equal(codes.counts, floats.counts)
    np.testing.assert_allclose(codes.scores, floats.scores, rtol=1e-13, atol=1e-12)
