/* preset: the structure of a preset file (see preset.h for the grammar). */
#include "preset.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"
#include "kk_preset.h"
#include "kk_yaml.h"
#include "preset_internal.h"

#define NAME_MAX_LEN KK_PRESET_NAME_MAX_LEN
#define DESC_MAX_LEN KK_PRESET_DESC_MAX_LEN
#define MAX_ARMS 256
#define MAX_ALLOWED_PH 64

typedef struct pctx {
    const char *file;
    kk_err *err;
    /* string scalars whose ${ENV:..} were checked against a declaration */
    const kk_yaml_node *ph_ok[MAX_ALLOWED_PH];
    size_t n_ph_ok;
} pctx;

/* ---- errors ------------------------------------------------------------------- */

/* A located error at node n of the file being read (kk_yaml_err). */
#define perr(c, ...) kk_yaml_err((c)->err, (c)->file, __VA_ARGS__)


static int key_is(const kk_yaml_node *k, const char *s)
{
    return strlen(s) == k->len && !memcmp(k->str, s, k->len);
}

/* Every key of map m must be in allowed (NULL-terminated). */
static kk_code check_keys(const pctx *c, const kk_yaml_node *m, const char *where,
                          const char *const *allowed)
{
    for (size_t i = 0; i < m->n; i++) {
        int ok = 0;
        for (size_t k = 0; allowed[k]; k++)
            ok |= key_is(m->keys[i], allowed[k]);
        if (!ok) {
            char list[400], q[80];
            size_t o = 0;
            for (size_t k = 0; allowed[k] && o + 1 < sizeof list; k++)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", k ? ", " : "", allowed[k]);
            kk_yaml_quote(m->keys[i]->str, m->keys[i]->len, q, sizeof q);
            return perr(c, m->keys[i], where, KK_E_RANGE, "unknown key %s in %s; allowed: %s",
                        q, where[0] ? where : "the preset", list);
        }
    }
    return KK_OK;
}

static kk_code need_kind(const pctx *c, const kk_yaml_node *n, const char *where,
                         kk_yaml_kind kind)
{
    if (n->kind == kind)
        return KK_OK;
    char f[80];
    kk_yaml_found(n, f, sizeof f);
    return perr(c, n, where, KK_E_TYPE, "found %s; allowed: %s", f,
                kind == KK_YAML_MAP ? "a map" : kind == KK_YAML_SEQ ? "a list" : "a scalar");
}

/* A string scalar (not reading as null/bool/number), 1..maxlen bytes. */
static kk_code get_string(const pctx *c, const kk_yaml_node *n, const char *where,
                          size_t maxlen, char **out)
{
    KK_TRY(need_kind(c, n, where, KK_YAML_SCALAR));
    kk_yaml_sclass cls = kk_yaml_classify(n->str, n->len, n->plain);
    char q[80];
    kk_yaml_quote(n->str, n->len, q, sizeof q);
    if (cls != KK_YAML_SC_STRING)
        return perr(c, n, where, KK_E_TYPE, "found %s (not text unquoted); allowed: a string "
                    "(quote it to mean text)", q);
    if (n->len == 0 || n->len > maxlen || memchr(n->str, 0, n->len))
        return perr(c, n, where, KK_E_RANGE, "found %s (%zu bytes); allowed: a string of 1..%zu bytes",
                    q, n->len, maxlen);
    *out = strdup(n->str);
    if (!*out)
        return perr(c, n, where, KK_E_NOMEM, "out of memory");
    return KK_OK;
fail:
    return c->err ? c->err->code : KK_E_TYPE;
}

/* ---- params -------------------------------------------------------------------- */

