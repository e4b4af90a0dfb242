/* kv_policy: cache policy specs (see kv_policy.h). */
#include "kv_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv_composite.h"
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
    if (!strcmp(spec, "s5")) {
        *out = (kv_policy){.kind = KV_POLICY_S5};
        return KK_OK;
    }
    if (strncmp(spec, "sinkwin:", 8) != 0)
        return kk_err_set(err, KK_E_RANGE, "policy '%.64s': unknown (allowed: full, "
                          "sinkwin:sink=S,window=W, s5)", spec);
    kv_policy p = {.kind = KV_POLICY_SINKWIN, .n_sink = -1, .window = -1};
    for (const char *s = spec + 8; *s;) {
        const char *end = strchr(s, ',');
        const size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        const size_t klen = eq ? (size_t)(eq - s) : len;
        int32_t *dst = NULL;
        long lo = 0;
        if (klen == 4 && !memcmp(s, "sink", 4))
            dst = &p.n_sink;
        else if (klen == 6 && !memcmp(s, "window", 6)) {
            dst = &p.window;
            lo = 1;
        }
        if (!dst)
            return kk_err_set(err, KK_E_RANGE, "policy '%.64s': unknown key '%.*s' (allowed: "
                              "sink, window)", spec, (int)(klen > 32 ? 32 : klen), s);
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
        return kk_err_set(err, KK_E_MISSING, "policy '%.64s': sinkwin needs sink and window "
                          "(sinkwin:sink=S,window=W)", spec);
    *out = p;
    return KK_OK;
}

void kv_policy_format(const kv_policy *p, char *buf, size_t cap)
{
    if (p && p->kind == KV_POLICY_SINKWIN)
        snprintf(buf, cap, "sinkwin:sink=%d,window=%d", (int)p->n_sink, (int)p->window);
    else if (p && p->kind == KV_POLICY_S5)
        snprintf(buf, cap, "s5");
    else
        snprintf(buf, cap, "full");
}

int32_t kv_policy_n_global(const int32_t *layer_window, int32_t n_layers)
{
    int32_t n = 0;
    for (int32_t l = 0; l < n_layers; l++)
        n += !layer_window || layer_window[l] <= 0;
    return n;
}

/* s5: part 0 the global layers (global, or a full cache; absent when every
 * layer slides), then one ring per distinct window, in the order layers
 * name them. */
kk_code kv_policy_make_s5(const kv_config *cfg, const int32_t *lw, kv_cache *global,
                          kv_cache **out, kk_err *err)
{
    *out = NULL;
    kk_code rc = KK_OK;
    int32_t win[KV_COMPOSITE_MAX_PARTS], count[KV_COMPOSITE_MAX_PARTS] = {0}, n_win = 0;
    int32_t n_global = 0;
    int32_t *part_of = calloc((size_t)cfg->n_layers, sizeof *part_of);
    if (!part_of) {
        kv_free(global);
        return kk_err_set(err, KK_E_NOMEM, "policy s5: out of memory");
    }
    for (int32_t l = 0; l < cfg->n_layers; l++) {
        const int32_t w = lw ? lw[l] : 0;
        if (w <= 0) {
            n_global++;
            continue;
        }
        int32_t i = 0;
        while (i < n_win && win[i] != w)
            i++;
        if (i == n_win) {
            if (n_win == KV_COMPOSITE_MAX_PARTS - 1) {
                free(part_of);
                kv_free(global);
                return kk_err_set(err, KK_E_RANGE, "policy s5: the model's layers have more "
                                  "than %d distinct sliding windows", KV_COMPOSITE_MAX_PARTS - 1);
            }
            win[n_win++] = w;
        }
        count[i]++;
    }
    if (n_win == 0 || (global && global->cfg.n_layers != n_global)) {
        const int32_t served = global ? global->cfg.n_layers : 0;
        free(part_of);
        kv_free(global);
        if (n_win > 0)
            return kk_err_set(err, KK_E_RANGE, "policy s5: the global layers' cache serves %d "
                              "layers, the model has %d global layers", (int)served,
                              (int)n_global);
        return kk_err_set(err, KK_E_RANGE, "policy s5: the model has no sliding-window layer "
                          "(allowed: a hybrid model; use full for this one)");
    }
    const int32_t base = n_global > 0 ? 1 : 0;
    for (int32_t l = 0; l < cfg->n_layers; l++) {
        const int32_t w = lw[l];
        int32_t i = 0;
        while (w > 0 && win[i] != w)
            i++;
        part_of[l] = w > 0 ? base + i : 0;
    }
    kv_cache *parts[KV_COMPOSITE_MAX_PARTS] = {0};
    if (global) {
        parts[0] = global;
    } else if (n_global > 0) {
        kv_config g = *cfg;
        g.n_layers = n_global;
        rc = kv_full_init(&parts[0], &g, err);
    }
    for (int32_t i = 0; i < n_win && rc == KK_OK; i++) {
        kv_config sc = *cfg;
        sc.n_layers = count[i];
        rc = kv_sinkwin_init(&parts[base + i], &sc, 0, win[i], err);
    }
    if (rc == KK_OK)
        rc = kv_composite_init(out, cfg, parts, base + n_win, part_of, err);
    else
        for (int32_t i = 0; i < base + n_win; i++)
            kv_free(parts[i]);
    free(part_of);
    return rc;
}

kk_code kv_policy_make(const kv_policy *p, const kv_config *cfg, const int32_t *layer_window,
                       kv_cache **out, kk_err *err)
{
    if (p && p->kind == KV_POLICY_SINKWIN)
        return kv_sinkwin_init(out, cfg, p->n_sink, p->window, err);
    if (p && p->kind == KV_POLICY_S5)
        return kv_policy_make_s5(cfg, layer_window, NULL, out, err);
    return kv_full_init(out, cfg, err);
}

size_t kv_policy_bytes_sliding(const kv_policy *p, const kv_cache *c)
{
    if (!p || p->kind != KV_POLICY_S5)
        return 0;
    /* the rings are the sinkwin parts (part 0 is the global full cache
     * when the model has global layers) */
    size_t b = 0;
    for (int32_t i = 0; i < kv_composite_n_parts(c); i++) {
        const kv_cache *part = kv_composite_part(c, i);
        if (part && !strcmp(part->vt->name, "sinkwin"))
            b += kv_bytes_resident(part);
    }
    return b;
}
