#include "detect/batch.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* tn_bz_run must give bitwise the results of tn_bz_step, whose lanes may run in other loops
 * (target clones, AVX-512, inlined or not): a * b + c must stay two roundings everywhere, never
 * an FMA unless written as one. GCC does not contract in ISO C mode (CMakeLists.txt builds
 * with -std=c11); clang does by default, unless told: */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* Build the hot loops for AVX2 too, chosen at load time; SSE2 is the portable fallback. Not
 * under ThreadSanitizer, whose instrumented ifunc resolvers would run before it starts. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) &&       \
    !defined(__SANITIZE_THREAD__)
#define TN_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TN_SIMD_CLONES
#endif

/* Explicit AVX-512VL for the rolling z-score's z-only loop, where the CPU has it (checked at run
 * time); the portable loop otherwise. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(TN_NO_AVX512)
#define TN_HAVE_AVX512 1
#include <immintrin.h>
#else
#define TN_HAVE_AVX512 0
#endif

static inline double sel(int c, double a, double b)
{
    return c ? a : b;
}

/* Branch-free form of tn_batch_z for the vector loops. */
static inline double zsafe(double dev, double sd, double expected)
{
    double ae = fabs(expected);
    double eps = 1e-12 * sel(ae > 1.0, ae, 1.0);
    double q = dev / sel(sd > eps, sd, 1.0);
    double zero = sel(fabs(dev) <= eps, 0.0, copysign(TN_Z_INF, dev));
    return sel(sd > eps, q, zero);
}

double tn_batch_z(double dev, double sd, double expected)
{
    return zsafe(dev, sd, expected);
}

