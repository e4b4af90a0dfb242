/* drafter: see drafter.h. */
#include "drafter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kk_args.h"

#define ALLOWED "none, ngram[:n=N,max=M], random[:seed=S], model:FILE, skip:K"

const char *drafter_kind_name(drafter_kind k)
{
    switch (k) {
    case DRAFTER_NGRAM: return "ngram";
    case DRAFTER_RANDOM: return "random";
    case DRAFTER_MODEL: return "model";
    case DRAFTER_SKIP: return "skip";
    default: return "none";
    }
}

/* ngram's and random's key=value fields after the colon. */
static kk_code parse_fields(const char *name, const char *text, char *fields, drafter *d,
                            kk_err *err)
{
    const bool rnd = d->kind == DRAFTER_RANDOM;
    for (char *save = NULL, *f = strtok_r(fields, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(f, '=');
        int64_t x = 0;
        const char *key = f;
        if (eq)
            *eq = '\0';
        const bool is_seed = !strcmp(key, "seed");
        const bool ok_key = rnd ? is_seed : (!strcmp(key, "n") || !strcmp(key, "max"));
        kk_err scratch; /* the message below names the whole field */
        if (!eq || !ok_key ||
            kk_arg_i64(name, eq + 1, is_seed ? 0 : 1, is_seed ? INT64_MAX : 64, &x, &scratch) !=
                KK_OK) {
            kk_err_set(err, KK_E_RANGE, "%s '%s': field '%s%s%s' is not allowed (allowed: %s)",
                       name, text, key, eq ? "=" : "", eq ? eq + 1 : "",
                       rnd ? "seed=0..2^63-1" : "n=1..64, max=1..64");
            return kk_err_where(err, name);
        }
        if (is_seed)
            d->rnd.state = (uint64_t)x;
        else if (!strcmp(key, "n"))
            d->ng.n = (int)x;
        else
            d->ng.max = (int)x;
    }
    return KK_OK;
}

kk_code drafter_parse(const char *name, const char *text, int64_t block, drafter *d,
                      kk_err *err)
{
    memset(d, 0, sizeof *d);
    d->ng = (spec_ngram){2, block > 1 ? (int)block - 1 : 1};
    d->rnd = (spec_random){1, 0};
    char buf[4200];
    if (strlen(text) >= sizeof buf) {
        kk_err_set(err, KK_E_RANGE, "%s: the value is %zu bytes long (allowed: at most %zu)",
                   name, strlen(text), sizeof buf - 1);
        return kk_err_where(err, name);
    }
    snprintf(buf, sizeof buf, "%s", text);
    char *colon = strchr(buf, ':');
    if (colon)
        *colon++ = '\0';
    if (!strcmp(buf, "none") && !colon) {
        d->kind = DRAFTER_NONE;
    } else if (!strcmp(buf, "ngram") || !strcmp(buf, "random")) {
        d->kind = buf[0] == 'n' ? DRAFTER_NGRAM : DRAFTER_RANDOM;
        if (colon)
            return parse_fields(name, text, colon, d, err);
    } else if (!strcmp(buf, "model") && colon && colon[0]) {
        d->kind = DRAFTER_MODEL;
        snprintf(d->path, sizeof d->path, "%s", colon);
    } else if (!strcmp(buf, "skip") && colon) {
        int64_t k = 0;
        kk_err scratch;
        if (kk_arg_i64(name, colon, 1, 4096, &k, &scratch) != KK_OK) {
            kk_err_set(err, KK_E_RANGE, "%s '%s': K '%s' is not allowed (allowed: skip:K, K a "
                       "layer count 1..the verifier's layers - 1)", name, text, colon);
            return kk_err_where(err, name);
        }
        d->kind = DRAFTER_SKIP;
        d->skip_k = (int)k;
    } else {
        kk_err_set(err, KK_E_RANGE, "%s '%s' is not allowed (allowed: %s)", name, text, ALLOWED);
        return kk_err_where(err, name);
    }
    return KK_OK;
}

/* The drafter file's vocabulary must be the verifier's: the same size
 * and, when both have tokenizers, the same token texts. */
static kk_code check_vocab(const drafter *d, const char *name, const model *m, const tok *vt,
                           kk_err *err)
{
    if (d->m->hp.n_vocab != m->hp.n_vocab) {
        kk_err_set(err, KK_E_RANGE, "%s model:%s: its vocabulary has %d tokens, the verifier's "
                   "%d (allowed: a model with the verifier's vocabulary)", name, d->path,
                   (int)d->m->hp.n_vocab, (int)m->hp.n_vocab);
        return kk_err_where(err, name);
    }
    if (!vt)
        return KK_OK;
    tok *dt = NULL;
    kk_err scratch;
    if (tok_init_from_gguf(&dt, d->file, &scratch) != KK_OK)
        return KK_OK; /* no tokenizer in the drafter file: ids are what count */
    kk_code rc = KK_OK;
    for (int32_t id = 0; id < m->hp.n_vocab && id < tok_n_vocab(vt) && id < tok_n_vocab(dt);
         id++) {
        size_t la = 0, lb = 0;
        const char *a = tok_text(vt, id, &la), *b = tok_text(dt, id, &lb);
        if (la != lb || (la && memcmp(a, b, la) != 0)) {
            rc = kk_err_set(err, KK_E_RANGE, "%s model:%s: token %d is '%.*s' there and '%.*s' "
                            "in the verifier (allowed: a model with the verifier's vocabulary)",
                            name, d->path, (int)id, (int)(lb < 40 ? lb : 40), b,
                            (int)(la < 40 ? la : 40), a);
            kk_err_where(err, name);
            break;
        }
    }
    tok_free(dt);
    return rc;
}

kk_code drafter_open(drafter *d, const char *name, const model *m, const tok *vt, ops_act act,
                     int64_t n_ctx, bool kv_f16, kk_err *err)
{
    kk_code rc = KK_OK;
    switch (d->kind) {
    case DRAFTER_NONE:
        return KK_OK;
    case DRAFTER_NGRAM:
        d->d = (spec_drafter){spec_ngram_propose, &d->ng};
        return KK_OK;
    case DRAFTER_RANDOM:
        d->rnd.n_vocab = m->hp.n_vocab;
        d->d = (spec_drafter){spec_random_propose, &d->rnd};
        return KK_OK;
    case DRAFTER_MODEL:
        if ((rc = gguf_open(&d->file, d->path, err)) != KK_OK ||
            (rc = model_load(&d->m, d->file, err)) != KK_OK) {
            if (!err->file[0])
                kk_err_file(err, d->path);
            kk_err_where(err, name);
            goto fail;
        }
        model_set_act(d->m, act);
        if ((rc = check_vocab(d, name, m, vt, err)) != KK_OK)
            goto fail;
        rc = spec_model_init(&d->sm, d->m, n_ctx, kv_f16, err);
        break;
    case DRAFTER_SKIP:
        if ((rc = spec_model_skip_view(m, d->skip_k, &d->view, err)) != KK_OK) {
            kk_err_where(err, name);
            goto fail;
        }
        rc = spec_model_init(&d->sm, &d->view, n_ctx, kv_f16, err);
        break;
    }
    if (rc != KK_OK)
        goto fail;
    d->sm_open = true;
    d->d = (spec_drafter){spec_model_propose, &d->sm};
    return KK_OK;
fail:
    drafter_close(d);
    return rc;
}

const spec_drafter *drafter_spec(const drafter *d)
{
    return d->kind == DRAFTER_NONE ? NULL : &d->d;
}

int64_t drafter_tokens_run(const drafter *d)
{
    return d->sm_open ? d->sm.tokens_run : 0;
}

void drafter_close(drafter *d)
{
    if (d->sm_open)
        spec_model_free(&d->sm);
    d->sm_open = false;
    model_free(d->m);
    gguf_close(d->file);
    d->m = NULL;
    d->file = NULL;
}
