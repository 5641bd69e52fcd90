/* Kernels of sciptm's lean inference forward (int8/fp32 embed on CPU): fused attention over packed short
 * sequences, an in-place GELU (sciptm_gelu_erf) and a residual add + LayerNorm (sciptm_add_layernorm), the
 * last two at the end of the file.
 *
 * One call per layer does, for every sequence of every group and every head, what
 * F.scaled_dot_product_attention(q, k, v) does without a mask:
 *     out = softmax(q k^T * scale) v        (softmax with the row maximum subtracted)
 *
 * Layout (all fp32, C-contiguous):
 *   qkv    rows x 3 x heads x head_dim     (the fused QKV projection: [q | k | v] per row)
 *   out    rows x heads x head_dim         (heads concatenated, what the output projection reads)
 *   groups n_groups x 3 int64              (first row, number of sequences, length): a run of `count`
 *                                          sequences of `length` tokens each starting at row `first`
 * Rows of `out` outside every group are not written.
 *
 * Memory per call is O(max_length x (head_dim + 8)) floats (key tile transposed, four score rows), so any
 * sequence length works. Plain C99; the AVX2/FMA paths are compiled when the compiler targets them
 * (-march=native on such a CPU), a scalar path otherwise (sciptm_attention_isa() tells which).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "simd_math.h"
#include "parallel.h"

#define QROWS 4 /* query rows per score tile */

int sciptm_attention_isa(void) { return SCIPTM_AVX2; }

int sciptm_attention_version(void) { return 3; }

#if SCIPTM_AVX2
/* GELU (erf form) for 8 floats: x / 2 (1 + erf(x / sqrt 2)); large negative x give exactly 0. */
static inline __m256 gelu256(__m256 v) {
    __m256 h = _mm256_mul_ps(v, _mm256_set1_ps(0.5f));
    return _mm256_fmadd_ps(h, erf256(_mm256_mul_ps(v, _mm256_set1_ps(0.70710678118654752f))), h);
}

static inline float hmax256(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

/* Scores of QROWS query rows against all keys: s[r * tp + j] = scale * q_r . k_j for j < t, -inf for
 * t <= j < tp; mx[r] = max_j s[r * tp + j]. q[r]: head_dim contiguous floats; kt: the keys transposed
 * (head_dim x tp, contiguous); tp is a multiple of 8. */
static void scores(const float *const q[QROWS], const float *kt, int64_t hd, int64_t t, int64_t tp, float scale,
                   float *s, float mx[QROWS]) {
#if SCIPTM_AVX2
    const __m256 vs = _mm256_set1_ps(scale), ninf = _mm256_set1_ps(-INFINITY), lim = _mm256_set1_ps((float)t);
    const __m256 lane = _mm256_setr_ps(0.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f);
    __m256 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
    int64_t j = 0;
    for (; j + 16 <= tp; j += 16) {
        __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a10 = _mm256_setzero_ps(),
               a11 = _mm256_setzero_ps(), a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps(),
               a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
        const float *k = kt + j;
        for (int64_t c = 0; c < hd; ++c, k += tp) {
            __m256 k0 = _mm256_loadu_ps(k), k1 = _mm256_loadu_ps(k + 8);
            __m256 b = _mm256_broadcast_ss(q[0] + c);
            a00 = _mm256_fmadd_ps(b, k0, a00);
            a01 = _mm256_fmadd_ps(b, k1, a01);
            b = _mm256_broadcast_ss(q[1] + c);
            a10 = _mm256_fmadd_ps(b, k0, a10);
            a11 = _mm256_fmadd_ps(b, k1, a11);
            b = _mm256_broadcast_ss(q[2] + c);
            a20 = _mm256_fmadd_ps(b, k0, a20);
            a21 = _mm256_fmadd_ps(b, k1, a21);
            b = _mm256_broadcast_ss(q[3] + c);
            a30 = _mm256_fmadd_ps(b, k0, a30);
            a31 = _mm256_fmadd_ps(b, k1, a31);
        }
        a00 = _mm256_mul_ps(a00, vs), a01 = _mm256_mul_ps(a01, vs), a10 = _mm256_mul_ps(a10, vs);
        a11 = _mm256_mul_ps(a11, vs), a20 = _mm256_mul_ps(a20, vs), a21 = _mm256_mul_ps(a21, vs);
        a30 = _mm256_mul_ps(a30, vs), a31 = _mm256_mul_ps(a31, vs);
        if (j + 16 > t) { /* columns past the sequence: -inf */
            __m256 out0 = _mm256_cmp_ps(_mm256_add_ps(lane, _mm256_set1_ps((float)j)), lim, _CMP_GE_OQ);
            __m256 out1 = _mm256_cmp_ps(_mm256_add_ps(lane, _mm256_set1_ps((float)(j + 8))), lim, _CMP_GE_OQ);
            a00 = _mm256_blendv_ps(a00, ninf, out0), a01 = _mm256_blendv_ps(a01, ninf, out1);
            a10 = _mm256_blendv_ps(a10, ninf, out0), a11 = _mm256_blendv_ps(a11, ninf, out1);
            a20 = _mm256_blendv_ps(a20, ninf, out0), a21 = _mm256_blendv_ps(a21, ninf, out1);
            a30 = _mm256_blendv_ps(a30, ninf, out0), a31 = _mm256_blendv_ps(a31, ninf, out1);
        }
        _mm256_storeu_ps(s + j, a00);
        _mm256_storeu_ps(s + j + 8, a01);
        _mm256_storeu_ps(s + tp + j, a10);
        _mm256_storeu_ps(s + tp + j + 8, a11);
        _mm256_storeu_ps(s + 2 * tp + j, a20);
        _mm256_storeu_ps(s + 2 * tp + j + 8, a21);
        _mm256_storeu_ps(s + 3 * tp + j, a30);
        _mm256_storeu_ps(s + 3 * tp + j + 8, a31);
        m0 = _mm256_max_ps(m0, _mm256_max_ps(a00, a01));
        m1 = _mm256_max_ps(m1, _mm256_max_ps(a10, a11));
        m2 = _mm256_max_ps(m2, _mm256_max_ps(a20, a21));
        m3 = _mm256_max_ps(m3, _mm256_max_ps(a30, a31));
    }
    if (j < tp) { /* a last block of 8 keys */
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
               a3 = _mm256_setzero_ps();
        const float *k = kt + j;
        for (int64_t c = 0; c < hd; ++c, k += tp) {
            __m256 k0 = _mm256_loadu_ps(k);
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(q[0] + c), k0, a0);
            a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(q[1] + c), k0, a1);
            a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(q[2] + c), k0, a2);
            a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(q[3] + c), k0, a3);
        }
        __m256 out0 = _mm256_cmp_ps(_mm256_add_ps(lane, _mm256_set1_ps((float)j)), lim, _CMP_GE_OQ);
        a0 = _mm256_blendv_ps(_mm256_mul_ps(a0, vs), ninf, out0);
        a1 = _mm256_blendv_ps(_mm256_mul_ps(a1, vs), ninf, out0);
        a2 = _mm256_blendv_ps(_mm256_mul_ps(a2, vs), ninf, out0);
        a3 = _mm256_blendv_ps(_mm256_mul_ps(a3, vs), ninf, out0);
        _mm256_storeu_ps(s + j, a0);
        _mm256_storeu_ps(s + tp + j, a1);
        _mm256_storeu_ps(s + 2 * tp + j, a2);
        _mm256_storeu_ps(s + 3 * tp + j, a3);
        m0 = _mm256_max_ps(m0, a0), m1 = _mm256_max_ps(m1, a1), m2 = _mm256_max_ps(m2, a2);
        m3 = _mm256_max_ps(m3, a3);
    }
    mx[0] = hmax256(m0), mx[1] = hmax256(m1), mx[2] = hmax256(m2), mx[3] = hmax256(m3);
