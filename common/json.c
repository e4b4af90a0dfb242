/*
 * json: the strict reader (see json.h for the contract, docs/json.md for
 * the decisions). Grammar accepted, RFC 8259 section 2-7, exactly:
 *
 *   JSON-text = ws value ws
 *   ws        = *( %x20 / %x09 / %x0A / %x0D )
 *   value     = false / null / true / object / array / number / string
 *   object    = '{' ws [ member *( ws ',' ws member ) ] ws '}'
 *   member    = string ws ':' ws value
 *   array     = '[' ws [ value *( ws ',' ws value ) ] ws ']'
 *   number    = [ '-' ] int [ frac ] [ exp ]
 *   int       = '0' / ( %x31-39 *DIGIT )
 *   frac      = '.' 1*DIGIT
 *   exp       = ( 'e' / 'E' ) [ '-' / '+' ] 1*DIGIT
 *   string    = '"' *char '"'
 *   char      = unescaped / '\' ( '"' / '\' / '/' / 'b' / 'f' / 'n' / 'r'
 *               / 't' / 'u' 4HEXDIG )
 *   unescaped = %x20-21 / %x23-5B / %x5D-10FFFF   (as valid UTF-8)
 *
 * Contents (the arena is json_arena.c, object lookup json_obj.c):
 *   1. error reporting (located, "expected X, found Y")
 *   2. strings (UTF-8 validation, escapes, a SWAR fast path)
 *   3. the parser (iterative: an explicit stack, so depth never touches
 *      the C stack)
 *
 * Memory: all decoded text (strings, keys, number literals) goes to one
 * buffer of len + JSON_TEXT_SLACK bytes allocated up front: a string's
 * decoded bytes plus its NUL never exceed its raw bytes with both quotes,
 * and a number's literal plus its NUL never exceed its bytes plus the
 * delimiter after it (or one spare byte for a number that ends the input);
 * 8 more bytes let the string fast path store whole words. Nodes, item
 * arrays and member arrays go to an arena of growing blocks.
 */
#include "json.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"
#include "kk_file.h"

/* Default nesting bound: JSONTestSuite's deepest valid case nests 500
 * arrays (n_structure_100000_opening_arrays is the hostile one). */
#define JSON_DEFAULT_MAX_DEPTH 512

/* ---- 1. error reporting ---------------------------------------------- */

typedef struct frame {
    json_value *v;      /* the open array or object */
    size_t base;        /* its first entry in items[] or mems[] */
    size_t item_base;   /* n_items when it opened (its index in a parent array) */
    const char *key;    /* object: the pending member name */
    size_t key_len;
} frame;

typedef struct parser {
    const uint8_t *begin, *end;
    const char *name;
    kk_err *err;
    json_doc *doc;
    char *text;                 /* write cursor in doc->text */
    frame *frames;
    size_t n_frames, cap_frames, max_depth;
    int no_duplicates;          /* json_parse_opts.no_duplicates */
    json_value **items;         /* pending array elements, all open arrays */
    size_t n_items, cap_items;
    json_member *mems;          /* pending members, all open objects */
    size_t n_mems, cap_mems;
    uint32_t line;              /* line of the current position */
    const uint8_t *line_start;  /* first byte of that line */
} parser;

/* "end of input", "'x'", "newline (0x0a)", "byte 0xc3". */
static const char *describe(const uint8_t *p, const uint8_t *end, char *buf,
                            size_t cap)
{
    if (p >= end)
        return "end of input";
    unsigned c = *p;
    switch (c) {
    case '\n': return "newline (0x0a)";
    case '\r': return "carriage return (0x0d)";
    case '\t': return "tab (0x09)";
    case '\f': return "form feed (0x0c)";
    case ' ': return "' '";
    default: break;
    }
    if (c > 0x20 && c < 0x7f)
        snprintf(buf, cap, "'%c'", (char)c);
    else
        snprintf(buf, cap, "byte 0x%02x", c);
    return buf;
}

