/*
 * Byte-level BPE (tokenizer.ggml.model "gpt2"): llama.cpp's
 * llm_tokenizer_bpe_session re-done in C so that ids agree exactly.
 *
 * A raw fragment (what the special-token partition leaves) is
 *   1. decoded to code points (uni_decode: invalid bytes become U+FFFD, as
 *      unicode_cpts_from_utf8 does, so they are re-encoded as EF BF BD),
 *   2. cut into words by the pre-tokenizer the GGUF names (llama.cpp's
 *      custom splitters in unicode.cpp: gpt2, llama3, qwen2),
 *   3. each word's UTF-8 bytes merged by rank: GPT-2 maps every byte to one
 *      character, so the first symbols are the word's bytes; the pair of
 *      neighbours with the lowest merge rank (the leftmost on a tie) is
 *      merged until no pair has a rank (llm_bigram_bpe's queue order),
 *   4. each symbol output as its token; a symbol that is no token (a merge
 *      result outside the vocabulary) as the one-byte tokens of its GPT-2
 *      text's bytes, dropping bytes that are none (as llama.cpp does).
 * Pre-tokenizers of the llama3 family look a whole word up first
 * (llama.cpp's ignore_merges).
 *
 * Merges work on integers: every string a merge names (the two parts and
 * their concatenation) is interned; a token's intern id is its token id,
 * strings outside the vocabulary get ids from n_vocab on. A merge is then
 * (left id, right id) -> (rank, result id) in a hash table, and a symbol
 * carries the intern id of its text. llama.cpp keys its ranks by the two
 * strings; since a symbol's text and its intern id determine each other,
 * the two agree on every input.
 *
 * Cost: decoding and splitting are linear; a word of m bytes costs
 * O(m log m) (at most m - 1 merges, each pushing at most two pairs).
 * Scratch is allocated once per call, sized by the longest fragment.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"
#include "unicode.h"

/* ===================================================================== */
/* 1. Pre-tokenizer names (llama-vocab.cpp, llama_vocab::impl::load)       */
/* ===================================================================== */

typedef struct pre_name {
    const char *name;
    tok_pre pre;
} pre_name;

/* The names whose pre-tokenizer type llama.cpp tokenizes with one of the
 * three splitters and no other quirk in encoding (roberta-bpe & co. add a
 * SEP, gemma4 escapes spaces, ...: those are refused). */
static const pre_name PRE_NAMES[] = {
    {"gpt-2", TOK_PRE_GPT2},     {"phi-2", TOK_PRE_GPT2},
    {"jina-es", TOK_PRE_GPT2},   {"jina-de", TOK_PRE_GPT2},
    {"gigachat", TOK_PRE_GPT2},  {"jina-v2-es", TOK_PRE_GPT2},
    {"jina-v2-de", TOK_PRE_GPT2}, {"a.x-4.0", TOK_PRE_GPT2},
    {"mellum", TOK_PRE_GPT2},    {"modern-bert", TOK_PRE_GPT2},
    {"exaone4", TOK_PRE_GPT2},   {"mpt", TOK_PRE_GPT2},
    {"olmo", TOK_PRE_GPT2},      {"jais", TOK_PRE_GPT2},
    {"trillion", TOK_PRE_GPT2},  {"granite-docling", TOK_PRE_GPT2},
    {"llama3", TOK_PRE_LLAMA3},  {"llama-v3", TOK_PRE_LLAMA3},
    {"llama-bpe", TOK_PRE_LLAMA3}, {"falcon3", TOK_PRE_LLAMA3},
    {"falcon-h1", TOK_PRE_LLAMA3}, {"pixtral", TOK_PRE_LLAMA3},
    {"midm-2.0", TOK_PRE_LLAMA3}, {"lfm2", TOK_PRE_LLAMA3},
    {"jina-v5-nano", TOK_PRE_LLAMA3},
    {"qwen2", TOK_PRE_QWEN2},    {"deepseek-r1-qwen", TOK_PRE_QWEN2},
    {"kormo", TOK_PRE_QWEN2},    {"f2llmv2", TOK_PRE_QWEN2},
    {"megrez", TOK_PRE_QWEN2},   {"stablelm2", TOK_PRE_QWEN2},
};

