/*
 * Optional native kernel of the Paillier engine: Montgomery multiplication on GMP's mpn layer.
 *
 * The pure-Python engine (gmpy2) pays a full division per modular multiplication and the
 * interpreter's overhead per operation. These loops keep residues in Montgomery form as arrays of
 * 64-bit limbs (least significant first), multiply with mpn_mul_n / mpn_sqr and reduce with REDC
 * (one mpn_addmul_1 per limb), so that a modular multiplication costs about two plain ones.
 *
 * Every entry point takes and returns residues in normal form (canonical, in [0, m)), so its
 * results are the same integers as the Python engine's, bit for bit. Loaded with ctypes
 * (silobridge/crypto/paillier/native/__init__.py); built by `make native` (called by
 * `make install`). Return codes: 0 = done, -1 = bad arguments or out of memory, -2 = a value
 * that should be invertible modulo m is not.
 */
#include <gmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIMBS 256 /* n^2 of an 8192-bit key */

typedef struct {
    const mp_limb_t *m;
    mp_limb_t minv; /* -m^-1 mod 2^64 */
    mp_size_t k;
    mp_limb_t *t; /* scratch: 2k limbs */
} mont_t;

static int mont_init(mont_t *c, const mp_limb_t *m, mp_size_t k) {
    if (k < 1 || k > MAX_LIMBS || (m[0] & 1) == 0 || m[k - 1] == 0) return -1;
    mp_limb_t x = m[0]; /* Newton: x = m^-1 mod 2^(3 * 2^i) */
    for (int i = 0; i < 6; i++) x *= 2 - m[0] * x;
    c->m = m;
    c->minv = (mp_limb_t)0 - x;
    c->k = k;
    c->t = malloc(sizeof(mp_limb_t) * 2 * (size_t)k);
    return c->t == NULL ? -1 : 0;
}

static void mont_free(mont_t *c) { free(c->t); }

/* r = t / R mod m for t < m * R (2k limbs, destroyed); r in [0, m). */
static void redc(mp_limb_t *r, mp_limb_t *t, const mont_t *c) {
    mp_size_t k = c->k;
    mp_limb_t *up = t;
    for (mp_size_t j = 0; j < k; j++) {
        mp_limb_t q = up[0] * c->minv;
        up[0] = mpn_addmul_1(up, c->m, k, q); /* up[0] becomes 0: keep the carry there */
        up++;
    }
    mp_limb_t cy = mpn_add_n(r, up, t, k);
    if (cy || mpn_cmp(r, c->m, k) >= 0) mpn_sub_n(r, r, c->m, k);
}

/* r = a * b / R mod m; r may alias a or b. */
static void mont_mul(mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b, const mont_t *c) {
    if (a == b)
        mpn_sqr(c->t, a, c->k);
    else
        mpn_mul_n(c->t, a, b, c->k);
    redc(r, c->t, c);
}

/* Normal form -> Montgomery form: a * R mod m = mont_mul(a, R^2 mod m). */
static void to_mont(mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *r2, const mont_t *c) {
    mont_mul(r, a, r2, c);
}

/* Montgomery form -> normal form. */
static void from_mont(mp_limb_t *r, const mp_limb_t *a, const mont_t *c) {
    mp_size_t k = c->k;
    memcpy(c->t, a, sizeof(mp_limb_t) * (size_t)k);
    memset(c->t + k, 0, sizeof(mp_limb_t) * (size_t)k);
    redc(r, c->t, c);
}

static void set_one(mp_limb_t *r, mp_size_t k) {
    memset(r, 0, sizeof(mp_limb_t) * (size_t)k);
    r[0] = 1;
}

/* Bits [pos, pos + w) of a little-endian byte string of nbytes bytes (zero beyond its end). */
static unsigned digit_at(const uint8_t *e, size_t nbytes, size_t pos, int w) {
    size_t byte = pos >> 3;
    uint32_t v = 0;
    for (int i = 0; i < 3 && byte + (size_t)i < nbytes; i++) v |= (uint32_t)e[byte + (size_t)i] << (8 * i);
    return (v >> (pos & 7)) & ((1u << w) - 1u);
}

/*
 * Fixed-base table: row i holds g**(d * 2**(w*i)) for d in [0, 2**w), in Montgomery form
 * (rows * 2**w * k limbs). base: normal form, < m.
 */
