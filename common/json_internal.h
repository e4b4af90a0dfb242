/*
 * json_internal: what json.c (parser, lookup), json_num.c (numbers) and
 * json_write.c (equality, writing) share. Not for users of json.h.
 */
#ifndef KK_JSON_INTERNAL_H
#define KK_JSON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

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
