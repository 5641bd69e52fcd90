/* fp32 GEMM for the packed fine-tuning path (sciptm.training.packed_linear): C (=, +=) A B with fused epilogues.
 *
 * Included by train.c (fused_attention.source_text inlines it, so the cache key covers it). BLIS-style: the
 * K x N operand is packed per K block into 16-column panels (kc x 16, contiguous, zero-padded), the 6 x 16 AVX2
 * FMA micro-kernel keeps its 12 accumulators in ymm registers and reads A either straight from a row-major A
 * (6 rows as 6 broadcast streams: the forward and input-gradient products, no packing pass; the next
 * micro-tile's rows are prefetched while one computes) or from a packed 6-row panel (A given transposed, as dY^T
 * in the weight gradient, and the last partial panel of rows). Loop order: K blocks (kc <= SG_KC = 512 with A
 * in place, <= SG_KC_PACKED = 256 with A packed) > row blocks (SG_MC rows, A in L2) > 16-column panels (B panel
 * in L1) > 6-row micro-tiles. The packing scratch is kept per thread between calls.
 * The summation order of every output element is fixed (k ascending within a block, blocks ascending, the column
 * sums of the epilogue in row order), so results do not depend on how a caller splits rows over threads.
 *
 * Epilogues (applied to the finished sums of the last K block, while the tile is in registers / L1):
 *   SG_PLAIN   c = acc (or c += acc with accumulate)
 *   SG_GELU    v = acc + bias[n]; c = GELU(v) (erf form); aux = GELU'(v)            (up projection forward)
 *   SG_MULSUM  v = acc * aux;     c = v; colsum[n] += v (colsum zeroed first)       (its backward: dU, bias grad)
 *   SG_BIAS    c = acc + bias[n] (bias may be NULL)                                 (inference: nn.Linear)
 * GELU' is written with streaming stores (it is read again only in the backward); the tile of aux that MULSUM
 * reads, and of c, are prefetched before the micro-kernel runs.
 * Needs simd_math.h (gelu_grad256) before it.
 *
 * Measured (1 thread, R = 1,800 rows, interleaved against torch.mm(out=) in one process, 16:32 UTC): 89-95
 * GFLOP/s on the forward / input-gradient shapes of a `tiny` layer, 1.05-1.12x MKL; weight gradients 0.96-1.06x
 * (packed_linear keeps MKL for those with fewer than 384 output rows).
 */
#ifndef SCIPTM_SGEMM_H
#define SCIPTM_SGEMM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SG_MR 6
#define SG_NR 16
#ifndef SG_KC
#define SG_KC 512
#endif
#ifndef SG_KC_PACKED
#define SG_KC_PACKED 256
#endif
#ifndef SG_MC
#define SG_MC 144
#endif
#ifndef SG_UNROLL
#define SG_UNROLL 1
#endif
#ifndef SG_STREAM_AUX
#define SG_STREAM_AUX 1
#endif
#define SG_STR(x) #x
#define SG_UNROLL_LOOP(n) _Pragma(SG_STR(GCC unroll n))
#ifndef SG_PREFETCH
#define SG_PREFETCH 1
#endif

enum { SG_PLAIN = 0, SG_GELU = 1, SG_MULSUM = 2, SG_BIAS = 3 };

typedef struct {
    int kind;
    const float *bias; /* SG_GELU, SG_BIAS: N floats or NULL */
    float *aux;        /* SG_GELU: GELU' written; SG_MULSUM: the multiplier read (both M x N, row stride ldc) */
    float *colsum;     /* SG_MULSUM: N floats (or NULL) */
} sg_epi;

int sciptm_sgemm_version(void) { return 2; }