int sb_fixed_base_table(const mp_limb_t *m, const mp_limb_t *r2, mp_size_t k, const mp_limb_t *base,
                        int window, size_t rows, mp_limb_t *table) {
    if (window < 1 || window > 16) return -1;
    mont_t c;
    if (mont_init(&c, m, k)) return -1;
    size_t size = (size_t)1 << window;
    mp_limb_t *g = malloc(sizeof(mp_limb_t) * (size_t)k);
    if (g == NULL) {
        mont_free(&c);
        return -1;
    }
    to_mont(g, base, r2, &c);
    for (size_t i = 0; i < rows; i++) {
        mp_limb_t *row = table + i * size * (size_t)k;
        set_one(row, k);
        to_mont(row, row, r2, &c); /* R mod m */
        memcpy(row + k, g, sizeof(mp_limb_t) * (size_t)k);
        for (size_t d = 2; d < size; d++) mont_mul(row + d * (size_t)k, row + (d - 1) * (size_t)k, g, &c);
        mont_mul(g, row + (size - 1) * (size_t)k, g, &c); /* g**(2**w): the next position's base */
    }
    free(g);
    mont_free(&c);
    return 0;
}

/*
 * out[j] = g**e_j mod m (normal form) for count exponents of nbytes little-endian bytes each,
 * with the table above (rows * window >= 8 * nbytes).
 */
int sb_fixed_base_pow(const mp_limb_t *m, mp_size_t k, const mp_limb_t *table, int window, size_t rows,
                      const uint8_t *exps, size_t nbytes, size_t count, mp_limb_t *out) {
    if (window < 1 || window > 16 || rows * (size_t)window < nbytes * 8) return -1;
    mont_t c;
    if (mont_init(&c, m, k)) return -1;
    size_t size = (size_t)1 << window;
    mp_limb_t *acc = malloc(sizeof(mp_limb_t) * (size_t)k);
    if (acc == NULL) {
        mont_free(&c);
        return -1;
    }
    for (size_t j = 0; j < count; j++) {
        const uint8_t *e = exps + j * nbytes;
        int started = 0;
        for (size_t i = 0; i < rows; i++) {
            unsigned d = digit_at(e, nbytes, i * (size_t)window, window);
            if (!d) continue;
            const mp_limb_t *entry = table + (i * size + d) * (size_t)k;
            if (started) {
                mont_mul(acc, acc, entry, &c);
            } else {
                memcpy(acc, entry, sizeof(mp_limb_t) * (size_t)k);
                started = 1;
            }
        }
        mp_limb_t *r = out + j * (size_t)k;
        if (started)
            from_mont(r, acc, &c);
        else
            set_one(r, k);
    }
    free(acc);
    mont_free(&c);
    return 0;
}

/* Window width (at most max_w) minimising term insertions plus bucket combination (two signs). */
static int choose_window(size_t n_terms, int bits, int max_w) {
    int best = 1;
    double best_cost = 1e300;
    for (int w = 1; w <= max_w; w++) {
        double windows = (double)((bits + w - 1) / w);
        double cost = windows * ((double)n_terms + 4.0 * (double)((size_t)1 << w));
        if (cost < best_cost) {
            best = w;
            best_cost = cost;
        }
    }
    return best;
}

/* acc *= prod_d bucket[d]**d over the non-empty buckets (running-product method). */
static void combine_buckets(mp_limb_t *acc, int *acc_set, mp_limb_t *buckets, const char *full, size_t size,
                            mp_limb_t *running, mp_limb_t *total, const mont_t *c) {
    mp_size_t k = c->k;
    int run_set = 0, tot_set = 0;
    for (size_t d = size - 1; d >= 1; d--) {
        if (full[d]) {
            if (run_set)
                mont_mul(running, running, buckets + d * (size_t)k, c);
            else {
                memcpy(running, buckets + d * (size_t)k, sizeof(mp_limb_t) * (size_t)k);
                run_set = 1;
            }
        }
        if (run_set) {
            if (tot_set)
                mont_mul(total, total, running, c);
            else {
                memcpy(total, running, sizeof(mp_limb_t) * (size_t)k);
                tot_set = 1;
            }
        }
    }
    if (!tot_set) return;
    if (*acc_set)
        mont_mul(acc, acc, total, c);
    else {
        memcpy(acc, total, sizeof(mp_limb_t) * (size_t)k);
        *acc_set = 1;
    }
}

static int invert_mod(mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *m, mp_size_t k) {
    mpz_t x, mod;
    mpz_init(x);
    mpz_init(mod);
    mpz_import(x, (size_t)k, -1, sizeof(mp_limb_t), 0, 0, a);
    mpz_import(mod, (size_t)k, -1, sizeof(mp_limb_t), 0, 0, m);
    int ok = mpz_invert(x, x, mod);
    if (ok) {
        memset(r, 0, sizeof(mp_limb_t) * (size_t)k);
        mpz_export(r, NULL, -1, sizeof(mp_limb_t), 0, 0, x);
    }
    mpz_clear(x);
    mpz_clear(mod);
    return ok ? 0 : -2;
}

