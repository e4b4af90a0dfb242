/* preset_value: typed values of presets and --set overrides (preset.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preset_internal.h"

#define PRESET_DEFAULT_MAX_LEN 256

/* ---- scalar classes (kk_yaml_classify) ------------------------------------ */

static const char *class_name(kk_yaml_sclass c)
{
    switch (c) {
    case KK_YAML_SC_NULL: return "null";
    case KK_YAML_SC_BOOL: return "a boolean";
    case KK_YAML_SC_INT: return "an integer";
    case KK_YAML_SC_NUMBER: return "a number";
    case KK_YAML_SC_OTHER_NUM: return "a YAML-only number";
    default: return "a string";
    }
}

/* Shortest of %.15g / %.17g that reads back exactly (cJSON's rule). */
static int fmt_double(char *buf, size_t cap, double x)
{
    int n = snprintf(buf, cap, "%.15g", x);
    if (strtod(buf, NULL) != x)
        n = snprintf(buf, cap, "%.17g", x);
    return n;
}

/* ---- types and bounds ------------------------------------------------------------ */

const char *preset_type_name(preset_type t)
{
    switch (t) {
    case PRESET_T_INT: return "int";
    case PRESET_T_FLOAT: return "float";
    case PRESET_T_BOOL: return "bool";
    case PRESET_T_STRING: return "string";
    case PRESET_T_ENUM: return "enum";
    case PRESET_T_LIST: return "list";
    }
    return "?";
}

static void values_text(const char *const *v, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; v && v[i] && o + 1 < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", v[i]);
}

static void elem_text(const preset_bounds *b, preset_type t, char *buf, size_t cap)
{
    char vals[300];
    switch (t) {
    case PRESET_T_INT:
        snprintf(buf, cap, "an integer in %" PRId64 "..%" PRId64, b->imin, b->imax);
        break;
    case PRESET_T_FLOAT:
    {
        char lo[32], hi[32];
        fmt_double(lo, sizeof lo, b->fmin);
        fmt_double(hi, sizeof hi, b->fmax);
        snprintf(buf, cap, "a number in %s..%s", lo, hi);
    }
        break;
    case PRESET_T_BOOL:
        snprintf(buf, cap, "true or false");
        break;
    case PRESET_T_STRING:
        snprintf(buf, cap, "a string of at most %zu bytes", b->max_len);
        break;
    case PRESET_T_ENUM:
        values_text(b->values, vals, sizeof vals);
        snprintf(buf, cap, "one of %s", vals);
        break;
    default:
        snprintf(buf, cap, "?");
    }
}

void preset_bounds_text(const preset_bounds *b, char *buf, size_t cap)
{
    if (b->type != PRESET_T_LIST) {
        elem_text(b, b->type, buf, cap);
        return;
    }
    char e[400];
    elem_text(b, b->of, e, sizeof e);
    snprintf(buf, cap, "a list of %zu..%zu items, each %s", b->min_count, b->max_count, e);
}

void preset_bounds_from_spec(const kind_param_spec *s, preset_bounds *b)
{
    memset(b, 0, sizeof *b);
    b->type = s->type;
    b->of = s->of;
    b->imin = s->imin;
    b->imax = s->imax;
    b->fmin = s->fmin;
    b->fmax = s->fmax;
    b->max_len = s->max_len ? s->max_len : PRESET_DEFAULT_MAX_LEN;
    b->min_count = 1;
    b->max_count = s->max_count ? s->max_count : 1;
    b->values = s->values;
}

void preset_bounds_from_field(const kind_field_spec *f, preset_bounds *b)
{
    memset(b, 0, sizeof *b);
    b->type = f->type;
    b->imin = f->imin;
    b->imax = f->imax;
    b->fmin = f->fmin;
    b->fmax = f->fmax;
    b->max_len = f->max_len ? f->max_len : PRESET_DEFAULT_MAX_LEN;
    b->values = f->values;
}

/* ---- values ------------------------------------------------------------------------ */

void preset_value_free(preset_value *v)
{
    if (!v)
        return;
    if (v->s)
        for (size_t i = 0; i < v->n; i++)
            free(v->s[i]);
    free(v->s);
    free(v->i);
    free(v->f);
    memset(v, 0, sizeof *v);
}

