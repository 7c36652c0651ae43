/* X25519 (RFC 7748) for a batch of points under one scalar, eight points at a time on AVX-512 IFMA.
 *
 * A field element of GF(2^255-19) is five 51-bit limbs, one 64-bit lane per point; every input of
 * a multiplication has limbs below 2^52, as vpmadd52{lo,hi}uq need. A product's low 52 bits go to
 * limb i+j and its high 52 bits, worth 2^52 = 2 * 2^51, twice to limb i+j+1; limbs 5..9 fold back
 * times 19 (2^255 = 19 mod p). All eight lanes share the scalar, so the ladder's swaps are the same
 * in every lane and are done with a mask (no branch on the scalar's bits).
 *
 * The caller (silobridge/ml/native/__init__.py) checks that the CPU has AVX-512 IFMA before it calls
 * sb_x25519; the results are tested bit for bit against the X25519 of `cryptography`.
 */
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TGT __attribute__((target("avx512f,avx512ifma")))
#define M51 ((1ULL << 51) - 1)

typedef struct {
    __m512i v[5];
} fe8;

int sb_x25519_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
}

/* limbs below 2^63 in, limbs below 2^52 out (limb 0 below 2^51 + 19 * 2^12) */
TGT static inline void fe_carry(fe8 *r) {
    const __m512i m = _mm512_set1_epi64((long long)M51);
    __m512i c;
    for (int i = 0; i < 4; i++) {
        c = _mm512_srli_epi64(r->v[i], 51);
        r->v[i] = _mm512_and_si512(r->v[i], m);
        r->v[i + 1] = _mm512_add_epi64(r->v[i + 1], c);
    }
    c = _mm512_srli_epi64(r->v[4], 51);
    r->v[4] = _mm512_and_si512(r->v[4], m);
    /* 19c = 16c + 2c + c */
    c = _mm512_add_epi64(_mm512_add_epi64(_mm512_slli_epi64(c, 4), _mm512_slli_epi64(c, 1)), c);
    r->v[0] = _mm512_add_epi64(r->v[0], c);
}

TGT static inline __m512i times19(__m512i x) {
    return _mm512_add_epi64(_mm512_add_epi64(_mm512_slli_epi64(x, 4), _mm512_slli_epi64(x, 1)), x);
}

TGT static inline void fe_add(fe8 *r, const fe8 *a, const fe8 *b) {
    for (int i = 0; i < 5; i++) r->v[i] = _mm512_add_epi64(a->v[i], b->v[i]);
    fe_carry(r);
}

/* a - b + 4p: 4p's limbs (2^53 - 76, 2^53 - 4, ...) exceed any limb of b */
TGT static inline void fe_sub(fe8 *r, const fe8 *a, const fe8 *b) {
    const __m512i p0 = _mm512_set1_epi64((long long)((1ULL << 53) - 76));
    const __m512i pi = _mm512_set1_epi64((long long)((1ULL << 53) - 4));
    r->v[0] = _mm512_sub_epi64(_mm512_add_epi64(a->v[0], p0), b->v[0]);
    for (int i = 1; i < 5; i++) r->v[i] = _mm512_sub_epi64(_mm512_add_epi64(a->v[i], pi), b->v[i]);
    fe_carry(r);
}

TGT static inline void fe_mul(fe8 *r, const fe8 *a, const fe8 *b) {
    __m512i lo[10], hi[10];
    const __m512i z = _mm512_setzero_si512();
    for (int k = 0; k < 10; k++) lo[k] = hi[k] = z;
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 5; j++) {
            lo[i + j] = _mm512_madd52lo_epu64(lo[i + j], a->v[i], b->v[j]);
            hi[i + j + 1] = _mm512_madd52hi_epu64(hi[i + j + 1], a->v[i], b->v[j]);
        }
    }
    __m512i t[10];
    for (int k = 0; k < 10; k++) t[k] = _mm512_add_epi64(lo[k], _mm512_slli_epi64(hi[k], 1));
    for (int k = 0; k < 5; k++) r->v[k] = _mm512_add_epi64(t[k], times19(t[k + 5]));
    fe_carry(r);
}

