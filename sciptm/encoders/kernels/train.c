/* Training kernels (forward + backward) for the packed fine-tuning path of sciptm.training.fused_training:
 * attention of packed short sequences (probabilities saved for the backward), erf GELU and its derivative,
 * and "residual add + dropout + LayerNorm" in one pass per row (with its backward).
 *
 * Plain C99 + AVX2/FMA intrinsics where it pays (exp, erf); the other loops are written for the compiler's
 * auto-vectorizer (-O3 -march=native). Single-threaded per call. All matrices are fp32, row-major, contiguous.
 *
 * Packed layout: sequences lie one after another (rows = sum of lengths, no padding). The fused QKV projection
 * is rows x 3d (q | k | v, each heads x head_dim); the attention output and its gradient are rows x d.
 * A sequence table holds (first row, length) pairs.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "simd_math.h"
#include "sgemm.h"
#include "parallel.h"

int sciptm_train_isa(void) { return SCIPTM_AVX2; }

int sciptm_train_version(void) { return 3; }

static inline int64_t round8(int64_t t) { return (t + 7) & ~(int64_t)7; }

/* ------------------------------------------------------------------------------------------------ GELU */
/* y = GELU(u) = u/2 (1 + erf(u / sqrt 2)), n elements. */
void sciptm_gelu_fwd(const float *u, float *y, int64_t n) {
    int64_t i = 0;
#if SCIPTM_AVX2
    const __m256 r2 = _mm256_set1_ps(0.70710678118654752f), half = _mm256_set1_ps(0.5f);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(u + i);
        __m256 h = _mm256_mul_ps(v, half);
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(h, erf256(_mm256_mul_ps(v, r2)), h));
    }
#endif
    for (; i < n; ++i) y[i] = 0.5f * u[i] * (1.0f + erff(u[i] * 0.70710678118654752f));
}

/* For v = u + bias (rows x cols, bias of cols floats or NULL): y = GELU(v) and dg = GELU'(v) = Phi(v) + v phi(v)
 * in one pass (the backward is then dy * dg). */
void sciptm_gelu_fwd_grad(const float *u, const float *bias, float *y, float *dg, int64_t rows, int64_t cols) {
    const int64_t n = rows * cols;
#if SCIPTM_AVX2
    if (cols % 8 == 0) {
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < cols; j += 8) {
                const int64_t i = r * cols + j;
                __m256 v = _mm256_loadu_ps(u + i), gy, gd;
                if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + j));
                gelu_grad256(v, &gy, &gd);
                _mm256_storeu_ps(y + i, gy);
                _mm256_storeu_ps(dg + i, gd);
            }
        return;
    }
#endif
    for (int64_t i = 0; i < n; ++i) {
        float v = u[i] + (bias ? bias[i % cols] : 0.0f), cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
        y[i] = v * cdf;
        dg[i] = cdf + v * 0.39894228040143268f * expf(-0.5f * v * v);
    }
}

/* du = dy * dg (rows x cols; du may alias dg) and db = the column sums of du (cols floats, overwritten). */
void sciptm_mul_colsum(const float *dy, const float *dg, float *du, float *db, int64_t rows, int64_t cols) {
    memset(db, 0, (size_t)cols * sizeof(float));
    for (int64_t r = 0; r < rows; ++r) {
        const float *a = dy + r * cols, *b = dg + r * cols;
        float *o = du + r * cols;
        for (int64_t j = 0; j < cols; ++j) {
            float v = a[j] * b[j];
            o[j] = v;
            db[j] += v;
        }
    }
}

/* du = dy * GELU'(u) = dy * (Phi(u) + u phi(u)), n elements (du may alias dy). */
void sciptm_gelu_bwd(const float *u, const float *dy, float *du, int64_t n) {
    int64_t i = 0;
#if SCIPTM_AVX2
    for (; i + 8 <= n; i += 8) {
        __m256 gy, g;
        gelu_grad256(_mm256_loadu_ps(u + i), &gy, &g);
        _mm256_storeu_ps(du + i, _mm256_mul_ps(g, _mm256_loadu_ps(dy + i)));
    }
#endif
    for (; i < n; ++i) {
        float v = u[i];
        float g = 0.5f * (1.0f + erff(v * 0.70710678118654752f)) + v * 0.39894228040143268f * expf(-0.5f * v * v);
        du[i] = g * dy[i];
    }
}

/* ------------------------------------------------------------------------------------------------ dropout RNG */
/* SFC64 (Chris Doty-Humphrey's small fast chaotic generator, the one NumPy ships), seeded by splitmix64. */
typedef struct { uint64_t a, b, c, w; } sfc64;