tok_pre tok_pre_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof PRE_NAMES / sizeof PRE_NAMES[0]; i++)
        if (strcmp(PRE_NAMES[i].name, name) == 0)
            return PRE_NAMES[i].pre;
    return TOK_PRE_NONE;
}

const char *tok_pre_name(tok_pre p)
{
    switch (p) {
    case TOK_PRE_GPT2: return "gpt2";
    case TOK_PRE_LLAMA3: return "llama3";
    case TOK_PRE_QWEN2: return "qwen2";
    default: return "none";
    }
}

/* ===================================================================== */
/* 2. Interned strings and merges                                         */
/* ===================================================================== */

static uint64_t hash_str(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a, as tokenizer.c */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static inline size_t hash_pair(int32_t l, int32_t r)
{
    uint64_t h = (uint64_t)(uint32_t)l * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)(uint32_t)r + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
    return (size_t)(h ^ (h >> 29));
}

typedef struct merge_slot {
    int32_t l, r;  /* intern ids; l == -1: empty */
    int32_t rank;  /* position in tokenizer.ggml.merges */
    int32_t res;   /* intern id of l's text + r's text */
} merge_slot;

struct tok_bpe {
    tok_pre pre;
    bool ignore_merges;
    /* strings outside the vocabulary: intern ids n_vocab + i */
    char *xpool;
    size_t xpool_len, xpool_cap;
    size_t *xoff; /* n_extra + 1 offsets */
    int32_t n_extra, cap_extra;
    int32_t *xht; /* hash of the extra strings: index i, -1 empty */
    size_t xht_mask;
    merge_slot *mt;
    size_t mt_mask;
    int32_t n_merges;
    /* each byte's GPT-2 character: text and intern id (-1: none) */
    char byte_text[256][2];
    uint8_t byte_text_len[256];
    int32_t byte_sym[256];
};

void tok_bpe_free(tok_bpe *b)
{
    if (!b)
        return;
    free(b->xpool);
    free(b->xoff);
    free(b->xht);
    free(b->mt);
    free(b);
}

static int32_t extra_find(const tok *t, const char *s, size_t n)
{
    const tok_bpe *b = t->bpe_data;
    if (!b->xht)
        return -1;
    for (size_t h = hash_str(s, n) & b->xht_mask;; h = (h + 1) & b->xht_mask) {
        int32_t i = b->xht[h];
        if (i < 0)
            return -1;
        if (b->xoff[i + 1] - b->xoff[i] == n && memcmp(b->xpool + b->xoff[i], s, n) == 0)
            return t->n_vocab + i;
    }
}

/* The intern id of s (a token's id when it is one), or -1. */
static int32_t intern_find(const tok *t, const char *s, size_t n)
{
    int32_t id = tok_find_text(t, s, n);
    return id >= 0 ? id : extra_find(t, s, n);
}

static kk_code xht_grow(tok_bpe *b, kk_err *err)
{
    size_t cap = b->xht ? 2 * (b->xht_mask + 1) : 1024;
    int32_t *ht = malloc(cap * sizeof *ht);
    if (!ht)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for BPE merges");
    memset(ht, 0xff, cap * sizeof *ht);
    for (int32_t i = 0; i < b->n_extra; i++) {
        size_t h = hash_str(b->xpool + b->xoff[i], b->xoff[i + 1] - b->xoff[i]) & (cap - 1);
        while (ht[h] >= 0)
            h = (h + 1) & (cap - 1);
        ht[h] = i;
    }
    free(b->xht);
    b->xht = ht;
    b->xht_mask = cap - 1;
    return KK_OK;
}