/*
 * out[j] = prod_i bases[i]**scalars[i*d + j] mod m (normal form) for signed 64-bit scalars, by
 * Pippenger's bucket method per column with separate buckets for negative scalars; the product
 * of the negative terms is inverted once per column. bases: n residues in normal form.
 */
int sb_msm(const mp_limb_t *m, const mp_limb_t *r2, mp_size_t k, const mp_limb_t *bases, size_t n,
           const int64_t *scalars, size_t d, mp_limb_t *out) {
    mont_t c;
    if (mont_init(&c, m, k)) return -1;
    int rc = -1;
    size_t kk = (size_t)k;
    mp_limb_t *B = malloc(sizeof(mp_limb_t) * kk * (n ? n : 1));
    mp_limb_t *work = malloc(sizeof(mp_limb_t) * kk * 4);
    mp_limb_t *buckets = NULL;
    char *full = NULL;
    if (B == NULL || work == NULL) goto done;
    mp_limb_t *acc_p = work, *acc_n = work + kk, *running = work + 2 * kk, *total = work + 3 * kk;
    for (size_t i = 0; i < n; i++) to_mont(B + i * kk, bases + i * kk, r2, &c);
    for (size_t j = 0; j < d; j++) {
        uint64_t max_abs = 0;
        for (size_t i = 0; i < n; i++) {
            int64_t x = scalars[i * d + j];
            if (x == INT64_MIN) goto done;
            uint64_t a = (uint64_t)(x < 0 ? -x : x);
            if (a > max_abs) max_abs = a;
        }
        int bits = 0;
        while (bits < 64 && (max_abs >> bits)) bits++;
        mp_limb_t *r = out + j * kk;
        if (bits == 0) {
            set_one(r, k);
            continue;
        }
        int w = choose_window(n, bits, 16);
        size_t size = (size_t)1 << w;
        free(buckets);
        free(full);
        buckets = malloc(sizeof(mp_limb_t) * kk * size * 2);
        full = malloc(size * 2);
        if (buckets == NULL || full == NULL) goto done;
        int set_p = 0, set_n = 0;
        int windows = (bits + w - 1) / w;
        for (int win = windows - 1; win >= 0; win--) {
            for (int s = 0; s < w; s++) {
                if (set_p) mont_mul(acc_p, acc_p, acc_p, &c);
                if (set_n) mont_mul(acc_n, acc_n, acc_n, &c);
            }
            memset(full, 0, size * 2);
            unsigned shift = (unsigned)(win * w);
            uint64_t mask = size - 1;
            for (size_t i = 0; i < n; i++) {
                int64_t x = scalars[i * d + j];
                if (!x) continue;
                uint64_t a = (uint64_t)(x < 0 ? -x : x);
                size_t dg = (size_t)((a >> shift) & mask);
                if (!dg) continue;
                size_t slot = (x < 0 ? size : 0) + dg;
                mp_limb_t *bk = buckets + slot * kk;
                if (full[slot])
                    mont_mul(bk, bk, B + i * kk, &c);
                else {
                    memcpy(bk, B + i * kk, sizeof(mp_limb_t) * kk);
                    full[slot] = 1;
                }
            }
            combine_buckets(acc_p, &set_p, buckets, full, size, running, total, &c);
            combine_buckets(acc_n, &set_n, buckets + size * kk, full + size, size, running, total, &c);
        }
        if (set_n) {
            from_mont(total, acc_n, &c);
            if (invert_mod(running, total, m, k)) {
                rc = -2;
                goto done;
            }
            to_mont(acc_n, running, r2, &c);
            if (set_p)
                mont_mul(acc_p, acc_p, acc_n, &c);
            else {
                memcpy(acc_p, acc_n, sizeof(mp_limb_t) * kk);
                set_p = 1;
            }
        }
        if (set_p)
            from_mont(r, acc_p, &c);
        else
            set_one(r, k);
    }
    rc = 0;
done:
    free(B);
    free(work);
    free(buckets);
    free(full);
    mont_free(&c);
    return rc;
}

/* out[i] = a[i] * b[i] mod m (normal form in and out): re-randomisation by ready obfuscators. */
int sb_mulmod(const mp_limb_t *m, const mp_limb_t *r2, mp_size_t k, const mp_limb_t *a, const mp_limb_t *b,
              size_t count, mp_limb_t *out) {
    mont_t c;
    if (mont_init(&c, m, k)) return -1;
    for (size_t i = 0; i < count; i++) {
        mp_limb_t *r = out + i * (size_t)k;
        mont_mul(r, a + i * (size_t)k, b + i * (size_t)k, &c); /* a b / R */
        mont_mul(r, r, r2, &c);                                 /* a b */
    }
    mont_free(&c);
    return 0;
}