/* The JSON pointer (RFC 6901) of where the parser is: each open container
 * adds the member name being read or the index of the element being read
 * (between elements: the next one). A one-line 7 MB evidence file is
 * better located by "/arms/3/samples/17/margin" than by its column alone.
 * NUL in a name is written "\u0000"; an overlong pointer ends in "...". */
static void where_pointer(const parser *ps, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ps->n_frames; i++) {
        const frame *f = &ps->frames[i];
        char seg[24];
        const char *s = seg;
        size_t len;
        if (f->v->type == JSON_ARRAY) {
            size_t next = i + 1 < ps->n_frames ? ps->frames[i + 1].item_base : ps->n_items;
            len = (size_t)snprintf(seg, sizeof seg, "%zu", next - f->base);
        } else if (f->key) {
            s = f->key;
            len = f->key_len;
        } else {
            break; /* no member name read yet: the object itself */
        }
        if (n + 2 >= cap)
            goto overlong;
        out[n++] = '/';
        for (size_t k = 0; k < len; k++) {
            const char *rep = s[k] == '~' ? "~0" : s[k] == '/' ? "~1"
                              : s[k] == '\0' ? "\\u0000" : NULL;
            size_t rl = rep ? strlen(rep) : 1;
            if (n + rl + 1 >= cap)
                goto overlong;
            if (rep)
                memcpy(out + n, rep, rl);
            else
                out[n] = s[k];
            n += rl;
        }
        out[n] = '\0';
    }
    return;
overlong:
    if (cap >= 4) {
        n = n + 4 <= cap ? n : cap - 4;
        memcpy(out + n, "...", 4);
    }
}

/* Locate `at` (line and column recomputed from the start: errors are rare,
 * and this stays right whatever the caller tracked) and set err. */
static kk_code perr(parser *ps, kk_code code, const uint8_t *at,
                    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static kk_code perr(parser *ps, kk_code code, const uint8_t *at,
                    const char *fmt, ...)
{
    if (!ps->err)
        return code;
    kk_err_clear(ps->err);
    ps->err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err->msg, sizeof ps->err->msg, fmt, ap);
    va_end(ap);
    kk_err_file(ps->err, ps->name ? ps->name : "");
    if (at > ps->end)
        at = ps->end;
    long long line = 1;
    const uint8_t *ls = ps->begin;
    for (const uint8_t *q = ps->begin; q < at; q++)
        if (*q == '\n') {
            line++;
            ls = q + 1;
        }
    long long col = (long long)(at - ls) + 1;
    kk_err_offset(ps->err, (int64_t)(at - ps->begin));
    kk_err_linecol(ps->err, line > 0x7fffffff ? 0x7fffffff : (int)line,
                   col > 0x7fffffff ? 0x7fffffff : (int)col);
    where_pointer(ps, ps->err->where, sizeof ps->err->where);
    return code;
}

#define FOUND(p) describe((p), ps->end, fbuf, sizeof fbuf)

static kk_code nomem(parser *ps, const uint8_t *at)
{
    return perr(ps, KK_E_NOMEM, at, "out of memory while parsing JSON");
}

/* ---- 2. strings -------------------------------------------------------- */

/* Bytes a string run copies as they are: 0x20..0x7f except '"' and '\'. */
static const uint8_t PLAIN[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(0), R16(0),
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20: '"' */
    R16(1), R16(1),
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50: '\' */
    R16(1), R16(1),
    R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0)
#undef R16
};

/* Nonzero when any of the 8 bytes of x is not PLAIN: '"', '\', < 0x20 or
 * >= 0x80 (the classic "has zero byte" bit trick; exact as a yes/no). */
