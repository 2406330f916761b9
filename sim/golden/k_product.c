/* The golden model's vectorised path: the last step of the K product from exact code sums
 * (sim/golden/k_product.py, CodeK).
 *
 * gca_k_combine, for bq queries t against L keys s and n decay powers i:
 *   S[t][s] = (…((a_0·(k_0·m_0) + a_1·(k_1·m_1)) + a_2·(k_2·m_2)) + …) + e[t]
 *   with a_i = ap[i][t] (ap (n, bq)), k_i = kb[s][i] (kb (L, n)),
 *   m_i = (double) M[t][s·n + i] (M: bq rows of ldm floats), and no last addition when e is NULL.
 * Only multiplications and additions, in this order, elementwise (no fused multiply-add: the
 * kernels are built with -ffp-contract=off), so the AVX-512 clone, the plain one and numpy give
 * the same bits (tested).
 */
#include <stddef.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE_OK 1
#define WIDE __attribute__((target("avx512f,prefer-vector-width=512")))
#else
#define WIDE_OK 0
#define WIDE
#endif

/* one row for a fixed number of powers N (the compiler vectorises along s) */
#define ROW(N, SUFFIX, ATTR)                                                                  \
static ATTR void row##N##SUFFIX(long L, const float *restrict m, const double *restrict kb,  \
                                const double *restrict a, double *restrict out)              \
{                                                                                             \
    for (long s = 0; s < L; s++) {                                                            \
        double acc = a[0] * (kb[s * N] * (double)m[s * N]);                                   \
        for (int i = 1; i < N; i++)                                                           \
            acc = acc + a[i] * (kb[s * N + i] * (double)m[s * N + i]);                        \
        out[s] = acc;                                                                         \
    }                                                                                         \
}
#define ROWS(SUFFIX, ATTR) ROW(1, SUFFIX, ATTR) ROW(2, SUFFIX, ATTR) ROW(3, SUFFIX, ATTR)    \
    ROW(4, SUFFIX, ATTR)

ROWS(_plain, )
#if WIDE_OK
ROWS(_wide, WIDE)
#endif

/* any number of powers (n ≥ 1) */
static void row_any(long L, int n, const float *restrict m, const double *restrict kb,
                    const double *restrict a, double *restrict out)
{
    for (long s = 0; s < L; s++) {
        double acc = a[0] * (kb[s * n] * (double)m[s * n]);
        for (int i = 1; i < n; i++)
            acc = acc + a[i] * (kb[s * n + i] * (double)m[s * n + i]);
        out[s] = acc;
    }
}

typedef void (*row_fn)(long, const float *, const double *, const double *, double *);

static row_fn pick(int n)
{
#if WIDE_OK
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        row_fn wide[] = {row1_wide, row2_wide, row3_wide, row4_wide};
        return n >= 1 && n <= 4 ? wide[n - 1] : NULL;
    }
#endif
    row_fn plain[] = {row1_plain, row2_plain, row3_plain, row4_plain};
    return n >= 1 && n <= 4 ? plain[n - 1] : NULL;
}

#define MAX_POWERS 64

/* returns 0, or −1 when n is out of 1 … MAX_POWERS (nothing written) */
int gca_k_combine(int bq, long L, int n, long ldm, const float *restrict M,
                  const double *restrict ap, const double *restrict kb,
                  const double *restrict e, double *restrict S)
{
    if (n < 1 || n > MAX_POWERS)
        return -1;
    row_fn row = pick(n);
    double a[MAX_POWERS];
    for (int t = 0; t < bq; t++) {
        double *out = S + (size_t)t * (size_t)L;
        const float *m = M + (size_t)t * (size_t)ldm;
        for (int i = 0; i < n; i++)
            a[i] = ap[(size_t)i * (size_t)bq + (size_t)t];
        if (row)
            row(L, m, kb, a, out);
        else
            row_any(L, n, m, kb, a, out);
        if (e) {
            double et = e[t];
            for (long s = 0; s < L; s++)
                out[s] = out[s] + et;
        }
    }
    return 0;
}
