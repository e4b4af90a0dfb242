/* kk_fault: see kk_fault.h. */
#include "kk_fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* counted: the item may be NAME:N (N >= 1: which occurrence fails; NAME
 * alone means 1); other faults are switched by NAME alone. */
static const struct {
    const char *name;
    const char *what;
    int counted;
} FAULTS[] = {
    {KK_FAULT_CODEC_PASSTHROUGH,
     "kv_codec caches store K/V rows as F32 without encoding, decoding or counting", 0},
    {KK_FAULT_FSYNC, "kk_file_write_atomic's fsync fails with EIO: the write is an error", 0},
    {KK_FAULT_EVIDENCE_ALLOC,
     "the Nth member added while building an evidence document fails as out of memory "
     "(evidence-alloc:N; alone: the first)", 1},
    {KK_FAULT_RUN_ALLOC,
     "the Nth allocation the run loop checks fails as out of memory (run-alloc:N; alone: the "
     "first)", 1},
    {KK_FAULT_THREAD_START,
     "the Nth worker thread the run loop starts fails to start, as pthread_create with EAGAIN "
     "(thread-start:N; alone: the first)", 1},
    {KK_FAULT_SIGTERM_AFTER_RENAME,
     "ev_write raises SIGTERM right after the evidence file got its name (signals held until "
     "then): a signal that arrives once the file is complete", 0},
};

size_t kk_fault_count(void)
{
    return sizeof FAULTS / sizeof FAULTS[0];
}

const char *kk_fault_name(size_t i)
{
    return i < kk_fault_count() ? FAULTS[i].name : NULL;
}

const char *kk_fault_what(size_t i)
{
    return i < kk_fault_count() ? FAULTS[i].what : NULL;
}

/* Calls f on each non-empty comma-separated item of KAKEYA_FAULT until it
 * returns nonzero; @return that value, or 0. */
static int each_item(int (*f)(const char *item, size_t len, void *arg), void *arg)
{
    const char *v = getenv(KK_FAULT_ENV);
    while (v && *v) {
        const char *comma = strchr(v, ',');
        size_t len = comma ? (size_t)(comma - v) : strlen(v);
        int r = len ? f(v, len, arg) : 0;
        if (r)
            return r;
        v = comma ? comma + 1 : NULL;
    }
    return 0;
}

static int is_item(const char *item, size_t len, void *arg)
{
    const char *name = arg;
    return strlen(name) == len && memcmp(item, name, len) == 0;
}

static int is_counted(const char *name)
{
    for (size_t i = 0; i < kk_fault_count(); i++)
        if (!strcmp(FAULTS[i].name, name))
            return FAULTS[i].counted;
    return 0;
}

/* N of an item "NAME:N" (decimal, 1..1e9), else 0. */
static long item_count(const char *item, size_t len, const char *name)
{
    const size_t nl = strlen(name);
    if (len < nl + 2 || memcmp(item, name, nl) != 0 || item[nl] != ':')
        return 0;
    long n = 0;
    for (size_t k = nl + 1; k < len; k++) {
        if (item[k] < '0' || item[k] > '9' || n > 100000000L)
            return 0;
        n = n * 10 + (item[k] - '0');
    }
    return n <= 1000000000L ? n : 0;
}

typedef struct nth_arg {
    const char *name;
    long n;
} nth_arg;

static int find_nth(const char *item, size_t len, void *arg)
{
    nth_arg *a = arg;
    if (is_item(item, len, (void *)a->name))
        a->n = 1;
    else if (is_counted(a->name))
        a->n = item_count(item, len, a->name);
    return a->n != 0;
}

long kk_fault_nth(const char *name)
{
    nth_arg a = {name, 0};
    each_item(find_nth, &a);
    return a.n;
}

int kk_fault_on(const char *name)
{
    return kk_fault_nth(name) != 0;
}

static int find_unknown(const char *item, size_t len, void *arg)
{
    for (size_t i = 0; i < kk_fault_count(); i++)
        if (is_item(item, len, (void *)FAULTS[i].name) ||
            (FAULTS[i].counted && item_count(item, len, FAULTS[i].name) > 0))
            return 0;
    kk_err *err = arg;
    char allowed[512] = "";
    for (size_t i = 0, at = 0; i < kk_fault_count() && at < sizeof allowed; i++) {
        int w = snprintf(allowed + at, sizeof allowed - at, "%s%s%s", i ? ", " : "",
                         FAULTS[i].name, FAULTS[i].counted ? "[:N]" : "");
        at += w > 0 ? (size_t)w : 0;
    }
    kk_err_set(err, KK_E_RANGE, "found \"%.*s\" in %s; allowed: %s (comma-separated)",
               (int)(len > 100 ? 100 : len), item, KK_FAULT_ENV, allowed);
    kk_err_where(err, KK_FAULT_ENV);
    return 1;
}

kk_code kk_fault_check(kk_err *err)
{
    return each_item(find_unknown, err) ? KK_E_RANGE : KK_OK;
}

size_t kk_fault_active_count(void)
{
    size_t n = 0;
    for (size_t i = 0; i < kk_fault_count(); i++)
        n += kk_fault_on(FAULTS[i].name) != 0;
    return n;
}