static inline uint64_t swar_special(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    uint64_t t = ((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x);
    return (t | x) & highs;
}

/* Length (2..4) of the valid UTF-8 sequence at s (s[0] >= 0x80), or 0
 * with *why set (Unicode 15 table 3-7, well-formed byte sequences). */
static size_t utf8_seq(const uint8_t *s, const uint8_t *end, const char **why)
{
    size_t avail = (size_t)(end - s);
    unsigned c = s[0], lo = 0x80, hi = 0xbf, n;
    if (c < 0xc0) {
        *why = "stray continuation byte";
        return 0;
    }
    if (c < 0xc2) {
        *why = "overlong 2-byte form";
        return 0;
    }
    if (c < 0xe0) {
        n = 2;
    } else if (c < 0xf0) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* below: overlong */
        if (c == 0xed)
            hi = 0x9f; /* above: UTF-16 surrogates U+D800..U+DFFF */
    } else if (c < 0xf5) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90; /* below: overlong */
        if (c == 0xf4)
            hi = 0x8f; /* above: beyond U+10FFFF */
    } else {
        *why = "byte never valid in UTF-8 (code point beyond U+10FFFF)";
        return 0;
    }
    if (avail < 2 || (s[1] & 0xc0) != 0x80) {
        *why = "truncated sequence";
        return 0;
    }
    if (s[1] < lo || s[1] > hi) {
        *why = c == 0xed ? "encoded UTF-16 surrogate"
               : c == 0xf4 ? "code point beyond U+10FFFF"
                           : "overlong form";
        return 0;
    }
    for (unsigned i = 2; i < n; i++)
        if (avail <= i || (s[i] & 0xc0) != 0x80) {
            *why = "truncated sequence";
            return 0;
        }
    return n;
}

static int hex4(const uint8_t *s, const uint8_t *end, unsigned *out,
                const uint8_t **bad)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        if (s + i >= end) {
            *bad = s + i;
            return 0;
        }
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else {
            *bad = s + i;
            return 0;
        }
        v = v << 4 | d;
    }
    *out = v;
    return 1;
}

static char *put_utf8(char *dst, unsigned cp)
{
    if (cp < 0x80) {
        *dst++ = (char)cp;
    } else if (cp < 0x800) {
        *dst++ = (char)(0xc0 | cp >> 6);
        *dst++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *dst++ = (char)(0xe0 | cp >> 12);
        *dst++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *dst++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *dst++ = (char)(0xf0 | cp >> 18);
        *dst++ = (char)(0x80 | (cp >> 12 & 0x3f));
        *dst++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *dst++ = (char)(0x80 | (cp & 0x3f));
    }
    return dst;
}

/* p is at the opening quote. Decodes into ps->text; returns the byte after
 * the closing quote, or NULL with the error set.
 *
 * Fast path: 8 bytes at a time, each word stored to dst before it is
 * tested (a word with a special byte is then redone byte by byte, so the
 * extra bytes are overwritten or lie past the string's NUL). The store stays
 * inside doc->text: decoded text never runs ahead of the input (at input
 * position q, dst - text <= q - begin - 1), q + 8 <= end, and the buffer
 * has len + JSON_TEXT_SLACK bytes. */
