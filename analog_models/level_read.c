/* Gain-cell reads of cells that hold one of a few voltage levels (analog_models/level_read.py).
 *
 * A cell's current at leakage factor D is  Σ_k D^p_k · T[k][level]  (T = the per-level terms of
 * analog_models.gain_cell.poly_terms), so per column (one leakage factor per column) the
 * current of each level is a small table h[level] = Σ_k D_k·T[k][level], and a read is a
 * table lookup per cell instead of a product with a per-cell matrix:
 *
 *   read_columns (K):  S[c] = Σ_r x[r] · h_c[code[c][r]]
 *   read_rows    (V):  O[r] = Σ_c a[c] · h_c[code[c][r]]      (columns with a[c] = 0 skipped)
 *
 * Codes are stored column by column, rows padded to a multiple of 8 (padded rows: x = 0).
 * Two implementations, one order of float operations, so they give the same bits:
 *   - AVX-512F: h in two registers (levels 0–7, 8–15), one permute per 8 cells;
 *   - portable C with fma(): the same operations one lane at a time.
 * Order (both):  h = c0;  h = fma(D_k, T_k, h) for k = 0, 1, … (c0: the current every cell
 *   shares, GainCellBank.const_uA, so a read needs no separate constant term).
 *   K: lane j (rows r ≡ j mod 8): acc_j = fma(x_r, h[code], acc_j), from 0;
 *      S = ((acc_0 + acc_4) + (acc_2 + acc_6)) + ((acc_1 + acc_5) + (acc_3 + acc_7))
 *      (halving the register: 8 → 4 → 2 → 1 lanes).
 *   V: e = a·h;  O[r] = O[r] + e[code], columns in order, from 0.
 * Built with -ffp-contract=off: no other multiply-add is fused.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LEVELS 16   /* table entries per power: codes are 0..15 */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_BUILD 1
#endif

int gca_levels(void) { return LEVELS; }

int gca_has_avx512(void)
{
#ifdef HAVE_AVX512_BUILD
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
    return 0;
#endif
}

/* h[l] = c0 + Σ_k D_k·T[k][l] for column tc (decay NULL: every D_k = 1) */
static void level_currents(int npow, double c0, const double *table, const double *decay,
                           size_t n_tc, size_t tc, double *h)
{
    for (int l = 0; l < LEVELS; l++)
        h[l] = c0;
    for (int k = 0; k < npow; k++) {
        double dk = decay ? decay[(size_t)k * n_tc + tc] : 1.0;
        for (int l = 0; l < LEVELS; l++)
            h[l] = fma(dk, table[(size_t)k * LEVELS + l], h[l]);
    }
}

static double lane_sum(const double *acc)
{
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

static void read_columns_c(size_t n_tc, int rows, int npow, double c0, const uint8_t *code,
                           const double *table, const double *x, const double *decay,
                           double *out)
{
    double h[LEVELS], acc[8];
    for (size_t tc = 0; tc < n_tc; tc++) {
        level_currents(npow, c0, table, decay, n_tc, tc, h);
        const uint8_t *cd = code + tc * (size_t)rows;
        for (int j = 0; j < 8; j++)
            acc[j] = 0.0;
        for (int r = 0; r < rows; r += 8)
            for (int j = 0; j < 8; j++)
                acc[j] = fma(x[r + j], h[cd[r + j]], acc[j]);
        out[tc] = lane_sum(acc);
    }
}

static void read_rows_c(int nt, int cols, int rows, int npow, double c0, const uint8_t *code,
                        const double *table, const double *a, const double *decay, double *out)
{
    double h[LEVELS];
    size_t n_tc = (size_t)nt * cols;
    for (int t = 0; t < nt; t++) {
        double *o = out + (size_t)t * rows;
        for (int r = 0; r < rows; r++)
            o[r] = 0.0;
        for (int c = 0; c < cols; c++) {
            size_t tc = (size_t)t * cols + c;
            double ac = a[tc];
            if (ac == 0.0)
                continue;
            level_currents(npow, c0, table, decay, n_tc, tc, h);
            for (int l = 0; l < LEVELS; l++)
                h[l] = ac * h[l];
            const uint8_t *cd = code + tc * (size_t)rows;
            for (int r = 0; r < rows; r++)
                o[r] = o[r] + h[cd[r]];
        }
    }
}

#ifdef HAVE_AVX512_BUILD
__attribute__((target("avx512f")))
static inline void level_currents_512(int npow, double c0, const double *table,
                                      const double *decay, size_t n_tc, size_t tc, __m512d *lo,
                                      __m512d *hi)
{
    *lo = *hi = _mm512_set1_pd(c0);
    for (int k = 0; k < npow; k++) {
        __m512d d = _mm512_set1_pd(decay ? decay[(size_t)k * n_tc + tc] : 1.0);
        *lo = _mm512_fmadd_pd(d, _mm512_loadu_pd(table + (size_t)k * LEVELS), *lo);
        *hi = _mm512_fmadd_pd(d, _mm512_loadu_pd(table + (size_t)k * LEVELS + 8), *hi);
    }
}

__attribute__((target("avx512f")))
static inline __m512d lookup_512(const uint8_t *cd, __m512d lo, __m512d hi)
{
    __m512i idx = _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i *)cd));
    return _mm512_permutex2var_pd(lo, idx, hi);
}

