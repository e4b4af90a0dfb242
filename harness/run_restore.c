/* run_restore: restoration arms of the restore kind (run_restore.h). */
#include "run_restore.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftheta_calib.h"
#include "gguf.h"
#include "kk_stats.h"
#include "run_niah.h"
#include "sha256.h"
#include "synth.h"

/* ---- arm fields ----------------------------------------------------------------- */

int run_restore_check_policy(const char *val, char *why, size_t cap)
{
    kv_policy p;
    kk_err e;
    if (kv_policy_parse(val, &p, &e) == KK_OK)
        return 0;
    snprintf(why, cap, "found \"%s\": %s", val, e.msg);
    return 1;
}

int run_restore_check_mode(const char *val, char *why, size_t cap)
{
    kv_restore_mode m;
    double a;
    kk_err e;
    if (kv_restore_parse(val, &m, &a, &e) == KK_OK)
        return 0;
    snprintf(why, cap, "found \"%s\": %s", val, e.msg);
    return 1;
}

kk_code run_restore_check_preset(const preset *p, kk_err *err)
{
    KK_TRY(run_niah_check_preset(p, err));
    for (size_t a = 0; a < p->n_arms; a++) {
        kv_policy pol;
        kv_restore_mode mode;
        double alpha;
        const char *ps = preset_arm_field(p, &p->arms[a], "policy")->s;
        const char *ms = preset_arm_field(p, &p->arms[a], "restore")->s;
        if (kv_policy_parse(ps, &pol, err) != KK_OK || kv_restore_parse(ms, &mode, &alpha, err))
            return kk_err_file(err, p->file);
        const preset_field *cf = preset_arm_field(p, &p->arms[a], "codec");
        if (cf && strcmp(cf->s, "none") != 0 &&
            (pol.kind == KV_POLICY_SINKWIN || mode != KV_RESTORE_NONE)) {
            kk_err_set(err, KK_E_RANGE, "arm %s: codec %s with policy \"%s\" and restore %s is "
                       "not supported (allowed: a codec with policy full or s5 and restore none; "
                       "a sinkwin ring stores F32 rows)", p->arms[a].name, cf->s, ps, ms);
            kk_err_where(err, "arms[].codec");
            return kk_err_file(err, p->file);
        }
        if (mode != KV_RESTORE_NONE && pol.kind != KV_POLICY_SINKWIN) {
            kk_err_set(err, KK_E_RANGE, "arm %s: restore %s needs a sinkwin policy (found policy "
                       "\"%s\"; allowed: sinkwin:sink=S,window=W, or restore none)",
                       p->arms[a].name, ms, ps);
            kk_err_where(err, "arms[].restore");
            return kk_err_file(err, p->file);
        }
    }
    return KK_OK;
fail:
    return err && err->code ? err->code : KK_E_INTERNAL;
}

/* ---- the proposer and f_theta ------------------------------------------------------ */

void run_restore_free(rrestore *r)
{
    if (!r)
        return;
    free(r->policy);
    free(r->mode);
    free(r->alpha);
    ftheta_free(r->fk);
    ftheta_free(r->fv);
    model_free(r->prop);
    gguf_close(r->prop_file);
    free(r->prop_buf);
    free(r);
}

/* The hash an in-run fit is known by: the GGUF ftheta_pair_write would
 * write, with fit_s 0 (a clock reading would make it differ run to run). */
static kk_code fitted_sha256(const rrestore *r, char out[65], kk_err *err)
{
    char tmpl[] = "/tmp/kakeya-ftheta-XXXXXX";
    const int fd = mkstemp(tmpl);
    if (fd < 0)
        return kk_err_set(err, KK_E_IO, "f_theta: cannot make a temporary file to hash the maps");
    close(fd);
    ftheta_meta m = r->meta;
    m.fit_s = 0.0;
    kk_code rc = ftheta_pair_write(r->fk, r->fv, &m, tmpl, err);
    if (rc == KK_OK)
        rc = sha256_file_hex(tmpl, out, err);
    remove(tmpl);
    return rc;
}