static const uint8_t *parse_string(parser *ps, const uint8_t *p,
                                   const char **out, size_t *out_len)
{
    const uint8_t *end = ps->end;
    char fbuf[32];
    char *dst0 = ps->text, *dst = dst0;
    const uint8_t *q = p + 1;
    for (;;) {
        while (end - q >= 8) {
            uint64_t x;
            memcpy(&x, q, 8);
            memcpy(dst, &x, 8);
            if (swar_special(x))
                break;
            q += 8;
            dst += 8;
        }
        while (q < end && PLAIN[*q])
            *dst++ = (char)*q++;
        if (q >= end) {
            perr(ps, KK_E_FORMAT, q,
                 "unterminated string: expected '\"', found end of input");
            return NULL;
        }
        unsigned c = *q;
        if (c >= 0x80) {
            const char *why = "";
            size_t n = utf8_seq(q, end, &why);
            if (!n) {
                perr(ps, KK_E_FORMAT, q,
                     "invalid UTF-8 in string: %s (byte 0x%02x)", why, c);
                return NULL;
            }
            for (size_t i = 0; i < n; i++)
                dst[i] = (char)q[i];
            dst += n;
            q += n;
            continue;
        }
        if (c == '"') {
            *dst = '\0';
            *out = dst0;
            *out_len = (size_t)(dst - dst0);
            ps->text = dst + 1;
            return q + 1;
        }
        if (c != '\\') {
            perr(ps, KK_E_FORMAT, q,
                 "raw control character 0x%02x in string (must be escaped)", c);
            return NULL;
        }
        const uint8_t *esc = q;
        if (q + 1 >= end) {
            perr(ps, KK_E_FORMAT, q + 1,
                 "unterminated escape: expected an escape character, found end of input");
            return NULL;
        }
        switch (q[1]) {
        case '"': *dst++ = '"'; break;
        case '\\': *dst++ = '\\'; break;
        case '/': *dst++ = '/'; break;
        case 'b': *dst++ = '\b'; break;
        case 'f': *dst++ = '\f'; break;
        case 'n': *dst++ = '\n'; break;
        case 'r': *dst++ = '\r'; break;
        case 't': *dst++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            const uint8_t *bad = NULL;
            if (!hex4(q + 2, end, &cp, &bad)) {
                perr(ps, KK_E_FORMAT, bad,
                     "invalid \\u escape: expected 4 hex digits, found %s",
                     FOUND(bad));
                return NULL;
            }
            q += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                perr(ps, KK_E_FORMAT, esc,
                     "lone low surrogate \\u%04X (not UTF-8 encodable)", cp);
                return NULL;
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (end - q < 8 || q[2] != '\\' || q[3] != 'u' ||
                    !hex4(q + 4, end, &lo, &bad) || lo < 0xdc00 || lo > 0xdfff) {
                    perr(ps, KK_E_FORMAT, esc,
                         "lone high surrogate \\u%04X: expected a \\uDC00..\\uDFFF "
                         "escape after it", cp);
                    return NULL;
                }
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                q += 6;
            }
            dst = put_utf8(dst, cp);
            break;
        }
        default:
            perr(ps, KK_E_FORMAT, q + 1,
                 "invalid escape: expected one of \" \\ / b f n r t u after '\\', found %s",
                 FOUND(q + 1));
            return NULL;
        }
        q += 2;
    }
}

/* ---- 3. the parser --------------------------------------------------------- */

static int grow(void **buf, size_t *cap, size_t elem)
{
    size_t n = *cap ? *cap * 2 : 64;
    if (n > SIZE_MAX / elem)
        return 0;
    void *p = realloc(*buf, n * elem);
    if (!p)
        return 0;
    *buf = p;
    *cap = n;
    return 1;
}

static inline json_value *new_node(parser *ps, json_type t, const uint8_t *p)
{
    json_value *v = json_arena_alloc(ps->doc, sizeof *v);
    if (!v)
        return NULL;
    v->type = t;
    v->line = ps->line;
    size_t col = (size_t)(p - ps->line_start) + 1;
    v->col = col > UINT32_MAX ? UINT32_MAX : (uint32_t)col;
    v->offset = (size_t)(p - ps->begin);
    return v;
}

static kk_code close_array(parser *ps, const uint8_t *at)
{
    frame *f = &ps->frames[ps->n_frames - 1];
    size_t n = ps->n_items - f->base;
    json_value **items = NULL;
    if (n) {
        items = json_arena_alloc(ps->doc, n * sizeof *items);
        if (!items)
            return nomem(ps, at);
        memcpy(items, ps->items + f->base, n * sizeof *items);
    }
    f->v->u.arr.items = items;
    f->v->u.arr.n = n;
    ps->n_items = f->base;
    return KK_OK;
}

static inline uint64_t key_bit(const char *k, size_t len)
{
    /* k[0] and k[len - 1 or 0] exist: names are NUL-terminated. */
    unsigned h = (unsigned)len * 31u + (uint8_t)k[0] * 7u +
                 (uint8_t)k[len ? len - 1 : 0];
    return UINT64_C(1) << (h & 63);
}

