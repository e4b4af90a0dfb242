/* run: workers, progress and the per-arm evidence (run.h). */
#include "run.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "evidence.h"
#include "kk_stats.h"
#include "niah.h"

/* ---- setup ------------------------------------------------------------------- */

kk_code run_ctx_init(run_ctx *rc, const preset *p, const run_opts *o, kk_err *err)
{
    memset(rc, 0, sizeof *rc);
    rc->p = p;
    rc->o = *o;
    if (rc->o.jobs < 1)
        rc->o.jobs = 1;
    if (rc->o.threads < 1)
        rc->o.threads = 1;
    int64_t s = preset_get_int(p, "seed");
    rc->seed = o->seed_set ? o->seed : (s >= 0 ? (uint64_t)s : 1);
    rc->arm_on = calloc(p->n_arms ? p->n_arms : 1, 1);
    if (!rc->arm_on)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    size_t on = 0;
    for (size_t a = 0; a < p->n_arms; a++) {
        rc->arm_on[a] = o->shard_n == 0 || (int)(a % (size_t)o->shard_n) == o->shard_i - 1;
        on += rc->arm_on[a];
    }
    if (!on) {
        kk_err_set(err, KK_E_RANGE, "shard %d/%d holds no arm: preset %s has %zu arms; allowed: "
                   "N <= %zu", o->shard_i, o->shard_n, p->name, p->n_arms, p->n_arms);
        return kk_err_where(err, "--shard");
    }
    return KK_OK;
}

void run_ctx_free(run_ctx *rc)
{
    if (!rc)
        return;
    free(rc->tasks);
    free(rc->results);
    free(rc->arm_on);
    cJSON_Delete(rc->models);
    memset(rc, 0, sizeof *rc);
}

int run_arm_on(const run_ctx *rc, size_t a)
{
    return a < rc->p->n_arms && rc->arm_on[a];
}

kk_code run_add_task(run_ctx *rc, const run_task *t, kk_err *err)
{
    if (rc->n_tasks == rc->cap_tasks) {
        size_t cap = rc->cap_tasks ? rc->cap_tasks * 2 : 64;
        run_task *nt = realloc(rc->tasks, cap * sizeof *nt);
        if (!nt)
            return kk_err_set(err, KK_E_NOMEM, "out of memory");
        rc->tasks = nt;
        rc->cap_tasks = cap;
    }
    rc->tasks[rc->n_tasks++] = *t;
    return KK_OK;
}

/* ---- workers ------------------------------------------------------------------ */

typedef struct pool {
    run_ctx *rc;
    pthread_mutex_t mu;
    size_t next, done;
    int failed;
    kk_err err;
    size_t last_arm, last_sample;
} pool;

static void *worker_main(void *arg)
{
    pool *pl = arg;
    run_ctx *rc = pl->rc;
    const run_ops *ops = rc->p->kind->ops;
    void *w = NULL;
    kk_err e;
    kk_err_clear(&e);
    kk_code code = ops->worker_init ? ops->worker_init(rc, &w, &e) : KK_OK;
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        if (code != KK_OK && !pl->failed) {
            pl->failed = 1;
            pl->err = e;
        }
        int stop = pl->failed || (rc->o.stop && *rc->o.stop) || pl->next >= rc->n_tasks;
        size_t i = pl->next;
        if (!stop)
            pl->next++;
        pthread_mutex_unlock(&pl->mu);
        if (stop)
            break;
        run_result *r = &rc->results[i];
        memset(r, 0, sizeof *r);
        code = ops->task(rc, w, &rc->tasks[i], r, &e);
        pthread_mutex_lock(&pl->mu);
        if (code == KK_OK) {
            r->done = 1;
            pl->done++;
            pl->last_arm = rc->tasks[i].arm;
            pl->last_sample = rc->tasks[i].sample;
        }
        pthread_mutex_unlock(&pl->mu);
    }
    if (ops->worker_free)
        ops->worker_free(w);
    return NULL;
}