static kk_code load_ftheta(run_ctx *rc, rrestore *r, const model *verifier,
                           const char *verifier_sha, const char *prop_sha, char *src, size_t cap,
                           char sha[65], kk_err *err)
{
    const preset *p = rc->p;
    const preset_param *fp = preset_find_param(p, "ftheta");
    char *path = NULL;
    KK_TRY(preset_expand_env(fp, 0, &path, err));
    if (path[0]) {
        snprintf(src, cap, "%s", path);
        kk_code c = sha256_file_hex(path, sha, err);
        if (c == KK_OK)
            c = ftheta_pair_read(path, &r->fk, &r->fv, &r->meta, err);
        free(path);
        if (c != KK_OK)
            return kk_err_where(err, "ftheta");
        /* maps fitted for other models restore nothing they claim */
        if (strcmp(r->meta.verifier_sha256, verifier_sha) || strcmp(r->meta.proposer_sha256, prop_sha)) {
            kk_err_set(err, KK_E_RANGE, "f_theta %s was fitted for verifier %.12s... and proposer "
                       "%.12s..., not this run's %.12s... and %.12s... (allowed: maps fitted for "
                       "these models, or ftheta \"\" to fit them in the run)", src,
                       r->meta.verifier_sha256, r->meta.proposer_sha256, verifier_sha, prop_sha);
            return kk_err_where(err, "ftheta");
        }
        return KK_OK;
    }
    free(path);
    ftheta_calib_opts o = {
        .n_seq = preset_get_int(p, "calib"),
        .seq_len = preset_get_int(p, "calib_ctx"),
        .heldout_seq = preset_get_int(p, "heldout"),
        .seed = (uint64_t)preset_get_int(p, "calib_seed"),
        .rank = (int32_t)preset_get_int(p, "rank"),
        .lambda = preset_get_float(p, "lambda"),
        .distractors = (int32_t)preset_get_int(p, "calib_distractors"),
    };
    fprintf(stderr, "kakeya run: fitting f_theta (rank %d, %lld + %lld sequences of %lld "
            "tokens)\n", (int)o.rank, (long long)o.n_seq, (long long)o.heldout_seq,
            (long long)o.seq_len);
    const double t0 = kk_now_s();
    KK_TRY(ftheta_calibrate(verifier, r->prop, &o, &r->fk, &r->fv, &r->meta, err));
    r->fit_s = kk_now_s() - t0;
    r->fitted = true;
    memcpy(r->meta.verifier_sha256, verifier_sha, 65);
    memcpy(r->meta.proposer_sha256, prop_sha, 65);
    snprintf(src, cap, "fit:rank=%d,lambda=%g,calib=%lld,calib_ctx=%lld,heldout=%lld,"
             "calib_seed=%llu,distractors=%d", (int)o.rank, o.lambda, (long long)o.n_seq,
             (long long)o.seq_len, (long long)o.heldout_seq, (unsigned long long)o.seed,
             (int)o.distractors);
    return fitted_sha256(r, sha, err);
fail:
    return err && err->code ? err->code : KK_E_INTERNAL;
}

kk_code run_restore_prepare(run_ctx *rc, const model *verifier, const char *verifier_sha,
                            ev_build *b, cJSON *models, rrestore **out, kk_err *err)
{
    const preset *p = rc->p;
    rrestore *r = run_calloc(rc, 1, sizeof *r);
    *out = r;
    if (!r)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for the restore kind's state");
    r->policy = run_calloc(rc, p->n_arms, sizeof *r->policy);
    r->mode = run_calloc(rc, p->n_arms, sizeof *r->mode);
    r->alpha = run_calloc(rc, p->n_arms, sizeof *r->alpha);
    if (!r->policy || !r->mode || !r->alpha)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for %zu arms", p->n_arms);
    for (size_t a = 0; a < p->n_arms; a++) {
        KK_TRY(kv_policy_parse(preset_arm_field(p, &p->arms[a], "policy")->s, &r->policy[a], err));
        KK_TRY(kv_restore_parse(preset_arm_field(p, &p->arms[a], "restore")->s, &r->mode[a],
                                &r->alpha[a], err));
        if (run_arm_on(rc, a))
            r->any_ftheta |= r->mode[a] == KV_RESTORE_FTHETA || r->mode[a] == KV_RESTORE_MIX;
    }
    if (!r->any_ftheta)
        return KK_OK;
    run_niah_source ps;
    KK_TRY(run_niah_load_source(p, "proposer", &ps, err));
    r->prop_buf = ps.buf;
    r->prop_file = ps.file;
    r->prop = ps.m;
    cJSON *mo = ev_put_obj(b, models, "models[]");
    ev_put_str(b, mo, "role", "proposer");
    ev_put_str(b, mo, "source", ps.src);
    ev_put_str(b, mo, "sha256", ps.sha);
    ev_put_str(b, mo, "architecture", ps.m->arch_name);
    ev_put_bool(b, mo, "trained", 0);
    free(ps.src);
    char src[512], sha[65];
    KK_TRY(load_ftheta(rc, r, verifier, verifier_sha, ps.sha, src, sizeof src, sha, err));
    mo = ev_put_obj(b, models, "models[]");
    ev_put_str(b, mo, "role", "ftheta");
    ev_put_str(b, mo, "source", src);
    ev_put_str(b, mo, "sha256", sha);
    ev_put_str(b, mo, "architecture", "ftheta");
    ev_put_bool(b, mo, "trained", 0);
    ev_put_i64(b, mo, "rank", r->fk->rank);
    ev_put_num(b, mo, "lambda", r->fk->lambda);
    ev_put_u64(b, mo, "calib_seed", r->meta.calib_seed);
    ev_put_i64(b, mo, "calib_positions", r->meta.calib_positions);
    return KK_OK;
fail:
    return err && err->code ? err->code : KK_E_INTERNAL;
}

