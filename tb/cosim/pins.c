/* The analog bridge's pins (tb/cosim/pins.py; numpy does the same there when this does not
 * load): the bridge record's fields out of the simulator's vector, the pulse player's inputs
 * into a port's write buffer.  A bus is held as VPI vector words, (aval, bval) pairs of 32
 * bits: bit i of the bus is bit i % 32 of pair i / 32; a bit reads as 1 only when aval is 1
 * and bval 0 (X and Z read as 0).
 *
 * gca_record, for the table t of a record (the bus has t->words pairs):
 *   numbers: element e (of n) has width[e] <= 64 bits, bit b at bus bit pos[e] + b*stride[e];
 *     out[e] = its value;
 *   bits: run r (of n_runs) is the run_len[r] bits from bus bit run_pos[r], one byte (0 or 1)
 *     each, the runs one after the other in out_bits.
 * gca_planes: the n values (each < 2^width) as width bit planes — bus bit b*n + i = bit b of
 *   values[i] — into the aval words of pairs (bval set to 0); the bus has ceil(width*n / 32)
 *   words.
 * gca_planes8: the same for byte values, width <= 8 and n a multiple of 8, eight values at a
 *   time (a little-endian host: byte j of a uint64 is values[8g + j]).
 */
#include <stdint.h>
#include <string.h>

static inline uint64_t word(const uint32_t *pairs, long words, long i)
{
    return i < words ? (uint64_t)(pairs[2 * i] & ~pairs[2 * i + 1]) : 0;
}

/* w <= 64 bits of the bus from bit p */
static inline uint64_t bus_run(const uint32_t *pairs, long words, long p, int w)
{
    long i = p >> 5;
    int s = (int)(p & 31);
    uint64_t v = (word(pairs, words, i) | word(pairs, words, i + 1) << 32) >> s;
    if (s && w > 64 - s)
        v |= word(pairs, words, i + 2) << (64 - s);
    return w == 64 ? v : v & ((UINT64_C(1) << w) - 1);
}

struct gca_table {                   /* pins.py: _Table, the same fields in this order */
    long words, n;
    const long *pos, *stride;
    const int *width;
    uint64_t *out;
    long n_runs;
    const long *run_pos, *run_len;
    uint8_t *out_bits;
};

void gca_record(const struct gca_table *t, const uint32_t *pairs)
{
    long words = t->words;
    for (long e = 0; e < t->n; e++) {
        long p = t->pos[e], s = t->stride[e];
        if (s == 1) {
            t->out[e] = bus_run(pairs, words, p, t->width[e]);
            continue;
        }
        uint64_t v = 0;
        for (int b = 0; b < t->width[e]; b++, p += s)
            v |= (word(pairs, words, p >> 5) >> (p & 31) & 1) << b;
        t->out[e] = v;
    }
    uint8_t *o = t->out_bits;
    for (long r = 0; r < t->n_runs; r++) {
        long p = t->run_pos[r], end = p + t->run_len[r];
        while (p < end) {                /* a word at a time */
            uint64_t w = word(pairs, words, p >> 5) >> (p & 31);
            long k = 32 - (p & 31);
            if (k > end - p)
                k = end - p;
            for (long j = 0; j < k; j++)
                *o++ = (uint8_t)(w >> j & 1);
            p += k;
        }
    }
}

void gca_planes(long n, int width, const int64_t *values, uint32_t *pairs)
{
    long total = (long)width * n, words = (total + 31) / 32;
    for (long w = 0; w < words; w++) {
        uint32_t acc = 0;
        for (long k = w * 32, j = 0; j < 32 && k < total; j++, k++)
            acc |= (uint32_t)((values[k % n] >> (k / n)) & 1) << j;
        pairs[2 * w] = acc;
        pairs[2 * w + 1] = 0;
    }
}

void gca_planes8(long n, int width, const uint8_t *values, uint32_t *pairs)
{
    long groups = n / 8, total = ((long)width * n + 31) / 32;
    uint8_t *bytes = (uint8_t *)pairs;
    for (long g = 0; g < groups; g++) {
        uint64_t x;
        memcpy(&x, values + 8 * g, 8);
        for (int b = 0; b < width; b++) {
            long k = b * groups + g;                     /* the byte of the bus */
            /* bit 0 of each byte gathered into the top byte: byte j's → bit 56 + j */
            uint64_t y = ((x >> b) & UINT64_C(0x0101010101010101)) * UINT64_C(0x0102040810204080);
            bytes[8 * (k >> 2) + (k & 3)] = (uint8_t)(y >> 56);
        }
    }
    for (long w = 0; w < total; w++)
        pairs[2 * w + 1] = 0;
    if ((width * n) % 32) {          /* the last word's bits above the bus: 0 */
        long k = (long)width * groups;
        for (; k % 4; k++)
            bytes[8 * (k >> 2) + (k & 3)] = 0;
    }
}