/* a * k for a constant k below 2^52 */
TGT static inline void fe_mul_small(fe8 *r, const fe8 *a, uint64_t k) {
    const __m512i kk = _mm512_set1_epi64((long long)k);
    const __m512i z = _mm512_setzero_si512();
    __m512i t[6];
    for (int i = 0; i < 6; i++) t[i] = z;
    for (int i = 0; i < 5; i++) {
        t[i] = _mm512_madd52lo_epu64(t[i], a->v[i], kk);
        t[i + 1] = _mm512_add_epi64(t[i + 1], _mm512_slli_epi64(_mm512_madd52hi_epu64(z, a->v[i], kk), 1));
    }
    for (int i = 0; i < 5; i++) r->v[i] = t[i];
    r->v[0] = _mm512_add_epi64(r->v[0], times19(t[5]));
    fe_carry(r);
}

TGT static inline void fe_sqn(fe8 *r, const fe8 *a, int n) {
    fe_mul(r, a, a);
    for (int i = 1; i < n; i++) fe_mul(r, r, r);
}

/* z^(2^250 - 1), with z^2 and z^11 on the way: the common head of 1/z and the Legendre symbol */
TGT static void fe_pow250(fe8 *z250, fe8 *z2, fe8 *z11, const fe8 *z) {
    fe8 z9, z5, z10, z20, z50, z100, t;
    fe_sqn(z2, z, 1);
    fe_sqn(&t, z2, 2);
    fe_mul(&z9, &t, z);
    fe_mul(z11, &z9, z2);
    fe_sqn(&t, z11, 1);
    fe_mul(&z5, &t, &z9); /* 2^5 - 1 */
    fe_sqn(&t, &z5, 5);
    fe_mul(&z10, &t, &z5); /* 2^10 - 1 */
    fe_sqn(&t, &z10, 10);
    fe_mul(&z20, &t, &z10); /* 2^20 - 1 */
    fe_sqn(&t, &z20, 20);
    fe_mul(&t, &t, &z20); /* 2^40 - 1 */
    fe_sqn(&t, &t, 10);
    fe_mul(&z50, &t, &z10); /* 2^50 - 1 */
    fe_sqn(&t, &z50, 50);
    fe_mul(&z100, &t, &z50); /* 2^100 - 1 */
    fe_sqn(&t, &z100, 100);
    fe_mul(&t, &t, &z100); /* 2^200 - 1 */
    fe_sqn(&t, &t, 50);
    fe_mul(z250, &t, &z50); /* 2^250 - 1 */
}

/* z^(p-2) = 1/z (0 for 0) */
TGT static void fe_invert(fe8 *out, const fe8 *z) {
    fe8 z250, z2, z11, t;
    fe_pow250(&z250, &z2, &z11, z);
    fe_sqn(&t, &z250, 5);
    fe_mul(out, &t, &z11); /* 2^255 - 21 = p - 2 */
}

/* z^((p-1)/2): 1 for a non-zero square, p - 1 for a non-square, 0 for 0 */
TGT static void fe_legendre(fe8 *out, const fe8 *z) {
    fe8 z250, z2, z11, t, z6;
    fe_pow250(&z250, &z2, &z11, z);
    fe_sqn(&t, &z250, 4); /* 2^254 - 16 */
    fe_mul(&z6, &z2, &z2);
    fe_mul(&z6, &z6, &z2);
    fe_mul(out, &t, &z6); /* 2^254 - 10 = (p - 1) / 2 */
}

TGT static inline void fe_cswap(fe8 *a, fe8 *b, uint64_t swap) {
    const __m512i mask = _mm512_set1_epi64((long long)(0 - swap));
    for (int i = 0; i < 5; i++) {
        __m512i x = _mm512_and_si512(_mm512_xor_si512(a->v[i], b->v[i]), mask);
        a->v[i] = _mm512_xor_si512(a->v[i], x);
        b->v[i] = _mm512_xor_si512(b->v[i], x);
    }
}

static uint64_t load64(const uint8_t *p) {
    uint64_t w;
    memcpy(&w, p, 8); /* x86-64: little-endian */
    return w;
}

/* 32 bytes of a u-coordinate (bit 255 ignored, as RFC 7748 says) -> five 51-bit limbs */
static void unpack(uint64_t h[5], const uint8_t *s) {
    uint64_t w0 = load64(s), w1 = load64(s + 8), w2 = load64(s + 16), w3 = load64(s + 24) & 0x7fffffffffffffffULL;
    h[0] = w0 & M51;
    h[1] = ((w0 >> 51) | (w1 << 13)) & M51;
    h[2] = ((w1 >> 38) | (w2 << 26)) & M51;
    h[3] = ((w2 >> 25) | (w3 << 39)) & M51;
    h[4] = (w3 >> 12) & M51;
}

