/* The per-process LRU (mtls_lru.c): eviction, expiry, holders, memo,
 * its hash table (against a plain list), keys in parts, threads. */
#include <stdlib.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "unit.h"
#include "mtls_lru.h"

static mtls_lru_entry_t *put(mtls_lru_t *c, int k, const char *v,
                             apr_time_t expires)
{
    unsigned char key[40] = { 0 };
    mtls_lru_entry_t *e;

    key[39] = (unsigned char)k;
    e = mtls_lru_entry_create(key, sizeof(key));
    mtls_lru_entry_set(e, apr_pstrdup(mtls_lru_entry_pool(e), v), expires);
    return mtls_lru_put(c, e);
}

static mtls_lru_entry_t *get(mtls_lru_t *c, int k, apr_time_t now)
{
    unsigned char key[40] = { 0 };

    key[39] = (unsigned char)k;
    return mtls_lru_get(c, key, sizeof(key), now);
}

static const void *copy_str(apr_pool_t *p, const void *v)
{
    return apr_pstrdup(p, v);
}

static void test_cache(apr_pool_t *p)
{
    mtls_lru_t *c;
    mtls_lru_entry_t *e1, *e2, *e3, *e;

    CHECK_INT(mtls_lru_create(p, 2, &c), APR_SUCCESS);
    e1 = put(c, 1, "one", 100);
    mtls_lru_release(c, e1);
    e2 = put(c, 2, "two", 100);
    mtls_lru_release(c, e2);
    CHECK_INT(mtls_lru_count(c), 2);
    /* 1 is used, so 2 is the least recent and goes when 3 comes. */
    e = get(c, 1, 50);
    CHECK(e == e1);
    CHECK_STR(mtls_lru_entry_value(e), "one");
    e3 = put(c, 3, "three", 100);
    CHECK_INT(mtls_lru_count(c), 2);
    CHECK(get(c, 2, 50) == NULL);
    /* An entry evicted while held stays readable until released. */
    mtls_lru_release(c, put(c, 4, "four", 100));
    CHECK(get(c, 1, 50) == NULL);
    CHECK_STR(mtls_lru_entry_value(e), "one");
    mtls_lru_release(c, e);
    /* The same key twice: the first entry stays. */
    e = put(c, 4, "four again", 100);
    CHECK_STR(mtls_lru_entry_value(e), "four");
    mtls_lru_release(c, e);
    /* Expired: gone. */
    CHECK(get(c, 4, 100) == NULL);
    CHECK_INT(mtls_lru_count(c), 1);
    e = get(c, 3, 99);
    CHECK(e == e3);
    /* Values remembered with an entry: a copy, per key, bounded, each
     * valid until its own expiry (the time here is 99). */
    CHECK(mtls_lru_memo_get(e, "k1", 2, 99) == NULL);
    CHECK(mtls_lru_memo_put(c, e, "k0", 2, copy_str, "v0", 99, 99) == NULL);
    CHECK(mtls_lru_memo_get(e, "k0", 2, 99) == NULL);
    CHECK_STR(mtls_lru_memo_put(c, e, "k1", 2, copy_str, "v1", 200, 99),
              "v1");
    CHECK_STR(mtls_lru_memo_put(c, e, "k1", 2, copy_str, "other", 200, 99),
              "v1");
    CHECK_STR(mtls_lru_memo_get(e, "k1", 2, 99), "v1");
    CHECK(mtls_lru_memo_get(e, "k1", 2, 99) != (const void *)"v1");
    CHECK(mtls_lru_memo_get(e, "k", 1, 99) == NULL);
    mtls_lru_memo_put(c, e, "k2", 2, copy_str, "v2", 150, 99);
    mtls_lru_memo_put(c, e, "k3", 2, copy_str, "v3", 200, 99);
    mtls_lru_memo_put(c, e, "k4", 2, copy_str, "v4", 200, 99);
    CHECK(mtls_lru_memo_put(c, e, "k5", 2, copy_str, "v5", 200, 99) == NULL);
    CHECK_STR(mtls_lru_memo_get(e, "k4", 2, 99), "v4");
    CHECK(mtls_lru_memo_get(e, "k5", 2, 99) == NULL);
    /* Expired: not given out, and replaced, by the same key ... */
    CHECK(mtls_lru_memo_get(e, "k2", 2, 150) == NULL);
    CHECK_STR(mtls_lru_memo_put(c, e, "k2", 2, copy_str, "v2b", 300, 150),
              "v2b");
    CHECK_STR(mtls_lru_memo_get(e, "k2", 2, 160), "v2b");
    /* ... or by another one when none is free */
    CHECK(mtls_lru_memo_put(c, e, "k5", 2, copy_str, "v5", 400, 199) == NULL);
    CHECK_STR(mtls_lru_memo_put(c, e, "k5", 2, copy_str, "v5", 400, 200),
              "v5");
    CHECK_STR(mtls_lru_memo_get(e, "k5", 2, 200), "v5");
    CHECK_STR(mtls_lru_memo_get(e, "k2", 2, 200), "v2b");
    /* Copies into the entry are bounded: once made, no more are kept. */
    {
        int n, t = 400;
        for (n = 0; n < 2 * MTLS_LRU_MEMO_MAX_MADE; n++, t += 100) {
            mtls_lru_memo_put(c, e, "kk", 2, copy_str, "vv", t + 100, t);
        }
        CHECK(mtls_lru_memo_get(e, "kk", 2, t - 50) == NULL);
    }
    mtls_lru_release(c, e);
    mtls_lru_release(c, e3);
}