/*
 * Eight exponentiations at once with AVX-512 IFMA (52-bit multiply-accumulate), as Intel's
 * multi-buffer RSA does: residues in radix 2**52 (L limbs, R52 = 2**(52 L) > 4 m), one lane of a
 * 512-bit vector per exponentiation, almost-Montgomery multiplication (inputs and outputs below
 * 2 m, the last conversion makes the result canonical). Used for fixed-base tables when the CPU
 * has IFMA (checked at run time); the 64-bit path above otherwise.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SB_IFMA 1
#define IFMA_TARGET __attribute__((target("avx512f,avx512ifma")))
#define MASK52 ((uint64_t)0xFFFFFFFFFFFFFull)
/* eight lanes of 2 * 2**12 buckets: 21 MB for a 1024-bit key, 41 MB for 2048 (2**16 would be 16x) */
#define IFMA_MAX_WINDOW 12

int sb_ifma_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
}

/* Limbs of 52 bits for residues of `bits` bits, with room for 2 m < R52 / 2. */
int sb_ifma_limbs(int bits) { return (bits + 2 + 51) / 52; }

/* x (k 64-bit limbs) -> L limbs of 52 bits. */
static void to_radix52(uint64_t *out, const mp_limb_t *x, mp_size_t k, int L) {
    for (int j = 0; j < L; j++) {
        size_t bit = (size_t)j * 52, w = bit >> 6;
        unsigned s = (unsigned)(bit & 63);
        uint64_t v = w < (size_t)k ? x[w] >> s : 0;
        if (s > 12 && w + 1 < (size_t)k) v |= x[w + 1] << (64 - s);
        out[j] = v & MASK52;
    }
}

/* L limbs of 52 bits (normalised) -> k 64-bit limbs. */
static void from_radix52(mp_limb_t *x, const uint64_t *in, mp_size_t k, int L) {
    memset(x, 0, sizeof(mp_limb_t) * (size_t)k);
    for (int j = 0; j < L; j++) {
        size_t bit = (size_t)j * 52, w = bit >> 6;
        unsigned s = (unsigned)(bit & 63);
        if (w < (size_t)k) x[w] |= in[j] << s;
        if (s > 12 && w + 1 < (size_t)k) x[w + 1] |= in[j] >> (64 - s);
    }
}

typedef struct {
    int L;
    __m512i *M;  /* L broadcast limbs of m */
    __m512i K0;  /* -m^-1 mod 2^52, broadcast */
    __m512i *Z;  /* 2 L + 1 accumulators */
} ifma_t;

/* r = a b / R52 mod m (almost: r < 2 m for a, b < 2 m), eight lanes; r may alias a or b. */
IFMA_TARGET static void ifma_amm(__m512i *r, const __m512i *a, const __m512i *b, const ifma_t *c) {
    const int L = c->L;
    __m512i *Z = c->Z;
    const __m512i zero = _mm512_setzero_si512(), mask = _mm512_set1_epi64((long long)MASK52);
    for (int j = 0; j < 2 * L + 1; j++) Z[j] = zero;
    for (int i = 0; i < L; i++) {
        __m512i A = a[i], *z = Z + i;
        for (int j = 0; j < L; j++) z[j] = _mm512_madd52lo_epu64(z[j], A, b[j]);
        __m512i Q = _mm512_and_si512(_mm512_madd52lo_epu64(zero, z[0], c->K0), mask);
        for (int j = 0; j < L; j++) z[j] = _mm512_madd52lo_epu64(z[j], Q, c->M[j]);
        z[1] = _mm512_add_epi64(z[1], _mm512_srli_epi64(z[0], 52));
        for (int j = 0; j < L; j++) {
            z[j + 1] = _mm512_madd52hi_epu64(z[j + 1], A, b[j]);
            z[j + 1] = _mm512_madd52hi_epu64(z[j + 1], Q, c->M[j]);
        }
    }
    __m512i carry = zero;
    for (int j = 0; j < L; j++) {
        __m512i v = _mm512_add_epi64(Z[L + j], carry);
        carry = _mm512_srli_epi64(v, 52);
        r[j] = _mm512_and_si512(v, mask);
    }
}

/*
 * Fixed-base table in radix 2**52 for the IFMA path (rows * 2**w * L limbs), built in the lanes: row bases g_i = g**(2**(w i)) by squarings (64-bit path),
 * then eight rows at a time, entry d = entry (d-1) * g_i. Entries are below 2 m, not canonical:
 * the lanes only need that, and every result leaves through the canonical last conversion.
 * c52 = R52 R64 mod m; base in normal form, below m.
 */