static inline uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t sfc64_next(sfc64 *r) {
    uint64_t out = r->a + r->b + r->w++;
    r->a = r->b ^ (r->b >> 11);
    r->b = r->c + (r->c << 3);
    r->c = ((r->c << 24) | (r->c >> 40)) + out;
    return out;
}

static void sfc64_seed(sfc64 *r, uint64_t seed) {
    uint64_t s = seed;
    r->a = splitmix64(&s);
    r->b = splitmix64(&s);
    r->c = splitmix64(&s);
    r->w = 1;
    for (int i = 0; i < 12; ++i) sfc64_next(r);
}

/* keep[i] = 1 with probability 1 - level / 65536, independently: the 16-bit slices of SFC64 words (four per
 * word) compared with a threshold, as sciptm.training.fast_dropout does with NumPy's SFC64. */
void sciptm_dropout_mask(uint8_t *keep, int64_t n, int64_t level, uint64_t seed) {
    sfc64 r;
    sfc64_seed(&r, seed);
    const int16_t thr = (int16_t)(level - 32768);
    int64_t i = 0;
#if SCIPTM_AVX2
    /* 16 flags from 4 words at once: the words' 16-bit slices in memory order are the int16 lanes */
    const __m256i thrv = _mm256_set1_epi16(thr);
    const __m128i one = _mm_set1_epi8(1);
    for (; i + 16 <= n; i += 16) {
        const uint64_t w0 = sfc64_next(&r), w1 = sfc64_next(&r), w2 = sfc64_next(&r), w3 = sfc64_next(&r);
        const __m256i v = _mm256_set_epi64x((long long)w3, (long long)w2, (long long)w1, (long long)w0);
        const __m256i drop = _mm256_cmpgt_epi16(thrv, v); /* slice < thr */
        const __m128i p = _mm_packs_epi16(_mm256_castsi256_si128(drop), _mm256_extracti128_si256(drop, 1));
        _mm_storeu_si128((__m128i *)(keep + i), _mm_andnot_si128(p, one));
    }
#endif
    for (; i + 4 <= n; i += 4) {
        uint64_t w = sfc64_next(&r);
        keep[i] = (int16_t)(uint16_t)(w & 0xFFFF) >= thr;
        keep[i + 1] = (int16_t)(uint16_t)((w >> 16) & 0xFFFF) >= thr;
        keep[i + 2] = (int16_t)(uint16_t)((w >> 32) & 0xFFFF) >= thr;
        keep[i + 3] = (int16_t)(uint16_t)(w >> 48) >= thr;
    }
    if (i < n) {
        uint64_t w = sfc64_next(&r);
        for (; i < n; ++i, w >>= 16) keep[i] = (int16_t)(uint16_t)(w & 0xFFFF) >= thr;
    }
}

/* ------------------------------------------------------------------------------------------------ add + dropout + LN */
#if SCIPTM_AVX2
static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 8 keep flags (bytes) -> a float mask of scale / 0 */
static inline __m256 keep8(const uint8_t *k, __m256 scale) {
    __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)k));
    __m256 on = _mm256_castsi256_ps(_mm256_cmpgt_epi32(v, _mm256_setzero_si256()));
    return _mm256_and_ps(on, scale);
}
#endif

/* y = LayerNorm(keep * scale * (h + hb) + x) over rows of d; xhat (normalized, before gamma/beta) and rstd saved
 * for the backward. keep may be NULL (no dropout); hb (a bias of d floats, the projection's) may be NULL. */