static double *dalloc(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

/* ---- rolling z-score ---------------------------------------------------------------------- */

int tn_bz_init(tn_bz_t *b, size_t lanes, uint32_t window)
{
    memset(b, 0, sizeof *b);
    if (window < 2 || lanes == 0) return TN_EINVAL;
    b->lanes = lanes;
    b->window = window;
    b->ring = dalloc((size_t)window * lanes);
    b->mean = dalloc(lanes);
    b->m2 = dalloc(lanes);
    b->tmp = dalloc(2 * lanes);
    if (!b->ring || !b->mean || !b->m2 || !b->tmp) {
        tn_bz_deinit(b);
        return TN_ENOMEM;
    }
    return 0;
}

void tn_bz_deinit(tn_bz_t *b)
{
    free(b->ring);
    free(b->mean);
    free(b->m2);
    free(b->tmp);
    b->ring = b->mean = b->m2 = b->tmp = NULL;
}

/* The per-lane arithmetic lives in the helpers below, shared by the step loops (tn_bz_step)
 * and the time-inner kernels of tn_bz_run, so that both do the same operations in the same
 * order and give bitwise the same results. */

/* Exact mean and m2 of the rings of lanes [l0, l0 + n), in one pass shifted by the current mean
 * (which is close to the true one, so the shifted sums do not cancel). */
TN_SIMD_CLONES
static void bz_recompute_range(tn_bz_t *b, size_t l0, size_t n, uint32_t count)
{
    size_t L = b->lanes;
    double *restrict s = b->tmp + l0, *restrict ss = b->tmp + L + l0;
    const double *restrict mean = b->mean + l0;
    memset(s, 0, n * sizeof(double));
    memset(ss, 0, n * sizeof(double));
    for (uint32_t k = 0; k < count; k++) {
        const double *restrict row = b->ring + (size_t)k * L + l0;
        for (size_t i = 0; i < n; i++) {
            double d = row[i] - mean[i];
            s[i] += d;
            ss[i] += d * d;
        }
    }
    double inv = 1.0 / count;
    double *restrict mo = b->mean + l0, *restrict qo = b->m2 + l0;
    for (size_t i = 0; i < n; i++) {
        mo[i] = mo[i] + s[i] * inv;
        double q = ss[i] - s[i] * s[i] * inv;
        qo[i] = sel(q > 0, q, 0.0);
    }
}

/* A full window: z of xi against (mu, q), then xi replaces y in the window. */
static inline double bz_lane_full(double xi, double y, double *mu_io, double *q_io, double inv_n,
                                  double inv_nm1, double *sd_out)
{
    double mu = *mu_io, q = *q_io;
    double var = q * inv_nm1;
    double sd = sqrt(sel(var > 0, var, 0.0));
    double z = zsafe(xi - mu, sd, mu);
    *sd_out = sd;
    double nmu = mu + (xi - y) * inv_n;
    *mu_io = nmu;
    *q_io = q + (xi - y) * (xi - nmu + y - mu);
    return z;
}

/* The window filling: plain Welford; z is multiplied by zm (0 until two values are in). */
static inline double bz_lane_fill(double xi, double *mu_io, double *q_io, double zm, double inv_np1,
                                  double inv_nm1, double *sd_out)
{
    double mu = *mu_io, q = *q_io;
    double var = q * inv_nm1;
    double s = sqrt(sel(var > 0, var, 0.0));
    double z = zm * zsafe(xi - mu, s, mu);
    *sd_out = s;
    double d = xi - mu;
    double nmu = mu + d * inv_np1;
    *mu_io = nmu;
    *q_io = q + d * (xi - nmu);
    return z;
}

TN_SIMD_CLONES
static void bz_full_portable(size_t L, double inv_n, double inv_nm1, const double *restrict x,
                             double *restrict ring, double *restrict mean, double *restrict m2,
                             double *restrict z)
{
    for (size_t i = 0; i < L; i++) {
        double xi = x[i], y = ring[i], sd;
        ring[i] = xi;
        z[i] = bz_lane_full(xi, y, mean + i, m2 + i, inv_n, inv_nm1, &sd);
    }
}

TN_SIMD_CLONES
static void bz_fill_portable(size_t L, int scored, double inv_np1, double inv_nm1,
                             const double *restrict x, double *restrict ring, double *restrict mean,
                             double *restrict m2, double *restrict z, double *restrict mo,
                             double *restrict so)
{
    double zm = scored ? 1.0 : 0.0; /* z is 0 until two values are in */
    for (size_t i = 0; i < L; i++) {
        double xi = x[i];
        mo[i] = mean[i];
        ring[i] = xi;
        z[i] = bz_lane_fill(xi, mean + i, m2 + i, zm, inv_np1, inv_nm1, so + i);
    }
}

#if TN_HAVE_AVX512
#define TN_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

/* Constants of the AVX-512 lane arithmetic; inv_n is also the recompute's 1 / count. */
typedef struct {
    __m256d inv_n, inv_nm1, zero, one, half, three_halves, tiny, big, absmask, signmask;
} bz_k4_t;

TN_AVX512 static inline bz_k4_t bz_k4(double inv_n, double inv_nm1)
{
    bz_k4_t k;
    k.inv_n = _mm256_set1_pd(inv_n);
    k.inv_nm1 = _mm256_set1_pd(inv_nm1);
    k.zero = _mm256_setzero_pd();
    k.one = _mm256_set1_pd(1.0);
    k.half = _mm256_set1_pd(0.5);
    k.three_halves = _mm256_set1_pd(1.5);
    k.tiny = _mm256_set1_pd(1e-12);
    k.big = _mm256_set1_pd(TN_Z_INF);
    k.absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    k.signmask = _mm256_castsi256_pd(_mm256_set1_epi64x((long long)0x8000000000000000ULL));
    return k;
}

/* Four lanes of a full window, in two parts: bz_z4 is z of xi against (mu, q), with 1/sd from
 * the 14-bit hardware estimate refined by two Newton steps (error below 1e-15) instead of a
 * square root and a division, which share one slow unit; bz_upd4 then updates (mu, q) for xi
 * replacing yv. bz_full4 is both. */
TN_AVX512 static inline __attribute__((always_inline)) __m256d bz_z4(const bz_k4_t *k, __m256d xi,
                                                                     __m256d mu, __m256d q)
{
    __m256d var = _mm256_max_pd(_mm256_mul_pd(q, k->inv_nm1), k->zero);
    __m256d eps = _mm256_mul_pd(k->tiny, _mm256_max_pd(_mm256_and_pd(mu, k->absmask), k->one));
    __m256d y = _mm256_rsqrt14_pd(var);
    __m256d hv = _mm256_mul_pd(k->half, var);
    y = _mm256_mul_pd(y, _mm256_fnmadd_pd(hv, _mm256_mul_pd(y, y), k->three_halves));
    y = _mm256_mul_pd(y, _mm256_fnmadd_pd(hv, _mm256_mul_pd(y, y), k->three_halves));
    __m256d dev = _mm256_sub_pd(xi, mu);
    __m256d ok = _mm256_cmp_pd(var, _mm256_mul_pd(eps, eps), _CMP_GT_OQ); /* sd > eps */
    __m256d adev = _mm256_and_pd(dev, k->absmask);
    __m256d inf = _mm256_or_pd(k->big, _mm256_and_pd(dev, k->signmask));
    __m256d zz = _mm256_blendv_pd(inf, k->zero, _mm256_cmp_pd(adev, eps, _CMP_LE_OQ));
    return _mm256_blendv_pd(zz, _mm256_mul_pd(dev, y), ok);
}

TN_AVX512 static inline __attribute__((always_inline)) void
bz_upd4(const bz_k4_t *k, __m256d xi, __m256d yv, __m256d *mu_io, __m256d *q_io)
{
    __m256d mu = *mu_io, d = _mm256_sub_pd(xi, yv);
    __m256d nmu = _mm256_fmadd_pd(d, k->inv_n, mu);
    __m256d t = _mm256_add_pd(_mm256_sub_pd(xi, nmu), _mm256_sub_pd(yv, mu));
    *mu_io = nmu;
    *q_io = _mm256_fmadd_pd(d, t, *q_io);
}

TN_AVX512 static inline __attribute__((always_inline)) __m256d
bz_full4(const bz_k4_t *k, __m256d xi, __m256d yv, __m256d *mu_io, __m256d *q_io)
{
    __m256d z = bz_z4(k, xi, *mu_io, *q_io);
    bz_upd4(k, xi, yv, mu_io, q_io);
    return z;
}

/* The exact recompute of four lanes, as bz_recompute_range: each ring value r adds d = r - mu
 * to *s and d * d to *ss ... */
TN_AVX512 static inline __attribute__((always_inline)) void bz_acc4(__m256d r, __m256d mu,
                                                                    __m256d *s, __m256d *ss)
{
    __m256d d = _mm256_sub_pd(r, mu);
    *s = _mm256_add_pd(*s, d);
    *ss = _mm256_add_pd(*ss, _mm256_mul_pd(d, d));
}

/* ... and then mu += s / count, q = max(ss - s * s / count, 0). */
TN_AVX512 static inline __attribute__((always_inline)) void
bz_fin4(const bz_k4_t *k, __m256d s, __m256d ss, __m256d *mu_io, __m256d *q_io)
{
    *mu_io = _mm256_add_pd(*mu_io, _mm256_mul_pd(s, k->inv_n));
    __m256d q = _mm256_sub_pd(ss, _mm256_mul_pd(_mm256_mul_pd(s, s), k->inv_n));
    *q_io = _mm256_blendv_pd(k->zero, q, _mm256_cmp_pd(q, k->zero, _CMP_GT_OQ));
}

/* The same three helpers for eight lanes (512-bit registers); the selects are mask blends. */
typedef struct {
    __m512d inv_n, inv_nm1, zero, one, half, three_halves, tiny, big;
    __m512i absmask, signmask;
} bz_k8_t;

TN_AVX512 static inline bz_k8_t bz_k8(double inv_n, double inv_nm1)
{
    bz_k8_t k;
    k.inv_n = _mm512_set1_pd(inv_n);
    k.inv_nm1 = _mm512_set1_pd(inv_nm1);
    k.zero = _mm512_setzero_pd();
    k.one = _mm512_set1_pd(1.0);
    k.half = _mm512_set1_pd(0.5);
    k.three_halves = _mm512_set1_pd(1.5);
    k.tiny = _mm512_set1_pd(1e-12);
    k.big = _mm512_set1_pd(TN_Z_INF);
    k.absmask = _mm512_set1_epi64(0x7fffffffffffffffLL);
    k.signmask = _mm512_set1_epi64((long long)0x8000000000000000ULL);
    return k;
}

TN_AVX512 static inline __attribute__((always_inline)) __m512d bz_and8(__m512d a, __m512i m)
{
    return _mm512_castsi512_pd(_mm512_and_si512(_mm512_castpd_si512(a), m));
}

TN_AVX512 static inline __attribute__((always_inline)) __m512d bz_z8(const bz_k8_t *k, __m512d xi,
                                                                     __m512d mu, __m512d q)
{
    __m512d var = _mm512_max_pd(_mm512_mul_pd(q, k->inv_nm1), k->zero);
    __m512d eps = _mm512_mul_pd(k->tiny, _mm512_max_pd(bz_and8(mu, k->absmask), k->one));
    __m512d y = _mm512_rsqrt14_pd(var);
    __m512d hv = _mm512_mul_pd(k->half, var);
    y = _mm512_mul_pd(y, _mm512_fnmadd_pd(hv, _mm512_mul_pd(y, y), k->three_halves));
    y = _mm512_mul_pd(y, _mm512_fnmadd_pd(hv, _mm512_mul_pd(y, y), k->three_halves));
    __m512d dev = _mm512_sub_pd(xi, mu);
    __mmask8 ok = _mm512_cmp_pd_mask(var, _mm512_mul_pd(eps, eps), _CMP_GT_OQ); /* sd > eps */
    __m512d adev = bz_and8(dev, k->absmask);
    __m512d inf = _mm512_castsi512_pd(_mm512_or_si512(
        _mm512_castpd_si512(k->big), _mm512_and_si512(_mm512_castpd_si512(dev), k->signmask)));
    __m512d zz = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(adev, eps, _CMP_LE_OQ), inf, k->zero);
    return _mm512_mask_blend_pd(ok, zz, _mm512_mul_pd(dev, y));
}

TN_AVX512 static inline __attribute__((always_inline)) void
bz_upd8(const bz_k8_t *k, __m512d xi, __m512d yv, __m512d *mu_io, __m512d *q_io)
{
    __m512d mu = *mu_io, d = _mm512_sub_pd(xi, yv);
    __m512d nmu = _mm512_fmadd_pd(d, k->inv_n, mu);
    __m512d t = _mm512_add_pd(_mm512_sub_pd(xi, nmu), _mm512_sub_pd(yv, mu));
    *mu_io = nmu;
    *q_io = _mm512_fmadd_pd(d, t, *q_io);
}