__attribute__((target("avx512f")))
static inline double lane_sum_512(__m512d acc)
{
    __m256d b = _mm256_add_pd(_mm512_castpd512_pd256(acc), _mm512_extractf64x4_pd(acc, 1));
    __m128d c = _mm_add_pd(_mm256_castpd256_pd128(b), _mm256_extractf128_pd(b, 1));
    return _mm_cvtsd_f64(_mm_add_sd(c, _mm_unpackhi_pd(c, c)));
}

#define GROUP 4     /* columns read together: independent chains for the out-of-order core */

__attribute__((target("avx512f")))
static void read_columns_512(size_t n_tc, int rows, int npow, double c0, const uint8_t *code,
                             const double *table, const double *x, const double *decay,
                             double *out)
{
    size_t tc = 0;
    for (; tc + GROUP <= n_tc; tc += GROUP) {
        __m512d lo[GROUP], hi[GROUP], acc[GROUP];
        const uint8_t *cd = code + tc * (size_t)rows;
#pragma GCC unroll 4
        for (int g = 0; g < GROUP; g++) {
            level_currents_512(npow, c0, table, decay, n_tc, tc + g, &lo[g], &hi[g]);
            acc[g] = _mm512_setzero_pd();
        }
        for (int r = 0; r < rows; r += 8) {
            __m512d xv = _mm512_loadu_pd(x + r);
#pragma GCC unroll 4
            for (int g = 0; g < GROUP; g++)
                acc[g] = _mm512_fmadd_pd(xv, lookup_512(cd + (size_t)g * rows + r, lo[g], hi[g]),
                                         acc[g]);
        }
#pragma GCC unroll 4
        for (int g = 0; g < GROUP; g++)
            out[tc + g] = lane_sum_512(acc[g]);
    }
    for (; tc < n_tc; tc++) {
        __m512d lo, hi;
        level_currents_512(npow, c0, table, decay, n_tc, tc, &lo, &hi);
        const uint8_t *cd = code + tc * (size_t)rows;
        __m512d acc = _mm512_setzero_pd();
        for (int r = 0; r < rows; r += 8)
            acc = _mm512_fmadd_pd(_mm512_loadu_pd(x + r), lookup_512(cd + r, lo, hi), acc);
        out[tc] = lane_sum_512(acc);
    }
}

#define BLOCK 8     /* registers of 8 rows kept in registers across a tile's columns */

__attribute__((target("avx512f")))
static void read_rows_512(int nt, int cols, int rows, int npow, double c0, const uint8_t *code,
                          const double *table, const double *a, const double *decay,
                          double *out)
{
    size_t n_tc = (size_t)nt * cols;
    for (int t = 0; t < nt; t++) {
        for (int r0 = 0; r0 < rows; r0 += 8 * BLOCK) {
            int nb = (rows - r0) / 8 < BLOCK ? (rows - r0) / 8 : BLOCK;
            __m512d o[BLOCK];
#pragma GCC unroll 8
            for (int i = 0; i < BLOCK; i++)
                o[i] = _mm512_setzero_pd();
            for (int c = 0; c < cols; c++) {
                size_t tc = (size_t)t * cols + c;
                double ac = a[tc];
                if (ac == 0.0)
                    continue;
                __m512d lo, hi, av = _mm512_set1_pd(ac);
                level_currents_512(npow, c0, table, decay, n_tc, tc, &lo, &hi);
                lo = _mm512_mul_pd(av, lo);
                hi = _mm512_mul_pd(av, hi);
                const uint8_t *cd = code + tc * (size_t)rows + r0;
                if (nb == BLOCK) {
#pragma GCC unroll 8
                    for (int i = 0; i < BLOCK; i++)
                        o[i] = _mm512_add_pd(o[i], lookup_512(cd + 8 * i, lo, hi));
                } else {
                    for (int i = 0; i < nb; i++)
                        o[i] = _mm512_add_pd(o[i], lookup_512(cd + 8 * i, lo, hi));
                }
            }
            for (int i = 0; i < nb; i++)
                _mm512_storeu_pd(out + (size_t)t * rows + r0 + 8 * i, o[i]);
        }
    }
}