/* The intern id of s, adding it when new. */
static kk_code intern(tok *t, const char *s, size_t n, int32_t *id, kk_err *err)
{
    tok_bpe *b = t->bpe_data;
    *id = intern_find(t, s, n);
    if (*id >= 0)
        return KK_OK;
    if (b->n_extra >= INT32_MAX - t->n_vocab - 1)
        return kk_err_set(err, KK_E_LIMIT, "too many merge strings outside the vocabulary");
    if (!b->xht || 2 * ((size_t)b->n_extra + 1) > b->xht_mask + 1) {
        kk_code rc = xht_grow(b, err);
        if (rc != KK_OK)
            return rc;
    }
    if (b->n_extra + 1 >= b->cap_extra) {
        int32_t cap = b->cap_extra ? 2 * b->cap_extra : 256;
        size_t *o = realloc(b->xoff, ((size_t)cap + 1) * sizeof *o);
        if (!o)
            return kk_err_set(err, KK_E_NOMEM, "out of memory for BPE merges");
        b->xoff = o;
        b->cap_extra = cap;
        if (b->n_extra == 0)
            b->xoff[0] = 0;
    }
    if (b->xpool_len + n > b->xpool_cap) {
        size_t cap = b->xpool_cap ? 2 * b->xpool_cap : 4096;
        while (cap < b->xpool_len + n)
            cap *= 2;
        char *p = realloc(b->xpool, cap);
        if (!p)
            return kk_err_set(err, KK_E_NOMEM, "out of memory for BPE merges");
        b->xpool = p;
        b->xpool_cap = cap;
    }
    memcpy(b->xpool + b->xpool_len, s, n);
    b->xpool_len += n;
    int32_t i = b->n_extra++;
    b->xoff[i + 1] = b->xpool_len;
    size_t h = hash_str(s, n) & b->xht_mask;
    while (b->xht[h] >= 0)
        h = (h + 1) & b->xht_mask;
    b->xht[h] = i;
    *id = t->n_vocab + i;
    return KK_OK;
}

static const merge_slot *merge_find(const tok_bpe *b, int32_t l, int32_t r)
{
    for (size_t h = hash_pair(l, r) & b->mt_mask;; h = (h + 1) & b->mt_mask) {
        const merge_slot *m = &b->mt[h];
        if (m->l < 0)
            return NULL;
        if (m->l == l && m->r == r)
            return m;
    }
}

uint32_t tok_gpt2_char_of_byte(int byte)
{
    const bool printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174;
    if (printable)
        return (uint32_t)byte;
    uint32_t k = 0;
    for (int c = 0; c < byte; c++)
        if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174))
            k++;
    return 256 + k;
}

kk_code tok_bpe_init(tok *t, const char *const *merges, const size_t *merge_len,
                     size_t n_merges, const char *pre, kk_err *err)
{
    tok_bpe *b = calloc(1, sizeof *b);
    if (!b)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    t->bpe_data = b;
    b->pre = tok_pre_from_name(pre);
    b->ignore_merges = b->pre == TOK_PRE_LLAMA3;
    if (n_merges > (size_t)INT32_MAX / 4)
        return kk_err_set(err, KK_E_LIMIT, "%zu merges (limit %d)", n_merges, INT32_MAX / 4);
    b->n_merges = (int32_t)n_merges;
    size_t cap = 16;
    while (cap < 2 * n_merges)
        cap *= 2;
    b->mt = malloc(cap * sizeof *b->mt);
    if (!b->mt)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for %zu merges", n_merges);
    for (size_t i = 0; i < cap; i++)
        b->mt[i].l = -1;
    b->mt_mask = cap - 1;

    char *cat = NULL;
    size_t cat_cap = 0;
    kk_code rc = KK_OK;
    for (size_t i = 0; i < n_merges && rc == KK_OK; i++) {
        const char *s = merges[i];
        const size_t n = merge_len ? merge_len[i] : strlen(s);
        /* llama.cpp: split at the first space from the second byte on; none
         * gives two empty strings, which no symbol ever is */
        const char *sp = n > 1 ? memchr(s + 1, ' ', n - 1) : NULL;
        if (!sp)
            continue;
        const size_t nl = (size_t)(sp - s), nr = n - nl - 1;
        if (nr == 0)
            continue; /* an empty right part never matches a symbol */
        int32_t l, r, res;
        if ((rc = intern(t, s, nl, &l, err)) != KK_OK ||
            (rc = intern(t, sp + 1, nr, &r, err)) != KK_OK)
            break;
        if (nl + nr > cat_cap) {
            cat_cap = 2 * (nl + nr);
            char *p = realloc(cat, cat_cap);
            if (!p) {
                rc = kk_err_set(err, KK_E_NOMEM, "out of memory for merges");
                break;
            }
            cat = p;
        }
        memcpy(cat, s, nl);
        memcpy(cat + nl, sp + 1, nr);
        if ((rc = intern(t, cat, nl + nr, &res, err)) != KK_OK)
            break;
        /* llama.cpp's bpe_ranks.emplace keeps the first rank of a pair */
        size_t h = hash_pair(l, r) & b->mt_mask;
        while (b->mt[h].l >= 0 && !(b->mt[h].l == l && b->mt[h].r == r))
            h = (h + 1) & b->mt_mask;
        if (b->mt[h].l < 0)
            b->mt[h] = (merge_slot){l, r, (int32_t)i, res};
    }
    free(cat);
    if (rc != KK_OK)
        return rc;
    for (int c = 0; c < 256; c++) {
        b->byte_text_len[c] = (uint8_t)uni_encode(tok_gpt2_char_of_byte(c), b->byte_text[c]);
        b->byte_sym[c] = intern_find(t, b->byte_text[c], b->byte_text_len[c]);
    }
    return KK_OK;
}