int preset_value_alloc(preset_value *v, preset_type t, size_t n)
{
    memset(v, 0, sizeof *v);
    size_t m = n ? n : 1;
    if (t == PRESET_T_FLOAT)
        v->f = calloc(m, sizeof *v->f);
    else if (t == PRESET_T_STRING || t == PRESET_T_ENUM)
        v->s = calloc(m, sizeof *v->s);
    else
        v->i = calloc(m, sizeof *v->i);
    if (!v->f && !v->s && !v->i)
        return -1;
    v->n = n;
    return 0;
}

kk_code preset_elem_parse(const preset_bounds *b, preset_type t, const char *s,
                          size_t len, kk_yaml_sclass cls, preset_value *v,
                          size_t idx, char *why, size_t cap)
{
    char q[80], allowed[400];
    kk_yaml_quote(s, len, q, sizeof q);
    elem_text(b, t, allowed, sizeof allowed);
    switch (t) {
    case PRESET_T_INT: {
        if (cls != KK_YAML_SC_INT) {
            snprintf(why, cap, "found %s %s; allowed: %s", class_name(cls), q, allowed);
            return KK_E_TYPE;
        }
        char tmp[32];
        if (len >= sizeof tmp) {
            snprintf(why, cap, "found %s; allowed: %s", q, allowed);
            return KK_E_RANGE;
        }
        memcpy(tmp, s, len);
        tmp[len] = 0;
        errno = 0;
        long long x = strtoll(tmp, NULL, 10);
        if (errno == ERANGE || x < b->imin || x > b->imax) {
            snprintf(why, cap, "found %s; allowed: %s", q, allowed);
            return KK_E_RANGE;
        }
        v->i[idx] = x;
        return KK_OK;
    }
    case PRESET_T_FLOAT: {
        if (cls != KK_YAML_SC_INT && cls != KK_YAML_SC_NUMBER) {
            snprintf(why, cap, "found %s %s; allowed: %s (JSON number form: 0.5, 1e-3)",
                     class_name(cls), q, allowed);
            return KK_E_TYPE;
        }
        char tmp[64];
        if (len >= sizeof tmp) {
            snprintf(why, cap, "found %s; allowed: %s", q, allowed);
            return KK_E_RANGE;
        }
        memcpy(tmp, s, len);
        tmp[len] = 0;
        double x = strtod(tmp, NULL);
        if (!isfinite(x) || x < b->fmin || x > b->fmax) {
            snprintf(why, cap, "found %s; allowed: %s", q, allowed);
            return KK_E_RANGE;
        }
        v->f[idx] = x == 0 ? 0.0 : x; /* -0 prints as 0 */
        return KK_OK;
    }
    case PRESET_T_BOOL:
        if (cls == KK_YAML_SC_BOOL && len == 4 && !memcmp(s, "true", 4)) {
            v->i[idx] = 1;
            return KK_OK;
        }
        if (cls == KK_YAML_SC_BOOL && len == 5 && !memcmp(s, "false", 5)) {
            v->i[idx] = 0;
            return KK_OK;
        }
        snprintf(why, cap, "found %s %s; allowed: %s", class_name(cls), q, allowed);
        return KK_E_TYPE;
    case PRESET_T_STRING:
    case PRESET_T_ENUM: {
        if (cls != KK_YAML_SC_STRING) {
            snprintf(why, cap, "found %s %s; allowed: %s (quote it to mean text)",
                     class_name(cls), q, allowed);
            return KK_E_TYPE;
        }
        if (memchr(s, 0, len) || len > b->max_len) {
            snprintf(why, cap, "found %s (%zu bytes); allowed: %s", q, len, allowed);
            return KK_E_RANGE;
        }
        if (t == PRESET_T_ENUM) {
            int ok = 0;
            for (size_t i = 0; b->values && b->values[i]; i++)
                if (strlen(b->values[i]) == len && !memcmp(b->values[i], s, len))
                    ok = 1;
            if (!ok) {
                snprintf(why, cap, "found %s; allowed: %s", q, allowed);
                return KK_E_RANGE;
            }
        }
        char *c = malloc(len + 1);
        if (!c) {
            snprintf(why, cap, "out of memory");
            return KK_E_NOMEM;
        }
        memcpy(c, s, len);
        c[len] = 0;
        free(v->s[idx]);
        v->s[idx] = c;
        return KK_OK;
    }
    default:
        snprintf(why, cap, "internal: list element of type list");
        return KK_E_INTERNAL;
    }
}

