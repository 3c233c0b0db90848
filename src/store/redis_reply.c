/* redis_reply.c - read-only accessors over a hiredis redisReply (borrowed by the caller), and
 * the reply objects the asynchronous connections use. */
#include "store/redis.h"
#include "store/redis_internal.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- reply objects for the asynchronous connections ---------------------------------------
 * hiredis' own functions allocate a redisReply and, for a string, a copy of it: two mallocs and
 * two frees per reply, a tenth of the event loop when every sample is its own XADD. Ours keep a
 * short string inside the object and reuse objects through a per-thread free list. An object is
 * a redisReply followed by our fields, so hiredis' reader and the accessors above see a plain
 * redisReply. The functions follow hiredis 0.14's (hiredis.c: create*Object, freeReplyObject):
 * a child is linked into its parent's element array as it is made, and a failed allocation
 * returns NULL (the reader then frees the partial reply through freeObject). */

#define INLINE_STR 48
#define POOL_MAX 256

typedef struct reply_obj {
    redisReply r;           /* first: the object is used as a redisReply */
    struct reply_obj *next; /* in the free list */
    char inline_str[INLINE_STR];
} reply_obj_t;

static _Thread_local reply_obj_t *pool;
static _Thread_local unsigned npool;

static redisReply *obj_new(const redisReadTask *task, int type)
{
    reply_obj_t *o = pool;
    if (o != NULL) {
        pool = o->next;
        npool--;
    } else {
        o = malloc(sizeof *o);
        if (o == NULL) return NULL;
    }
    memset(&o->r, 0, sizeof o->r);
    o->r.type = type;
    if (task->parent != NULL) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = &o->r;
    }
    return &o->r;
}

static void obj_free(void *p)
{
    if (p == NULL) return;
    reply_obj_t *o = (reply_obj_t *)p;
    redisReply *r = &o->r;
    if (r->type == REDIS_REPLY_ARRAY && r->element != NULL) {
        for (size_t i = 0; i < r->elements; i++)
            obj_free(r->element[i]);
        free(r->element);
    } else if (r->str != NULL && r->str != o->inline_str) {
        free(r->str);
    }
    if (npool >= POOL_MAX) {
        free(o);
        return;
    }
    o->next = pool;
    pool = o;
    npool++;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    /* the parent link is made last: a failed copy must not leave a freed child in the array */
    redisReadTask orphan = *task;
    orphan.parent = NULL;
    redisReply *r = obj_new(&orphan, task->type);
    if (r == NULL) return NULL;
    reply_obj_t *o = (reply_obj_t *)r;
    char *buf = len < INLINE_STR ? o->inline_str : malloc(len + 1);
    if (buf == NULL) {
        obj_free(r);
        return NULL;
    }
    memcpy(buf, str, len);
    buf[len] = '\0';
    r->str = buf;
    r->len = len;
    if (task->parent != NULL) ((redisReply *)task->parent->obj)->element[task->idx] = r;
    return r;
}

static void *create_array(const redisReadTask *task, int elements)
{
    redisReadTask orphan = *task;
    orphan.parent = NULL;
    redisReply *r = obj_new(&orphan, REDIS_REPLY_ARRAY);
    if (r == NULL) return NULL;
    if (elements > 0) {
        r->element = calloc((size_t)elements, sizeof *r->element);
        if (r->element == NULL) {
            obj_free(r);
            return NULL;
        }
    }
    r->elements = elements > 0 ? (size_t)elements : 0;
    if (task->parent != NULL) ((redisReply *)task->parent->obj)->element[task->idx] = r;
    return r;
}

static void *create_integer(const redisReadTask *task, long long value)
{
    redisReply *r = obj_new(task, REDIS_REPLY_INTEGER);
    if (r != NULL) r->integer = value;
    return r;
}

static void *create_nil(const redisReadTask *task)
{
    return obj_new(task, REDIS_REPLY_NIL);
}

redisReplyObjectFunctions tn__redis_reply_fns = {create_string, create_array, create_integer,
                                                 create_nil, obj_free};

void tn__redis_reply_pool_drain(void)
{
    while (pool != NULL) {
        reply_obj_t *o = pool;
        pool = o->next;
        free(o);
    }
    npool = 0;
}