tok_pre tok_bpe_pre(const tok *t)
{
    return t->bpe_data ? t->bpe_data->pre : TOK_PRE_NONE;
}

/* ===================================================================== */
/* 3. Pre-tokenizers (unicode.cpp: unicode_regex_split_custom_*)          */
/* ===================================================================== */

/* Per code point: uni_flags | IN, so that 0 is "outside the fragment" as
 * llama.cpp's empty unicode_cpt_flags{} is. */
#define IN 0x80

typedef struct splitter {
    const uint32_t *cp;
    const uint8_t *fl;
    size_t n;
    uint32_t *ends; /* word ends, code point indices */
    size_t n_words;
} splitter;

static inline uint8_t F(const splitter *s, size_t pos)
{
    return pos < s->n ? s->fl[pos] : 0;
}
static inline bool is_letter(uint8_t f) { return (f & UNI_CLASS) == UNI_LETTER; }
static inline bool is_number(uint8_t f) { return (f & UNI_CLASS) == UNI_NUMBER; }
static inline bool is_space(uint8_t f) { return (f & UNI_SPACE) != 0; }
/* [^\s\p{L}\p{N}] inside the fragment */
static inline bool is_rest(uint8_t f)
{
    return (f & IN) && !is_space(f) && (f & UNI_CLASS) == UNI_OTHER;
}

static inline void add_word(splitter *s, size_t end)
{
    if (s->n_words == 0 ? end > 0 : end > s->ends[s->n_words - 1])
        s->ends[s->n_words++] = (uint32_t)end;
}