/* ---- the index, against a model ---------------------------------- */

/* Keys of many lengths; the long ones differ from one another only
 * outside the hashed windows (after the first 32 bytes, before the
 * middle), so many share a hash and only the full comparison tells
 * them apart. */
#define MODEL_KEYS 300
#define MODEL_SLOTS 64
#define MODEL_KLEN(k) ((k) % 3 == 0 ? 1000 : (apr_size_t)(1 + (k) % 170))

static void model_key(int k, unsigned char *buf)
{
    apr_size_t n = MODEL_KLEN(k), i;

    for (i = 0; i < n; i++) {
        buf[i] = (unsigned char)(i * 7);
    }
    if (n == 1000) {
        buf[100] = (unsigned char)k;          /* outside every window */
        buf[101] = (unsigned char)(k >> 8);
    }
    else {
        buf[n - 1] = (unsigned char)k;
        buf[0] = (unsigned char)(k >> 8);
    }
}

static void test_model(apr_pool_t *p)
{
    mtls_lru_t *c;
    int order[MODEL_SLOTS], n = 0;    /* the model: most recent first */
    unsigned char key[1000];
    int step, wrong = 0, i, k;

    CHECK_INT(mtls_lru_create(p, MODEL_SLOTS, &c), APR_SUCCESS);
    srand(7);
    for (step = 0; step < 20000; step++) {
        mtls_lru_entry_t *e;
        int at = -1;
        k = rand() % MODEL_KEYS;
        /* mostly a few hot keys, so both hits and evictions happen */
        if (rand() % 2) {
            k %= MODEL_SLOTS + 16;
        }
        model_key(k, key);
        for (i = 0; i < n; i++) {
            if (order[i] == k) {
                at = i;
            }
        }
        e = mtls_lru_get(c, key, MODEL_KLEN(k), 0);
        if ((e != NULL) != (at >= 0)
            || (e && *(const int *)mtls_lru_entry_value(e) != k)) {
            wrong++;
        }
        if (!e) {
            mtls_lru_entry_t *made = mtls_lru_entry_create(key,
                                                           MODEL_KLEN(k));
            int *v = apr_palloc(mtls_lru_entry_pool(made), sizeof(*v));
            *v = k;
            mtls_lru_entry_set(made, v, 10);
            e = mtls_lru_put(c, made);
            wrong += e != made;      /* nothing else has the key */
            at = n < MODEL_SLOTS ? n++ : n - 1;   /* the least recent goes */
        }
        memmove(order + 1, order, at * sizeof(*order));
        order[0] = k;
        mtls_lru_release(c, e);
    }
    CHECK_INT(wrong, 0);
    CHECK_INT(mtls_lru_count(c), n);
    /* every key the model has is there, every other one is not */
    for (k = 0, wrong = 0; k < MODEL_KEYS; k++) {
        mtls_lru_entry_t *e;
        int in = 0;
        for (i = 0; i < n; i++) {
            in |= order[i] == k;
        }
        model_key(k, key);
        e = mtls_lru_get(c, key, MODEL_KLEN(k), 0);
        wrong += (e != NULL) != in;
        if (e) {
            mtls_lru_release(c, e);
        }
    }
    CHECK_INT(wrong, 0);
    /* expired entries go, from the table too */
    for (k = 0, wrong = 0; k < MODEL_KEYS; k++) {
        model_key(k, key);
        wrong += mtls_lru_get(c, key, MODEL_KLEN(k), 10) != NULL;
    }
    CHECK_INT(wrong, 0);
    CHECK_INT(mtls_lru_count(c), 0);
}

