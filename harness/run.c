/* run: workers, progress and the per-arm evidence (run.h). */
#include "run.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evidence.h"
#include "kk_fault.h"
#include "kk_file.h"
#include "kk_stats.h"
#include "ops.h"

/* ---- allocation (with the run-alloc fault) ------------------------------------- */

/* 1 when this allocation is the one run-alloc:N names. */
static int alloc_injected(run_ctx *rc)
{
    const long k = atomic_fetch_add(&rc->n_allocs, 1) + 1;
    return rc->alloc_fail_at > 0 && k == rc->alloc_fail_at;
}

void *run_calloc(run_ctx *rc, size_t n, size_t size)
{
    return alloc_injected(rc) ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *run_realloc(run_ctx *rc, void *p, size_t n, size_t size)
{
    if (alloc_injected(rc))
        return NULL;
    if (n && size > SIZE_MAX / n)
        return NULL;
    return realloc(p, (n ? n : 1) * (size ? size : 1));
}

/* ---- setup ------------------------------------------------------------------- */

kk_code run_ctx_init(run_ctx *rc, const preset *p, const run_opts *o, kk_err *err)
{
    memset(rc, 0, sizeof *rc);
    rc->alloc_fail_at = kk_fault_nth(KK_FAULT_RUN_ALLOC);
    atomic_init(&rc->n_allocs, 0);
    rc->p = p;
    rc->o = *o;
    if (rc->o.jobs < 1)
        rc->o.jobs = 1;
    if (rc->o.threads < 1)
        rc->o.threads = 1;
    int64_t s = preset_get_int(p, "seed");
    rc->seed = o->seed_set ? o->seed : (s >= 0 ? (uint64_t)s : 1);
    rc->arm_on = run_calloc(rc, p->n_arms, 1);
    if (!rc->arm_on)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for the %zu arms of %s", p->n_arms,
                          p->name);
    /* Shard N of more than the arms would hold no arm: refused for every I,
     * not only I > arms, so a set that can never merge is never started. */
    if (o->shard_n > 0 && (size_t)o->shard_n > p->n_arms) {
        kk_err_set(err, KK_E_RANGE, "--shard %d/%d: preset %s has %zu arms, so at most %zu "
                   "shards; allowed: N <= %zu", o->shard_i, o->shard_n, p->name, p->n_arms,
                   p->n_arms, p->n_arms);
        return kk_err_where(err, "--shard");
    }
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
    free(rc->plans);
    free(rc->results);
    free(rc->arm_on);
    cJSON_Delete(rc->models);
    memset(rc, 0, sizeof *rc);
}

int run_arm_on(const run_ctx *rc, size_t a)
{
    return a < rc->p->n_arms && rc->arm_on[a];
}

kk_code run_add_task(run_ctx *rc, const run_task *t, const void *plan, kk_err *err)
{
    const size_t ps = rc->p->kind->ops->plan_size;
    if (rc->n_tasks == rc->cap_tasks) {
        size_t cap = rc->cap_tasks ? rc->cap_tasks * 2 : 64;
        run_task *nt = run_realloc(rc, rc->tasks, cap, sizeof *nt);
        if (!nt)
            return kk_err_set(err, KK_E_NOMEM, "out of memory planning %zu tasks", cap);
        rc->tasks = nt;
        if (ps) {
            unsigned char *np = run_realloc(rc, rc->plans, cap, ps);
            if (!np)
                return kk_err_set(err, KK_E_NOMEM, "out of memory planning %zu tasks", cap);
            rc->plans = np;
        }
        rc->cap_tasks = cap;
    }
    if (ps)
        memcpy(rc->plans + rc->n_tasks * ps, plan, ps);
    rc->tasks[rc->n_tasks++] = *t;
    return KK_OK;
}

const void *run_plan_at(const run_ctx *rc, size_t i)
{
    return rc->plans + i * rc->p->kind->ops->plan_size;
}

void *run_result_at(const run_ctx *rc, size_t i)
{
    return rc->results + i * rc->p->kind->ops->result_size;
}