/* limbs below 2^52 -> the canonical value mod p as 32 little-endian bytes */
static void pack(uint8_t *s, const uint64_t in[5]) {
    uint64_t h[5];
    memcpy(h, in, sizeof h);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 4; i++) {
            h[i + 1] += h[i] >> 51;
            h[i] &= M51;
        }
        h[0] += 19 * (h[4] >> 51);
        h[4] &= M51;
    }
    /* now h < 2^255 + 19: q = 1 exactly when h >= p */
    uint64_t q = (h[0] + 19) >> 51;
    for (int i = 1; i < 5; i++) q = (h[i] + q) >> 51;
    h[0] += 19 * q;
    for (int i = 0; i < 4; i++) {
        h[i + 1] += h[i] >> 51;
        h[i] &= M51;
    }
    h[4] &= M51;
    uint64_t w[4] = {h[0] | (h[1] << 51), (h[1] >> 13) | (h[2] << 38), (h[2] >> 26) | (h[3] << 25), (h[3] >> 39) | (h[4] << 12)};
    memcpy(s, w, 32);
}

TGT static void load8(fe8 *r, const uint8_t *in[8]) {
    uint64_t limbs[5][8] __attribute__((aligned(64)));
    for (int lane = 0; lane < 8; lane++) {
        uint64_t h[5];
        unpack(h, in[lane]);
        for (int i = 0; i < 5; i++) limbs[i][lane] = h[i];
    }
    for (int i = 0; i < 5; i++) r->v[i] = _mm512_load_si512((const void *)limbs[i]);
}

TGT static void store8(uint8_t *out[8], const fe8 *a) {
    uint64_t limbs[5][8] __attribute__((aligned(64)));
    for (int i = 0; i < 5; i++) _mm512_store_si512((void *)limbs[i], a->v[i]);
    for (int lane = 0; lane < 8; lane++) {
        uint64_t h[5];
        for (int i = 0; i < 5; i++) h[i] = limbs[i][lane];
        pack(out[lane], h);
    }
}

TGT static void fe_const(fe8 *r, uint64_t c) {
    for (int i = 0; i < 5; i++) r->v[i] = _mm512_set1_epi64(i == 0 ? (long long)c : 0);
}

TGT static void ladder8(const uint8_t k[32], const uint8_t *in[8], uint8_t *out[8]) {
    fe8 x1, x2, z2, x3, z3, a, aa, b, bb, e, c, d, da, cb, t;
    load8(&x1, in);
    fe_const(&x2, 1);
    fe_const(&z2, 0);
    fe_const(&z3, 1);
    x3 = x1;
    uint64_t swap = 0;
    for (int pos = 254; pos >= 0; pos--) {
        uint64_t bit = (k[pos >> 3] >> (pos & 7)) & 1;
        swap ^= bit;
        fe_cswap(&x2, &x3, swap);
        fe_cswap(&z2, &z3, swap);
        swap = bit;
        fe_add(&a, &x2, &z2);
        fe_mul(&aa, &a, &a);
        fe_sub(&b, &x2, &z2);
        fe_mul(&bb, &b, &b);
        fe_sub(&e, &aa, &bb);
        fe_add(&c, &x3, &z3);
        fe_sub(&d, &x3, &z3);
        fe_mul(&da, &d, &a);
        fe_mul(&cb, &c, &b);
        fe_add(&t, &da, &cb);
        fe_mul(&x3, &t, &t);
        fe_sub(&t, &da, &cb);
        fe_mul(&t, &t, &t);
        fe_mul(&z3, &x1, &t);
        fe_mul(&x2, &aa, &bb);
        fe_mul_small(&t, &e, 121665);
        fe_add(&t, &aa, &t);
        fe_mul(&z2, &e, &t);
    }
    fe_cswap(&x2, &x3, swap);
    fe_cswap(&z2, &z3, swap);
    fe_invert(&t, &z2);
    fe_mul(&x2, &x2, &t);
    store8(out, &x2);
}

