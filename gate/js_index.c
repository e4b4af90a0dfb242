/*
 * js_index: before compiling, walk each document once to learn, for every
 * subschema, its base URI (from enclosing "$id"s, RFC 3986 resolution), its
 * schema resource, the vocabularies in effect ("$schema" -> the
 * meta-schema's "$vocabulary") and its location; and to register every
 * resource URI, "$anchor" and "$dynamicAnchor" (JSON Schema 2020-12 core,
 * sections 8.2.1 to 8.2.3, 9.1).
 *
 * Only subschemas under known applicator keywords are walked: an "$id"
 * inside "enum", "const" or an unknown keyword is not an identifier (the
 * suite's optional id.json / unknownKeyword.json test exactly that).
 * Later, $ref targets reached through a JSON pointer that lands outside
 * those positions are indexed on demand with the base of their nearest
 * indexed ancestor.
 */
#include <stdlib.h>
#include <string.h>

#include "js_internal.h"

void *js_alloc(js_schema *s, size_t n)
{
    if (s->n_allocs == s->cap_allocs) {
        size_t nc = s->cap_allocs ? s->cap_allocs * 2 : 64;
        void **na = realloc(s->allocs, nc * sizeof *na);
        if (!na)
            return NULL;
        s->allocs = na;
        s->cap_allocs = nc;
    }
    void *p = calloc(1, n ? n : 1);
    if (p)
        s->allocs[s->n_allocs++] = p;
    return p;
}

char *js_strdup(js_schema *s, const char *str)
{
    size_t n = strlen(str);
    char *p = js_alloc(s, n + 1);
    if (p)
        memcpy(p, str, n + 1);
    return p;
}

js_info *js_info_of(js_cctx *cc, const json_value *v)
{
    return js_pmap_get(&cc->info, v);
}

/* parent + "/" + escaped token (RFC 6901: ~ -> ~0, / -> ~1). */
static const char *loc_join(js_schema *s, const char *parent, const char *tok,
                            size_t tok_len)
{
    size_t pl = strlen(parent), extra = 0;
    for (size_t i = 0; i < tok_len; i++)
        extra += tok[i] == '~' || tok[i] == '/';
    char *p = js_alloc(s, pl + 1 + tok_len + extra + 1);
    if (!p)
        return NULL;
    memcpy(p, parent, pl);
    size_t o = pl;
    p[o++] = '/';
    for (size_t i = 0; i < tok_len; i++) {
        char c = tok[i];
        if (c == '~' || c == '/') {
            p[o++] = '~';
            p[o++] = c == '~' ? '0' : '1';
        } else {
            p[o++] = c ? c : ' ';
        }
    }
    p[o] = '\0';
    return p;
}

static const char *loc_join_idx(js_schema *s, const char *parent, size_t idx)
{
    char b[32];
    int n = snprintf(b, sizeof b, "%zu", idx);
    return loc_join(s, parent, b, (size_t)n);
}

static js_resource *new_resource(js_cctx *cc, const char *uri,
                                 const json_value *root)
{
    js_schema *s = cc->s;
    if (s->n_resources == s->cap_resources) {
        size_t nc = s->cap_resources ? s->cap_resources * 2 : 8;
        js_resource **nr = realloc(s->resources, nc * sizeof *nr);
        if (!nr)
            return NULL;
        s->resources = nr;
        s->cap_resources = nc;
    }
    js_resource *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->uri = strdup(uri);
    if (!r->uri) {
        free(r);
        return NULL;
    }
    r->root = root;
    s->resources[s->n_resources++] = r;
    if (!js_smap_get(&cc->uris, uri) &&
        js_smap_put(&cc->uris, uri, r) != 0)
        return NULL;
    return r;
}

static unsigned vocab_from_meta(js_cctx *cc, const char *base,
                                const char *schema_uri, unsigned inherited)
{
    char *abs = js_uri_resolve(base, schema_uri);
    if (!abs)
        return inherited;
    char *u = js_uri_strip_fragment(abs, NULL);
    free(abs);
    if (!u)
        return inherited;
    const json_value *meta = js_registry_find(cc->reg, u);
    if (!meta) {
        js_resource *r = js_smap_get(&cc->uris, u);
        meta = r ? r->root : NULL;
    }
    free(u);
    if (!meta || meta->type != JSON_OBJECT)
        return inherited;
    const json_value *voc = json_obj_get(meta, "$vocabulary");
    if (!voc || voc->type != JSON_OBJECT)
        return JS_VOC_ALL;
    unsigned mask = JS_VOC_CORE;
    static const struct { const char *name; unsigned bit; } known[] = {
        {"https://json-schema.org/draft/2020-12/vocab/core", JS_VOC_CORE},
        {"https://json-schema.org/draft/2020-12/vocab/applicator", JS_VOC_APPLICATOR},
        {"https://json-schema.org/draft/2020-12/vocab/validation", JS_VOC_VALIDATION},
        {"https://json-schema.org/draft/2020-12/vocab/unevaluated", JS_VOC_UNEVALUATED},
    };
    for (size_t i = 0; i < voc->u.obj.n; i++)
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strcmp(voc->u.obj.members[i].key, known[k].name) == 0)
                mask |= known[k].bit;
    return mask;
}

