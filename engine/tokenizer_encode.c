/*
 * tok encoding: llama.cpp's tokenizer_st_partition, the SPM space handling
 * of llama_vocab::impl::tokenize, and llm_tokenizer_spm_session (bigram
 * merges through a priority queue, then resegmentation with byte
 * fallback), plus the plain O(n^2) path the tests compare it with.
 *
 * Cost: a text of n bytes has at most 3n + 3 bytes once escaped, so at most
 * that many symbols; each merge pushes at most 2 bigrams, so the queue sees
 * O(n) pushes of O(log n) each and the hash lookups cost O(max token
 * length): O(n log n) overall. Scratch is allocated once per call.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* ===================================================================== */
/* 1. Encoding                                                            */
/* ===================================================================== */

/* A piece of the input: raw text, or a special token matched in it. */
typedef struct frag {
    int32_t id; /* -1: raw text [off, off + len) */
    size_t off, len;
} frag;

/* llm_symbol: a run of the escaped text; merged ones are tokens. */
typedef struct sym {
    int32_t prev, next;
    size_t off, n; /* n == 0: merged into its left neighbour */
} sym;

/* llm_bigram_spm */
typedef struct bigram {
    int32_t left, right;
    float score;
    size_t size;
} bigram;

/* Scratch of one encode call; freed at once by enc_free. */
typedef struct enc {
    const tok *t;
    frag *frags, *frags2;
    size_t n_frags, cap_frags;
    char *buf; /* escaped text of one fragment */
    sym *syms;
    size_t n_syms;
    bigram *heap;
    size_t n_heap, cap_heap;
    tok_ids out;
    tok_bpe_scratch *bpe;
    kk_err *err;
} enc;

static void enc_free(enc *e)
{
    free(e->frags);
    free(e->frags2);
    free(e->buf);
    free(e->syms);
    free(e->heap);
    free(e->out.v);
    tok_bpe_scratch_free(e->bpe);
}

kk_code tok_ids_push(tok_ids *o, int32_t id, kk_err *err)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 64;
        int32_t *p = realloc(o->v, cap * sizeof *p);
        if (!p)
            return kk_err_set(err, KK_E_NOMEM, "out of memory for token ids");
        o->v = p;
        o->cap = cap;
    }
    o->v[o->n++] = id;
    return KK_OK;
}

static kk_code out_push(enc *e, int32_t id)
{
    return tok_ids_push(&e->out, id, e->err);
}

/* llama.cpp's tokenizer_st_partition: split raw fragments at each
 * occurrence of a special token's text, longest tokens first. */
static kk_code partition(enc *e, const char *text, size_t len, bool parse_special)
{
    const tok *t = e->t;
    e->n_frags = 0;
    if (len == 0)
        return KK_OK;
    e->cap_frags = 16;
    e->frags = malloc(e->cap_frags * sizeof *e->frags);
    e->frags2 = malloc(e->cap_frags * sizeof *e->frags2);
    if (!e->frags || !e->frags2)
        return kk_err_set(e->err, KK_E_NOMEM, "out of memory");
    e->frags[0] = (frag){-1, 0, len};
    e->n_frags = 1;
    for (size_t k = 0; k < t->n_special; k++) {
        int32_t sid = t->special[k];
        if (!parse_special && (t->attr[sid] & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN)))
            continue; /* only user-defined tokens are always matched */
        size_t slen;
        const char *stext = tok_str(t, sid, &slen);
        size_t n2 = 0;
        for (size_t i = 0; i < e->n_frags; i++) {
            frag f = e->frags[i];
            /* at most 2 new fragments per match, checked as they come */
            while (true) {
                const char *m = f.id < 0 && f.len >= slen
                                    ? memmem(text + f.off, f.len, stext, slen)
                                    : NULL;
                if (n2 + 3 > e->cap_frags) {
                    size_t cap = 2 * e->cap_frags;
                    frag *a = realloc(e->frags, cap * sizeof *a);
                    if (a)
                        e->frags = a;
                    frag *b = a ? realloc(e->frags2, cap * sizeof *b) : NULL;
                    if (!b)
                        return kk_err_set(e->err, KK_E_NOMEM, "out of memory");
                    e->frags2 = b;
                    e->cap_frags = cap;
                }
                if (!m) {
                    e->frags2[n2++] = f;
                    break;
                }
                size_t at = (size_t)(m - text);
                if (at > f.off)
                    e->frags2[n2++] = (frag){-1, f.off, at - f.off};
                e->frags2[n2++] = (frag){sid, at, slen};
                size_t end = f.off + f.len;
                if (at + slen >= end)
                    break;
                f = (frag){-1, at + slen, end - at - slen};
            }
        }
        frag *tmp = e->frags;
        e->frags = e->frags2;
        e->frags2 = tmp;
        e->n_frags = n2;
    }
    return KK_OK;
}