TN_AVX512 static inline __attribute__((always_inline)) __m512d
bz_full8(const bz_k8_t *k, __m512d xi, __m512d yv, __m512d *mu_io, __m512d *q_io)
{
    __m512d z = bz_z8(k, xi, *mu_io, *q_io);
    bz_upd8(k, xi, yv, mu_io, q_io);
    return z;
}

TN_AVX512 static inline __attribute__((always_inline)) void bz_acc8(__m512d r, __m512d mu,
                                                                    __m512d *s, __m512d *ss)
{
    __m512d d = _mm512_sub_pd(r, mu);
    *s = _mm512_add_pd(*s, d);
    *ss = _mm512_add_pd(*ss, _mm512_mul_pd(d, d));
}

TN_AVX512 static inline __attribute__((always_inline)) void
bz_fin8(const bz_k8_t *k, __m512d s, __m512d ss, __m512d *mu_io, __m512d *q_io)
{
    *mu_io = _mm512_add_pd(*mu_io, _mm512_mul_pd(s, k->inv_n));
    __m512d q = _mm512_sub_pd(ss, _mm512_mul_pd(_mm512_mul_pd(s, s), k->inv_n));
    *q_io = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(q, k->zero, _CMP_GT_OQ), k->zero, q);
}

/* The window filling (bz_lane_fill with zsafe), eight lanes: the square root and the division
 * are correctly rounded in any width, so this is bitwise the portable form. */
TN_AVX512 static inline __attribute__((always_inline)) __m512d
bz_fill8(const bz_k8_t *k, __m512d xi, __m512d *mu_io, __m512d *q_io, __m512d zm, __m512d inv_np1,
         __m512d inv_nm1, __m512d *sd_out)
{
    __m512d mu = *mu_io, q = *q_io;
    __m512d var = _mm512_mul_pd(q, inv_nm1);
    __m512d s = _mm512_sqrt_pd(
        _mm512_mask_blend_pd(_mm512_cmp_pd_mask(var, k->zero, _CMP_GT_OQ), k->zero, var));
    __m512d dev = _mm512_sub_pd(xi, mu);
    __m512d ae = bz_and8(mu, k->absmask);
    __m512d eps = _mm512_mul_pd(
        k->tiny, _mm512_mask_blend_pd(_mm512_cmp_pd_mask(ae, k->one, _CMP_GT_OQ), k->one, ae));
    __mmask8 ok = _mm512_cmp_pd_mask(s, eps, _CMP_GT_OQ);
    __m512d qq = _mm512_div_pd(dev, _mm512_mask_blend_pd(ok, k->one, s));
    __m512d inf = _mm512_castsi512_pd(_mm512_or_si512(
        _mm512_castpd_si512(k->big), _mm512_and_si512(_mm512_castpd_si512(dev), k->signmask)));
    __mmask8 le = _mm512_cmp_pd_mask(bz_and8(dev, k->absmask), eps, _CMP_LE_OQ);
    __m512d zs = _mm512_mask_blend_pd(ok, _mm512_mask_blend_pd(le, inf, k->zero), qq);
    *sd_out = s;
    __m512d nmu = _mm512_add_pd(mu, _mm512_mul_pd(dev, inv_np1));
    *mu_io = nmu;
    *q_io = _mm512_add_pd(q, _mm512_mul_pd(dev, _mm512_sub_pd(xi, nmu)));
    return _mm512_mul_pd(zm, zs);
}

/* The same, four lanes. */
TN_AVX512 static inline __attribute__((always_inline)) __m256d
bz_fill4(const bz_k4_t *k, __m256d xi, __m256d *mu_io, __m256d *q_io, __m256d zm, __m256d inv_np1,
         __m256d inv_nm1, __m256d *sd_out)
{
    __m256d mu = *mu_io, q = *q_io;
    __m256d var = _mm256_mul_pd(q, inv_nm1);
    __m256d s =
        _mm256_sqrt_pd(_mm256_blendv_pd(k->zero, var, _mm256_cmp_pd(var, k->zero, _CMP_GT_OQ)));
    __m256d dev = _mm256_sub_pd(xi, mu);
    __m256d ae = _mm256_and_pd(mu, k->absmask);
    __m256d eps =
        _mm256_mul_pd(k->tiny, _mm256_blendv_pd(k->one, ae, _mm256_cmp_pd(ae, k->one, _CMP_GT_OQ)));
    __m256d ok = _mm256_cmp_pd(s, eps, _CMP_GT_OQ);
    __m256d qq = _mm256_div_pd(dev, _mm256_blendv_pd(k->one, s, ok));
    __m256d inf = _mm256_or_pd(k->big, _mm256_and_pd(dev, k->signmask));
    __m256d le = _mm256_cmp_pd(_mm256_and_pd(dev, k->absmask), eps, _CMP_LE_OQ);
    __m256d zs = _mm256_blendv_pd(_mm256_blendv_pd(inf, k->zero, le), qq, ok);
    *sd_out = s;
    __m256d nmu = _mm256_add_pd(mu, _mm256_mul_pd(dev, inv_np1));
    *mu_io = nmu;
    *q_io = _mm256_add_pd(q, _mm256_mul_pd(dev, _mm256_sub_pd(xi, nmu)));
    return _mm256_mul_pd(zm, zs);
}

/* Explicit AVX-512 version of bz_fill_portable, the lanes in the widths of bz_full_avx512. */
TN_AVX512 static void bz_fill_avx512(size_t L, int scored, double inv_np1, double inv_nm1,
                                     const double *restrict x, double *restrict ring,
                                     double *restrict mean, double *restrict m2, double *restrict z,
                                     double *restrict mo, double *restrict so)
{
    const bz_k8_t k8 = bz_k8(0, 0);
    const __m512d a8 = _mm512_set1_pd(inv_np1), b8 = _mm512_set1_pd(inv_nm1);
    const __m512d zm8 = _mm512_set1_pd(scored ? 1.0 : 0.0);
    size_t i = 0;
    for (; i + 8 <= L; i += 8) {
        __m512d mu = _mm512_loadu_pd(mean + i), q = _mm512_loadu_pd(m2 + i), sd;
        __m512d xi = _mm512_loadu_pd(x + i);
        _mm512_storeu_pd(mo + i, mu);
        _mm512_storeu_pd(ring + i, xi);
        _mm512_storeu_pd(z + i, bz_fill8(&k8, xi, &mu, &q, zm8, a8, b8, &sd));
        _mm512_storeu_pd(so + i, sd);
        _mm512_storeu_pd(mean + i, mu);
        _mm512_storeu_pd(m2 + i, q);
    }
    if (i + 4 <= L) {
        const bz_k4_t k4 = bz_k4(0, 0);
        __m256d mu = _mm256_loadu_pd(mean + i), q = _mm256_loadu_pd(m2 + i), sd;
        __m256d xi = _mm256_loadu_pd(x + i);
        _mm256_storeu_pd(mo + i, mu);
        _mm256_storeu_pd(ring + i, xi);
        _mm256_storeu_pd(z + i, bz_fill4(&k4, xi, &mu, &q, _mm256_set1_pd(scored ? 1.0 : 0.0),
                                         _mm256_set1_pd(inv_np1), _mm256_set1_pd(inv_nm1), &sd));
        _mm256_storeu_pd(so + i, sd);
        _mm256_storeu_pd(mean + i, mu);
        _mm256_storeu_pd(m2 + i, q);
        i += 4;
    }
    if (i < L)
        bz_fill_portable(L - i, scored, inv_np1, inv_nm1, x + i, ring + i, mean + i, m2 + i, z + i,
                         mo + i, so + i);
}

