/*
 * js_regex: ECMA-262 regular expressions for "pattern" and
 * "patternProperties" (JSON Schema 2020-12 section 6.3.3 and 10.3.2.2:
 * "SHOULD be valid according to the ECMA-262 regular expression dialect").
 *
 * Grammar accepted (ECMA-262 2022 section 22.2.1 with the "u" flag's code
 * point semantics, plus Annex B's literal "{", "}" and "]"):
 *   Disjunction := Alternative ( "|" Alternative )*
 *   Alternative := Term*
 *   Term        := Assertion | Atom Quantifier?
 *   Assertion   := "^" | "$" | "\b" | "\B" | "(?=" Disjunction ")" | "(?!" Disjunction ")"
 *   Quantifier  := ( "*" | "+" | "?" | "{n}" | "{n,}" | "{n,m}" ) "?"?
 *   Atom        := "." | PatternChar | "\" AtomEscape | "[" Class "]"
 *                | "(" Disjunction ")" | "(?:" Disjunction ")" | "(?<name>" Disjunction ")"
 *   AtomEscape  := d D w W s S t n v f r 0 cX xHH uHHHH u{H..} and identity escapes
 *   and \p{..} / \P{..} with a General_Category value (L, Letter, Nd, digit,
 *   gc=Lu, General_Category=Lu, ...) or Any, ASCII, Assigned
 * Not supported (KK_E_UNSUPPORTED at compile, documented in
 * docs/jsonschema.md): backreferences (\1, \k<name>), lookbehind, scripts
 * and other binary properties, flags. No pattern is implicitly anchored.
 *
 * Matching: a Pike VM (Thompson NFA simulation, Russ Cox "Regular Expression
 * Matching: the Virtual Machine Approach", 2009) over code points. Whether a
 * pattern matches does not depend on greedy or lazy preference, so without
 * backreferences no backtracking is needed: the work is O(len x program)
 * (times the lookahead nesting), never exponential, and it is still counted
 * against a step budget so a huge string cannot take unbounded time.
 */
#include <stdlib.h>
#include <string.h>

#include "js_internal.h"

/* Program size cap: "a{1000}{1000}" would expand to 1e6 instructions. 50000
 * instructions keep scratch memory under 1 MB per regex. */
#define RE_MAX_PROG 50000
#define RE_MAX_NEST 64

enum { OP_CHAR, OP_ANY, OP_CLASS, OP_SPLIT, OP_JMP, OP_BOL, OP_EOL, OP_WORDB,
       OP_NWORDB, OP_LOOK, OP_NLOOK, OP_MATCH };

typedef struct re_inst {
    uint8_t op;
    uint32_t x, y; /* jump targets; OP_CLASS: x = class index */
    uint32_t c;    /* OP_CHAR code point */
} re_inst;

typedef struct re_range {
    uint32_t lo, hi;
} re_range;

typedef struct re_class {
    re_range *r;
    size_t n, cap;
    int neg;
} re_class;

/* ---- AST ------------------------------------------------------------------ */
enum { N_EMPTY, N_CHAR, N_ANY, N_CLASS, N_BOL, N_EOL, N_WORDB, N_NWORDB,
       N_CAT, N_ALT, N_REP, N_LOOK, N_NLOOK };

typedef struct re_ast {
    int kind;
    uint32_t c;        /* N_CHAR; N_CLASS: class index */
    struct re_ast *a, *b; /* N_CAT/N_ALT: a, b; N_REP/N_LOOK: a */
    uint32_t min, max; /* N_REP; max == UINT32_MAX: unbounded */
} re_ast;

struct js_regex {
    re_inst *prog;
    size_t n, cap;
    re_class *classes;
    size_t n_classes, cap_classes;
    int look_depth; /* nesting of lookaheads (scratch levels) */
};

typedef struct parser {
    const char *p, *end, *start;
    js_regex *re;
    kk_err *err;
    kk_code code;
    re_ast **nodes; /* every AST node, freed at the end */
    size_t n_nodes, cap_nodes;
    int depth, look, max_look;
    uint32_t prop_mask; /* last \p{..}: category bits, bit 30 = ASCII */
    int prop_neg;
} parser;

static re_ast *mk(parser *ps, int kind)
{
    if (ps->code)
        return NULL;
    if (ps->n_nodes == ps->cap_nodes) {
        size_t nc = ps->cap_nodes ? ps->cap_nodes * 2 : 32;
        re_ast **nn = realloc(ps->nodes, nc * sizeof *nn);
        if (!nn) {
            ps->code = kk_err_set(ps->err, KK_E_NOMEM, "regex: out of memory");
            return NULL;
        }
        ps->nodes = nn;
        ps->cap_nodes = nc;
    }
    re_ast *n = calloc(1, sizeof *n);
    if (!n) {
        ps->code = kk_err_set(ps->err, KK_E_NOMEM, "regex: out of memory");
        return NULL;
    }
    n->kind = kind;
    ps->nodes[ps->n_nodes++] = n;
    return n;
}

static void fail(parser *ps, kk_code code, const char *what)
{
    if (ps->code)
        return;
    ps->code = kk_err_set(ps->err, code, "regex: %s at offset %zu", what,
                          (size_t)(ps->p - ps->start));
}

/* Decode one UTF-8 code point (input is valid UTF-8 from the JSON reader;
 * a stray byte is taken as itself). */
