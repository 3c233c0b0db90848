/* num.c - number parsing and formatting; see num.h. */
#include "core/num.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NUM_TOKEN 1024

static inline int is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

static const double g_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* strtod on a NUL-terminated copy; the whole token must be consumed and must not overflow. */
static int parse_strtod(const char *s, size_t n, double *out)
{
    char buf[MAX_NUM_TOKEN];
    if (n == 0 || n >= sizeof buf) return -1;
    if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')) return -1; /* strtod skips blanks */
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) return -1;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + n) return -1;
    if (errno == ERANGE && isinf(v)) return -1;
    *out = v;
    return 0;
}

int tn_num_parse(const char *s, size_t n, int flags, double *out)
{
    if (n == 0) return -1;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i < n && !is_digit(s[i]) && s[i] != '.') {
        if (flags & TN_NUM_SPECIAL) {
            const char *r = s + i;
            size_t rl = n - i;
            if ((rl == 3 && strncasecmp(r, "inf", 3) == 0) ||
                (rl == 8 && strncasecmp(r, "infinity", 8) == 0)) {
                *out = neg ? -INFINITY : INFINITY;
                return 0;
            }
            if (i == 0 && rl == 3 && strncasecmp(r, "nan", 3) == 0) {
                *out = NAN;
                return 0;
            }
        }
        goto slow;
    }
    uint64_t mant = 0;
    int nd = 0, any = 0, inexact = 0, exp10 = 0;
    while (i < n && is_digit(s[i])) {
        unsigned d = (unsigned)(s[i] - '0');
        any = 1;
        if (nd < 19) {
            mant = mant * 10 + d;
            if (mant) nd++;
        } else {
            exp10++;
            inexact |= d != 0;
        }
        i++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && is_digit(s[i])) {
            unsigned d = (unsigned)(s[i] - '0');
            any = 1;
            if (nd < 19) {
                mant = mant * 10 + d;
                if (mant) nd++;
                exp10--;
            } else {
                inexact |= d != 0;
            }
            i++;
        }
    }
    if (!any) goto slow;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0, e = 0;
        if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        if (i >= n || !is_digit(s[i])) goto slow;
        while (i < n && is_digit(s[i])) {
            if (e < 100000) e = e * 10 + (s[i] - '0');
            i++;
        }
        exp10 += eneg ? -e : e;
    }
    if (i != n) goto slow;
    if (!inexact && mant == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    /* Clinger's fast path: both operands exact, one rounding. */
    if (!inexact && mant <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        double v = (double)mant;
        v = exp10 < 0 ? v / g_pow10[-exp10] : v * g_pow10[exp10];
        *out = neg ? -v : v;
        return 0;
    }
    return parse_strtod(s, n, out); /* valid syntax, needs correct rounding */
slow:
    if (!(flags & TN_NUM_LENIENT)) return -1;
    return parse_strtod(s, n, out);
}

size_t tn_num_format_i64(char *out, int64_t v)
{
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324252627282930"
                                   "31323334353637383940414243444546474849505152535455565758596061"
                                   "62636465666768697071727374757677787980818283848586878889909192"
                                   "93949596979899";
    char tmp[24];
    size_t n = sizeof tmp; /* digits fill tmp from the end, two at a time */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    while (u >= 100) {
        unsigned d = (unsigned)(u % 100) * 2;
        u /= 100;
        tmp[--n] = pairs[d + 1];
        tmp[--n] = pairs[d];
    }
    if (u >= 10) {
        tmp[--n] = pairs[u * 2 + 1];
        tmp[--n] = pairs[u * 2];
    } else {
        tmp[--n] = (char)('0' + u);
    }
    size_t k = 0;
    if (v < 0) out[k++] = '-';
    memcpy(out + k, tmp + n, sizeof tmp - n);
    return k + sizeof tmp - n;
}

size_t tn_num_format(char *out, double v)
{
    if (v == 0) {
        if (signbit(v)) return memcpy(out, "-0", 2), 2;
        return out[0] = '0', 1;
    }
    if (v > -9e15 && v < 9e15) {
        /* the fewest fraction digits k such that D = v * 10^k is an integer and D / 10^k gives v
         * back: that division is the correctly rounded value of the decimal D / 10^k, which is
         * exactly what a correct parser returns for the text, so the text round-trips. */
        for (int k = 0; k <= 9; k++) {
            double t = v * g_pow10[k];
            if (!(t > -9007199254740992.0 && t < 9007199254740992.0)) break;
            double r = nearbyint(t);
            if (r != t || r / g_pow10[k] != v) continue;
            int64_t d = (int64_t)r;
            if (k == 0) return tn_num_format_i64(out, d);
            char digits[24];
            size_t nd = tn_num_format_i64(digits, d < 0 ? -d : d), w = 0;
            if (d < 0) out[w++] = '-';
            if (nd <= (size_t)k) { /* 0.000ddd */
                out[w++] = '0';
                out[w++] = '.';
                for (size_t z = nd; z < (size_t)k; z++)
                    out[w++] = '0';
                memcpy(out + w, digits, nd);
                return w + nd;
            }
            memcpy(out + w, digits, nd - (size_t)k);
            w += nd - (size_t)k;
            out[w++] = '.';
            memcpy(out + w, digits + nd - (size_t)k, (size_t)k);
            return w + (size_t)k;
        }
    }
    int n = snprintf(out, TN_NUM_BUF, "%.17g", v);
    return n > 0 ? (size_t)n : 0;
}
