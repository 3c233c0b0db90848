#include "detect/shift.h"
#include "detect/batch.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tn_shift_init(tn_shift_t *s, uint32_t window, uint32_t recent, double rate)
{
    memset(s, 0, sizeof *s);
    if (window < 3 || recent < 2 || recent > window || !(rate > 0 && rate <= 1)) return TN_EINVAL;
    s->window = window;
    s->recent = recent;
    s->cap = window + recent - 1;
    s->lag_cap = window + recent;
    s->rate = rate;
    s->ring = malloc(sizeof(double) * s->cap);
    s->lag = calloc(s->lag_cap, sizeof(float));
    if (!s->ring || !s->lag) {
        tn_shift_deinit(s);
        return TN_ENOMEM;
    }
    return 0;
}

void tn_shift_deinit(tn_shift_t *s)
{
    free(s->ring);
    free(s->lag);
    s->ring = NULL;
    s->lag = NULL;
}

/* The value `back` steps before the newest kept one (back 0 = newest). */
static double at(const tn_shift_t *s, uint32_t back)
{
    return s->ring[(s->pos + s->cap - 1 - back) % s->cap];
}

void tn_shift_update(tn_shift_t *s, double x, uint64_t min_fed, int *ready, double *z,
                     double *expected, double *scale)
{
    *ready = 0;
    *z = 0;
    *expected = x;
    *scale = 0;
    if (s->count == s->cap) {
        double r = x, ref = 0;
        for (uint32_t k = 0; k + 1 < s->recent; k++)
            r += at(s, k);
        for (uint32_t k = s->recent - 1; k < s->cap; k++)
            ref += at(s, k);
        double mr = r / s->recent, mref = ref / s->window, d = mr - mref;
        double sc = s->wsum > 0 ? sqrt(s->ms / s->wsum) : 0;
        *expected = mref;
        *scale = sc;
        if (s->fed >= min_fed) {
            *ready = 1;
            *z = tn_batch_z(d, sc, mref);
        }
        if (s->lag_count == s->lag_cap) { /* the d made lag_cap samples ago reaches the scale */
            double old = s->lag[s->lag_pos], rate = s->rate;
            if (s->fed >= min_fed && sc > 0 && fabs(old) > 4 * sc) {
                old = 4 * sc;
                rate *= 0.1;
            }
            s->ms = (1 - rate) * s->ms + rate * old * old;
            s->wsum = (1 - rate) * s->wsum + rate;
            s->fed++;
        } else {
            s->lag_count++;
        }
        s->lag[s->lag_pos] = (float)d;
        s->lag_pos = (s->lag_pos + 1) % s->lag_cap;
    }
    s->ring[s->pos] = x;
    s->pos = (s->pos + 1) % s->cap;
    if (s->count < s->cap) s->count++;
}