static uint32_t utf8_next(const char **pp, const char *end)
{
    const unsigned char *p = (const unsigned char *)*pp;
    uint32_t c = p[0];
    int n = 0;
    if (c >= 0xF0 && c < 0xF8) { c &= 0x07; n = 3; }
    else if (c >= 0xE0) { c &= 0x0F; n = 2; }
    else if (c >= 0xC0) { c &= 0x1F; n = 1; }
    if (n > 0 && end - (const char *)p <= n) {
        *pp += 1;
        return p[0];
    }
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *pp += 1;
            return p[0];
        }
        c = (c << 6) | (p[i] & 0x3F);
    }
    *pp += 1 + n;
    return c;
}

static int class_add(parser *ps, re_class *cl, uint32_t lo, uint32_t hi)
{
    if (cl->n == cl->cap) {
        size_t nc = cl->cap ? cl->cap * 2 : 8;
        re_range *nr = realloc(cl->r, nc * sizeof *nr);
        if (!nr) {
            ps->code = kk_err_set(ps->err, KK_E_NOMEM, "regex: out of memory");
            return -1;
        }
        cl->r = nr;
        cl->cap = nc;
    }
    cl->r[cl->n].lo = lo;
    cl->r[cl->n].hi = hi;
    cl->n++;
    return 0;
}

/* ECMA-262 WhiteSpace and LineTerminator (22.2.2.9 CharacterClassEscape s). */
static const re_range SPACE_RANGES[] = {
    {0x09, 0x0D}, {0x20, 0x20}, {0xA0, 0xA0}, {0x1680, 0x1680},
    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
    {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
static const re_range DIGIT_RANGES[] = {{'0', '9'}};
static const re_range WORD_RANGES[] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};

/* Add the complement of sorted, disjoint ranges. */
static int class_add_set(parser *ps, re_class *cl, const re_range *r, size_t n,
                         int neg)
{
    if (!neg) {
        for (size_t i = 0; i < n; i++)
            if (class_add(ps, cl, r[i].lo, r[i].hi))
                return -1;
        return 0;
    }
    uint32_t next = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].lo > next && class_add(ps, cl, next, r[i].lo - 1))
            return -1;
        next = r[i].hi + 1;
    }
    return class_add(ps, cl, next, 0x10FFFF);
}

static re_class *new_class(parser *ps, uint32_t *idx)
{
    js_regex *re = ps->re;
    if (re->n_classes == re->cap_classes) {
        size_t nc = re->cap_classes ? re->cap_classes * 2 : 4;
        re_class *n = realloc(re->classes, nc * sizeof *n);
        if (!n) {
            ps->code = kk_err_set(ps->err, KK_E_NOMEM, "regex: out of memory");
            return NULL;
        }
        re->classes = n;
        re->cap_classes = nc;
    }
    *idx = (uint32_t)re->n_classes;
    re_class *cl = &re->classes[re->n_classes++];
    memset(cl, 0, sizeof *cl);
    return cl;
}

static int hexdig(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex(parser *ps, int n, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++) {
        if (ps->p >= ps->end || hexdig((unsigned char)*ps->p) < 0)
            return -1;
        v = v * 16 + (uint32_t)hexdig((unsigned char)*ps->p++);
    }
    *out = v;
    return 0;
}

/* ECMA-262 table 67 (General_Category values and aliases) and the binary
 * properties Any, ASCII, Assigned. Members are category short names. */
static const struct { const char *name; const char *cats; } PROPS[] = {
    {"L", "Lu Ll Lt Lm Lo"}, {"Letter", "Lu Ll Lt Lm Lo"},
    {"LC", "Lu Ll Lt"}, {"Cased_Letter", "Lu Ll Lt"},
    {"Lu", "Lu"}, {"Uppercase_Letter", "Lu"}, {"Ll", "Ll"},
    {"Lowercase_Letter", "Ll"}, {"Lt", "Lt"}, {"Titlecase_Letter", "Lt"},
    {"Lm", "Lm"}, {"Modifier_Letter", "Lm"}, {"Lo", "Lo"}, {"Other_Letter", "Lo"},
    {"M", "Mn Mc Me"}, {"Mark", "Mn Mc Me"}, {"Combining_Mark", "Mn Mc Me"},
    {"Mn", "Mn"}, {"Nonspacing_Mark", "Mn"}, {"Mc", "Mc"}, {"Spacing_Mark", "Mc"},
    {"Me", "Me"}, {"Enclosing_Mark", "Me"},
    {"N", "Nd Nl No"}, {"Number", "Nd Nl No"}, {"Nd", "Nd"},
    {"Decimal_Number", "Nd"}, {"digit", "Nd"}, {"Nl", "Nl"},
    {"Letter_Number", "Nl"}, {"No", "No"}, {"Other_Number", "No"},
    {"P", "Pc Pd Ps Pe Pi Pf Po"}, {"Punctuation", "Pc Pd Ps Pe Pi Pf Po"},
    {"punct", "Pc Pd Ps Pe Pi Pf Po"}, {"Pc", "Pc"},
    {"Connector_Punctuation", "Pc"}, {"Pd", "Pd"}, {"Dash_Punctuation", "Pd"},
    {"Ps", "Ps"}, {"Open_Punctuation", "Ps"}, {"Pe", "Pe"},
    {"Close_Punctuation", "Pe"}, {"Pi", "Pi"}, {"Initial_Punctuation", "Pi"},
    {"Pf", "Pf"}, {"Final_Punctuation", "Pf"}, {"Po", "Po"},
    {"Other_Punctuation", "Po"},
    {"S", "Sm Sc Sk So"}, {"Symbol", "Sm Sc Sk So"}, {"Sm", "Sm"},
    {"Math_Symbol", "Sm"}, {"Sc", "Sc"}, {"Currency_Symbol", "Sc"}, {"Sk", "Sk"},
    {"Modifier_Symbol", "Sk"}, {"So", "So"}, {"Other_Symbol", "So"},
    {"Z", "Zs Zl Zp"}, {"Separator", "Zs Zl Zp"}, {"Zs", "Zs"},
    {"Space_Separator", "Zs"}, {"Zl", "Zl"}, {"Line_Separator", "Zl"},
    {"Zp", "Zp"}, {"Paragraph_Separator", "Zp"},
    {"C", "Cc Cf Cs Co Cn"}, {"Other", "Cc Cf Cs Co Cn"}, {"Cc", "Cc"},
    {"Control", "Cc"}, {"cntrl", "Cc"}, {"Cf", "Cf"}, {"Format", "Cf"},
    {"Cs", "Cs"}, {"Surrogate", "Cs"}, {"Co", "Co"}, {"Private_Use", "Co"},
    {"Cn", "Cn"}, {"Unassigned", "Cn"},
};
#define PROP_ASCII (1u << 30)