#else
    for (int r = 0; r < QROWS; ++r) {
        mx[r] = -INFINITY;
        for (int64_t j = 0; j < tp; ++j) {
            float acc = 0.0f;
            for (int64_t c = 0; c < hd; ++c) acc += q[r][c] * kt[c * tp + j];
            s[r * tp + j] = j < t ? acc * scale : -INFINITY;
            mx[r] = s[r * tp + j] > mx[r] ? s[r * tp + j] : mx[r];
        }
    }
#endif
}

/* In place for QROWS rows: s_r[0:tp] <- exp(s_r - mx[r]) (0 beyond t); inv[r] = 1 / sum. */
static void softmax_rows(float *s, int64_t t, int64_t tp, const float mx[QROWS], float inv[QROWS]) {
#if SCIPTM_AVX2
    const __m256 x0 = _mm256_set1_ps(mx[0]), x1 = _mm256_set1_ps(mx[1]), x2 = _mm256_set1_ps(mx[2]),
                 x3 = _mm256_set1_ps(mx[3]);
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps(), c2 = _mm256_setzero_ps(), c3 = _mm256_setzero_ps();
    for (int64_t j = 0; j < tp; j += 8) {
        __m256 e0 = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + j), x0));
        __m256 e1 = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + tp + j), x1));
        __m256 e2 = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + 2 * tp + j), x2));
        __m256 e3 = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + 3 * tp + j), x3));
        _mm256_storeu_ps(s + j, e0);
        _mm256_storeu_ps(s + tp + j, e1);
        _mm256_storeu_ps(s + 2 * tp + j, e2);
        _mm256_storeu_ps(s + 3 * tp + j, e3);
        c0 = _mm256_add_ps(c0, e0), c1 = _mm256_add_ps(c1, e1), c2 = _mm256_add_ps(c2, e2);
        c3 = _mm256_add_ps(c3, e3);
    }
    inv[0] = 1.0f / hsum256(c0), inv[1] = 1.0f / hsum256(c1), inv[2] = 1.0f / hsum256(c2);
    inv[3] = 1.0f / hsum256(c3);
