/* rng.h - the tests' random numbers: xorshift64*, the same sequence on every platform. Each test
 * seeds g_rng itself. Define TN_TEST_RNG_NO_GAUSS to keep a gauss() of your own. */
#ifndef TN_TEST_RNG_H
#define TN_TEST_RNG_H

#include <math.h>
#include <stdint.h>

static uint64_t g_rng;

/* Uniform in [0, 1). */
static inline double rnd01(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (double)((g_rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

#ifndef TN_TEST_RNG_NO_GAUSS
/* Standard normal (Box-Muller). */
static inline double gauss(void)
{
    double u = rnd01(), v = rnd01();
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}
#endif

#endif