static uint32_t cats_mask(const char *cats)
{
    uint32_t m = 0;
    for (const char *c = cats; *c; c += c[2] ? 3 : 2)
        for (int k = 0; k < JS_UNICODE_N_CATS; k++)
            if (c[0] == js_unicode_cat_names[k][0] &&
                c[1] == js_unicode_cat_names[k][1])
                m |= 1u << k;
    return m;
}

/* After "\p" / "\P": "{Name}", "{gc=Name}", "{General_Category=Name}". */
static int parse_property(parser *ps)
{
    if (ps->p >= ps->end || *ps->p != '{') {
        fail(ps, KK_E_FORMAT, "\\p must be followed by {name}");
        return -1;
    }
    const char *b = ++ps->p;
    while (ps->p < ps->end && *ps->p != '}')
        ps->p++;
    if (ps->p >= ps->end) {
        fail(ps, KK_E_FORMAT, "unterminated \\p{");
        return -1;
    }
    size_t n = (size_t)(ps->p - b);
    ps->p++;
    const char *eq = memchr(b, '=', n);
    if (eq) {
        size_t kl = (size_t)(eq - b);
        if (!((kl == 2 && memcmp(b, "gc", 2) == 0) ||
              (kl == 16 && memcmp(b, "General_Category", 16) == 0))) {
            fail(ps, KK_E_UNSUPPORTED, "Unicode properties other than "
                 "General_Category (scripts)");
            return -1;
        }
        n -= kl + 1;
        b = eq + 1;
    }
    if (!eq && n == 3 && memcmp(b, "Any", 3) == 0) {
        ps->prop_mask = 0x3FFFFFFFu; /* every category */
        return 0;
    }
    if (!eq && n == 5 && memcmp(b, "ASCII", 5) == 0) {
        ps->prop_mask = PROP_ASCII;
        return 0;
    }
    if (!eq && n == 8 && memcmp(b, "Assigned", 8) == 0) {
        ps->prop_mask = 0x3FFFFFFEu; /* all but Cn */
        return 0;
    }
    for (size_t i = 0; i < sizeof PROPS / sizeof PROPS[0]; i++)
        if (strlen(PROPS[i].name) == n && memcmp(PROPS[i].name, b, n) == 0) {
            ps->prop_mask = cats_mask(PROPS[i].cats);
            return 0;
        }
    fail(ps, KK_E_UNSUPPORTED, "unknown Unicode property in \\p{..}");
    return -1;
}

/* After a backslash. Sets *cp for a single character, or *set (d/D/w/W/s/S)
 * for a class escape; in_class: \b is backspace, \B an error.
 * @return 0 char, 1 class escape ('d','D',...), 2 assertion b/B,
 * 3 property escape (ps->prop_mask, ps->prop_neg), -1 error. */
