/* The golden model's vectorised path: the steps of one block of queries around its two matrix
 * products (sim/golden/block_steps.py; numpy does the same there when this does not load).
 *
 * A block is bq queries t0 … t0+bq−1 against the keys s0 … s0+k_ch·cols−1 (k_ch chunks of cols
 * keys; s0 and W multiples of cols).  Key s is in query t's window when t − W < s ≤ t.
 *
 * gca_block_act, per query row of S (bq, k_ch·cols), in place:
 *   S = in window ? S : 0;   A = min(max(S / s_sat1, 0), 1)   (analog_models.c2p.relu_c2p:
 *       np.maximum/np.minimum, NaN stays NaN, max(−0, 0) = 0 as numpy's);  S ← A
 *   scores/acts (bq, W) window rows, NULL: not kept: column s mod W ← S, A of each key in the
 *       window, 0 in the other columns (those of a window not yet full);
 *   left (k_ch, bq, npow, cols) = A[t, chunk j, c] · ap[i][t]   (the V product's left operand;
 *       NULL: not made).
 * gca_tiles_add, for the m chunks of one lap of the tiles (chunk jj on tile (first + jj) mod nt):
 *   ob[t][tile] += src[jj][t] + e[jj][t]   (e, the C0 part, NULL: += src[jj][t];
 *   src NULL: += e[jj][t], the products already in place)        ob (bq, nt, d).
 * Only multiplications, divisions, additions and comparisons, in numpy's order, elementwise
 * (no reduction), so every instruction-set clone and numpy give the same bits.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The window rows go to the run's output arrays, written once and not read back here: on
 * x86-64 their whole cache lines are written with streaming stores (SSE2, in every clone), so
 * no line is read from memory before it is overwritten; elsewhere, or for short pieces, memcpy. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <emmintrin.h>
/* dst[0 … m) ← src[0 … m), or 0 when src is NULL */
static inline void put_row(double *restrict dst, const double *restrict src, size_t m)
{
    size_t i = 0;
    if (m < 32) {
        if (src)
            memcpy(dst, src, m * sizeof(double));
        else
            memset(dst, 0, m * sizeof(double));
        return;
    }
    for (; ((uintptr_t)(dst + i) & 63) && i < m; i++)     /* to a cache line's start */
        dst[i] = src ? src[i] : 0.0;
    for (; i + 8 <= m; i += 8)
        for (int h = 0; h < 8; h += 2)
            _mm_stream_pd(dst + i + h, src ? _mm_loadu_pd(src + i + h) : _mm_setzero_pd());
    for (; i < m; i++)
        dst[i] = src ? src[i] : 0.0;
}
#define PUT_DONE() _mm_sfence()
#else
static inline void put_row(double *restrict dst, const double *restrict src, size_t m)
{
    if (src)
        memcpy(dst, src, m * sizeof(double));
    else
        memset(dst, 0, m * sizeof(double));
}
#define PUT_DONE() ((void)0)
#endif

/* one clone per instruction set, picked at load time (the same operations in every one) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

/* the n window columns from key s on (mod W) of a row of W: those no key of the window holds */
static inline void zero_rest(double *row, long W, long s, long n)
{
    long p = s % W, m = n < W - p ? n : W - p;
    if (n <= 0)
        return;
    put_row(row + p, NULL, (size_t)m);
    if (n > m)
        put_row(row, NULL, (size_t)(n - m));
}

CLONES
void gca_block_act(int bq, int k_ch, int cols, int npow, long t0, long s0, long W,
                   double s_sat1, double *restrict S, const double *restrict ap,
                   double *restrict scores, double *restrict acts, double *restrict left)
{
    size_t L = (size_t)k_ch * (size_t)cols;
    for (int t = 0; t < bq; t++) {
        long tq = t0 + t;
        double *row = S + (size_t)t * L;
        /* the window's keys of this row: [lo, hi) relative to s0 */
        long lo = tq - W + 1 - s0, hi = tq + 1 - s0;
        lo = lo < 0 ? 0 : lo;
        hi = hi > (long)L ? (long)L : hi;
        hi = hi < lo ? lo : hi;
        for (long c = 0; c < lo; c++)
            row[c] = 0.0;
        for (long c = hi; c < (long)L; c++)
            row[c] = 0.0;
        for (long c = lo; c < hi;) {        /* kept rows: the keys' window columns */
            long p = (s0 + c) % W, m = hi - c < W - p ? hi - c : W - p;
            if (scores)
                put_row(scores + (size_t)t * W + p, row + c, (size_t)m);
            c += m;
        }
        if (scores)
            zero_rest(scores + (size_t)t * W, W, s0 + hi, W - (hi - lo));
        for (size_t c = 0; c < L; c++) {
            double a = row[c] / s_sat1;
            a = (a > 0.0 || a != a) ? a : 0.0;
            a = (a < 1.0 || a != a) ? a : 1.0;
            row[c] = a;
        }
        for (long c = lo; c < hi;) {
            long p = (s0 + c) % W, m = hi - c < W - p ? hi - c : W - p;
            if (acts)
                put_row(acts + (size_t)t * W + p, row + c, (size_t)m);
            c += m;
        }
        if (acts)
            zero_rest(acts + (size_t)t * W, W, s0 + hi, W - (hi - lo));
        for (int j = 0; left && j < k_ch; j++) {
            const double *a = row + (size_t)j * cols;
            double *lf = left + ((size_t)j * bq + (size_t)t) * (size_t)npow * (size_t)cols;
            for (int i = 0; i < npow; i++) {
                double f = ap[(size_t)i * bq + (size_t)t];
                double *dst = lf + (size_t)i * cols;
                for (int c = 0; c < cols; c++)
                    dst[c] = a[c] * f;
            }
        }
    }
    PUT_DONE();
}

CLONES
void gca_tiles_add(int bq, int nt, int d, int m, int first, const double *restrict e,
                   const double *restrict src, double *restrict ob)
{
    for (int jj = 0; jj < m; jj++) {
        size_t tile = (size_t)((first + jj) % nt);
        for (int t = 0; t < bq; t++) {
            double *o = ob + ((size_t)t * (size_t)nt + tile) * (size_t)d;
            const double *s = src ? src + ((size_t)jj * bq + (size_t)t) * (size_t)d : NULL;
            double ev = e ? e[(size_t)jj * bq + (size_t)t] : 0.0;
            if (s && e)
                for (int x = 0; x < d; x++)
                    o[x] += s[x] + ev;
            else if (s)
                for (int x = 0; x < d; x++)
                    o[x] += s[x];
            else if (e)
                for (int x = 0; x < d; x++)
                    o[x] += ev;
        }
    }
}