#else
    for (int r = 0; r < QROWS; ++r) {
        float sum = 0.0f;
        for (int64_t j = 0; j < tp; ++j) {
            float *e = s + r * tp + j;
            *e = j < t ? expf(*e - mx[r]) : 0.0f;
            sum += *e;
        }
        inv[r] = 1.0f / sum;
    }
#endif
}

/* o_r[0:hd] = inv_r * sum_{j<t} p_r[j] v_j for `nr` (1..QROWS) rows; v rows are `ldv` floats apart. */
static void weighted_values(const float *p, int64_t tp, const float *v, int64_t ldv, int64_t t, int64_t hd, int nr,
                            const float *inv, float *const o[QROWS]) {
    int64_t c0 = 0;
#if SCIPTM_AVX2
    for (int r = 0; r < nr; r += 2) {
        const int two = r + 1 < nr;
        const float *p0 = p + r * tp, *p1 = p + (r + two) * tp;
        for (c0 = 0; c0 + 32 <= hd; c0 += 32) {
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
                   a3 = _mm256_setzero_ps(), b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(),
                   b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
            const float *vj = v + c0;
            for (int64_t j = 0; j < t; ++j, vj += ldv) {
                __m256 v0 = _mm256_loadu_ps(vj), v1 = _mm256_loadu_ps(vj + 8), v2 = _mm256_loadu_ps(vj + 16),
                       v3 = _mm256_loadu_ps(vj + 24);
                __m256 w = _mm256_broadcast_ss(p0 + j);
                a0 = _mm256_fmadd_ps(w, v0, a0);
                a1 = _mm256_fmadd_ps(w, v1, a1);
                a2 = _mm256_fmadd_ps(w, v2, a2);
                a3 = _mm256_fmadd_ps(w, v3, a3);
                w = _mm256_broadcast_ss(p1 + j);
                b0 = _mm256_fmadd_ps(w, v0, b0);
                b1 = _mm256_fmadd_ps(w, v1, b1);
                b2 = _mm256_fmadd_ps(w, v2, b2);
                b3 = _mm256_fmadd_ps(w, v3, b3);
            }
            __m256 i0 = _mm256_set1_ps(inv[r]);
            _mm256_storeu_ps(o[r] + c0, _mm256_mul_ps(a0, i0));
            _mm256_storeu_ps(o[r] + c0 + 8, _mm256_mul_ps(a1, i0));
            _mm256_storeu_ps(o[r] + c0 + 16, _mm256_mul_ps(a2, i0));
            _mm256_storeu_ps(o[r] + c0 + 24, _mm256_mul_ps(a3, i0));
            if (two) {
                __m256 i1 = _mm256_set1_ps(inv[r + 1]);
                _mm256_storeu_ps(o[r + 1] + c0, _mm256_mul_ps(b0, i1));
                _mm256_storeu_ps(o[r + 1] + c0 + 8, _mm256_mul_ps(b1, i1));
                _mm256_storeu_ps(o[r + 1] + c0 + 16, _mm256_mul_ps(b2, i1));
                _mm256_storeu_ps(o[r + 1] + c0 + 24, _mm256_mul_ps(b3, i1));
            }
        }
        for (; c0 + 8 <= hd; c0 += 8) {
            __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
            const float *vj = v + c0;
            for (int64_t j = 0; j < t; ++j, vj += ldv) {
                __m256 vv = _mm256_loadu_ps(vj);
                a = _mm256_fmadd_ps(_mm256_broadcast_ss(p0 + j), vv, a);
                b = _mm256_fmadd_ps(_mm256_broadcast_ss(p1 + j), vv, b);
            }
            _mm256_storeu_ps(o[r] + c0, _mm256_mul_ps(a, _mm256_set1_ps(inv[r])));
            if (two) _mm256_storeu_ps(o[r + 1] + c0, _mm256_mul_ps(b, _mm256_set1_ps(inv[r + 1])));
        }
    }
#endif
    /* columns no vector covered (all of them without AVX2; head_dim % 8 with it) */
    for (int r = 0; r < nr; ++r)
        for (int64_t c = c0; c < hd; ++c) {
            float acc = 0.0f;
            for (int64_t j = 0; j < t; ++j) acc += p[r * tp + j] * v[j * ldv + c];
            o[r][c] = acc * inv[r];
        }
}

static inline void copy_floats(float *dst, const float *src, int64_t n) {
    int64_t c = 0;
#if SCIPTM_AVX2
    for (; c + 8 <= n; c += 8) _mm256_storeu_ps(dst + c, _mm256_loadu_ps(src + c));
#endif
    for (; c < n; ++c) dst[c] = src[c];
}

/* Attention of one sequence, all heads. `rows` points at the sequence's first row of the QKV matrix (rows
 * 3 * heads * hd floats apart), o at its first output row (rows heads * hd apart). The sequence's q and v are
 * first copied per head to contiguous t x hd buffers and k transposed per head to hd x tp, reading the rows in
 * order: rows of the packed matrix are 3d floats apart, so reading one head's columns row by row would map
 * them onto a few cache sets. */