static const char *const SCHEMA_MAPS[] = {"$defs", "properties",
                                          "patternProperties",
                                          "dependentSchemas"};
static const char *const SCHEMA_ONE[] = {
    "additionalProperties", "propertyNames", "items", "contains", "not", "if",
    "then", "else", "unevaluatedItems", "unevaluatedProperties",
    "contentSchema"};
static const char *const SCHEMA_LISTS[] = {"prefixItems", "allOf", "anyOf",
                                           "oneOf"};

static kk_code index_rec(js_cctx *cc, const json_value *v, const char *base,
                         js_resource *res, unsigned vocab, const char *loc,
                         int depth);

static kk_code oom(js_cctx *cc)
{
    return kk_err_set(cc->err, KK_E_NOMEM, "schema: out of memory");
}

static kk_code index_children(js_cctx *cc, const json_value *v,
                              const char *base, js_resource *res,
                              unsigned vocab, const char *loc, int depth)
{
    js_schema *s = cc->s;
    kk_code rc;
    for (size_t k = 0; k < sizeof SCHEMA_MAPS / sizeof SCHEMA_MAPS[0]; k++) {
        const json_value *m = json_obj_get(v, SCHEMA_MAPS[k]);
        if (!m || m->type != JSON_OBJECT)
            continue;
        const char *ml = loc_join(s, loc, SCHEMA_MAPS[k], strlen(SCHEMA_MAPS[k]));
        if (!ml)
            return oom(cc);
        for (size_t i = 0; i < m->u.obj.n; i++) {
            const json_member *mem = &m->u.obj.members[i];
            const char *cl = loc_join(s, ml, mem->key, mem->key_len);
            if (!cl)
                return oom(cc);
            if ((rc = index_rec(cc, mem->value, base, res, vocab, cl, depth + 1)))
                return rc;
        }
    }
    for (size_t k = 0; k < sizeof SCHEMA_ONE / sizeof SCHEMA_ONE[0]; k++) {
        const json_value *c = json_obj_get(v, SCHEMA_ONE[k]);
        if (!c)
            continue;
        const char *cl = loc_join(s, loc, SCHEMA_ONE[k], strlen(SCHEMA_ONE[k]));
        if (!cl)
            return oom(cc);
        if ((rc = index_rec(cc, c, base, res, vocab, cl, depth + 1)))
            return rc;
    }
    for (size_t k = 0; k < sizeof SCHEMA_LISTS / sizeof SCHEMA_LISTS[0]; k++) {
        const json_value *a = json_obj_get(v, SCHEMA_LISTS[k]);
        if (!a || a->type != JSON_ARRAY)
            continue;
        const char *al = loc_join(s, loc, SCHEMA_LISTS[k], strlen(SCHEMA_LISTS[k]));
        if (!al)
            return oom(cc);
        for (size_t i = 0; i < a->u.arr.n; i++) {
            const char *cl = loc_join_idx(s, al, i);
            if (!cl)
                return oom(cc);
            if ((rc = index_rec(cc, a->u.arr.items[i], base, res, vocab, cl,
                                depth + 1)))
                return rc;
        }
    }
    return KK_OK;
}

static kk_code add_anchor(js_cctx *cc, const char *base, const char *name,
                          const json_value *v)
{
    size_t n = strlen(base) + 1 + strlen(name) + 1;
    char *key = malloc(n);
    if (!key)
        return oom(cc);
    snprintf(key, n, "%s#%s", base, name);
    int r = js_smap_get(&cc->anchors, key) ? 0
            : js_smap_put(&cc->anchors, key, (void *)v);
    free(key);
    return r ? oom(cc) : KK_OK;
}

