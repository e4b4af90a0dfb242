/*
 * js_compile: turns a schema document into a graph of js_nodes, each with an
 * array of keywords whose arguments are ready to use: $ref targets are node
 * pointers, patterns are compiled regexes, counts are integers, properties
 * are sorted for binary search. Validation (js_validate.c) never looks at
 * the schema text again.
 *
 * Order: the document is indexed first (js_index.c); then nodes are created
 * on demand (js_node_get) and compiled from a worklist, so a cyclic $ref
 * only links two existing nodes and compilation needs no recursion.
 * Keywords are stored in js_kw_kind order: cheap type and value checks
 * first, applicators next, unevaluated* last, since they need every other
 * keyword's annotations (2020-12 core section 11.2 and 11.3).
 */
#include <stdlib.h>
#include <string.h>

#include "js_internal.h"

#define MAX_KWS 40

static kk_code bad(js_cctx *cc, const char *where, const char *fmt,
                   const char *what, const json_value *found)
{
    char d[96];
    js_describe(found, d, sizeof d);
    kk_err_set(cc->err, KK_E_FORMAT, fmt, what, d);
    kk_err_where(cc->err, where);
    return KK_E_FORMAT;
}

static const char *kwloc(js_cctx *cc, const js_node *n, const char *name)
{
    size_t l = strlen(n->loc) + 1 + strlen(name) + 1;
    char *p = js_alloc(cc->s, l);
    if (p)
        snprintf(p, l, "%s/%s", n->loc, name);
    return p;
}

static int is_nonneg_int(const json_value *v)
{
    return v->type == JSON_NUMBER && v->u.num.is_int && v->u.num.text[0] != '-';
}

static uint64_t count_of(const json_value *v)
{
    double d = v->u.num.d;
    if (d >= 18446744073709551615.0)
        return UINT64_MAX;
    return d > 0 ? (uint64_t)d : 0;
}

/* Mantissa has a nonzero digit and no sign: the number is > 0. */
static int is_positive(const json_value *v)
{
    if (v->type != JSON_NUMBER || v->u.num.text[0] == '-')
        return 0;
    for (size_t i = 0; i < v->u.num.len; i++) {
        char c = v->u.num.text[i];
        if (c == 'e' || c == 'E')
            break;
        if (c >= '1' && c <= '9')
            return 1;
    }
    return 0;
}

static kk_code add_regex(js_cctx *cc, const json_value *pat, const char *where,
                         js_regex **out)
{
    js_schema *s = cc->s;
    if (pat->type != JSON_STRING)
        return bad(cc, where, "%s must be a string, found %s", "pattern", pat);
    kk_code rc = js_regex_compile(pat->u.str.s, pat->u.str.len, out, cc->err);
    if (rc) {
        kk_err_where(cc->err, where);
        return rc;
    }
    if (s->n_regexes == s->cap_regexes) {
        size_t nc = s->cap_regexes ? s->cap_regexes * 2 : 8;
        js_regex **nr = realloc(s->regexes, nc * sizeof *nr);
        if (!nr) {
            js_regex_free(*out);
            return kk_err_set(cc->err, KK_E_NOMEM, "schema: out of memory");
        }
        s->regexes = nr;
        s->cap_regexes = nc;
    }
    s->regexes[s->n_regexes++] = *out;
    return KK_OK;
}

static kk_code schema_list(js_cctx *cc, const json_value *a, const char *name,
                           const char *where, js_node ***out, size_t *n)
{
    if (a->type != JSON_ARRAY || a->u.arr.n == 0)
        return bad(cc, where, "%s must be a non-empty array of schemas, found %s",
                   name, a);
    js_node **v = js_alloc(cc->s, a->u.arr.n * sizeof *v);
    if (!v)
        return kk_err_set(cc->err, KK_E_NOMEM, "schema: out of memory");
    for (size_t i = 0; i < a->u.arr.n; i++)
        if (!(v[i] = js_node_get(cc, a->u.arr.items[i], where)))
            return cc->err ? cc->err->code : KK_E_FORMAT;
    *out = v;
    *n = a->u.arr.n;
    return KK_OK;
}