static void progress(run_ctx *rc, pool *pl, double t0, int tty, int final)
{
    pthread_mutex_lock(&pl->mu);
    size_t done = pl->done, arm = pl->last_arm, smp = pl->last_sample;
    pthread_mutex_unlock(&pl->mu);
    size_t n = rc->n_tasks;
    double el = kk_now_s() - t0;
    double eta = done ? el * (double)(n - done) / (double)done : 0;
    size_t per_arm = 0;
    for (size_t i = 0; i < n; i++)
        per_arm += rc->tasks[i].arm == arm;
    const char *an = rc->p->arms[arm].name;
    if (tty) {
        char bar[31];
        size_t fill = n ? done * 30 / n : 30;
        for (size_t i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r[%s] %zu/%zu  arm %-16s sample %zu/%zu  %.0fs  ETA %.0fs \033[K%s", bar,
                done, n, an, done ? smp + 1 : 0, per_arm, el, eta, final ? "\n" : "");
    } else {
        fprintf(stderr, "kakeya run %s: %zu/%zu tasks, arm %s sample %zu/%zu, %.1f s, ETA %.0f s\n",
                rc->p->name, done, n, an, done ? smp + 1 : 0, per_arm, el, eta);
    }
    fflush(stderr);
}

static kk_code run_tasks(run_ctx *rc, kk_err *err)
{
    pool pl = {.rc = rc};
    pthread_mutex_init(&pl.mu, NULL);
    kk_err_clear(&pl.err);
    int jobs = rc->o.jobs;
    if ((size_t)jobs > rc->n_tasks)
        jobs = rc->n_tasks ? (int)rc->n_tasks : 1;
    pthread_t th[256];
    int started = 0;
    for (int j = 0; j < jobs && j < 256; j++) {
        if (pthread_create(&th[j], NULL, worker_main, &pl) != 0)
            break;
        started++;
    }
    double t0 = kk_now_s(), last = t0;
    int tty = isatty(2);
    double period = tty ? 0.25 : 5.0;
    for (;;) {
        pthread_mutex_lock(&pl.mu);
        int fin = pl.done >= rc->n_tasks || pl.failed || (rc->o.stop && *rc->o.stop);
        pthread_mutex_unlock(&pl.mu);
        if (fin)
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (rc->o.progress && kk_now_s() - last >= period) {
            progress(rc, &pl, t0, tty, 0);
            last = kk_now_s();
        }
    }
    for (int j = 0; j < started; j++)
        pthread_join(th[j], NULL);
    if (rc->o.progress && !pl.failed && !(rc->o.stop && *rc->o.stop))
        progress(rc, &pl, t0, tty, 1);
    pthread_mutex_destroy(&pl.mu);
    if (started == 0)
        return kk_err_set(err, KK_E_INTERNAL, "cannot start a worker thread");
    if (pl.failed) {
        if (err)
            *err = pl.err;
        return pl.err.code != KK_OK ? pl.err.code : KK_E_INTERNAL;
    }
    if (rc->o.stop && *rc->o.stop)
        return kk_err_set(err, KK_E_INTERNAL, "interrupted");
    return KK_OK;
}

/* ---- an arm's evidence ----------------------------------------------------------- */

static cJSON *arm_config(const preset *p, const preset_arm *a)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "kind", p->kind->name);
    for (size_t f = 0; f < p->kind->n_arm_fields; f++) {
        const kind_field_spec *fs = &p->kind->arm_fields[f];
        const preset_field *v = &a->fields[f];
        switch (fs->type) {
        case PRESET_T_INT: ev_add_i64(c, fs->key, v->i); break;
        case PRESET_T_FLOAT: ev_add_num(c, fs->key, v->f); break;
        case PRESET_T_BOOL: cJSON_AddBoolToObject(c, fs->key, v->i != 0); break;
        default: cJSON_AddStringToObject(c, fs->key, v->s ? v->s : "");
        }
    }
    return c;
}