void sciptm_add_drop_ln_fwd(const float *h, const float *hb, const float *x, const uint8_t *keep, float scale,
                            const float *gamma,
                            const float *beta, float *y, float *xhat, float *rstd, int64_t rows, int64_t d,
                            float eps) {
#if SCIPTM_AVX2
    if (d % 8 == 0 && d <= 1024) {
        __m256 z[128];
        const __m256 sc = _mm256_set1_ps(scale);
        const int64_t nb = d / 8;
        for (int64_t r = 0; r < rows; ++r) {
            const float *hr = h + r * d, *xr = x + r * d;
            __m256 acc = _mm256_setzero_ps();
            for (int64_t b = 0; b < nb; ++b) {
                __m256 hv = _mm256_loadu_ps(hr + 8 * b);
                if (hb) hv = _mm256_add_ps(hv, _mm256_loadu_ps(hb + 8 * b));
                if (keep) hv = _mm256_mul_ps(hv, keep8(keep + r * d + 8 * b, sc));
                z[b] = _mm256_add_ps(hv, _mm256_loadu_ps(xr + 8 * b));
                acc = _mm256_add_ps(acc, z[b]);
            }
            const __m256 mean = _mm256_set1_ps(hsum8(acc) / (float)d);
            __m256 var = _mm256_setzero_ps();
            for (int64_t b = 0; b < nb; ++b) {
                z[b] = _mm256_sub_ps(z[b], mean);
                var = _mm256_fmadd_ps(z[b], z[b], var);
            }
            const float rs = 1.0f / sqrtf(hsum8(var) / (float)d + eps);
            rstd[r] = rs;
            const __m256 rv = _mm256_set1_ps(rs);
            for (int64_t b = 0; b < nb; ++b) {
                __m256 n = _mm256_mul_ps(z[b], rv);
                _mm256_storeu_ps(xhat + r * d + 8 * b, n);
                _mm256_storeu_ps(y + r * d + 8 * b,
                                 _mm256_fmadd_ps(n, _mm256_loadu_ps(gamma + 8 * b), _mm256_loadu_ps(beta + 8 * b)));
            }
        }
        return;
    }
#endif
    float *z = (float *)malloc((size_t)d * sizeof(float));
    for (int64_t r = 0; r < rows; ++r) {
        const float *hr = h + r * d, *xr = x + r * d;
        float *yr = y + r * d, *nr = xhat + r * d;
        float sum = 0.0f;
        for (int64_t c = 0; c < d; ++c) {
            float hc = hr[c] + (hb ? hb[c] : 0.0f);
            z[c] = (keep && !keep[r * d + c] ? 0.0f : (keep ? hc * scale : hc)) + xr[c];
            sum += z[c];
        }
        float mean = sum / (float)d, var = 0.0f;
        for (int64_t c = 0; c < d; ++c) {
            float t = z[c] - mean;
            var += t * t;
        }
        float rs = 1.0f / sqrtf(var / (float)d + eps);
        rstd[r] = rs;
        for (int64_t c = 0; c < d; ++c) {
            float n = (z[c] - mean) * rs;
            nr[c] = n;
            yr[c] = n * gamma[c] + beta[c];
        }
    }
    free(z);
}

/* Backward of sciptm_add_drop_ln_fwd: dx = dL/dx, dh = dL/dh (= dx * keep * scale), dgamma/dbeta and dhb (the
 * bias gradient, the column sums of dh; may be NULL) summed over rows (overwritten). */
void sciptm_add_drop_ln_bwd(const float *dy, const float *xhat, const float *rstd, const uint8_t *keep, float scale,
                            const float *gamma, float *dx, float *dh, float *dgamma, float *dbeta, float *dhb,
                            int64_t rows, int64_t d) {
    memset(dgamma, 0, (size_t)d * sizeof(float));
    memset(dbeta, 0, (size_t)d * sizeof(float));
    if (dhb) memset(dhb, 0, (size_t)d * sizeof(float));
    const float inv_d = 1.0f / (float)d;
#if SCIPTM_AVX2
    if (d % 8 == 0 && d <= 1024) {
        __m256 g[128];
        const __m256 sc = _mm256_set1_ps(scale);
        const int64_t nb = d / 8;
        for (int64_t r = 0; r < rows; ++r) {
            const float *dyr = dy + r * d, *nr = xhat + r * d;
            __m256 s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps();
            for (int64_t b = 0; b < nb; ++b) {
                __m256 dv = _mm256_loadu_ps(dyr + 8 * b), nv = _mm256_loadu_ps(nr + 8 * b);
                g[b] = _mm256_mul_ps(dv, _mm256_loadu_ps(gamma + 8 * b));
                s1 = _mm256_add_ps(s1, g[b]);
                s2 = _mm256_fmadd_ps(g[b], nv, s2);
                _mm256_storeu_ps(dgamma + 8 * b, _mm256_fmadd_ps(dv, nv, _mm256_loadu_ps(dgamma + 8 * b)));
                _mm256_storeu_ps(dbeta + 8 * b, _mm256_add_ps(dv, _mm256_loadu_ps(dbeta + 8 * b)));
            }
            const __m256 m1 = _mm256_set1_ps(hsum8(s1) * inv_d), m2 = _mm256_set1_ps(hsum8(s2) * inv_d);
            const __m256 rs = _mm256_set1_ps(rstd[r]);
            for (int64_t b = 0; b < nb; ++b) {
                __m256 nv = _mm256_loadu_ps(nr + 8 * b);
                __m256 v = _mm256_mul_ps(rs, _mm256_sub_ps(_mm256_sub_ps(g[b], m1), _mm256_mul_ps(nv, m2)));
                _mm256_storeu_ps(dx + r * d + 8 * b, v);
                __m256 hv = keep ? _mm256_mul_ps(v, keep8(keep + r * d + 8 * b, sc)) : v;
                _mm256_storeu_ps(dh + r * d + 8 * b, hv);
                if (dhb) _mm256_storeu_ps(dhb + 8 * b, _mm256_add_ps(hv, _mm256_loadu_ps(dhb + 8 * b)));
            }
        }
        return;
    }
#endif
    float *g = (float *)malloc((size_t)d * sizeof(float));
    for (int64_t r = 0; r < rows; ++r) {
        const float *dyr = dy + r * d, *nr = xhat + r * d;
        float *dxr = dx + r * d, *dhr = dh + r * d;
        float s1 = 0.0f, s2 = 0.0f;
        for (int64_t c = 0; c < d; ++c) {
            float gc = dyr[c] * gamma[c];
            g[c] = gc;
            s1 += gc;
            s2 += gc * nr[c];
            dgamma[c] += dyr[c] * nr[c];
            dbeta[c] += dyr[c];
        }
        float m1 = s1 * inv_d, m2 = s2 * inv_d, rs = rstd[r];
        for (int64_t c = 0; c < d; ++c) dxr[c] = rs * (g[c] - m1 - nr[c] * m2);
        for (int64_t c = 0; c < d; ++c) {
            dhr[c] = keep ? (keep[r * d + c] ? dxr[c] * scale : 0.0f) : dxr[c];
            if (dhb) dhb[c] += dhr[c];
        }
    }
    free(g);
}

