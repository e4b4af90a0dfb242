/* compare_load: reading evidence and choosing the baseline (see compare.h). */
#include "compare.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kk_preset.h"
#include "kk_file.h"
#include "kk_stats.h"

/* Evidence nests a few levels (arms[].samples[].ids[]); 64 leaves room for
 * kinds' own objects and refuses pathological files early. */
#define COMPARE_JSON_MAX_DEPTH 64

/* Set err to code and the message, located at value v of `file` with JSON
 * pointer `ptr`. @return code. */
static kk_code fail_at(kk_err *err, kk_code code, const char *file, const json_value *v,
                       const char *ptr, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;
static kk_code fail_at(kk_err *err, kk_code code, const char *file, const json_value *v,
                       const char *ptr, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    char msg[KK_ERR_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kk_err_set(err, code, "%s", msg);
    kk_err_file(err, file);
    if (v) {
        kk_err_linecol(err, (int)v->line, (int)v->col);
        kk_err_offset(err, (int64_t)v->offset);
    }
    kk_err_where(err, ptr);
    return code;
}

static const char *str_member(const json_value *obj, const char *key)
{
    const json_value *v = json_obj_get(obj, key);
    return v && v->type == JSON_STRING && v->u.str.len == strlen(v->u.str.s) ? v->u.str.s : NULL;
}

typedef struct known_metric {
    const char *key;
    unsigned bit;
    double max; /* inclusive upper bound; the lower bound is 0 */
    size_t off;
} known_metric;

static const known_metric KNOWN[] = {
    {"bits_per_value", COMPARE_HAS_BITS, 1024.0, offsetof(compare_arm, bits)},
    {"rel_mse_gaussian", COMPARE_HAS_MSE_G, INFINITY, offsetof(compare_arm, mse_g)},
    {"rel_mse_k", COMPARE_HAS_MSE_K, INFINITY, offsetof(compare_arm, mse_k)},
    {"rel_mse_v", COMPARE_HAS_MSE_V, INFINITY, offsetof(compare_arm, mse_v)},
    {"recall", COMPARE_HAS_RECALL, 1.0, offsetof(compare_arm, recall)},
    {"recall_ci_lo", 0, 1.0, offsetof(compare_arm, recall_lo)},
    {"recall_ci_hi", 0, 1.0, offsetof(compare_arm, recall_hi)},
    {"n", COMPARE_HAS_N, INFINITY, offsetof(compare_arm, n)},
    {"hits", COMPARE_HAS_HITS, INFINITY, offsetof(compare_arm, hits)},
    {"kv_bytes_resident", COMPARE_HAS_KV_BYTES, INFINITY, offsetof(compare_arm, kv_bytes)},
    {"kld_mean", COMPARE_HAS_KLD, INFINITY, offsetof(compare_arm, kld)},
};

static kk_code read_metrics(const char *file, size_t ai, compare_arm *a, kk_err *err)
{
    char ptr[160];
    int has_lo = 0, has_hi = 0;
    for (size_t k = 0; k < sizeof KNOWN / sizeof KNOWN[0]; k++) {
        const json_value *v = json_obj_get(a->metrics, KNOWN[k].key);
        if (!v)
            continue;
        snprintf(ptr, sizeof ptr, "/arms/%zu/metrics/%s", ai, KNOWN[k].key);
        if (v->type != JSON_NUMBER)
            return fail_at(err, KK_E_TYPE, file, v, ptr, "arm '%s': metric %s must be a number",
                           a->name, KNOWN[k].key);
        double d = v->u.num.d;
        if (!isfinite(d) || d < 0 || d > KNOWN[k].max)
            return fail_at(err, KK_E_RANGE, file, v, ptr,
                           "arm '%s': metric %s = %.*s is outside [0, %g]", a->name,
                           KNOWN[k].key, (int)v->u.num.len, v->u.num.text, KNOWN[k].max);
        *(double *)((char *)a + KNOWN[k].off) = d;
        a->has |= KNOWN[k].bit;
        has_lo |= !strcmp(KNOWN[k].key, "recall_ci_lo");
        has_hi |= !strcmp(KNOWN[k].key, "recall_ci_hi");
    }
    if (has_lo && has_hi) {
        if (a->recall_lo > a->recall_hi ||
            ((a->has & COMPARE_HAS_RECALL) &&
             (a->recall < a->recall_lo - 1e-12 || a->recall > a->recall_hi + 1e-12))) {
            snprintf(ptr, sizeof ptr, "/arms/%zu/metrics", ai);
            return fail_at(err, KK_E_RANGE, file, a->metrics, ptr,
                           "arm '%s': recall %g is not inside its interval [%g, %g]", a->name,
                           a->recall, a->recall_lo, a->recall_hi);
        }
        a->has |= COMPARE_HAS_CI;
    }
    return KK_OK;
}

kk_code compare_set_load(const char *path, compare_set *out, kk_err *err)
{
    memset(out, 0, sizeof *out);
    char *buf = NULL;
    size_t len = 0;
    kk_code rc = kk_file_read_all(path, &buf, &len, err);
    if (rc != KK_OK)
        return rc;
    rc = compare_set_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

kk_code compare_set_parse(const char *text, size_t len, const char *path, compare_set *out,
                          kk_err *err)
{
    memset(out, 0, sizeof *out);
    compare_set s = {0};
    json_parse_opts opts = {.max_depth = COMPARE_JSON_MAX_DEPTH};
    char ptr[96];
    kk_code rc = json_parse(text, len, path, &opts, &s.doc, err);
    if (rc != KK_OK)
        return rc;
    s.file = strdup(path);
    if (!s.file) {
        rc = kk_err_set(err, KK_E_NOMEM, "out of memory");
        goto fail;
    }
    const json_value *root = json_doc_root(s.doc);
    if (root->type != JSON_OBJECT) {
        rc = fail_at(err, KK_E_TYPE, path, root, "", "evidence must be a JSON object");
        goto fail;
    }
    const json_value *preset = json_obj_get(root, "preset");
    const json_value *prov = json_obj_get(root, "provenance");
    const json_value *models = json_obj_get(root, "models");
    if (preset && preset->type == JSON_OBJECT) {
        s.preset = str_member(preset, "name");
        s.kind = str_member(preset, "kind");
        const json_value *g = json_obj_get(preset, "gate");
        if (!g)
            g = json_obj_get(json_obj_get(preset, "params"), "gate");
        if (g && g->type == JSON_OBJECT)
            s.baseline_hint = str_member(g, "baseline");
    }
    if (prov && prov->type == JSON_OBJECT) {
        s.commit = str_member(prov, "git_commit");
        const json_value *d = json_obj_get(prov, "git_dirty");
        s.dirty = d && d->type == JSON_TRUE;
    }
    if (models && models->type == JSON_ARRAY && models->u.arr.n > 0)
        s.model = str_member(models->u.arr.items[0], "source");

    const json_value *arms = json_obj_get(root, "arms");
    if (!arms || arms->type != JSON_ARRAY || arms->u.arr.n == 0) {
        rc = fail_at(err, arms ? KK_E_TYPE : KK_E_MISSING, path, arms ? arms : root,
                     arms ? "/arms" : "", "evidence needs an \"arms\" array with at least one arm");
        goto fail;
    }
    s.n_arms = arms->u.arr.n;
    s.arms = calloc(s.n_arms, sizeof *s.arms);
    if (!s.arms) {
        rc = kk_err_set(err, KK_E_NOMEM, "out of memory for %zu arms", s.n_arms);
        goto fail;
    }
    for (size_t i = 0; i < s.n_arms; i++) {
        compare_arm *a = &s.arms[i];
        const json_value *av = arms->u.arr.items[i];
        snprintf(ptr, sizeof ptr, "/arms/%zu", i);
        if (av->type != JSON_OBJECT) {
            rc = fail_at(err, KK_E_TYPE, path, av, ptr, "arm %zu must be an object", i);
            goto fail;
        }
        a->json = av;
        const json_value *nv = json_obj_get(av, "name");
        a->name = str_member(av, "name");
        if (!a->name || !a->name[0]) {
            snprintf(ptr, sizeof ptr, "/arms/%zu%s", i, nv ? "/name" : "");
            rc = fail_at(err, nv ? KK_E_TYPE : KK_E_MISSING, path, nv ? nv : av, ptr,
                         "arm %zu needs a non-empty string \"name\"", i);
            goto fail;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s.arms[j].name, a->name)) {
                snprintf(ptr, sizeof ptr, "/arms/%zu/name", i);
                rc = fail_at(err, KK_E_DUPLICATE, path, nv, ptr,
                             "arm name '%s' appears twice (arms %zu and %zu)", a->name, j, i);
                goto fail;
            }
        const json_value *cfg = json_obj_get(av, "config");
        if (cfg && cfg->type == JSON_OBJECT) {
            a->codec = str_member(cfg, "codec");
            /* codec_k / codec_v: each side's own codec ("" means as codec) */
            const char *ck = str_member(cfg, "codec_k"), *cv = str_member(cfg, "codec_v");
            const char *base = a->codec ? a->codec : "none";
            const char *k = ck && *ck ? ck : base, *v = cv && *cv ? cv : base;
            if ((ck && *ck) || (cv && *cv)) {
                snprintf(a->codec_sides, sizeof a->codec_sides, "k=%.128s v=%.128s", k, v);
                a->codec = a->codec_sides;
            }
            /* "none" is the full cache of presets without codecs (smoke) */
            a->is_oracle = (!strcmp(k, "identity") || !strcmp(k, "none")) &&
                           (!strcmp(v, "identity") || !strcmp(v, "none")) && (a->codec != NULL);
        }
        a->metrics = json_obj_get(av, "metrics");
        if (a->metrics && a->metrics->type != JSON_OBJECT) {
            snprintf(ptr, sizeof ptr, "/arms/%zu/metrics", i);
            rc = fail_at(err, KK_E_TYPE, path, a->metrics, ptr,
                         "arm '%s': \"metrics\" must be an object", a->name);
            goto fail;
        }
        a->timings = json_obj_get(av, "timings");
        if (a->timings && a->timings->type != JSON_OBJECT)
            a->timings = NULL;
        if (a->metrics && (rc = read_metrics(path, i, a, err)) != KK_OK)
            goto fail;
    }
    *out = s;
    return KK_OK;
fail:
    compare_set_free(&s);
    return rc;
}

void compare_set_free(compare_set *s)
{
    if (!s)
        return;
    free(s->arms);
    free(s->file);
    json_doc_free(s->doc);
    memset(s, 0, sizeof *s);
}

long compare_set_find(const compare_set *s, const char *name)
{
    for (size_t i = 0; i < s->n_arms; i++)
        if (!strcmp(s->arms[i].name, name))
            return (long)i;
    return -1;
}

compare_point compare_arm_point(const compare_arm *a, compare_dist d)
{
    compare_point p = {0};
    p.has_bits = (a->has & COMPARE_HAS_BITS) != 0;
    p.bits = a->bits;
    unsigned bit = d == COMPARE_DIST_K ? COMPARE_HAS_MSE_K
                   : d == COMPARE_DIST_V ? COMPARE_HAS_MSE_V : COMPARE_HAS_MSE_G;
    p.has_dist = (a->has & bit) != 0;
    p.dist = d == COMPARE_DIST_K ? a->mse_k : d == COMPARE_DIST_V ? a->mse_v : a->mse_g;
    p.has_recall = (a->has & COMPARE_HAS_RECALL) != 0;
    p.recall = p.lo = p.hi = a->recall;
    if (a->has & COMPARE_HAS_CI) {
        p.lo = a->recall_lo;
        p.hi = a->recall_hi;
    } else if ((a->has & COMPARE_HAS_N) && a->n > 0) {
        kk_wilson95(a->recall * a->n, a->n, &p.lo, &p.hi);
    }
    return p;
}

kk_code compare_baseline(const compare_set *s, const char *flag, const char *presets_dir,
                         size_t *idx, char *why, size_t cap, kk_err *err)
{
    long i;
    if (flag) {
        if ((i = compare_set_find(s, flag)) < 0) {
            char names[400] = "";
            size_t o = 0;
            for (size_t k = 0; k < s->n_arms && o + 1 < sizeof names; k++) {
                int w = snprintf(names + o, sizeof names - o, "%s%s", k ? ", " : "",
                                 s->arms[k].name);
                o += w > 0 ? (size_t)w : 0;
            }
            kk_err_set(err, KK_E_RANGE, "--baseline '%s' is not an arm of %s (arms: %s)", flag,
                       s->file, names);
            return kk_err_where(err, "--baseline");
        }
        *idx = (size_t)i;
        snprintf(why, cap, "--baseline");
        return KK_OK;
    }
    char note[320] = "";
    if (s->baseline_hint) {
        if ((i = compare_set_find(s, s->baseline_hint)) >= 0) {
            *idx = (size_t)i;
            snprintf(why, cap, "the evidence's `gate: baseline:`");
            return KK_OK;
        }
        snprintf(note, sizeof note, "; the evidence's baseline '%.64s' is not an arm",
                 s->baseline_hint);
    } else if (presets_dir && s->preset) {
        kk_preset *p = NULL;
        kk_err e;
        kk_err_clear(&e);
        if (kk_preset_load(presets_dir, s->preset, 0, &p, &e) != KK_OK) {
            snprintf(note, sizeof note, "; presets/%.64s.yaml not used: %.200s", s->preset,
                     e.msg);
        } else if (!p->baseline) {
            snprintf(note, sizeof note, "; presets/%.64s.yaml has no `gate: baseline:`",
                     s->preset);
        } else if ((i = compare_set_find(s, p->baseline)) < 0) {
            snprintf(note, sizeof note,
                     "; presets/%.64s.yaml's baseline '%.64s' is not an arm of the evidence",
                     s->preset, p->baseline);
        } else {
            *idx = (size_t)i;
            snprintf(why, cap, "presets/%s.yaml `gate: baseline:`", s->preset);
            kk_preset_free(p);
            return KK_OK;
        }
        kk_preset_free(p);
    }
    *idx = 0;
    for (size_t k = 0; k < s->n_arms; k++)
        if (!s->arms[k].is_oracle) {
            *idx = k;
            snprintf(why, cap, "the first arm that is not the identity oracle%s", note);
            return KK_OK;
        }
    snprintf(why, cap, "the first arm (every arm runs the identity codec)%s", note);
    return KK_OK;
}

double compare_snr_db(double rel_mse)
{
    return rel_mse > 0 ? -10.0 * log10(rel_mse) : NAN;
}

double compare_gap_db(double rel_mse, double bits)
{
    /* 10 log10(D / 2^(-2R)) = 10 log10 D + 20 R log10 2 (6.02 dB per bit). */
    return rel_mse > 0 ? 10.0 * log10(rel_mse) + 20.0 * bits * log10(2.0) : NAN;
}

const char *compare_dist_name(compare_dist d)
{
    return d == COMPARE_DIST_K ? "K" : d == COMPARE_DIST_V ? "V" : "Gaussian";
}

const char *compare_dist_metric(compare_dist d)
{
    return d == COMPARE_DIST_K ? "rel_mse_k" : d == COMPARE_DIST_V ? "rel_mse_v"
                                                                   : "rel_mse_gaussian";
}