static kk_code arm_json(run_ctx *rc, size_t arm, cJSON **out, kk_err *err)
{
    const preset *p = rc->p;
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "name", p->arms[arm].name);
    cJSON *cfg = arm_config(p, &p->arms[arm]);
    char sha[65];
    kk_code code = ev_json_sha256(cfg, sha, err);
    cJSON_AddItemToObject(a, "config", cfg);
    cJSON_AddStringToObject(a, "config_sha256", sha);
    size_t n = 0;
    for (size_t i = 0; i < rc->n_tasks; i++)
        n += rc->tasks[i].arm == arm;
    double *pre = calloc(n ? n : 1, sizeof *pre), *dec = calloc(n ? n : 1, sizeof *dec),
           *tok = calloc(n ? n : 1, sizeof *tok);
    int64_t hits = 0;
    double min_margin = INFINITY, ke = 0, kr = 0, ve = 0, vr = 0;
    uint64_t enc = 0, decd = 0, kvb = 0, kvb_total = 0;
    int64_t kvb_ctx = 0;
    int has_codec = 0, has_kv = 0;
    cJSON *samples = cJSON_CreateArray(), *fallbacks = cJSON_CreateArray();
    size_t k = 0;
    for (size_t i = 0; i < rc->n_tasks; i++) {
        const run_task *t = &rc->tasks[i];
        const run_result *r = &rc->results[i];
        if (t->arm != arm)
            continue;
        hits += r->hit;
        if (r->margin < min_margin)
            min_margin = r->margin;
        pre[k] = r->prefill_s;
        dec[k] = r->decode_s;
        tok[k] = (double)r->tokens_decoded;
        k++;
        has_codec |= r->has_codec;
        enc += r->values_encoded;
        decd += r->values_decoded;
        if (r->has_kv_err) {
            has_kv = 1;
            ke += r->k_err;
            kr += r->k_ref;
            ve += r->v_err;
            vr += r->v_ref;
        }
        /* metrics.kv_bytes_resident: the cache of a sample at the arm's
         * largest context (the first such sample; every one allocates the
         * same for a given ctx). */
        if (t->ctx > kvb_ctx) {
            kvb_ctx = t->ctx;
            kvb = r->kv_bytes;
        }
        kvb_total += r->kv_bytes;
        if (r->fallback[0]) {
            int seen = 0;
            cJSON *f;
            cJSON_ArrayForEach(f, fallbacks) seen |= !strcmp(f->valuestring, r->fallback);
            if (!seen)
                cJSON_AddItemToArray(fallbacks, cJSON_CreateString(r->fallback));
        }
        cJSON *s = cJSON_CreateObject();
        cJSON_AddNumberToObject(s, "index", (double)t->sample);
        ev_add_i64(s, "ctx", t->ctx);
        ev_add_num(s, "depth", t->depth);
        ev_add_u64(s, "seed", t->seed);
        cJSON_AddBoolToObject(s, "hit", r->hit != 0);
        ev_add_num(s, "margin", r->margin);
        cJSON_AddNumberToObject(s, "expected", r->expected);
        cJSON_AddNumberToObject(s, "answer", r->answer);
        cJSON *ids = cJSON_AddArrayToObject(s, "ids");
        cJSON_AddItemToArray(ids, cJSON_CreateNumber(r->answer));
        ev_add_num(s, "prefill_s", r->prefill_s);
        ev_add_num(s, "decode_s", r->decode_s);
        ev_add_i64(s, "tokens_decoded", r->tokens_decoded);
        cJSON_AddItemToArray(samples, s);
    }
    /* metrics: only what preset, model and seed determine */
    cJSON *m = cJSON_AddObjectToObject(a, "metrics");
    if (n) {
        double lo, hi;
        kk_wilson95((double)hits, (double)n, &lo, &hi);
        ev_add_num(m, "recall", (double)hits / (double)n);
        ev_add_num(m, "recall_ci_lo", lo);
        ev_add_num(m, "recall_ci_hi", hi);
        ev_add_i64(m, "n", (int64_t)n);
        ev_add_i64(m, "hits", hits);
        ev_add_num(m, "min_margin", min_margin);
    }
    if (has_kv) {
        ev_add_num(m, "rel_mse_k", kr > 0 ? ke / kr : 0);
        ev_add_num(m, "rel_mse_v", vr > 0 ? ve / vr : 0);
    }
    ev_add_u64(m, "kv_bytes_resident", kvb);
    /* timings: wall clock, with its scope */
    cJSON *tm = cJSON_AddObjectToObject(a, "timings");
    const run_ops *ops = p->kind->ops;
    cJSON_AddStringToObject(tm, "scope", ops->timing_scope ? ops->timing_scope : "none");
    if (ops->timing_scope_note)
        cJSON_AddStringToObject(tm, "scope_note", ops->timing_scope_note);
    ev_add_num(tm, "prefill_s", kk_median(pre, k));
    ev_add_num(tm, "decode_s", kk_median(dec, k));
    ev_add_i64(tm, "tokens_decoded", (int64_t)kk_median(tok, k));
    cJSON_AddArrayToObject(tm, "repeats");
    free(pre);
    free(dec);
    free(tok);
    /* signals: counted by the components while they ran */
    cJSON *sg = cJSON_AddObjectToObject(a, "signals");
    cJSON *ct = cJSON_AddObjectToObject(sg, "counters");
    if (has_codec) {
        ev_add_u64(ct, "values_encoded", enc);
        ev_add_u64(ct, "values_decoded", decd);
    }
    cJSON_AddItemToObject(sg, "fallbacks_taken", fallbacks);
    cJSON *mem = cJSON_AddObjectToObject(sg, "memory");
    ev_add_u64(mem, "kv_bytes_allocated", kvb);
    ev_add_i64(mem, "kv_bytes_allocated_ctx", kvb_ctx);
    ev_add_u64(mem, "kv_bytes_allocated_all_samples", kvb_total);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        ev_add_u64(mem, "peak_rss_bytes", (uint64_t)ru.ru_maxrss * 1024u);
    cJSON_AddItemToObject(a, "samples", samples);
    if (code == KK_OK && p->kind->ops->arm_extra)
        code = p->kind->ops->arm_extra(rc, arm, a, err);
    if (code != KK_OK) {
        cJSON_Delete(a);
        return code;
    }
    *out = a;
    return KK_OK;
}