/* res == NULL: v is a document root and starts a resource of its own. */
static kk_code index_rec(js_cctx *cc, const json_value *v, const char *base,
                         js_resource *res, unsigned vocab, const char *loc,
                         int depth)
{
    js_schema *s = cc->s;
    if (depth > JS_MAX_INDEX_DEPTH) {
        kk_err_set(cc->err, KK_E_LIMIT, "schema nested deeper than %d levels",
                   JS_MAX_INDEX_DEPTH);
        kk_err_where(cc->err, loc);
        return KK_E_LIMIT;
    }
    if (v->type != JSON_OBJECT && v->type != JSON_TRUE && v->type != JSON_FALSE)
        return KK_OK; /* not a schema: compile reports it where it matters */
    if (js_info_of(cc, v))
        return KK_OK;
    const json_value *id = NULL;
    if (v->type == JSON_OBJECT) {
        const json_value *sch = json_obj_get(v, "$schema");
        if (sch && sch->type == JSON_STRING)
            vocab = vocab_from_meta(cc, base, sch->u.str.s, vocab);
        id = json_obj_get(v, "$id");
        /* "$id": "#foo" was an anchor before 2019-09; 2020-12 forbids a
         * fragment in $id, so it never names a resource. */
        if (id && (id->type != JSON_STRING || id->u.str.s[0] == '#'))
            id = NULL;
    }
    if (id) {
        char *abs = js_uri_resolve(base, id->u.str.s);
        char *u = abs ? js_uri_strip_fragment(abs, NULL) : NULL;
        free(abs);
        const char *ib = u ? js_strdup(s, u) : NULL;
        free(u);
        if (!ib)
            return oom(cc);
        js_resource *outer = res;
        res = new_resource(cc, ib, v);
        if (!res)
            return oom(cc);
        /* A document root with an $id is also known by its retrieval URI. */
        if (!outer && strcmp(base, ib) != 0 && !js_smap_get(&cc->uris, base) &&
            js_smap_put(&cc->uris, base, res) != 0)
            return oom(cc);
        base = ib;
    } else if (!res) {
        res = new_resource(cc, base, v);
        if (!res)
            return oom(cc);
    }
    js_info *info = calloc(1, sizeof *info);
    if (!info || js_pmap_put(&cc->info, v, info) != 0) {
        free(info);
        return oom(cc);
    }
    info->base = base;
    info->res = res;
    info->vocab = vocab;
    info->loc = loc;
    if (v->type != JSON_OBJECT)
        return KK_OK;
    const json_value *a = json_obj_get(v, "$anchor");
    if (a && a->type == JSON_STRING && add_anchor(cc, base, a->u.str.s, v))
        return KK_E_NOMEM;
    a = json_obj_get(v, "$dynamicAnchor");
    if (a && a->type == JSON_STRING) {
        if (add_anchor(cc, base, a->u.str.s, v))
            return KK_E_NOMEM;
        if (res->n_dyn == res->cap_dyn) {
            size_t nc = res->cap_dyn ? res->cap_dyn * 2 : 4;
            js_dyn_anchor *nd = realloc(res->dyn, nc * sizeof *nd);
            if (!nd)
                return oom(cc);
            res->dyn = nd;
            res->cap_dyn = nc;
        }
        js_dyn_anchor *d = &res->dyn[res->n_dyn++];
        d->name = a->u.str.s;
        d->value = v;
        d->node = NULL;
    }
    return index_children(cc, v, base, res, vocab, loc, depth);
}

kk_code js_index_document(js_cctx *cc, const json_value *v, const char *uri,
                          const char *loc_prefix)
{
    char *u = js_uri_strip_fragment(uri, NULL);
    const char *base = u ? js_strdup(cc->s, u) : NULL;
    const char *loc = js_strdup(cc->s, loc_prefix);
    free(u);
    if (!base || !loc)
        return oom(cc);
    js_info *known = js_info_of(cc, v);
    if (known) { /* already indexed under another URI: alias it */
        if (!js_smap_get(&cc->uris, base) &&
            js_smap_put(&cc->uris, base, known->res) != 0)
            return oom(cc);
        return KK_OK;
    }
    return index_rec(cc, v, base, NULL, JS_VOC_ALL, loc, 0);
}

typedef struct walk_state {
    js_cctx *cc;
    js_info *last;
} walk_state;

static void walk_visit(void *ud, const json_value *v)
{
    walk_state *w = ud;
    js_info *i = js_info_of(w->cc, v);
    if (i)
        w->last = i;
}

