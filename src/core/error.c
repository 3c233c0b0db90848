#include "core/error.h"

const char *tn_strerror(int err)
{
    switch (err) {
    case TN_OK:
        return "success";
    case TN_ENOMEM:
        return "out of memory";
    case TN_EINVAL:
        return "invalid argument";
    case TN_EIO:
        return "i/o error";
    case TN_ETIMEDOUT:
        return "timed out";
    case TN_ECLOSED:
        return "connection closed";
    case TN_ENOTFOUND:
        return "not found";
    case TN_ETOOBIG:
        return "too large";
    case TN_EBUSY:
        return "busy";
    case TN_EPROTO:
        return "protocol error";
    case TN_ECANCELED:
        return "canceled";
    case TN_EEXIST:
        return "already exists";
    case TN_ESCRIPT:
        return "script error";
    default:
        return "unknown error";
    }
}
