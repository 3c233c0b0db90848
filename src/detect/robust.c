#include "detect/robust.h"
#include "detect/batch.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tn_sortwin_init(tn_sortwin_t *w, uint32_t window)
{
    memset(w, 0, sizeof *w);
    if (window < 3) return TN_EINVAL;
    w->ring = malloc(sizeof(double) * window);
    w->sorted = malloc(sizeof(double) * window);
    if (!w->ring || !w->sorted) {
        tn_sortwin_deinit(w);
        return TN_ENOMEM;
    }
    w->window = window;
    return 0;
}

void tn_sortwin_deinit(tn_sortwin_t *w)
{
    free(w->ring);
    free(w->sorted);
    w->ring = w->sorted = NULL;
}

/* First index with sorted[i] >= x. */
static uint32_t lower_bound(const double *a, uint32_t n, double x)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void tn_sortwin_add(tn_sortwin_t *w, double x)
{
    if (w->count == w->window) {
        double y = w->ring[w->pos];
        uint32_t i = lower_bound(w->sorted, w->count, y);
        memmove(w->sorted + i, w->sorted + i + 1, sizeof(double) * (w->count - i - 1));
        w->count--;
    }
    uint32_t i = lower_bound(w->sorted, w->count, x);
    memmove(w->sorted + i + 1, w->sorted + i, sizeof(double) * (w->count - i));
    w->sorted[i] = x;
    w->count++;
    w->ring[w->pos] = x;
    w->pos = (w->pos + 1) % w->window;
}

double tn_sortwin_quantile(const tn_sortwin_t *w, double p)
{
    double h = (w->count - 1) * p;
    uint32_t lo = (uint32_t)floor(h);
    if (lo + 1 >= w->count) return w->sorted[w->count - 1];
    return w->sorted[lo] + (h - lo) * (w->sorted[lo + 1] - w->sorted[lo]);
}

/* The k-th smallest (0-based) of |sorted[i] - med|: the deviations grow outwards from the
 * median on both sides, so merge the two sides. */
static double kth_dev(const tn_sortwin_t *w, double med, uint32_t k)
{
    const double *s = w->sorted;
    uint32_t n = w->count;
    uint32_t r = lower_bound(s, n, med); /* right side starts here */
    int64_t l = (int64_t)r - 1;
    double d = 0;
    for (uint32_t taken = 0; taken <= k; taken++) {
        double dl = l >= 0 ? med - s[l] : INFINITY;
        double dr = r < n ? s[r] - med : INFINITY;
        if (dl <= dr) {
            d = dl;
            l--;
        } else {
            d = dr;
            r++;
        }
    }
    return d;
}

double tn_sortwin_mad(const tn_sortwin_t *w, double med)
{
    uint32_t n = w->count;
    if (n % 2) return kth_dev(w, med, n / 2);
    return 0.5 * (kth_dev(w, med, n / 2 - 1) + kth_dev(w, med, n / 2));
}

double tn_sortwin_meanad(const tn_sortwin_t *w, double med)
{
    double s = 0;
    for (uint32_t i = 0; i < w->count; i++)
        s += fabs(w->sorted[i] - med);
    return s / w->count;
}

double tn_sortwin_quantum(const tn_sortwin_t *w)
{
    double q = 0;
    for (uint32_t i = 1; i < w->count; i++) {
        double g = w->sorted[i] - w->sorted[i - 1];
        if (g > 0 && (q == 0 || g < q)) q = g;
    }
    return q;
}

static void fill(tn_robust_out_t *out, double x, double center, double scale, double thr)
{
    out->expected = center;
    out->scale = scale;
    out->z = tn_batch_z(x - center, scale, center);
    out->lower = center - thr * scale;
    out->upper = center + thr * scale;
}

void tn_robust_mad(const tn_sortwin_t *w, double x, double thr, tn_robust_out_t *out)
{
    double med = tn_sortwin_quantile(w, 0.5);
    double scale = TN_MAD_TO_SD * tn_sortwin_mad(w, med);
    if (!(scale > 0)) scale = TN_MEANAD_TO_SD * tn_sortwin_meanad(w, med);
    double q = tn_sortwin_quantum(w);
    if (scale < q) scale = q;
    fill(out, x, med, scale, thr);
}

void tn_robust_iqr(const tn_sortwin_t *w, double x, double thr, tn_robust_out_t *out)
{
    double q1 = tn_sortwin_quantile(w, 0.25), q3 = tn_sortwin_quantile(w, 0.75);
    double scale = TN_IQR_TO_SD * (q3 - q1);
    double mid = 0.5 * (q1 + q3);
    if (!(scale > 0)) scale = TN_MEANAD_TO_SD * tn_sortwin_meanad(w, tn_sortwin_quantile(w, 0.5));
    double q = tn_sortwin_quantum(w);
    if (scale < q) scale = q;
    fill(out, x, mid, scale, thr);
}
