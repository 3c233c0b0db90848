#include "detect/batch.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Build the hot loops for AVX2 too, chosen at load time; SSE2 is the portable fallback. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
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

static void bz_recompute(tn_bz_t *b)
{
    bz_recompute_range(b, 0, b->lanes, b->count);
    b->since_exact = 0;
}

TN_SIMD_CLONES
static void bz_full_portable(size_t L, double inv_n, double inv_nm1, const double *restrict x,
                             double *restrict ring, double *restrict mean, double *restrict m2,
                             double *restrict z)
{
    for (size_t i = 0; i < L; i++) {
        double mu = mean[i], q = m2[i], xi = x[i];
        double var = q * inv_nm1;
        double sd = sqrt(sel(var > 0, var, 0.0));
        z[i] = zsafe(xi - mu, sd, mu);
        double y = ring[i];
        ring[i] = xi;
        double nmu = mu + (xi - y) * inv_n;
        mean[i] = nmu;
        m2[i] = q + (xi - y) * (xi - nmu + y - mu);
    }
}

#if TN_HAVE_AVX512
/* Explicit AVX-512VL (256-bit) version: 1/sd from the 14-bit hardware estimate refined by two
 * Newton steps (error below 1e-15) instead of a square root and a division, which share one
 * slow unit. The lanes past the last multiple of 4 take the portable loop. */
__attribute__((target("avx512f,avx512vl,fma"))) static void
bz_full_avx512(size_t L, double inv_n, double inv_nm1, const double *restrict x,
               double *restrict ring, double *restrict mean, double *restrict m2,
               double *restrict z)
{
    const __m256d vinv_n = _mm256_set1_pd(inv_n), vinv_nm1 = _mm256_set1_pd(inv_nm1);
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
    const __m256d half = _mm256_set1_pd(0.5), three_halves = _mm256_set1_pd(1.5);
    const __m256d tiny = _mm256_set1_pd(1e-12), big = _mm256_set1_pd(TN_Z_INF);
    const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    const __m256d signmask =
        _mm256_castsi256_pd(_mm256_set1_epi64x((long long)0x8000000000000000ULL));
    size_t i = 0;
    for (; i + 4 <= L; i += 4) {
        __m256d mu = _mm256_loadu_pd(mean + i), q = _mm256_loadu_pd(m2 + i);
        __m256d xi = _mm256_loadu_pd(x + i);
        __m256d var = _mm256_max_pd(_mm256_mul_pd(q, vinv_nm1), zero);
        __m256d eps = _mm256_mul_pd(tiny, _mm256_max_pd(_mm256_and_pd(mu, absmask), one));
        __m256d y = _mm256_rsqrt14_pd(var);
        __m256d hv = _mm256_mul_pd(half, var);
        y = _mm256_mul_pd(y, _mm256_fnmadd_pd(hv, _mm256_mul_pd(y, y), three_halves));
        y = _mm256_mul_pd(y, _mm256_fnmadd_pd(hv, _mm256_mul_pd(y, y), three_halves));
        __m256d dev = _mm256_sub_pd(xi, mu);
        __m256d ok = _mm256_cmp_pd(var, _mm256_mul_pd(eps, eps), _CMP_GT_OQ); /* sd > eps */
        __m256d adev = _mm256_and_pd(dev, absmask);
        __m256d inf = _mm256_or_pd(big, _mm256_and_pd(dev, signmask));
        __m256d zz = _mm256_blendv_pd(inf, zero, _mm256_cmp_pd(adev, eps, _CMP_LE_OQ));
        _mm256_storeu_pd(z + i, _mm256_blendv_pd(zz, _mm256_mul_pd(dev, y), ok));
        __m256d yv = _mm256_loadu_pd(ring + i);
        _mm256_storeu_pd(ring + i, xi);
        __m256d d = _mm256_sub_pd(xi, yv);
        __m256d nmu = _mm256_fmadd_pd(d, vinv_n, mu);
        _mm256_storeu_pd(mean + i, nmu);
        __m256d t = _mm256_add_pd(_mm256_sub_pd(xi, nmu), _mm256_sub_pd(yv, mu));
        _mm256_storeu_pd(m2 + i, _mm256_fmadd_pd(d, t, q));
    }
    if (i < L) bz_full_portable(L - i, inv_n, inv_nm1, x + i, ring + i, mean + i, m2 + i, z + i);
}
#endif