static void one_sequence(const float *rows, float *o, int64_t t, int64_t heads, int64_t hd, float scale, float *qb,
                         float *vb, float *kt, float *s) {
    const int64_t tp = (t + 7) & ~(int64_t)7, d = heads * hd, stride = 3 * d, ld = d + 16;
    for (int64_t j = 0; j < t; ++j) {
        copy_floats(qb + j * ld, rows + j * stride, d);
        copy_floats(vb + j * ld, rows + j * stride + 2 * d, d);
    }
    int64_t j0 = 0;
#if SCIPTM_AVX2
    if (hd % 8 == 0) /* whole blocks of 8 rows: k by 8 x 8 transposes */
        for (; j0 + 8 <= t; j0 += 8)
            for (int64_t c = 0; c < d; c += 8) /* c = h * hd + c' is kt's row h * hd + c' */
                transpose8(rows + j0 * stride + d + c, stride, kt + c * tp + j0, tp);
#endif
    for (int64_t j = j0; j < t; ++j) {
        const float *ks = rows + j * stride + d;
        for (int64_t c = 0; c < d; ++c) kt[c * tp + j] = ks[c];
    }
    for (int64_t c = 0; c < d; ++c)
        for (int64_t j = t; j < tp; ++j) kt[c * tp + j] = 0.0f;
    for (int64_t h = 0; h < heads; ++h) {
        const float *qh = qb + h * hd, *vh = vb + h * hd, *kh = kt + h * hd * tp;
        for (int64_t i = 0; i < t; i += QROWS) {
            const int nr = (int)(t - i < QROWS ? t - i : QROWS);
            const float *qr[QROWS];
            float *orow[QROWS];
            float mx[QROWS], inv[QROWS];
            for (int r = 0; r < QROWS; ++r) {
                int64_t row = i + (r < nr ? r : nr - 1); /* a short tile repeats its last row (not stored) */
                qr[r] = qh + row * ld;
                orow[r] = o + row * d + h * hd;
            }
            scores(qr, kh, hd, t, tp, scale, s, mx);
            softmax_rows(s, t, tp, mx, inv);
            weighted_values(s, tp, vh, ld, t, hd, nr, inv, orow);
        }
    }
}

/* The entry point (see the top of the file). Returns 0, or -1 when scratch memory cannot be allocated
 * (nothing is written then) or -2 for invalid arguments. */
int sciptm_packed_attention(const float *qkv, float *out, const int64_t *groups, int64_t n_groups, int64_t heads,
                            int64_t head_dim, float scale) {
    if (heads <= 0 || head_dim <= 0 || n_groups < 0) return -2;
    int64_t longest = 0;
    for (int64_t g = 0; g < n_groups; ++g) {
        if (groups[3 * g] < 0 || groups[3 * g + 1] < 0 || groups[3 * g + 2] < 0) return -2;
        if (groups[3 * g + 2] > longest) longest = groups[3 * g + 2];
    }
    if (longest == 0) return 0;
    const int64_t tp = (longest + 7) & ~(int64_t)7, d = heads * head_dim;
    /* per head: q and v copies (t x head_dim each), k transposed (head_dim x tp); QROWS score rows */
    float *qb = (float *)malloc(sizeof(float) * (size_t)(2 * longest * (d + 16) + tp * d + QROWS * tp));
    if (qb == NULL) return -1;
    float *vb = qb + longest * (d + 16), *kt = vb + longest * (d + 16), *s = kt + tp * d;
    for (int64_t g = 0; g < n_groups; ++g) {
        const int64_t first = groups[3 * g], count = groups[3 * g + 1], t = groups[3 * g + 2];
        for (int64_t n = 0; n < count; ++n) {
            const int64_t row = first + n * t;
#if SCIPTM_AVX2
            {   /* the next sequence's rows (streamed in while this one is computed) */
                const char *p = (const char *)(qkv + (row + t) * 3 * d), *end = p + t * 3 * d * (int64_t)sizeof(float);
                for (; p < end; p += 64) _mm_prefetch(p, _MM_HINT_T1);
            }
#endif
            one_sequence(qkv + row * 3 * d, out + row * d, t, heads, head_dim, scale, qb, vb, kt, s);
        }
    }
    free(qb);
    return 0;
}

