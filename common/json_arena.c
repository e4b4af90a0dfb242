/*
 * json_arena: the memory of a json_doc (see json_internal.h): an arena of
 * doubling blocks for nodes, item arrays and member arrays, and one text
 * buffer for decoded strings and number literals. Freed all at once.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "json.h"
#include "json_internal.h"

#define ARENA_FIRST_BLOCK ((size_t)64 * 1024)
#define ARENA_MAX_BLOCK ((size_t)64 * 1024 * 1024)

/* Big buffers (arena blocks and the text buffer of a large document) are
 * mapped directly, 2 MiB aligned, and marked MADV_HUGEPAGE. Why: a parse
 * touches about 8 bytes of tree per input byte, all of it fresh memory; with
 * 4 KiB pages a 7.5 MB document took ~14,000 page faults, which cost more
 * than the parse itself (measured with `perf stat -e page-faults`, see
 * docs/json.md). Where transparent huge pages are off this is a plain mmap. */
#define BIG_MIN ((size_t)1 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

static void *big_alloc(size_t size, json_big_mem *m)
{
    m->base = NULL;
    m->len = 0;
    if (size < BIG_MIN || size > SIZE_MAX / 2)
        return malloc(size);
    size_t len = (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    size_t map_len = len + HUGE_PAGE; /* slack to align the start */
    void *base = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return malloc(size);
    uintptr_t a = ((uintptr_t)base + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
#ifdef MADV_HUGEPAGE
    madvise((void *)a, len, MADV_HUGEPAGE); /* advice only: failure is fine */
#endif
    m->base = base;
    m->len = map_len;
    return (void *)a;
}

static void big_free(void *p, const json_big_mem *m)
{
    if (m->base)
        munmap(m->base, m->len);
    else
        free(p);
}

void *json_arena_grow(json_doc *d, size_t size)
{
    size_t want = d->next_size;
    if (want < size)
        want = size;
    if (want > SIZE_MAX - sizeof(json_arena_block))
        return NULL;
    json_big_mem mem;
    json_arena_block *b = big_alloc(sizeof(json_arena_block) + want, &mem);
    if (!b)
        return NULL;
    b->mem = mem;
    b->next = d->blocks;
    d->blocks = b;
    d->cur = (char *)(b + 1) + size;
    d->left = want - size;
    if (d->next_size < ARENA_MAX_BLOCK)
        d->next_size *= 2;
    return b + 1;
}

json_doc *json_doc_new(size_t len)
{
    json_doc *doc = calloc(1, sizeof *doc);
    if (!doc || len > SIZE_MAX - JSON_TEXT_SLACK ||
        !(doc->text = big_alloc(len + JSON_TEXT_SLACK, &doc->text_mem))) {
        free(doc);
        return NULL;
    }
    doc->next_size = ARENA_FIRST_BLOCK;
    /* Per document (its address), so inputs cannot be crafted offline to
     * collide in the object index. */
    doc->seed = json_hash_key((uint64_t)(uintptr_t)doc, (const char *)&doc,
                              sizeof doc);
    return doc;
}

const json_value *json_doc_root(const json_doc *doc)
{
    return doc ? doc->root : NULL;
}

void json_doc_free(json_doc *doc)
{
    if (!doc)
        return;
    json_arena_block *b = doc->blocks;
    while (b) {
        json_arena_block *next = b->next;
        json_big_mem mem = b->mem;
        big_free(b, &mem);
        b = next;
    }
    if (doc->text)
        big_free(doc->text, &doc->text_mem);
    free(doc);
}