/* A member name given twice when opts.no_duplicates: KK_E_DUPLICATE at
 * the second occurrence's value, `where` the name. */
static kk_code dup_err(parser *ps, const json_member *m)
{
    perr(ps, KK_E_DUPLICATE, ps->begin + m->value->offset,
         "member \"%.64s\" given twice in one object; allowed: each name once", m->key);
    if (ps->err)
        kk_err_where(ps->err, m->key);
    return KK_E_DUPLICATE;
}

/* Duplicates: the last value wins, at the first occurrence's position
 * (refused with opts.no_duplicates). */
static kk_code close_object(parser *ps, const uint8_t *at)
{
    frame *f = &ps->frames[ps->n_frames - 1];
    size_t n = ps->n_mems - f->base, out = 0;
    f->v->u.obj.members = NULL;
    f->v->u.obj.n = 0;
    ps->n_mems = f->base;
    if (!n)
        return KK_OK;
    const json_member *src = ps->mems + f->base;
    if (n > (SIZE_MAX - sizeof(json_index *)) / sizeof(json_member))
        return nomem(ps, at);
    json_index **slot = json_arena_alloc(ps->doc, sizeof *slot + n * sizeof(json_member));
    if (!slot)
        return nomem(ps, at);
    json_member *m = (json_member *)(slot + 1);
    *slot = NULL;
    if (n < JSON_INDEX_MIN) {
        /* A 64-bit sketch of (length, first byte, last byte) of the names
         * kept so far: a name whose bit is clear is new without any
         * comparison, so the usual object (no duplicates) costs O(n). */
        uint64_t seen = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t bit = key_bit(src[i].key, src[i].key_len);
            size_t j = out;
            if (seen & bit) {
                j = 0;
                while (j < out && !json_key_eq(&m[j], src[i].key, src[i].key_len))
                    j++;
            }
            seen |= bit;
            if (j < out && ps->no_duplicates)
                return dup_err(ps, &src[i]);
            if (j < out)
                m[j].value = src[i].value;
            else
                m[out++] = src[i];
        }
    } else {
        if (n >= UINT32_MAX / 2)
            return perr(ps, KK_E_LIMIT, at, "object with more than 2^31 members");
        uint32_t n_slots = 32;
        while (n_slots < 2 * n)
            n_slots *= 2;
        json_index *idx = json_arena_alloc(ps->doc, sizeof *idx + (size_t)n_slots * 4);
        if (!idx)
            return nomem(ps, at);
        idx->seed = ps->doc->seed;
        idx->mask = n_slots - 1;
        memset(idx->slots, 0, (size_t)n_slots * 4);
        for (size_t i = 0; i < n; i++) {
            uint32_t h = (uint32_t)json_hash_key(idx->seed, src[i].key, src[i].key_len) & idx->mask;
            for (;;) {
                uint32_t s = idx->slots[h];
                if (!s) {
                    m[out] = src[i];
                    idx->slots[h] = (uint32_t)++out;
                    break;
                }
                if (json_key_eq(&m[s - 1], src[i].key, src[i].key_len)) {
                    if (ps->no_duplicates)
                        return dup_err(ps, &src[i]);
                    m[s - 1].value = src[i].value;
                    break;
                }
                h = (h + 1) & idx->mask;
            }
        }
        if (out >= JSON_INDEX_MIN)
            *slot = idx;
    }
    f->v->u.obj.members = m;
    f->v->u.obj.n = out;
    return KK_OK;
}

static kk_code push_frame(parser *ps, json_value *v, const uint8_t *at)
{
    if (ps->n_frames >= ps->max_depth)
        return perr(ps, KK_E_LIMIT, at,
                    "nesting deeper than %zu arrays and objects (max_depth)",
                    ps->max_depth);
    if (ps->n_frames == ps->cap_frames &&
        !grow((void **)&ps->frames, &ps->cap_frames, sizeof(frame)))
        return nomem(ps, at);
    frame *f = &ps->frames[ps->n_frames++];
    f->v = v;
    f->base = v->type == JSON_ARRAY ? ps->n_items : ps->n_mems;
    f->item_base = ps->n_items;
    f->key = NULL;
    f->key_len = 0;
    return KK_OK;
}

