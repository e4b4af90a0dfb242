/* ftheta_gguf: f_theta pairs as GGUF files (see ftheta_gguf.h). */
#include "ftheta_gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

static kk_code put_map(gguf_writer *w, char which, const ftheta *f, kk_err *err)
{
    char name[32];
    const uint64_t ne_x[1] = {(uint64_t)f->din}, ne_y[1] = {(uint64_t)f->dout};
    const uint64_t ne_e[2] = {(uint64_t)f->rank, (uint64_t)f->din};
    const uint64_t ne_d[2] = {(uint64_t)f->dout, (uint64_t)f->rank};
    snprintf(name, sizeof name, "ftheta.%c.mu_x", which);
    KK_TRY(gguf_writer_add_tensor(w, name, DTYPE_F32, 1, ne_x, f->mu_x,
                                  (uint64_t)f->din * sizeof(float), err));
    snprintf(name, sizeof name, "ftheta.%c.mu_y", which);
    KK_TRY(gguf_writer_add_tensor(w, name, DTYPE_F32, 1, ne_y, f->mu_y,
                                  (uint64_t)f->dout * sizeof(float), err));
    snprintf(name, sizeof name, "ftheta.%c.enc", which);
    KK_TRY(gguf_writer_add_tensor(w, name, DTYPE_F32, 2, ne_e, f->enc,
                                  (uint64_t)(f->din * f->rank) * sizeof(float), err));
    snprintf(name, sizeof name, "ftheta.%c.dec", which);
    KK_TRY(gguf_writer_add_tensor(w, name, DTYPE_F32, 2, ne_d, f->dec,
                                  (uint64_t)(f->rank * f->dout) * sizeof(float), err));
    return KK_OK;
fail:
    return err && err->code != KK_OK ? err->code : KK_E_NOMEM;
}

kk_code ftheta_pair_write(const ftheta *k, const ftheta *v, const ftheta_meta *m,
                          const char *path, kk_err *err)
{
    if (k->rank != v->rank || k->lambda != v->lambda)
        return kk_err_set(err, KK_E_RANGE, "ftheta: the K and V maps differ in rank (%d, %d) or "
                          "lambda (%g, %g)", (int)k->rank, (int)v->rank, k->lambda, v->lambda);
    gguf_writer *w = gguf_writer_init(3, 32);
    if (!w)
        return kk_err_set(err, KK_E_NOMEM, "ftheta: out of memory for a GGUF writer");
    kk_code rc = KK_OK;
#define PUT(call)                                                                          \
    do {                                                                                   \
        if (rc == KK_OK && (call) != KK_OK)                                                \
            rc = kk_err_set(err, KK_E_NOMEM, "ftheta: out of memory for the file's keys"); \
    } while (0)
    PUT(gguf_writer_set_str(w, "general.architecture", "ftheta"));
    PUT(gguf_writer_set_u32(w, "ftheta.rank", (uint32_t)k->rank));
    PUT(gguf_writer_set_f64(w, "ftheta.lambda", k->lambda));
    PUT(gguf_writer_set_u64(w, "ftheta.calib.seed", m->calib_seed));
    PUT(gguf_writer_set_u64(w, "ftheta.calib.positions", (uint64_t)m->calib_positions));
    PUT(gguf_writer_set_f64(w, "ftheta.fit_s", m->fit_s));
    PUT(gguf_writer_set_str(w, "ftheta.verifier.sha256", m->verifier_sha256));
    PUT(gguf_writer_set_str(w, "ftheta.proposer.sha256", m->proposer_sha256));
    PUT(gguf_writer_set_f64(w, "ftheta.rel_mse.train.k", m->rel_mse_train_k));
    PUT(gguf_writer_set_f64(w, "ftheta.rel_mse.train.v", m->rel_mse_train_v));
    PUT(gguf_writer_set_f64(w, "ftheta.rel_mse.heldout.k", m->rel_mse_heldout_k));
    PUT(gguf_writer_set_f64(w, "ftheta.rel_mse.heldout.v", m->rel_mse_heldout_v));
#undef PUT
    if (rc == KK_OK)
        rc = put_map(w, 'k', k, err);
    if (rc == KK_OK)
        rc = put_map(w, 'v', v, err);
    if (rc == KK_OK)
        rc = gguf_writer_write(w, path, err);
    gguf_writer_free(w);
    return rc;
}

/* ---- reading ------------------------------------------------------------------- */