/* ------------------------------------------------------------------------------------------------ attention */
/* Per sequence, all heads at once: the operands are copied (bias added, q scaled) into L1/L2-sized scratch as
 * heads x tp x hd (row-major) or heads x hd x tp (transposed) blocks; rows t..tp of a transposed block are zero.
 * The products run through register-blocked tiles (matmul_tiles below); dO and the outputs are read/written
 * in place in the packed rows (row stride d or 3d). */
typedef struct {
    float *base, *q, *k, *kvt, *s;
    int64_t cap;
} scratch;

static int scratch_reserve(scratch *w, int64_t t, int64_t heads, int64_t hd) {
    const int64_t tp = round8(t);
    const int64_t per = heads * tp * hd;
    const int64_t need = 3 * per + tp * tp;
    if (need > w->cap) {
        free(w->base);
        w->base = (float *)malloc((size_t)need * sizeof(float));
        if (!w->base) return -1;
        w->cap = need;
    }
    w->q = w->base;
    w->k = w->q + per;
    w->kvt = w->k + per;
    w->s = w->kvt + per;
    return 0;
}

/* epilogues of a product tile: C = acc, or (the attention backward's dS) C = P * (acc - D_row) * scale, P read at
 * the same position as C (row stride ldc) */
enum { EPI_STORE = 0, EPI_DS = 1 };

#if SCIPTM_AVX2
/* One MR x (8 NV) tile of C = A B over k (MR * NV <= 12 accumulators, NV <= 4): A(i, p) at a[i * sa + p * sp],
 * B row stride ldb. Inlined with constant MR/NV, so the accumulators stay in registers. */
static inline __attribute__((always_inline)) void mm_tile(const float *restrict a, int64_t sa, int64_t sp,
                                                          const float *restrict b, int64_t ldb, float *restrict c,
                                                          int64_t ldc, int64_t k, const int MR, const int NV, int epi,
                                                          const float *restrict p, const float *restrict dsum,
                                                          float scale) {
    __m256 acc[12];
#pragma GCC unroll 12
    for (int x = 0; x < 12; ++x) acc[x] = _mm256_setzero_ps();
    for (int64_t q = 0; q < k; ++q) {
        __m256 bv[4];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) bv[v] = _mm256_loadu_ps(b + q * ldb + 8 * v);
#pragma GCC unroll 12
        for (int i = 0; i < MR; ++i) {
            const __m256 av = _mm256_broadcast_ss(a + i * sa + q * sp);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[i * NV + v] = _mm256_fmadd_ps(av, bv[v], acc[i * NV + v]);
        }
    }
    if (epi == EPI_DS) {
        const __m256 sc = _mm256_set1_ps(scale);
#pragma GCC unroll 12
        for (int i = 0; i < MR; ++i) {
            const __m256 di = _mm256_set1_ps(dsum[i]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) {
                const __m256 pv = _mm256_mul_ps(_mm256_loadu_ps(p + i * ldc + 8 * v), sc);
                _mm256_storeu_ps(c + i * ldc + 8 * v, _mm256_mul_ps(pv, _mm256_sub_ps(acc[i * NV + v], di)));
            }
        }
    } else {
#pragma GCC unroll 12
        for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) _mm256_storeu_ps(c + i * ldc + 8 * v, acc[i * NV + v]);
    }
}

