/*
 * js_validate: evaluates a compiled schema (js_compile.c) against an
 * instance. JSON Schema 2020-12 core section 7 (evaluation), 10 (applicators),
 * 11 (unevaluated*); validation vocabulary section 6.
 *
 * Speed: the common path allocates nothing. Errors are formatted only when
 * the caller asked for them (res != NULL); without res evaluation stops at
 * the first failing keyword. Annotations (which properties / items were
 * evaluated) are collected only below a node that has unevaluatedProperties
 * or unevaluatedItems: such a node allocates one bit per member or item and
 * passes it down through in-place applicators ($ref, allOf, ...); branches
 * that fail (anyOf, oneOf, if, contains, not) get a scratch set that is
 * merged only when they pass, so failed branches' annotations are dropped.
 *
 * Limits: every node evaluation and regex step counts against max_steps, and
 * nesting against max_depth, so {"$ref": "#"} or an exponential anyOf ends
 * with KK_E_LIMIT instead of a stack overflow or a hang.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "js_internal.h"

typedef struct path_el {
    const char *key; /* NULL: array index */
    size_t len;      /* key length or index */
} path_el;

typedef struct evset { /* evaluated members/items of the current instance */
    unsigned char *bit;
    size_t n;
} evset;

typedef struct vctx {
    const js_schema *s;
    js_result *res;   /* NULL: no messages wanted */
    kk_err *err;
    uint64_t steps, max_steps;
    size_t depth, max_depth;
    path_el *path;
    size_t n_path;
    const js_resource **scope; /* dynamic scope, outermost first */
    size_t n_scope;
    js_regex_scratch rx;
    size_t cap_errors;
} vctx;

#define STOP (-1)

static int eval(vctx *c, const js_node *n, const json_value *inst, evset *ev);

/* ---- messages ------------------------------------------------------------------ */
void js_describe(const json_value *v, char *buf, size_t cap)
{
    switch (v->type) {
    case JSON_NULL: snprintf(buf, cap, "null"); break;
    case JSON_TRUE: snprintf(buf, cap, "boolean true"); break;
    case JSON_FALSE: snprintf(buf, cap, "boolean false"); break;
    case JSON_NUMBER: {
        int n = v->u.num.len > 40 ? 40 : (int)v->u.num.len;
        snprintf(buf, cap, "%s %.*s%s", v->u.num.is_int ? "integer" : "number",
                 n, v->u.num.text, v->u.num.len > 40 ? "..." : "");
        break;
    }
    case JSON_STRING: {
        /* printable ASCII kept, the rest escaped, at most 40 bytes */
        size_t o = 0;
        o += (size_t)snprintf(buf, cap, "string \"");
        for (size_t i = 0; i < v->u.str.len && i < 40 && o + 8 < cap; i++) {
            unsigned char ch = (unsigned char)v->u.str.s[i];
            if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
                buf[o++] = (char)ch;
            else
                o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
        }
        if (o + 5 < cap)
            o += (size_t)snprintf(buf + o, cap - o, "%s\"",
                                  v->u.str.len > 40 ? "..." : "");
        break;
    }
    case JSON_ARRAY: snprintf(buf, cap, "array of %zu items", v->u.arr.n); break;
    case JSON_OBJECT:
        snprintf(buf, cap, "object with %zu properties", v->u.obj.n);
        break;
    }
}

static char *path_string(const vctx *c)
{
    size_t n = 1;
    for (size_t i = 0; i < c->n_path; i++)
        n += c->path[i].key ? 1 + 2 * c->path[i].len : 22;
    char *p = malloc(n);
    if (!p)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < c->n_path; i++) {
        p[o++] = '/';
        if (!c->path[i].key) {
            o += (size_t)snprintf(p + o, n - o, "%zu", c->path[i].len);
            continue;
        }
        for (size_t k = 0; k < c->path[i].len; k++) {
            char ch = c->path[i].key[k];
            if (ch == '~' || ch == '/') {
                p[o++] = '~';
                p[o++] = ch == '~' ? '0' : '1';
            } else {
                p[o++] = ch;
            }
        }
    }
    p[o] = '\0';
    return p;
}

/* Record an error (only when the caller wants messages). @return 0 or STOP
 * on allocation failure. */
