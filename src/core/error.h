/* error.h - engine-wide error codes.
 *
 * Convention (libuv style): functions return int, 0 on success and a negative
 * TN_E* code on failure. An asynchronous starter that fails never calls its
 * callback. tn_strerror() gives a static message for any code. */
#ifndef TN_CORE_ERROR_H
#define TN_CORE_ERROR_H

#include <stdio.h>
#include <stdlib.h>

enum {
    TN_OK = 0,
    TN_ENOMEM = -1,     /* allocation failed */
    TN_EINVAL = -2,     /* invalid argument or input */
    TN_EIO = -3,        /* I/O or system call failed */
    TN_ETIMEDOUT = -4,  /* deadline passed */
    TN_ECLOSED = -5,    /* connection closed / not connected */
    TN_ENOTFOUND = -6,  /* no such thing */
    TN_ETOOBIG = -7,    /* input exceeds a configured limit */
    TN_EBUSY = -8,      /* resource busy / backpressure */
    TN_EPROTO = -9,     /* protocol error from a peer */
    TN_ECANCELED = -10, /* operation cancelled */
    TN_EEXIST = -11,    /* already exists */
    TN_ESCRIPT = -12,   /* a script failed */
};

/* Static, never NULL. */
const char *tn_strerror(int err);

/* For states that cannot happen: logs file:line and aborts. */
#define tn_require(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: requirement failed: %s\n", __FILE__, __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
