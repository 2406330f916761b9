/* The golden model's vectorised path: the V product of one block of queries, onto its tiles
 * (sim/golden/v_product.py; numpy's batched products do the same there when this is not used).
 *
 * gca_v_block, for the k_ch chunks of cols keys s0 … of a block of bq queries t0 … (window W;
 * A zero outside each query's window, as block_steps leaves it):
 *   O_j[t, :] = Σ_k L_j[t, k]·R_j[k, :]   (k = i·cols + c, i < npow, c < cols)
 *   with L_j[t, i·cols + c] = A[t, j·cols + c]·ap[i][t]  (the left operand, never stored whole:
 *   made per chunk in lbuf, bq·npow·cols doubles)  and R_j = vt[j] (npow·cols, d);
 *   chunk j lands on tile (first + j) mod nt of ob (bq, nt, d):
 *     the first nt chunks: ob[t][tile] = O_j[t] (+ e[j][t], the C0 part, if e);
 *     later chunks:        ob[t][tile] += O_j[t] (+ e[j][t] added to O_j first);
 *     a tile no chunk lands on: 0.
 * Each O_j[t, x] is one chain of fused multiply-adds over k = 0, 1, …, K−1 from +0, the order
 * a dot product's textbook loop has (OpenBLAS's AVX-512 kernel, at these sizes, gives the same
 * bits; tests bound the error against the exact sum instead).
 *
 * The register blocks: 12 rows × 16 columns (24 accumulators, the 16-column panel of R_j in
 * L1 while the rows stream past), then 4 and 1 rows for the rest; a last panel narrower than
 * 16 columns runs masked.  AVX-512F only: gca_v_ok() says whether this CPU has it (the file
 * compiles everywhere; without x86-64 and GCC or Clang gca_v_ok() is 0).
 */
#include <stddef.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

int gca_v_ok(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
}

/* out[r·ostride + x] for r < MR, x < 8·V (the last vector's lanes masked by m):
 * Σ_k lb[r·K + k]·R[k·d + x], then the epilogue above (e: MR values or NULL; add: later lap) */
#define KERNEL(MR, V)                                                                        \
static inline AVX512 void mk_##MR##_##V(int K, int d, const double *restrict lb,             \
        const double *restrict R, double *restrict out, size_t ostride,                      \
        const double *restrict e, int add, __mmask8 m)                                       \
{                                                                                            \
    __m512d acc[MR][V];                                                                      \
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++)                                    \
        _Pragma("GCC unroll 4") for (int v = 0; v < V; v++)                                  \
            acc[r][v] = _mm512_setzero_pd();                                                 \
    for (int k = 0; k < K; k++) {                                                            \
        __m512d b[V];                                                                        \
        _Pragma("GCC unroll 4") for (int v = 0; v < V; v++)                                  \
            b[v] = _mm512_maskz_loadu_pd(v == V - 1 ? m : (__mmask8)0xFF,                    \
                                         R + (size_t)k * d + 8 * v);                         \
        _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) {                              \
            __m512d a = _mm512_set1_pd(lb[(size_t)r * K + k]);                               \
            _Pragma("GCC unroll 4") for (int v = 0; v < V; v++)                              \
                acc[r][v] = _mm512_fmadd_pd(a, b[v], acc[r][v]);                             \
        }                                                                                    \
    }                                                                                        \
    _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) {                                  \
        double *o = out + (size_t)r * ostride;                                               \
        __m512d ev = _mm512_set1_pd(e ? e[r] : 0.0);                                         \
        _Pragma("GCC unroll 4") for (int v = 0; v < V; v++) {                                \
            __mmask8 mv = v == V - 1 ? m : (__mmask8)0xFF;                                   \
            __m512d x = acc[r][v];                                                           \
            if (e)                                                                           \
                x = _mm512_add_pd(x, ev);                                                    \
            if (add)                                                                         \
                x = _mm512_add_pd(_mm512_maskz_loadu_pd(mv, o + 8 * v), x);                  \
            _mm512_mask_storeu_pd(o + 8 * v, mv, x);                                         \
        }                                                                                    \
    }                                                                                        \
}
KERNEL(12, 2)
KERNEL(4, 2)
KERNEL(1, 2)
KERNEL(12, 1)
KERNEL(4, 1)
KERNEL(1, 1)