#define MM_TILE_CASE(MR, NV) \
    case (MR) * 8 + (NV): mm_tile(a, sa, sp, b, ldb, c, ldc, k, MR, NV, epi, p, dsum, scale); return;

static void mm_tile_any(const float *a, int64_t sa, int64_t sp, const float *b, int64_t ldb, float *c, int64_t ldc,
                        int64_t k, int mr, int nv, int epi, const float *p, const float *dsum, float scale) {
    switch (mr * 8 + nv) {
        MM_TILE_CASE(1, 1) MM_TILE_CASE(2, 1) MM_TILE_CASE(3, 1) MM_TILE_CASE(4, 1) MM_TILE_CASE(5, 1)
        MM_TILE_CASE(6, 1) MM_TILE_CASE(7, 1) MM_TILE_CASE(8, 1) MM_TILE_CASE(9, 1) MM_TILE_CASE(10, 1)
        MM_TILE_CASE(11, 1) MM_TILE_CASE(12, 1)
        MM_TILE_CASE(1, 2) MM_TILE_CASE(2, 2) MM_TILE_CASE(3, 2) MM_TILE_CASE(4, 2) MM_TILE_CASE(5, 2)
        MM_TILE_CASE(6, 2)
        MM_TILE_CASE(1, 3) MM_TILE_CASE(2, 3) MM_TILE_CASE(3, 3) MM_TILE_CASE(4, 3)
        MM_TILE_CASE(1, 4) MM_TILE_CASE(2, 4) MM_TILE_CASE(3, 4)
        default: return;
    }
}
#endif

/* C (m x n) = A (m x k) B (k x n), A(i, p) at a[i * sa + p * sp] (sa = lda, sp = 1: A row-major; sa = 1, sp = lda:
 * A given transposed), B row stride ldb, C row stride ldc; n a multiple of 8. Epilogue EPI_DS: C = P * (AB - dsum[i])
 * * scale (P at C's positions in p, row stride ldc). Columns in blocks of up to 4 vectors, rows in blocks of
 * 12 / vectors (12 accumulators: FMA-bound, not load-bound), edges by smaller tiles of the same kernel. */
static void matmul_tiles(const float *restrict a, int64_t sa, int64_t sp, const float *restrict b, int64_t ldb,
                         float *restrict c, int64_t ldc, int64_t m, int64_t n, int64_t k, int epi, const float *p,
                         const float *dsum, float scale) {
#if SCIPTM_AVX2
    for (int64_t j = 0; j < n;) {
        const int64_t left = (n - j) / 8;
        const int nv = left <= 4 ? (int)left : (left <= 6 ? 3 : 4);
        const int mr = 12 / nv;
        for (int64_t i = 0; i < m; i += mr) {
            const int rows = m - i < mr ? (int)(m - i) : mr;
            mm_tile_any(a + i * sa, sa, sp, b + j, ldb, c + i * ldc + j, ldc, k, rows, nv, epi,
                        p ? p + i * ldc + j : NULL, dsum ? dsum + i : NULL, scale);
        }
        j += 8 * nv;
    }
#else
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            float acc = 0.0f;
            for (int64_t q = 0; q < k; ++q) acc += a[i * sa + q * sp] * b[q * ldb + j];
            c[i * ldc + j] = epi == EPI_DS ? p[i * ldc + j] * (acc - dsum[i]) * scale : acc;
        }
#endif
}

/* dst (cols x ld) = src^T for src rows x cols (row stride ls); rows and cols multiples of 8 with AVX2. */
static void transpose(const float *src, int64_t ls, float *dst, int64_t ld, int64_t rows, int64_t cols) {
#if SCIPTM_AVX2
    for (int64_t r = 0; r < rows; r += 8)
        for (int64_t c = 0; c < cols; c += 8) transpose8(src + r * ls + c, ls, dst + c * ld + r, ld);
#else
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) dst[c * ld + r] = src[r * ls + c];
#endif
}

/* softmax of each row of s over j < t, in place; entries t <= j < tp set to 0 (tp a multiple of 8). */
static void softmax_rows(float *s, int64_t t, int64_t tp) {
#if SCIPTM_AVX2
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    /* lanes of the last block that lie beyond t */
    const __m256 pad = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_add_epi32(lane, _mm256_set1_epi32((int)(tp - 8))),
                                                              _mm256_set1_epi32((int)(t - 1))));
    for (int64_t i = 0; i < t; ++i) {
        float *r = s + i * tp;
        __m256 last = _mm256_blendv_ps(_mm256_loadu_ps(r + tp - 8), ninf, pad);
        _mm256_storeu_ps(r + tp - 8, last);
        __m256 mx = last;
        for (int64_t j = 0; j + 8 < tp; j += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(r + j));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const __m256 m = _mm256_broadcastss_ps(m4);
        __m256 acc = _mm256_setzero_ps();
        for (int64_t j = 0; j < tp; j += 8) {
            __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(r + j), m));
            _mm256_storeu_ps(r + j, e);
            acc = _mm256_add_ps(acc, e);
        }
        const __m256 inv = _mm256_set1_ps(1.0f / hsum8(acc));
        for (int64_t j = 0; j < tp; j += 8) _mm256_storeu_ps(r + j, _mm256_mul_ps(_mm256_loadu_ps(r + j), inv));
    }
