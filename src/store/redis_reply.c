/* redis_reply.c - read-only accessors over a hiredis redisReply (borrowed by the caller). */
#include "store/redis.h"

#include <hiredis/hiredis.h>

static const redisReply *rr(const tn_redis_reply_t *rep)
{
    return (const redisReply *)rep;
}

tn_reply_type_t tn_reply_type(const tn_redis_reply_t *rep)
{
    if (rep == NULL) return TN_REPLY_NIL;
    switch (rr(rep)->type) {
    case REDIS_REPLY_STRING:
        return TN_REPLY_STRING;
    case REDIS_REPLY_ARRAY:
        return TN_REPLY_ARRAY;
    case REDIS_REPLY_INTEGER:
        return TN_REPLY_INTEGER;
    case REDIS_REPLY_STATUS:
        return TN_REPLY_STATUS;
    case REDIS_REPLY_ERROR:
        return TN_REPLY_ERROR;
    default:
        return TN_REPLY_NIL;
    }
}

bool tn_reply_is_error(const tn_redis_reply_t *rep)
{
    return rep != NULL && rr(rep)->type == REDIS_REPLY_ERROR;
}

const char *tn_reply_str(const tn_redis_reply_t *rep, size_t *len)
{
    if (rep != NULL) {
        int t = rr(rep)->type;
        if (t == REDIS_REPLY_STRING || t == REDIS_REPLY_STATUS || t == REDIS_REPLY_ERROR) {
            if (len != NULL) *len = rr(rep)->len;
            return rr(rep)->str;
        }
    }
    if (len != NULL) *len = 0;
    return NULL;
}

long long tn_reply_int(const tn_redis_reply_t *rep)
{
    if (rep == NULL || rr(rep)->type != REDIS_REPLY_INTEGER) return 0;
    return rr(rep)->integer;
}

size_t tn_reply_len(const tn_redis_reply_t *rep)
{
    if (rep == NULL || rr(rep)->type != REDIS_REPLY_ARRAY) return 0;
    return rr(rep)->elements;
}

const tn_redis_reply_t *tn_reply_elem(const tn_redis_reply_t *rep, size_t i)
{
    if (i >= tn_reply_len(rep)) return NULL;
    return (const tn_redis_reply_t *)rr(rep)->element[i];
}
