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

/* Window width minimising term insertions plus bucket combination (two signs) per column. */
static int choose_window(size_t n_terms, int bits) {
    int best = 1;
    double best_cost = 1e300;
    for (int w = 1; w <= 16; w++) {
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
        int w = choose_window(n, bits);
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
