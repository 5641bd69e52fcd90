/* The parts of one kernel call (row ranges, runs of sequences: one per thread) run at once on the process's
 * OpenMP threads, the first part on the calling thread.
 *
 * Compiled with -fopenmp, the library needs libgomp.so.1; when PyTorch (whose CPU wheels ship and load their own
 * libgomp.so.1) is loaded first, the dynamic linker binds that same runtime, so these parts run on PyTorch's
 * intra-op threads: no second pool competing for the cores with OpenMP threads that spin after every PyTorch
 * operation (with 2 threads that contention made a packed fine-tuning epoch slower than with 1).
 * sciptm_openmp() says whether the library has OpenMP; without it the Python side runs the parts on its own
 * thread pool (sciptm.encoders.fused_attention._run).
 *
 * Each kernel that is split has a part function `<name>__part(const uint64_t *v, int *code)` (SCIPTM_PART /
 * SCIPTM_PART_VOID below): its arguments are read from v (pointers and integers as 64-bit words, a float as its
 * 32-bit pattern in the low half), and an int result goes to *code (0 for void kernels).
 */
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef void (*sciptm_part_fn)(const uint64_t *args, int *code);

int sciptm_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* an OpenMP runtime function as this library resolved it (NULL without OpenMP): dladdr() of it names the file of
 * the runtime this library runs on */
void *sciptm_openmp_symbol(void) {
#ifdef _OPENMP
    return (void *)&omp_get_max_threads;
#else
    return NULL;
#endif
}

/* fn(args + p * nargs, codes + p) for p = 0 .. parts - 1, part p on OpenMP thread p (0: the caller) */
void sciptm_parallel(sciptm_part_fn fn, int64_t parts, const uint64_t *args, int64_t nargs, int *codes) {
#ifdef _OPENMP
#pragma omp parallel for num_threads((int)parts) schedule(static, 1) if (parts > 1)
#endif
    for (int64_t p = 0; p < parts; ++p) fn(args + p * nargs, codes + p);
}

static inline float sciptm_word_float(uint64_t w) {
    const uint32_t bits = (uint32_t)w;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

#define SCIPTM_P(i) ((void *)(uintptr_t)v[i])
#define SCIPTM_I(i) ((int64_t)v[i])
#define SCIPTM_F(i) sciptm_word_float(v[i])
#define SCIPTM_PART(name, ...) \
    void name##__part(const uint64_t *v, int *code) { *code = (int)name(__VA_ARGS__); }
#define SCIPTM_PART_VOID(name, ...) \
    void name##__part(const uint64_t *v, int *code) { name(__VA_ARGS__); *code = 0; }
