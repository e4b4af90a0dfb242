/* bench_model: see bench_model.h. */
#include "bench_model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kk_file.h"
#include "gguf.h"
#include "gguf_convert.h"
#include "synth.h"

kk_code bench_model_copy134m(synth_cfg *c, kk_err *err);

static const char *type_name(dtype_t t)
{
    switch (t) {
    case DTYPE_F32: return "f32";
    case DTYPE_F16: return "f16";
    case DTYPE_Q8_0: return "q8_0";
    default: return NULL;
    }
}

kk_code bench_model_type_parse(const char *s, dtype_t *out, kk_err *err)
{
    static const dtype_t types[] = {DTYPE_F32, DTYPE_F16, DTYPE_Q8_0};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (s && !strcmp(s, type_name(types[i]))) {
            *out = types[i];
            return KK_OK;
        }
    return kk_err_set(err, KK_E_RANGE, "bench model type \"%s\"; allowed: f32, f16, q8_0",
                      s ? s : "(null)");
}

int bench_model_is_synth(const char *name)
{
    return name && (!strcmp(name, "copy") || !strcmp(name, "copy134m"));
}

kk_code bench_model_synth_shape(const char *name, synth_cfg *c, kk_err *err)
{
    synth_defaults(c, SYNTH_ROLE_VERIFIER);
    c->mode = SYNTH_MODE_COPY;
    c->seed = BENCH_MODEL_SEED;
    c->n_ctx = 4096;
    if (name && !strcmp(name, "copy"))
        return KK_OK;
    if (name && !strcmp(name, "copy134m"))
        return bench_model_copy134m(c, err);
    return kk_err_set(err, KK_E_RANGE, "synthetic bench model \"%s\"; allowed: copy, copy134m",
                      name ? name : "(null)");
}

kk_code bench_model_shape(const char *name, model_random_cfg *c, kk_err *err)
{
    model_random_defaults(c);
    c->seed = BENCH_MODEL_SEED;
    c->arch = MODEL_ARCH_LLAMA;
    c->n_vocab = 32000;
    c->n_ctx = 2048;
    c->tied = false;
    if (name && !strcmp(name, "llama134m")) {
        c->n_layers = 12;
        c->n_embd = 768;
        c->n_heads = 12;
        c->n_kv_heads = 12;
        c->head_dim = 64;
        c->n_ff = 2048;
        return KK_OK;
    }
    if (name && !strcmp(name, "tiny")) {
        c->n_layers = 2;
        c->n_embd = 64;
        c->n_heads = 4;
        c->n_kv_heads = 4;
        c->head_dim = 16;
        c->n_ff = 128;
        return KK_OK;
    }
    return kk_err_set(err, KK_E_RANGE, "bench model \"%s\"; allowed: llama134m, tiny%s",
                      name ? name : "(null)",
                      bench_model_is_synth(name) ? " (a synthetic model: bench_model_synth_shape)"
                                                 : ", copy, copy134m");
}

kk_code bench_model_path(char *buf, size_t cap, const char *dir, const char *name,
                         dtype_t type, kk_err *err)
{
    model_random_cfg c;
    if (!bench_model_is_synth(name))
        KK_TRY(bench_model_shape(name, &c, err));
    const char *tn = type_name(type);
    if (!tn)
        return kk_err_set(err, KK_E_RANGE, "bench model type %s; allowed: f32, f16, q8_0",
                          dtype_name(type));
    const int n = snprintf(buf, cap, "%s/bench-%s-s%d-%s.gguf", dir, name, BENCH_MODEL_SEED, tn);
    if (n < 0 || (size_t)n >= cap)
        return kk_err_set(err, KK_E_RANGE, "the bench model's path is too long");
    return KK_OK;
fail:
    return err ? err->code : KK_E_RANGE;
}

/* The F32 file src rewritten as dst with every 2-D tensor in `type` (F16 or
 * Q8_0), metadata and 1-D tensors copied as they are. */
static kk_code convert(const char *src, const char *dst, dtype_t type, kk_err *err)
{
    gguf_file *f = NULL;
    KK_TRY(gguf_open(&f, src, err));
    const kk_code rc = gguf_convert_to_file(f, type, dst, err);
    gguf_close(f);
    return rc;
fail:
    return err ? err->code : KK_E_IO;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

kk_code bench_model_ensure(const char *dir, const char *name, dtype_t type, char *path,
                           size_t cap, int *written, kk_err *err)
{
    if (written)
        *written = 0;
    char f32[4096];
    model_random_cfg c;
    synth_cfg sc;
    const int synth = bench_model_is_synth(name);
    if (synth)
        KK_TRY(bench_model_synth_shape(name, &sc, err));
    else
        KK_TRY(bench_model_shape(name, &c, err));
    KK_TRY(bench_model_path(path, cap, dir, name, type, err));
    if (exists(path))
        return KK_OK;
    KK_TRY(kk_mkdir_p(dir, err));
    KK_TRY(bench_model_path(f32, sizeof f32, dir, name, DTYPE_F32, err));
    if (!exists(f32)) {
        KK_TRY(synth ? synth_write(&sc, f32, err) : model_random_write(&c, f32, err));
        if (written)
            *written = 1;
    }
    if (type != DTYPE_F32) {
        KK_TRY(convert(f32, path, type, err));
        if (written)
            *written = 1;
    }
    return KK_OK;
fail:
    return err ? err->code : KK_E_IO;
}

void bench_model_prompt(int32_t *ids, int n, int32_t n_vocab)
{
    uint64_t s = BENCH_MODEL_SEED;
    const uint64_t span = n_vocab > 259 ? (uint64_t)(n_vocab - 259) : 1;
    for (int i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        ids[i] = (int32_t)(259 + (s >> 33) % span);
    }
}

/* copy134m: d 1024 and FFN 21056 with ballast 0.25 (docs/synthetic-models.md
 * "Ballast"): 134,091,776 parameters, as llama134m, every answer of the
 * copy model unchanged. */
kk_code bench_model_copy134m(synth_cfg *c, kk_err *err)
{
    c->n_embd = 1024;
    c->n_ff = 21056;
    c->ballast_scale = 0.25f;
    return synth_check(c, err);
}
