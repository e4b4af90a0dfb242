/* kv_policy: cache policy specs (see kv_policy.h). */
#include "kv_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv_sinkwin.h"

/* One decimal integer in [lo, hi] from s[0..n). */
static int parse_int(const char *s, size_t n, long lo, long hi, int32_t *out)
{
    if (n == 0 || n > 12)
        return 0;
    char buf[16];
    memcpy(buf, s, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (buf[i] < '0' || buf[i] > '9')
            return 0;
    errno = 0;
    const long v = strtol(buf, NULL, 10);
    if (errno || v < lo || v > hi)
        return 0;
    *out = (int32_t)v;
    return 1;
}

kk_code kv_policy_parse(const char *spec, kv_policy *out, kk_err *err)
{
    if (!spec || !strcmp(spec, "full")) {
        *out = (kv_policy){.kind = KV_POLICY_FULL};
        return KK_OK;
    }
    if (strncmp(spec, "sinkwin:", 8) != 0)
        return kk_err_set(err, KK_E_RANGE, "policy '%.64s': unknown (allowed: full, "
                          "sinkwin:sinks=S,window=W)", spec);
    kv_policy p = {.kind = KV_POLICY_SINKWIN, .n_sink = -1, .window = -1};
    for (const char *s = spec + 8; *s;) {
        const char *end = strchr(s, ',');
        const size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        const size_t klen = eq ? (size_t)(eq - s) : len;
        int32_t *dst = NULL;
        long lo = 0;
        if (klen == 5 && !memcmp(s, "sinks", 5))
            dst = &p.n_sink;
        else if (klen == 6 && !memcmp(s, "window", 6)) {
            dst = &p.window;
            lo = 1;
        }
        if (!dst)
            return kk_err_set(err, KK_E_RANGE, "policy '%.64s': unknown key '%.*s' (allowed: "
                              "sinks, window)", spec, (int)(klen > 32 ? 32 : klen), s);
        if (*dst != -1)
            return kk_err_set(err, KK_E_DUPLICATE, "policy '%.64s': '%.*s' given twice", spec,
                              (int)klen, s);
        const char *val = eq ? eq + 1 : s + len;
        if (!eq || !parse_int(val, (size_t)(s + len - val), lo, KV_POLICY_MAX, dst))
            return kk_err_set(err, KK_E_RANGE, "policy '%.64s': %.*s = '%.*s' is not an integer "
                              "in %ld..%d", spec, (int)klen, s,
                              (int)(eq ? (size_t)(s + len - val) > 24 ? 24 : (size_t)(s + len - val) : 0),
                              val, lo, KV_POLICY_MAX);
        s = end ? end + 1 : s + len;
        if (end && !*s)
            return kk_err_set(err, KK_E_FORMAT, "policy '%.64s': a trailing ','", spec);
    }
    if (p.n_sink < 0 || p.window < 1)
        return kk_err_set(err, KK_E_MISSING, "policy '%.64s': sinkwin needs sinks and window "
                          "(sinkwin:sinks=S,window=W)", spec);
    *out = p;
    return KK_OK;
}

void kv_policy_format(const kv_policy *p, char *buf, size_t cap)
{
    if (p && p->kind == KV_POLICY_SINKWIN)
        snprintf(buf, cap, "sinkwin:sinks=%d,window=%d", (int)p->n_sink, (int)p->window);
    else
        snprintf(buf, cap, "full");
}

kk_code kv_policy_make(const kv_policy *p, const kv_config *cfg, kv_cache **out, kk_err *err)
{
    if (p && p->kind == KV_POLICY_SINKWIN)
        return kv_sinkwin_init(out, cfg, p->n_sink, p->window, err);
    return kv_full_init(out, cfg, err);
}