kk_code js_resolve_ref(js_cctx *cc, const char *base, const char *ref,
                       const char *where, const json_value **out,
                       const char **out_frag)
{
    *out = NULL;
    char *abs = js_uri_resolve(base, ref);
    const char *frag = "";
    char *u = abs ? js_uri_strip_fragment(abs, &frag) : NULL;
    if (!u) {
        free(abs);
        return oom(cc);
    }
    kk_code rc = KK_OK;
    js_resource *res = js_smap_get(&cc->uris, u);
    if (!res) {
        const json_value *doc = js_registry_find(cc->reg, u);
        if (doc) {
            size_t n = strlen(u) + 2;
            char *prefix = malloc(n);
            if (!prefix) {
                rc = oom(cc);
                goto done;
            }
            snprintf(prefix, n, "%s#", u);
            rc = js_index_document(cc, doc, u, prefix);
            free(prefix);
            if (rc)
                goto done;
            res = js_smap_get(&cc->uris, u);
        }
    }
    if (!res) {
        rc = kk_err_set(cc->err, KK_E_MISSING,
                        "cannot resolve reference \"%s\": no schema resource "
                        "\"%s\" (register remote documents first)", ref, u);
        kk_err_where(cc->err, where);
        goto done;
    }
    if (out_frag && !(*out_frag = js_strdup(cc->s, frag))) {
        rc = oom(cc);
        goto done;
    }
    if (frag[0] == '\0') {
        *out = res->root;
    } else if (frag[0] == '/') {
        size_t dl = 0;
        char *dec = js_uri_pct_decode(frag, &dl);
        if (!dec) {
            rc = kk_err_set(cc->err, KK_E_FORMAT,
                            "reference \"%s\": bad percent-escape", ref);
            kk_err_where(cc->err, where);
            goto done;
        }
        walk_state w = {cc, NULL};
        const json_value *t = js_pointer_get(res->root, dec, dl, walk_visit, &w);
        if (t && !js_info_of(cc, t) && w.last) {
            const char *l = js_strdup(cc->s, abs);
            rc = l ? index_rec(cc, t, w.last->base, w.last->res,
                               w.last->vocab, l, 0)
                   : oom(cc);
        }
        free(dec);
        if (rc)
            goto done;
        if (!t) {
            rc = kk_err_set(cc->err, KK_E_MISSING,
                            "cannot resolve reference \"%s\": JSON pointer "
                            "\"%s\" not found in \"%s\"", ref, frag, u);
            kk_err_where(cc->err, where);
            goto done;
        }
        *out = t;
    } else {
        size_t n = strlen(res->uri) + strlen(frag) + 2;
        char *key = malloc(n);
        if (!key) {
            rc = oom(cc);
            goto done;
        }
        snprintf(key, n, "%s#%s", res->uri, frag);
        *out = js_smap_get(&cc->anchors, key);
        if (!*out) { /* the anchor may live under the URI as written */
            snprintf(key, n, "%s#%s", u, frag);
            *out = js_smap_get(&cc->anchors, key);
        }
        free(key);
        if (!*out) {
            rc = kk_err_set(cc->err, KK_E_MISSING,
                            "cannot resolve reference \"%s\": no anchor "
                            "\"%s\" in \"%s\"", ref, frag, u);
            kk_err_where(cc->err, where);
        }
    }
done:
    free(u);
    free(abs);
    return rc;
}

js_node *js_node_get(js_cctx *cc, const json_value *v, const char *where)
{
    js_info *info = js_info_of(cc, v);
    if (!info) {
        char d[96];
        js_describe(v, d, sizeof d);
        kk_err_set(cc->err, KK_E_FORMAT,
                   "expected a schema (object or boolean), found %s", d);
        kk_err_where(cc->err, where);
        return NULL;
    }
    if (info->node)
        return info->node;
    js_node *n = js_alloc(cc->s, sizeof *n);
    if (!n) {
        oom(cc);
        return NULL;
    }
    n->json = v;
    n->res = info->res;
    n->loc = info->loc;
    n->boolean = v->type == JSON_TRUE ? 1 : v->type == JSON_FALSE ? 0 : -1;
    n->compiled = n->boolean >= 0;
    info->node = n;
    if (!n->compiled) {
        if (cc->n_work == cc->cap_work) {
            size_t nc = cc->cap_work ? cc->cap_work * 2 : 64;
            js_node **nw = realloc(cc->work, nc * sizeof *nw);
            if (!nw) {
                oom(cc);
                return NULL;
            }
            cc->work = nw;
            cc->cap_work = nc;
        }
        cc->work[cc->n_work++] = n;
    }
    /* A resource that can be in the dynamic scope needs its dynamic anchors
     * compiled too ($dynamicRef looks them up at validation time). */
    js_resource *r = info->res;
    if (!r->dyn_compiled) {
        r->dyn_compiled = 1;
        for (size_t i = 0; i < r->n_dyn; i++) {
            r->dyn[i].node = js_node_get(cc, r->dyn[i].value, where);
            if (!r->dyn[i].node)
                return NULL;
        }
    }
    return n;
}
