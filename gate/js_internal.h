/*
 * js_internal: the JSON Schema validator's private structures, shared by the
 * gate/js_*.c files (not part of the public interface, gate/js.h).
 *
 * Map of the files:
 *   js_map.c       string-keyed and pointer-keyed hash maps (compile time only)
 *   js_uri.c       RFC 3986 reference resolution, JSON pointer fragments
 *   js_regex.c     ECMA-262 regular expressions (Pike VM over code points)
 *   js_num.c       exact decimal multipleOf
 *   js_registry.c  documents by URI (remotes, meta-schemas)
 *   js_index.c     finds resources ($id), anchors and vocabularies in a document
 *   js_compile.c   schema JSON -> js_node graph (refs pre-resolved)
 *   js_validate.c  js_node graph x instance -> valid / errors
 *
 * Ownership: everything a js_schema points to is owned by it (one list of
 * allocations freed by js_schema_free), except the json_values it borrows
 * (the schema document and registry documents: they must outlive it).
 */
#ifndef KK_JS_INTERNAL_H
#define KK_JS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "js.h"

/* ---- limits ---------------------------------------------------------------
 * Evaluation depth: nested schema evaluations (each $ref, applicator and
 * instance level counts one). 2048 covers the parser's 512 instance levels
 * with schemas like {"items": {"$ref": "#"}} (about 3 frames a level) and
 * keeps the C stack under ~2 MB even with ASan's larger frames. */
#define JS_MAX_EVAL_DEPTH 2048
/* Work per js_validate call: node evaluations plus regex VM steps. 2e8 is
 * far above what the 7.5 MB evidence file needs (~3e6) and stops an
 * exponential anyOf/$ref schema within seconds. */
#define JS_DEFAULT_MAX_STEPS 200000000ull
/* Index-time nesting of schema objects (the JSON reader bounds it too). */
#define JS_MAX_INDEX_DEPTH 1024
/* Errors recorded per js_validate call; later ones are counted only. */
#define JS_MAX_ERRORS 10000

/* ---- hash maps (js_map.c) ------------------------------------------------ */
typedef struct js_smap_ent {
    char *key; /* owned copy, NUL-terminated (keys never contain NUL here) */
    void *val;
} js_smap_ent;
typedef struct js_smap {
    js_smap_ent *ents;
    size_t cap, n;
} js_smap;
void *js_smap_get(const js_smap *m, const char *key);
/* @return 0, or -1 on allocation failure. Replaces an existing value. */
int js_smap_put(js_smap *m, const char *key, void *val);
void js_smap_free(js_smap *m, void (*free_val)(void *));

typedef struct js_pmap_ent {
    const void *key;
    void *val;
} js_pmap_ent;
typedef struct js_pmap {
    js_pmap_ent *ents;
    size_t cap, n;
} js_pmap;
void *js_pmap_get(const js_pmap *m, const void *key);
int js_pmap_put(js_pmap *m, const void *key, void *val);
void js_pmap_free(js_pmap *m, void (*free_val)(void *));

/* ---- URIs (js_uri.c) ----------------------------------------------------- */
/* Resolve `ref` against `base` (RFC 3986 section 5.2). base may be "" or
 * relative (then the result stays relative). @return malloc'd string or NULL
 * on allocation failure. */
char *js_uri_resolve(const char *base, const char *ref);
/* Split off the fragment: returns malloc'd copy without "#..." and points
 * *frag into `uri` after '#' (or to "" when none). */
char *js_uri_strip_fragment(const char *uri, const char **frag);
/* Percent-decode into a malloc'd string (*out_len bytes); NULL on a bad
 * escape or allocation failure. */
char *js_uri_pct_decode(const char *s, size_t *out_len);
/* Follow a JSON pointer (already percent-decoded, starting with '/' or
 * empty) from root; NULL when it does not exist or is malformed. `visit` is
 * called on every value passed through (root first, target last), so the
 * caller can track base URIs; may be NULL. */
const json_value *js_pointer_get(const json_value *root, const char *ptr,
                                 size_t len,
                                 void (*visit)(void *, const json_value *),
                                 void *ud);

/* ---- regular expressions (js_regex.c) ------------------------------------ */
typedef struct js_regex js_regex;
/* Compile an ECMA-262 pattern (UTF-8). @return KK_OK, or KK_E_FORMAT (syntax
 * error; err->msg says where), KK_E_UNSUPPORTED (backreferences, \p{..},
 * lookbehind), KK_E_LIMIT (program too large). */
kk_code js_regex_compile(const char *pat, size_t len, js_regex **out,
                         kk_err *err);