/* Explicit AVX-512 version of bz_full_portable: the lanes below the last multiple of 8 in
 * 512-bit registers, then four in 256-bit ones, and the lanes past the last multiple of 4 in
 * the portable loop. */
TN_AVX512 static void bz_full_avx512(size_t L, double inv_n, double inv_nm1,
                                     const double *restrict x, double *restrict ring,
                                     double *restrict mean, double *restrict m2, double *restrict z)
{
    const bz_k8_t k8 = bz_k8(inv_n, inv_nm1);
    size_t i = 0;
    for (; i + 8 <= L; i += 8) { /* z first, then the ring: faster than the other order */
        __m512d mu = _mm512_loadu_pd(mean + i), q = _mm512_loadu_pd(m2 + i);
        __m512d xi = _mm512_loadu_pd(x + i);
        _mm512_storeu_pd(z + i, bz_z8(&k8, xi, mu, q));
        __m512d yv = _mm512_loadu_pd(ring + i);
        _mm512_storeu_pd(ring + i, xi);
        bz_upd8(&k8, xi, yv, &mu, &q);
        _mm512_storeu_pd(mean + i, mu);
        _mm512_storeu_pd(m2 + i, q);
    }
    if (i + 4 <= L) {
        const bz_k4_t k = bz_k4(inv_n, inv_nm1);
        __m256d mu = _mm256_loadu_pd(mean + i), q = _mm256_loadu_pd(m2 + i);
        __m256d xi = _mm256_loadu_pd(x + i);
        _mm256_storeu_pd(z + i, bz_z4(&k, xi, mu, q));
        __m256d yv = _mm256_loadu_pd(ring + i);
        _mm256_storeu_pd(ring + i, xi);
        bz_upd4(&k, xi, yv, &mu, &q);
        _mm256_storeu_pd(mean + i, mu);
        _mm256_storeu_pd(m2 + i, q);
        i += 4;
    }
    if (i < L) bz_full_portable(L - i, inv_n, inv_nm1, x + i, ring + i, mean + i, m2 + i, z + i);
}

/* The exact recompute of lanes [l0, l0 + n), n a multiple of 4 (l0 one of 8), over `count`
 * ring slots, row by row (the rings are read in order), with the sums in b->tmp; the lanes in
 * the register widths of bz_full_avx512. */
TN_AVX512 static void bz_recompute_avx512(tn_bz_t *b, size_t l0, size_t n, uint32_t count)
{
    size_t L = b->lanes, n8 = n & ~(size_t)7;
    const bz_k8_t k8 = bz_k8(1.0 / count, 0);
    const bz_k4_t k4 = bz_k4(1.0 / count, 0);
    double *restrict s = b->tmp + l0, *restrict ss = b->tmp + L + l0, *restrict mean = b->mean + l0;
    memset(s, 0, n * sizeof(double));
    memset(ss, 0, n * sizeof(double));
    for (uint32_t r = 0; r < count; r++) {
        const double *restrict row = b->ring + (size_t)r * L + l0;
        for (size_t i = 0; i < n8; i += 8) {
            __m512d vs = _mm512_loadu_pd(s + i), vss = _mm512_loadu_pd(ss + i);
            bz_acc8(_mm512_loadu_pd(row + i), _mm512_loadu_pd(mean + i), &vs, &vss);
            _mm512_storeu_pd(s + i, vs);
            _mm512_storeu_pd(ss + i, vss);
        }
        if (n8 < n) {
            __m256d vs = _mm256_loadu_pd(s + n8), vss = _mm256_loadu_pd(ss + n8);
            bz_acc4(_mm256_loadu_pd(row + n8), _mm256_loadu_pd(mean + n8), &vs, &vss);
            _mm256_storeu_pd(s + n8, vs);
            _mm256_storeu_pd(ss + n8, vss);
        }
    }
    for (size_t i = 0; i < n8; i += 8) {
        __m512d mu = _mm512_loadu_pd(mean + i), q;
        bz_fin8(&k8, _mm512_loadu_pd(s + i), _mm512_loadu_pd(ss + i), &mu, &q);
        _mm512_storeu_pd(mean + i, mu);
        _mm512_storeu_pd(b->m2 + l0 + i, q);
    }
    if (n8 < n) {
        __m256d mu = _mm256_loadu_pd(mean + n8), q;
        bz_fin4(&k4, _mm256_loadu_pd(s + n8), _mm256_loadu_pd(ss + n8), &mu, &q);
        _mm256_storeu_pd(mean + n8, mu);
        _mm256_storeu_pd(b->m2 + l0 + n8, q);
    }
}
#endif

static int bz_have_avx512(void)
{
#if TN_HAVE_AVX512
    static int have = -1;
    if (have < 0) have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
    return have;
#else
    return 0;
#endif
}

/* Lanes [0, bz_lanes4(L)) take the AVX-512 form, the rest the portable one. */
static size_t bz_lanes4(size_t L)
{
    return bz_have_avx512() ? L & ~(size_t)3 : 0;
}

static void bz_full(size_t L, double inv_n, double inv_nm1, const double *restrict x,
                    double *restrict ring, double *restrict mean, double *restrict m2,
                    double *restrict z)
{
#if TN_HAVE_AVX512
    if (bz_have_avx512()) {
        bz_full_avx512(L, inv_n, inv_nm1, x, ring, mean, m2, z);
        return;
    }
#endif
    bz_full_portable(L, inv_n, inv_nm1, x, ring, mean, m2, z);
}

static void bz_fill(size_t L, int scored, double inv_np1, double inv_nm1, const double *restrict x,
                    double *restrict ring, double *restrict mean, double *restrict m2,
                    double *restrict z, double *restrict mo, double *restrict so)
{
#if TN_HAVE_AVX512
    if (bz_have_avx512()) {
        bz_fill_avx512(L, scored, inv_np1, inv_nm1, x, ring, mean, m2, z, mo, so);
        return;
    }
#endif
    bz_fill_portable(L, scored, inv_np1, inv_nm1, x, ring, mean, m2, z, mo, so);
}

/* The exact recompute of lanes [l0, l0 + n) over `count` ring slots, each lane in the form that
 * its steps take. */
static void bz_recompute_lanes(tn_bz_t *b, size_t l0, size_t n, uint32_t count)
{
    size_t L4 = bz_lanes4(b->lanes);
    size_t n4 = L4 > l0 ? (L4 - l0 < n ? L4 - l0 : n) : 0;
#if TN_HAVE_AVX512
    if (n4) bz_recompute_avx512(b, l0, n4, count);
#endif
    if (n4 < n) bz_recompute_range(b, l0 + n4, n - n4, count);
}

static void bz_recompute(tn_bz_t *b)
{
    bz_recompute_lanes(b, 0, b->lanes, b->count);
    b->since_exact = 0;
}

TN_SIMD_CLONES
static void bz_full_explain(size_t L, double inv_n, double inv_nm1, const double *restrict x,
                            double *restrict ring, double *restrict mean, double *restrict m2,
                            double *restrict z, double *restrict mo, double *restrict so)
{
    for (size_t i = 0; i < L; i++) {
        double xi = x[i], y = ring[i];
        mo[i] = mean[i];
        ring[i] = xi;
        z[i] = bz_lane_full(xi, y, mean + i, m2 + i, inv_n, inv_nm1, so + i);
    }
}