/* Escape a fragment into e->buf (" " -> U+2581, optional leading space)
 * and split it into UTF-8 characters the way llama.cpp does: the lead
 * byte's high nibble gives the length (continuation bytes and invalid lead
 * bytes count 1, F8..FF count 4), cut at the end of the text. */
static kk_code split_fragment(enc *e, const char *s, size_t len, bool prefix,
                              size_t *blen)
{
    size_t n = 0;
    if (prefix) {
        memcpy(e->buf, "\xe2\x96\x81", 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ') {
            memcpy(e->buf + n, "\xe2\x96\x81", 3);
            n += 3;
        } else {
            e->buf[n++] = s[i];
        }
    }
    static const uint8_t utf8_len[16] = {1, 1, 1, 1, 1, 1, 1, 1,
                                         1, 1, 1, 1, 2, 2, 3, 4};
    size_t k = 0;
    for (size_t off = 0; off < n; k++) {
        size_t cl = utf8_len[(uint8_t)e->buf[off] >> 4];
        if (cl > n - off)
            cl = n - off;
        e->syms[k] = (sym){(int32_t)k - 1, off + cl == n ? -1 : (int32_t)k + 1,
                           off, cl};
        off += cl;
    }
    e->n_syms = k;
    *blen = n;
    return KK_OK;
}

/* Output one final symbol: its token, or its bytes as byte tokens. */
static kk_code resegment(enc *e, const sym *y)
{
    const tok *t = e->t;
    int32_t id = tok_find_text(t, e->buf + y->off, y->n);
    if (id >= 0)
        return out_push(e, id);
    for (size_t j = 0; j < y->n; j++) {
        uint8_t b = (uint8_t)e->buf[y->off + j];
        if (t->byte_tok[b] < 0)
            return kk_err_set(e->err, KK_E_UNSUPPORTED,
                              "byte 0x%02X has no token (neither <0x%02X> nor "
                              "the byte itself is in the vocabulary)", b, b);
        kk_code rc = out_push(e, t->byte_tok[b]);
        if (rc != KK_OK)
            return rc;
    }
    return KK_OK;
}

/* The queue order: higher score first, then the lower left index. */
static inline bool bigram_before(const bigram *a, const bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(enc *e, bigram g)
{
    size_t i = e->n_heap++; /* capacity: see spm_merge */
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bigram_before(&g, &e->heap[p]))
            break;
        e->heap[i] = e->heap[p];
        i = p;
    }
    e->heap[i] = g;
}

static bigram heap_pop(enc *e)
{
    bigram top = e->heap[0];
    bigram last = e->heap[--e->n_heap];
    size_t n = e->n_heap, i = 0;
    while (true) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && bigram_before(&e->heap[c + 1], &e->heap[c]))
            c++;
        if (!bigram_before(&e->heap[c], &last))
            break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n > 0)
        e->heap[i] = last;
    return top;
}

static void try_add_bigram(enc *e, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return;
    /* left and right are neighbours, so their texts are contiguous */
    size_t size = e->syms[left].n + e->syms[right].n;
    int32_t id = tok_find_text(e->t, e->buf + e->syms[left].off, size);
    if (id < 0)
        return;
    heap_push(e, (bigram){left, right, e->t->score[id], size});
}

/* llm_tokenizer_spm_session::tokenize on e->buf / e->syms. The heap holds
 * at most n_syms - 1 seeds plus 2 per merge (n_syms - 1 merges at most). */