size_t run_arm_n_tasks(const run_ctx *rc, size_t arm)
{
    size_t n = 0;
    for (size_t i = 0; i < rc->n_tasks; i++)
        n += rc->tasks[i].arm == arm;
    return n;
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
        code = ops->task(rc, w, i, &e);
        pthread_mutex_lock(&pl->mu);
        if (code == KK_OK) {
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
    pthread_t th[RUN_MAX_JOBS];
    int started = 0;
    const long fail_thread = kk_fault_nth(KK_FAULT_THREAD_START);
    int create_err = 0;
    for (int j = 0; j < jobs && j < RUN_MAX_JOBS; j++) {
        /* The thread-start:N fault: the Nth start fails as EAGAIN would. */
        create_err = fail_thread == j + 1 ? EAGAIN : pthread_create(&th[j], NULL, worker_main, &pl);
        if (create_err != 0)
            break;
        started++;
    }
    rc->jobs_started = started;
    /* No worker means nothing will ever finish a task: fail now, before
     * the wait below (which would otherwise wait for ever). Fewer workers
     * than asked is fine: the ones that started take every task. */
    if (started == 0) {
        pthread_mutex_destroy(&pl.mu);
        return kk_err_set(err, KK_E_INTERNAL, "cannot start a worker thread (%d asked): %s", jobs,
                          strerror(create_err));
    }
    if (started < jobs)
        fprintf(stderr, "kakeya run: warning: %d of %d workers started (%s); the others' tasks "
                        "run on them (metrics do not depend on the count)\n",
                started, jobs, strerror(create_err));
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

static void arm_config(ev_build *b, cJSON *c, const preset *p, const preset_arm *a)
{
    ev_put_str(b, c, "kind", p->kind->name);
    for (size_t f = 0; f < p->kind->n_arm_fields; f++) {
        const kind_field_spec *fs = &p->kind->arm_fields[f];
        const preset_field *v = &a->fields[f];
        switch (fs->type) {
        case PRESET_T_INT: ev_put_i64(b, c, fs->key, v->i); break;
        case PRESET_T_FLOAT: ev_put_num(b, c, fs->key, v->f); break;
        case PRESET_T_BOOL: ev_put_bool(b, c, fs->key, v->i != 0); break;
        default: ev_put_str(b, c, fs->key, v->s ? v->s : "");
        }
    }
}

/* The keys every arm has, in order: the loop's skeleton, then the kind's. */
static const char *const ARM_KEYS[] = {"name", "config", "config_sha256", "metrics", "timings",
                                       "signals", "samples"};

/* The skeleton every arm has (name, config, config_sha256), then the
 * kind's metrics, timings, signals and samples, checked to be there in
 * that order. Every member is checked (ev_build): an arm is whole or an
 * error. */
static kk_code arm_json(run_ctx *rc, size_t arm, cJSON **out, kk_err *err)
{
    const preset *p = rc->p;
    ev_build b;
    ev_build_init(&b, err);
    cJSON *a = cJSON_CreateObject();
    if (!a)
        return kk_err_set(err, KK_E_NOMEM, "out of memory for arm %s", p->arms[arm].name);
    ev_put_str(&b, a, "name", p->arms[arm].name);
    cJSON *cfg = ev_put_obj(&b, a, "config");
    arm_config(&b, cfg, p, &p->arms[arm]);
    char sha[65] = "";
    if (cfg && b.code == KK_OK) {
        kk_code code = ev_json_sha256(cfg, sha, err);
        if (code != KK_OK) {
            cJSON_Delete(a);
            return code;
        }
    }
    ev_put_str(&b, a, "config_sha256", sha);
    kk_code code = b.code == KK_OK ? p->kind->ops->arm_evidence(rc, arm, &b, a, err) : KK_OK;
    if (code != KK_OK) {
        cJSON_Delete(a);
        return code;
    }
    KK_TRY(ev_build_end(&b, &a));
    /* A kind that left out or reordered a part is a bug, not a file. */
    const cJSON *it = a->child;
    for (size_t i = 0; i < sizeof ARM_KEYS / sizeof ARM_KEYS[0]; i++, it = it ? it->next : NULL)
        if (!it || strcmp(it->string, ARM_KEYS[i]) != 0) {
            cJSON_Delete(a);
            return kk_err_set(err, KK_E_INTERNAL, "kind %s: arm %s has \"%s\" where \"%s\" "
                              "belongs", p->kind->name, p->arms[arm].name,
                              it ? it->string : "(nothing)", ARM_KEYS[i]);
        }
    *out = a;
    return KK_OK;
fail:
    return err && err->code != KK_OK ? err->code : KK_E_INTERNAL;
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
    rc->results = run_calloc(rc, rc->n_tasks, ops->result_size);
    if (!rc->results) {
        kk_err_set(err, KK_E_NOMEM, "out of memory for the results of %zu tasks", rc->n_tasks);
        goto fail;
    }
    kk_code code = run_tasks(rc, err);
    if (code != KK_OK)
        goto fail;
    cJSON *arms = cJSON_CreateArray();
    if (!arms) {
        kk_err_set(err, KK_E_NOMEM, "out of memory for the arms of the evidence");
        goto fail;
    }
    for (size_t a = 0; a < p->n_arms; a++) {
        if (!run_arm_on(rc, a))
            continue;
        cJSON *aj = NULL;
        if (arm_json(rc, a, &aj, err) != KK_OK || !cJSON_AddItemToArray(arms, aj)) {
            cJSON_Delete(aj);
            cJSON_Delete(arms);
            if (!err || err->code == KK_OK)
                kk_err_set(err, KK_E_NOMEM, "out of memory adding arm %s", p->arms[a].name);
            goto fail;
        }
    }
    char root[4096];
    if (kk_repo_root(root, sizeof root, NULL) != KK_OK)
        snprintf(root, sizeof root, ".");
    ev_provenance_collect(&pv, root);
    if (pv.git_error[0])
        fprintf(stderr, "kakeya run: warning: git could not be used (%s): the evidence names "
                        "commit %s and is marked git_dirty (provenance.git_error)\n",
                pv.git_error, pv.git_commit);
    if (pv.binary_stale)
        fprintf(stderr, "kakeya run: warning: this binary is older than the sources in %s "
                        "(run `make`): the evidence is marked git_dirty\n", root);
    pv.gpu = rc->gpu;
    pv.seed = rc->seed;
    pv.threads = rc->o.threads;
    pv.jobs = rc->o.jobs;
    pv.shard_i = rc->o.shard_i;
    pv.shard_n = rc->o.shard_n;
    clock_gettime(CLOCK_REALTIME, &w1);
    ev_utc_text(&w1, pv.finished, sizeof pv.finished);
    pv.wall_s = kk_now_s() - t0;
    rc->wall_s = pv.wall_s;
    cJSON *summary = NULL;
    if (ev_summary_build(arms, &summary, err) != KK_OK) {
        cJSON_Delete(arms);
        goto fail;
    }
    cJSON *models = rc->models;
    rc->models = NULL;
    /* Takes models, arms and summary whatever it returns. */
    if (ev_document_build(p, &pv, models, arms, summary, doc, err) != KK_OK)
        goto fail;
    if (ops->finish)
        ops->finish(rc);
    return KK_OK;
fail:
    if (ops->finish)
        ops->finish(rc);
    return err && err->code != KK_OK ? err->code : KK_E_INTERNAL;
}