/* Does any query of rows [q0, q1] of the block see a key of [ks, ke)?  Key s is in query t's
 * window when t − W < s ≤ t.  A row group that sees none of a chunk's keys has only zeros in
 * its activations there (A is masked to the windows), so its fused multiply-add chains would
 * add only ±0 to +0: they are skipped (K = 0), giving the same bits. */
static inline int sees(long ks, long ke, long q0, long q1, long W)
{
    return ke - 1 > q0 - W && ks <= q1;
}

/* rows [0, bq) of one panel (V vectors, the last masked by m) */
#define ROWS(V)                                                                              \
    do {                                                                                     \
        int t = 0;                                                                           \
        for (; t + 12 <= bq; t += 12)                                                        \
            mk_12_##V(sees(ks, ke, t0 + t, t0 + t + 11, W) ? K : 0, d,                       \
                      lbuf + (size_t)t * K, R + p, o + (size_t)t * os + p, os,               \
                      e ? e + t : NULL, add, m);                                             \
        for (; t + 4 <= bq; t += 4)                                                          \
            mk_4_##V(sees(ks, ke, t0 + t, t0 + t + 3, W) ? K : 0, d,                         \
                     lbuf + (size_t)t * K, R + p, o + (size_t)t * os + p, os,                \
                     e ? e + t : NULL, add, m);                                              \
        for (; t < bq; t++)                                                                  \
            mk_1_##V(sees(ks, ke, t0 + t, t0 + t, W) ? K : 0, d,                             \
                     lbuf + (size_t)t * K, R + p, o + (size_t)t * os + p, os,                \
                     e ? e + t : NULL, add, m);                                              \
    } while (0)

AVX512 void gca_v_block(int bq, int k_ch, int cols, int npow, int d, int nt, int first,
                        long t0, long s0, long W,
                        const double *restrict A, const double *restrict ap,
                        const double *restrict vt, const double *restrict e_all,
                        double *restrict ob, double *restrict lbuf)
{
    int K = npow * cols;
    size_t L = (size_t)k_ch * (size_t)cols, os = (size_t)nt * (size_t)d;
    if (k_ch < nt)
        for (size_t x = 0; x < (size_t)bq * os; x++)
            ob[x] = 0.0;
    for (int j = 0; j < k_ch; j++) {
        int add = j >= nt;
        const double *R = vt + (size_t)j * (size_t)K * (size_t)d;
        const double *e = e_all ? e_all + (size_t)j * (size_t)bq : NULL;
        double *o = ob + (size_t)((first + j) % nt) * (size_t)d;
        long ks = s0 + (long)j * cols, ke = ks + cols;
        for (int t = 0; t < bq; t++) {                  /* the chunk's left operand */
            const double *a = A + (size_t)t * L + (size_t)j * (size_t)cols;
            for (int i = 0; i < npow; i++) {
                double f = ap[(size_t)i * (size_t)bq + (size_t)t];
                double *dst = lbuf + (size_t)t * (size_t)K + (size_t)i * (size_t)cols;
                for (int c = 0; c < cols; c++)
                    dst[c] = a[c] * f;
            }
        }
        int p = 0;
        for (; p + 16 <= d; p += 16) {
            __mmask8 m = 0xFF;
            ROWS(2);
        }
        if (p < d) {                                    /* 1–15 columns left */
            int w = d - p;
            __mmask8 m = (__mmask8)((1u << (w > 8 ? w - 8 : w)) - 1u);
            if (w > 8)
                ROWS(2);
            else
                ROWS(1);
        }
    }
}

#else

int gca_v_ok(void) { return 0; }

void gca_v_block(int bq, int k_ch, int cols, int npow, int d, int nt, int first,
                 long t0, long s0, long W,
                 const double *A, const double *ap, const double *vt, const double *e_all,
                 double *ob, double *lbuf)
{
    (void)bq; (void)k_ch; (void)cols; (void)npow; (void)d; (void)nt; (void)first;
    (void)t0; (void)s0; (void)W;
    (void)A; (void)ap; (void)vt; (void)e_all; (void)ob; (void)lbuf;
}

#endif