static int parse_escape(parser *ps, int in_class, uint32_t *cp, int *set)
{
    if (ps->p >= ps->end) {
        fail(ps, KK_E_FORMAT, "pattern ends with a backslash");
        return -1;
    }
    const char *start = ps->p;
    int c = (unsigned char)*ps->p;
    switch (c) {
    case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
        ps->p++;
        *set = c;
        return 1;
    case 'b':
        ps->p++;
        if (in_class) { *cp = 8; return 0; }
        *set = 'b';
        return 2;
    case 'B':
        ps->p++;
        if (in_class) { fail(ps, KK_E_FORMAT, "\\B inside a class"); return -1; }
        *set = 'B';
        return 2;
    case 't': ps->p++; *cp = 9; return 0;
    case 'n': ps->p++; *cp = 10; return 0;
    case 'v': ps->p++; *cp = 11; return 0;
    case 'f': ps->p++; *cp = 12; return 0;
    case 'r': ps->p++; *cp = 13; return 0;
    case '0':
        ps->p++;
        if (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            fail(ps, KK_E_UNSUPPORTED, "octal escape");
            return -1;
        }
        *cp = 0;
        return 0;
    case 'c':
        ps->p++;
        if (ps->p < ps->end && ((*ps->p >= 'a' && *ps->p <= 'z') ||
                                (*ps->p >= 'A' && *ps->p <= 'Z'))) {
            *cp = (uint32_t)(*ps->p++ % 32);
            return 0;
        }
        fail(ps, KK_E_FORMAT, "\\c must be followed by a letter");
        return -1;
    case 'x':
        ps->p++;
        if (read_hex(ps, 2, cp)) {
            fail(ps, KK_E_FORMAT, "\\x needs two hex digits");
            return -1;
        }
        return 0;
    case 'u':
        ps->p++;
        if (ps->p < ps->end && *ps->p == '{') {
            ps->p++;
            uint32_t v = 0;
            int nd = 0;
            while (ps->p < ps->end && hexdig((unsigned char)*ps->p) >= 0) {
                v = v * 16 + (uint32_t)hexdig((unsigned char)*ps->p++);
                if (++nd > 8 || v > 0x10FFFF) {
                    fail(ps, KK_E_FORMAT, "\\u{...} above U+10FFFF");
                    return -1;
                }
            }
            if (nd == 0 || ps->p >= ps->end || *ps->p != '}') {
                fail(ps, KK_E_FORMAT, "bad \\u{...} escape");
                return -1;
            }
            ps->p++;
            *cp = v;
            return 0;
        }
        if (read_hex(ps, 4, cp)) {
            fail(ps, KK_E_FORMAT, "\\u needs four hex digits");
            return -1;
        }
        /* A surrogate pair written as two escapes is one code point. */
        if (*cp >= 0xD800 && *cp <= 0xDBFF && ps->end - ps->p >= 6 &&
            ps->p[0] == '\\' && ps->p[1] == 'u') {
            const char *save = ps->p;
            uint32_t lo;
            ps->p += 2;
            if (read_hex(ps, 4, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF)
                *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
            else
                ps->p = save;
        }
        return 0;
    case 'p': case 'P':
        ps->p++;
        ps->prop_neg = c == 'P';
        return parse_property(ps) == 0 ? 3 : -1;
    case 'k':
        fail(ps, KK_E_UNSUPPORTED, "named backreferences (\\k)");
        return -1;
    default:
        break;
    }
    if (c >= '1' && c <= '9') {
        if (in_class) {
            fail(ps, KK_E_UNSUPPORTED, "octal escape in a class");
            return -1;
        }
        fail(ps, KK_E_UNSUPPORTED, "backreferences");
        return -1;
    }
    /* Identity escape: any other character stands for itself (Annex B). */
    (void)start;
    *cp = utf8_next(&ps->p, ps->end);
    return 0;
}

static int add_set(parser *ps, re_class *cl, int set)
{
    int neg = set == 'D' || set == 'W' || set == 'S';
    switch (set) {
    case 'd': case 'D':
        return class_add_set(ps, cl, DIGIT_RANGES, 1, neg);
    case 'w': case 'W':
        return class_add_set(ps, cl, WORD_RANGES, 4, neg);
    default:
        return class_add_set(ps, cl, SPACE_RANGES,
                             sizeof SPACE_RANGES / sizeof SPACE_RANGES[0], neg);
    }
}

/* The code points of a \p{..} set, as sorted runs, complemented for \P. */
static int add_prop(parser *ps, re_class *cl)
{
    uint32_t mask = ps->prop_mask;
    size_t cap = js_unicode_n_runs * 2 + 2, n = 0;
    re_range *r = malloc(cap * sizeof *r);
    if (!r) {
        ps->code = kk_err_set(ps->err, KK_E_NOMEM, "regex: out of memory");
        return -1;
    }
    if (mask == PROP_ASCII) {
        r[n].lo = 0;
        r[n++].hi = 0x7F;
    } else {
        uint32_t next = 0;
        for (size_t i = 0; i <= js_unicode_n_runs; i++) {
            uint32_t lo = i < js_unicode_n_runs ? js_unicode_runs[i].lo : 0x110000;
            if (lo > next && (mask & 1u)) { /* a gap: Cn */
                if (n && r[n - 1].hi + 1 == next)
                    r[n - 1].hi = lo - 1;
                else {
                    r[n].lo = next;
                    r[n++].hi = lo - 1;
                }
            }
            if (i == js_unicode_n_runs)
                break;
            const js_unicode_run *u = &js_unicode_runs[i];
            if (mask & (1u << u->cat)) {
                if (n && r[n - 1].hi + 1 == u->lo)
                    r[n - 1].hi = u->hi;
                else {
                    r[n].lo = u->lo;
                    r[n++].hi = u->hi;
                }
            }
            next = u->hi + 1;
        }
    }
    int rc = class_add_set(ps, cl, r, n, ps->prop_neg);
    free(r);
    return rc;
}

static int range_cmp(const void *pa, const void *pb)
{
    const re_range *a = pa, *b = pb;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Sort and merge a class's ranges so matching can binary-search them. */
static void class_finish(re_class *cl)
{
    if (cl->n < 2)
        return;
    qsort(cl->r, cl->n, sizeof cl->r[0], range_cmp);
    size_t o = 0;
    for (size_t i = 1; i < cl->n; i++) {
        if (cl->r[i].lo <= cl->r[o].hi + 1 || cl->r[o].hi == 0xFFFFFFFFu) {
            if (cl->r[i].hi > cl->r[o].hi)
                cl->r[o].hi = cl->r[i].hi;
        } else {
            cl->r[++o] = cl->r[i];
        }
    }
    cl->n = o + 1;
}

/* After '['. */
static re_ast *parse_class(parser *ps)
{
    uint32_t idx;
    re_class *cl = new_class(ps, &idx);
    if (!cl)
        return NULL;
    if (ps->p < ps->end && *ps->p == '^') {
        cl->neg = 1;
        ps->p++;
    }
    for (;;) {
        if (ps->p >= ps->end) {
            fail(ps, KK_E_FORMAT, "unterminated character class");
            return NULL;
        }
        if (*ps->p == ']') {
            ps->p++;
            break;
        }
        uint32_t lo, hi;
        int set = 0, k = 0;
        if (*ps->p == '\\') {
            ps->p++;
            k = parse_escape(ps, 1, &lo, &set);
            if (k < 0)
                return NULL;
        } else {
            lo = utf8_next(&ps->p, ps->end);
        }
        cl = &ps->re->classes[idx]; /* new_class may not move it, but be safe */
        if (k == 1 || k == 3) {
            if (k == 1 ? add_set(ps, cl, set) : add_prop(ps, cl))
                return NULL;
            continue;
        }
        /* A range "a-b"; "-" before "]" or next to a class escape is literal. */
        if (ps->end - ps->p >= 2 && ps->p[0] == '-' && ps->p[1] != ']') {
            const char *save = ps->p;
            ps->p++;
            int set2 = 0, k2 = 0;
            if (*ps->p == '\\') {
                ps->p++;
                k2 = parse_escape(ps, 1, &hi, &set2);
                if (k2 < 0)
                    return NULL;
            } else {
                hi = utf8_next(&ps->p, ps->end);
            }
            if (k2 == 1 || k2 == 3) {
                /* "[a-\d]": Annex B takes '-' literally */
                if (class_add(ps, cl, lo, lo) || class_add(ps, cl, '-', '-') ||
                    (k2 == 1 ? add_set(ps, cl, set2) : add_prop(ps, cl)))
                    return NULL;
                continue;
            }
            if (hi < lo) {
                ps->p = save;
                fail(ps, KK_E_FORMAT, "class range out of order");
                return NULL;
            }
            if (class_add(ps, cl, lo, hi))
                return NULL;
            continue;
        }
        if (class_add(ps, cl, lo, lo))
            return NULL;
    }
    class_finish(&ps->re->classes[idx]);
    re_ast *n = mk(ps, N_CLASS);
    if (n)
        n->c = idx;
    return n;
}

static re_ast *parse_disj(parser *ps);

/* {n}, {n,}, {n,m}: @return 1 parsed, 0 not a quantifier (literal '{'). */
static int parse_braces(parser *ps, uint32_t *min, uint32_t *max)
{
    const char *p = ps->p + 1;
    uint64_t a = 0, b;
    int nd = 0;
    while (p < ps->end && *p >= '0' && *p <= '9') {
        a = a * 10 + (uint64_t)(*p++ - '0');
        if (a > 1000000) a = 1000000;
        nd++;
    }
    if (!nd)
        return 0;
    b = a;
    if (p < ps->end && *p == ',') {
        p++;
        int nd2 = 0;
        b = 0;
        while (p < ps->end && *p >= '0' && *p <= '9') {
            b = b * 10 + (uint64_t)(*p++ - '0');
            if (b > 1000000) b = 1000000;
            nd2++;
        }
        if (!nd2)
            b = UINT32_MAX;
    }
    if (p >= ps->end || *p != '}')
        return 0;
    ps->p = p + 1;
    *min = (uint32_t)a;
    *max = (uint32_t)b;
    return 1;
}

static re_ast *parse_atom(parser *ps)
{
    char c = *ps->p;
    re_ast *n;
    switch (c) {
    case '.':
        ps->p++;
        return mk(ps, N_ANY);
    case '^':
        ps->p++;
        return mk(ps, N_BOL);
    case '$':
        ps->p++;
        return mk(ps, N_EOL);
    case '[':
        ps->p++;
        return parse_class(ps);
    case '(': {
        ps->p++;
        int kind = 0; /* 0 group, 1 lookahead, 2 negative lookahead */
        if (ps->p < ps->end && *ps->p == '?') {
            if (ps->end - ps->p >= 2 && ps->p[1] == ':') {
                ps->p += 2;
            } else if (ps->end - ps->p >= 2 && ps->p[1] == '=') {
                ps->p += 2;
                kind = 1;
            } else if (ps->end - ps->p >= 2 && ps->p[1] == '!') {
                ps->p += 2;
                kind = 2;
            } else if (ps->end - ps->p >= 3 && ps->p[1] == '<' &&
                       (ps->p[2] == '=' || ps->p[2] == '!')) {
                fail(ps, KK_E_UNSUPPORTED, "lookbehind");
                return NULL;
            } else if (ps->end - ps->p >= 2 && ps->p[1] == '<') {
                ps->p += 2; /* named group: the name is irrelevant here */
                while (ps->p < ps->end && *ps->p != '>')
                    ps->p++;
                if (ps->p >= ps->end) {
                    fail(ps, KK_E_FORMAT, "unterminated group name");
                    return NULL;
                }
                ps->p++;
            } else {
                fail(ps, KK_E_FORMAT, "unknown group kind (?");
                return NULL;
            }
        }
        if (++ps->depth > RE_MAX_NEST) {
            fail(ps, KK_E_LIMIT, "groups nested too deeply");
            return NULL;
        }
        if (kind) {
            ps->look++;
            if (ps->look > ps->max_look)
                ps->max_look = ps->look;
        }
        re_ast *inner = parse_disj(ps);
        if (kind)
            ps->look--;
        ps->depth--;
        if (!inner)
            return NULL;
        if (ps->p >= ps->end || *ps->p != ')') {
            fail(ps, KK_E_FORMAT, "missing )");
            return NULL;
        }
        ps->p++;
        if (!kind)
            return inner;
        n = mk(ps, kind == 1 ? N_LOOK : N_NLOOK);
        if (n)
            n->a = inner;
        return n;
    }
    case '\\': {
        ps->p++;
        uint32_t cp = 0;
        int set = 0;
        int k = parse_escape(ps, 0, &cp, &set);
        if (k < 0)
            return NULL;
        if (k == 2)
            return mk(ps, set == 'b' ? N_WORDB : N_NWORDB);
        if (k == 1 || k == 3) {
            uint32_t idx;
            re_class *cl = new_class(ps, &idx);
            if (!cl || (k == 1 ? add_set(ps, cl, set) : add_prop(ps, cl)))
                return NULL;
            class_finish(cl);
            n = mk(ps, N_CLASS);
            if (n)
                n->c = idx;
            return n;
        }
        n = mk(ps, N_CHAR);
        if (n)
            n->c = cp;
        return n;
    }
    case '*': case '+': case '?':
        fail(ps, KK_E_FORMAT, "nothing to repeat");
        return NULL;
    case '{': {
        uint32_t a, b;
        const char *save = ps->p;
        if (parse_braces(ps, &a, &b)) {
            ps->p = save;
            fail(ps, KK_E_FORMAT, "nothing to repeat");
            return NULL;
        }
        break;
    }
    default:
        break;
    }
    n = mk(ps, N_CHAR);
    if (n)
        n->c = utf8_next(&ps->p, ps->end);
    return n;
}

static re_ast *parse_term(parser *ps)
{
    re_ast *atom = parse_atom(ps);
    int quantified = 0;
    if (!atom)
        return NULL;
    for (;;) {
        if (ps->p >= ps->end)
            return atom;
        uint32_t min, max;
        char c = *ps->p;
        if (c == '*') { min = 0; max = UINT32_MAX; ps->p++; }
        else if (c == '+') { min = 1; max = UINT32_MAX; ps->p++; }
        else if (c == '?') { min = 0; max = 1; ps->p++; }
        else if (c == '{') {
            if (!parse_braces(ps, &min, &max))
                return atom;
            if (max < min) {
                fail(ps, KK_E_FORMAT, "numbers out of order in {} quantifier");
                return NULL;
            }
        } else {
            return atom;
        }
        if (ps->p < ps->end && *ps->p == '?')
            ps->p++; /* lazy: same language */
        if (quantified) { /* "a**", "a{2}{3}": ECMA-262 syntax errors */
            fail(ps, KK_E_FORMAT, "nothing to repeat");
            return NULL;
        }
        quantified = 1;
        re_ast *r = mk(ps, N_REP);
        if (!r)
            return NULL;
        r->a = atom;
        r->min = min;
        r->max = max;
        atom = r;
    }
}

static re_ast *parse_alt(parser *ps)
{
    re_ast *acc = mk(ps, N_EMPTY);
    while (acc && ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
        re_ast *t = parse_term(ps);
        if (!t)
            return NULL;
        if (acc->kind == N_EMPTY) {
            acc = t;
        } else {
            re_ast *c = mk(ps, N_CAT);
            if (!c)
                return NULL;
            c->a = acc;
            c->b = t;
            acc = c;
        }
    }
    return acc;
}

static re_ast *parse_disj(parser *ps)
{
    re_ast *acc = parse_alt(ps);
    while (acc && ps->p < ps->end && *ps->p == '|') {
        ps->p++;
        re_ast *b = parse_alt(ps);
        if (!b)
            return NULL;
        re_ast *n = mk(ps, N_ALT);
        if (!n)
            return NULL;
        n->a = acc;
        n->b = b;
        acc = n;
    }
    return acc;
}

/* ---- code generation -------------------------------------------------------- */
static uint32_t emit(parser *ps, int op)
{
    js_regex *re = ps->re;
    if (ps->code)
        return 0;
    if (re->n >= RE_MAX_PROG) {
        ps->code = kk_err_set(ps->err, KK_E_LIMIT,
                              "regex: program larger than %d instructions "
                              "(counted repetition too large)", RE_MAX_PROG);
        return 0;
    }
    if (re->n == re->cap) {
        size_t nc = re->cap ? re->cap * 2 : 32;
        re_inst *np = realloc(re->prog, nc * sizeof *np);
        if (!np) {
            ps->code = kk_err_set(ps->err, KK_E_NOMEM, "regex: out of memory");
            return 0;
        }
        re->prog = np;
        re->cap = nc;
    }
    memset(&re->prog[re->n], 0, sizeof re->prog[0]);
    re->prog[re->n].op = (uint8_t)op;
    return (uint32_t)re->n++;
}

static void gen(parser *ps, const re_ast *n, int depth)
{
    js_regex *re = ps->re;
    if (ps->code)
        return;
    if (depth > 8 * RE_MAX_NEST) { /* groups are bounded by RE_MAX_NEST */
        fail(ps, KK_E_LIMIT, "pattern nested too deeply");
        return;
    }
    uint32_t i, j, k;
    switch (n->kind) {
    case N_EMPTY:
        return;
    case N_CHAR:
        i = emit(ps, OP_CHAR);
        if (!ps->code)
            re->prog[i].c = n->c;
        return;
    case N_ANY: emit(ps, OP_ANY); return;
    case N_CLASS:
        i = emit(ps, OP_CLASS);
        if (!ps->code)
            re->prog[i].x = n->c;
        return;
    case N_BOL: emit(ps, OP_BOL); return;
    case N_EOL: emit(ps, OP_EOL); return;
    case N_WORDB: emit(ps, OP_WORDB); return;
    case N_NWORDB: emit(ps, OP_NWORDB); return;
    case N_CAT: case N_ALT: {
        /* Concatenations and alternations nest on the left, one level per
         * term: walk that spine with a list instead of recursing, so a long
         * pattern cannot exhaust the C stack. */
        size_t cnt = 0;
        for (const re_ast *q = n; q->kind == n->kind; q = q->a)
            cnt++;
        const re_ast **parts = malloc((cnt + 1) * sizeof *parts);
        if (!parts) {
            ps->code = kk_err_set(ps->err, KK_E_NOMEM, "regex: out of memory");
            return;
        }
        size_t np = cnt + 1;
        const re_ast *q = n;
        for (size_t t = cnt; t > 0; t--) {
            parts[t] = q->b;
            q = q->a;
        }
        parts[0] = q;
        if (n->kind == N_CAT) {
            for (size_t t = 0; t < np && !ps->code; t++)
                gen(ps, parts[t], depth + 1);
            free(parts);
            return;
        }
        /* split a1, next; a1; jmp end; next: split a2, next2; ... aN */
        uint32_t *jumps = malloc(np * sizeof *jumps);
        if (!jumps) {
            free(parts);
            ps->code = kk_err_set(ps->err, KK_E_NOMEM, "regex: out of memory");
            return;
        }
        for (size_t t = 0; t < np && !ps->code; t++) {
            if (t + 1 < np) {
                i = emit(ps, OP_SPLIT);
                gen(ps, parts[t], depth + 1);
                jumps[t] = emit(ps, OP_JMP);
                if (ps->code)
                    break;
                re->prog[i].x = i + 1;
                re->prog[i].y = (uint32_t)re->n;
            } else {
                gen(ps, parts[t], depth + 1);
            }
        }
        if (!ps->code)
            for (size_t t = 0; t + 1 < np; t++)
                re->prog[jumps[t]].x = (uint32_t)re->n;
        free(jumps);
        free(parts);
        return;
    }
    case N_LOOK: case N_NLOOK:
        /* OP_LOOK x = sub-program start; y = continuation */
        i = emit(ps, n->kind == N_LOOK ? OP_LOOK : OP_NLOOK);
        if (ps->code) return;
        re->prog[i].x = i + 1;
        gen(ps, n->a, depth + 1);
        emit(ps, OP_MATCH);
        if (ps->code) return;
        re->prog[i].y = (uint32_t)re->n;
        return;
    case N_REP:
        for (uint32_t r = 0; r < n->min; r++) {
            gen(ps, n->a, depth + 1);
            if (ps->code) return;
        }
        if (n->max == UINT32_MAX) {
            /* L: split L+1, out; body; jmp L */
            i = emit(ps, OP_SPLIT);
            gen(ps, n->a, depth + 1);
            j = emit(ps, OP_JMP);
            if (ps->code) return;
            re->prog[j].x = i;
            re->prog[i].x = i + 1;
            re->prog[i].y = (uint32_t)re->n;
            return;
        }
        for (uint32_t r = n->min; r < n->max; r++) {
            i = emit(ps, OP_SPLIT);
            gen(ps, n->a, depth + 1);
            if (ps->code) return;
            /* x{n,m} = n copies then (m - n) optional ones: x?x?... has
             * the same language as (x(x)?)? and needs no patching. */
            k = (uint32_t)re->n;
            re->prog[i].x = i + 1;
            re->prog[i].y = k;
        }
        return;
    default:
        return;
    }
}

void js_regex_free(js_regex *re)
{
    if (!re)
        return;
    for (size_t i = 0; i < re->n_classes; i++)
        free(re->classes[i].r);
    free(re->classes);
    free(re->prog);
    free(re);
}

kk_code js_regex_compile(const char *pat, size_t len, js_regex **out,
                         kk_err *err)
{
    *out = NULL;
    js_regex *re = calloc(1, sizeof *re);
    if (!re)
        return kk_err_set(err, KK_E_NOMEM, "regex: out of memory");
    parser ps = {.p = pat, .end = pat + len, .start = pat, .re = re, .err = err};
    re_ast *ast = parse_disj(&ps);
    if (ast && ps.p < ps.end && !ps.code)
        fail(&ps, KK_E_FORMAT, "unmatched )");
    if (ast && !ps.code) {
        gen(&ps, ast, 0);
        emit(&ps, OP_MATCH);
    }
    for (size_t i = 0; i < ps.n_nodes; i++)
        free(ps.nodes[i]);
    free(ps.nodes);
    if (ps.code) {
        js_regex_free(re);
        return ps.code;
    }
    re->look_depth = ps.max_look;
    *out = re;
    return KK_OK;
}

/* ---- matching ------------------------------------------------------------------ */
static int class_has(const re_class *cl, uint32_t c)
{
    size_t lo = 0, hi = cl->n; /* ranges sorted and disjoint (class_finish) */
    int in = 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < cl->r[mid].lo)
            hi = mid;
        else if (c > cl->r[mid].hi)
            lo = mid + 1;
        else {
            in = 1;
            break;
        }
    }
    return in != cl->neg;
}

