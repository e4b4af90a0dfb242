/*
 * json_obj: object member lookup (see json.h). Objects with at least
 * JSON_INDEX_MIN members carry a seeded hash index built by the parser
 * (json.c close_object); smaller ones are scanned.
 */
#include <string.h>

#include "json.h"
#include "json_internal.h"

uint64_t json_hash_key(uint64_t seed, const char *key, size_t len)
{
    const uint64_t k = 0x9e3779b97f4a7c15ULL;
    uint64_t h = seed ^ (len * k);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, key, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
        key += 8;
        len -= 8;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, key, len);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    }
    h ^= h >> 29;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 32;
    return h;
}

const json_value *json_obj_getn(const json_value *obj, const char *key,
                                size_t key_len)
{
    if (!obj || obj->type != JSON_OBJECT || (!key && key_len))
        return NULL;
    if (!key)
        key = ""; /* memcmp(NULL, ..., 0) is undefined */
    const json_member *m = obj->u.obj.members;
    size_t n = obj->u.obj.n;
    if (n >= JSON_INDEX_MIN) {
        const json_index *idx = ((json_index *const *)m)[-1];
        if (idx) {
            uint32_t h = (uint32_t)json_hash_key(idx->seed, key, key_len) & idx->mask;
            for (;;) {
                uint32_t s = idx->slots[h];
                if (!s)
                    return NULL;
                if (json_key_eq(&m[s - 1], key, key_len))
                    return m[s - 1].value;
                h = (h + 1) & idx->mask;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (json_key_eq(&m[i], key, key_len))
            return m[i].value;
    return NULL;
}

const json_value *json_obj_get(const json_value *obj, const char *key)
{
    return key ? json_obj_getn(obj, key, strlen(key)) : NULL;
}