IFMA_TARGET int sb_ifma_table_build(const mp_limb_t *m, const mp_limb_t *r2, mp_size_t k, const mp_limb_t *c52,
                                    const mp_limb_t *base, int window, size_t rows, uint64_t *table52) {
    if (window < 1 || window > 16 || !sb_ifma_supported()) return -1;
    mont_t mc;
    if (mont_init(&mc, m, k)) return -1;
    int L = sb_ifma_limbs((int)(k * 64));
    size_t kk = (size_t)k, LL = (size_t)L, size = (size_t)1 << window;
    mp_limb_t inv = m[0];
    for (int i = 0; i < 6; i++) inv *= 2 - m[0] * inv;
    ifma_t c;
    c.L = L;
    c.K0 = _mm512_set1_epi64((long long)(((uint64_t)0 - inv) & MASK52));
    uint64_t *m52 = malloc(sizeof(uint64_t) * LL);
    uint64_t *g52 = malloc(sizeof(uint64_t) * LL * 8 * ((rows + 7) / 8));
    mp_limb_t *x = malloc(sizeof(mp_limb_t) * kk * 3);
    c.M = _mm_malloc(sizeof(__m512i) * LL, 64);
    c.Z = _mm_malloc(sizeof(__m512i) * (2 * LL + 1), 64);
    __m512i *G = _mm_malloc(sizeof(__m512i) * LL * 2, 64);
    int rc = -1;
    if (!m52 || !g52 || !x || !c.M || !c.Z || !G) goto done;
    to_radix52(m52, m, k, L);
    for (int j = 0; j < L; j++) c.M[j] = _mm512_set1_epi64((long long)m52[j]);
    memset(g52, 0, sizeof(uint64_t) * LL * 8 * ((rows + 7) / 8));
    mp_limb_t *g = x, *y = x + kk;
    to_mont(g, base, r2, &mc);
    for (size_t i = 0; i < rows; i++) {
        from_mont(y, g, &mc);
        mont_mul(y, y, c52, &mc); /* g_i R52 */
        to_radix52(g52 + i * LL, y, k, L);
        for (int s = 0; s < window; s++) mont_mul(g, g, g, &mc);
    }
    set_one(y, k);
    mont_mul(y, y, c52, &mc); /* R52 mod m: entry 0 of every row */
    uint64_t one52[512];
    to_radix52(one52, y, k, L);
    __m512i *E = G + LL;
    for (size_t i0 = 0; i0 < rows; i0 += 8) {
        size_t used = rows - i0 < 8 ? rows - i0 : 8;
        __mmask8 live = (__mmask8)((1u << used) - 1u);
        long long rowidx[8];
        for (size_t l = 0; l < 8; l++) rowidx[l] = (long long)((i0 + (l < used ? l : 0)) * size * LL);
        __m512i vrow = _mm512_loadu_si512(rowidx);
        for (int j = 0; j < L; j++) {
            long long lane[8];
            for (size_t l = 0; l < 8; l++) lane[l] = (long long)(l < used ? g52[(i0 + l) * LL + (size_t)j] : 0);
            G[j] = _mm512_loadu_si512(lane);
            E[j] = _mm512_set1_epi64((long long)one52[j]);
        }
        for (size_t d = 0; d < size; d++) {
            if (d == 1)
                for (int j = 0; j < L; j++) E[j] = G[j];
            else if (d > 1)
                ifma_amm(E, E, G, &c);
            __m512i vi = _mm512_add_epi64(vrow, _mm512_set1_epi64((long long)(d * LL)));
            for (int j = 0; j < L; j++) {
                _mm512_mask_i64scatter_epi64((long long *)table52, live, vi, E[j], 8);
                vi = _mm512_add_epi64(vi, _mm512_set1_epi64(1));
            }
        }
    }
    rc = 0;
done:
    free(m52);
    free(g52);
    free(x);
    _mm_free(c.M);
    _mm_free(c.Z);
    _mm_free(G);
    mont_free(&mc);
    return rc;
}