/* ---- the run ---------------------------------------------------------------------- */

kk_code run_execute(run_ctx *rc, cJSON **doc, kk_err *err)
{
    const preset *p = rc->p;
    const run_ops *ops = p->kind->ops;
    *doc = NULL;
    if (!p->kind->available || !ops) {
        kk_err_set(err, KK_E_UNSUPPORTED, "kind %s is not available in this build: %s",
                   p->kind->name, p->kind->unavailable_why ? p->kind->unavailable_why : "no runner");
        return kk_err_file(err, p->file);
    }
    ev_provenance pv;
    memset(&pv, 0, sizeof pv);
    struct timespec w0, w1;
    clock_gettime(CLOCK_REALTIME, &w0);
    ev_utc_text(&w0, pv.started, sizeof pv.started);
    double t0 = kk_now_s();
    ops_set_threads(rc->o.threads);
    KK_TRY(ops->prepare(rc, err));
    rc->results = calloc(rc->n_tasks ? rc->n_tasks : 1, sizeof *rc->results);
    if (!rc->results) {
        kk_err_set(err, KK_E_NOMEM, "out of memory");
        goto fail;
    }
    kk_code code = run_tasks(rc, err);
    if (code != KK_OK)
        goto fail;
    cJSON *arms = cJSON_CreateArray();
    for (size_t a = 0; a < p->n_arms; a++) {
        if (!run_arm_on(rc, a))
            continue;
        cJSON *aj = NULL;
        if (arm_json(rc, a, &aj, err) != KK_OK) {
            cJSON_Delete(arms);
            goto fail;
        }
        cJSON_AddItemToArray(arms, aj);
    }
    char root[4096];
    if (kk_repo_root(root, sizeof root, NULL) != KK_OK)
        snprintf(root, sizeof root, ".");
    ev_provenance_collect(&pv, root);
    if (pv.binary_stale)
        fprintf(stderr, "kakeya run: warning: this binary is older than the sources in %s "
                        "(run `make`): the evidence is marked git_dirty\n", root);
    pv.seed = rc->seed;
    pv.threads = rc->o.threads;
    pv.jobs = rc->o.jobs;
    pv.shard_i = rc->o.shard_i;
    pv.shard_n = rc->o.shard_n;
    clock_gettime(CLOCK_REALTIME, &w1);
    ev_utc_text(&w1, pv.finished, sizeof pv.finished);
    pv.wall_s = kk_now_s() - t0;
    rc->wall_s = pv.wall_s;
    cJSON *summary = ev_summary(arms);
    cJSON *models = rc->models;
    rc->models = NULL;
    *doc = ev_document(p, &pv, models, arms, summary);
    if (ops->finish)
        ops->finish(rc);
    return KK_OK;
fail:
    if (ops->finish)
        ops->finish(rc);
    return err && err->code != KK_OK ? err->code : KK_E_INTERNAL;
}