/* In place: x[i] <- GELU(x[i]) (erf form, what F.gelu(approximate="none") computes) for i < n. */
void sciptm_gelu_erf(float *x, int64_t n) {
    int64_t i = 0;
#if SCIPTM_AVX2
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_ps(x + i, gelu256(_mm256_loadu_ps(x + i)));
        _mm256_storeu_ps(x + i + 8, gelu256(_mm256_loadu_ps(x + i + 8)));
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu256(_mm256_loadu_ps(x + i)));
#endif
    for (; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

/* In place: h[r] <- LayerNorm(h[r] + x[r]) * gamma + beta for each of `rows` rows of d floats (the residual
 * add and nn.LayerNorm fused: mean, then the mean of squared deviations (biased), then the affine map). */
void sciptm_add_layernorm(float *h, const float *x, const float *gamma, const float *beta, int64_t rows,
                          int64_t d, float eps) {
    for (int64_t r = 0; r < rows; ++r) {
        float *y = h + r * d;
        const float *xr = x + r * d;
        int64_t c = 0;
        float sum = 0.0f, sq = 0.0f;
#if SCIPTM_AVX2
        __m256 acc = _mm256_setzero_ps();
        for (; c + 8 <= d; c += 8) {
            __m256 v = _mm256_add_ps(_mm256_loadu_ps(y + c), _mm256_loadu_ps(xr + c));
            _mm256_storeu_ps(y + c, v);
            acc = _mm256_add_ps(acc, v);
        }
        sum = hsum256(acc);
#endif
        for (; c < d; ++c) {
            y[c] += xr[c];
            sum += y[c];
        }
        const float mean = sum / (float)d;
        c = 0;
#if SCIPTM_AVX2
        const __m256 vm = _mm256_set1_ps(mean);
        acc = _mm256_setzero_ps();
        for (; c + 8 <= d; c += 8) {
            __m256 v = _mm256_sub_ps(_mm256_loadu_ps(y + c), vm);
            acc = _mm256_fmadd_ps(v, v, acc);
        }
        sq = hsum256(acc);
#endif
        for (; c < d; ++c) sq += (y[c] - mean) * (y[c] - mean);
        const float inv = 1.0f / sqrtf(sq / (float)d + eps);
        c = 0;
#if SCIPTM_AVX2
        const __m256 vi = _mm256_set1_ps(inv);
        for (; c + 8 <= d; c += 8) {
            __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(y + c), vm), vi);
            _mm256_storeu_ps(y + c, _mm256_fmadd_ps(v, _mm256_loadu_ps(gamma + c), _mm256_loadu_ps(beta + c)));
        }
#endif
        for (; c < d; ++c) y[c] = (y[c] - mean) * inv * gamma[c] + beta[c];
    }
}

/* ------------------------------------------------------------------------------------------------------------
 * int8 linear layers of the lean forward (dynamic activation quantization, per row):
 *
 *   sciptm_quantize_rows   fp32 rows -> u8 in [0, 127] with a scale and zero point per row
 *                          (x ~ (q - zp) * scale; 7 bits, so that u8 x s8 pair sums never saturate int16)
 *   sciptm_qlinear         out = dequant(qa) @ W^T + bias for s8 weights with a scale per output channel,
 *                          packed by sciptm_pack_weights' layout (see below)
 *   sciptm_int8_finish     everything of a post-LayerNorm block after attention, in row chunks that stay in the
 *                          L2 cache: output projection, residual add + LayerNorm, up-projection, GELU,
 *                          down-projection, residual add + LayerNorm, and the u8 copy of the block's output that
 *                          the next block's QKV projection reads
 *
 * Weights (N x K, int8, N % 16 == 0, K % 4 == 0) are packed as [N / 16][K / 4][16][4]: for a block of 16 output
 * channels, 64 bytes per group of 4 inputs, so one vpmaddubsw multiplies 4 inputs of one row by 8 channels.
 * colsum[n] = sum_k W[n][k] corrects for the activations' zero points. The micro-kernel computes a 6 x 16 tile
 * of int32 sums in registers (12 accumulators; vpmaddubsw + vpmaddwd by ones + vpaddd per 32 multiply-adds,
 * the weights read from L1 as memory operands), in inline assembly: the compiler's register allocation of the
 * same loop in intrinsics spilled accumulators and ran 10-20% slower than onednn.
 * ------------------------------------------------------------------------------------------------------------ */
#if SCIPTM_AVX2 && defined(__GNUC__) && defined(__x86_64__)
#define SCIPTM_INT8 1
#else
#define SCIPTM_INT8 0
#endif

int sciptm_int8_isa(void) { return SCIPTM_INT8; }

#if SCIPTM_INT8
static inline float hmin256(__m256 v) {
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}
#endif

/* q[r][c] = clamp(round(x[r][c] / scale[r]) + zp[r], 0, 127), the range [min(x_r, 0), max(x_r, 0)] mapped onto
 * [0, 127] (zero exactly representable). k % 32 == 0 is fastest; any k works. */