static kk_code num_key(const gguf_file *g, const char *key, int want_float, double *out,
                       kk_err *err)
{
    const gguf_value *v = gguf_get(g, key);
    if (!v)
        return kk_err_set(err, KK_E_MISSING, "%s: key %s is missing (an f_theta file has it)",
                          g->path, key);
    const int is_float = v->type == GGUF_TYPE_FLOAT32 || v->type == GGUF_TYPE_FLOAT64;
    const int is_uint = v->type == GGUF_TYPE_UINT32 || v->type == GGUF_TYPE_UINT64;
    if (want_float ? !is_float : !is_uint)
        return kk_err_set(err, KK_E_TYPE, "%s: key %s has type %s (allowed: %s)", g->path, key,
                          gguf_type_name(v->type), want_float ? "FLOAT64" : "UINT32, UINT64");
    *out = want_float ? v->v.f : (double)v->v.u;
    return KK_OK;
}

static kk_code sha_key(const gguf_file *g, const char *key, char out[65], kk_err *err)
{
    gguf_str s;
    KK_TRY(gguf_get_str(g, key, &s, err));
    if (s.len != 64)
        return kk_err_set(err, KK_E_RANGE, "%s: key %s is %llu characters (allowed: 64 hex)",
                          g->path, key, (unsigned long long)s.len);
    for (int i = 0; i < 64; i++)
        if (!((s.s[i] >= '0' && s.s[i] <= '9') || (s.s[i] >= 'a' && s.s[i] <= 'f')))
            return kk_err_set(err, KK_E_RANGE, "%s: key %s is not 64 lower-case hex digits",
                              g->path, key);
    memcpy(out, s.s, 64);
    out[64] = '\0';
    return KK_OK;
fail:
    return err && err->code != KK_OK ? err->code : KK_E_FORMAT;
}

/* The F32 tensor `name` of n_dims with ne (innermost first), copied. */
static kk_code get_tensor(const gguf_file *g, const char *name, uint32_t n_dims,
                          const uint64_t *ne, float **out, kk_err *err)
{
    const gguf_tensor *t = gguf_get_tensor(g, name);
    if (!t)
        return kk_err_set(err, KK_E_MISSING, "%s: tensor %s is missing", g->path, name);
    int ok = t->type == DTYPE_F32 && t->n_dims == n_dims;
    for (uint32_t d = 0; ok && d < n_dims; d++)
        ok = t->ne[d] == ne[d];
    if (!ok)
        return kk_err_set(err, KK_E_RANGE, "%s: tensor %s is %s with %u dims, ne[0] %llu; "
                          "expected F32 with %u dims, ne[0] %llu%s", g->path, name,
                          dtype_name(t->type), (unsigned)t->n_dims,
                          (unsigned long long)t->ne[0], (unsigned)n_dims,
                          (unsigned long long)ne[0], n_dims > 1 ? " (and ne[1] to match)" : "");
    *out = malloc(t->n_bytes ? (size_t)t->n_bytes : 1);
    if (!*out)
        return kk_err_set(err, KK_E_NOMEM, "%s: out of memory for tensor %s", g->path, name);
    memcpy(*out, t->data, (size_t)t->n_bytes);
    return KK_OK;
}

static kk_code get_map(const gguf_file *g, char which, int32_t rank, double lambda, ftheta **out,
                       kk_err *err)
{
    *out = NULL;
    char name[32];
    snprintf(name, sizeof name, "ftheta.%c.mu_x", which);
    const gguf_tensor *tx = gguf_get_tensor(g, name);
    snprintf(name, sizeof name, "ftheta.%c.mu_y", which);
    const gguf_tensor *ty = gguf_get_tensor(g, name);
    if (!tx || !ty || tx->n_dims != 1 || ty->n_dims != 1 || tx->ne[0] < 1 || ty->ne[0] < 1 ||
        tx->ne[0] > FTHETA_MAX_DIM || ty->ne[0] > FTHETA_MAX_DIM ||
        (uint64_t)rank > (tx->ne[0] < ty->ne[0] ? tx->ne[0] : ty->ne[0]))
        return kk_err_set(err, KK_E_RANGE, "%s: tensors ftheta.%c.mu_x / mu_y are missing or not "
                          "vectors of 1..%d values with rank %d at most their length", g->path,
                          which, FTHETA_MAX_DIM, (int)rank);
    ftheta *f = calloc(1, sizeof *f);
    if (!f)
        return kk_err_set(err, KK_E_NOMEM, "%s: out of memory", g->path);
    f->din = (int64_t)tx->ne[0];
    f->dout = (int64_t)ty->ne[0];
    f->rank = rank;
    f->lambda = lambda;
    const uint64_t ne_x[1] = {(uint64_t)f->din}, ne_y[1] = {(uint64_t)f->dout};
    const uint64_t ne_e[2] = {(uint64_t)rank, (uint64_t)f->din};
    const uint64_t ne_d[2] = {(uint64_t)f->dout, (uint64_t)rank};
    kk_code rc = get_tensor(g, (snprintf(name, sizeof name, "ftheta.%c.mu_x", which), name), 1,
                            ne_x, &f->mu_x, err);
    if (rc == KK_OK)
        rc = get_tensor(g, (snprintf(name, sizeof name, "ftheta.%c.mu_y", which), name), 1, ne_y,
                        &f->mu_y, err);
    if (rc == KK_OK)
        rc = get_tensor(g, (snprintf(name, sizeof name, "ftheta.%c.enc", which), name), 2, ne_e,
                        &f->enc, err);
    if (rc == KK_OK)
        rc = get_tensor(g, (snprintf(name, sizeof name, "ftheta.%c.dec", which), name), 2, ne_d,
                        &f->dec, err);
    if (rc != KK_OK) {
        ftheta_free(f);
        return rc;
    }
    *out = f;
    return KK_OK;
}