void js_regex_free(js_regex *re);
/* Unanchored search. Scratch memory is supplied by the caller so matching
 * allocates nothing in the steady state (js_regex_scratch_* below).
 * *steps is increased by the VM's work; when it passes max_steps the match
 * stops. @return 1 match, 0 no match, -1 work limit, -2 out of memory. */
typedef struct js_regex_scratch {
    void *mem;
    size_t cap;
} js_regex_scratch;
int js_regex_search(const js_regex *re, const char *s, size_t len,
                    js_regex_scratch *scratch, uint64_t *steps,
                    uint64_t max_steps);
void js_regex_scratch_free(js_regex_scratch *sc);

/* ---- Unicode general categories (js_unicode.c, generated) --------------- */
#define JS_UNICODE_N_CATS 30
typedef struct js_unicode_run {
    uint32_t lo, hi;
    uint8_t cat; /* index into js_unicode_cat_names; 0 = Cn never appears */
} js_unicode_run;
extern const char *const js_unicode_cat_names[JS_UNICODE_N_CATS];
extern const js_unicode_run js_unicode_runs[];
extern const size_t js_unicode_n_runs;

/* ---- numbers (js_num.c) -------------------------------------------------- */
/* Exactly whether instance (a number) is a multiple of divisor (> 0).
 * @return 1 yes, 0 no, -1 when the exact test would take too long (a huge
 * divisor with a huge exponent gap; see js_num.c). */
int js_num_multiple_of(const json_value *instance, const json_value *divisor);

/* ---- registry (js_registry.c) -------------------------------------------- */
struct js_registry {
    js_smap docs;       /* absolute URI (no fragment) -> const json_value * */
    json_doc **owned;   /* docs parsed by js_registry_add_dir */
    size_t n_owned, cap_owned;
};
const json_value *js_registry_find(const js_registry *reg, const char *uri);

/* ---- compiled schema ----------------------------------------------------- */
typedef enum js_kw_kind {
    JS_KW_TYPE,
    JS_KW_ENUM,
    JS_KW_CONST,
    JS_KW_MINIMUM,
    JS_KW_MAXIMUM,
    JS_KW_EXCL_MINIMUM,
    JS_KW_EXCL_MAXIMUM,
    JS_KW_MULTIPLE_OF,
    JS_KW_MIN_LENGTH,
    JS_KW_MAX_LENGTH,
    JS_KW_PATTERN,
    JS_KW_MIN_ITEMS,
    JS_KW_MAX_ITEMS,
    JS_KW_UNIQUE_ITEMS,
    JS_KW_PREFIX_ITEMS,
    JS_KW_ITEMS,
    JS_KW_CONTAINS,
    JS_KW_MIN_PROPERTIES,
    JS_KW_MAX_PROPERTIES,
    JS_KW_REQUIRED,
    JS_KW_DEPENDENT_REQUIRED,
    JS_KW_PROPS, /* properties + patternProperties + additionalProperties */
    JS_KW_PROPERTY_NAMES,
    JS_KW_DEPENDENT_SCHEMAS,
    JS_KW_ALL_OF,
    JS_KW_ANY_OF,
    JS_KW_ONE_OF,
    JS_KW_NOT,
    JS_KW_IF,
    JS_KW_REF,
    JS_KW_DYNAMIC_REF,
    JS_KW_UNEVAL_ITEMS, /* always after every other keyword of its node */
    JS_KW_UNEVAL_PROPS
} js_kw_kind;

/* Type bits (JS_KW_TYPE); "integer" is its own bit, tested on numbers. */
enum {
    JS_T_NULL = 1, JS_T_BOOLEAN = 2, JS_T_OBJECT = 4, JS_T_ARRAY = 8,
    JS_T_NUMBER = 16, JS_T_STRING = 32, JS_T_INTEGER = 64
};

typedef struct js_node js_node;
typedef struct js_resource js_resource;

typedef struct js_prop {
    const char *key; /* borrowed from the schema document */
    size_t len;
    js_node *node;
} js_prop;

typedef struct js_pattern_prop {
    js_regex *re;
    js_node *node;
} js_pattern_prop;

typedef struct js_dep_req {
    const char *key;
    size_t len;
    const json_value *names; /* array of strings (validated at compile) */
} js_dep_req;