/* A key in parts is the concatenation, however it is cut. */
static void test_parts(apr_pool_t *p)
{
    mtls_lru_t *c;
    mtls_lru_entry_t *e, *g;
    mtls_lru_part_t parts[3];
    unsigned char key[600];
    int cut, wrong = 0;

    CHECK_INT(mtls_lru_create(p, 4, &c), APR_SUCCESS);
    model_key(5, key);
    memset(key, 'k', sizeof(key));
    key[599] = 'z';
    parts[0].data = key;
    parts[0].len = 24;
    parts[1].data = key + 24;
    parts[1].len = 500;
    parts[2].data = key + 524;
    parts[2].len = 76;
    e = mtls_lru_entry_create_parts(parts, 3);
    mtls_lru_entry_set(e, "v", 10);
    e = mtls_lru_put(c, e);
    for (cut = 0; cut <= 600; cut += 13) {
        parts[0].data = key;
        parts[0].len = (apr_size_t)cut;
        parts[1].data = key + cut;
        parts[1].len = 600 - (apr_size_t)cut;
        g = mtls_lru_get_parts(c, parts, 2, 0);
        wrong += g != e;
        if (g) {
            mtls_lru_release(c, g);
        }
    }
    CHECK_INT(wrong, 0);
    g = mtls_lru_get(c, key, sizeof(key), 0);
    CHECK(g == e);
    mtls_lru_release(c, g);
    /* one byte different, or one fewer: another key */
    key[300] = 'x';
    CHECK(mtls_lru_get_parts(c, parts, 2, 0) == NULL);
    key[300] = 'k';
    parts[1].len--;
    CHECK(mtls_lru_get_parts(c, parts, 2, 0) == NULL);
    parts[1].len++;
    /* short parts are compared in words: a difference at any byte of
     * any length of part is one */
    {
        unsigned char small[200];   /* its start outside the hashed windows */
        int len, at;
        for (len = 1, wrong = 0; len <= 40; len++) {
            mtls_lru_entry_t *s;
            memset(small, 's', sizeof(small));
            small[0] = (unsigned char)len;
            parts[0].data = small;
            parts[0].len = (apr_size_t)len;
            parts[1].data = small + len;
            parts[1].len = sizeof(small) - (apr_size_t)len;
            s = mtls_lru_entry_create_parts(parts, 2);
            mtls_lru_entry_set(s, "s", 10);
            mtls_lru_release(c, mtls_lru_put(c, s));
            for (at = 0; at < len; at++) {
                small[at] ^= 0x40;
                g = mtls_lru_get_parts(c, parts, 2, 0);
                wrong += g != NULL;
                small[at] ^= 0x40;
            }
            g = mtls_lru_get_parts(c, parts, 2, 0);
            wrong += g == NULL;
            if (g) {
                mtls_lru_release(c, g);
            }
        }
        CHECK_INT(wrong, 0);
    }
    mtls_lru_release(c, e);
}

/* ---- threads ------------------------------------------------------- */

/* Threads getting, putting and releasing entries of a small cache (so
 * entries are evicted while others hold them): each value must stay its
 * key's while held (an entry destroyed too early, or twice, shows here,
 * and under valgrind). */
typedef struct {
    mtls_lru_t *c;
    int seed, wrong;
} worker_t;

static void *APR_THREAD_FUNC worker(apr_thread_t *t, void *data)
{
    worker_t *w = data;
    unsigned int s = (unsigned int)w->seed;
    int i;

    for (i = 0; i < 20000; i++) {
        unsigned char key[40] = { 0 };
        mtls_lru_entry_t *e;
        int k;
        s = s * 1103515245u + 12345u;
        k = (int)((s >> 16) % 48);
        key[0] = (unsigned char)k;
        key[39] = (unsigned char)(k * 3);
        if (!(e = mtls_lru_get(w->c, key, sizeof(key), 0))) {
            int *v;
            e = mtls_lru_entry_create(key, sizeof(key));
            v = apr_palloc(mtls_lru_entry_pool(e), sizeof(*v));
            *v = k;
            mtls_lru_entry_set(e, v, 10);
            e = mtls_lru_put(w->c, e);
        }
        if (*(const int *)mtls_lru_entry_value(e) != k) {
            w->wrong++;
        }
        mtls_lru_release(w->c, e);
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static void test_threads(apr_pool_t *p)
{
    apr_thread_t *t[4];
    worker_t w[4];
    apr_status_t rv;
    mtls_lru_t *c;
    int i, wrong = 0;

    CHECK_INT(mtls_lru_create(p, 8, &c), APR_SUCCESS);
    for (i = 0; i < 4; i++) {
        w[i].c = c;
        w[i].seed = i + 1;
        w[i].wrong = 0;
        CHECK_INT(apr_thread_create(&t[i], NULL, worker, &w[i], p),
                  APR_SUCCESS);
    }
    for (i = 0; i < 4; i++) {
        apr_thread_join(&rv, t[i]);
        wrong += w[i].wrong;
    }
    CHECK_INT(wrong, 0);
    CHECK_INT(mtls_lru_count(c), 8);
}

void test_lru(apr_pool_t *p)
{
    test_cache(p);
    test_model(p);
    test_parts(p);
    test_threads(p);
}