static int fail_at(vctx *c, const char *loc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int fail_at(vctx *c, const char *loc, const char *fmt, ...)
{
    js_result *r = c->res;
    if (!r || r->n_errors >= JS_MAX_ERRORS)
        return 0;
    if (r->n_errors == c->cap_errors) {
        size_t nc = c->cap_errors ? c->cap_errors * 2 : 8;
        js_error *ne = realloc(r->errors, nc * sizeof *ne);
        if (!ne)
            goto oom;
        r->errors = ne;
        c->cap_errors = nc;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    js_error *e = &r->errors[r->n_errors];
    e->instance_ptr = path_string(c);
    e->schema_ptr = strdup(loc);
    e->message = strdup(msg);
    if (!e->instance_ptr || !e->schema_ptr || !e->message) {
        free(e->instance_ptr);
        free(e->schema_ptr);
        free(e->message);
        goto oom;
    }
    r->n_errors++;
    return 0;
oom:
    kk_err_set(c->err, KK_E_NOMEM, "validate: out of memory");
    return STOP;
}

/* ---- annotation sets ------------------------------------------------------------------ */
static int ev_init(vctx *c, evset *e, size_t n)
{
    e->n = n;
    e->bit = calloc(n ? n : 1, 1);
    if (!e->bit) {
        kk_err_set(c->err, KK_E_NOMEM, "validate: out of memory");
        return STOP;
    }
    return 0;
}

static void ev_merge(evset *dst, const evset *src)
{
    if (!dst)
        return;
    for (size_t i = 0; i < dst->n && i < src->n; i++)
        dst->bit[i] |= src->bit[i];
}

static inline void ev_mark(evset *e, size_t i)
{
    if (e && i < e->n)
        e->bit[i] = 1;
}

static inline size_t inst_size(const json_value *v)
{
    return v->type == JSON_OBJECT ? v->u.obj.n
         : v->type == JSON_ARRAY ? v->u.arr.n : 0;
}

/* Evaluate a branch whose failure must not fail (or annotate) the caller:
 * messages are suppressed and annotations go to a scratch set, merged into
 * ev only on success when merge is set. */
static int eval_branch(vctx *c, const js_node *n, const json_value *inst,
                       evset *ev, int merge)
{
    js_result *saved = c->res;
    c->res = NULL;
    int r;
    if (ev && merge) {
        evset tmp;
        if (ev_init(c, &tmp, ev->n) < 0) {
            c->res = saved;
            return STOP;
        }
        r = eval(c, n, inst, &tmp);
        if (r == 1)
            ev_merge(ev, &tmp);
        free(tmp.bit);
    } else {
        r = eval(c, n, inst, NULL);
    }
    c->res = saved;
    return r;
}

static inline int child(vctx *c, const js_node *n, const json_value *inst,
                        const char *key, size_t len)
{
    c->path[c->n_path].key = key;
    c->path[c->n_path].len = len;
    c->n_path++;
    int r = eval(c, n, inst, NULL);
    c->n_path--;
    return r;
}

/* ---- uniqueItems ------------------------------------------------------------------ */
/* A structural hash consistent with json_equal: numbers hash by their exact
 * decimal (1, 1.0 and 1e0 alike), objects independently of member order. */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t hash_value(const json_value *v, int depth)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)v->type;
    if (depth > 64)
        return h; /* deeper levels are left to json_equal */
    switch (v->type) {
    case JSON_NUMBER: {
        char buf[64];
        json_decimal d;
        if (v->u.num.len < sizeof buf &&
            json_num_decimal(v, &d, buf, sizeof buf) == 0) {
            h = hash_bytes(h, &d.neg, sizeof d.neg);
            h = hash_bytes(h, d.digits, d.n_digits);
            h = hash_bytes(h, &d.exp10, sizeof d.exp10);
        }
        return h;
    }
    case JSON_STRING:
        return hash_bytes(h, v->u.str.s, v->u.str.len);
    case JSON_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++) {
            uint64_t e = hash_value(v->u.arr.items[i], depth + 1);
            h = hash_bytes(h, &e, sizeof e);
        }
        return h;
    case JSON_OBJECT: {
        uint64_t sum = 0;
        for (size_t i = 0; i < v->u.obj.n; i++) {
            const json_member *m = &v->u.obj.members[i];
            uint64_t k = hash_bytes(1469598103934665603ull, m->key, m->key_len);
            sum += k * 31 + hash_value(m->value, depth + 1) * 0x9E3779B97F4A7C15ull;
        }
        return hash_bytes(h, &sum, sizeof sum);
    }
    default:
        return h;
    }
}