typedef struct js_kw {
    js_kw_kind kind;
    const char *loc; /* schema location, e.g. "/properties/a/type" */
    union {
        unsigned type_mask;
        const json_value *value; /* enum (array), const, numeric bounds */
        uint64_t count;          /* lengths, item/property counts */
        js_regex *re;
        struct {
            js_node **v;
            size_t n;
        } list; /* prefixItems, allOf, anyOf, oneOf */
        js_node *node; /* not, propertyNames, unevaluated*, $ref target */
        struct {
            js_node *node;
            size_t start; /* = number of prefixItems */
        } items;
        struct {
            js_node *node;
            uint64_t min, max; /* minContains (default 1), maxContains */
            int has_max;
        } contains;
        struct {
            js_prop *props; /* sorted by (len, bytes) for binary search */
            size_t n_props;
            js_pattern_prop *pats;
            size_t n_pats;
            js_node *additional; /* NULL when absent */
            const char *loc_pat, *loc_add;
        } props;
        struct {
            js_dep_req *v;
            size_t n;
        } dep_req;
        struct {
            js_prop *v; /* key -> schema */
            size_t n;
        } dep_schemas;
        struct {
            js_node *if_, *then_, *else_; /* then_/else_ may be NULL */
            const char *loc_then, *loc_else;
        } cond;
        struct {
            js_node *target;  /* the initially resolved target */
            const char *name; /* dynamic anchor name when dynamic, else NULL */
        } dyn;
    } u;
} js_kw;

struct js_node {
    int boolean;       /* -1: object schema; 0/1: the false/true schema */
    js_kw *kws;
    size_t n_kws;
    js_resource *res;  /* the schema resource this node belongs to */
    const char *loc;   /* the node's own location */
    int compiled;      /* 1 once its keywords are filled (compile worklist) */
    const json_value *json;
};

typedef struct js_dyn_anchor {
    const char *name;
    const json_value *value;
    js_node *node;
} js_dyn_anchor;

struct js_resource {
    char *uri;              /* absolute URI without fragment, or "" */
    const json_value *root;
    js_dyn_anchor *dyn;     /* its $dynamicAnchors */
    size_t n_dyn, cap_dyn;
    int dyn_compiled;
    char *doc_uri;          /* URI of the document it lives in (locations) */
};

struct js_schema {
    js_node *root;
    void **allocs;          /* everything to free */
    size_t n_allocs, cap_allocs;
    js_regex **regexes;
    size_t n_regexes, cap_regexes;
    js_resource **resources;
    size_t n_resources, cap_resources;
    uint64_t max_steps;
    size_t max_depth;
};

/* ---- compile context (js_index.c, js_compile.c) -------------------------- */
/* Vocabulary bits ($vocabulary of the meta-schema named by $schema). */
enum {
    JS_VOC_CORE = 1, JS_VOC_APPLICATOR = 2, JS_VOC_VALIDATION = 4,
    JS_VOC_UNEVALUATED = 8, JS_VOC_ALL = 15
};

typedef struct js_info { /* what indexing learned about one schema value */
    const char *base;    /* base URI in effect (interned in the schema) */
    js_resource *res;
    unsigned vocab;
    const char *loc;     /* location: "uri#/pointer" or "/pointer" (root doc) */
    js_node *node;       /* once node_get created it */
} js_info;

typedef struct js_cctx {
    js_schema *s;
    const js_registry *reg;
    kk_err *err;
    js_pmap info;        /* const json_value * -> js_info * */
    js_smap uris;        /* resource URI -> js_resource * */
    js_smap anchors;     /* "uri#name" -> const json_value * */
    js_node **work;      /* nodes created but not compiled yet */
    size_t n_work, cap_work;
} js_cctx;

/* Allocation owned by the schema (freed by js_schema_free). */
void *js_alloc(js_schema *s, size_t n);
char *js_strdup(js_schema *s, const char *str);
/* Index a document (or subtree) whose root is `v`; doc_uri names it in
 * locations ("" for the schema being compiled). */
kk_code js_index_document(js_cctx *cc, const json_value *v, const char *uri,
                          const char *loc_prefix);
/* Resolve a reference (as written) from a schema whose base is `base`.
 * *out_frag receives the fragment (owned by the schema) for $dynamicRef. */
kk_code js_resolve_ref(js_cctx *cc, const char *base, const char *ref,
                       const char *where, const json_value **out,
                       const char **out_frag);
js_info *js_info_of(js_cctx *cc, const json_value *v);
/* The node for a schema value, created (and queued for compile) if new. */
js_node *js_node_get(js_cctx *cc, const json_value *v, const char *where);

/* Evaluate (js_validate.c). */
int js_validate_node(const js_schema *s, const json_value *instance,
                     js_result *res, kk_err *err);

/* A short description of a value for messages: `string "abc"`, `number 1.5`,
 * `object`, ... written into buf. */
void js_describe(const json_value *v, char *buf, size_t cap);

#endif /* KK_JS_INTERNAL_H */