IFMA_TARGET int sb_ifma_fixed_base_pow(const mp_limb_t *m, mp_size_t k, const uint64_t *table52, int window,
                                       size_t rows, const uint8_t *exps, size_t nbytes, size_t count,
                                       mp_limb_t *out) {
    if (window < 1 || window > 16 || rows * (size_t)window < nbytes * 8 || !sb_ifma_supported()) return -1;
    int L = sb_ifma_limbs((int)(k * 64));
    mp_limb_t m0 = m[0], inv = m0;
    for (int i = 0; i < 6; i++) inv *= 2 - m0 * inv;
    ifma_t c;
    c.L = L;
    c.K0 = _mm512_set1_epi64((long long)(((uint64_t)0 - inv) & MASK52));
    uint64_t *m52 = malloc(sizeof(uint64_t) * (size_t)L);
    c.M = _mm_malloc(sizeof(__m512i) * (size_t)L, 64);
    c.Z = _mm_malloc(sizeof(__m512i) * (size_t)(2 * L + 1), 64);
    __m512i *acc = _mm_malloc(sizeof(__m512i) * (size_t)L, 64);
    __m512i *ent = _mm_malloc(sizeof(__m512i) * (size_t)L, 64);
    uint64_t *lanes = malloc(sizeof(uint64_t) * 8 * (size_t)L);
    int rc = -1;
    if (!m52 || !c.M || !c.Z || !acc || !ent || !lanes) goto done;
    to_radix52(m52, m, k, L);
    for (int j = 0; j < L; j++) c.M[j] = _mm512_set1_epi64((long long)m52[j]);
    size_t size = (size_t)1 << window;
    for (size_t j0 = 0; j0 < count; j0 += 8) {
        size_t lanes_used = count - j0 < 8 ? count - j0 : 8;
        for (size_t i = 0; i < rows; i++) {
            long long idx[8];
            for (size_t l = 0; l < 8; l++) {
                unsigned d = l < lanes_used ? digit_at(exps + (j0 + l) * nbytes, nbytes, i * (size_t)window, window) : 0;
                idx[l] = (long long)(((i * size) + d) * (size_t)L);
            }
            __m512i vidx = _mm512_loadu_si512(idx);
            __m512i *dst = i == 0 ? acc : ent;
            for (int j = 0; j < L; j++) {
                dst[j] = _mm512_i64gather_epi64(vidx, (const long long *)table52, 8);
                vidx = _mm512_add_epi64(vidx, _mm512_set1_epi64(1));
            }
            if (i > 0) ifma_amm(acc, acc, ent, &c);
        }
        /* out of Montgomery form: acc * 1 / R52, canonical */
        for (int j = 0; j < L; j++) ent[j] = _mm512_setzero_si512();
        ent[0] = _mm512_set1_epi64(1);
        ifma_amm(acc, acc, ent, &c);
        for (int j = 0; j < L; j++) _mm512_storeu_si512(lanes + 8 * (size_t)j, acc[j]);
        for (size_t l = 0; l < lanes_used; l++) {
            uint64_t limbs[512];
            for (int j = 0; j < L; j++) limbs[j] = lanes[8 * (size_t)j + l];
            mp_limb_t *r = out + (j0 + l) * (size_t)k;
            from_radix52(r, limbs, k, L);
            if (mpn_cmp(r, m, k) >= 0) mpn_sub_n(r, r, m, k); /* cannot happen for units; kept exact */
        }
    }
    rc = 0;
done:
    free(m52);
    _mm_free(c.M);
    _mm_free(c.Z);
    _mm_free(acc);
    _mm_free(ent);
    free(lanes);
    return rc;
}

/* r = a * b / R52 (almost), b one residue broadcast to every lane (radix-52 limbs). */
IFMA_TARGET static void ifma_amm_bcast(__m512i *r, const __m512i *a, const uint64_t *b, const ifma_t *c,
                                       __m512i *bv) {
    for (int j = 0; j < c->L; j++) bv[j] = _mm512_set1_epi64((long long)b[j]);
    ifma_amm(r, a, bv, c);
}

/*
 * Multi-exponentiation, eight columns at a time (one per lane): out[j] = prod_i bases[i]**s[i, j]
 * mod m for signed int64 scalars. Per window every term multiplies its base into its lane's
 * bucket of its digit (signed: negative digits have their own buckets); the buckets are combined
 * with running products, the negative side inverted once per column at the end.
 */