#define IS_DIGIT(c) ((unsigned)(c) - '0' < 10u)

/* The number fast path (see parse_text). Powers of ten up to 10^22 are
 * exact doubles; U10 holds 10^0..10^15 as integers for the is_int test. */
#define EXP_FAST_MAX 9999u
static const double P10_FAST[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const uint64_t U10[16] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
    10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
    100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull};

/* Skip RFC 8259 whitespace, counting lines (newlines occur nowhere else:
 * strings cannot hold a raw LF). */
#define SKIP_WS()                                                             \
    do {                                                                      \
        while (p < end && *p <= ' ') {                                        \
            if (*p == '\n') {                                                 \
                ps->line += ps->line != UINT32_MAX; /* saturates */           \
                ps->line_start = p + 1;                                       \
            } else if (*p != ' ' && *p != '\t' && *p != '\r')                 \
                break;                                                        \
            p++;                                                              \
        }                                                                     \
    } while (0)

#define FAIL(...)                                                             \
    do {                                                                      \
        perr(ps, KK_E_FORMAT, __VA_ARGS__);                                   \
        return KK_E_FORMAT;                                                   \
    } while (0)
#define NODE(var, t, at)                                                      \
    do {                                                                      \
        if (!((var) = new_node(ps, (t), (at))))                               \
            return nomem(ps, (at));                                           \
    } while (0)