#else
    for (int64_t i = 0; i < t; ++i) {
        float *r = s + i * tp;
        float mx = r[0];
        for (int64_t j = 1; j < t; ++j) mx = r[j] > mx ? r[j] : mx;
        float sum = 0.0f;
        for (int64_t j = 0; j < t; ++j) {
            r[j] = expf(r[j] - mx);
            sum += r[j];
        }
        float inv = 1.0f / sum;
        int64_t j = 0;
        for (; j < t; ++j) r[j] *= inv;
        for (; j < tp; ++j) r[j] = 0.0f;
    }
#endif
}

/* dst[c] = (src[c] + bias[c]) * scale for c < n (bias may be NULL) */
static inline void load_row(float *restrict dst, const float *restrict src, const float *restrict bias, float scale,
                            int64_t n) {
    int64_t c = 0;
#if SCIPTM_AVX2
    const __m256 sc = _mm256_set1_ps(scale);
    for (; c + 8 <= n; c += 8) {
        __m256 v = _mm256_loadu_ps(src + c);
        if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + c));
        _mm256_storeu_ps(dst + c, _mm256_mul_ps(v, sc));
    }
#endif
    for (; c < n; ++c) dst[c] = (src[c] + (bias ? bias[c] : 0.0f)) * scale;
}

/* prefetch n floats from p into the cache (the next sequence's rows while this one computes) */
static inline void prefetch_floats(const float *p, int64_t n) {
#if SCIPTM_AVX2
    for (int64_t i = 0; i < n; i += 16) _mm_prefetch((const char *)(p + i), _MM_HINT_T0);
#else
    (void)p;
    (void)n;
#endif
}

/* One sequence, all heads, its packed rows read in order: q (+ bias, times qscale) and k (+ bias) into
 * heads x tp x hd blocks (rows t..tp zero) when k_rows, and the third operand transposed into heads x hd x tp
 * (columns t..tp zero): k^T (forward, k_rows = 0: k itself not kept) or v^T (backward, k_rows = 1). The
 * forward's v is read in place. */
static void load_sequence(const float *qkv, const float *bias, int64_t first, int64_t t, int64_t heads, int64_t hd,
                          float qscale, scratch *w, int backward) {
    const int64_t d = heads * hd, ld = 3 * d, tp = round8(t), per = tp * hd;
    /* rows of the block that is transposed go through k (forward: k, backward: v), zero-padded to tp rows */
    const int64_t toff = backward ? 2 * d : d;
    for (int64_t i = 0; i < t; ++i) {
        const float *row = qkv + (first + i) * ld;
        for (int64_t h = 0; h < heads; ++h) {
            load_row(w->q + h * per + i * hd, row + h * hd, bias ? bias + h * hd : NULL, qscale, hd);
            load_row(w->k + h * per + i * hd, row + toff + h * hd, bias ? bias + toff + h * hd : NULL, 1.0f, hd);
        }
    }
    for (int64_t h = 0; h < heads; ++h) {
        memset(w->k + h * per + t * hd, 0, (size_t)((tp - t) * hd) * sizeof(float));
        transpose(w->k + h * per, hd, w->kvt + h * per, tp, tp, hd);
    }
    if (backward) /* k itself (+ bias) for dQ = dS K */
        for (int64_t i = 0; i < t; ++i) {
            const float *row = qkv + (first + i) * ld + d;
            for (int64_t h = 0; h < heads; ++h)
                load_row(w->k + h * per + i * hd, row + h * hd, bias ? bias + d + h * hd : NULL, 1.0f, hd);
        }
}

/* Forward: out (rows x d) = attention of every sequence of seqs ((first row, length) pairs) of qkv + bias (bias
 * of 3d floats or NULL); the probabilities of sequence s, head h are saved at probs + offset(s) + h * t * tp
 * (offset(s) = sum over earlier sequences of heads * t * round8(t)). Returns 0, or -1 when scratch memory
 * cannot be allocated. */
