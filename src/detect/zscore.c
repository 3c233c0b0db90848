#include "detect/zscore.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>

int tn_zscore_init(tn_zscore_t *zs, uint32_t window)
{
    if (window < 2) return TN_EINVAL;
    zs->ring = malloc(sizeof(double) * window);
    if (!zs->ring) return TN_ENOMEM;
    zs->window = window;
    zs->count = zs->pos = zs->since_exact = 0;
    zs->mean = zs->m2 = 0;
    return 0;
}

void tn_zscore_deinit(tn_zscore_t *zs)
{
    free(zs->ring);
    zs->ring = NULL;
}

double tn_zscore_score(double z)
{
    return erf(fabs(z) / M_SQRT2);
}

static void recompute(tn_zscore_t *zs)
{
    double sum = 0, c = 0;
    for (uint32_t i = 0; i < zs->count; i++) { /* Kahan-compensated sum */
        double y = zs->ring[i] - c, t = sum + y;
        c = (t - sum) - y;
        sum = t;
    }
    double mean = sum / zs->count, m2 = 0;
    for (uint32_t i = 0; i < zs->count; i++) {
        double d = zs->ring[i] - mean;
        m2 += d * d;
    }
    zs->mean = mean;
    zs->m2 = m2;
    zs->since_exact = 0;
}

void tn_zscore_update(tn_zscore_t *zs, double x, tn_zscore_result_t *out)
{
    out->n = zs->count;
    out->mean = zs->mean;
    out->stddev = zs->count > 1 ? sqrt(fmax(zs->m2, 0) / (zs->count - 1)) : 0;
    double dev = x - zs->mean;
    double eps = 1e-12 * fmax(1.0, fabs(zs->mean));
    if (zs->count < 2)
        out->z = 0;
    else if (out->stddev > eps)
        out->z = dev / out->stddev;
    else
        out->z = fabs(dev) <= eps ? 0 : copysign(1e9, dev);
    out->score = tn_zscore_score(out->z);

    if (zs->count < zs->window) {
        zs->ring[zs->pos] = x;
        zs->count++;
        double d = x - zs->mean;
        zs->mean += d / zs->count;
        zs->m2 += d * (x - zs->mean);
    } else {
        double y = zs->ring[zs->pos];
        zs->ring[zs->pos] = x;
        double old_mean = zs->mean;
        zs->mean += (x - y) / zs->count;
        zs->m2 += (x - y) * (x - zs->mean + y - old_mean);
        if (++zs->since_exact >= zs->window) recompute(zs);
    }
    zs->pos = (zs->pos + 1) % zs->window;
}
