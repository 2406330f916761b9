/* The golden model's vectorised path: a bank's per-cell terms of a batch of keys looked up by
 * their DAC codes (sim/golden/level_terms.py), decayed and written in the V product's layout.
 *
 * gca_level_terms, for keys k = 0 … m−1 (k0: the first one's place in out), rows x < d, powers i:
 *   out[((j·n + i)·cols + c)·d + x] = table[i·nlev + code[k·d + x]] · bp[i·ldb + k]
 *   with j = (k0 + k) / cols, c = (k0 + k) % cols   (out: (chunks, n, cols, d));
 * one multiplication per output, numpy's (the terms a bank stores for a cell at that level,
 * times b_s^p_i): the same bits as numpy's.  Returns the index of the first code outside
 * 0 … nlev−1 (nothing written from that key on), or −1.
 */
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

CLONES
long gca_level_terms(long m, long k0, int n, int cols, int d, int nlev,
                     const int64_t *restrict code, const double *restrict table,
                     const double *restrict bp, long ldb, double *restrict out)
{
    for (long k = 0; k < m; k++) {
        const int64_t *cd = code + (size_t)k * (size_t)d;
        for (int x = 0; x < d; x++)
            if (cd[x] < 0 || cd[x] >= nlev)
                return k * d + x;
        long j = (k0 + k) / cols, c = (k0 + k) % cols;
        for (int i = 0; i < n; i++) {
            const double *tab = table + (size_t)i * (size_t)nlev;
            double b = bp[(size_t)i * (size_t)ldb + (size_t)k];
            double *o = out + (((size_t)j * (size_t)n + (size_t)i) * (size_t)cols
                               + (size_t)c) * (size_t)d;
            for (int x = 0; x < d; x++)
                o[x] = tab[cd[x]] * b;
        }
    }
    return -1;
}