void sciptm_quantize_rows(const float *x, int64_t rows, int64_t k, uint8_t *q, float *scale, int32_t *zp) {
    for (int64_t r = 0; r < rows; ++r) {
        const float *xr = x + r * k;
        uint8_t *qr = q + r * k;
        float lo = 0.0f, hi = 0.0f;
        int64_t c = 0;
#if SCIPTM_INT8
        __m256 mn = _mm256_setzero_ps(), mx = _mm256_setzero_ps(), mn1 = mn, mx1 = mx, mn2 = mn, mx2 = mx,
               mn3 = mn, mx3 = mx; /* four chains: min/max latency, not throughput, bounds one chain */
        for (; c + 32 <= k; c += 32) {
            __m256 v0 = _mm256_loadu_ps(xr + c), v1 = _mm256_loadu_ps(xr + c + 8), v2 = _mm256_loadu_ps(xr + c + 16),
                   v3 = _mm256_loadu_ps(xr + c + 24);
            mn = _mm256_min_ps(mn, v0), mx = _mm256_max_ps(mx, v0);
            mn1 = _mm256_min_ps(mn1, v1), mx1 = _mm256_max_ps(mx1, v1);
            mn2 = _mm256_min_ps(mn2, v2), mx2 = _mm256_max_ps(mx2, v2);
            mn3 = _mm256_min_ps(mn3, v3), mx3 = _mm256_max_ps(mx3, v3);
        }
        for (; c + 8 <= k; c += 8) {
            __m256 v = _mm256_loadu_ps(xr + c);
            mn = _mm256_min_ps(mn, v);
            mx = _mm256_max_ps(mx, v);
        }
        lo = hmin256(_mm256_min_ps(_mm256_min_ps(mn, mn1), _mm256_min_ps(mn2, mn3)));
        hi = hmax256(_mm256_max_ps(_mm256_max_ps(mx, mx1), _mm256_max_ps(mx2, mx3)));
#endif
        for (; c < k; ++c) {
            lo = fminf(lo, xr[c]);
            hi = fmaxf(hi, xr[c]);
        }
        float s = (hi - lo) / 127.0f;
        if (!(s > 0.0f) || !isfinite(s)) s = 1.0f;
        const float inv = 1.0f / s;
        float zf = nearbyintf(-lo * inv);
        int32_t z = zf < 0.0f ? 0 : zf > 127.0f ? 127 : (int32_t)zf;
        scale[r] = s;
        zp[r] = z;
        c = 0;
#if SCIPTM_INT8
        const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        const __m256i top = _mm256_set1_epi8(127);
        const __m256 vi = _mm256_set1_ps(inv);
        const __m256i vz = _mm256_set1_epi32(z);
        for (; c + 32 <= k; c += 32) {
            __m256i a = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + c), vi)), vz);
            __m256i b = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + c + 8), vi)), vz);
            __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + c + 16), vi)), vz);
            __m256i f = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + c + 24), vi)), vz);
            __m256i p = _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(e, f));
            _mm256_storeu_si256((__m256i *)(qr + c), _mm256_min_epu8(_mm256_permutevar8x32_epi32(p, perm), top));
        }
#endif
        for (; c < k; ++c) {
            float v = nearbyintf(xr[c] * inv) + (float)z;
            qr[c] = (uint8_t)(v < 0.0f ? 0.0f : v > 127.0f ? 127.0f : v);
        }
    }
}

#if SCIPTM_INT8
#define SCIPTM_ROW(ADDR, C0, C1)                                                                                   \
    "vpbroadcastd " ADDR ", %%ymm13\n\t"                                                                           \
    "vpmaddubsw (%[b]), %%ymm13, %%ymm14\n\t"                                                                      \
    "vpmaddubsw 32(%[b]), %%ymm13, %%ymm15\n\t"                                                                    \
    "vpmaddwd %%ymm12, %%ymm14, %%ymm14\n\t"                                                                       \
    "vpmaddwd %%ymm12, %%ymm15, %%ymm15\n\t"                                                                       \
    "vpaddd %%ymm14, %%" C0 ", %%" C0 "\n\t"                                                                       \
    "vpaddd %%ymm15, %%" C1 ", %%" C1 "\n\t"

/* c[i * 16 + j] = sum_k a[i * lda + k] * W[j][k] for 6 rows i and the 16 channels of one packed panel b
 * (kg = K / 4 >= 1 groups of 64 bytes). */