static inline uint32_t lower_ascii(uint32_t c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* 's 't 're 've 'm 'll 'd at pos (case-folded when fold): the length, or 0 */
static size_t contraction(const splitter *s, size_t pos, bool fold)
{
    if (s->cp[pos] != '\'' || pos + 1 >= s->n)
        return 0;
    uint32_t c1 = fold ? lower_ascii(s->cp[pos + 1]) : s->cp[pos + 1];
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
        return 2;
    if (pos + 2 < s->n) {
        uint32_t c2 = fold ? lower_ascii(s->cp[pos + 2]) : s->cp[pos + 2];
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
            return 3;
    }
    return 0;
}

/* The last rules of every splitter, at pos with nws white-space code points
 * from it: \s+(?!\S) (all but the last when something follows), else \s+,
 * else no rule matched: one code point. @return the word's end. */
static size_t space_rules(const splitter *s, size_t pos, size_t nws)
{
    if (nws > 1 && pos + nws < s->n)
        return pos + nws - 1;
    return nws > 0 ? pos + nws : pos + 1;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) */
static void split_gpt2(splitter *s)
{
    for (size_t pos = 0; pos < s->n;) {
        const uint32_t c = s->cp[pos];
        size_t k = contraction(s, pos, false);
        if (k) {
            add_word(s, pos += k);
            continue;
        }
        const uint8_t f2 = c == ' ' ? F(s, pos + 1) : F(s, pos);
        if (is_letter(f2) || is_number(f2) || is_rest(f2)) {
            bool (*same)(uint8_t) = is_letter(f2) ? is_letter : is_number(f2) ? is_number : is_rest;
            pos += c == ' ';
            while (same(F(s, pos)))
                pos++;
            add_word(s, pos);
            continue;
        }
        size_t nws = 0;
        while (is_space(F(s, pos + nws)))
            nws++;
        add_word(s, pos = space_rules(s, pos, nws));
    }
}

/* llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *         ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * qwen2: the same with \p{N} (one digit a word) for \p{N}{1,3}. */
static void split_llama3(splitter *s, size_t max_digits)
{
    for (size_t pos = 0; pos < s->n;) {
        const uint32_t c = s->cp[pos];
        const uint8_t f = F(s, pos);
        size_t k = contraction(s, pos, true);
        if (k) {
            add_word(s, pos += k);
            continue;
        }
        if (!(c == '\r' || c == '\n' || is_number(f)) &&
            (is_letter(f) || is_letter(F(s, pos + 1)))) {
            pos++;
            while (is_letter(F(s, pos)))
                pos++;
            add_word(s, pos);
            continue;
        }
        if (is_number(f)) {
            size_t ini = pos;
            while (is_number(F(s, pos)))
                if (++pos - ini >= max_digits) {
                    add_word(s, pos);
                    ini = pos;
                }
            add_word(s, pos);
            continue;
        }
        uint8_t f2 = c == ' ' ? F(s, pos + 1) : f;
        /* llama.cpp tests the class of f2 here but "inside" of f, which
         * always is: a space at the end of the fragment enters too */
        if (!is_space(f2) && (f2 & UNI_CLASS) == UNI_OTHER) {
            pos += c == ' ';
            while (is_rest(F(s, pos)))
                pos++;
            while (pos < s->n && (s->cp[pos] == '\r' || s->cp[pos] == '\n'))
                pos++;
            add_word(s, pos);
            continue;
        }
        size_t nws = 0, last_rn = 0;
        while (is_space(F(s, pos + nws))) {
            const uint32_t c2 = s->cp[pos + nws];
            if (c2 == '\r' || c2 == '\n')
                last_rn = pos + nws + 1;
            nws++;
        }
        /* \s*[\r\n]+ */
        add_word(s, pos = last_rn > 0 ? last_rn : space_rules(s, pos, nws));
    }
}

/* ===================================================================== */
/* 4. Merging one word                                                    */
/* ===================================================================== */

typedef struct bsym {
    int32_t prev, next;
    uint32_t off, n; /* bytes of the word; n == 0: merged into its left */
    int32_t id;      /* intern id of its text, -1 when none */
} bsym;

typedef struct bpair {
    int32_t rank, left, right;
    uint32_t size; /* bytes of left + right when pushed */
    int32_t res;
} bpair;

struct tok_bpe_scratch {
    uint32_t *cp;
    uint8_t *fl;
    uint32_t *ends;
    char *word;  /* one word's bytes */
    char *etext; /* a GPT-2 text (ignore_merges lookups, fallback) */
    bsym *syms;
    bpair *heap;
    size_t n_heap;
};

static inline bool pair_before(const bpair *a, const bpair *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(tok_bpe_scratch *w, bpair p)
{
    size_t i = w->n_heap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!pair_before(&p, &w->heap[up]))
            break;
        w->heap[i] = w->heap[up];
        i = up;
    }
    w->heap[i] = p;
}