void tn_bz_step(tn_bz_t *b, const double *x, double *z, double *mean, double *sd)
{
    size_t L = b->lanes;
    double *row = b->ring + (size_t)b->pos * L;
    if (b->count < b->window) { /* filling: plain Welford, z once two values are in */
        uint32_t n = b->count;
        double inv_np1 = 1.0 / (n + 1), inv_nm1 = n > 1 ? 1.0 / (n - 1) : 0;
        double *mo = mean ? mean : b->tmp, *so = sd ? sd : b->tmp + L;
        bz_fill(L, n >= 2, inv_np1, inv_nm1, x, row, b->mean, b->m2, z, mo, so);
        b->count++;
    } else {
        double inv_n = 1.0 / b->count, inv_nm1 = 1.0 / (b->count - 1);
        if (mean || sd) {
            double *mo = mean ? mean : b->tmp, *so = sd ? sd : b->tmp + L;
            bz_full_explain(L, inv_n, inv_nm1, x, row, b->mean, b->m2, z, mo, so);
        } else {
            bz_full(L, inv_n, inv_nm1, x, row, b->mean, b->m2, z);
        }
        if (++b->since_exact >= b->window) bz_recompute(b);
    }
    b->pos = (b->pos + 1) % b->window;
}

/* ---- tn_bz_run: time-inner kernels ----
 *
 * The lanes are cut into blocks whose rings fit in BZ_RING_CACHE bytes, the steps into chunks
 * of at most BZ_ROWS that never cross an exact recompute nor the end of the filling. In one
 * chunk of one block, each group of BZ_GROUP lanes (a cache line of each row) goes through the
 * chunk's steps with its mean and m2 in registers, reading x and the ring and writing z and the
 * ring at stride `lanes`, so the state is loaded and stored once per chunk instead of once per
 * step. The chunk's rows are walked side by side, each as a sequential stream, with software
 * prefetches BZ_PF_LANES lanes ahead (into the next chunk's rows near the block's end), so the
 * input and z stream from memory at close to the copy bandwidth while a block's rings stay in
 * cache. After a chunk that completes `window` replacements comes the block's exact recompute,
 * 64 lanes at a time with the sums in registers.
 *
 * Lane by lane, the operations are those of tn_bz_step: the same helpers, in the same order,
 * and each lane in the same form (AVX-512 in 512-bit registers below the last multiple of 8,
 * then 256-bit ones below the last multiple of 4, else portable). */
#define BZ_ROWS 8
#define BZ_PF_LANES 64
#define BZ_RING_CACHE (512 * 1024)
#define BZ_GROUP 8

/* One chunk of one block. */
typedef struct {
    size_t L;        /* lanes */
    uint32_t W;      /* window */
    uint32_t pos;    /* ring slot of the chunk's first step */
    uint32_t count;  /* values in the rings before the first step */
    size_t l1;       /* the block's end lane */
    size_t bw;       /* the block's width */
    size_t rows;     /* steps in the chunk */
    size_t avail;    /* steps from the chunk's first to the end of the run */
    const double *x; /* row 0 of the chunk, lane 0 */
    double *z;       /* the same for z */
} bz_chunk_t;

/* Where the group at lane l prefetches, as an offset from its own x and z addresses at step t,
 * for t < lim; ring tells whether the ring slot is prefetched too. */
typedef struct {
    ptrdiff_t off;
    size_t lim;
    int ring;
} bz_pf_t;

static inline bz_pf_t bz_pf_plan(const bz_chunk_t *c, size_t l)
{
    bz_pf_t p = {BZ_PF_LANES, c->rows, 1};
    if (l + BZ_PF_LANES >= c->l1) { /* past the block's end: the same lanes of the next rows */
        p.off = (ptrdiff_t)(c->rows * c->L) + BZ_PF_LANES - (ptrdiff_t)c->bw;
        p.lim = c->avail - c->rows < c->rows ? c->avail - c->rows : c->rows;
        p.ring = 0;
        if (l + BZ_PF_LANES - c->bw >= c->l1) p.lim = 0; /* a block narrower than the distance */
    }
    return p;
}

static inline void bz_prefetch(const bz_pf_t *p, size_t t, const double *xr, const double *zr,
                               const double *rr)
{
    if (t < p->lim) {
        __builtin_prefetch(xr + p->off, 0, 2); /* into L2 */
        __builtin_prefetch(zr + p->off, 1, 2);
        if (p->ring) __builtin_prefetch(rr + BZ_PF_LANES, 1, 3);
    }
}

static inline uint32_t bz_next(uint32_t pos, uint32_t W)
{
    return pos + 1 == W ? 0 : pos + 1;
}

/* Filling steps of lanes [l, l + nl), nl <= BZ_GROUP, as bz_fill_portable. */
static inline __attribute__((always_inline)) void bz_fill_group(tn_bz_t *b, const bz_chunk_t *c,
                                                                size_t l, size_t nl)
{
    size_t L = c->L;
    uint32_t pos = c->pos;
    bz_pf_t pf = bz_pf_plan(c, l);
    double *ring = b->ring + l, mu[BZ_GROUP], q[BZ_GROUP];
    for (size_t j = 0; j < nl; j++)
        mu[j] = b->mean[l + j], q[j] = b->m2[l + j];
    for (size_t t = 0; t < c->rows; t++) {
        uint32_t n = c->count + (uint32_t)t;
        double inv_np1 = 1.0 / (n + 1), inv_nm1 = n > 1 ? 1.0 / (n - 1) : 0;
        double zm = n >= 2 ? 1.0 : 0.0;
        const double *restrict xr = c->x + t * L + l;
        double *restrict zr = c->z + t * L + l, *restrict rr = ring + (size_t)pos * L;
        bz_prefetch(&pf, t, xr, zr, rr);
        for (size_t j = 0; j < nl; j++) {
            double xi = xr[j], sd;
            rr[j] = xi;
            zr[j] = bz_lane_fill(xi, mu + j, q + j, zm, inv_np1, inv_nm1, &sd);
        }
        pos = bz_next(pos, c->W);
    }
    for (size_t j = 0; j < nl; j++)
        b->mean[l + j] = mu[j], b->m2[l + j] = q[j];
}

TN_SIMD_CLONES
static void bz_chunk_fill(tn_bz_t *b, const bz_chunk_t *c, size_t l0, size_t n)
{
    size_t l = l0;
    for (; l + BZ_GROUP <= l0 + n; l += BZ_GROUP)
        bz_fill_group(b, c, l, BZ_GROUP);
    if (l < l0 + n) bz_fill_group(b, c, l, l0 + n - l);
}