IFMA_TARGET int sb_ifma_msm(const mp_limb_t *m, const mp_limb_t *r2, mp_size_t k, const mp_limb_t *c52,
                            const mp_limb_t *bases, size_t n, const int64_t *scalars, size_t d, mp_limb_t *out) {
    if (!sb_ifma_supported()) return -1;
    mont_t mc;
    if (mont_init(&mc, m, k)) return -1;
    int L = sb_ifma_limbs((int)(k * 64));
    size_t kk = (size_t)k, LL = (size_t)L;
    mp_limb_t inv = m[0];
    for (int i = 0; i < 6; i++) inv *= 2 - m[0] * inv;
    ifma_t c;
    c.L = L;
    c.K0 = _mm512_set1_epi64((long long)(((uint64_t)0 - inv) & MASK52));
    uint64_t *m52 = malloc(sizeof(uint64_t) * LL);
    uint64_t *B = malloc(sizeof(uint64_t) * LL * (n ? n : 1));
    mp_limb_t *x = malloc(sizeof(mp_limb_t) * kk * 3);
    uint64_t *lanes = malloc(sizeof(uint64_t) * 8 * LL * 2);
    c.M = _mm_malloc(sizeof(__m512i) * LL, 64);
    c.Z = _mm_malloc(sizeof(__m512i) * (2 * LL + 1), 64);
    __m512i *work = _mm_malloc(sizeof(__m512i) * LL * 6, 64);
    uint64_t *buckets = NULL;
    int rc = -1;
    if (!m52 || !B || !x || !lanes || !c.M || !c.Z || !work) goto done;
    __m512i *acc_p = work, *acc_n = work + LL, *run = work + 2 * LL, *tot = work + 3 * LL, *tmp = work + 4 * LL,
            *bv = work + 5 * LL;
    to_radix52(m52, m, k, L);
    for (int j = 0; j < L; j++) c.M[j] = _mm512_set1_epi64((long long)m52[j]);
    /* bases into radix-52 Montgomery form: x c52 / R64 = x R52 (c52 = R52 R64 mod m) */
    for (size_t i = 0; i < n; i++) {
        mont_mul(x, bases + i * kk, c52, &mc);
        to_radix52(B + i * LL, x, k, L);
    }
    /* one in radix-52 Montgomery form: R52 mod m = mont64(1 * c52) */
    uint64_t *one52 = lanes + 8 * LL; /* L limbs */
    set_one(x + kk, k);
    mont_mul(x, x + kk, c52, &mc);
    to_radix52(one52, x, k, L);
    const __m512i zero = _mm512_setzero_si512();
    for (size_t j0 = 0; j0 < d; j0 += 8) {
        size_t width = d - j0 < 8 ? d - j0 : 8;
        __mmask8 cols = (__mmask8)((1u << width) - 1u);
        uint64_t max_abs = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t l = 0; l < width; l++) {
                int64_t v = scalars[i * d + j0 + l];
                if (v == INT64_MIN) goto done;
                uint64_t a = (uint64_t)(v < 0 ? -v : v);
                if (a > max_abs) max_abs = a;
            }
        int bits = 0;
        while (bits < 64 && (max_abs >> bits)) bits++;
        if (bits == 0) {
            for (size_t l = 0; l < width; l++) set_one(out + (j0 + l) * kk, k);
            continue;
        }
        int w = choose_window(n, bits, IFMA_MAX_WINDOW);
        size_t size = (size_t)1 << w, slots = 2 * size; /* [0, size): positive digits, then negative */
        free(buckets);
        buckets = malloc(sizeof(uint64_t) * 8 * slots * LL); /* lane l, slot s, limb j: ((l*slots+s)*L+j) */
        if (buckets == NULL) goto done;
        for (int j = 0; j < L; j++) acc_p[j] = acc_n[j] = _mm512_set1_epi64((long long)one52[j]);
        int windows = (bits + w - 1) / w;
        /* index arithmetic stays below 2**32: AVX-512F's 32 x 32 -> 64-bit product is enough */
        const __m512i lane_base = _mm512_mul_epu32(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0),
                                                     _mm512_set1_epi64((long long)(slots * LL)));
        for (int win = windows - 1; win >= 0; win--) {
            for (int s = 0; s < w; s++) {
                ifma_amm(acc_p, acc_p, acc_p, &c);
                ifma_amm(acc_n, acc_n, acc_n, &c);
            }
            for (size_t l = 0; l < 8; l++)
                for (size_t s = 0; s < slots; s++) memcpy(buckets + (l * slots + s) * LL, one52, sizeof(uint64_t) * LL);
            const __m512i vmask = _mm512_set1_epi64((long long)(size - 1));
            const __m512i vshift = _mm512_set1_epi64(win * w);
            for (size_t i = 0; i < n; i++) {
                __m512i sv = _mm512_maskz_loadu_epi64(cols, scalars + i * d + j0);
                __m512i av = _mm512_abs_epi64(sv);
                __m512i dg = _mm512_and_si512(_mm512_srlv_epi64(av, vshift), vmask);
                __mmask8 live = _mm512_test_epi64_mask(dg, dg);
                if (!live) continue;
                __mmask8 neg = _mm512_cmplt_epi64_mask(sv, zero);
                __m512i slot = _mm512_mask_add_epi64(dg, neg, dg, _mm512_set1_epi64((long long)size));
                __m512i idx = _mm512_add_epi64(lane_base, _mm512_mul_epu32(slot, _mm512_set1_epi64((long long)LL)));
                __m512i vi = idx;
                for (int j = 0; j < L; j++) {
                    tmp[j] = _mm512_mask_i64gather_epi64(zero, live, vi, (const long long *)buckets, 8);
                    vi = _mm512_add_epi64(vi, _mm512_set1_epi64(1));
                }
                ifma_amm_bcast(tmp, tmp, B + i * LL, &c, bv);
                vi = idx;
                for (int j = 0; j < L; j++) {
                    _mm512_mask_i64scatter_epi64((long long *)buckets, live, vi, tmp[j], 8);
                    vi = _mm512_add_epi64(vi, _mm512_set1_epi64(1));
                }
            }
            /* acc *= prod_d bucket[d]**d per sign: running products from the top digit down */
            for (int sign = 0; sign < 2; sign++) {
                __m512i *acc = sign ? acc_n : acc_p;
                for (int j = 0; j < L; j++) run[j] = tot[j] = _mm512_set1_epi64((long long)one52[j]);
                for (size_t dgt = size - 1; dgt >= 1; dgt--) {
                    __m512i vi = _mm512_add_epi64(lane_base, _mm512_set1_epi64((long long)((sign * size + dgt) * LL)));
                    for (int j = 0; j < L; j++) {
                        tmp[j] = _mm512_i64gather_epi64(vi, (const long long *)buckets, 8);
                        vi = _mm512_add_epi64(vi, _mm512_set1_epi64(1));
                    }
                    ifma_amm(run, run, tmp, &c);
                    ifma_amm(tot, tot, run, &c);
                }
                ifma_amm(acc, acc, tot, &c);
            }
        }
        /* out of Montgomery form (canonical), then pos * neg^-1 per column */
        for (int j = 0; j < L; j++) tmp[j] = zero;
        tmp[0] = _mm512_set1_epi64(1);
        ifma_amm(acc_p, acc_p, tmp, &c);
        ifma_amm(acc_n, acc_n, tmp, &c);
        for (int j = 0; j < L; j++) {
            _mm512_storeu_si512(lanes + 8 * (size_t)j, acc_p[j]);
            _mm512_storeu_si512(lanes + 8 * (LL + (size_t)j), acc_n[j]);
        }
        for (size_t l = 0; l < width; l++) {
            uint64_t limbs[512];
            mp_limb_t *r = out + (j0 + l) * kk, *neg = x, *inv_neg = x + kk;
            for (int j = 0; j < L; j++) limbs[j] = lanes[8 * (size_t)j + l];
            from_radix52(r, limbs, k, L);
            for (int j = 0; j < L; j++) limbs[j] = lanes[8 * (LL + (size_t)j) + l];
            from_radix52(neg, limbs, k, L);
            if (mpn_cmp(r, m, k) >= 0) mpn_sub_n(r, r, m, k);
            if (mpn_cmp(neg, m, k) >= 0) mpn_sub_n(neg, neg, m, k);
            int neg_is_one = neg[0] == 1;
            for (size_t t = 1; t < kk && neg_is_one; t++) neg_is_one = neg[t] == 0;
            if (neg_is_one) continue;
            if (invert_mod(inv_neg, neg, m, k)) {
                rc = -2;
                goto done;
            }
            /* r * inv_neg mod m: Montgomery multiply, then once more by R^2 to undo the 1/R */
            mont_mul(r, r, inv_neg, &mc);
            mont_mul(r, r, r2, &mc);
        }
    }
    rc = 0;