static int prop_cmp(const void *pa, const void *pb)
{
    const js_prop *a = pa, *b = pb;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->key, b->key, a->len);
}

static kk_code compile_type(js_cctx *cc, const json_value *t, const char *where,
                            unsigned *mask)
{
    static const struct { const char *n; unsigned bit; } names[] = {
        {"null", JS_T_NULL}, {"boolean", JS_T_BOOLEAN}, {"object", JS_T_OBJECT},
        {"array", JS_T_ARRAY}, {"number", JS_T_NUMBER}, {"string", JS_T_STRING},
        {"integer", JS_T_INTEGER}};
    size_t n = t->type == JSON_ARRAY ? t->u.arr.n : 1;
    *mask = 0;
    for (size_t i = 0; i < n; i++) {
        const json_value *e = t->type == JSON_ARRAY ? t->u.arr.items[i] : t;
        unsigned bit = 0;
        if (e->type == JSON_STRING)
            for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
                if (strcmp(e->u.str.s, names[k].n) == 0 &&
                    e->u.str.len == strlen(names[k].n))
                    bit = names[k].bit;
        if (!bit)
            return bad(cc, where, "%s must be a type name (null, boolean, object, "
                       "array, number, string, integer) or an array of them, "
                       "found %s", "type", e);
        *mask |= bit;
    }
    return KK_OK;
}

static kk_code compile_props(js_cctx *cc, js_node *n, const json_value *v,
                             js_kw *kw)
{
    const json_value *p = json_obj_get(v, "properties");
    const json_value *pp = json_obj_get(v, "patternProperties");
    const json_value *ap = json_obj_get(v, "additionalProperties");
    kw->loc = kwloc(cc, n, "properties");
    kw->u.props.loc_pat = kwloc(cc, n, "patternProperties");
    kw->u.props.loc_add = kwloc(cc, n, "additionalProperties");
    if (!kw->loc || !kw->u.props.loc_pat || !kw->u.props.loc_add)
        return kk_err_set(cc->err, KK_E_NOMEM, "schema: out of memory");
    if (p) {
        if (p->type != JSON_OBJECT)
            return bad(cc, kw->loc, "%s must be an object of schemas, found %s",
                       "properties", p);
        js_prop *pr = js_alloc(cc->s, p->u.obj.n * sizeof *pr);
        if (!pr)
            return kk_err_set(cc->err, KK_E_NOMEM, "schema: out of memory");
        for (size_t i = 0; i < p->u.obj.n; i++) {
            pr[i].key = p->u.obj.members[i].key;
            pr[i].len = p->u.obj.members[i].key_len;
            if (!(pr[i].node = js_node_get(cc, p->u.obj.members[i].value, kw->loc)))
                return cc->err ? cc->err->code : KK_E_FORMAT;
        }
        qsort(pr, p->u.obj.n, sizeof *pr, prop_cmp);
        kw->u.props.props = pr;
        kw->u.props.n_props = p->u.obj.n;
    }
    if (pp) {
        if (pp->type != JSON_OBJECT)
            return bad(cc, kw->u.props.loc_pat,
                       "%s must be an object of schemas, found %s",
                       "patternProperties", pp);
        js_pattern_prop *pt = js_alloc(cc->s, pp->u.obj.n * sizeof *pt);
        if (!pt)
            return kk_err_set(cc->err, KK_E_NOMEM, "schema: out of memory");
        for (size_t i = 0; i < pp->u.obj.n; i++) {
            const json_member *m = &pp->u.obj.members[i];
            json_value key = {.type = JSON_STRING};
            key.u.str.s = m->key;
            key.u.str.len = m->key_len;
            kk_code rc = add_regex(cc, &key, kw->u.props.loc_pat, &pt[i].re);
            if (rc)
                return rc;
            if (!(pt[i].node = js_node_get(cc, m->value, kw->u.props.loc_pat)))
                return cc->err ? cc->err->code : KK_E_FORMAT;
        }
        kw->u.props.pats = pt;
        kw->u.props.n_pats = pp->u.obj.n;
    }
    if (ap && !(kw->u.props.additional = js_node_get(cc, ap, kw->u.props.loc_add)))
        return cc->err ? cc->err->code : KK_E_FORMAT;
    return KK_OK;
}