/* count[i] for whole vectors of 8 (the signed C2P of signed_c2p_rows, the same operations;
 * min(cmax, c) returns c when c is NaN, as the scalar code); returns how many were done */
__attribute__((target("avx512f")))
static size_t signed_counts_512(size_t n_o, const double *O, double s_sat2, double cmax,
                                int64_t *count)
{
    const __m512d s2 = _mm512_set1_pd(s_sat2), cm = _mm512_set1_pd(cmax);
    const __m512d half = _mm512_set1_pd(0.5);
    double c8[8];
    size_t i = 0;
    for (; i + 8 <= n_o; i += 8) {
        __m512d c = _mm512_abs_pd(_mm512_loadu_pd(O + i));
        c = _mm512_add_pd(_mm512_mul_pd(_mm512_div_pd(c, s2), cm), half);
        c = _mm512_roundscale_pd(c, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        _mm512_storeu_pd(c8, _mm512_min_pd(cm, c));
        for (int j = 0; j < 8; j++)
            count[i + j] = (int64_t)c8[j];
    }
    return i;
}
#endif

/* S (n_tc,) of a K-style read: rows is a multiple of 8, x (rows,), code (n_tc, rows),
 * table (npow, LEVELS), decay (npow, n_tc) or NULL.  simd: use AVX-512 (if built). */
void gca_read_columns(int simd, size_t n_tc, int rows, int npow, double c0, const uint8_t *code,
                      const double *table, const double *x, const double *decay, double *out)
{
#ifdef HAVE_AVX512_BUILD
    if (simd) {
        read_columns_512(n_tc, rows, npow, c0, code, table, x, decay, out);
        return;
    }
#endif
    (void)simd;
    read_columns_c(n_tc, rows, npow, c0, code, table, x, decay, out);
}

/* O (nt, rows) of a V-style read: a (nt·cols,) one pulse per column, code (nt·cols, rows). */
void gca_read_rows(int simd, int nt, int cols, int rows, int npow, double c0, const uint8_t *code,
                   const double *table, const double *a, const double *decay, double *out)
{
#ifdef HAVE_AVX512_BUILD
    if (simd) {
        read_rows_512(nt, cols, rows, npow, c0, code, table, a, decay, out);
        return;
    }
#endif
    (void)simd;
    read_rows_c(nt, cols, rows, npow, c0, code, table, a, decay, out);
}

/* dst[r] = the index of volts[r] among levels[0..nlev) (exact ==, so NaN matches nothing) for
 * r = 0..rows-1; returns -1 when every row matched, else the first row that did not (dst is
 * then written up to that row only). */
int gca_level_index(int rows, const double *volts, int nlev, const double *levels, uint8_t *dst)
{
    for (int r = 0; r < rows; r++) {
        int l = 0;
        while (l < nlev && !(levels[l] == volts[r]))
            l++;
        if (l == nlev)
            return r;
        dst[r] = (uint8_t)l;
    }
    return -1;
}

/* The element-wise steps of a token's read-out, each loop written so the compiler vectorises it
 * (every operation is exactly rounded — ×, ÷, floor, compare — so any vector width gives the
 * same bits); built once for AVX-512 and once for the baseline, picked at load time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ELEMENTWISE __attribute__((target_clones("avx512f", "default")))
#else
#define ELEMENTWISE
#endif

/* planes (npow, n_tc) = D^p_k (D = d, (n_tc,)) by repeated multiplication, as
 * analog_models.leakage.decay_powers: D^0 = 1, D^1 = D, D^(j+1) = D^j · D. */
ELEMENTWISE
static void decay_planes(int npow, const int *powers, const double *d, size_t n_tc,
                         double *planes)
{
    const double *prev = NULL;     /* the plane of D^done (NULL: done = 0) */
    int done = 0;
    for (int k = 0; k < npow; k++) {
        double *pl = planes + (size_t)k * n_tc;
        if (powers[k] == 0) {
            for (size_t tc = 0; tc < n_tc; tc++)
                pl[tc] = 1.0;
            continue;
        }
        if (done == 0) {
            for (size_t tc = 0; tc < n_tc; tc++)
                pl[tc] = d[tc];
            done = 1;
        } else {
            for (size_t tc = 0; tc < n_tc; tc++)
                pl[tc] = prev[tc] * d[tc];
            done++;
        }
        for (; done < powers[k]; done++)
            for (size_t tc = 0; tc < n_tc; tc++)
                pl[tc] = pl[tc] * d[tc];
        prev = pl;
    }
}

/* S masked; A = min(max(S/s_sat1, 0), 1) (NaN stays, as np.maximum/np.minimum); aw = A·f_col */
ELEMENTWISE
static void relu_c2p_rows(int nt, int cols, const uint8_t *mask, const double *f_col,
                          double s_sat1, double *S, double *A, double *aw)
{
    for (int t = 0; t < nt; t++) {
        size_t o = (size_t)t * cols;
        for (int c = 0; c < cols; c++) {
            double s = S[o + c];
            s = mask[o + c] ? s : 0.0;
            double a = s / s_sat1;
            a = (a >= 0.0 || a != a) ? a : 0.0;
            a = (a <= 1.0 || a != a) ? a : 1.0;
            S[o + c] = s;
            A[o + c] = a;
            aw[o + c] = a * f_col[c];
        }
    }
}

/* The signed C2P of many tokens' tile outputs and the counters' sums over the tiles (the golden
 * model's vectorised path), the operations of analog_models.c2p.signed_c2p_normalized,
 * signed_value_of_normalized and numpy's integer sum, in one pass instead of numpy's six:
 *   tile_out = min(max(O / s_sat2, -1), 1)     (NaN stays NaN, as np.clip)
 *   value = (int64) (tile_out·cmax + copysign(0.5, tile_out))     (truncation toward zero;
 *           |value| <= cmax < 2^31, so AVX-512F converts through int32; NaN gives INT64_MIN,
 *           numpy's cast on x86-64)
 *   out[t][r] = Σ_tile value[t][tile][r]
 * O, tile_out, value: (n_tok, nt, rows); out: (n_tok, rows).  With AVX-512, tile_out and value
 * on 64-byte boundaries (the golden sink's outputs, analog_models.native.aligned) and rows a
 * multiple of 8 are written with streaming stores: they are the run's outputs, not read back,
 * and no line is then read from memory before it is overwritten. */
static inline int64_t tile_value(double x, double cmax)
{
    double y = x * cmax + copysign(0.5, x);
    return y == y ? (int64_t)y : INT64_MIN;
}

static inline double tile_clip(double o, double s_sat2)
{
    double x = o / s_sat2;
    x = x < -1.0 ? -1.0 : x;                  /* NaN compares false: stays NaN */
    return x > 1.0 ? 1.0 : x;
}

#ifdef HAVE_AVX512_BUILD
/* the rows' whole vectors of 8; returns how many rows it did (the scalar loop does the rest) */
__attribute__((target("avx512f")))
static int tile_results_512(size_t n_tok, int nt, int rows, const double *restrict O,
                            double s_sat2, double cmax, double *restrict tile_out,
                            int64_t *restrict value, int64_t *restrict out)
{
    const __m512d s2 = _mm512_set1_pd(s_sat2), cm = _mm512_set1_pd(cmax);
    const __m512d one = _mm512_set1_pd(1.0), m_one = _mm512_set1_pd(-1.0);
    /* INT64_MIN: the sign bit (for copysign) and NaN's value */
    const __m512i int_min = _mm512_set1_epi64(INT64_MIN);
    const __m512i half = _mm512_castpd_si512(_mm512_set1_pd(0.5));
    int whole = rows / 8 * 8;
    /* every vector 64-byte aligned: streaming stores (the outputs are written once, not read
       back here: no read of each line before it is written) */
    int stream = rows % 8 == 0 && ((uintptr_t)tile_out | (uintptr_t)value) % 64 == 0;
    for (size_t t = 0; t < n_tok; t++) {
        for (int r = 0; r < whole; r += 8) {
            __m512i acc = _mm512_setzero_si512();
            for (int j = 0; j < nt; j++) {
                size_t i = (t * (size_t)nt + (size_t)j) * (size_t)rows + (size_t)r;
                __m512d x = _mm512_div_pd(_mm512_loadu_pd(O + i), s2);
                x = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x, m_one, _CMP_LT_OQ), x, m_one);
                x = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x, one, _CMP_GT_OQ), x, one);
                if (stream)
                    _mm512_stream_pd(tile_out + i, x);
                else
                    _mm512_storeu_pd(tile_out + i, x);
                __m512d h = _mm512_castsi512_pd(_mm512_or_si512(
                    _mm512_and_si512(_mm512_castpd_si512(x), int_min), half));   /* copysign */
                __m512d y = _mm512_add_pd(_mm512_mul_pd(x, cm), h);
                __m512i v = _mm512_cvtepi32_epi64(_mm512_cvttpd_epi32(y));
                v = _mm512_mask_blend_epi64(_mm512_cmp_pd_mask(y, y, _CMP_UNORD_Q), v, int_min);
                if (stream)
                    _mm512_stream_si512((void *)(value + i), v);
                else
                    _mm512_storeu_si512(value + i, v);
                acc = _mm512_add_epi64(acc, v);
            }
            _mm512_storeu_si512(out + t * (size_t)rows + (size_t)r, acc);
        }
    }
    if (stream)
        _mm_sfence();
    return whole;
}
#endif