typedef struct hidx {
    uint64_t h;
    size_t i;
} hidx;

static int hidx_cmp(const void *pa, const void *pb)
{
    const hidx *a = pa, *b = pb;
    if (a->h != b->h)
        return a->h < b->h ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* @return 1 unique, 0 (the first equal pair in *da, *db), or STOP */
static int unique_items(vctx *c, const json_value *a, size_t *da, size_t *db)
{
    size_t n = a->u.arr.n;
    if (n <= 16) {
        c->steps += n * n / 2;
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (json_equal(a->u.arr.items[i], a->u.arr.items[j])) {
                    *da = i;
                    *db = j;
                    return 0;
                }
        return 1;
    }
    hidx *h = malloc(n * sizeof *h);
    if (!h) {
        kk_err_set(c->err, KK_E_NOMEM, "validate: out of memory");
        return STOP;
    }
    for (size_t i = 0; i < n; i++) {
        h[i].h = hash_value(a->u.arr.items[i], 0);
        h[i].i = i;
    }
    qsort(h, n, sizeof *h, hidx_cmp);
    int r = 1;
    for (size_t i = 0; i < n && r == 1; i++)
        for (size_t j = i + 1; j < n && h[j].h == h[i].h; j++) {
            if (++c->steps > c->max_steps) {
                r = STOP;
                kk_err_set(c->err, KK_E_LIMIT, "validate: work limit reached "
                           "(uniqueItems)");
                break;
            }
            if (json_equal(a->u.arr.items[h[i].i], a->u.arr.items[h[j].i])) {
                *da = h[i].i;
                *db = h[j].i;
                r = 0;
                break;
            }
        }
    free(h);
    return r;
}

/* ---- keywords ------------------------------------------------------------------ */
static int type_ok(unsigned mask, const json_value *v)
{
    switch (v->type) {
    case JSON_NULL: return (mask & JS_T_NULL) != 0;
    case JSON_TRUE: case JSON_FALSE: return (mask & JS_T_BOOLEAN) != 0;
    case JSON_NUMBER:
        return (mask & JS_T_NUMBER) || ((mask & JS_T_INTEGER) && v->u.num.is_int);
    case JSON_STRING: return (mask & JS_T_STRING) != 0;
    case JSON_ARRAY: return (mask & JS_T_ARRAY) != 0;
    case JSON_OBJECT: return (mask & JS_T_OBJECT) != 0;
    }
    return 0;
}

static void type_list(unsigned mask, char *buf, size_t cap)
{
    static const char *const n[] = {"null", "boolean", "object", "array",
                                    "number", "string", "integer"};
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < 7; i++)
        if (mask & (1u << i))
            o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%s%s",
                                  o ? " or " : "", n[i]);
}

static int regex_match(vctx *c, const js_regex *re, const char *s, size_t len)
{
    int r = js_regex_search(re, s, len, &c->rx, &c->steps, c->max_steps);
    if (r == -1) {
        kk_err_set(c->err, KK_E_LIMIT, "validate: work limit of %llu steps "
                   "reached in a regular expression",
                   (unsigned long long)c->max_steps);
        return STOP;
    }
    if (r == -2) {
        kk_err_set(c->err, KK_E_NOMEM, "validate: out of memory");
        return STOP;
    }
    return r;
}