#define NODE_OR_FAIL(dst, val, where)                                         \
    do {                                                                      \
        if (!((dst) = js_node_get(cc, (val), (where))))                       \
            return cc->err ? cc->err->code : KK_E_FORMAT;                     \
    } while (0)

static kk_code compile_node(js_cctx *cc, js_node *n)
{
    const json_value *v = n->json;
    if (v->type != JSON_OBJECT)
        return bad(cc, n->loc, "%s must be an object or a boolean, found %s",
                   "a schema", v);
    js_info *info = js_info_of(cc, v);
    unsigned voc = info->vocab;
    int val = (voc & JS_VOC_VALIDATION) != 0;
    int app = (voc & JS_VOC_APPLICATOR) != 0;
    int unev = (voc & JS_VOC_UNEVALUATED) != 0;
    js_kw kws[MAX_KWS];
    size_t nk = 0;
    memset(kws, 0, sizeof kws);
    const json_value *x;
    kk_code rc;
#define KW(kind_, name_)                                                      \
    js_kw *kw = &kws[nk++];                                                   \
    kw->kind = (kind_);                                                       \
    if (!(kw->loc = kwloc(cc, n, (name_))))                                   \
        return kk_err_set(cc->err, KK_E_NOMEM, "schema: out of memory")

    if (val && (x = json_obj_get(v, "type"))) {
        KW(JS_KW_TYPE, "type");
        if ((rc = compile_type(cc, x, kw->loc, &kw->u.type_mask)))
            return rc;
    }
    if (val && (x = json_obj_get(v, "enum"))) {
        KW(JS_KW_ENUM, "enum");
        if (x->type != JSON_ARRAY)
            return bad(cc, kw->loc, "%s must be an array, found %s", "enum", x);
        kw->u.value = x;
    }
    if (val && (x = json_obj_get(v, "const"))) {
        KW(JS_KW_CONST, "const");
        kw->u.value = x;
    }
    static const struct { const char *name; js_kw_kind kind; } nums[] = {
        {"minimum", JS_KW_MINIMUM}, {"maximum", JS_KW_MAXIMUM},
        {"exclusiveMinimum", JS_KW_EXCL_MINIMUM},
        {"exclusiveMaximum", JS_KW_EXCL_MAXIMUM},
        {"multipleOf", JS_KW_MULTIPLE_OF}};
    for (size_t i = 0; val && i < sizeof nums / sizeof nums[0]; i++) {
        if (!(x = json_obj_get(v, nums[i].name)))
            continue;
        KW(nums[i].kind, nums[i].name);
        if (x->type != JSON_NUMBER)
            return bad(cc, kw->loc, "%s must be a number, found %s",
                       nums[i].name, x);
        if (nums[i].kind == JS_KW_MULTIPLE_OF && !is_positive(x))
            return bad(cc, kw->loc, "%s must be greater than 0, found %s",
                       "multipleOf", x);
        kw->u.value = x;
    }
    static const struct { const char *name; js_kw_kind kind; } counts[] = {
        {"minLength", JS_KW_MIN_LENGTH}, {"maxLength", JS_KW_MAX_LENGTH},
        {"minItems", JS_KW_MIN_ITEMS}, {"maxItems", JS_KW_MAX_ITEMS}};
    for (size_t i = 0; val && i < sizeof counts / sizeof counts[0]; i++) {
        if (!(x = json_obj_get(v, counts[i].name)))
            continue;
        KW(counts[i].kind, counts[i].name);
        if (!is_nonneg_int(x))
            return bad(cc, kw->loc, "%s must be a non-negative integer, found %s",
                       counts[i].name, x);
        kw->u.count = count_of(x);
    }
    if (val && (x = json_obj_get(v, "pattern"))) {
        KW(JS_KW_PATTERN, "pattern");
        if ((rc = add_regex(cc, x, kw->loc, &kw->u.re)))
            return rc;
    }
    /* counts[] above are in enum order except these two halves */
    if (val && (x = json_obj_get(v, "uniqueItems"))) {
        if (x->type != JSON_TRUE && x->type != JSON_FALSE)
            return bad(cc, kwloc(cc, n, "uniqueItems"),
                       "%s must be a boolean, found %s", "uniqueItems", x);
        if (x->type == JSON_TRUE) {
            KW(JS_KW_UNIQUE_ITEMS, "uniqueItems");
        }
    }
    size_t n_prefix = 0;
    if (app && (x = json_obj_get(v, "prefixItems"))) {
        KW(JS_KW_PREFIX_ITEMS, "prefixItems");
        if ((rc = schema_list(cc, x, "prefixItems", kw->loc, &kw->u.list.v,
                              &kw->u.list.n)))
            return rc;
        n_prefix = kw->u.list.n;
    }
    if (app && (x = json_obj_get(v, "items"))) {
        KW(JS_KW_ITEMS, "items");
        if (x->type == JSON_ARRAY)
            return bad(cc, kw->loc, "%s must be a schema in draft 2020-12 (an "
                       "array form is prefixItems), found %s", "items", x);
        NODE_OR_FAIL(kw->u.items.node, x, kw->loc);
        kw->u.items.start = n_prefix;
    }
    if (app && (x = json_obj_get(v, "contains"))) {
        KW(JS_KW_CONTAINS, "contains");
        NODE_OR_FAIL(kw->u.contains.node, x, kw->loc);
        kw->u.contains.min = 1;
        const json_value *mn = val ? json_obj_get(v, "minContains") : NULL;
        const json_value *mx = val ? json_obj_get(v, "maxContains") : NULL;
        if (mn && !is_nonneg_int(mn))
            return bad(cc, kwloc(cc, n, "minContains"),
                       "%s must be a non-negative integer, found %s",
                       "minContains", mn);
        if (mx && !is_nonneg_int(mx))
            return bad(cc, kwloc(cc, n, "maxContains"),
                       "%s must be a non-negative integer, found %s",
                       "maxContains", mx);
        if (mn)
            kw->u.contains.min = count_of(mn);
        if (mx) {
            kw->u.contains.max = count_of(mx);
            kw->u.contains.has_max = 1;
        }
    }
    static const struct { const char *name; js_kw_kind kind; } pcounts[] = {
        {"minProperties", JS_KW_MIN_PROPERTIES},
        {"maxProperties", JS_KW_MAX_PROPERTIES}};
    for (size_t i = 0; val && i < 2; i++) {
        if (!(x = json_obj_get(v, pcounts[i].name)))
            continue;
        KW(pcounts[i].kind, pcounts[i].name);
        if (!is_nonneg_int(x))
            return bad(cc, kw->loc, "%s must be a non-negative integer, found %s",
                       pcounts[i].name, x);
        kw->u.count = count_of(x);
    }
    if (val && (x = json_obj_get(v, "required"))) {
        KW(JS_KW_REQUIRED, "required");
        if (x->type != JSON_ARRAY)
            return bad(cc, kw->loc, "%s must be an array of strings, found %s",
                       "required", x);
        for (size_t i = 0; i < x->u.arr.n; i++)
            if (x->u.arr.items[i]->type != JSON_STRING)
                return bad(cc, kw->loc, "%s must be an array of strings, found %s",
                           "required", x->u.arr.items[i]);
        kw->u.value = x;
    }
    if (val && (x = json_obj_get(v, "dependentRequired"))) {
        KW(JS_KW_DEPENDENT_REQUIRED, "dependentRequired");
        if (x->type != JSON_OBJECT)
            return bad(cc, kw->loc, "%s must be an object of string arrays, "
                       "found %s", "dependentRequired", x);
        js_dep_req *d = js_alloc(cc->s, x->u.obj.n * sizeof *d);
        if (!d)
            return kk_err_set(cc->err, KK_E_NOMEM, "schema: out of memory");
        for (size_t i = 0; i < x->u.obj.n; i++) {
            const json_value *a = x->u.obj.members[i].value;
            if (a->type != JSON_ARRAY)
                return bad(cc, kw->loc, "%s values must be arrays of strings, "
                           "found %s", "dependentRequired", a);
            for (size_t k = 0; k < a->u.arr.n; k++)
                if (a->u.arr.items[k]->type != JSON_STRING)
                    return bad(cc, kw->loc, "%s values must be arrays of "
                               "strings, found %s", "dependentRequired",
                               a->u.arr.items[k]);
            d[i].key = x->u.obj.members[i].key;
            d[i].len = x->u.obj.members[i].key_len;
            d[i].names = a;
        }
        kw->u.dep_req.v = d;
        kw->u.dep_req.n = x->u.obj.n;
    }
    if (app && (json_obj_get(v, "properties") ||
                json_obj_get(v, "patternProperties") ||
                json_obj_get(v, "additionalProperties"))) {
        js_kw *kw = &kws[nk++];
        kw->kind = JS_KW_PROPS;
        if ((rc = compile_props(cc, n, v, kw)))
            return rc;
    }
    if (app && (x = json_obj_get(v, "propertyNames"))) {
        KW(JS_KW_PROPERTY_NAMES, "propertyNames");
        NODE_OR_FAIL(kw->u.node, x, kw->loc);
    }
    if (app && (x = json_obj_get(v, "dependentSchemas"))) {
        KW(JS_KW_DEPENDENT_SCHEMAS, "dependentSchemas");
        if (x->type != JSON_OBJECT)
            return bad(cc, kw->loc, "%s must be an object of schemas, found %s",
                       "dependentSchemas", x);
        js_prop *d = js_alloc(cc->s, x->u.obj.n * sizeof *d);
        if (!d)
            return kk_err_set(cc->err, KK_E_NOMEM, "schema: out of memory");
        for (size_t i = 0; i < x->u.obj.n; i++) {
            d[i].key = x->u.obj.members[i].key;
            d[i].len = x->u.obj.members[i].key_len;
            NODE_OR_FAIL(d[i].node, x->u.obj.members[i].value, kw->loc);
        }
        kw->u.dep_schemas.v = d;
        kw->u.dep_schemas.n = x->u.obj.n;
    }
    static const struct { const char *name; js_kw_kind kind; } lists[] = {
        {"allOf", JS_KW_ALL_OF}, {"anyOf", JS_KW_ANY_OF}, {"oneOf", JS_KW_ONE_OF}};
    for (size_t i = 0; app && i < 3; i++) {
        if (!(x = json_obj_get(v, lists[i].name)))
            continue;
        KW(lists[i].kind, lists[i].name);
        if ((rc = schema_list(cc, x, lists[i].name, kw->loc, &kw->u.list.v,
                              &kw->u.list.n)))
            return rc;
    }
    if (app && (x = json_obj_get(v, "not"))) {
        KW(JS_KW_NOT, "not");
        NODE_OR_FAIL(kw->u.node, x, kw->loc);
    }
    if (app && (x = json_obj_get(v, "if"))) {
        KW(JS_KW_IF, "if");
        NODE_OR_FAIL(kw->u.cond.if_, x, kw->loc);
        kw->u.cond.loc_then = kwloc(cc, n, "then");
        kw->u.cond.loc_else = kwloc(cc, n, "else");
        if (!kw->u.cond.loc_then || !kw->u.cond.loc_else)
            return kk_err_set(cc->err, KK_E_NOMEM, "schema: out of memory");
        if ((x = json_obj_get(v, "then")))
            NODE_OR_FAIL(kw->u.cond.then_, x, kw->u.cond.loc_then);
        if ((x = json_obj_get(v, "else")))
            NODE_OR_FAIL(kw->u.cond.else_, x, kw->u.cond.loc_else);
    }
    if ((x = json_obj_get(v, "$ref"))) {
        KW(JS_KW_REF, "$ref");
        if (x->type != JSON_STRING)
            return bad(cc, kw->loc, "%s must be a string, found %s", "$ref", x);
        const json_value *t;
        if ((rc = js_resolve_ref(cc, info->base, x->u.str.s, kw->loc, &t, NULL)))
            return rc;
        NODE_OR_FAIL(kw->u.node, t, kw->loc);
    }
    if ((x = json_obj_get(v, "$dynamicRef"))) {
        KW(JS_KW_DYNAMIC_REF, "$dynamicRef");
        if (x->type != JSON_STRING)
            return bad(cc, kw->loc, "%s must be a string, found %s",
                       "$dynamicRef", x);
        const json_value *t;
        const char *frag = NULL;
        if ((rc = js_resolve_ref(cc, info->base, x->u.str.s, kw->loc, &t, &frag)))
            return rc;
        NODE_OR_FAIL(kw->u.dyn.target, t, kw->loc);
        /* Dynamic only when the initial target is itself a $dynamicAnchor
         * of that name (2020-12 core section 8.2.3.2, "bookending"). */
        js_resource *r = kw->u.dyn.target->res;
        kw->u.dyn.name = NULL;
        if (frag && frag[0] && frag[0] != '/')
            for (size_t i = 0; i < r->n_dyn; i++)
                if (strcmp(r->dyn[i].name, frag) == 0 && r->dyn[i].value == t)
                    kw->u.dyn.name = frag;
    }
    if (unev && (x = json_obj_get(v, "unevaluatedItems"))) {
        KW(JS_KW_UNEVAL_ITEMS, "unevaluatedItems");
        NODE_OR_FAIL(kw->u.node, x, kw->loc);
    }
    if (unev && (x = json_obj_get(v, "unevaluatedProperties"))) {
        KW(JS_KW_UNEVAL_PROPS, "unevaluatedProperties");
        NODE_OR_FAIL(kw->u.node, x, kw->loc);
    }
#undef KW
    n->kws = js_alloc(cc->s, nk * sizeof *n->kws);
    if (!n->kws)
        return kk_err_set(cc->err, KK_E_NOMEM, "schema: out of memory");
    memcpy(n->kws, kws, nk * sizeof *kws);
    n->n_kws = nk;
    n->compiled = 1;
    return KK_OK;
}