kk_code ftheta_pair_read(const char *path, ftheta **k, ftheta **v, ftheta_meta *m, kk_err *err)
{
    *k = *v = NULL;
    memset(m, 0, sizeof *m);
    gguf_file *g = NULL;
    KK_TRY(gguf_open(&g, path, err));
    const kk_code rc = ftheta_pair_from_gguf(g, k, v, m, err);
    gguf_close(g);
    return rc;
fail:
    return err && err->code != KK_OK ? err->code : KK_E_IO;
}

kk_code ftheta_pair_from_gguf(const gguf_file *g, ftheta **k, ftheta **v, ftheta_meta *m,
                              kk_err *err)
{
    *k = *v = NULL;
    memset(m, 0, sizeof *m);
    const char *path = g->path;
    gguf_str arch;
    double rank = 0, lambda = 0, seed = 0, pos = 0;
    kk_code rc = gguf_get_str(g, "general.architecture", &arch, err);
    if (rc == KK_OK && !(arch.len == 6 && !memcmp(arch.s, "ftheta", 6)))
        rc = kk_err_set(err, KK_E_UNSUPPORTED, "%s: general.architecture is '%.*s' (an f_theta "
                        "file says ftheta)", path, (int)(arch.len > 32 ? 32 : arch.len), arch.s);
    if (rc == KK_OK)
        rc = num_key(g, "ftheta.rank", 0, &rank, err);
    if (rc == KK_OK && (rank < 1 || rank > FTHETA_MAX_DIM))
        rc = kk_err_set(err, KK_E_RANGE, "%s: ftheta.rank %g out of range (allowed: 1..%d)", path,
                        rank, FTHETA_MAX_DIM);
    if (rc == KK_OK)
        rc = num_key(g, "ftheta.lambda", 1, &lambda, err);
    if (rc == KK_OK)
        rc = num_key(g, "ftheta.calib.seed", 0, &seed, err);
    if (rc == KK_OK)
        rc = num_key(g, "ftheta.calib.positions", 0, &pos, err);
    if (rc == KK_OK)
        rc = num_key(g, "ftheta.fit_s", 1, &m->fit_s, err);
    if (rc == KK_OK)
        rc = num_key(g, "ftheta.rel_mse.train.k", 1, &m->rel_mse_train_k, err);
    if (rc == KK_OK)
        rc = num_key(g, "ftheta.rel_mse.train.v", 1, &m->rel_mse_train_v, err);
    if (rc == KK_OK)
        rc = num_key(g, "ftheta.rel_mse.heldout.k", 1, &m->rel_mse_heldout_k, err);
    if (rc == KK_OK)
        rc = num_key(g, "ftheta.rel_mse.heldout.v", 1, &m->rel_mse_heldout_v, err);
    if (rc == KK_OK)
        rc = sha_key(g, "ftheta.verifier.sha256", m->verifier_sha256, err);
    if (rc == KK_OK)
        rc = sha_key(g, "ftheta.proposer.sha256", m->proposer_sha256, err);
    if (rc == KK_OK)
        rc = get_map(g, 'k', (int32_t)rank, lambda, k, err);
    if (rc == KK_OK)
        rc = get_map(g, 'v', (int32_t)rank, lambda, v, err);
    /* integers as stored (num_key checked they are unsigned), not through
     * the double: a seed needs all 64 bits, a position count past INT64_MAX
     * is not a count */
    const gguf_value *sv = gguf_get(g, "ftheta.calib.seed");
    const gguf_value *pv = gguf_get(g, "ftheta.calib.positions");
    (void)seed;
    (void)pos;
    if (rc == KK_OK && pv->v.u > (uint64_t)INT64_MAX)
        rc = kk_err_set(err, KK_E_RANGE, "%s: ftheta.calib.positions %llu out of range", path,
                        (unsigned long long)pv->v.u);
    if (rc == KK_OK) {
        m->calib_seed = sv->v.u;
        m->calib_positions = (int64_t)pv->v.u;
    }
    if (rc != KK_OK) {
        ftheta_free(*k);
        ftheta_free(*v);
        *k = *v = NULL;
    }
    return rc;
}