static const js_prop *find_prop(const js_prop *p, size_t n, const char *key,
                                size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = p[mid].len != len ? (p[mid].len < len ? -1 : 1)
                                    : memcmp(p[mid].key, key, len);
        if (cmp == 0)
            return &p[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

#define FAIL(...)                                                             \
    do {                                                                      \
        if (fail_at(c, kw->loc, __VA_ARGS__) < 0)                             \
            return STOP;                                                      \
        return 0;                                                             \
    } while (0)

/* Instance-type-independent and numeric/string/array/object assertions. */
static int eval_kw(vctx *c, const js_kw *kw, const json_value *inst, evset *ev)
{
    char d[96], e[96];
    int r, ok = 1;
    switch (kw->kind) {
    case JS_KW_TYPE:
        if (type_ok(kw->u.type_mask, inst))
            return 1;
        if (!c->res)
            return 0;
        type_list(kw->u.type_mask, e, sizeof e);
        js_describe(inst, d, sizeof d);
        FAIL("expected %s, found %s", e, d);
    case JS_KW_ENUM:
        for (size_t i = 0; i < kw->u.value->u.arr.n; i++)
            if (json_equal(kw->u.value->u.arr.items[i], inst))
                return 1;
        if (!c->res)
            return 0;
        js_describe(inst, d, sizeof d);
        FAIL("expected one of the %zu enum values, found %s",
             kw->u.value->u.arr.n, d);
    case JS_KW_CONST:
        if (json_equal(kw->u.value, inst))
            return 1;
        if (!c->res)
            return 0;
        js_describe(kw->u.value, e, sizeof e);
        js_describe(inst, d, sizeof d);
        FAIL("expected the constant %s, found %s", e, d);
    case JS_KW_MINIMUM: case JS_KW_MAXIMUM:
    case JS_KW_EXCL_MINIMUM: case JS_KW_EXCL_MAXIMUM: {
        if (inst->type != JSON_NUMBER)
            return 1;
        int cmp = json_num_cmp(inst, kw->u.value);
        const char *op;
        switch (kw->kind) {
        case JS_KW_MINIMUM: ok = cmp >= 0; op = ">="; break;
        case JS_KW_MAXIMUM: ok = cmp <= 0; op = "<="; break;
        case JS_KW_EXCL_MINIMUM: ok = cmp > 0; op = ">"; break;
        default: ok = cmp < 0; op = "<"; break;
        }
        if (ok)
            return 1;
        if (!c->res)
            return 0;
        FAIL("expected a number %s %.*s, found %.*s", op,
             (int)kw->u.value->u.num.len, kw->u.value->u.num.text,
             (int)(inst->u.num.len > 60 ? 60 : inst->u.num.len),
             inst->u.num.text);
    }
    case JS_KW_MULTIPLE_OF:
        if (inst->type != JSON_NUMBER)
            return 1;
        r = js_num_multiple_of(inst, kw->u.value);
        if (r < 0) {
            kk_err_set(c->err, KK_E_LIMIT, "validate: multipleOf %.*s on %.40s "
                       "needs more exact arithmetic than allowed",
                       (int)kw->u.value->u.num.len, kw->u.value->u.num.text,
                       inst->u.num.text);
            return STOP;
        }
        if (r)
            return 1;
        FAIL("expected a multiple of %.*s, found %.*s",
             (int)kw->u.value->u.num.len, kw->u.value->u.num.text,
             (int)(inst->u.num.len > 60 ? 60 : inst->u.num.len),
             inst->u.num.text);
    case JS_KW_MIN_LENGTH: case JS_KW_MAX_LENGTH: {
        if (inst->type != JSON_STRING)
            return 1;
        size_t n = inst->u.str.len;
        /* byte length bounds the code point count from above, and from
         * below by len / 4: skip the count when that decides */
        if (kw->kind == JS_KW_MIN_LENGTH) {
            if (n / 4 >= kw->u.count)
                return 1;
            n = json_utf8_count(inst->u.str.s, inst->u.str.len);
            ok = n >= kw->u.count;
        } else {
            if (n <= kw->u.count)
                return 1;
            n = json_utf8_count(inst->u.str.s, inst->u.str.len);
            ok = n <= kw->u.count;
        }
        if (ok)
            return 1;
        FAIL("expected a string of %s %llu characters, found %zu",
             kw->kind == JS_KW_MIN_LENGTH ? "at least" : "at most",
             (unsigned long long)kw->u.count, n);
    }
    case JS_KW_PATTERN:
        if (inst->type != JSON_STRING)
            return 1;
        r = regex_match(c, kw->u.re, inst->u.str.s, inst->u.str.len);
        if (r != 0)
            return r;
        if (!c->res)
            return 0;
        js_describe(inst, d, sizeof d);
        FAIL("expected a string matching the pattern, found %s", d);
    case JS_KW_MIN_ITEMS: case JS_KW_MAX_ITEMS:
        if (inst->type != JSON_ARRAY)
            return 1;
        ok = kw->kind == JS_KW_MIN_ITEMS ? inst->u.arr.n >= kw->u.count
                                         : inst->u.arr.n <= kw->u.count;
        if (ok)
            return 1;
        FAIL("expected %s %llu items, found %zu",
             kw->kind == JS_KW_MIN_ITEMS ? "at least" : "at most",
             (unsigned long long)kw->u.count, inst->u.arr.n);
    case JS_KW_UNIQUE_ITEMS: {
        if (inst->type != JSON_ARRAY)
            return 1;
        size_t da = 0, db = 0;
        r = unique_items(c, inst, &da, &db);
        if (r != 0)
            return r;
        FAIL("expected unique items, found items %zu and %zu equal", da, db);
    }
    case JS_KW_MIN_PROPERTIES: case JS_KW_MAX_PROPERTIES:
        if (inst->type != JSON_OBJECT)
            return 1;
        ok = kw->kind == JS_KW_MIN_PROPERTIES ? inst->u.obj.n >= kw->u.count
                                              : inst->u.obj.n <= kw->u.count;
        if (ok)
            return 1;
        FAIL("expected %s %llu properties, found %zu",
             kw->kind == JS_KW_MIN_PROPERTIES ? "at least" : "at most",
             (unsigned long long)kw->u.count, inst->u.obj.n);
    case JS_KW_REQUIRED:
        if (inst->type != JSON_OBJECT)
            return 1;
        for (size_t i = 0; i < kw->u.value->u.arr.n; i++) {
            const json_value *k = kw->u.value->u.arr.items[i];
            if (json_obj_getn(inst, k->u.str.s, k->u.str.len))
                continue;
            ok = 0;
            if (!c->res)
                return 0;
            js_describe(k, d, sizeof d);
            if (fail_at(c, kw->loc, "expected required property %s, found it "
                        "missing", d + 7) < 0)
                return STOP;
        }
        return ok;
    case JS_KW_DEPENDENT_REQUIRED:
        if (inst->type != JSON_OBJECT)
            return 1;
        for (size_t i = 0; i < kw->u.dep_req.n; i++) {
            const js_dep_req *dr = &kw->u.dep_req.v[i];
            if (!json_obj_getn(inst, dr->key, dr->len))
                continue;
            for (size_t k = 0; k < dr->names->u.arr.n; k++) {
                const json_value *nm = dr->names->u.arr.items[k];
                if (json_obj_getn(inst, nm->u.str.s, nm->u.str.len))
                    continue;
                ok = 0;
                if (!c->res)
                    return 0;
                js_describe(nm, d, sizeof d);
                if (fail_at(c, kw->loc, "expected property %s (required when "
                            "\"%.*s\" is present), found it missing", d + 7,
                            (int)(dr->len > 60 ? 60 : dr->len), dr->key) < 0)
                    return STOP;
            }
        }
        return ok;
    default:
        break;
    }
    (void)ev;
    return 1;
}

/* Applicators on arrays. */
static int eval_array_kw(vctx *c, const js_kw *kw, const json_value *inst,
                         evset *ev)
{
    size_t n = inst->u.arr.n;
    int ok = 1, r;
    switch (kw->kind) {
    case JS_KW_PREFIX_ITEMS:
        for (size_t i = 0; i < n && i < kw->u.list.n; i++) {
            r = child(c, kw->u.list.v[i], inst->u.arr.items[i], NULL, i);
            if (r < 0)
                return r;
            ev_mark(ev, i);
            if (!r) {
                ok = 0;
                if (!c->res)
                    return 0;
            }
        }
        return ok;
    case JS_KW_ITEMS:
    case JS_KW_UNEVAL_ITEMS:
        for (size_t i = kw->kind == JS_KW_ITEMS ? kw->u.items.start : 0; i < n;
             i++) {
            if (kw->kind == JS_KW_UNEVAL_ITEMS && ev->bit[i])
                continue;
            r = child(c, kw->kind == JS_KW_ITEMS ? kw->u.items.node : kw->u.node,
                      inst->u.arr.items[i], NULL, i);
            if (r < 0)
                return r;
            if (!r) {
                ok = 0;
                if (!c->res)
                    return 0;
            }
        }
        if (ok && ev)
            for (size_t i = 0; i < n; i++)
                if (kw->kind == JS_KW_UNEVAL_ITEMS || i >= kw->u.items.start)
                    ev->bit[i] = 1;
        return ok;
    case JS_KW_CONTAINS: {
        uint64_t hits = 0;
        for (size_t i = 0; i < n; i++) {
            c->path[c->n_path].key = NULL;
            c->path[c->n_path].len = i;
            c->n_path++;
            r = eval_branch(c, kw->u.contains.node, inst->u.arr.items[i], NULL, 0);
            c->n_path--;
            if (r < 0)
                return r;
            if (r) {
                hits++;
                ev_mark(ev, i);
                /* without annotations or a maximum, enough is enough */
                if (!ev && !kw->u.contains.has_max && hits >= kw->u.contains.min)
                    return 1;
            }
        }
        if (hits >= kw->u.contains.min &&
            (!kw->u.contains.has_max || hits <= kw->u.contains.max))
            return 1;
        if (hits < kw->u.contains.min) {
            if (fail_at(c, kw->loc, "expected at least %llu items matching "
                        "\"contains\", found %llu",
                        (unsigned long long)kw->u.contains.min,
                        (unsigned long long)hits) < 0)
                return STOP;
        } else if (fail_at(c, kw->loc, "expected at most %llu items matching "
                           "\"contains\" (maxContains), found %llu",
                           (unsigned long long)kw->u.contains.max,
                           (unsigned long long)hits) < 0) {
            return STOP;
        }
        return 0;
    }
    default:
        return 1;
    }
}

/* Applicators on objects. */
static int eval_object_kw(vctx *c, const js_kw *kw, const json_value *inst,
                          evset *ev)
{
    size_t n = inst->u.obj.n;
    int ok = 1, r;
    switch (kw->kind) {
    case JS_KW_PROPS:
        for (size_t i = 0; i < n; i++) {
            const json_member *m = &inst->u.obj.members[i];
            int matched = 0;
            const js_prop *p = find_prop(kw->u.props.props, kw->u.props.n_props,
                                         m->key, m->key_len);
            if (p) {
                matched = 1;
                r = child(c, p->node, m->value, m->key, m->key_len);
                if (r < 0)
                    return r;
                if (!r) {
                    ok = 0;
                    if (!c->res)
                        return 0;
                }
            }
            for (size_t k = 0; k < kw->u.props.n_pats; k++) {
                r = regex_match(c, kw->u.props.pats[k].re, m->key, m->key_len);
                if (r < 0)
                    return r;
                if (!r)
                    continue;
                matched = 1;
                r = child(c, kw->u.props.pats[k].node, m->value, m->key,
                          m->key_len);
                if (r < 0)
                    return r;
                if (!r) {
                    ok = 0;
                    if (!c->res)
                        return 0;
                }
            }
            if (!matched && kw->u.props.additional) {
                matched = 1;
                r = child(c, kw->u.props.additional, m->value, m->key,
                          m->key_len);
                if (r < 0)
                    return r;
                if (!r) {
                    ok = 0;
                    if (!c->res)
                        return 0;
                }
            }
            if (matched)
                ev_mark(ev, i);
        }
        return ok;
    case JS_KW_UNEVAL_PROPS:
        for (size_t i = 0; i < n; i++) {
            if (ev->bit[i])
                continue;
            const json_member *m = &inst->u.obj.members[i];
            r = child(c, kw->u.node, m->value, m->key, m->key_len);
            if (r < 0)
                return r;
            if (!r) {
                ok = 0;
                if (!c->res)
                    return 0;
            }
        }
        if (ok)
            memset(ev->bit, 1, n);
        return ok;
    case JS_KW_PROPERTY_NAMES:
        for (size_t i = 0; i < n; i++) {
            const json_member *m = &inst->u.obj.members[i];
            json_value key;
            memset(&key, 0, sizeof key);
            key.type = JSON_STRING;
            key.u.str.s = m->key;
            key.u.str.len = m->key_len;
            r = child(c, kw->u.node, &key, m->key, m->key_len);
            if (r < 0)
                return r;
            if (!r) {
                ok = 0;
                if (!c->res)
                    return 0;
            }
        }
        return ok;
    case JS_KW_DEPENDENT_SCHEMAS:
        for (size_t i = 0; i < kw->u.dep_schemas.n; i++) {
            const js_prop *d = &kw->u.dep_schemas.v[i];
            if (!json_obj_getn(inst, d->key, d->len))
                continue;
            r = eval(c, d->node, inst, ev);
            if (r < 0)
                return r;
            if (!r) {
                ok = 0;
                if (!c->res)
                    return 0;
            }
        }
        return ok;
    default:
        return 1;
    }
}

/* In-place applicators: the same instance, annotations flow into ev. */
static int eval_inplace_kw(vctx *c, const js_kw *kw, const json_value *inst,
                           evset *ev)
{
    int ok = 1, r;
    switch (kw->kind) {
    case JS_KW_ALL_OF:
        for (size_t i = 0; i < kw->u.list.n; i++) {
            r = eval(c, kw->u.list.v[i], inst, ev);
            if (r < 0)
                return r;
            if (!r) {
                ok = 0;
                if (!c->res)
                    return 0;
            }
        }
        return ok;
    case JS_KW_ANY_OF: {
        size_t hits = 0;
        for (size_t i = 0; i < kw->u.list.n; i++) {
            r = eval_branch(c, kw->u.list.v[i], inst, ev, 1);
            if (r < 0)
                return r;
            hits += (size_t)r;
            if (r && !ev) /* all passing branches annotate: go on if needed */
                return 1;
        }
        if (hits)
            return 1;
        FAIL("expected a value valid against at least one of %zu anyOf "
             "subschemas, found none", kw->u.list.n);
    }
    case JS_KW_ONE_OF: {
        size_t hits = 0, first = 0, second = 0;
        for (size_t i = 0; i < kw->u.list.n && hits < 2; i++) {
            r = eval_branch(c, kw->u.list.v[i], inst, NULL, 0);
            if (r < 0)
                return r;
            if (r) {
                if (!hits)
                    first = i;
                else
                    second = i;
                hits++;
            }
        }
        if (hits == 1) {
            /* collect the one branch's annotations */
            if (ev && eval_branch(c, kw->u.list.v[first], inst, ev, 1) < 0)
                return STOP;
            return 1;
        }
        if (hits == 0)
            FAIL("expected a value valid against exactly one of %zu oneOf "
                 "subschemas, found none", kw->u.list.n);
        FAIL("expected a value valid against exactly one of %zu oneOf "
             "subschemas, found subschemas %zu and %zu valid", kw->u.list.n,
             first, second);
    }
    case JS_KW_NOT:
        r = eval_branch(c, kw->u.node, inst, NULL, 0);
        if (r < 0)
            return r;
        if (!r)
            return 1;
        FAIL("expected a value invalid against the \"not\" subschema, found "
             "it valid");
    case JS_KW_IF:
        r = eval_branch(c, kw->u.cond.if_, inst, ev, 1);
        if (r < 0)
            return r;
        if (r && kw->u.cond.then_)
            return eval(c, kw->u.cond.then_, inst, ev);
        if (!r && kw->u.cond.else_)
            return eval(c, kw->u.cond.else_, inst, ev);
        return 1;
    case JS_KW_REF:
        return eval(c, kw->u.node, inst, ev);
    case JS_KW_DYNAMIC_REF: {
        const js_node *t = kw->u.dyn.target;
        if (kw->u.dyn.name) {
            /* 2020-12 core 8.2.3.2: the outermost resource in the dynamic
             * scope that defines this $dynamicAnchor wins */
            int found = 0;
            for (size_t i = 0; i < c->n_scope && !found; i++) {
                const js_resource *rs = c->scope[i];
                for (size_t k = 0; k < rs->n_dyn; k++)
                    if (strcmp(rs->dyn[k].name, kw->u.dyn.name) == 0 &&
                        rs->dyn[k].node) {
                        t = rs->dyn[k].node;
                        found = 1;
                        break;
                    }
            }
        }
        return eval(c, t, inst, ev);
    }
    default:
        return 1;
    }
}

static int eval(vctx *c, const js_node *n, const json_value *inst, evset *ev)
{
    if (n->boolean >= 0) {
        if (n->boolean)
            return 1;
        if (!c->res)
            return 0;
        char d[96];
        js_describe(inst, d, sizeof d);
        if (fail_at(c, n->loc, "expected nothing (the schema is false), "
                    "found %s", d) < 0)
            return STOP;
        return 0;
    }
    if (++c->steps > c->max_steps) {
        kk_err_set(c->err, KK_E_LIMIT, "validate: work limit of %llu steps "
                   "reached (a schema that branches exponentially?)",
                   (unsigned long long)c->max_steps);
        kk_err_where(c->err, n->loc);
        return STOP;
    }
    if (c->depth >= c->max_depth) {
        kk_err_set(c->err, KK_E_LIMIT, "validate: evaluation nested deeper "
                   "than %zu levels (a $ref cycle that never reaches deeper "
                   "into the instance?)", c->max_depth);
        kk_err_where(c->err, n->loc);
        return STOP;
    }
    c->depth++;
    int pushed = 0;
    if (c->n_scope == 0 || c->scope[c->n_scope - 1] != n->res) {
        c->scope[c->n_scope++] = n->res;
        pushed = 1;
    }
    evset local = {NULL, 0}, *cur = ev;
    int ok = 1, r = 1;
    /* A node with unevaluated* for this instance's type collects its other
     * keywords' annotations in its own set (unevaluated* sort last). */
    if (inst->type == JSON_OBJECT || inst->type == JSON_ARRAY) {
        int need = 0;
        for (size_t i = n->n_kws; i > 0 && n->kws[i - 1].kind >= JS_KW_UNEVAL_ITEMS;
             i--)
            need |= (n->kws[i - 1].kind == JS_KW_UNEVAL_ITEMS) ==
                    (inst->type == JSON_ARRAY);
        if (need) {
            if (ev_init(c, &local, inst_size(inst)) < 0) {
                r = STOP;
                goto out;
            }
            cur = &local;
        }
    }
    for (size_t i = 0; i < n->n_kws; i++) {
        const js_kw *kw = &n->kws[i];
        switch (kw->kind) {
        case JS_KW_PREFIX_ITEMS: case JS_KW_ITEMS: case JS_KW_CONTAINS:
            r = inst->type == JSON_ARRAY ? eval_array_kw(c, kw, inst, cur) : 1;
            break;
        case JS_KW_UNEVAL_ITEMS: case JS_KW_UNEVAL_PROPS:
            if ((kw->kind == JS_KW_UNEVAL_ITEMS) != (inst->type == JSON_ARRAY) ||
                (inst->type != JSON_ARRAY && inst->type != JSON_OBJECT))
                break;
            r = inst->type == JSON_ARRAY ? eval_array_kw(c, kw, inst, cur)
                                         : eval_object_kw(c, kw, inst, cur);
            break;
        case JS_KW_PROPS: case JS_KW_PROPERTY_NAMES: case JS_KW_DEPENDENT_SCHEMAS:
            r = inst->type == JSON_OBJECT ? eval_object_kw(c, kw, inst, cur) : 1;
            break;
        case JS_KW_ALL_OF: case JS_KW_ANY_OF: case JS_KW_ONE_OF: case JS_KW_NOT:
        case JS_KW_IF: case JS_KW_REF: case JS_KW_DYNAMIC_REF:
            r = eval_inplace_kw(c, kw, inst, cur);
            break;
        default:
            r = eval_kw(c, kw, inst, cur);
            break;
        }
        if (r < 0)
            break;
        if (!r) {
            ok = 0;
            if (!c->res)
                break;
        }
    }
    if (r >= 0 && ok && ev && cur != ev)
        ev_merge(ev, cur);
out:
    free(local.bit);
    if (pushed)
        c->n_scope--;
    c->depth--;
    return r < 0 ? STOP : ok;
}

/* ---- entry points ------------------------------------------------------------------ */
void js_result_free(js_result *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->n_errors; i++) {
        free(res->errors[i].instance_ptr);
        free(res->errors[i].schema_ptr);
        free(res->errors[i].message);
    }
    free(res->errors);
    res->errors = NULL;
    res->n_errors = 0;
}

int js_validate(const js_schema *s, const json_value *instance, js_result *res,
                kk_err *err)
{
    if (res) {
        res->n_errors = 0;
        res->errors = NULL;
    }
    if (!s || !instance) {
        kk_err_set(err, KK_E_USAGE, "js_validate: NULL argument");
        return -1;
    }
    kk_err_clear(err);
    vctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.res = res;
    c.err = err;
    c.max_steps = s->max_steps;
    c.max_depth = s->max_depth;
    /* One allocation for the instance path and the dynamic scope: both are
     * at most one entry per nested evaluation. */
    void *mem = malloc(c.max_depth * (sizeof(path_el) + sizeof(js_resource *)) + 1);
    if (!mem) {
        kk_err_set(err, KK_E_NOMEM, "validate: out of memory");
        return -1;
    }
    c.path = mem;
    c.scope = (const js_resource **)(void *)((char *)mem +
                                             c.max_depth * sizeof(path_el));
    int r = eval(&c, s->root, instance, NULL);
    free(mem);
    js_regex_scratch_free(&c.rx);
    if (r < 0) {
        if (err && err->code == KK_OK)
            kk_err_set(err, KK_E_INTERNAL, "validate: stopped without a reason");
        return -1;
    }
    return r;
}