void run_restore_arm_opts(const rrestore *r, size_t arm, niah_opts *o)
{
    o->policy = &r->policy[arm];
    o->restore = (int)r->mode[arm];
    o->alpha = r->alpha[arm];
    if (r->mode[arm] == KV_RESTORE_FTHETA || r->mode[arm] == KV_RESTORE_MIX) {
        o->proposer = r->prop;
        o->ftheta_k = r->fk;
        o->ftheta_v = r->fv;
    }
}

/* ---- an arm's figures --------------------------------------------------------------- */

kk_code rr_acc_init(run_ctx *rc, rr_acc *a, size_t n_samples, const int32_t *layer_window,
                    kk_err *err)
{
    memset(a, 0, sizeof *a);
    a->layer_window = layer_window;
    a->cap = n_samples ? n_samples : 1;
    a->proposer_s = run_calloc(rc, a->cap, sizeof *a->proposer_s);
    a->ftheta_s = run_calloc(rc, a->cap, sizeof *a->ftheta_s);
    if (!a->proposer_s || !a->ftheta_s) {
        rr_acc_free(a);
        return kk_err_set(err, KK_E_NOMEM, "out of memory for %zu samples' timings", a->cap);
    }
    return KK_OK;
}

void rr_acc_free(rr_acc *a)
{
    free(a->proposer_s);
    free(a->ftheta_s);
    a->proposer_s = a->ftheta_s = NULL;
}

void rr_acc_add(rr_acc *a, const niah_result *r, int64_t ctx)
{
    if (a->n < a->cap) {
        a->proposer_s[a->n] = r->proposer_s;
        a->ftheta_s[a->n] = r->ftheta_s;
    }
    a->n++;
    niah_restore_figs_add(&a->f, r, ctx);
    /* the largest sample's bytes (the store and scratch are sized for the
     * runner's largest context, the same for every sample) */
    a->bytes_proposer = r->kv_bytes_proposer > a->bytes_proposer ? r->kv_bytes_proposer
                                                                  : a->bytes_proposer;
    a->bytes_scratch = r->kv_bytes_scratch > a->bytes_scratch ? r->kv_bytes_scratch
                                                               : a->bytes_scratch;
    a->bytes_store = r->kv_bytes_store > a->bytes_store ? r->kv_bytes_store : a->bytes_store;
}

static double ratio(double e, double ref) { return ref > 0 ? e / ref : 0.0; }