static int is_word(uint32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z') || c == '_';
}

typedef struct vm {
    const js_regex *re;
    const char *s;
    size_t len;
    uint32_t *mem;     /* per level: clist, nlist, marks, stack (4 x n) */
    uint32_t gen;
    uint64_t *steps, max_steps;
    int oom;
} vm;

/* Code point before byte offset pos (0 = none); UTF-8 back-scan. */
static uint32_t prev_cp(const vm *m, size_t pos, int *has)
{
    if (pos == 0) {
        *has = 0;
        return 0;
    }
    size_t b = pos - 1;
    while (b > 0 && ((unsigned char)m->s[b] & 0xC0) == 0x80 && pos - b < 4)
        b--;
    const char *p = m->s + b;
    *has = 1;
    return utf8_next(&p, m->s + m->len);
}

static int run(vm *m, uint32_t start, size_t pos, int anchored, int level);

/* Epsilon closure from pc at pos into list (len *n); marks[] dedups. */
static int add_thread(vm *m, uint32_t *list, size_t *n, uint32_t *marks,
                      uint32_t *stack, uint32_t pc0, size_t pos, int level)
{
    const re_inst *prog = m->re->prog;
    size_t sp = 0;
    stack[sp++] = pc0;
    while (sp) {
        uint32_t pc = stack[--sp];
        if (marks[pc] == m->gen)
            continue;
        marks[pc] = m->gen;
        if (++*m->steps > m->max_steps)
            return -1;
        const re_inst *in = &prog[pc];
        int has = 0, hasn = 0;
        uint32_t pcp, ncp;
        switch (in->op) {
        case OP_JMP:
            stack[sp++] = in->x;
            break;
        case OP_SPLIT:
            stack[sp++] = in->y;
            stack[sp++] = in->x;
            break;
        case OP_BOL:
            if (pos == 0)
                stack[sp++] = pc + 1;
            break;
        case OP_EOL:
            if (pos == m->len)
                stack[sp++] = pc + 1;
            break;
        case OP_WORDB: case OP_NWORDB: {
            pcp = prev_cp(m, pos, &has);
            const char *q = m->s + pos;
            hasn = pos < m->len;
            ncp = hasn ? utf8_next(&q, m->s + m->len) : 0;
            int b = (has && is_word(pcp)) != (hasn && is_word(ncp));
            if (b == (in->op == OP_WORDB))
                stack[sp++] = pc + 1;
            break;
        }
        case OP_LOOK: case OP_NLOOK: {
            uint32_t g = m->gen;
            int r = run(m, in->x, pos, 1, level + 1);
            m->gen = g;
            if (r < 0)
                return r;
            if (r == (in->op == OP_LOOK))
                stack[sp++] = in->y;
            break;
        }
        default:
            list[(*n)++] = pc;
            break;
        }
    }
    return 0;
}