done:
    free(m52);
    free(B);
    free(x);
    free(lanes);
    free(buckets);
    _mm_free(c.M);
    _mm_free(c.Z);
    _mm_free(work);
    mont_free(&mc);
    return rc;
}
#else
int sb_ifma_supported(void) { return 0; }
int sb_ifma_limbs(int bits) { return (bits + 2 + 51) / 52; }
int sb_ifma_fixed_base_pow(const mp_limb_t *m, mp_size_t k, const uint64_t *table52, int window, size_t rows,
                           const uint8_t *exps, size_t nbytes, size_t count, mp_limb_t *out) {
    (void)m, (void)k, (void)table52, (void)window, (void)rows, (void)exps, (void)nbytes, (void)count, (void)out;
    return -1;
}
int sb_ifma_msm(const mp_limb_t *m, const mp_limb_t *r2, mp_size_t k, const mp_limb_t *c52, const mp_limb_t *bases,
                size_t n, const int64_t *scalars, size_t d, mp_limb_t *out) {
    (void)m, (void)r2, (void)k, (void)c52, (void)bases, (void)n, (void)scalars, (void)d, (void)out;
    return -1;
}
int sb_ifma_table_build(const mp_limb_t *m, const mp_limb_t *r2, mp_size_t k, const mp_limb_t *c52,
                        const mp_limb_t *base, int window, size_t rows, uint64_t *table52) {
    (void)m, (void)r2, (void)k, (void)c52, (void)base, (void)window, (void)rows, (void)table52;
    return -1;
}
#endif
