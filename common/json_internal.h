/*
 * json_internal: what json.c (parser, lookup), json_num.c (numbers) and
 * json_write.c (equality, writing) share. Not for users of json.h.
 */
#ifndef KK_JSON_INTERNAL_H
#define KK_JSON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json.h"

/* Objects with at least this many members (after duplicates are removed)
 * carry a hash index; smaller ones are scanned, comparing lengths first.
 * 16: a scan of <16 short keys costs about what hashing the key costs. */
#define JSON_INDEX_MIN 16

/* The index lives in the arena just before the members array: the slot at
 * ((json_index **)obj->u.obj.members)[-1] points to it. Every object's
 * members array has that slot, so the layout never depends on n. */
typedef struct json_index {
    uint64_t seed; /* per document, so inputs cannot be crafted to collide */
    uint32_t mask; /* n_slots - 1, n_slots a power of two >= 2 n */
    uint32_t slots[]; /* member index + 1; 0 = empty */
} json_index;

uint64_t json_hash_key(uint64_t seed, const char *key, size_t len);

/* Lengths, then the first byte, before memcmp: most keys differ there.
 * Every key is NUL-terminated, so key[0] is readable even when len is 0. */
static inline int json_key_eq(const json_member *m, const char *k, size_t len)
{
    return m->key_len == len && (!len || (m->key[0] == k[0] &&
                                          memcmp(m->key, k, len) == 0));
}

/* ---- the document's memory (json_arena.c) ------------------------------ */

/* The text buffer holds len + JSON_TEXT_SLACK bytes: len + 1 (a number
 * that ends the input writes its NUL one past it) + 8 (the string and
 * number fast paths store whole words). */
#define JSON_TEXT_SLACK 10

/* A buffer from json_arena.c's big_alloc: malloc'd (base NULL) or mapped. */
typedef struct json_big_mem {
    void *base; /* what to munmap (NULL: malloc'd, free the pointer) */
    size_t len;
} json_big_mem;

typedef struct json_arena_block {
    struct json_arena_block *next;
    json_big_mem mem;
    size_t pad; /* keeps the data 16-byte aligned */
} json_arena_block;

struct json_doc {
    json_arena_block *blocks;
    char *cur;        /* bump pointer in the newest block */
    size_t left;      /* bytes left there */
    size_t next_size; /* size of the next block */
    char *text;       /* decoded strings and number literals */
    json_big_mem text_mem;
    json_value *root;
    uint64_t seed;    /* hash seed of the object indexes */
};

/* A document with a text buffer for an input of len bytes; NULL when out
 * of memory. Free with json_doc_free. */
json_doc *json_doc_new(size_t len);

/* A new block holding at least size bytes; returns the first size of them. */
void *json_arena_grow(json_doc *d, size_t size);

/* 8-byte aligned allocation; NULL when out of memory or size overflows. */
static inline void *json_arena_alloc(json_doc *d, size_t size)
{
    if (size > SIZE_MAX - 7)
        return NULL;
    size = (size + 7) & ~(size_t)7;
    if (size <= d->left) {
        void *p = d->cur;
        d->cur += size;
        d->left -= size;
        return p;
    }
    return json_arena_grow(d, size);
}

/* Exponents whose magnitude exceeds this saturate (a literal like 1e(10^19)
 * cannot be held in int64); comparisons stay exact below it. */
#define JSON_EXP_SAT (INT64_MAX / 4)

/* The nearest double of a validated JSON number literal `lit` of `len`
 * bytes, lit[len] == '\0'. Fast paths (exact double arithmetic, then an
 * x87 extended product checked for a halfway tie), else strtod in the C
 * locale. *is_int as documented in json.h. */
double json_num_to_double(const char *lit, size_t len, int *is_int);

/* The plain path: strtod_l in the "C" locale (the oracle of the tests). */
double json_num_to_double_ref(const char *lit, size_t len);

#endif /* KK_JSON_INTERNAL_H */