/* Full-window steps of lanes [l, l + nl), nl <= BZ_GROUP, as bz_full_portable. */
static inline __attribute__((always_inline)) void bz_full_group(tn_bz_t *b, const bz_chunk_t *c,
                                                                size_t l, size_t nl)
{
    size_t L = c->L;
    uint32_t pos = c->pos;
    double inv_n = 1.0 / c->count, inv_nm1 = 1.0 / (c->count - 1);
    bz_pf_t pf = bz_pf_plan(c, l);
    double *ring = b->ring + l, mu[BZ_GROUP], q[BZ_GROUP];
    for (size_t j = 0; j < nl; j++)
        mu[j] = b->mean[l + j], q[j] = b->m2[l + j];
    for (size_t t = 0; t < c->rows; t++) {
        const double *restrict xr = c->x + t * L + l;
        double *restrict zr = c->z + t * L + l, *restrict rr = ring + (size_t)pos * L;
        bz_prefetch(&pf, t, xr, zr, rr);
        for (size_t j = 0; j < nl; j++) {
            double xi = xr[j], y = rr[j], sd;
            rr[j] = xi;
            zr[j] = bz_lane_full(xi, y, mu + j, q + j, inv_n, inv_nm1, &sd);
        }
        pos = bz_next(pos, c->W);
    }
    for (size_t j = 0; j < nl; j++)
        b->mean[l + j] = mu[j], b->m2[l + j] = q[j];
}

TN_SIMD_CLONES
static void bz_chunk_portable(tn_bz_t *b, const bz_chunk_t *c, size_t l0, size_t n)
{
    size_t l = l0;
    for (; l + BZ_GROUP <= l0 + n; l += BZ_GROUP)
        bz_full_group(b, c, l, BZ_GROUP);
    if (l < l0 + n) bz_full_group(b, c, l, l0 + n - l);
}

#if TN_HAVE_AVX512
/* Full-window steps of the eight lanes [l, l + 8) in one 512-bit register, as bz_full_avx512. */
TN_AVX512 static inline __attribute__((always_inline)) void
bz_full_group8(tn_bz_t *b, const bz_chunk_t *c, const bz_k8_t *k, size_t l)
{
    size_t L = c->L;
    uint32_t pos = c->pos;
    bz_pf_t pf = bz_pf_plan(c, l);
    double *mean = b->mean + l, *m2 = b->m2 + l, *ring = b->ring + l;
    __m512d mu = _mm512_loadu_pd(mean), q = _mm512_loadu_pd(m2);
    for (size_t t = 0; t < c->rows; t++) {
        const double *xr = c->x + t * L + l;
        double *zr = c->z + t * L + l, *rr = ring + (size_t)pos * L;
        bz_prefetch(&pf, t, xr, zr, rr);
        __m512d xi = _mm512_loadu_pd(xr), yv = _mm512_loadu_pd(rr);
        _mm512_storeu_pd(rr, xi);
        _mm512_storeu_pd(zr, bz_full8(k, xi, yv, &mu, &q));
        pos = bz_next(pos, c->W);
    }
    _mm512_storeu_pd(mean, mu);
    _mm512_storeu_pd(m2, q);
}

/* The same for the four lanes [l, l + 4) in a 256-bit register. */
TN_AVX512 static void bz_full_group4(tn_bz_t *b, const bz_chunk_t *c, size_t l)
{
    size_t L = c->L;
    uint32_t pos = c->pos;
    const bz_k4_t k = bz_k4(1.0 / c->count, 1.0 / (c->count - 1));
    double *mean = b->mean + l, *m2 = b->m2 + l, *ring = b->ring + l;
    __m256d mu = _mm256_loadu_pd(mean), q = _mm256_loadu_pd(m2);
    for (size_t t = 0; t < c->rows; t++) {
        const double *xr = c->x + t * L + l;
        double *zr = c->z + t * L + l, *rr = ring + (size_t)pos * L;
        __m256d xi = _mm256_loadu_pd(xr), yv = _mm256_loadu_pd(rr);
        _mm256_storeu_pd(rr, xi);
        _mm256_storeu_pd(zr, bz_full4(&k, xi, yv, &mu, &q));
        pos = bz_next(pos, c->W);
    }
    _mm256_storeu_pd(mean, mu);
    _mm256_storeu_pd(m2, q);
}

/* The exact recompute of lanes [l0, l0 + n) over `count` ring slots, as bz_recompute_avx512
 * (n a multiple of 4, l0 one of 8) but with the sums in registers: 64 lanes at a time, which
 * read 512 contiguous bytes of each ring slot, then 8, then 4. */
TN_AVX512 static void bz_recompute_regs_avx512(tn_bz_t *b, size_t l0, size_t n, uint32_t count)
{
    size_t L = b->lanes, n8 = n & ~(size_t)7, i = 0;
    const bz_k8_t k8 = bz_k8(1.0 / count, 0);
    double *mean = b->mean + l0, *m2 = b->m2 + l0;
    const double *ring = b->ring + l0;
    for (; i + 64 <= n8; i += 64) {
        __m512d mu[8], s[8], ss[8];
#pragma GCC unroll 8
        for (int v = 0; v < 8; v++)
            mu[v] = _mm512_loadu_pd(mean + i + 8 * v), s[v] = ss[v] = k8.zero;
        for (uint32_t r = 0; r < count; r++) {
            const double *row = ring + (size_t)r * L + i;
#pragma GCC unroll 8
            for (int v = 0; v < 8; v++)
                bz_acc8(_mm512_loadu_pd(row + 8 * v), mu[v], &s[v], &ss[v]);
        }
#pragma GCC unroll 8
        for (int v = 0; v < 8; v++) {
            __m512d q;
            bz_fin8(&k8, s[v], ss[v], &mu[v], &q);
            _mm512_storeu_pd(mean + i + 8 * v, mu[v]);
            _mm512_storeu_pd(m2 + i + 8 * v, q);
        }
    }
    for (; i < n8; i += 8) {
        __m512d mu = _mm512_loadu_pd(mean + i), s = k8.zero, ss = k8.zero, q;
        for (uint32_t r = 0; r < count; r++)
            bz_acc8(_mm512_loadu_pd(ring + (size_t)r * L + i), mu, &s, &ss);
        bz_fin8(&k8, s, ss, &mu, &q);
        _mm512_storeu_pd(mean + i, mu);
        _mm512_storeu_pd(m2 + i, q);
    }
    if (n8 < n) {
        const bz_k4_t k4 = bz_k4(1.0 / count, 0);
        __m256d mu = _mm256_loadu_pd(mean + n8), s = k4.zero, ss = k4.zero, q;
        for (uint32_t r = 0; r < count; r++)
            bz_acc4(_mm256_loadu_pd(ring + (size_t)r * L + n8), mu, &s, &ss);
        bz_fin4(&k4, s, ss, &mu, &q);
        _mm256_storeu_pd(mean + n8, mu);
        _mm256_storeu_pd(m2 + n8, q);
    }
}

/* Filling steps of the lanes [l, l + 4 nv), nv = 2 (one 512-bit register) or 1 (a 256-bit one),
 * as bz_fill_avx512. */