/* RFC 9380 map_to_curve_elligator2 for Curve25519 (J = A = 486662, K = 1, Z = 2), eight field
 * elements at a time: x1 = -A / (1 + 2u^2), x = x1 if x1^3 + A x1^2 + x1 is a square, else -x1 - A.
 * Returns 0, or 1 when a lane has 1 + 2u^2 = 0 (impossible for Curve25519, where -1/2 is not a
 * square; the caller then maps the batch in Python). */
TGT static int elligator8(const uint8_t *in[8], uint8_t *out[8]) {
    fe8 u, den, x1, x2, gx, t, one, a, zero, leg;
    uint8_t d[8][32], l[8][32], xs1[8][32], xs2[8][32];
    uint8_t *dp[8], *lp[8], *x1p[8], *x2p[8];
    for (int lane = 0; lane < 8; lane++) {
        dp[lane] = d[lane];
        lp[lane] = l[lane];
        x1p[lane] = xs1[lane];
        x2p[lane] = xs2[lane];
    }
    load8(&u, in);
    fe_const(&one, 1);
    fe_const(&a, 486662);
    fe_const(&zero, 0);
    fe_mul(&t, &u, &u);
    fe_add(&t, &t, &t);
    fe_add(&den, &t, &one);
    store8(dp, &den);
    for (int lane = 0; lane < 8; lane++) {
        uint8_t acc = 0;
        for (int j = 0; j < 32; j++) acc |= d[lane][j];
        if (acc == 0) return 1;
    }
    fe_invert(&t, &den);
    fe_mul(&t, &t, &a);
    fe_sub(&x1, &zero, &t);
    fe_add(&t, &x1, &a); /* gx1 = x1 (x1 (x1 + A) + 1) */
    fe_mul(&t, &t, &x1);
    fe_add(&t, &t, &one);
    fe_mul(&gx, &t, &x1);
    fe_legendre(&leg, &gx);
    fe_sub(&t, &zero, &x1);
    fe_sub(&x2, &t, &a);
    store8(lp, &leg);
    store8(x1p, &x1);
    store8(x2p, &x2);
    for (int lane = 0; lane < 8; lane++) {
        /* the symbol is 0, 1 or p - 1; p - 1 ends in 0xec */
        int square = !(l[lane][0] == 0xec);
        memcpy(out[lane], square ? xs1[lane] : xs2[lane], 32);
    }
    return 0;
}

/* The eight lanes of the batch at ``base``: rows of ``src``/``dst``, or padding past ``n``. */
typedef struct {
    const uint8_t *in[8];
    uint8_t *out[8];
} lanes;

static lanes lanes_at(const uint8_t *src, uint8_t *dst, size_t base, size_t n, const uint8_t *pad_in, uint8_t *pad_out) {
    lanes l;
    for (size_t lane = 0; lane < 8; lane++) {
        size_t i = base + lane;
        l.in[lane] = i < n ? src + 32 * i : pad_in;
        l.out[lane] = i < n ? dst + 32 * i : pad_out;
    }
    return l;
}

/* out[i] = the u-coordinate of map_to_curve_elligator2(u[i]) for n field elements of 32 bytes
 * (little-endian). Returns -1, or the index of the first element of a batch it could not map. */
long long sb_elligator2(const uint8_t *u, size_t n, uint8_t *out) {
    uint8_t pad_in[32] = {1}, pad_out[32];
    for (size_t base = 0; base < n; base += 8) {
        lanes l = lanes_at(u, out, base, n, pad_in, pad_out);
        if (elligator8(l.in, l.out)) return (long long)base;
    }
    return -1;
}

/* out[i] = X25519(scalar, points[i]) for n points of 32 bytes. Returns the index of the first
 * point whose result is all zeros (a point of small order), or -1. */
long long sb_x25519(const uint8_t *scalar, const uint8_t *points, size_t n, uint8_t *out) {
    uint8_t k[32], pad_in[32] = {9}, pad_out[32];
    memcpy(k, scalar, 32);
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
    for (size_t base = 0; base < n; base += 8) {
        lanes l = lanes_at(points, out, base, n, pad_in, pad_out);
        ladder8(k, l.in, l.out);
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t acc = 0;
        for (int j = 0; j < 32; j++) acc |= out[32 * i + j];
        if (acc == 0) return (long long)i;
    }
    return -1;
}