/* ---- placeholders ------------------------------------------------------------------- */

static int env_name_ok(const char *s, size_t len)
{
    if (!len || !(isupper((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < len; i++)
        if (!(isupper((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

int preset_check_placeholders(const char *s, size_t len, char *const *env,
                              size_t n_env, char *why, size_t cap)
{
    char allowed[300] = "none (only a string parameter that declares `env: [VAR]` takes ${ENV:VAR})";
    if (n_env) {
        size_t o = 0;
        for (size_t i = 0; i < n_env && o + 1 < sizeof allowed; i++)
            o += (size_t)snprintf(allowed + o, sizeof allowed - o, "%s${ENV:%s}",
                                  i ? ", " : "", env[i]);
    }
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '$' || s[i + 1] != '{')
            continue;
        const char *end = memchr(s + i, '}', len - i);
        size_t plen = end ? (size_t)(end - (s + i)) + 1 : len - i;
        char q[80];
        kk_yaml_quote(s + i, plen, q, sizeof q);
        int ok = 0;
        if (end && plen > 7 && !memcmp(s + i, "${ENV:", 6)) {
            const char *name = s + i + 6;
            size_t nlen = plen - 7;
            if (env_name_ok(name, nlen))
                for (size_t k = 0; k < n_env; k++)
                    if (strlen(env[k]) == nlen && !memcmp(env[k], name, nlen))
                        ok = 1;
        }
        if (!ok) {
            snprintf(why, cap, "placeholder %s found; allowed here: %s", q, allowed);
            return 1;
        }
        i += plen - 1;
    }
    return 0;
}

kk_code preset_expand_env(const preset_param *prm, size_t idx, char **out, kk_err *err)
{
    *out = NULL;
    if (!prm->v.s || idx >= prm->v.n)
        return kk_err_set(err, KK_E_INTERNAL, "parameter %s has no string value", prm->name);
    const char *s = prm->v.s[idx];
    size_t cap = strlen(s) + 1, o = 0;
    char *buf = malloc(cap);
    if (!buf)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    for (size_t i = 0; s[i];) {
        if (s[i] == '$' && s[i + 1] == '{' && !strncmp(s + i, "${ENV:", 6)) {
            const char *end = strchr(s + i, '}');
            size_t nlen = end ? (size_t)(end - (s + i + 6)) : 0;
            char name[128];
            if (!end || nlen == 0 || nlen >= sizeof name) {
                free(buf);
                kk_err_set(err, KK_E_INTERNAL, "unchecked placeholder in %s", prm->name);
                return kk_err_where(err, prm->name);
            }
            memcpy(name, s + i + 6, nlen);
            name[nlen] = 0;
            const char *val = getenv(name);
            if (!val) {
                free(buf);
                kk_err_set(err, KK_E_MISSING,
                           "parameter %s uses ${ENV:%s}, which is not set in the environment",
                           prm->name, name);
                return kk_err_where(err, prm->name);
            }
            size_t vlen = strlen(val);
            if (vlen > 4096) {
                free(buf);
                kk_err_set(err, KK_E_RANGE, "${ENV:%s} is %zu bytes; at most 4096 allowed",
                           name, vlen);
                return kk_err_where(err, prm->name);
            }
            char *nb = realloc(buf, cap + vlen);
            if (!nb) {
                free(buf);
                return kk_err_set(err, KK_E_NOMEM, "out of memory");
            }
            buf = nb;
            cap += vlen;
            memcpy(buf + o, val, vlen);
            o += vlen;
            i = (size_t)(end - s) + 1;
        } else {
            buf[o++] = s[i++];
        }
    }
    buf[o] = 0;
    *out = buf;
    return KK_OK;
}

/* ---- text of a value ----------------------------------------------------------------- */

void preset_value_text(const preset_param *prm, char *buf, size_t cap)
{
    preset_type t = prm->b.type == PRESET_T_LIST ? prm->b.of : prm->b.type;
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < prm->v.n && o + 1 < cap; i++) {
        const char *sep = i ? "," : "";
        switch (t) {
        case PRESET_T_INT:
            o += (size_t)snprintf(buf + o, cap - o, "%s%" PRId64, sep, prm->v.i[i]);
            break;
        case PRESET_T_FLOAT: {
            char d[32];
            fmt_double(d, sizeof d, prm->v.f[i]);
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", sep, d);
            break;
        }
        case PRESET_T_BOOL:
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", sep, prm->v.i[i] ? "true" : "false");
            break;
        default:
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", sep, prm->v.s[i]);
        }
    }
}

/* ---- --set ------------------------------------------------------------------------------ */

kk_code preset_set(preset *p, const char *assignment, kk_err *err)
{
    const char *eq = strchr(assignment, '=');
    char flag[160];
    size_t nlen = eq ? (size_t)(eq - assignment) : strlen(assignment);
    snprintf(flag, sizeof flag, "--set %.*s", (int)(nlen > 100 ? 100 : nlen), assignment);
    kk_err_clear(err);
    if (!eq || nlen == 0) {
        char q[80];
        kk_yaml_quote(assignment, strlen(assignment), q, sizeof q);
        kk_err_set(err, KK_E_FORMAT, "found %s; allowed: NAME=VALUE (e.g. --set samples=20)", q);
        return kk_err_where(err, "--set");
    }
    preset_param *prm = NULL;
    for (size_t i = 0; i < p->n_params; i++)
        if (strlen(p->params[i].name) == nlen && !memcmp(p->params[i].name, assignment, nlen))
            prm = &p->params[i];
    if (!prm) {
        char names[600];
        size_t o = 0;
        names[0] = 0;
        for (size_t i = 0; i < p->n_params && o + 1 < sizeof names; i++)
            o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "",
                                  p->params[i].name);
        char q[80];
        kk_yaml_quote(assignment, nlen, q, sizeof q);
        kk_err_set(err, KK_E_RANGE, "unknown parameter %s for preset %s (kind %s); allowed: %s",
                   q, p->name, p->kind ? p->kind->name : "?", names);
        return kk_err_where(err, flag);
    }
    const char *val = eq + 1;
    size_t vlen = strlen(val);
    const preset_bounds *b = &prm->b;
    preset_type t = b->type == PRESET_T_LIST ? b->of : b->type;
    /* Lists split on commas; a scalar is one element. */
    size_t n = 1;
    if (b->type == PRESET_T_LIST)
        for (size_t i = 0; i < vlen; i++)
            n += val[i] == ',';
    char why[700];
    if (b->type == PRESET_T_LIST && (n < b->min_count || n > b->max_count)) {
        char allowed[500];
        preset_bounds_text(b, allowed, sizeof allowed);
        kk_err_set(err, KK_E_RANGE, "found %zu items; allowed: %s", n, allowed);
        return kk_err_where(err, flag);
    }
    preset_value nv;
    if (preset_value_alloc(&nv, t, n) != 0)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    const char *s = val;
    for (size_t k = 0; k < n; k++) {
        const char *e = b->type == PRESET_T_LIST ? strchr(s, ',') : NULL;
        size_t len = e ? (size_t)(e - s) : strlen(s);
        /* On the command line there is no quoting: text is text. */
        kk_yaml_sclass cls = (t == PRESET_T_STRING || t == PRESET_T_ENUM)
                                ? KK_YAML_SC_STRING : kk_yaml_classify(s, len, 1);
        kk_code c = preset_elem_parse(b, t, s, len, cls, &nv, k, why, sizeof why);
        if (c == KK_OK && t == PRESET_T_STRING &&
            preset_check_placeholders(s, len, prm->env, prm->n_env, why, sizeof why))
            c = KK_E_RANGE;
        if (c != KK_OK) {
            preset_value_free(&nv);
            kk_err_set(err, c, "%s", why);
            return kk_err_where(err, flag);
        }
        s = e ? e + 1 : s + len;
    }
    preset_value_free(&prm->v);
    prm->v = nv;
    prm->origin = PRESET_ORIGIN_SET;
    if (p->kind && p->kind->check)
        return p->kind->check(p, err);
    return KK_OK;
}