static bpair heap_pop(tok_bpe_scratch *w)
{
    bpair top = w->heap[0], last = w->heap[--w->n_heap];
    size_t n = w->n_heap, i = 0;
    while (true) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && pair_before(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!pair_before(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n > 0)
        w->heap[i] = last;
    return top;
}

static void try_pair(const tok_bpe *b, tok_bpe_scratch *w, int32_t l, int32_t r)
{
    if (l < 0 || r < 0 || w->syms[l].id < 0 || w->syms[r].id < 0)
        return;
    const merge_slot *m = merge_find(b, w->syms[l].id, w->syms[r].id);
    if (m)
        heap_push(w, (bpair){m->rank, l, r, w->syms[l].n + w->syms[r].n, m->res});
}

/* llm_tokenizer_bpe_session's queue. The heap holds at most m - 1 seeds
 * and 2 per merge: 3m. */
static void merge_queue(const tok_bpe *b, tok_bpe_scratch *w, size_t m)
{
    w->n_heap = 0;
    for (size_t i = 1; i < m; i++)
        try_pair(b, w, (int32_t)i - 1, (int32_t)i);
    while (w->n_heap > 0) {
        bpair p = heap_pop(w);
        bsym *l = &w->syms[p.left], *r = &w->syms[p.right];
        /* stale: a side merged away, or grew, since the push */
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size)
            continue;
        l->n += r->n;
        l->id = p.res;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            w->syms[r->next].prev = p.left;
        try_pair(b, w, l->prev, p.left);
        try_pair(b, w, p.left, l->next);
    }
}

/* The plain path: scan every neighbour pair for the lowest rank (the
 * leftmost on a tie, as the queue orders them) and merge it, until none
 * has a rank. O(m^2); for tests. */
static void merge_scan(const tok_bpe *b, tok_bpe_scratch *w)
{
    while (true) {
        int32_t best = -1;
        const merge_slot *bm = NULL;
        for (int32_t i = 0; i >= 0 && w->syms[i].next >= 0; i = w->syms[i].next) {
            const bsym *l = &w->syms[i], *r = &w->syms[l->next];
            if (l->id < 0 || r->id < 0)
                continue;
            const merge_slot *m = merge_find(b, l->id, r->id);
            if (m && (!bm || m->rank < bm->rank)) {
                best = i;
                bm = m;
            }
        }
        if (best < 0)
            return;
        bsym *l = &w->syms[best], *r = &w->syms[l->next];
        l->n += r->n;
        l->id = bm->res;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            w->syms[r->next].prev = best;
    }
}

/* The GPT-2 text of bytes s[0..n) into w->etext; @return its length. */
static size_t gpt2_text(const tok_bpe *b, tok_bpe_scratch *w, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t c = (uint8_t)s[i];
        memcpy(w->etext + k, b->byte_text[c], b->byte_text_len[c]);
        k += b->byte_text_len[c];
    }
    return k;
}

static kk_code emit_word(const tok *t, tok_bpe_scratch *w, size_t m, bool ref,
                         tok_ids *out, kk_err *err)
{
    const tok_bpe *b = t->bpe_data;
    kk_code rc;
    if (b->ignore_merges) {
        int32_t id = tok_find_text(t, w->etext, gpt2_text(b, w, w->word, m));
        if (id >= 0)
            return tok_ids_push(out, id, err);
    }
    for (size_t i = 0; i < m; i++)
        w->syms[i] = (bsym){(int32_t)i - 1, i + 1 == m ? -1 : (int32_t)i + 1, (uint32_t)i, 1,
                            b->byte_sym[(uint8_t)w->word[i]]};
    if (ref)
        merge_scan(b, w);
    else
        merge_queue(b, w, m);
    for (int32_t i = 0; i >= 0; i = w->syms[i].next) {
        const bsym *y = &w->syms[i];
        if (y->id >= 0 && y->id < t->n_vocab) {
            if ((rc = tok_ids_push(out, y->id, err)) != KK_OK)
                return rc;
            continue;
        }
        /* no token: each byte of its GPT-2 text that is a token */
        size_t k = gpt2_text(b, w, w->word + y->off, y->n);
        for (size_t j = 0; j < k; j++) {
            int32_t id = tok_find_text(t, w->etext + j, 1);
            if (id >= 0 && (rc = tok_ids_push(out, id, err)) != KK_OK)
                return rc;
        }
    }
    return KK_OK;
}

/* ===================================================================== */
/* 5. A fragment                                                          */
/* ===================================================================== */