int sciptm_attn_fwd(const float *qkv, const float *bias, float *out, float *probs, const int64_t *seqs,
                    int64_t n_seqs, int64_t heads, int64_t hd, float scale) {
    const int64_t d = heads * hd, ld = 3 * d;
    scratch w = {0};
    float *vb = NULL;
    int64_t off = 0, vcap = 0;
    for (int64_t s = 0; s < n_seqs; ++s) {
        const int64_t first = seqs[2 * s], t = seqs[2 * s + 1], tp = round8(t), per = tp * hd;
        if (t <= 0) continue;
        if (scratch_reserve(&w, t, heads, hd)) {
            free(w.base);
            free(vb);
            return -1;
        }
        if (s + 1 < n_seqs) {
            const int64_t nf = seqs[2 * s + 2], nt = seqs[2 * s + 3];
            prefetch_floats(qkv + nf * ld, nt * ld);
            prefetch_floats(out + nf * d, nt * d);
            prefetch_floats(probs + off + heads * t * tp, heads * nt * round8(nt));
        }
        load_sequence(qkv, bias, first, t, heads, hd, scale, &w, 0);
        /* v + bias: in place when there is no bias, else a copy (t x d) */
        const float *v = qkv + first * ld + 2 * d;
        int64_t ldv = ld;
        if (bias) {
            if (t * d > vcap) {
                free(vb);
                vb = (float *)malloc((size_t)(t * d) * sizeof(float));
                if (!vb) {
                    free(w.base);
                    return -1;
                }
                vcap = t * d;
            }
            for (int64_t i = 0; i < t; ++i) load_row(vb + i * d, qkv + (first + i) * ld + 2 * d, bias + 2 * d, 1.0f, d);
            v = vb;
            ldv = d;
        }
        for (int64_t h = 0; h < heads; ++h) {
            float *p = probs + off + h * t * tp;
            matmul_tiles(w.q + h * per, hd, 1, w.kvt + h * per, tp, p, tp, t, tp, hd, EPI_STORE, NULL, NULL, 1.0f);
            softmax_rows(p, t, tp);
            matmul_tiles(p, tp, 1, v + h * hd, ldv, out + first * d + h * hd, d, t, hd, t, EPI_STORE, NULL, NULL,
                         1.0f);
        }
        off += heads * t * tp;
    }
    free(w.base);
    free(vb);
    return 0;
}

/* Backward: dqkv (rows x 3d, rows of the sequences overwritten) and dbias (3d floats, the column sums of dqkv;
 * may be NULL) from dout (rows x d), the forward's out and probs, qkv and bias. */
int sciptm_attn_bwd(const float *qkv, const float *bias, const float *out, const float *probs, const float *dout,
                    float *dqkv, float *dbias, const int64_t *seqs, int64_t n_seqs, int64_t heads, int64_t hd,
                    float scale) {
    const int64_t d = heads * hd, ld = 3 * d;
    scratch w = {0};
    if (dbias) memset(dbias, 0, (size_t)(3 * d) * sizeof(float));
    int64_t off = 0;
    float *dsum = NULL;
    int64_t dsum_cap = 0;
    for (int64_t s = 0; s < n_seqs; ++s) {
        const int64_t first = seqs[2 * s], t = seqs[2 * s + 1], tp = round8(t), per = tp * hd;
        if (t <= 0) continue;
        if (scratch_reserve(&w, t, heads, hd)) {
            free(w.base);
            free(dsum);
            return -1;
        }
        if (t > dsum_cap) {
            free(dsum);
            dsum = (float *)malloc((size_t)(t * heads) * sizeof(float));
            if (!dsum) {
                free(w.base);
                return -1;
            }
            dsum_cap = t;
        }
        if (s + 1 < n_seqs) {
            const int64_t nf = seqs[2 * s + 2], nt = seqs[2 * s + 3];
            prefetch_floats(qkv + nf * ld, nt * ld);
            prefetch_floats(dout + nf * d, nt * d);
            prefetch_floats(out + nf * d, nt * d);
            prefetch_floats(probs + off + heads * t * tp, heads * nt * round8(nt));
            prefetch_floats(dqkv + nf * ld, nt * ld);
        }
        load_sequence(qkv, bias, first, t, heads, hd, 1.0f, &w, 1);
        /* D_i = dO_i . O_i per head */
        for (int64_t i = 0; i < t; ++i) {
            const float *g = dout + (first + i) * d, *o = out + (first + i) * d;
            for (int64_t h = 0; h < heads; ++h) {
                float acc = 0.0f;
                int64_t c = 0;
#if SCIPTM_AVX2
                __m256 a8 = _mm256_setzero_ps();
                for (; c + 8 <= hd; c += 8)
                    a8 = _mm256_fmadd_ps(_mm256_loadu_ps(g + h * hd + c), _mm256_loadu_ps(o + h * hd + c), a8);
                acc = hsum8(a8);
#endif
                for (; c < hd; ++c) acc += g[h * hd + c] * o[h * hd + c];
                dsum[h * t + i] = acc;
            }
        }
        float *dq = dqkv + first * ld, *dk = dq + d, *dv = dk + d;
        const float *dO = dout + first * d;
        for (int64_t h = 0; h < heads; ++h) {
            const float *p = probs + off + h * t * tp;
            /* dS = P * (dO V^T - D) * scale (t x tp), in the product's epilogue */
            matmul_tiles(dO + h * hd, d, 1, w.kvt + h * per, tp, w.s, tp, t, tp, hd, EPI_DS, p, dsum + h * t, scale);
            /* dQ = dS K; dK = dS^T Q; dV = P^T dO (t x hd each, written into the packed rows; the transposes read
             * with swapped strides) */
            matmul_tiles(w.s, tp, 1, w.k + h * per, hd, dq + h * hd, ld, t, hd, t, EPI_STORE, NULL, NULL, 1.0f);
            matmul_tiles(w.s, 1, tp, w.q + h * per, hd, dk + h * hd, ld, t, hd, t, EPI_STORE, NULL, NULL, 1.0f);
            matmul_tiles(p, 1, tp, dO + h * hd, d, dv + h * hd, ld, t, hd, t, EPI_STORE, NULL, NULL, 1.0f);
        }
        if (dbias)
            for (int64_t i = 0; i < t; ++i) {
                const float *row = dqkv + (first + i) * ld;
                int64_t c = 0;
#if SCIPTM_AVX2
                for (; c + 8 <= ld; c += 8)
                    _mm256_storeu_ps(dbias + c, _mm256_add_ps(_mm256_loadu_ps(dbias + c), _mm256_loadu_ps(row + c)));
#endif
                for (; c < ld; ++c) dbias[c] += row[c];
            }
        off += heads * t * tp;
    }
    free(w.base);
    free(dsum);
    return 0;
}

