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

int kk_fault_on(const char *name)
{
    return each_item(is_item, (void *)name);
}

static int find_unknown(const char *item, size_t len, void *arg)
{
    for (size_t i = 0; i < kk_fault_count(); i++)
        if (is_item(item, len, (void *)FAULTS[i].name))
            return 0;
    kk_err *err = arg;
    char allowed[256] = "";
    for (size_t i = 0, at = 0; i < kk_fault_count() && at < sizeof allowed; i++) {
        int w = snprintf(allowed + at, sizeof allowed - at, "%s%s", i ? ", " : "", FAULTS[i].name);
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