static kk_code parse_text(parser *ps)
{
    const uint8_t *p = ps->begin, *end = ps->end;
    char fbuf[32];
    json_value *v;
    kk_code rc;

value:
    SKIP_WS();
    if (p >= end)
        FAIL(p, "expected a value, found end of input");
    switch (*p) {
    case '{':
        NODE(v, JSON_OBJECT, p);
        if ((rc = push_frame(ps, v, p)) != KK_OK)
            return rc;
        p++;
        SKIP_WS();
        if (p < end && *p == '}') {
            p++;
            goto close_obj;
        }
        if (p >= end || *p != '"')
            FAIL(p, "expected '\"' (a member name) or '}' after '{', found %s",
                 FOUND(p));
        goto key;
    case '[':
        NODE(v, JSON_ARRAY, p);
        if ((rc = push_frame(ps, v, p)) != KK_OK)
            return rc;
        p++;
        SKIP_WS();
        if (p < end && *p == ']') {
            p++;
            goto close_arr;
        }
        goto value;
    case '"': {
        NODE(v, JSON_STRING, p);
        const char *s;
        size_t n;
        if (!(p = parse_string(ps, p, &s, &n)))
            return KK_E_FORMAT;
        v->u.str.s = s;
        v->u.str.len = n;
        goto done;
    }
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9': {
        /* One pass: validate and, for up to 19 digits and a small
         * exponent, compute the value (Clinger's exact case, as in
         * json_num_to_double, which handles everything else). */
        const uint8_t *s = p;
        NODE(v, JSON_NUMBER, p);
        int neg = 0, exp_neg = 0;
        uint64_t w = 0;     /* the digits, while there are at most 19 */
        unsigned n_dig = 0; /* digits of int and frac parts */
        int n_frac = 0;     /* digits after the point (<= n_dig, capped) */
        uint32_t e = 0;     /* exponent digits, saturated at EXP_FAST_MAX+1 */
        if (*p == '-') {
            neg = 1;
            p++;
            if (p >= end || !IS_DIGIT(*p))
                FAIL(p, "expected a digit after '-', found %s", FOUND(p));
        }
        if (*p == '0') {
            p++;
            n_dig = 1;
            if (p < end && IS_DIGIT(*p))
                FAIL(p, "leading zeros are not allowed: expected '.', 'e' or "
                        "the end of the number after '0', found %s", FOUND(p));
        } else {
            while (p < end && IS_DIGIT(*p)) {
                if (n_dig < 19)
                    w = w * 10 + (uint64_t)(*p - '0');
                n_dig++;
                p++;
            }
        }
        if (p < end && *p == '.') {
            p++;
            if (p >= end || !IS_DIGIT(*p))
                FAIL(p, "expected a digit after '.', found %s", FOUND(p));
            while (p < end && IS_DIGIT(*p)) {
                if (n_dig < 19) {
                    w = w * 10 + (uint64_t)(*p - '0');
                    n_frac++;
                }
                n_dig++;
                p++;
            }
        }
        if (p < end && (*p | 0x20) == 'e') {
            p++;
            if (p < end && (*p == '+' || *p == '-'))
                exp_neg = *p++ == '-';
            if (p >= end || !IS_DIGIT(*p))
                FAIL(p, "expected a digit in the exponent, found %s", FOUND(p));
            while (p < end && IS_DIGIT(*p)) {
                if (e <= EXP_FAST_MAX)
                    e = e * 10 + (uint32_t)(*p - '0');
                p++;
            }
        }
        size_t n = (size_t)(p - s);
        char *t = ps->text;
        /* Short literals as two word stores (in bounds as in parse_string:
         * t - text <= s - begin and s + 16 <= end). */
        if (n <= 16 && end - s >= 16)
            memcpy(t, s, 16);
        else
            memcpy(t, s, n);
        t[n] = '\0';
        ps->text = t + n + 1;
        v->u.num.text = t;
        v->u.num.len = n;
        int64_t q = (exp_neg ? -(int64_t)e : (int64_t)e) - n_frac;
        if (n_dig <= 19 && e <= EXP_FAST_MAX && w <= (UINT64_C(1) << 53) &&
            q >= -22 && q <= 22) {
            double d = q < 0 ? (double)w / P10_FAST[-q] : (double)w * P10_FAST[q];
            v->u.num.d = neg ? -d : d;
            /* w * 10^q is an integer iff q >= 0 or 10^-q divides w; w <
             * 2^53 < 10^16, so for -q >= 16 only w == 0 qualifies. */
            v->u.num.is_int = w == 0 || q >= 0 || (q > -16 && w % U10[-q] == 0);
        } else {
            v->u.num.d = json_num_to_double(t, n, &v->u.num.is_int);
        }
        goto done;
    }
    case 't':
        if (end - p < 4 || memcmp(p, "true", 4) != 0)
            FAIL(p, "invalid literal: expected 'true', found %s", FOUND(p));
        NODE(v, JSON_TRUE, p);
        p += 4;
        goto done;
    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5) != 0)
            FAIL(p, "invalid literal: expected 'false', found %s", FOUND(p));
        NODE(v, JSON_FALSE, p);
        p += 5;
        goto done;
    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4) != 0)
            FAIL(p, "invalid literal: expected 'null', found %s", FOUND(p));
        NODE(v, JSON_NULL, p);
        p += 4;
        goto done;
    default:
        /* RFC 8259 section 8.1: senders MUST NOT add a BOM; parsers MAY
         * ignore one. We reject it (a gate reads exactly what was sent), and
         * say why, since the bytes are invisible in an editor. */
        if (p == ps->begin && end - p >= 3 && p[0] == 0xef && p[1] == 0xbb &&
            p[2] == 0xbf)
            FAIL(p, "byte order mark (EF BB BF) at the start: JSON text must "
                    "not begin with one (RFC 8259 section 8.1)");
        FAIL(p, "expected a value (object, array, string, number, true, "
                "false or null), found %s", FOUND(p));
    }

close_arr:
    if ((rc = close_array(ps, p)) != KK_OK)
        return rc;
    v = ps->frames[--ps->n_frames].v;
    goto done;