TN_AVX512 static inline __attribute__((always_inline)) void
bz_fill_group_avx512(tn_bz_t *b, const bz_chunk_t *c, size_t l, int nv)
{
    size_t L = c->L;
    uint32_t pos = c->pos;
    bz_pf_t pf = bz_pf_plan(c, l);
    const bz_k8_t k8 = bz_k8(0, 0);
    const bz_k4_t k4 = bz_k4(0, 0);
    double *mean = b->mean + l, *m2 = b->m2 + l, *ring = b->ring + l;
    __m512d mu8 = k8.zero, q8 = k8.zero;
    __m256d mu4 = k4.zero, q4 = k4.zero;
    if (nv == 2)
        mu8 = _mm512_loadu_pd(mean), q8 = _mm512_loadu_pd(m2);
    else
        mu4 = _mm256_loadu_pd(mean), q4 = _mm256_loadu_pd(m2);
    for (size_t t = 0; t < c->rows; t++) {
        uint32_t n = c->count + (uint32_t)t;
        double inv_np1 = 1.0 / (n + 1), inv_nm1 = n > 1 ? 1.0 / (n - 1) : 0;
        double zm = n >= 2 ? 1.0 : 0.0;
        const double *xr = c->x + t * L + l;
        double *zr = c->z + t * L + l, *rr = ring + (size_t)pos * L;
        bz_prefetch(&pf, t, xr, zr, rr);
        if (nv == 2) {
            __m512d xi = _mm512_loadu_pd(xr), sd;
            _mm512_storeu_pd(rr, xi);
            _mm512_storeu_pd(zr, bz_fill8(&k8, xi, &mu8, &q8, _mm512_set1_pd(zm),
                                          _mm512_set1_pd(inv_np1), _mm512_set1_pd(inv_nm1), &sd));
        } else {
            __m256d xi = _mm256_loadu_pd(xr), sd;
            _mm256_storeu_pd(rr, xi);
            _mm256_storeu_pd(zr, bz_fill4(&k4, xi, &mu4, &q4, _mm256_set1_pd(zm),
                                          _mm256_set1_pd(inv_np1), _mm256_set1_pd(inv_nm1), &sd));
        }
        pos = bz_next(pos, c->W);
    }
    if (nv == 2)
        _mm512_storeu_pd(mean, mu8), _mm512_storeu_pd(m2, q8);
    else
        _mm256_storeu_pd(mean, mu4), _mm256_storeu_pd(m2, q4);
}

/* Filling steps of lanes [l0, l0 + n), n a multiple of 4, l0 one of 8. */
TN_AVX512 static void bz_chunk_fill_avx512(tn_bz_t *b, const bz_chunk_t *c, size_t l0, size_t n)
{
    size_t l = l0;
    for (; l + 8 <= l0 + n; l += 8)
        bz_fill_group_avx512(b, c, l, 2);
    if (l < l0 + n) bz_fill_group_avx512(b, c, l, 1);
}

/* Lanes [l0, l0 + n), n a multiple of 4, l0 one of 8. */
TN_AVX512 static void bz_chunk_avx512(tn_bz_t *b, const bz_chunk_t *c, size_t l0, size_t n)
{
    const bz_k8_t k = bz_k8(1.0 / c->count, 1.0 / (c->count - 1));
    size_t l = l0;
    for (; l + 8 <= l0 + n; l += 8)
        bz_full_group8(b, c, &k, l);
    if (l < l0 + n) bz_full_group4(b, c, l);
}
#endif

/* Steps per chunk for rows `stride` bytes apart: at most BZ_ROWS, and few enough that no more
 * than two of them fall in one set of a 64-set L1 cache (with 4 KiB between rows, a group's
 * lines of x, z and the ring would otherwise all compete for the same set's ways). */
static size_t bz_rows(size_t stride)
{
    size_t r = BZ_ROWS;
    for (; r > 2; r--) {
        unsigned char in_set[64] = {0};
        int ok = 1;
        for (size_t t = 0; t < r && ok; t++)
            ok = ++in_set[t * (stride % 4096) % 4096 / 64] <= 2;
        if (ok) break;
    }
    return r;
}

void tn_bz_run(tn_bz_t *b, size_t steps, const double *x, double *z)
{
    size_t L = b->lanes, L4 = bz_lanes4(L);
    uint32_t W = b->window, since = b->since_exact;
    /* blocks of equal width, a multiple of BZ_GROUP lanes, whose rings fit the cache budget */
    size_t bmax = BZ_RING_CACHE / ((size_t)W * sizeof(double));
    if (bmax < 2 * BZ_PF_LANES) bmax = 2 * BZ_PF_LANES;
    size_t nblk = (L + bmax - 1) / bmax, bw = (L + nblk - 1) / nblk;
    bw = (bw + BZ_GROUP - 1) / BZ_GROUP * BZ_GROUP;
    size_t rmax = bz_rows(L * sizeof(double));
    bz_chunk_t c = {.L = L, .W = W, .pos = b->pos, .count = b->count};
    for (size_t l0 = 0; l0 < L; l0 += bw) {
        c.bw = L - l0 < bw ? L - l0 : bw;
        c.l1 = l0 + c.bw;
        c.pos = b->pos, c.count = b->count, since = b->since_exact;
        for (size_t c0 = 0; c0 < steps; c0 += c.rows) {
            int fill = c.count < W;
            size_t lim = fill ? W - c.count : W - since;
            c.avail = steps - c0;
            c.rows = c.avail < rmax ? c.avail : rmax;
            if (c.rows > lim) c.rows = lim;
            c.x = x + c0 * L;
            c.z = z + c0 * L;
            size_t n4 = L4 > l0 ? (L4 - l0 < c.bw ? L4 - l0 : c.bw) : 0;
            if (fill) {
#if TN_HAVE_AVX512
                if (n4) bz_chunk_fill_avx512(b, &c, l0, n4);
#endif
                if (n4 < c.bw) bz_chunk_fill(b, &c, l0 + n4, c.bw - n4);
                c.count += (uint32_t)c.rows;
            } else {
#if TN_HAVE_AVX512
                if (n4) bz_chunk_avx512(b, &c, l0, n4);
#endif
                if (n4 < c.bw) bz_chunk_portable(b, &c, l0 + n4, c.bw - n4);
                since += (uint32_t)c.rows;
                if (since >= W) { /* the block's exact recompute */
#if TN_HAVE_AVX512
                    if (n4) bz_recompute_regs_avx512(b, l0, n4, c.count);
#endif
                    if (n4 < c.bw) bz_recompute_range(b, l0 + n4, c.bw - n4, c.count);
                    since = 0;
                }
            }
            c.pos = (uint32_t)((c.pos + c.rows) % W);
        }
    }
    b->pos = c.pos, b->count = c.count, b->since_exact = since;
}

/* ---- EWMA ----------------------------------------------------------------------------------- */

int tn_be_init(tn_be_t *b, size_t lanes, double alpha)
{
    memset(b, 0, sizeof *b);
    if (!(alpha > 0 && alpha <= 1) || lanes == 0) return TN_EINVAL;
    b->lanes = lanes;
    b->alpha = alpha;
    b->decay = 1;
    b->mean = dalloc(lanes);
    b->var = dalloc(lanes);
    if (!b->mean || !b->var) {
        tn_be_deinit(b);
        return TN_ENOMEM;
    }
    return 0;
}

void tn_be_deinit(tn_be_t *b)
{
    free(b->mean);
    free(b->var);
    b->mean = b->var = NULL;
}

TN_SIMD_CLONES
static void be_run(size_t L, double a, double inv_w, const double *restrict x, double *restrict m,
                   double *restrict v, double *restrict z)
{
    for (size_t i = 0; i < L; i++) {
        double mu = m[i], var = v[i], xi = x[i];
        double s = sqrt(sel(var > 0, var, 0.0) * inv_w);
        double d = xi - mu;
        z[i] = zsafe(d, s, mu);
        m[i] = mu + a * d;
        v[i] = (1 - a) * (var + a * d * d);
    }
}