#if SCIPTM_AVX2
/* the finished 6 x 16 tile t (row stride 16; mr x nr valid) into c at (row, col) = (m0, n0) */
static void sg_store_tile(const float *t, int mr, int nr, float *c, int64_t ldc, int add, int final,
                          const sg_epi *e, int64_t m0, int64_t n0) {
    if (!final || e->kind == SG_PLAIN) {
        for (int r = 0; r < mr; ++r) {
            float *o = c + (m0 + r) * ldc + n0;
            if (add) for (int j = 0; j < nr; ++j) o[j] += t[r * SG_NR + j];
            else memcpy(o, t + r * SG_NR, (size_t)nr * sizeof(float));
        }
        return;
    }
    float v[SG_MR * SG_NR];
    for (int r = 0; r < mr; ++r)
        for (int j = 0; j < SG_NR; ++j)
            v[r * SG_NR + j] = t[r * SG_NR + j] + (add && j < nr ? c[(m0 + r) * ldc + n0 + j] : 0.0f);
    if (e->kind == SG_BIAS) {
        for (int r = 0; r < mr; ++r)
            for (int j = 0; j < nr; ++j)
                c[(m0 + r) * ldc + n0 + j] = v[r * SG_NR + j] + (e->bias ? e->bias[n0 + j] : 0.0f);
        return;
    }
    if (e->kind == SG_GELU) {
        float bias[SG_NR] = {0};
        if (e->bias) memcpy(bias, e->bias + n0, (size_t)nr * sizeof(float));
        float y[SG_MR * SG_NR], g[SG_MR * SG_NR];
        for (int r = 0; r < mr; ++r)
            for (int j = 0; j < SG_NR; j += 8) {
                __m256 gy, gd;
                gelu_grad256(_mm256_add_ps(_mm256_loadu_ps(v + r * SG_NR + j), _mm256_loadu_ps(bias + j)), &gy, &gd);
                _mm256_storeu_ps(y + r * SG_NR + j, gy);
                _mm256_storeu_ps(g + r * SG_NR + j, gd);
            }
        for (int r = 0; r < mr; ++r) {
            memcpy(c + (m0 + r) * ldc + n0, y + r * SG_NR, (size_t)nr * sizeof(float));
            memcpy(e->aux + (m0 + r) * ldc + n0, g + r * SG_NR, (size_t)nr * sizeof(float));
        }
        return;
    }
    /* SG_MULSUM */
    for (int j = 0; j < nr; ++j) {
        float s = 0.0f;
        for (int r = 0; r < mr; ++r) {
            float x = v[r * SG_NR + j] * e->aux[(m0 + r) * ldc + n0 + j];
            c[(m0 + r) * ldc + n0 + j] = x;
            s += x;
        }
        if (e->colsum) e->colsum[n0 + j] += s;
    }
}

/* GELU epilogue of a full tile: x = acc + bias; y = GELU(x) into c0, GELU'(x) into g0 (out of line: keeps the
 * micro-kernel's loop small) */
static __attribute__((noinline)) void sg_gelu_tile(const __m256 *acc, float *c0, float *g0, int64_t ldc,
                                                   const float *bias) {
    const __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    const __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    const int stream = SG_STREAM_AUX && ((uintptr_t)g0 & 31) == 0 && (ldc & 7) == 0;
#pragma GCC unroll 1
    for (int r = 0; r < SG_MR; ++r)
        for (int h = 0; h < 2; ++h) {
            __m256 gy, gd;
            gelu_grad256(_mm256_add_ps(acc[2 * r + h], h ? b1 : b0), &gy, &gd);
            _mm256_storeu_ps(c0 + r * ldc + 8 * h, gy);
            if (stream) /* GELU' is read again only in the backward: past the caches, no read for ownership */
                _mm256_stream_ps(g0 + r * ldc + 8 * h, gd);
            else
                _mm256_storeu_ps(g0 + r * ldc + 8 * h, gd);
        }
}