void gca_tile_results(int simd, size_t n_tok, int nt, int rows, const double *restrict O,
                      double s_sat2, double cmax, double *restrict tile_out,
                      int64_t *restrict value, int64_t *restrict out)
{
    int done = 0;
#ifdef HAVE_AVX512_BUILD
    if (simd)
        done = tile_results_512(n_tok, nt, rows, O, s_sat2, cmax, tile_out, value, out);
#endif
    (void)simd;
    for (size_t t = 0; t < n_tok; t++) {
        int64_t *o = out + t * (size_t)rows;
        for (int r = done; r < rows; r++)
            o[r] = 0;
        for (int j = 0; j < nt; j++) {
            size_t base = (t * (size_t)nt + (size_t)j) * (size_t)rows;
            for (int r = done; r < rows; r++) {
                double x = tile_clip(O[base + r], s_sat2);
                tile_out[base + r] = x;
                value[base + r] = tile_value(x, cmax);
                o[r] += value[base + r];
            }
        }
    }
}

/* sign = O < 0;  count = min(floor(|O| / s_sat2 · cmax + 0.5), cmax) */
static void signed_c2p_rows(int simd, size_t n_o, const double *restrict O, double s_sat2,
                            double cmax, uint8_t *restrict sign, int64_t *restrict count)
{
    size_t i = 0;
#ifdef HAVE_AVX512_BUILD
    if (simd)
        i = signed_counts_512(n_o, O, s_sat2, cmax, count);
#endif
    (void)simd;
    for (; i < n_o; i++) {
        double c = floor(fabs(O[i]) / s_sat2 * cmax + 0.5);
        count[i] = (int64_t)((c <= cmax || c != c) ? c : cmax);
    }
    for (i = 0; i < n_o; i++)
        sign[i] = O[i] < 0.0;
}

