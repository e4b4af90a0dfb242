/*
 * json: a strict, located JSON reader (RFC 8259) for the gate and the tests.
 *
 * Why not cJSON: it accepts invalid JSON (leading zeros, raw control
 * characters in strings, bad escapes), cannot hold "\u0000" inside a string,
 * looks object members up ignoring case and keeps duplicates (first wins).
 * This reader:
 *   - accepts exactly RFC 8259's grammar (whitespace = SP HT LF CR only);
 *   - rejects invalid UTF-8 anywhere (overlongs, surrogates encoded in UTF-8,
 *     > U+10FFFF, truncated sequences) and lone surrogate escapes;
 *   - decodes strings to UTF-8 that may contain NUL (use the length);
 *   - keeps each number's literal so big integers and decimals compare exactly;
 *   - duplicate object member names: the last one wins (ECMAScript
 *     JSON.parse, Python); the member keeps the position of its first
 *     occurrence; with opts.no_duplicates they are KK_E_DUPLICATE;
 *   - bounds nesting depth (opts.max_depth) and reports every error with
 *     line, column (1-based, in bytes) and byte offset.
 *
 * Ownership: json_parse returns a json_doc that owns every value, string
 * and array (one arena); pointers into it stay valid until json_doc_free.
 * Values are read-only for users.
 */
#ifndef KK_JSON_H
#define KK_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kk_err.h"

typedef enum json_type {
    JSON_NULL = 0,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_type;

typedef struct json_value json_value;

typedef struct json_member {
    const char *key;  /* decoded UTF-8, NUL-terminated, may contain NUL */
    size_t key_len;
    json_value *value;
} json_member;

struct json_value {
    json_type type;
    uint32_t line, col; /* 1-based position of the value's first byte */
    size_t offset;      /* byte offset of the value's first byte */
    union {
        struct {
            const char *s; /* decoded UTF-8, NUL-terminated, may contain NUL */
            size_t len;    /* bytes */
        } str;
        struct {
            const char *text; /* the literal as written (not NUL-terminated) */
            size_t len;
            double d;         /* nearest double (strtod semantics, C locale);
                                 +-HUGE_VAL when out of range */
            int is_int;       /* 1 when the *value* is an integer: 1.0 and
                                 1e2 are, 1.5 is not (exact, from the digits) */
        } num;
        struct {
            json_value **items;
            size_t n;
        } arr;
        struct {
            json_member *members; /* in document order, duplicates removed */
            size_t n;
        } obj;
    } u;
};

typedef struct json_parse_opts {
    size_t max_depth; /* arrays+objects nested; 0 means the default (512) */
    int no_duplicates; /* 1: a member name twice in one object is KK_E_DUPLICATE
                          (located at the second, `where` the name) */
} json_parse_opts;

typedef struct json_doc json_doc;

/* Parse `len` bytes (need not be NUL-terminated). `name` is the file name
 * put in error locations (may be NULL). On success *out owns the document.
 * @return KK_OK, or KK_E_FORMAT / KK_E_LIMIT / KK_E_NOMEM (KK_E_DUPLICATE
 * with opts.no_duplicates) with err located. */
kk_code json_parse(const char *text, size_t len, const char *name,
                   const json_parse_opts *opts, json_doc **out, kk_err *err);

/* Read and parse a file (kk_file_read_all + json_parse). */
kk_code json_parse_file(const char *path, const json_parse_opts *opts,
                        json_doc **out, kk_err *err);

const json_value *json_doc_root(const json_doc *doc);
void json_doc_free(json_doc *doc); /* accepts NULL */

/* Member lookup (case-sensitive, exact bytes); NULL when absent or when
 * obj is not an object. Large objects are indexed, so this is O(1) average. */
const json_value *json_obj_get(const json_value *obj, const char *key);
const json_value *json_obj_getn(const json_value *obj, const char *key,
                                size_t key_len);

/* Exact decimal form of a number: value = (neg ? -1 : 1) * 0.d1d2d3... *
 * 10^exp10 with digits[0] != '0' (digits "" and exp10 0 for zero), no
 * trailing zeros. digits point into `buf` (cap bytes) when needed;
 * @return 0, or -1 when buf is too small (cap >= literal length always suffices). */
typedef struct json_decimal {
    int neg;
    const char *digits;
    size_t n_digits;
    int64_t exp10;
} json_decimal;
int json_num_decimal(const json_value *num, json_decimal *out, char *buf,
                     size_t cap);

/* Exact numeric comparison of two JSON numbers: <0, 0, >0. 1 == 1.0 == 1e0. */
int json_num_cmp(const json_value *a, const json_value *b);

/* Exact comparison of a number with a double (for thresholds): <0, 0, >0.
 * Exact means against the double's binary value: the literal 0.05 is less
 * than the double 0.05 (0.05000000000000000277...). To compare with a
 * threshold written as text, use json_num_cmp_literal. A NaN b gives -1;
 * b = +-inf compares beyond every number (1e400 < inf). */
int json_num_cmp_double(const json_value *a, double b);

/* Exact comparison of a number with a JSON number literal `lit` (len
 * bytes, e.g. a threshold as written in a preset): *out = <0, 0, >0.
 * @return 0, or -1 when a is not a number or lit is not a valid literal. */
int json_num_cmp_literal(const json_value *a, const char *lit, size_t len,
                         int *out);

/* JSON Schema equality: numbers by value, strings by bytes, arrays in order,
 * objects as unordered sets of members; true != 1. */
int json_equal(const json_value *a, const json_value *b);

/* Writing helpers for programs that must not link cJSON (the gate):
 * a JSON string literal with escapes, and a double that reads back exactly
 * (the fewest significant digits that round-trip, in %g form, integers
 * below 1e17 in full: 0.1, 100, 1e+23, 5e-324; C locale). */
void json_write_string(FILE *out, const char *s, size_t len);
void json_write_double(FILE *out, double d);
/* The same text into buf (40 bytes always suffice); "null" for NaN and
 * infinities, which JSON cannot hold. @return snprintf's count. */
int json_format_double(char *buf, size_t cap, double d);

/* The canonical form of a value (json_canon.c; docs/evidence.md "Canonical
 * JSON"): no whitespace, object members sorted by name bytes, strings as
 * json_write_string, numbers as json_format_double of the nearest double
 * (-0 as 0). *out (malloc'd, *len bytes, NUL-terminated) is the caller's.
 * @return KK_OK, KK_E_NOMEM, or KK_E_FORMAT for a number beyond the double
 * range. */
kk_code json_canonical(const json_value *v, char **out, size_t *len, kk_err *err);
/* sha256 of the canonical form, 64 lower-case hex digits ("" on error):
 * evidence's config_sha256, computed so by the harness and the gate. */
kk_code json_canonical_sha256(const json_value *v, char out[65], kk_err *err);

/* Number of Unicode code points in valid UTF-8 (JSON Schema string lengths). */
size_t json_utf8_count(const char *s, size_t len);

#endif /* KK_JSON_H */