static void tile6x16(const uint8_t *a, int64_t lda, const int8_t *b, int64_t kg, int32_t *c) {
    const uint8_t *a3 = a + 3 * lda;
    __asm__ volatile(
        "vpxor %%ymm0, %%ymm0, %%ymm0\n\t"
        "vpxor %%ymm1, %%ymm1, %%ymm1\n\t"
        "vpxor %%ymm2, %%ymm2, %%ymm2\n\t"
        "vpxor %%ymm3, %%ymm3, %%ymm3\n\t"
        "vpxor %%ymm4, %%ymm4, %%ymm4\n\t"
        "vpxor %%ymm5, %%ymm5, %%ymm5\n\t"
        "vpxor %%ymm6, %%ymm6, %%ymm6\n\t"
        "vpxor %%ymm7, %%ymm7, %%ymm7\n\t"
        "vpxor %%ymm8, %%ymm8, %%ymm8\n\t"
        "vpxor %%ymm9, %%ymm9, %%ymm9\n\t"
        "vpxor %%ymm10, %%ymm10, %%ymm10\n\t"
        "vpxor %%ymm11, %%ymm11, %%ymm11\n\t"
        "vpcmpeqw %%ymm12, %%ymm12, %%ymm12\n\t"
        "vpsrlw $15, %%ymm12, %%ymm12\n\t" /* 16-bit ones */
        "1:\n\t"
        SCIPTM_ROW("(%[a])", "ymm0", "ymm1")
        SCIPTM_ROW("(%[a],%[lda])", "ymm2", "ymm3")
        SCIPTM_ROW("(%[a],%[lda],2)", "ymm4", "ymm5")
        SCIPTM_ROW("(%[a3])", "ymm6", "ymm7")
        SCIPTM_ROW("(%[a3],%[lda])", "ymm8", "ymm9")
        SCIPTM_ROW("(%[a3],%[lda],2)", "ymm10", "ymm11")
        "addq $4, %[a]\n\t"
        "addq $4, %[a3]\n\t"
        "addq $64, %[b]\n\t"
        "decq %[k]\n\t"
        "jnz 1b\n\t"
        "vmovdqu %%ymm0, (%[c])\n\t"
        "vmovdqu %%ymm1, 32(%[c])\n\t"
        "vmovdqu %%ymm2, 64(%[c])\n\t"
        "vmovdqu %%ymm3, 96(%[c])\n\t"
        "vmovdqu %%ymm4, 128(%[c])\n\t"
        "vmovdqu %%ymm5, 160(%[c])\n\t"
        "vmovdqu %%ymm6, 192(%[c])\n\t"
        "vmovdqu %%ymm7, 224(%[c])\n\t"
        "vmovdqu %%ymm8, 256(%[c])\n\t"
        "vmovdqu %%ymm9, 288(%[c])\n\t"
        "vmovdqu %%ymm10, 320(%[c])\n\t"
        "vmovdqu %%ymm11, 352(%[c])\n\t"
        : [a] "+r"(a), [a3] "+r"(a3), [b] "+r"(b), [k] "+r"(kg)
        : [lda] "r"(lda), [c] "r"(c)
        : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}
#undef SCIPTM_ROW

/* o[j] = (t[j] - zp * colsum[j]) * scale * ws[j] + bias[j] for the 16 channels of a tile row */
static inline void dequant16(const int32_t *t, int32_t zp, float scale, const int32_t *cs, const float *ws,
                             const float *bias, float *o) {
    const __m256i z = _mm256_set1_epi32(zp);
    const __m256 s = _mm256_set1_ps(scale);
    for (int h = 0; h < 16; h += 8) {
        __m256i acc = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(t + h)),
                                       _mm256_mullo_epi32(z, _mm256_loadu_si256((const __m256i *)(cs + h))));
        __m256 f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_mul_ps(s, _mm256_loadu_ps(ws + h)),
                                   _mm256_loadu_ps(bias + h));
        _mm256_storeu_ps(o + h, f);
    }
}
#endif

/* Number of rows of the blocks that sciptm_qlinear and sciptm_int8_finish work on at once (a multiple of 6). */
#define QROWS_CHUNK 48

/* out[m x n] = ((qa - za) * sa) @ (W * ws)^T + bias: qa u8 m x k (rows with their scale sa and zero point za),
 * W packed s8 (see above) with colsum and per-channel scales ws. Returns 0, or -1 when the library has no int8
 * path or the shapes are not supported (n % 16, k % 4). */
int sciptm_qlinear(const uint8_t *qa, const float *sa, const int32_t *za, int64_t m, int64_t k, const int8_t *bp,
                   const int32_t *colsum, const float *ws, const float *bias, int64_t n, float *out) {
#if SCIPTM_INT8
    if (n % 16 || k % 4 || k < 4) return -1;
    int32_t t[96] __attribute__((aligned(32)));
    uint8_t *pad = NULL; /* the last < 6 rows, zero-padded to a whole tile */
    const int64_t kg = k / 4;
    for (int64_t m0 = 0; m0 < m; m0 += QROWS_CHUNK) {
        const int64_t m1 = m0 + QROWS_CHUNK < m ? m0 + QROWS_CHUNK : m;
        const int64_t full = m0 + (m1 - m0) / 6 * 6;
        if (full < m1 && pad == NULL) {
            pad = (uint8_t *)calloc((size_t)(6 * k), 1);
            if (pad == NULL) return -2;
            memcpy(pad, qa + full * k, (size_t)((m1 - full) * k));
        }
        for (int64_t nb = 0; nb < n / 16; ++nb) {
            const int8_t *panel = bp + nb * k * 16;
            const int32_t *cs = colsum + nb * 16;
            const float *w = ws + nb * 16, *bb = bias + nb * 16;
            for (int64_t r = m0; r < m1; r += 6) {
                const int64_t nr = r + 6 <= m1 ? 6 : m1 - r;
                tile6x16(nr == 6 ? qa + r * k : pad, k, panel, kg, t);
                for (int64_t i = 0; i < nr; ++i)
                    dequant16(t + 16 * i, za[r + i], sa[r + i], cs, w, bb, out + (r + i) * n + nb * 16);
            }
        }
    }
    free(pad);
    return 0;
#else
    (void)qa; (void)sa; (void)za; (void)m; (void)k; (void)bp; (void)colsum; (void)ws; (void)bias; (void)n; (void)out;
    return -1;
#endif
}

/* One int8 linear layer's parameters, as sciptm_int8_finish reads them from its pointer table. */
struct sciptm_qweights {
    const int8_t *packed;
    const int32_t *colsum;
    const float *scale;
    const float *bias;
};