/* ---- part functions of the kernels split over threads (parallel.h) ---- */
SCIPTM_PART(sciptm_sgemm, SCIPTM_I(0), SCIPTM_I(1), SCIPTM_I(2), SCIPTM_P(3), SCIPTM_I(4), SCIPTM_I(5), SCIPTM_P(6), SCIPTM_I(7), SCIPTM_I(8), SCIPTM_P(9), SCIPTM_I(10), (int)SCIPTM_I(11),
            (int)SCIPTM_I(12), SCIPTM_P(13), SCIPTM_P(14), SCIPTM_P(15))
SCIPTM_PART(sciptm_attn_fwd, SCIPTM_P(0), SCIPTM_P(1), SCIPTM_P(2), SCIPTM_P(3), SCIPTM_P(4), SCIPTM_I(5), SCIPTM_I(6), SCIPTM_I(7), SCIPTM_F(8))
SCIPTM_PART(sciptm_attn_bwd, SCIPTM_P(0), SCIPTM_P(1), SCIPTM_P(2), SCIPTM_P(3), SCIPTM_P(4), SCIPTM_P(5), SCIPTM_P(6), SCIPTM_P(7), SCIPTM_I(8), SCIPTM_I(9), SCIPTM_I(10), SCIPTM_F(11))
SCIPTM_PART_VOID(sciptm_gelu_fwd_grad, SCIPTM_P(0), SCIPTM_P(1), SCIPTM_P(2), SCIPTM_P(3), SCIPTM_I(4), SCIPTM_I(5))
SCIPTM_PART_VOID(sciptm_mul_colsum, SCIPTM_P(0), SCIPTM_P(1), SCIPTM_P(2), SCIPTM_P(3), SCIPTM_I(4), SCIPTM_I(5))
SCIPTM_PART_VOID(sciptm_add_drop_ln_fwd, SCIPTM_P(0), SCIPTM_P(1), SCIPTM_P(2), SCIPTM_P(3), SCIPTM_F(4), SCIPTM_P(5), SCIPTM_P(6), SCIPTM_P(7), SCIPTM_P(8), SCIPTM_P(9), SCIPTM_I(10), SCIPTM_I(11), SCIPTM_F(12))
SCIPTM_PART_VOID(sciptm_add_drop_ln_bwd, SCIPTM_P(0), SCIPTM_P(1), SCIPTM_P(2), SCIPTM_P(3), SCIPTM_F(4), SCIPTM_P(5), SCIPTM_P(6), SCIPTM_P(7), SCIPTM_P(8), SCIPTM_P(9), SCIPTM_P(10), SCIPTM_I(11), SCIPTM_I(12))