static kk_code parse_value_node(pctx *c, preset_param *prm, const kk_yaml_node *n,
                                const char *where)
{
    const preset_bounds *b = &prm->b;
    char why[700];
    preset_type t = b->type == PRESET_T_LIST ? b->of : b->type;
    size_t cnt = 1;
    if (b->type == PRESET_T_LIST) {
        if (n->kind != KK_YAML_SEQ) {
            char f[80], allowed[500];
            kk_yaml_found(n, f, sizeof f);
            preset_bounds_text(b, allowed, sizeof allowed);
            return perr(c, n, where, KK_E_TYPE, "found %s; allowed: %s", f, allowed);
        }
        cnt = n->n;
        if (cnt < b->min_count || cnt > b->max_count) {
            char allowed[500];
            preset_bounds_text(b, allowed, sizeof allowed);
            return perr(c, n, where, KK_E_RANGE, "found %zu items; allowed: %s", cnt, allowed);
        }
    }
    preset_value nv;
    if (preset_value_alloc(&nv, t, cnt) != 0)
        return perr(c, n, where, KK_E_NOMEM, "out of memory");
    for (size_t k = 0; k < cnt; k++) {
        const kk_yaml_node *e = b->type == PRESET_T_LIST ? n->vals[k] : n;
        char ew[KK_ERR_WHERE_MAX];
        if (b->type == PRESET_T_LIST)
            snprintf(ew, sizeof ew, "%.200s[%zu]", where, k);
        else
            snprintf(ew, sizeof ew, "%s", where);
        if (e->kind != KK_YAML_SCALAR) {
            preset_value_free(&nv);
            char f[80], allowed[500];
            kk_yaml_found(e, f, sizeof f);
            preset_bounds_text(b, allowed, sizeof allowed);
            return perr(c, e, ew, KK_E_TYPE, "found %s; allowed: %s", f, allowed);
        }
        kk_code code = preset_elem_parse(b, t, e->str, e->len,
                                         kk_yaml_classify(e->str, e->len, e->plain), &nv, k,
                                         why, sizeof why);
        if (code == KK_OK && t == PRESET_T_STRING) {
            if (preset_check_placeholders(e->str, e->len, prm->env, prm->n_env, why, sizeof why))
                code = KK_E_RANGE;
            else if (c->n_ph_ok < MAX_ALLOWED_PH)
                c->ph_ok[c->n_ph_ok++] = e;
        }
        if (code != KK_OK) {
            preset_value_free(&nv);
            return perr(c, e, ew, code, "%s", why);
        }
    }
    preset_value_free(&prm->v);
    prm->v = nv;
    return KK_OK;
}

static kk_code parse_type(const pctx *c, const kk_yaml_node *n, const char *where,
                          preset_type *t)
{
    static const char *const names[] = {"int", "float", "bool", "string", "enum", "list"};
    if (n->kind == KK_YAML_SCALAR)
        for (int i = 0; i < 6; i++)
            if (key_is(n, names[i])) {
                *t = (preset_type)i;
                return KK_OK;
            }
    char f[80];
    kk_yaml_found(n, f, sizeof f);
    return perr(c, n, where, KK_E_RANGE, "found %s; allowed: int, float, bool, string, enum, list", f);
}

