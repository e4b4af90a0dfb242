/* run_kld: see run_kld.h. */
#include "run_kld.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "kk_args.h"
#include "kk_file.h"
#include "model_random.h"
#include "sha256.h"
#include "tokenizer.h"

void run_kld_free(run_kld *k)
{
    if (!k)
        return;
    free(k->src);
    free(k->res);
    free(k->has);
    memset(k, 0, sizeof *k);
}

/* fixture:REL -> <fixtures>/REL; anything else as it is (env expanded). */
static kk_code resolve(const preset *p, char **out, kk_err *err)
{
    char *src = NULL;
    KK_TRY(preset_expand_env(preset_find_param(p, "kld_model"), 0, &src, err));
    if (strncmp(src, "fixture:", 8) != 0) {
        *out = src;
        return KK_OK;
    }
    char dir[4096];
    const int found = kk_fixtures_dir(dir, sizeof dir);
    const size_t need = strlen(dir) + strlen(src) + 2;
    char *path = malloc(need);
    if (!path) {
        free(src);
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    }
    snprintf(path, need, "%s/%s", dir, src + 8);
    if (!found) {
        kk_err_set(err, KK_E_MISSING, "kld_model '%s': the fixtures folder %s does not exist "
                   "(set KAKEYA_FIXTURES, or give a GGUF path)", src, dir);
        free(src);
        free(path);
        return kk_err_where(err, "kld_model");
    }
    free(src);
    *out = path;
    return KK_OK;
fail:
    free(src);
    return err && err->code ? err->code : KK_E_INTERNAL;
}

/* random:KEY=VAL(&KEY=VAL)* -> a model_random_cfg (defaults first). */
static kk_code parse_random(const char *src, model_random_cfg *c, kk_err *err)
{
    model_random_defaults(c);
    char buf[512];
    if (strlen(src + 7) >= sizeof buf) {
        kk_err_set(err, KK_E_RANGE, "kld_model '%.40s...': too long", src);
        return kk_err_where(err, "kld_model");
    }
    snprintf(buf, sizeof buf, "%s", src + 7);
    static const char *const keys[] = {"seed", "layers", "d_model", "heads", "kv_heads",
                                       "head_dim", "ffn", "vocab"};
    int32_t *dst[] = {NULL, &c->n_layers, &c->n_embd, &c->n_heads, &c->n_kv_heads,
                      &c->head_dim, &c->n_ff, &c->n_vocab};
    for (char *save = NULL, *kv = strtok_r(buf, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        if (eq && !strcmp(kv, "arch")) {
            if (!strcmp(eq + 1, "llama") || !strcmp(eq + 1, "qwen3")) {
                c->arch = !strcmp(eq + 1, "llama") ? MODEL_ARCH_LLAMA : MODEL_ARCH_QWEN3;
                continue;
            }
            kk_err_set(err, KK_E_RANGE, "kld_model: arch='%s' is not allowed (allowed: llama, "
                       "qwen3)", eq + 1);
            return kk_err_where(err, "kld_model");
        }
        size_t k = 0;
        while (eq && k < sizeof keys / sizeof keys[0] && strcmp(kv, keys[k]) != 0)
            k++;
        char *end = NULL;
        const long long v = eq ? strtoll(eq + 1, &end, 10) : 0;
        if (!eq || k == sizeof keys / sizeof keys[0]) {
            kk_err_set(err, KK_E_FORMAT, "kld_model: '%s' is not KEY=VAL with KEY one of seed, "
                       "arch, layers, d_model, heads, kv_heads, head_dim, ffn, vocab", kv);
            return kk_err_where(err, "kld_model");
        }
        if (!eq[1] || *end || v < 0 || (k > 0 && v > 65536)) {
            kk_err_set(err, KK_E_RANGE, "kld_model: %s='%s' is not allowed (allowed: %s)", kv,
                       eq + 1, k ? "an integer 0..65536" : "an integer >= 0");
            return kk_err_where(err, "kld_model");
        }
        if (k == 0)
            c->seed = (uint64_t)v;
        else
            *dst[k] = (int32_t)v;
    }
    c->n_ctx = 4096;
    if (model_random_check(c, err) != KK_OK) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        kk_err_set(err, KK_E_RANGE, "kld_model %s: %s", src, msg);
        return kk_err_where(err, "kld_model");
    }
    return KK_OK;
}