/* Everything of a post-LayerNorm transformer block after attention, for m rows of width d (ffn: the
 * feed-forward width), in chunks of QROWS_CHUNK rows:
 *     x <- LN1(attn @ Wo^T + bo + x);  x <- LN2(GELU(x @ Wu^T + bu) @ Wd^T + bd + x);  (qx, sx, zx) <- quantized x
 * every matrix product on u8 activations quantized per row (sciptm_quantize_rows). `p` holds, in order: Wo
 * (packed, colsum, scale, bias), Wu (4), Wd (4), LN1 gamma, LN1 beta, LN2 gamma, LN2 beta (16 pointers).
 * attn is overwritten (scratch). Returns 0, -1 (no int8 path / shapes) or -2 (out of memory). */
int sciptm_int8_finish(float *attn, float *x, uint8_t *qx, float *sx, int32_t *zx, int64_t m, int64_t d,
                       int64_t ffn, const void *const *p, float eps1, float eps2) {
#if SCIPTM_INT8
    if (d % 32 || ffn % 32) return -1;
    const struct sciptm_qweights wo = {p[0], p[1], p[2], p[3]}, wu = {p[4], p[5], p[6], p[7]},
                                 wd = {p[8], p[9], p[10], p[11]};
    const float *g1 = p[12], *b1 = p[13], *g2 = p[14], *b2 = p[15];
    const int64_t c = QROWS_CHUNK;
    uint8_t *qa = (uint8_t *)malloc((size_t)(c * ffn));
    float *u = (float *)malloc(sizeof(float) * (size_t)(c * ffn));
    float *h = (float *)malloc(sizeof(float) * (size_t)(c * d));
    float *sa = (float *)malloc(sizeof(float) * (size_t)c);
    int32_t *za = (int32_t *)malloc(sizeof(int32_t) * (size_t)c);
    int rc = (qa && u && h && sa && za) ? 0 : -2;
    for (int64_t m0 = 0; rc == 0 && m0 < m; m0 += c) {
        const int64_t rows = m0 + c < m ? c : m - m0;
        float *xr = x + m0 * d;
        /* attention output projection, residual, LayerNorm */
        sciptm_quantize_rows(attn + m0 * d, rows, d, qa, sa, za);
        rc |= sciptm_qlinear(qa, sa, za, rows, d, wo.packed, wo.colsum, wo.scale, wo.bias, d, h);
        sciptm_add_layernorm(xr, h, g1, b1, rows, d, eps1); /* LN(x + h) written into x: no copy */
        /* feed-forward, residual, LayerNorm */
        sciptm_quantize_rows(xr, rows, d, qa, sa, za);
        rc |= sciptm_qlinear(qa, sa, za, rows, d, wu.packed, wu.colsum, wu.scale, wu.bias, ffn, u);
        sciptm_gelu_erf(u, rows * ffn);
        sciptm_quantize_rows(u, rows, ffn, qa, sa, za);
        rc |= sciptm_qlinear(qa, sa, za, rows, ffn, wd.packed, wd.colsum, wd.scale, wd.bias, d, h);
        sciptm_add_layernorm(xr, h, g2, b2, rows, d, eps2);
        sciptm_quantize_rows(xr, rows, d, qx + m0 * d, sx + m0, zx + m0);
    }
    free(qa);
    free(u);
    free(h);
    free(sa);
    free(za);
    return rc;
#else
    (void)attn; (void)x; (void)qx; (void)sx; (void)zx; (void)m; (void)d; (void)ffn; (void)p; (void)eps1; (void)eps2;
    return -1;
#endif
}

/* ---- part functions of the kernels split over threads (parallel.h) ---- */
SCIPTM_PART(sciptm_packed_attention, SCIPTM_P(0), SCIPTM_P(1), SCIPTM_P(2), SCIPTM_I(3), SCIPTM_I(4), SCIPTM_I(5), SCIPTM_F(6))
SCIPTM_PART_VOID(sciptm_gelu_erf, SCIPTM_P(0), SCIPTM_I(1))
SCIPTM_PART_VOID(sciptm_add_layernorm, SCIPTM_P(0), SCIPTM_P(1), SCIPTM_P(2), SCIPTM_P(3), SCIPTM_I(4), SCIPTM_I(5), SCIPTM_F(6))
SCIPTM_PART_VOID(sciptm_quantize_rows, SCIPTM_P(0), SCIPTM_I(1), SCIPTM_I(2), SCIPTM_P(3), SCIPTM_P(4), SCIPTM_P(5))
SCIPTM_PART(sciptm_qlinear, SCIPTM_P(0), SCIPTM_P(1), SCIPTM_P(2), SCIPTM_I(3), SCIPTM_I(4), SCIPTM_P(5), SCIPTM_P(6), SCIPTM_P(7), SCIPTM_P(8), SCIPTM_I(9), SCIPTM_P(10))
SCIPTM_PART(sciptm_int8_finish, SCIPTM_P(0), SCIPTM_P(1), SCIPTM_P(2), SCIPTM_P(3), SCIPTM_P(4), SCIPTM_I(5), SCIPTM_I(6), SCIPTM_I(7), SCIPTM_P(8), SCIPTM_F(9), SCIPTM_F(10))