static void spm_merge(enc *e)
{
    e->n_heap = 0;
    for (size_t i = 1; i < e->n_syms; i++)
        try_add_bigram(e, (int32_t)i - 1, (int32_t)i);
    while (e->n_heap > 0) {
        bigram g = heap_pop(e);
        sym *l = &e->syms[g.left], *r = &e->syms[g.right];
        /* stale: one side already merged, or grew since the push */
        if (l->n == 0 || r->n == 0 || l->n + r->n != g.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            e->syms[r->next].prev = g.left;
        try_add_bigram(e, l->prev, g.left);
        try_add_bigram(e, g.left, l->next);
    }
}

/* The plain path: merge the best adjacent pair found by a full scan,
 * until no pair is a token. Same order as the queue: the highest score,
 * ties to the leftmost pair (the scan goes left to right, strict >). */
static void spm_merge_ref(enc *e)
{
    while (true) {
        int32_t best = -1;
        float best_score = 0;
        for (int32_t i = 0; i >= 0 && e->syms[i].next >= 0; i = e->syms[i].next) {
            const sym *l = &e->syms[i], *r = &e->syms[l->next];
            int32_t id = tok_find_text(e->t, e->buf + l->off, l->n + r->n);
            if (id >= 0 && (best < 0 || e->t->score[id] > best_score)) {
                best = i;
                best_score = e->t->score[id];
            }
        }
        if (best < 0)
            return;
        sym *l = &e->syms[best], *r = &e->syms[l->next];
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            e->syms[r->next].prev = best;
    }
}

static kk_code encode(const tok *t, const char *text, size_t len, bool add_bos,
                      bool parse_special, bool ref, int32_t **ids,
                      size_t *n_ids, kk_err *err)
{
    kk_err local;
    if (!err)
        err = &local;
    kk_err_clear(err);
    *ids = NULL;
    *n_ids = 0;
    if (t->bpe && tok_bpe_pre(t) == TOK_PRE_NONE)
        return kk_err_set(err, KK_E_UNSUPPORTED,
                          "tokenizer.ggml.pre '%s' is not a pre-tokenizer kakeya builds "
                          "(allowed: the gpt-2, llama-bpe and qwen2 families, "
                          "docs/tokenizer.md); give token ids (--tokens IDS)",
                          t->pre[0] ? t->pre : "(absent)");
    enc e = {0};
    e.t = t;
    e.err = err;
    kk_code rc = KK_OK;
    /* symbols are int32-indexed and each input byte escapes to <= 3 bytes */
    if (len > ((size_t)INT32_MAX - 3) / 3) {
        rc = kk_err_set(err, KK_E_LIMIT, "text of %zu bytes is too long to "
                        "tokenize (limit %d)", len, (INT32_MAX - 3) / 3);
        goto done;
    }
    if (len > 0 && !text) {
        rc = kk_err_set(err, KK_E_RANGE, "text is NULL");
        goto done;
    }
    if (add_bos) {
        if (t->bos < 0) {
            rc = kk_err_set(err, KK_E_MISSING, "BOS requested, but the "
                            "vocabulary has no BOS token");
            goto done;
        }
        if ((rc = out_push(&e, t->bos)) != KK_OK)
            goto done;
    }
    if ((rc = partition(&e, text, len, parse_special)) != KK_OK)
        goto done;

    size_t max_raw = 0;
    for (size_t i = 0; i < e.n_frags; i++)
        if (e.frags[i].id < 0 && e.frags[i].len > max_raw)
            max_raw = e.frags[i].len;
    if (max_raw > 0 && t->bpe) {
        if ((rc = tok_bpe_scratch_new(&e.bpe, max_raw, err)) != KK_OK)
            goto done;
    } else if (max_raw > 0) {
        size_t cap = 3 * max_raw + 3;
        e.buf = malloc(cap);
        e.syms = malloc(cap * sizeof *e.syms);
        e.heap = malloc(3 * cap * sizeof *e.heap);
        if (!e.buf || !e.syms || !e.heap) {
            rc = kk_err_set(err, KK_E_NOMEM, "out of memory for a text of "
                            "%zu bytes", len);
            goto done;
        }
    }

    /* llama.cpp: a space prefix for the first raw fragment and for each one
     * that follows a special token. */
    bool prev_special = true;
    for (size_t i = 0; i < e.n_frags; i++) {
        const frag *f = &e.frags[i];
        if (f->id >= 0) {
            if ((rc = out_push(&e, f->id)) != KK_OK)
                goto done;
            prev_special = true;
            continue;
        }
        if (t->bpe) {
            if ((rc = tok_bpe_fragment(t, e.bpe, text + f->off, f->len, ref, &e.out, err)) !=
                KK_OK)
                goto done;
            continue;
        }
        size_t blen;
        split_fragment(&e, text + f->off, f->len,
                       t->add_space_prefix && prev_special, &blen);
        prev_special = false;
        if (ref)
            spm_merge_ref(&e);
        else
            spm_merge(&e);
        for (int32_t k = 0; k != -1; k = e.syms[k].next)
            if ((rc = resegment(&e, &e.syms[k])) != KK_OK)
                goto done;
    }
    *ids = e.out.v;
    *n_ids = e.out.n;
    e.out.v = NULL;
done:
    enc_free(&e);
    return rc;
}

kk_code tok_encode_ex(const tok *t, const char *text, size_t len, bool add_bos,
                      bool parse_special, int32_t **ids, size_t *n_ids,
                      kk_err *err)
{
    return encode(t, text, len, add_bos, parse_special, false, ids, n_ids, err);
}

kk_code tok_encode(const tok *t, const char *text, size_t len, bool add_bos,
                   int32_t **ids, size_t *n_ids, kk_err *err)
{
    return encode(t, text, len, add_bos, false, false, ids, n_ids, err);
}

/* ===================================================================== */
/* 2. The plain path                                                      */
/* ===================================================================== */

kk_code tok_encode_ref(const tok *t, const char *text, size_t len,
                       bool add_bos, bool parse_special, int32_t **ids,
                       size_t *n_ids, kk_err *err)
{
    return encode(t, text, len, add_bos, parse_special, true, ids, n_ids, err);
}