/* The model, its tokenizer (with text) and its sha256: a random: spec
 * built in memory, or a file. */
static kk_code load(run_kld *k, bool need_tok, uint8_t **buf, gguf_file **file, model **m,
                    tok **t, kk_err *err)
{
    if (!strncmp(k->src, "random:", 7)) {
        model_random_cfg c;
        size_t len = 0;
        KK_TRY(parse_random(k->src, &c, err));
        KK_TRY(model_random_to_buffer(&c, buf, &len, err));
        sha256_hex(*buf, len, k->sha);
        KK_TRY(gguf_parse_buffer(file, *buf, len, k->src, err));
    } else {
        KK_TRY(sha256_file_hex(k->src, k->sha, err));
        KK_TRY(gguf_open(file, k->src, err));
    }
    KK_TRY(model_load(m, *file, err));
    if (need_tok)
        KK_TRY(tok_init_from_gguf(t, *file, err));
    return KK_OK;
fail:
    if (err && !err->where[0])
        kk_err_where(err, "kld_model");
    return err && err->code ? err->code : KK_E_INTERNAL;
}

kk_code run_kld_prepare(const preset *p, const codec_spec *ks, const codec_spec *vs,
                        const unsigned char *has_codec, run_kld *out, kk_err *err)
{
    memset(out, 0, sizeof *out);
    const char *model_arg = preset_get_str(p, "kld_model");
    if (!model_arg || !model_arg[0])
        return KK_OK;
    const char *text = preset_get_str(p, "kld_text"), *ids_arg = preset_get_str(p, "kld_ids");
    const int has_text = text && text[0], has_ids = ids_arg && ids_arg[0];
    if (has_text == has_ids) {
        kk_err_set(err, KK_E_RANGE, "kld_model is given: give the ids to run as exactly one of "
                   "kld_text or kld_ids (found %s)", has_text ? "both" : "neither");
        kk_err_where(err, has_text ? "kld_ids" : "kld_text");
        return kk_err_file(err, p->file);
    }
    uint8_t *buf = NULL;
    gguf_file *file = NULL;
    model *m = NULL;
    tok *t = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    out->on = 1;
    KK_TRY(resolve(p, &out->src, err));
    KK_TRY(load(out, has_text, &buf, &file, &m, &t, err));
    snprintf(out->arch, sizeof out->arch, "%s", m->arch_name);
    if (has_text) {
        KK_TRY(tok_encode(t, text, strlen(text), tok_add_bos(t), &ids, &n, err));
    } else if (kk_arg_ids("kld_ids", ids_arg, m->hp.n_vocab - 1, "token id", &ids, &n, err) !=
               KK_OK) {
        goto fail;
    }
    if (n < 2) {
        kk_err_set(err, KK_E_RANGE, "%s gives %zu token%s (allowed: at least 2)",
                   has_text ? "kld_text" : "kld_ids", n, n == 1 ? "" : "s");
        kk_err_where(err, has_text ? "kld_text" : "kld_ids");
        goto fail;
    }
    out->n_ids = (int64_t)n;
    out->res = calloc(p->n_arms, sizeof *out->res);
    out->has = calloc(p->n_arms, 1);
    if (!out->res || !out->has) {
        kk_err_set(err, KK_E_NOMEM, "out of memory for the KLD of %zu arms", p->n_arms);
        goto fail;
    }
    for (size_t a = 0; a < p->n_arms; a++) {
        const preset_field *mf = preset_arm_field(p, &p->arms[a], "mask_needle");
        const preset_field *cf = preset_arm_field(p, &p->arms[a], "corrupt");
        if (!has_codec[a] || (mf && mf->i))
            continue;
        const kv_codec_opts o = {.corrupt = cf && cf->i};
        if (kld_codec_run(m, ids, n, &ks[a], &vs[a], &o, FWD_Q_EXACT, &out->res[a], err) != KK_OK) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            kk_err_set(err, err->code, "arm %s: KLD on %s: %s", p->arms[a].name, out->src, msg);
            goto fail;
        }
        out->has[a] = 1;
    }
    free(ids);
    tok_free(t);
    model_free(m);
    gguf_close(file);
    free(buf);
    return KK_OK;
fail:
    free(ids);
    tok_free(t);
    model_free(m);
    gguf_close(file);
    free(buf);
    run_kld_free(out);
    return err && err->code ? err->code : KK_E_INTERNAL;
}