/* One declaration NAME: {type, default, ...} narrowing the kind's spec. */
static kk_code parse_param_decl(pctx *c, preset_param *prm, const kind_param_spec *spec,
                                const kk_yaml_node *d)
{
    static const char *const keys[] = {"type", "of", "default", "min", "max", "values",
                                       "max_len", "max_count", "env", "help", NULL};
    char where[160], w2[KK_ERR_WHERE_MAX], why[700];
    snprintf(where, sizeof where, "params.%s", spec->name);
    KK_TRY(need_kind(c, d, where, KK_YAML_MAP));
    KK_TRY(check_keys(c, d, where, keys));
    prm->line = d->line;
    prm->col = d->col;
    const kk_yaml_node *n = kk_yaml_get(d, "type");
    if (!n)
        return perr(c, d, where, KK_E_MISSING, "missing key 'type' in %s; required: type, default", where);
    preset_type t;
    snprintf(w2, sizeof w2, "%.140s.type", where);
    KK_TRY(parse_type(c, n, w2, &t));
    if (t != spec->type)
        return perr(c, n, w2, KK_E_RANGE, "found \"%s\"; allowed: \"%s\" (the kind declares %s so)",
                    preset_type_name(t), preset_type_name(spec->type), spec->name);
    n = kk_yaml_get(d, "of");
    snprintf(w2, sizeof w2, "%.140s.of", where);
    if (spec->type == PRESET_T_LIST) {
        if (!n)
            return perr(c, d, where, KK_E_MISSING, "missing key 'of' in %s; a list names its element "
                        "type (of: %s)", where, preset_type_name(spec->of));
        KK_TRY(parse_type(c, n, w2, &t));
        if (t != spec->of)
            return perr(c, n, w2, KK_E_RANGE, "found \"%s\"; allowed: \"%s\"", preset_type_name(t),
                        preset_type_name(spec->of));
    } else if (n) {
        return perr(c, n, w2, KK_E_RANGE, "'of' is for lists; %s is %s", spec->name,
                    preset_type_name(spec->type));
    }
    preset_type et = spec->type == PRESET_T_LIST ? spec->of : spec->type;
    /* Narrowed bounds: each must lie inside the kind's. */
    preset_bounds nb = prm->b;
    preset_value tmp;
    static const char *const numk[] = {"min", "max"};
    for (int k = 0; k < 2; k++) {
        n = kk_yaml_get(d, numk[k]);
        if (!n)
            continue;
        snprintf(w2, sizeof w2, "%.140s.%.40s", where, numk[k]);
        if (et != PRESET_T_INT && et != PRESET_T_FLOAT)
            return perr(c, n, w2, KK_E_RANGE, "'%s' bounds numbers; %s holds %s", numk[k],
                        spec->name, preset_type_name(et));
        KK_TRY(need_kind(c, n, w2, KK_YAML_SCALAR));
        if (preset_value_alloc(&tmp, et, 1) != 0)
            return perr(c, n, w2, KK_E_NOMEM, "out of memory");
        kk_code code = preset_elem_parse(&prm->b, et, n->str, n->len,
                                         kk_yaml_classify(n->str, n->len, n->plain), &tmp, 0,
                                         why, sizeof why);
        if (code == KK_OK) {
            if (et == PRESET_T_INT)
                *(k ? &nb.imax : &nb.imin) = tmp.i[0];
            else
                *(k ? &nb.fmax : &nb.fmin) = tmp.f[0];
        }
        preset_value_free(&tmp);
        if (code != KK_OK)
            return perr(c, n, w2, code, "%s (the kind's limits)", why);
    }
    if (nb.imin > nb.imax || nb.fmin > nb.fmax)
        return perr(c, d, where, KK_E_RANGE, "min is above max in %s", where);
    static const char *const cntk[] = {"max_len", "max_count"};
    for (int k = 0; k < 2; k++) {
        n = kk_yaml_get(d, cntk[k]);
        if (!n)
            continue;
        snprintf(w2, sizeof w2, "%.140s.%.40s", where, cntk[k]);
        size_t hard = k ? prm->b.max_count : prm->b.max_len;
        if (k == 1 && spec->type != PRESET_T_LIST)
            return perr(c, n, w2, KK_E_RANGE, "'max_count' is for lists; %s is %s", spec->name,
                        preset_type_name(spec->type));
        if (k == 0 && et != PRESET_T_STRING && et != PRESET_T_ENUM)
            return perr(c, n, w2, KK_E_RANGE, "'max_len' is for strings; %s holds %s", spec->name,
                        preset_type_name(et));
        preset_bounds cb = {.type = PRESET_T_INT, .imin = 1, .imax = (int64_t)hard};
        KK_TRY(need_kind(c, n, w2, KK_YAML_SCALAR));
        if (preset_value_alloc(&tmp, PRESET_T_INT, 1) != 0)
            return perr(c, n, w2, KK_E_NOMEM, "out of memory");
        kk_code code = preset_elem_parse(&cb, PRESET_T_INT, n->str, n->len,
                                         kk_yaml_classify(n->str, n->len, n->plain), &tmp, 0,
                                         why, sizeof why);
        size_t v = code == KK_OK ? (size_t)tmp.i[0] : 0;
        preset_value_free(&tmp);
        if (code != KK_OK)
            return perr(c, n, w2, code, "%s (the kind's limit)", why);
        *(k ? &nb.max_count : &nb.max_len) = v;
    }
    n = kk_yaml_get(d, "values");
    if (n) {
        snprintf(w2, sizeof w2, "%.140s.values", where);
        if (et != PRESET_T_ENUM)
            return perr(c, n, w2, KK_E_RANGE, "'values' is for enums; %s holds %s", spec->name,
                        preset_type_name(et));
        KK_TRY(need_kind(c, n, w2, KK_YAML_SEQ));
        if (n->n == 0)
            return perr(c, n, w2, KK_E_RANGE, "found an empty list; allowed: some of the kind's values");
        prm->values_own = calloc(n->n + 1, sizeof *prm->values_own);
        if (!prm->values_own)
            return perr(c, n, w2, KK_E_NOMEM, "out of memory");
        preset_value one;
        if (preset_value_alloc(&one, PRESET_T_ENUM, 1) != 0)
            return perr(c, n, w2, KK_E_NOMEM, "out of memory");
        for (size_t k = 0; k < n->n; k++) {
            const kk_yaml_node *e = n->vals[k];
            char ew[KK_ERR_WHERE_MAX];
            snprintf(ew, sizeof ew, "%.200s[%zu]", w2, k);
            if (e->kind != KK_YAML_SCALAR) {
                preset_value_free(&one);
                return need_kind(c, e, ew, KK_YAML_SCALAR);
            }
            kk_code code = preset_elem_parse(&prm->b, PRESET_T_ENUM, e->str, e->len,
                                             kk_yaml_classify(e->str, e->len, e->plain), &one, 0,
                                             why, sizeof why);
            if (code != KK_OK) {
                preset_value_free(&one);
                return perr(c, e, ew, code, "%s", why);
            }
            prm->values_own[k] = one.s[0];
            one.s[0] = NULL;
        }
        preset_value_free(&one);
        nb.values = (const char *const *)prm->values_own;
    }
    n = kk_yaml_get(d, "env");
    if (n) {
        snprintf(w2, sizeof w2, "%.140s.env", where);
        if (!spec->env_ok)
            return perr(c, n, w2, KK_E_RANGE, "parameter %s takes no ${ENV:VAR} placeholders "
                        "(only the model sources do)", spec->name);
        KK_TRY(need_kind(c, n, w2, KK_YAML_SEQ));
        if (n->n == 0 || n->n > 8)
            return perr(c, n, w2, KK_E_RANGE, "found %zu names; allowed: 1..8", n->n);
        prm->env = calloc(n->n, sizeof *prm->env);
        if (!prm->env)
            return perr(c, n, w2, KK_E_NOMEM, "out of memory");
        for (size_t k = 0; k < n->n; k++) {
            char ew[KK_ERR_WHERE_MAX];
            snprintf(ew, sizeof ew, "%.200s[%zu]", w2, k);
            KK_TRY(get_string(c, n->vals[k], ew, 64, &prm->env[prm->n_env]));
            prm->n_env++;
            const char *s = prm->env[prm->n_env - 1];
            int ok = isupper((unsigned char)s[0]) || s[0] == '_';
            for (size_t i = 1; s[i]; i++)
                ok &= isupper((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_';
            if (!ok)
                return perr(c, n->vals[k], ew, KK_E_RANGE, "found \"%s\"; allowed: a variable "
                            "name [A-Z_][A-Z0-9_]*", s);
        }
    }
    n = kk_yaml_get(d, "help");
    if (n) {
        char *h = NULL;
        snprintf(w2, sizeof w2, "%.140s.help", where);
        KK_TRY(get_string(c, n, w2, DESC_MAX_LEN, &h));
        prm->help = h; /* owned: freed through help_own below */
    }
    prm->b = nb;
    n = kk_yaml_get(d, "default");
    if (!n)
        return perr(c, d, where, KK_E_MISSING, "missing key 'default' in %s; required: type, default", where);
    snprintf(w2, sizeof w2, "%.140s.default", where);
    KK_TRY(parse_value_node(c, prm, n, w2));
    prm->origin = PRESET_ORIGIN_PRESET;
    return KK_OK;
fail:
    return c->err ? c->err->code : KK_E_FORMAT;
}

/* Fill every kind parameter with the kind's default, then the preset's
 * declarations. */
static kk_code parse_params(pctx *c, preset *p, const kk_yaml_node *params)
{
    const kind_def *k = p->kind;
    p->params = calloc(k->n_params ? k->n_params : 1, sizeof *p->params);
    if (!p->params)
        return perr(c, NULL, "params", KK_E_NOMEM, "out of memory");
    p->n_params = k->n_params;
    kk_err sub;
    for (size_t i = 0; i < k->n_params; i++) {
        preset_param *prm = &p->params[i];
        prm->name = k->params[i].name;
        prm->help = NULL;
        preset_bounds_from_spec(&k->params[i], &prm->b);
        prm->origin = PRESET_ORIGIN_KIND;
        char a[600];
        snprintf(a, sizeof a, "%s=%s", prm->name, k->params[i].def);
        /* The kind's default is checked like an override: a bad table
         * entry is our bug and says so. */
        preset tmp = {.params = prm, .n_params = 1, .name = p->name};
        if (preset_set(&tmp, a, &sub) != KK_OK)
            return perr(c, NULL, prm->name, KK_E_INTERNAL, "kind %s default of %s: %s", k->name,
                        prm->name, sub.msg);
        prm->origin = PRESET_ORIGIN_KIND;
    }
    if (!params)
        return KK_OK;
    KK_TRY(need_kind(c, params, "params", KK_YAML_MAP));
    for (size_t j = 0; j < params->n; j++) {
        const kk_yaml_node *key = params->keys[j];
        preset_param *prm = NULL;
        for (size_t i = 0; i < p->n_params; i++)
            if (key_is(key, p->params[i].name))
                prm = &p->params[i];
        if (!prm) {
            char names[600], q[80];
            size_t o = 0;
            names[0] = 0;
            for (size_t i = 0; i < k->n_params && o + 1 < sizeof names; i++)
                o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "",
                                      k->params[i].name);
            kk_yaml_quote(key->str, key->len, q, sizeof q);
            return perr(c, key, "params", KK_E_RANGE, "unknown parameter %s for kind %s; allowed: %s",
                        q, k->name, names);
        }
        KK_TRY(parse_param_decl(c, prm, &k->params[prm - p->params], params->vals[j]));
    }
    return KK_OK;
fail:
    return c->err ? c->err->code : KK_E_FORMAT;
}

/* ---- models and arms -------------------------------------------------------------- */

static kk_code parse_models(pctx *c, preset *p, const kk_yaml_node *ms)
{
    const kind_def *k = p->kind;
    size_t n_roles = 0;
    while (k->roles && k->roles[n_roles])
        n_roles++;
    p->models = calloc(n_roles ? n_roles : 1, sizeof *p->models);
    if (!p->models)
        return perr(c, ms, "models", KK_E_NOMEM, "out of memory");
    if (!ms) { /* default: role i reads parameter "model" (first role only) */
        for (size_t r = 0; r < n_roles; r++) {
            const preset_param *prm = preset_find_param(p, r == 0 ? "model" : k->roles[r]);
            if (!prm)
                return perr(c, NULL, "models", KK_E_MISSING, "missing key 'models'; kind %s needs "
                            "role %s", k->name, k->roles[r]);
            p->models[p->n_models].role = strdup(k->roles[r]);
            p->models[p->n_models++].param = prm;
        }
        return KK_OK;
    }
    static const char *const keys[] = {"role", "param", NULL};
    KK_TRY(need_kind(c, ms, "models", KK_YAML_SEQ));
    for (size_t i = 0; i < ms->n; i++) {
        char where[64], w2[80];
        snprintf(where, sizeof where, "models[%zu]", i);
        const kk_yaml_node *m = ms->vals[i];
        KK_TRY(need_kind(c, m, where, KK_YAML_MAP));
        KK_TRY(check_keys(c, m, where, keys));
        const kk_yaml_node *r = kk_yaml_get(m, "role"), *pa = kk_yaml_get(m, "param");
        if (!r || !pa)
            return perr(c, m, where, KK_E_MISSING, "missing key '%s' in %s; required: role, param",
                        r ? "param" : "role", where);
        char *role = NULL, *pname = NULL;
        snprintf(w2, sizeof w2, "%s.role", where);
        KK_TRY(get_string(c, r, w2, NAME_MAX_LEN, &role));
        size_t ri = n_roles;
        for (size_t q = 0; q < n_roles; q++)
            if (!strcmp(k->roles[q], role))
                ri = q;
        int dup = 0;
        for (size_t q = 0; q < p->n_models; q++)
            dup |= !strcmp(p->models[q].role, role);
        if (ri == n_roles || dup) {
            char list[200];
            size_t o = 0;
            list[0] = 0;
            for (size_t q = 0; q < n_roles && o + 1 < sizeof list; q++)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", q ? ", " : "", k->roles[q]);
            kk_code code = perr(c, r, w2, dup ? KK_E_DUPLICATE : KK_E_RANGE,
                                "found \"%s\"%s; allowed: %s (each once)", role,
                                dup ? " a second time" : "", list);
            free(role);
            return code;
        }
        p->models[p->n_models].role = role;
        snprintf(w2, sizeof w2, "%s.param", where);
        KK_TRY(get_string(c, pa, w2, NAME_MAX_LEN, &pname));
        const preset_param *prm = preset_find_param(p, pname);
        if (!prm || prm->b.type != PRESET_T_STRING) {
            kk_code code = perr(c, pa, w2, KK_E_RANGE, "found \"%s\"; allowed: a string parameter of "
                                "kind %s holding a model source (model)", pname, k->name);
            free(pname);
            return code;
        }
        free(pname);
        p->models[p->n_models++].param = prm;
    }
    for (size_t q = 0; q < n_roles; q++) {
        int have = 0;
        for (size_t i = 0; i < p->n_models; i++)
            have |= !strcmp(p->models[i].role, k->roles[q]);
        if (!have)
            return perr(c, ms, "models", KK_E_MISSING, "missing role %s in models; kind %s needs it",
                        k->roles[q], k->name);
    }
    return KK_OK;
fail:
    return c->err ? c->err->code : KK_E_FORMAT;
}

static kk_code parse_field(pctx *c, preset_field *f, const kind_field_spec *fs,
                           const kk_yaml_node *n, const char *where)
{
    preset_bounds b;
    preset_bounds_from_field(fs, &b);
    preset_value v;
    char why[700];
    if (preset_value_alloc(&v, fs->type, 1) != 0)
        return perr(c, n, where, KK_E_NOMEM, "out of memory");
    kk_code code;
    if (n && n->kind != KK_YAML_SCALAR) {
        preset_value_free(&v);
        return need_kind(c, n, where, KK_YAML_SCALAR);
    }
    if (n)
        code = preset_elem_parse(&b, fs->type, n->str, n->len,
                                 kk_yaml_classify(n->str, n->len, n->plain), &v, 0, why, sizeof why);
    else
        code = preset_elem_parse(&b, fs->type, fs->def, strlen(fs->def),
                                 fs->type == PRESET_T_STRING || fs->type == PRESET_T_ENUM
                                     ? KK_YAML_SC_STRING : kk_yaml_classify(fs->def, strlen(fs->def), 1),
                                 &v, 0, why, sizeof why);
    if (code == KK_OK && v.s && fs->check && fs->check(v.s[0], why, sizeof why))
        code = KK_E_RANGE;
    if (code != KK_OK) {
        preset_value_free(&v);
        return perr(c, n, where, n ? code : KK_E_INTERNAL, "%s", why);
    }
    f->key = fs->key;
    f->present = n != NULL;
    if (v.i)
        f->i = v.i[0];
    if (v.f)
        f->f = v.f[0];
    if (v.s) {
        f->s = v.s[0];
        v.s[0] = NULL;
    }
    preset_value_free(&v);
    return KK_OK;
}

static kk_code parse_arms(pctx *c, preset *p, const kk_yaml_node *as)
{
    const kind_def *k = p->kind;
    if (!as)
        return perr(c, NULL, "arms", KK_E_MISSING, "missing key 'arms'; a preset runs at least one arm");
    KK_TRY(need_kind(c, as, "arms", KK_YAML_SEQ));
    if (as->n == 0 || as->n > MAX_ARMS)
        return perr(c, as, "arms", KK_E_RANGE, "found %zu arms; allowed: 1..%d", as->n, MAX_ARMS);
    p->arms = calloc(as->n, sizeof *p->arms);
    if (!p->arms)
        return perr(c, as, "arms", KK_E_NOMEM, "out of memory");
    const char *allowed[40];
    size_t na = 0;
    allowed[na++] = "name";
    for (size_t f = 0; f < k->n_arm_fields && na < 39; f++)
        allowed[na++] = k->arm_fields[f].key;
    allowed[na] = NULL;
    for (size_t i = 0; i < as->n; i++) {
        char where[64], w2[200];
        snprintf(where, sizeof where, "arms[%zu]", i);
        const kk_yaml_node *a = as->vals[i];
        preset_arm *arm = &p->arms[p->n_arms++];
        arm->line = a->line;
        arm->col = a->col;
        arm->fields = calloc(k->n_arm_fields ? k->n_arm_fields : 1, sizeof *arm->fields);
        if (!arm->fields)
            return perr(c, a, where, KK_E_NOMEM, "out of memory");
        KK_TRY(need_kind(c, a, where, KK_YAML_MAP));
        KK_TRY(check_keys(c, a, where, allowed));
        const kk_yaml_node *nm = kk_yaml_get(a, "name");
        if (!nm)
            return perr(c, a, where, KK_E_MISSING, "missing key 'name' in %s", where);
        snprintf(w2, sizeof w2, "%s.name", where);
        KK_TRY(get_string(c, nm, w2, NAME_MAX_LEN, &arm->name));
        if (!kk_preset_name_ok(arm->name))
            return perr(c, nm, w2, KK_E_RANGE, "found \"%s\"; allowed: a name of letters, digits "
                        "and _ . + - (not starting with . + -)", arm->name);
        for (size_t q = 0; q < i; q++)
            if (!strcmp(p->arms[q].name, arm->name))
                return perr(c, nm, w2, KK_E_DUPLICATE, "arm name \"%s\" again (first at line %d); "
                            "each arm name once (thresholds address arms by name)", arm->name,
                            p->arms[q].line);
        for (size_t f = 0; f < k->n_arm_fields; f++) {
            const kind_field_spec *fs = &k->arm_fields[f];
            const kk_yaml_node *v = kk_yaml_get(a, fs->key);
            snprintf(w2, sizeof w2, "arms[%zu].%s", i, fs->key);
            if (!v && fs->required)
                return perr(c, a, where, KK_E_MISSING, "missing key '%s' in arm %s", fs->key, arm->name);
            KK_TRY(parse_field(c, &arm->fields[f], fs, v, w2));
        }
    }
    return KK_OK;
fail:
    return c->err ? c->err->code : KK_E_FORMAT;
}

/* ---- placeholders anywhere else ---------------------------------------------------- */

static kk_code scan_placeholders(const pctx *c, const kk_yaml_node *n, const char *where)
{
    if (n->kind == KK_YAML_SCALAR) {
        for (size_t i = 0; i < c->n_ph_ok; i++)
            if (c->ph_ok[i] == n)
                return KK_OK;
        char why[600];
        if (preset_check_placeholders(n->str, n->len, NULL, 0, why, sizeof why))
            return perr(c, n, where, KK_E_RANGE, "%s", why);
        return KK_OK;
    }
    for (size_t i = 0; i < n->n; i++) {
        char w[KK_ERR_WHERE_MAX];
        if (n->kind == KK_YAML_MAP) {
            snprintf(w, sizeof w, "%s%s%.*s", where, where[0] ? "." : "",
                     (int)(n->keys[i]->len > 100 ? 100 : n->keys[i]->len), n->keys[i]->str);
            KK_TRY(scan_placeholders(c, n->keys[i], w));
        } else {
            snprintf(w, sizeof w, "%.200s[%zu]", where, i);
        }
        KK_TRY(scan_placeholders(c, n->vals[i], w));
    }
    return KK_OK;
fail:
    return c->err ? c->err->code : KK_E_FORMAT;
}

/* ---- the file ------------------------------------------------------------------------- */

kk_code preset_parse(const char *buf, size_t len, const char *file, const char *expect_name,
                     preset **out, kk_err *err)
{
    pctx c = {.file = file, .err = err};
    *out = NULL;
    kk_err_clear(err);
    preset *p = calloc(1, sizeof *p);
    if (!p)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    /* The file's grammar (top level, YAML limits, the gate block): the
     * common reader, the same one the gate uses. */
    KK_TRY(kk_preset_parse(buf, len, file, expect_name, KK_PRESET_FULL, &p->src, err));
    const kk_preset *src = p->src;
    p->file = src->file;
    p->name = src->name;
    p->description = src->description;
    memcpy(p->sha256, src->sha256, sizeof p->sha256);
    p->kind = kind_find(src->kind);
    if (!p->kind) {
        char names[300];
        kind_names(names, sizeof names);
        perr(&c, kk_yaml_get(src->root, "kind"), "kind", KK_E_RANGE, "found \"%s\"; allowed: %s",
             src->kind, names);
        goto fail;
    }
    /* What the kind allows, on the reader's tree. */
    KK_TRY(parse_params(&c, p, src->params));
    KK_TRY(parse_models(&c, p, src->models));
    KK_TRY(parse_arms(&c, p, src->arms));
    KK_TRY(scan_placeholders(&c, src->root, ""));
    const kk_preset_cond *conds[96];
    size_t nc = 0;
    for (size_t i = 0; i < src->n_thresholds && nc < 64; i++)
        conds[nc++] = &src->thresholds[i];
    if (src->has_positive)
        conds[nc++] = &src->positive;
    for (size_t i = 0; i < src->n_negative && nc < 96; i++)
        conds[nc++] = &src->negative[i];
    for (size_t i = 0; i < nc; i++) {
        const char *names[2] = {conds[i]->arm, conds[i]->other};
        for (int q = 0; q < 2; q++) {
            if (!names[q])
                continue;
            int ok = 0;
            for (size_t a = 0; a < p->n_arms; a++)
                ok |= !strcmp(p->arms[a].name, names[q]);
            if (!ok) {
                kk_err_set(err, KK_E_RANGE, "the gate names arm \"%s\", which the preset does not "
                           "run; arms: see `arms`", names[q]);
                kk_err_file(err, file ? file : "");
                kk_err_linecol(err, conds[i]->line, conds[i]->col);
                kk_err_where(err, "gate");
                goto fail;
            }
        }
    }
    if (p->kind->check)
        KK_TRY(p->kind->check(p, err));
    *out = p;
    return KK_OK;
fail:
    preset_free(p);
    if (err && err->code == KK_OK)
        kk_err_set(err, KK_E_INTERNAL, "preset parse failed without a message");
    return err ? err->code : KK_E_FORMAT;
}

kk_code preset_load(const char *dir, const char *name, preset **out, kk_err *err)
{
    *out = NULL;
    kk_err_clear(err);
    if (!kk_preset_name_ok(name)) {
        char q[80];
        kk_yaml_quote(name, strlen(name), q, sizeof q);
        kk_err_set(err, KK_E_RANGE, "found preset name %s; allowed: a file stem of letters, digits "
                   "and _ . + - in %s (kakeya list shows them)", q, dir);
        return kk_err_where(err, "NAME");
    }
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s.yaml", dir, name) >= sizeof path)
        return kk_err_set(err, KK_E_RANGE, "preset path too long");
    char *buf = NULL;
    size_t len = 0;
    kk_code code = kk_preset_path_check(dir, path, err);
    if (code == KK_OK)
        code = kk_yaml_read_file(path, &buf, &len, err);
    if (code != KK_OK) {
        if (code == KK_E_IO || code == KK_E_MISSING) {
            kk_err_set(err, KK_E_MISSING, "no preset named %s in %s (kakeya list shows them)", name, dir);
            kk_err_file(err, path);
        }
        return err ? err->code : code;
    }
    code = preset_parse(buf, len, path, name, out, err);
    free(buf);
    return code;
}

void preset_free(preset *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_params; i++) {
        preset_param *prm = &p->params[i];
        preset_value_free(&prm->v);
        free((char *)prm->help);
        for (size_t k = 0; prm->values_own && prm->values_own[k]; k++)
            free(prm->values_own[k]);
        free(prm->values_own);
        for (size_t k = 0; k < prm->n_env; k++)
            free(prm->env[k]);
        free(prm->env);
    }
    free(p->params);
    for (size_t i = 0; i < p->n_models; i++)
        free(p->models[i].role);
    free(p->models);
    for (size_t i = 0; i < p->n_arms; i++) {
        for (size_t f = 0; p->kind && f < p->kind->n_arm_fields; f++)
            free(p->arms[i].fields ? p->arms[i].fields[f].s : NULL);
        free(p->arms[i].fields);
        free(p->arms[i].name);
    }
    free(p->arms);
    kk_preset_free(p->src);
    free(p);
}

/* ---- lookups ------------------------------------------------------------------------------ */

const preset_param *preset_find_param(const preset *p, const char *name)
{
    for (size_t i = 0; i < p->n_params; i++)
        if (!strcmp(p->params[i].name, name))
            return &p->params[i];
    return NULL;
}

int64_t preset_get_int(const preset *p, const char *name)
{
    const preset_param *prm = preset_find_param(p, name);
    return prm && prm->v.i && prm->v.n ? prm->v.i[0] : -1;
}

double preset_get_float(const preset *p, const char *name)
{
    const preset_param *prm = preset_find_param(p, name);
    return prm && prm->v.f && prm->v.n ? prm->v.f[0] : -1.0;
}

const char *preset_get_str(const preset *p, const char *name)
{
    const preset_param *prm = preset_find_param(p, name);
    return prm && prm->v.s && prm->v.n ? prm->v.s[0] : NULL;
}

const preset_field *preset_arm_field(const preset *p, const preset_arm *a, const char *key)
{
    for (size_t f = 0; f < p->kind->n_arm_fields; f++)
        if (!strcmp(p->kind->arm_fields[f].key, key))
            return &a->fields[f];
    return NULL;
}