/* Run the program from `start` at byte pos. Anchored: only threads started at
 * pos (lookahead); otherwise a new thread starts at every position.
 * @return 1 match, 0 none, -1 step limit. */
static int run(vm *m, uint32_t start, size_t pos, int anchored, int level)
{
    size_t np = m->re->n;
    uint32_t *base = m->mem + (size_t)level * 4 * np;
    /* Each lookahead level has its own lists and marks; marks hold the
     * generation (one per input position) that last added a pc. */
    uint32_t *clist = base, *nlist = base + np, *marks = base + 2 * np,
             *stack = base + 3 * np;
    size_t cn = 0, nn = 0;
    memset(marks, 0, np * sizeof *marks);
    uint32_t gen = 1;
    m->gen = gen;
    if (add_thread(m, clist, &cn, marks, stack, start, pos, level) < 0)
        return -1;
    for (;;) {
        for (size_t t = 0; t < cn; t++)
            if (m->re->prog[clist[t]].op == OP_MATCH)
                return 1;
        if (pos >= m->len)
            return 0;
        if (anchored && cn == 0)
            return 0;
        const char *q = m->s + pos;
        uint32_t c = utf8_next(&q, m->s + m->len);
        size_t npos = (size_t)(q - m->s);
        gen++;
        if (gen == 0) {
            memset(marks, 0, np * sizeof *marks);
            gen = 1;
        }
        m->gen = gen;
        nn = 0;
        for (size_t t = 0; t < cn; t++) {
            const re_inst *in = &m->re->prog[clist[t]];
            int ok = 0;
            if (++*m->steps > m->max_steps)
                return -1;
            switch (in->op) {
            case OP_CHAR: ok = in->c == c; break;
            case OP_ANY:
                ok = c != '\n' && c != '\r' && c != 0x2028 && c != 0x2029;
                break;
            case OP_CLASS: ok = class_has(&m->re->classes[in->x], c); break;
            default: break;
            }
            if (ok && add_thread(m, nlist, &nn, marks, stack, clist[t] + 1,
                                 npos, level) < 0)
                return -1;
            m->gen = gen;
        }
        if (!anchored && add_thread(m, nlist, &nn, marks, stack, start, npos,
                                    level) < 0)
            return -1;
        m->gen = gen;
        uint32_t *tmp = clist;
        clist = nlist;
        nlist = tmp;
        cn = nn;
        pos = npos;
        if (anchored && cn == 0)
            return 0;
    }
}

int js_regex_search(const js_regex *re, const char *s, size_t len,
                    js_regex_scratch *sc, uint64_t *steps, uint64_t max_steps)
{
    size_t need = (size_t)(re->look_depth + 1) * 4 * re->n * sizeof(uint32_t);
    if (sc->cap < need) {
        void *nm = realloc(sc->mem, need);
        if (!nm)
            return -2;
        sc->mem = nm;
        sc->cap = need;
    }
    vm m = {.re = re, .s = s, .len = len, .mem = sc->mem, .steps = steps,
            .max_steps = max_steps};
    return run(&m, 0, 0, 0, 0);
}

void js_regex_scratch_free(js_regex_scratch *sc)
{
    if (!sc)
        return;
    free(sc->mem);
    sc->mem = NULL;
    sc->cap = 0;
}