/* a full 6 x 16 tile: the epilogue straight from the accumulators */
static inline __attribute__((always_inline)) void sg_epilogue_full(__m256 *acc, float *c, int64_t ldc, int add,
                                                                   const sg_epi *e, int64_t m0, int64_t n0) {
    float *c0 = c + m0 * ldc + n0;
    if (add)
        for (int r = 0; r < SG_MR; ++r) {
            acc[2 * r] = _mm256_add_ps(acc[2 * r], _mm256_loadu_ps(c0 + r * ldc));
            acc[2 * r + 1] = _mm256_add_ps(acc[2 * r + 1], _mm256_loadu_ps(c0 + r * ldc + 8));
        }
    if (e->kind == SG_GELU) {
        sg_gelu_tile(acc, c0, e->aux + m0 * ldc + n0, ldc, e->bias ? e->bias + n0 : NULL);
        return;
    }
    if (e->kind == SG_BIAS && e->bias) {
        const __m256 b0 = _mm256_loadu_ps(e->bias + n0), b1 = _mm256_loadu_ps(e->bias + n0 + 8);
        for (int r = 0; r < SG_MR; ++r) {
            acc[2 * r] = _mm256_add_ps(acc[2 * r], b0);
            acc[2 * r + 1] = _mm256_add_ps(acc[2 * r + 1], b1);
        }
    }
    if (e->kind == SG_MULSUM) {
        const float *g0 = e->aux + m0 * ldc + n0;
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
        for (int r = 0; r < SG_MR; ++r) {
            __m256 x0 = _mm256_mul_ps(acc[2 * r], _mm256_loadu_ps(g0 + r * ldc));
            __m256 x1 = _mm256_mul_ps(acc[2 * r + 1], _mm256_loadu_ps(g0 + r * ldc + 8));
            _mm256_storeu_ps(c0 + r * ldc, x0);
            _mm256_storeu_ps(c0 + r * ldc + 8, x1);
            s0 = _mm256_add_ps(s0, x0);
            s1 = _mm256_add_ps(s1, x1);
        }
        if (e->colsum) {
            _mm256_storeu_ps(e->colsum + n0, _mm256_add_ps(_mm256_loadu_ps(e->colsum + n0), s0));
            _mm256_storeu_ps(e->colsum + n0 + 8, _mm256_add_ps(_mm256_loadu_ps(e->colsum + n0 + 8), s1));
        }
        return;
    }
    for (int r = 0; r < SG_MR; ++r) {
        _mm256_storeu_ps(c0 + r * ldc, acc[2 * r]);
        _mm256_storeu_ps(c0 + r * ldc + 8, acc[2 * r + 1]);
    }
}

/* The 6 x 16 micro-kernel: acc = sum over k < kc of a(r, k) b[k][0..15]; a(r, k) at a[r * ars + k * aks]
 * (ars = lda, aks = 1: row-major A read in place; ars = 1, aks = 6: a packed panel); b a packed kc x 16 panel. */
static inline __attribute__((always_inline)) void sg_kernel(int64_t kc, const float *restrict a, int64_t ars,
                                                            int64_t aks, const float *restrict b, __m256 *acc,
                                                            const float *next) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps();
    __m256 c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps();
    __m256 c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    const float *a0 = a, *a3 = a + 3 * ars;
    SG_UNROLL_LOOP(SG_UNROLL)
    for (int64_t k = 0; k < kc; ++k) {
        if (next && (k & 15) == 0) /* the next micro-tile's 6 rows (read in place), one line each per 16 k */
            for (int r = 0; r < SG_MR; ++r) __builtin_prefetch(next + r * ars + k, 0, 3);
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 x;
        x = _mm256_broadcast_ss(a0);
        c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a0 + ars);
        c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a0 + 2 * ars);
        c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a3);
        c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a3 + ars);
        c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a3 + 2 * ars);
        c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
        a0 += aks;
        a3 += aks;
        b += SG_NR;
    }
    acc[0] = c00; acc[1] = c01; acc[2] = c10; acc[3] = c11; acc[4] = c20; acc[5] = c21;
    acc[6] = c30; acc[7] = c31; acc[8] = c40; acc[9] = c41; acc[10] = c50; acc[11] = c51;
}

/* pack b(k, n) = b[k * rsb + n * csb] for k < kc, n0 <= n < n0 + nr into a kc x 16 panel (zero columns past nr) */
static void sg_pack_b(const float *b, int64_t rsb, int64_t csb, int64_t kc, int nr, float *out) {
    if (nr < SG_NR) memset(out, 0, (size_t)kc * SG_NR * sizeof(float));
    if (csb == 1 && nr == SG_NR) {
        for (int64_t k = 0; k < kc; ++k) {
            _mm256_store_ps(out + k * SG_NR, _mm256_loadu_ps(b + k * rsb));
            _mm256_store_ps(out + k * SG_NR + 8, _mm256_loadu_ps(b + k * rsb + 8));
        }
    } else if (rsb == 1) {
        for (int j = 0; j < nr; ++j)
            for (int64_t k = 0; k < kc; ++k) out[k * SG_NR + j] = b[j * csb + k];
    } else {
        for (int64_t k = 0; k < kc; ++k)
            for (int j = 0; j < nr; ++j) out[k * SG_NR + j] = b[k * rsb + j * csb];
    }
}

