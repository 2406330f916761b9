/* The golden model's vectorised path: the last step of the K product from exact code sums
 * (sim/golden/k_product.py, CodeK).
 *
 * The float64 product gave, for each query t and key s, nw words P[t][s·nw + w] (M: bq rows of
 * ldm doubles), each an exact integer packing some of the n integer sums m_i:
 *   P_w = Σ_{i in word w} m_i·sh_i      (sh_i = 2^k_i, increasing within a word, the first 1),
 * the fields far enough apart that each is recovered exactly from the top down:
 *   m_i = rint(r·(1/sh_i)),  r ← r − m_i·sh_i      (r = P_w; every step exact).
 * gca_k_combine then writes
 *   S[t][s] = (…((a_0·(k_0·m_0) + a_1·(k_1·m_1)) + a_2·(k_2·m_2)) + …) + e[t]
 *   with a_i = ap[i][t] (ap (n, bq)), k_i = kb[s][i] (kb (L, n)); no last addition when e is
 *   NULL.  word[i], sh[i]: power i's word and shift (the powers of a word consecutive).
 * Only exact steps, multiplications and additions, in this order, elementwise (no fused
 * multiply-add: the kernels are built with -ffp-contract=off), so the AVX-512 clone, the plain
 * one and numpy give the same bits (tested).
 */
#include <stddef.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE_OK 1
#define WIDE __attribute__((target("avx512f,prefer-vector-width=512")))
#else
#define WIDE_OK 0
#define WIDE
#endif

#define MAX_POWERS 64

/* one row when all N powers share one word (the paper's head: N = 3); vectorised along s */
#define ROW(N, SUFFIX, ATTR)                                                                  \
static ATTR void row##N##SUFFIX(long L, const double *restrict p, const double *restrict kb, \
                                const double *restrict a, const double *restrict sh,         \
                                const double *restrict inv, double *restrict out)            \
{                                                                                             \
    for (long s = 0; s < L; s++) {                                                            \
        double r = p[s], m[N];                                                                \
        for (int i = N - 1; i >= 0; i--) {                                                    \
            m[i] = __builtin_rint(r * inv[i]);                                                \
            r = r - m[i] * sh[i];                                                             \
        }                                                                                     \
        double acc = a[0] * (kb[s * N] * m[0]);                                               \
        for (int i = 1; i < N; i++)                                                           \
            acc = acc + a[i] * (kb[s * N + i] * m[i]);                                        \
        out[s] = acc;                                                                         \
    }                                                                                         \
}
#define ROWS(SUFFIX, ATTR) ROW(1, SUFFIX, ATTR) ROW(2, SUFFIX, ATTR) ROW(3, SUFFIX, ATTR)    \
    ROW(4, SUFFIX, ATTR)

ROWS(_plain, )
#if WIDE_OK
ROWS(_wide, WIDE)
#endif

typedef void (*row_fn)(long, const double *, const double *, const double *, const double *,
                       const double *, double *);

static row_fn pick(int n)
{
    if (n < 1 || n > 4)
        return NULL;
#if WIDE_OK
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        row_fn wide[] = {row1_wide, row2_wide, row3_wide, row4_wide};
        return wide[n - 1];
    }
#endif
    row_fn plain[] = {row1_plain, row2_plain, row3_plain, row4_plain};
    return plain[n - 1];
}

/* any layout of the words: the same steps, one key at a time */
static void row_any(long L, int n, int nw, const int *word, const double *p,
                    const double *kb, const double *a, const double *sh, const double *inv,
                    double *out)
{
    double m[MAX_POWERS], r[MAX_POWERS];
    for (long s = 0; s < L; s++) {
        for (int w = 0; w < nw; w++)
            r[w] = p[s * nw + w];
        for (int i = n - 1; i >= 0; i--) {
            m[i] = __builtin_rint(r[word[i]] * inv[i]);
            r[word[i]] = r[word[i]] - m[i] * sh[i];
        }
        double acc = a[0] * (kb[s * n] * m[0]);
        for (int i = 1; i < n; i++)
            acc = acc + a[i] * (kb[s * n + i] * m[i]);
        out[s] = acc;
    }
}

/* returns 0, or −1 when n or nw is out of 1 … MAX_POWERS (nothing written) */
int gca_k_combine(int bq, long L, int n, int nw, long ldm, const int *word, const double *sh,
                  const double *restrict M, const double *restrict ap,
                  const double *restrict kb, const double *restrict e, double *restrict S)
{
    if (n < 1 || n > MAX_POWERS || nw < 1 || nw > n)
        return -1;
    row_fn row = nw == 1 ? pick(n) : NULL;
    double a[MAX_POWERS], inv[MAX_POWERS];
    for (int i = 0; i < n; i++)
        inv[i] = 1.0 / sh[i];                  /* powers of two: exact */
    for (int t = 0; t < bq; t++) {
        double *out = S + (size_t)t * (size_t)L;
        const double *p = M + (size_t)t * (size_t)ldm;
        for (int i = 0; i < n; i++)
            a[i] = ap[(size_t)i * (size_t)bq + (size_t)t];
        if (row)
            row(L, p, kb, a, sh, inv, out);
        else
            row_any(L, n, nw, word, p, kb, a, sh, inv, out);
        if (e) {
            double et = e[t];
            for (long s = 0; s < L; s++)
                out[s] = out[s] + et;
        }
    }
    return 0;
}