close_obj:
    if ((rc = close_object(ps, p)) != KK_OK)
        return rc;
    v = ps->frames[--ps->n_frames].v;
    /* fall through */
done:
    if (!ps->n_frames) {
        ps->doc->root = v;
        SKIP_WS();
        if (p < end)
            FAIL(p, "expected end of input after the top-level value, found %s",
                 FOUND(p));
        return KK_OK;
    }
    {
        frame *f = &ps->frames[ps->n_frames - 1];
        if (f->v->type == JSON_ARRAY) {
            if (ps->n_items == ps->cap_items &&
                !grow((void **)&ps->items, &ps->cap_items, sizeof *ps->items))
                return nomem(ps, p);
            ps->items[ps->n_items++] = v;
            SKIP_WS();
            if (p < end && *p == ',') {
                p++;
                goto value;
            }
            if (p < end && *p == ']') {
                p++;
                goto close_arr;
            }
            FAIL(p, "expected ',' or ']' after array element, found %s", FOUND(p));
        }
        if (ps->n_mems == ps->cap_mems &&
            !grow((void **)&ps->mems, &ps->cap_mems, sizeof *ps->mems))
            return nomem(ps, p);
        json_member *m = &ps->mems[ps->n_mems++];
        m->key = f->key;
        m->key_len = f->key_len;
        m->value = v;
        SKIP_WS();
        if (p < end && *p == ',') {
            p++;
            SKIP_WS();
            if (p >= end || *p != '"')
                FAIL(p, "expected '\"' (a member name) after ',' in object, found %s",
                     FOUND(p));
            goto key;
        }
        if (p < end && *p == '}') {
            p++;
            goto close_obj;
        }
        FAIL(p, "expected ',' or '}' after object member, found %s", FOUND(p));
    }

key: /* p is at the '"' of a member name */
    {
        frame *f = &ps->frames[ps->n_frames - 1];
        if (!(p = parse_string(ps, p, &f->key, &f->key_len)))
            return KK_E_FORMAT;
        SKIP_WS();
        if (p >= end || *p != ':')
            FAIL(p, "expected ':' after object member name, found %s", FOUND(p));
        p++;
        goto value;
    }
}

kk_code json_parse(const char *text, size_t len, const char *name,
                   const json_parse_opts *opts, json_doc **out, kk_err *err)
{
    parser ps;
    memset(&ps, 0, sizeof ps);
    /* NULL + len is undefined: a NULL text reads as the empty input, and
     * with len > 0 it is a caller's bug, reported at offset 0. */
    ps.begin = text ? (const uint8_t *)text : (const uint8_t *)"";
    ps.end = text ? ps.begin + len : ps.begin;
    ps.name = name;
    ps.err = err;
    ps.max_depth = opts && opts->max_depth ? opts->max_depth : JSON_DEFAULT_MAX_DEPTH;
    ps.no_duplicates = opts && opts->no_duplicates;
    ps.line = 1;
    ps.line_start = ps.begin;
    *out = NULL;
    if (!text && len)
        return perr(&ps, KK_E_INTERNAL, ps.begin, "json_parse: NULL text of %zu bytes",
                    len);

    json_doc *doc = json_doc_new(len);
    if (!doc)
        return nomem(&ps, ps.begin);
    ps.doc = doc;
    ps.text = doc->text;
    kk_code rc = parse_text(&ps);
    free(ps.frames);
    free(ps.items);
    free(ps.mems);
    if (rc != KK_OK) {
        json_doc_free(doc);
        return rc;
    }
    if (err)
        kk_err_clear(err);
    *out = doc;
    return KK_OK;
}

kk_code json_parse_file(const char *path, const json_parse_opts *opts,
                        json_doc **out, kk_err *err)
{
    char *data = NULL;
    size_t len = 0;
    *out = NULL;
    kk_code rc = kk_file_read_all(path, &data, &len, err);
    if (rc != KK_OK)
        return rc;
    rc = json_parse(data, len, path, opts, out, err);
    free(data);
    return rc;
}