void tok_bpe_scratch_free(tok_bpe_scratch *w)
{
    if (!w)
        return;
    free(w->cp);
    free(w->fl);
    free(w->ends);
    free(w->word);
    free(w->etext);
    free(w->syms);
    free(w->heap);
    free(w);
}

kk_code tok_bpe_scratch_new(tok_bpe_scratch **out, size_t max_len, kk_err *err)
{
    /* each byte is at most one code point and re-encodes to at most 3
     * bytes (an invalid byte becomes U+FFFD); a GPT-2 character is at most
     * 2 bytes */
    tok_bpe_scratch *w = calloc(1, sizeof *w);
    const size_t n = max_len + 1;
    if (w) {
        w->cp = malloc(n * sizeof *w->cp);
        w->fl = malloc(n);
        w->ends = malloc(n * sizeof *w->ends);
        w->word = malloc(3 * n);
        w->etext = malloc(6 * n);
        w->syms = malloc(3 * n * sizeof *w->syms);
        w->heap = malloc(9 * n * sizeof *w->heap);
    }
    if (!w || !w->cp || !w->fl || !w->ends || !w->word || !w->etext || !w->syms || !w->heap) {
        tok_bpe_scratch_free(w);
        *out = NULL;
        return kk_err_set(err, KK_E_NOMEM, "out of memory for a text of %zu bytes", max_len);
    }
    *out = w;
    return KK_OK;
}

kk_code tok_bpe_fragment(const tok *t, tok_bpe_scratch *w, const char *text, size_t len,
                         bool ref, tok_ids *out, kk_err *err)
{
    const tok_bpe *b = t->bpe_data;
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        size_t adv;
        const uint32_t c = uni_decode(text + i, len - i, &adv);
        w->cp[n] = c;
        w->fl[n] = (uint8_t)(uni_flags(c) | IN);
        i += adv;
    }
    splitter s = {w->cp, w->fl, n, w->ends, 0};
    switch (b->pre) {
    case TOK_PRE_GPT2: split_gpt2(&s); break;
    case TOK_PRE_LLAMA3: split_llama3(&s, 3); break;
    case TOK_PRE_QWEN2: split_llama3(&s, 1); break;
    default: return kk_err_set(err, KK_E_INTERNAL, "no pre-tokenizer");
    }
    size_t start = 0;
    for (size_t k = 0; k < s.n_words; k++) {
        size_t m = 0;
        for (size_t i = start; i < s.ends[k]; i++)
            m += uni_encode(w->cp[i], w->word + m);
        start = s.ends[k];
        kk_code rc = emit_word(t, w, m, ref, out, err);
        if (rc != KK_OK)
            return rc;
    }
    return KK_OK;
}

kk_code tok_pre_split(tok_pre pre, const char *text, size_t len, size_t **ends, size_t *n_words,
                      kk_err *err)
{
    *ends = NULL;
    *n_words = 0;
    if (pre == TOK_PRE_NONE)
        return kk_err_set(err, KK_E_UNSUPPORTED, "no pre-tokenizer");
    tok_bpe_scratch *w = NULL;
    kk_code rc = tok_bpe_scratch_new(&w, len, err);
    if (rc != KK_OK)
        return rc;
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        size_t adv;
        w->cp[n] = uni_decode(text + i, len - i, &adv);
        w->fl[n] = (uint8_t)(uni_flags(w->cp[n]) | IN);
        i += adv;
    }
    splitter s = {w->cp, w->fl, n, w->ends, 0};
    if (pre == TOK_PRE_GPT2)
        split_gpt2(&s);
    else
        split_llama3(&s, pre == TOK_PRE_LLAMA3 ? 3 : 1);
    size_t *out = malloc((s.n_words ? s.n_words : 1) * sizeof *out);
    if (!out) {
        tok_bpe_scratch_free(w);
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    }
    size_t bytes = 0, start = 0;
    for (size_t k = 0; k < s.n_words; k++) {
        char tmp[4];
        for (size_t i = start; i < s.ends[k]; i++)
            bytes += uni_encode(w->cp[i], tmp);
        start = s.ends[k];
        out[k] = bytes;
    }
    *ends = out;
    *n_words = s.n_words;
    tok_bpe_scratch_free(w);
    return KK_OK;
}