void rr_put_metrics(const rrestore *r, size_t arm, const rr_acc *acc, ev_build *b, cJSON *m)
{
    const niah_restore_figs *a = &acc->f;
    const double n = a->samples ? (double)a->samples : 1.0;
    const kv_restore_mode mode = r->mode[arm];
    ev_put_i64(b, m, "samples_needle_exact", a->samples_exact);
    if (mode != KV_RESTORE_NONE) {
        /* restoration error on the restored positions, every layer, then
         * per layer and by layer type */
        double t[4] = {0, 0, 0, 0}, g[4] = {0, 0, 0, 0}, s[4] = {0, 0, 0, 0};
        int has_g = 0, has_s = 0;
        cJSON *layers = ev_put_arr(b, m, "restored_layers");
        for (int32_t l = 0; l < a->n_layers; l++) {
            const int sliding = acc->layer_window && acc->layer_window[l] > 0;
            for (int j = 0; j < 4; j++) {
                t[j] += a->layer[l][j];
                (sliding ? s : g)[j] += a->layer[l][j];
            }
            has_s |= sliding;
            has_g |= !sliding;
            cJSON *o = ev_put_obj(b, layers, "restored_layers[]");
            ev_put_i64(b, o, "layer", l);
            ev_put_str(b, o, "type", sliding ? "sliding" : "global");
            ev_put_num(b, o, "rel_mse_restored_k", ratio(a->layer[l][0], a->layer[l][1]));
            ev_put_num(b, o, "rel_mse_restored_v", ratio(a->layer[l][2], a->layer[l][3]));
            ev_put_num(b, o, "attention_mass_restored", a->mass[l] / n);
            ev_put_num(b, o, "attention_mass_needle", a->needle[l] / n);
        }
        ev_put_num(b, m, "rel_mse_restored_k", ratio(t[0], t[1]));
        ev_put_num(b, m, "rel_mse_restored_v", ratio(t[2], t[3]));
        cJSON *bt = ev_put_obj(b, m, "rel_mse_restored_by_type");
        if (has_g) {
            cJSON *o = ev_put_obj(b, bt, "global");
            ev_put_num(b, o, "k", ratio(g[0], g[1]));
            ev_put_num(b, o, "v", ratio(g[2], g[3]));
        }
        if (has_s) {
            cJSON *o = ev_put_obj(b, bt, "sliding");
            ev_put_num(b, o, "k", ratio(s[0], s[1]));
            ev_put_num(b, o, "v", ratio(s[2], s[3]));
        }
        ev_put_num(b, m, "attention_mass_restored", a->mass_max / n);
        ev_put_num(b, m, "attention_mass_needle", a->needle_max / n);
        ev_put_u64(b, m, "positions_restored", a->positions);
    }
    if (mode == KV_RESTORE_FTHETA || mode == KV_RESTORE_MIX) {
        ev_put_i64(b, m, "ftheta_rank", r->fk->rank);
        ev_put_i64(b, m, "ftheta_calib_positions", r->meta.calib_positions);
        ev_put_num(b, m, "rel_mse_restored_train_k", r->meta.rel_mse_train_k);
        ev_put_num(b, m, "rel_mse_restored_train_v", r->meta.rel_mse_train_v);
        ev_put_num(b, m, "rel_mse_restored_heldout_k", r->meta.rel_mse_heldout_k);
        ev_put_num(b, m, "rel_mse_restored_heldout_v", r->meta.rel_mse_heldout_v);
        ev_put_u64(b, m, "kv_bytes_proposer", acc->bytes_proposer);
    }
    if (mode == KV_RESTORE_MIX)
        ev_put_num(b, m, "alpha", r->alpha[arm]);
}

void rr_put_timings(const rrestore *r, size_t arm, rr_acc *a, double prefill_s,
                    double full_prefill_s, ev_build *b, cJSON *tm)
{
    const kv_restore_mode mode = r->mode[arm];
    const size_t n = a->n < a->cap ? a->n : a->cap;
    double cost = prefill_s;
    if (mode == KV_RESTORE_FTHETA || mode == KV_RESTORE_MIX) {
        const double ps = kk_median(a->proposer_s, n), fs = kk_median(a->ftheta_s, n);
        ev_put_num(b, tm, "proposer_s", ps);
        ev_put_num(b, tm, "ftheta_s", fs);
        ev_put_num(b, tm, "verifier_s", prefill_s - fs > 0 ? prefill_s - fs : 0.0);
        cost += ps;
        /* the fit is the run's, once: reported on every arm that uses it */
        if (r->fitted)
            ev_put_num(b, tm, "ftheta_fit_s", r->fit_s);
    }
    if (full_prefill_s > 0)
        ev_put_num(b, tm, "cost_vs_full_prefill", cost / full_prefill_s);
}

void rr_put_counters(const rr_acc *a, ev_build *b, cJSON *ct)
{
    ev_put_u64(b, ct, "positions_restored", a->f.positions);
}

void rr_put_memory(const rr_acc *a, ev_build *b, cJSON *mem)
{
    ev_put_u64(b, mem, "kv_bytes_proposer", a->bytes_proposer);
    ev_put_u64(b, mem, "kv_bytes_restore_scratch", a->bytes_scratch);
    ev_put_u64(b, mem, "kv_bytes_restore_store", a->bytes_store);
}

void rr_put_sample(const rr_acc *a, const niah_result *r, ev_build *b, cJSON *o)
{
    (void)a;
    cJSON *ex = ev_put_arr(b, o, "needle_exact_layers");
    for (int32_t l = 0; l < r->n_probe; l++)
        if ((r->needle_exact_layers >> l) & 1u)
            ev_put(b, ex, "needle_exact_layers[]", cJSON_CreateNumber(l));
    ev_put_u64(b, o, "positions_restored", r->positions_restored);
    double mx = 0;
    for (int32_t l = 0; l < r->n_probe; l++)
        mx = r->mass_restored[l] > mx ? r->mass_restored[l] : mx;
    ev_put_num(b, o, "attention_mass_restored", mx);
}