void js_schema_free(js_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_allocs; i++)
        free(s->allocs[i]);
    free(s->allocs);
    for (size_t i = 0; i < s->n_regexes; i++)
        js_regex_free(s->regexes[i]);
    free(s->regexes);
    for (size_t i = 0; i < s->n_resources; i++) {
        free(s->resources[i]->uri);
        free(s->resources[i]->dyn);
        free(s->resources[i]->doc_uri);
        free(s->resources[i]);
    }
    free(s->resources);
    free(s);
}

kk_code js_compile(const json_value *schema, const char *base_uri,
                   js_registry *reg, js_schema **out, kk_err *err)
{
    kk_err local;
    if (!err) {
        kk_err_clear(&local);
        err = &local;
    }
    *out = NULL;
    if (!schema)
        return kk_err_set(err, KK_E_USAGE, "js_compile: NULL schema");
    js_schema *s = calloc(1, sizeof *s);
    if (!s)
        return kk_err_set(err, KK_E_NOMEM, "schema: out of memory");
    s->max_steps = JS_DEFAULT_MAX_STEPS;
    s->max_depth = JS_MAX_EVAL_DEPTH;
    js_cctx cc = {.s = s, .reg = reg, .err = err};
    kk_code rc = js_index_document(&cc, schema, base_uri ? base_uri : "", "");
    if (rc == KK_OK) {
        s->root = js_node_get(&cc, schema, "");
        if (!s->root)
            rc = err->code ? err->code : KK_E_FORMAT;
    }
    while (rc == KK_OK && cc.n_work > 0) {
        js_node *n = cc.work[--cc.n_work];
        rc = compile_node(&cc, n);
    }
    js_pmap_free(&cc.info, free);
    js_smap_free(&cc.uris, NULL);
    js_smap_free(&cc.anchors, NULL);
    free(cc.work);
    if (rc) {
        js_schema_free(s);
        return rc;
    }
    *out = s;
    return KK_OK;
}

kk_code js_schema_set_limits(js_schema *s, uint64_t max_steps, size_t max_depth)
{
    if (!s)
        return KK_E_USAGE;
    if (max_steps)
        s->max_steps = max_steps;
    if (max_depth)
        s->max_depth = max_depth < JS_MAX_EVAL_DEPTH ? max_depth
                                                      : JS_MAX_EVAL_DEPTH;
    return KK_OK;
}