static void bz_full(size_t L, double inv_n, double inv_nm1, const double *restrict x,
                    double *restrict ring, double *restrict mean, double *restrict m2,
                    double *restrict z)
{
#if TN_HAVE_AVX512
    static int have = -1;
    if (have < 0) have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
    if (have) {
        bz_full_avx512(L, inv_n, inv_nm1, x, ring, mean, m2, z);
        return;
    }
#endif
    bz_full_portable(L, inv_n, inv_nm1, x, ring, mean, m2, z);
}

TN_SIMD_CLONES
static void bz_full_explain(size_t L, double inv_n, double inv_nm1, const double *restrict x,
                            double *restrict ring, double *restrict mean, double *restrict m2,
                            double *restrict z, double *restrict mo, double *restrict so)
{
    for (size_t i = 0; i < L; i++) {
        double mu = mean[i], q = m2[i], xi = x[i];
        double var = q * inv_nm1;
        double sd = sqrt(sel(var > 0, var, 0.0));
        z[i] = zsafe(xi - mu, sd, mu);
        mo[i] = mu;
        so[i] = sd;
        double y = ring[i];
        ring[i] = xi;
        double nmu = mu + (xi - y) * inv_n;
        mean[i] = nmu;
        m2[i] = q + (xi - y) * (xi - nmu + y - mu);
    }
}

TN_SIMD_CLONES
static void bz_fill(size_t L, int scored, double inv_np1, double inv_nm1, const double *restrict x,
                    double *restrict ring, double *restrict mean, double *restrict m2,
                    double *restrict z, double *restrict mo, double *restrict so)
{
    double zm = scored ? 1.0 : 0.0; /* z is 0 until two values are in */
    for (size_t i = 0; i < L; i++) {
        double mu = mean[i], q = m2[i], xi = x[i];
        double var = q * inv_nm1;
        double s = sqrt(sel(var > 0, var, 0.0));
        z[i] = zm * zsafe(xi - mu, s, mu);
        mo[i] = mu;
        so[i] = s;
        ring[i] = xi;
        double d = xi - mu;
        double nmu = mu + d * inv_np1;
        mean[i] = nmu;
        m2[i] = q + d * (xi - nmu);
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

/* Lanes per tile in tn_bz_run: a tile's rings (window x TILE doubles) stay in the L2 cache
 * while it advances through the steps. */
#define BZ_TILE 1024

void tn_bz_run(tn_bz_t *b, size_t steps, const double *x, double *z)
{
    size_t L = b->lanes;
    uint32_t W = b->window, count = b->count, pos = b->pos, since = b->since_exact;
    for (size_t l0 = 0; l0 < L; l0 += BZ_TILE) {
        size_t n = L - l0 < BZ_TILE ? L - l0 : BZ_TILE;
        count = b->count, pos = b->pos, since = b->since_exact;
        for (size_t t = 0; t < steps; t++) {
            const double *xt = x + t * L + l0;
            double *zt = z + t * L + l0;
            double *row = b->ring + (size_t)pos * L + l0;
            if (count < W) {
                double inv_np1 = 1.0 / (count + 1), inv_nm1 = count > 1 ? 1.0 / (count - 1) : 0;
                bz_fill(n, count >= 2, inv_np1, inv_nm1, xt, row, b->mean + l0, b->m2 + l0, zt,
                        b->tmp + l0, b->tmp + L + l0);
                count++;
            } else {
                bz_full(n, 1.0 / count, 1.0 / (count - 1), xt, row, b->mean + l0, b->m2 + l0, zt);
                if (++since >= W) {
                    bz_recompute_range(b, l0, n, count);
                    since = 0;
                }
            }
            pos = (pos + 1) % W;
        }
    }
    b->count = count;
    b->pos = pos;
    b->since_exact = since;
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
