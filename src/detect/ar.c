#include "detect/ar.h"
#include "detect/batch.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tn_ar_init(tn_ar_t *a, uint32_t p, uint32_t window, uint32_t refit)
{
    memset(a, 0, sizeof *a);
    if (p < 1 || p > TN_AR_MAX_P || window < 4 * p + 4 || refit < 1) return TN_EINVAL;
    a->ring = malloc(sizeof(double) * window);
    if (!a->ring) return TN_ENOMEM;
    a->p = p;
    a->window = window;
    a->refit = refit;
    return 0;
}

void tn_ar_deinit(tn_ar_t *a)
{
    free(a->ring);
    a->ring = NULL;
}

double tn_ar_levinson(const double *c, uint32_t p, double *phi)
{
    double tmp[TN_AR_MAX_P];
    for (uint32_t j = 0; j < p; j++)
        phi[j] = 0;
    double e = c[0];
    if (!(e > 0)) return 0;
    for (uint32_t k = 1; k <= p; k++) {
        double acc = c[k];
        for (uint32_t j = 1; j < k; j++)
            acc -= phi[j - 1] * c[k - j];
        double kappa = acc / e;
        if (!(fabs(kappa) < 1)) break; /* numerically singular: keep the lower order */
        for (uint32_t j = 1; j < k; j++)
            tmp[j - 1] = phi[j - 1] - kappa * phi[k - j - 1];
        for (uint32_t j = 1; j < k; j++)
            phi[j - 1] = tmp[j - 1];
        phi[k - 1] = kappa;
        e *= 1 - kappa * kappa;
        if (!(e > 1e-300)) break;
    }
    return e > 0 ? e : 0;
}

/* The value `back` steps before the newest (back 0 = newest). */
static double at(const tn_ar_t *a, uint32_t back)
{
    return a->ring[(a->pos + a->window - 1 - back) % a->window];
}

static void fit(tn_ar_t *a)
{
    uint32_t n = a->count;
    double mean = 0;
    for (uint32_t i = 0; i < n; i++)
        mean += a->ring[i];
    mean /= n;
    double c[TN_AR_MAX_P + 1];
    for (uint32_t k = 0; k <= a->p; k++) {
        double s = 0;
        for (uint32_t t = k; t < n; t++)
            s += (at(a, t) - mean) * (at(a, t - k) - mean);
        c[k] = s / n;
    }
    a->mean = mean;
    a->sigma = sqrt(tn_ar_levinson(c, a->p, a->phi));
    a->fitted = 1;
    a->since_fit = 0;
}

void tn_ar_update(tn_ar_t *a, double x, int *ready, double *z, double *forecast, double *sigma)
{
    *ready = 0;
    *z = 0;
    *forecast = x;
    *sigma = 0;
    if (a->fitted) {
        double f = a->mean;
        for (uint32_t k = 0; k < a->p; k++)
            f += a->phi[k] * (at(a, k) - a->mean);
        *ready = 1;
        *forecast = f;
        *sigma = a->sigma;
        *z = tn_batch_z(x - f, a->sigma, f);
    }
    a->ring[a->pos] = x;
    a->pos = (a->pos + 1) % a->window;
    if (a->count < a->window) a->count++;
    a->since_fit++;
    /* first fit once the window holds 4p + 4 values, then every `refit` values */
    if ((!a->fitted && a->count >= 4 * a->p + 4) || (a->fitted && a->since_fit >= a->refit)) fit(a);
}