TN_SIMD_CLONES
static void be_run_explain(size_t L, double a, double inv_w, const double *restrict x,
                           double *restrict m, double *restrict v, double *restrict z,
                           double *restrict mo, double *restrict so)
{
    for (size_t i = 0; i < L; i++) {
        double mu = m[i], var = v[i], xi = x[i];
        double s = sqrt(sel(var > 0, var, 0.0) * inv_w);
        double d = xi - mu;
        z[i] = zsafe(d, s, mu);
        mo[i] = mu;
        so[i] = s;
        m[i] = mu + a * d;
        v[i] = (1 - a) * (var + a * d * d);
    }
}

void tn_be_step(tn_be_t *b, const double *x, double *z, double *mean, double *sd)
{
    size_t L = b->lanes;
    if (b->n == 0) {
        for (size_t i = 0; i < L; i++) {
            z[i] = 0;
            if (mean) mean[i] = x[i];
            if (sd) sd[i] = 0;
            b->mean[i] = x[i];
            b->var[i] = 0;
        }
        b->n = 1;
        return;
    }
    if (b->n == 1) { /* one value: no spread to compare with yet */
        for (size_t i = 0; i < L; i++) {
            double d = x[i] - b->mean[i];
            z[i] = 0;
            if (mean) mean[i] = b->mean[i];
            if (sd) sd[i] = 0;
            b->mean[i] += b->alpha * d;
            b->var[i] = (1 - b->alpha) * (b->var[i] + b->alpha * d * d);
        }
    } else {
        double w = 1 - b->decay, inv_w = w > 0 ? 1 / w : 0;
        if (mean && sd)
            be_run_explain(L, b->alpha, inv_w, x, b->mean, b->var, z, mean, sd);
        else
            be_run(L, b->alpha, inv_w, x, b->mean, b->var, z);
    }
    b->decay *= 1 - b->alpha;
    b->n++;
}

/* ---- Holt-Winters --------------------------------------------------------------------------- */

static int coef_ok(double c)
{
    return c > 0 && c <= 1;
}

int tn_bhw_init(tn_bhw_t *b, size_t lanes, uint32_t season, double alpha, double beta, double gamma,
                double rate)
{
    memset(b, 0, sizeof *b);
    if (lanes == 0 || !coef_ok(alpha) || !coef_ok(beta) || !coef_ok(rate) ||
        (season && !coef_ok(gamma)))
        return TN_EINVAL;
    b->lanes = lanes;
    b->season = season == 1 ? 0 : season;
    b->alpha = alpha;
    b->beta = beta;
    b->gamma = gamma;
    b->rate = rate;
    b->decay = 1;
    b->level = dalloc(lanes);
    b->trend = dalloc(lanes);
    b->s2 = dalloc(lanes);
    b->seas = b->season ? dalloc((size_t)b->season * lanes) : NULL;
    b->tmp = dalloc(lanes);
    if (!b->level || !b->trend || !b->s2 || !b->tmp || (b->season && !b->seas)) {
        tn_bhw_deinit(b);
        return TN_ENOMEM;
    }
    return 0;
}

void tn_bhw_deinit(tn_bhw_t *b)
{
    free(b->level);
    free(b->trend);
    free(b->s2);
    free(b->seas);
    free(b->tmp);
    b->level = b->trend = b->s2 = b->seas = b->tmp = NULL;
}

uint64_t tn_bhw_warmup(const tn_bhw_t *b)
{
    return (uint64_t)(b->season ? b->season : 1) + 2;
}

TN_SIMD_CLONES
static void bhw_run(size_t L, double a, double bt, double g, double r, double inv_w, int scored,
                    int has_season, const double *restrict x, double *restrict lv,
                    double *restrict tr, double *restrict s2, double *restrict se,
                    double *restrict z, double *restrict fo, double *restrict so)
{
    /* branch-free: without a season, se is a scratch row whose values are multiplied by 0 */
    double sm = has_season ? 1.0 : 0.0, zm = scored ? 1.0 : 0.0;
    for (size_t i = 0; i < L; i++) {
        double xi = x[i], l = lv[i], t = tr[i], sp = sm * se[i];
        double f = l + t + sp;
        double e = xi - f;
        double v = s2[i] * inv_w;
        double s = sqrt(sel(v > 0, v, 0.0));
        z[i] = zm * zsafe(e, s, f);
        fo[i] = f;
        so[i] = s;
        s2[i] = (1 - r) * s2[i] + r * e * e;
        double nl = a * (xi - sp) + (1 - a) * (l + t);
        lv[i] = nl;
        tr[i] = bt * (nl - l) + (1 - bt) * t;
        se[i] = g * (xi - nl) + (1 - g) * sp;
    }
}

void tn_bhw_step(tn_bhw_t *b, const double *x, double *z, double *fc, double *sd)
{
    size_t L = b->lanes;
    uint32_t m = b->season;
    if (m && b->n < m) { /* first season: the level is its mean, the season the offsets */
        double *row = b->seas + (size_t)b->n * L;
        for (size_t i = 0; i < L; i++) {
            z[i] = 0;
            if (fc) fc[i] = x[i];
            if (sd) sd[i] = 0;
            row[i] = x[i];
            b->level[i] += (x[i] - b->level[i]) / (double)(b->n + 1);
        }
        if (++b->n == m) {
            for (uint32_t k = 0; k < m; k++)
                for (size_t i = 0; i < L; i++)
                    b->seas[(size_t)k * L + i] -= b->level[i];
            b->phase = 0;
        }
        return;
    }
    if (!m && b->n == 0) {
        for (size_t i = 0; i < L; i++) {
            z[i] = 0;
            if (fc) fc[i] = x[i];
            if (sd) sd[i] = 0;
            b->level[i] = x[i];
            b->trend[i] = 0;
        }
        b->n = 1;
        return;
    }
    uint64_t resid = b->n - (m ? m : 1); /* residuals seen so far */
    double w = 1 - b->decay, inv_w = w > 0 ? 1 / w : 0;
    double *se = m ? b->seas + (size_t)b->phase * L : b->tmp;
    /* without explanation outputs, the forecast and sd go to the variance scratch of z's
     * caller: use a small stack buffer in chunks */
    if (fc && sd) {
        bhw_run(L, b->alpha, b->beta, b->gamma, b->rate, inv_w, resid >= 2, m != 0, x, b->level,
                b->trend, b->s2, se, z, fc, sd);
    } else {
        double f1[256], s1[256];
        for (size_t off = 0; off < L; off += 256) {
            size_t n = L - off < 256 ? L - off : 256;
            bhw_run(n, b->alpha, b->beta, b->gamma, b->rate, inv_w, resid >= 2, m != 0, x + off,
                    b->level + off, b->trend + off, b->s2 + off, se + off, z + off, f1, s1);
            if (fc) memcpy(fc + off, f1, n * sizeof(double));
            if (sd) memcpy(sd + off, s1, n * sizeof(double));
        }
    }
    b->decay *= 1 - b->rate;
    b->n++;
    if (m) b->phase = (b->phase + 1) % m;
}

void tn_bhw_skip(tn_bhw_t *b, uint32_t steps)
{
    if (b->n < tn_bhw_warmup(b) - 2 || steps == 0) return;
    for (size_t i = 0; i < b->lanes; i++)
        b->level[i] += steps * b->trend[i];
    if (b->season) b->phase = (uint32_t)((b->phase + (uint64_t)steps) % b->season);
}