/* pack a(r, k) = a[r * rsa + k * csa] for r < mr, k < kc into a kc x 6 panel (zero rows past mr) */
static void sg_pack_a(const float *a, int64_t rsa, int64_t csa, int mr, int64_t kc, float *out) {
    if (mr < SG_MR) memset(out, 0, (size_t)kc * SG_MR * sizeof(float));
    if (rsa == 1 && mr == SG_MR) {
        for (int64_t k = 0; k < kc; ++k) {
            _mm_storeu_ps(out + k * SG_MR, _mm_loadu_ps(a + k * csa));
            _mm_storel_pi((__m64 *)(out + k * SG_MR + 4), _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(a + k * csa + 4)));
        }
    } else if (rsa == 1) {
        for (int64_t k = 0; k < kc; ++k)
            for (int r = 0; r < mr; ++r) out[k * SG_MR + r] = a[k * csa + r];
    } else {
        for (int r = 0; r < mr; ++r)
            for (int64_t k = 0; k < kc; ++k) out[k * SG_MR + r] = a[r * rsa + k * csa];
    }
}
#endif

/* C[m, n] (=, or += with accumulate) sum_k A[m, k] B[k, n] for m < M, n < N, k < K, then the epilogue
 * (kind SG_PLAIN / SG_GELU / SG_MULSUM, see the top of the file); A[m, k] at a[m * rsa + k * csa], B[k, n] at
 * b[k * rsb + n * csb], C row-major with row stride ldc. Returns 0, or 1 when scratch memory is missing, or
 * 2 without AVX2/FMA (the caller then uses another GEMM). */
