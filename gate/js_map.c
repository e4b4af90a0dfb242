/*
 * js_map: open-addressing hash maps used while compiling a schema (URIs,
 * anchors, json_value pointers). Validation never touches them: compiled
 * nodes hold direct pointers.
 */
#include <stdlib.h>
#include <string.h>

#include "js_internal.h"

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t hash_ptr(const void *p)
{
    uint64_t h = (uint64_t)(uintptr_t)p;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

void *js_smap_get(const js_smap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t i = (size_t)hash_str(key) & (m->cap - 1);
    while (m->ents[i].key) {
        if (strcmp(m->ents[i].key, key) == 0)
            return m->ents[i].val;
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

static int smap_grow(js_smap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    js_smap_ent *ne = calloc(ncap, sizeof *ne);
    if (!ne)
        return -1;
    for (size_t j = 0; j < m->cap; j++) {
        if (!m->ents[j].key)
            continue;
        size_t i = (size_t)hash_str(m->ents[j].key) & (ncap - 1);
        while (ne[i].key)
            i = (i + 1) & (ncap - 1);
        ne[i] = m->ents[j];
    }
    free(m->ents);
    m->ents = ne;
    m->cap = ncap;
    return 0;
}

int js_smap_put(js_smap *m, const char *key, void *val)
{
    if ((m->n + 1) * 4 > m->cap * 3 && smap_grow(m) != 0)
        return -1;
    size_t i = (size_t)hash_str(key) & (m->cap - 1);
    while (m->ents[i].key) {
        if (strcmp(m->ents[i].key, key) == 0) {
            m->ents[i].val = val;
            return 0;
        }
        i = (i + 1) & (m->cap - 1);
    }
    char *k = strdup(key);
    if (!k)
        return -1;
    m->ents[i].key = k;
    m->ents[i].val = val;
    m->n++;
    return 0;
}

void js_smap_free(js_smap *m, void (*free_val)(void *))
{
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->ents[i].key)
            continue;
        free(m->ents[i].key);
        if (free_val)
            free_val(m->ents[i].val);
    }
    free(m->ents);
    memset(m, 0, sizeof *m);
}

void *js_pmap_get(const js_pmap *m, const void *key)
{
    if (!m->cap)
        return NULL;
    size_t i = (size_t)hash_ptr(key) & (m->cap - 1);
    while (m->ents[i].key) {
        if (m->ents[i].key == key)
            return m->ents[i].val;
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

static int pmap_grow(js_pmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    js_pmap_ent *ne = calloc(ncap, sizeof *ne);
    if (!ne)
        return -1;
    for (size_t j = 0; j < m->cap; j++) {
        if (!m->ents[j].key)
            continue;
        size_t i = (size_t)hash_ptr(m->ents[j].key) & (ncap - 1);
        while (ne[i].key)
            i = (i + 1) & (ncap - 1);
        ne[i] = m->ents[j];
    }
    free(m->ents);
    m->ents = ne;
    m->cap = ncap;
    return 0;
}

int js_pmap_put(js_pmap *m, const void *key, void *val)
{
    if ((m->n + 1) * 4 > m->cap * 3 && pmap_grow(m) != 0)
        return -1;
    size_t i = (size_t)hash_ptr(key) & (m->cap - 1);
    while (m->ents[i].key) {
        if (m->ents[i].key == key) {
            m->ents[i].val = val;
            return 0;
        }
        i = (i + 1) & (m->cap - 1);
    }
    m->ents[i].key = key;
    m->ents[i].val = val;
    m->n++;
    return 0;
}

void js_pmap_free(js_pmap *m, void (*free_val)(void *))
{
    if (free_val)
        for (size_t i = 0; i < m->cap; i++)
            if (m->ents[i].key)
                free_val(m->ents[i].val);
    free(m->ents);
    memset(m, 0, sizeof *m);
}