/* One token's read-out (analog_models.readout.read_token) in one call, the same operations in
 * the same order as its steps on the level path, so the same bits (tested):
 *   decay = D^p_k per column (decay_planes; d NULL: no leakage)
 *   S = mask ? read_columns(x) : 0                      (n_tc,)  the K bank's codes and table
 *   A = min(max(S / s_sat1, 0), 1)                       ReLU C2P (analog_models.c2p.relu_c2p)
 *   O = read_rows(A · f_col)                             (nt, rows) the V bank's
 *   sign = O < 0;  count = min(floor(|O| / s_sat2 · cmax + 0.5), cmax)   signed C2P (c2p.signed_c2p)
 * d_v may be d_k (the same write times: one set of planes).  Scratch: planes_k, planes_v
 * (npow, n_tc), aw (n_tc,) for A · f_col. */
void gca_read_token(int simd, int nt, int cols, int rows, int npow, const int *powers,
                    double c0_k, double c0_v, const uint8_t *kcode, const double *ktable,
                    const uint8_t *vcode, const double *vtable, const double *x,
                    const double *d_k, const double *d_v, const uint8_t *mask,
                    const double *f_col, double s_sat1, double s_sat2, double cmax,
                    double *planes_k, double *planes_v, double *S, double *A, double *aw,
                    double *O, uint8_t *sign, int64_t *count)
{
    size_t n_tc = (size_t)nt * cols;
    const double *dk = NULL, *dv = NULL;
    if (d_k) {
        decay_planes(npow, powers, d_k, n_tc, planes_k);
        dk = planes_k;
    }
    if (d_v == d_k) {
        dv = dk;
    } else if (d_v) {
        decay_planes(npow, powers, d_v, n_tc, planes_v);
        dv = planes_v;
    }
    gca_read_columns(simd, n_tc, rows, npow, c0_k, kcode, ktable, x, dk, S);
    relu_c2p_rows(nt, cols, mask, f_col, s_sat1, S, A, aw);
    gca_read_rows(simd, nt, cols, rows, npow, c0_v, vcode, vtable, aw, dv, O);
    signed_c2p_rows(simd, (size_t)nt * rows, O, s_sat2, cmax, sign, count);
}