int sciptm_sgemm(int64_t M, int64_t N, int64_t K, const float *a, int64_t rsa, int64_t csa, const float *b,
                 int64_t rsb, int64_t csb, float *c, int64_t ldc, int accumulate, int kind, const float *bias,
                 float *aux, float *colsum) {
#if SCIPTM_AVX2
    const sg_epi e = {kind, bias, aux, colsum}, plain = {SG_PLAIN, NULL, NULL, NULL};
    if (kind == SG_MULSUM && colsum) memset(colsum, 0, (size_t)N * sizeof(float));
    if (M <= 0 || N <= 0) return 0;
    if (K <= 0) {
        float zero[SG_MR * SG_NR] = {0};
        for (int64_t m = 0; m < M; m += SG_MR)
            for (int64_t n = 0; n < N; n += SG_NR)
                sg_store_tile(zero, (int)(M - m < SG_MR ? M - m : SG_MR), (int)(N - n < SG_NR ? N - n : SG_NR),
                              c, ldc, accumulate, 1, &e, m, n);
        return 0;
    }
    /* one K block up to 1.25 kcb, else blocks of about equal size <= kcb; A packed (given transposed, as dY^T
     * in the weight gradient): smaller blocks, so the packed A and B panels stay in L1 together */
    const int direct = csa == 1; /* row-major A read in place */
    const int64_t kcb = direct ? SG_KC : SG_KC_PACKED;
    const int64_t nblocks = K <= kcb + kcb / 4 ? 1 : (K + kcb - 1) / kcb;
    const int64_t kcmax = (K + nblocks - 1) / nblocks;
    const int64_t npan = (N + SG_NR - 1) / SG_NR;
    const size_t nb = (size_t)(kcmax * SG_NR * npan), na = (size_t)(kcmax * (SG_MC + SG_MR));
    /* packing scratch kept per thread between calls (no malloc / page faults per GEMM; <= ~1.5 MB here) */
    static __thread void *mem = NULL;
    static __thread size_t cap = 0;
    const size_t need = (nb + na) * sizeof(float) + 64;
    if (need > cap) {
        free(mem);
        mem = malloc(need);
        cap = mem ? need : 0;
        if (!mem) return 1;
    }
    float *pb = (float *)(((uintptr_t)mem + 63) & ~(uintptr_t)63), *pa = pb + nb; /* nb: a multiple of 16 */
    __m256 acc[2 * SG_MR];
    float t[SG_MR * SG_NR] __attribute__((aligned(32)));
    for (int64_t blk = 0; blk < nblocks; ++blk) {
        const int64_t k0 = K * blk / nblocks, kc = K * (blk + 1) / nblocks - k0;
        const int add = accumulate || blk > 0, final = blk == nblocks - 1;
        for (int64_t p = 0; p < npan; ++p) {
            const int64_t n0 = p * SG_NR;
            sg_pack_b(b + k0 * rsb + n0 * csb, rsb, csb, kc, (int)(N - n0 < SG_NR ? N - n0 : SG_NR),
                      pb + p * kc * SG_NR);
        }
        for (int64_t m1 = 0; m1 < M; m1 += SG_MC) {
            const int64_t mc = M - m1 < SG_MC ? M - m1 : SG_MC;
            const int64_t full = direct ? mc / SG_MR : 0; /* micro-panels read in place */
            const int64_t ntile = (mc + SG_MR - 1) / SG_MR;
            for (int64_t i = full; i < ntile; ++i) {
                const int64_t r0 = m1 + i * SG_MR;
                sg_pack_a(a + r0 * rsa + k0 * csa, rsa, csa, (int)(M - r0 < SG_MR ? M - r0 : SG_MR), kc,
                          pa + (i - full) * kc * SG_MR);
            }
            for (int64_t p = 0; p < npan; ++p) {
                const int64_t n0 = p * SG_NR;
                const int nr = (int)(N - n0 < SG_NR ? N - n0 : SG_NR);
                const float *bp = pb + p * kc * SG_NR;
                for (int64_t i = 0; i < ntile; ++i) {
                    const int64_t r0 = m1 + i * SG_MR;
                    const int mr = (int)(M - r0 < SG_MR ? M - r0 : SG_MR);
                    if (add || final)
                        for (int r = 0; r < mr; ++r) {
                            __builtin_prefetch(c + (r0 + r) * ldc + n0, 1, 3);
                            __builtin_prefetch(c + (r0 + r) * ldc + n0 + 15, 1, 3);
                            if (final && e.aux && (e.kind == SG_MULSUM || !SG_STREAM_AUX)) { /* MULSUM reads aux */
                                __builtin_prefetch(e.aux + (r0 + r) * ldc + n0, 1, 3);
                                __builtin_prefetch(e.aux + (r0 + r) * ldc + n0 + 15, 1, 3);
                            }
                        }
                    if (i < full)
                        sg_kernel(kc, a + r0 * rsa + k0 * csa, rsa, csa, bp, acc,
                                  SG_PREFETCH && p == 0 && i + 1 < full ? a + (r0 + SG_MR) * rsa + k0 : NULL);
                    else
                        sg_kernel(kc, pa + (i - full) * kc * SG_MR, 1, SG_MR, bp, acc, NULL);
                    if (mr == SG_MR && nr == SG_NR) {
                        sg_epilogue_full(acc, c, ldc, add, final ? &e : &plain, r0, n0);
                    } else {
                        for (int q = 0; q < 2 * SG_MR; ++q) _mm256_store_ps(t + q * 8, acc[q]);
                        sg_store_tile(t, mr, nr, c, ldc, add, final, &e, r0, n0);
                    }
                }
            }
        }
    }
    if (kind == SG_GELU) _mm_sfence(); /* the streamed GELU' stores, before another thread reads them */
    return 0;
#else
    (void)M; (void)N; (void)K; (void)a; (void)rsa; (void)csa; (void)b; (void)rsb; (void)csb; (void)c; (void)ldc;
    (void)accumulate; (void)kind; (void)bias; (void)aux; (void)colsum;
    return 2;
#endif
}

#endif /* SCIPTM_SGEMM_H */
