/* ev: evidence document and its atomic write (evidence.h). */
#include "evidence.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_kernels.h"
#include "kernels.h"
#include "kk_git.h"
#include "kind.h"
#include "kk_args.h"
#include "json.h"
#include "kk_fault.h"
#include "kk_file.h"
#include "sha256.h"

/* OpenBLAS reports its version and build; declared here so the harness
 * needs no cblas header for one call. */
extern char *openblas_get_config(void);

/* ---- checked building ----------------------------------------------------- */

void ev_build_init(ev_build *b, kk_err *err)
{
    b->err = err;
    b->code = KK_OK;
    b->n_puts = 0;
    b->fail_at = kk_fault_nth(KK_FAULT_EVIDENCE_ALLOC);
}

/* Attach item to parent: as member `key` of an object, or appended to an
 * array (`key` then only names it in the error). Takes ownership of item
 * (NULL: its creation failed), deleting it when it cannot be attached.
 * @return item, or NULL once the build has failed. */
cJSON *ev_put(ev_build *b, cJSON *parent, const char *key, cJSON *item)
{
    if (b->code != KK_OK) {
        cJSON_Delete(item);
        return NULL;
    }
    const int injected = b->fail_at && ++b->n_puts == b->fail_at;
    const int ok = !injected && parent && item &&
                   (cJSON_IsArray(parent) ? cJSON_AddItemToArray(parent, item)
                                          : cJSON_AddItemToObject(parent, key, item));
    if (!ok) {
        cJSON_Delete(item);
        b->code = KK_E_NOMEM;
        kk_err_set(b->err, KK_E_NOMEM, "out of memory adding \"%s\" to the evidence document",
                   key);
        kk_err_where(b->err, key);
        return NULL;
    }
    return item;
}

cJSON *ev_put_u64(ev_build *b, cJSON *o, const char *key, uint64_t v)
{
    char t[32];
    snprintf(t, sizeof t, "%" PRIu64, v);
    return ev_put(b, o, key, cJSON_CreateRaw(t));
}

/* Finite numbers only (a non-finite one is skipped, not an error). */
void ev_put_num(ev_build *b, cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        ev_put(b, o, key, cJSON_CreateNumber(v == 0 ? 0.0 : v));
}

/* The first failure of b (KK_OK when none), deleting *doc then. */
cJSON *ev_put_i64(ev_build *b, cJSON *o, const char *key, int64_t v)
{
    char t[32];
    snprintf(t, sizeof t, "%" PRId64, v);
    return ev_put(b, o, key, cJSON_CreateRaw(t));
}

cJSON *ev_put_str(ev_build *b, cJSON *o, const char *key, const char *v)
{
    return ev_put(b, o, key, cJSON_CreateString(v ? v : ""));
}

cJSON *ev_put_bool(ev_build *b, cJSON *o, const char *key, int v)
{
    return ev_put(b, o, key, cJSON_CreateBool(v != 0));
}

cJSON *ev_put_obj(ev_build *b, cJSON *o, const char *key)
{
    return ev_put(b, o, key, cJSON_CreateObject());
}

cJSON *ev_put_arr(ev_build *b, cJSON *o, const char *key)
{
    return ev_put(b, o, key, cJSON_CreateArray());
}

kk_code ev_build_end(ev_build *b, cJSON **doc)
{
    if (b->code != KK_OK) {
        cJSON_Delete(*doc);
        *doc = NULL;
    }
    return b->code;
}

/* ---- numbers ---------------------------------------------------------------- */

kk_code ev_json_sha256(const cJSON *v, char out[65], kk_err *err)
{
    /* The hash is of the canonical form (common/json_canon.c), which the
     * gate computes the same way from the file. The text below only
     * carries the values to common's reader: it is what the evidence file
     * will hold (cJSON's printer writes every number so that it reads back
     * as the same double, raw integers as they are), so both programs hash
     * the same values. */
    out[0] = '\0';
    char *s = cJSON_PrintUnformatted(v);
    if (!s)
        return kk_err_set(err, KK_E_NOMEM, "out of memory printing JSON");
    json_doc *doc = NULL;
    kk_code code = json_parse(s, strlen(s), "config", NULL, &doc, err);
    cJSON_free(s);
    if (code == KK_OK)
        code = json_canonical_sha256(json_doc_root(doc), out, err);
    json_doc_free(doc);
    return code;
}

/* ---- provenance ----------------------------------------------------------------- */

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = 0;
}

static void cpu_model(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                trim(c);
                if (*c)
                    snprintf(buf, cap, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

/* Newest mtime (seconds, nanoseconds) of *.c, *.h, *.cu, *.cuh directly in dir. */
static void newest_source(const char *dir, struct timespec *newest)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const size_t n = strlen(e->d_name);
        const char *dot = strrchr(e->d_name, '.');
        if (n < 3 || !dot || (strcmp(dot, ".c") && strcmp(dot, ".h") && strcmp(dot, ".cu") &&
                              strcmp(dot, ".cuh")))
            continue;
        char path[4096];
        struct stat st;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path ||
            stat(path, &st) != 0)
            continue;
        if (st.st_mtim.tv_sec > newest->tv_sec ||
            (st.st_mtim.tv_sec == newest->tv_sec && st.st_mtim.tv_nsec > newest->tv_nsec))
            *newest = st.st_mtim;
    }
    closedir(d);
}

int ev_binary_stale(const char *root, const char *exe)
{
    struct stat xs;
    if (stat(exe, &xs) != 0)
        return 0;
    struct timespec newest = {0, 0};
    /* What bin/kakeya links (Makefile, DEPS of kakeya): gate/ is another
     * program's (an edit there does not make this binary stale), and
     * compare/ and bench/lib/ are linked in. */
    static const char *const dirs[] = {"common", "engine", "compare", "bench/lib", "harness",
#ifdef KK_CUDA
                                       "engine/cuda", /* a make cuda build links it */
#endif
    };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", root, dirs[i]) < sizeof path)
            newest_source(path, &newest);
    }
    return newest.tv_sec > xs.st_mtim.tv_sec ||
           (newest.tv_sec == xs.st_mtim.tv_sec && newest.tv_nsec > xs.st_mtim.tv_nsec);
}

/* ---- git: commit, dirty tree ------------------------------------------------- */

/* Keeps the first reason git could not be used; the tree then counts as
 * dirty (nothing says it is not). */
static void git_unusable(ev_provenance *pv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void git_unusable(ev_provenance *pv, const char *fmt, ...)
{
    pv->git_dirty = 1;
    if (pv->git_error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pv->git_error, sizeof pv->git_error, fmt, ap);
    va_end(ap);
}

/* `git -C root ARGS` into *out (caller frees); on failure records why
 * (git_unusable) and returns -1. */
static int git_ask(ev_provenance *pv, const char *root, const char *const *args,
                   size_t max_out, char **out, size_t *len)
{
    kk_err e;
    kk_err_clear(&e);
    int st = -1;
    if (kk_git_run(root, args, out, len, max_out, &st, &e) != KK_OK) {
        git_unusable(pv, "git %s %s: %s", args[0], args[1] ? args[1] : "", e.msg);
        return -1;
    }
    if (st != 0) {
        free(*out);
        *out = NULL;
        git_unusable(pv, "git %s %s exited with status %d in %s (no commit yet, or a "
                     "repository git refuses: try `git -C %s status`)",
                     args[0], args[1] ? args[1] : "", st, root, root);
        return -1;
    }
    return 0;
}

static void dirty_path_add(ev_provenance *pv, const char *path)
{
    if (pv->n_dirty_paths < EV_DIRTY_PATHS_MAX) {
        char *d = pv->dirty_paths[pv->n_dirty_paths];
        if (strlen(path) < EV_DIRTY_PATH_MAX)
            snprintf(d, EV_DIRTY_PATH_MAX, "%s", path);
        else
            snprintf(d, EV_DIRTY_PATH_MAX, "%.*s...", EV_DIRTY_PATH_MAX - 4, path);
    }
    pv->n_dirty_paths++;
}

/* `git status --porcelain -z` (v1: "XY PATH\0", and "XY NEW\0OLD\0" when X
 * is R or C; paths relative to the top of the repository, never quoted
 * under -z) -> the dirty paths. `skip` is root's evidence/ folder as git
 * names it ("<prefix>evidence/"): what runs write there is data the next
 * run does not read, and counting it would make every run's evidence dirty
 * the next. Ignored files are not listed (no --ignored): build outputs. */
static void dirty_paths_parse(ev_provenance *pv, const char *st, size_t len, const char *skip)
{
    const size_t n_skip = strlen(skip);
    for (size_t at = 0; at + 3 < len;) {
        const char *e = st + at;
        const size_t n = strnlen(e, len - at);
        const char *path = e + 3;
        if (strncmp(path, skip, n_skip) != 0)
            dirty_path_add(pv, path);
        at += n + 1;
        if (e[0] == 'R' || e[0] == 'C') /* the original path follows */
            at += strnlen(st + at, len - at) + 1;
    }
}

static void git_collect(ev_provenance *pv, const char *root)
{
    if (!kk_git_in_checkout(root)) {
        git_unusable(pv, "%s is not in a git checkout (no .git in it or above it)", root);
        return;
    }
    char *out = NULL;
    size_t len = 0;
    const char *rev[] = {"rev-parse", "HEAD", NULL};
    if (git_ask(pv, root, rev, 4096, &out, &len) != 0)
        return;
    trim(out);
    if (strlen(out) == 40 || strlen(out) == 64)
        snprintf(pv->git_commit, sizeof pv->git_commit, "%s", out);
    else
        git_unusable(pv, "git rev-parse HEAD printed no commit id");
    free(out);
    /* root as seen from the top of the repository ("" at the top) */
    const char *pre[] = {"rev-parse", "--show-prefix", NULL};
    if (git_ask(pv, root, pre, 1 << 16, &out, &len) != 0)
        return;
    trim(out);
    char skip[PATH_MAX + 16];
    snprintf(skip, sizeof skip, "%sevidence/", out);
    free(out);
    const char *stat[] = {"status", "--porcelain", "-z", "--untracked-files=normal", NULL};
    if (git_ask(pv, root, stat, (size_t)1 << 24, &out, &len) != 0)
        return;
    dirty_paths_parse(pv, out, len, skip);
    free(out);
    pv->git_dirty = pv->n_dirty_paths > 0;
}

void ev_provenance_collect(ev_provenance *pv, const char *root)
{
    memset(pv->git_commit, '0', 40);
    pv->git_commit[40] = 0;
    pv->git_dirty = 1;
    pv->n_dirty_paths = 0;
    pv->git_error[0] = 0;
    git_collect(pv, root);
    /* a binary older than its sources did not run HEAD's code */
    pv->binary_stale = kk_git_in_checkout(root) ? ev_binary_stale(root, "/proc/self/exe") : 0;
    if (pv->binary_stale)
        pv->git_dirty = 1;
    kern_format(kern_current(), pv->kernels, sizeof pv->kernels);
    snprintf(pv->kernels_source, sizeof pv->kernels_source, "%s", cli_kernels_source());
    cpu_model(pv->cpu, sizeof pv->cpu);
    pv->cores = kk_ncores();
#if defined(__SANITIZE_ADDRESS__)
    snprintf(pv->build, sizeof pv->build, "asan");
#else
    snprintf(pv->build, sizeof pv->build, "release");
#endif
    const char *opt =
#if defined(__OPTIMIZE__)
        "-O1 or higher";
#else
        "-O0";
#endif
#if defined(__clang__)
    snprintf(pv->compiler, sizeof pv->compiler, "clang %s; -std=c11 %s (%s build)",
             __clang_version__, opt, pv->build);
#elif defined(__GNUC__)
    snprintf(pv->compiler, sizeof pv->compiler, "gcc %s; -std=c11 %s (%s build)", __VERSION__,
             opt, pv->build);
#else
    snprintf(pv->compiler, sizeof pv->compiler, "cc; -std=c11 %s (%s build)", opt, pv->build);
#endif
    pv->faults[0] = 0;
    for (size_t i = 0, at = 0; i < kk_fault_count(); i++) {
        if (!kk_fault_on(kk_fault_name(i)))
            continue;
        int w = snprintf(pv->faults + at, sizeof pv->faults - at, "%s%s", at ? "," : "",
                         kk_fault_name(i));
        if (w < 0 || (size_t)w >= sizeof pv->faults - at)
            break;
        at += (size_t)w;
    }
    const char *b = openblas_get_config();
    snprintf(pv->blas, sizeof pv->blas, "%s", b ? b : "OpenBLAS");
    trim(pv->blas);
}

void ev_utc_text(const struct timespec *ts, char *buf, size_t cap)
{
    struct tm tm;
    time_t t = ts->tv_sec;
    gmtime_r(&t, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000000);
}

/* ---- document -------------------------------------------------------------------- */

static cJSON *params_build(ev_build *b, const preset *p)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return ev_put(b, NULL, "params", NULL);
    for (size_t i = 0; i < p->n_params && b->code == KK_OK; i++) {
        const preset_param *prm = &p->params[i];
        preset_type t = prm->b.type == PRESET_T_LIST ? prm->b.of : prm->b.type;
        cJSON *arr = NULL;
        if (prm->b.type == PRESET_T_LIST)
            arr = ev_put(b, o, prm->name, cJSON_CreateArray());
        for (size_t k = 0; k < prm->v.n && b->code == KK_OK; k++) {
            cJSON *v = NULL;
            char t64[32];
            switch (t) {
            case PRESET_T_INT:
                snprintf(t64, sizeof t64, "%" PRId64, prm->v.i[k]);
                v = cJSON_CreateRaw(t64);
                break;
            case PRESET_T_FLOAT:
                v = cJSON_CreateNumber(prm->v.f[k]);
                break;
            case PRESET_T_BOOL:
                v = cJSON_CreateBool(prm->v.i[k] != 0);
                break;
            default:
                v = cJSON_CreateString(prm->v.s[k]);
            }
            ev_put(b, arr ? arr : o, prm->name, v);
        }
    }
    if (b->code != KK_OK) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *ev_params(const preset *p)
{
    ev_build b;
    ev_build_init(&b, NULL);
    return params_build(&b, p);
}

kk_code ev_document_build(const preset *p, const ev_provenance *pv, cJSON *models, cJSON *arms,
                          cJSON *summary, cJSON **out, kk_err *err)
{
    ev_build b;
    ev_build_init(&b, err);
    cJSON *d = cJSON_CreateObject();
    if (!d)
        ev_put(&b, NULL, "(the document)", NULL);
    ev_put(&b, d, "schema_version", cJSON_CreateNumber(EV_SCHEMA_VERSION));
    cJSON *pr = ev_put(&b, d, "preset", cJSON_CreateObject());
    ev_put(&b, pr, "name", cJSON_CreateString(p->name));
    ev_put(&b, pr, "kind", cJSON_CreateString(p->kind->name));
    ev_put(&b, pr, "sha256", cJSON_CreateString(p->sha256));
    if (b.code == KK_OK)
        ev_put(&b, pr, "params", params_build(&b, p));
    cJSON *v = ev_put(&b, d, "provenance", cJSON_CreateObject());
    ev_put(&b, v, "tool_version", cJSON_CreateString(EV_TOOL_VERSION));
    ev_put(&b, v, "git_commit", cJSON_CreateString(pv->git_commit));
    ev_put(&b, v, "git_dirty", cJSON_CreateBool(pv->git_dirty));
    cJSON *dp = ev_put(&b, v, "git_dirty_paths", cJSON_CreateArray());
    for (size_t i = 0; i < pv->n_dirty_paths && i < EV_DIRTY_PATHS_MAX && b.code == KK_OK; i++)
        ev_put(&b, dp, "git_dirty_paths", cJSON_CreateString(pv->dirty_paths[i]));
    ev_put_u64(&b, v, "git_dirty_paths_total", pv->n_dirty_paths);
    if (pv->git_error[0])
        ev_put(&b, v, "git_error", cJSON_CreateString(pv->git_error));
    cJSON *h = ev_put(&b, v, "host", cJSON_CreateObject());
    ev_put(&b, h, "cpu", cJSON_CreateString(pv->cpu));
    ev_put(&b, h, "cores", cJSON_CreateNumber(pv->cores));
    ev_put(&b, v, "compiler", cJSON_CreateString(pv->compiler));
    ev_put(&b, v, "build", cJSON_CreateString(pv->build));
    ev_put(&b, v, "blas", cJSON_CreateString(pv->blas));
    if (pv->kernels[0]) {
        ev_put(&b, v, "kernels", cJSON_CreateString(pv->kernels));
        ev_put(&b, v, "kernels_source", cJSON_CreateString(pv->kernels_source));
    }
    if (pv->gpu.name[0]) {
        cJSON *g = ev_put(&b, v, "gpu", cJSON_CreateObject());
        ev_put_str(&b, g, "name", pv->gpu.name);
        ev_put_str(&b, g, "driver", pv->gpu.driver);
        ev_put_str(&b, g, "cuda_driver", pv->gpu.cuda_driver);
        ev_put_str(&b, g, "runtime", pv->gpu.runtime);
        ev_put_str(&b, g, "nvcc", pv->gpu.nvcc);
        ev_put_str(&b, g, "cc", pv->gpu.cc);
        ev_put(&b, g, "sms", cJSON_CreateNumber(pv->gpu.sms));
        ev_put_u64(&b, g, "memory_bytes", pv->gpu.memory_bytes);
    }
    ev_put_u64(&b, v, "seed", pv->seed);
    ev_put(&b, v, "threads", cJSON_CreateNumber(pv->threads));
    ev_put(&b, v, "jobs", cJSON_CreateNumber(pv->jobs));
    if (pv->shard_n) {
        cJSON *s = ev_put(&b, v, "shard", cJSON_CreateObject());
        ev_put(&b, s, "index", cJSON_CreateNumber(pv->shard_i));
        ev_put(&b, s, "count", cJSON_CreateNumber(pv->shard_n));
    }
    ev_put(&b, v, "started", cJSON_CreateString(pv->started));
    ev_put(&b, v, "finished", cJSON_CreateString(pv->finished));
    ev_put_num(&b, v, "wall_s", pv->wall_s);
    /* Always written, empty when clean: the gate's FAULT_INJECTED check
     * rejects a file that lists any. */
    cJSON *fl = ev_put(&b, v, "faults_injected", cJSON_CreateArray());
    for (const char *f = pv->faults; *f && b.code == KK_OK;) {
        const char *c = strchr(f, ',');
        size_t len = c ? (size_t)(c - f) : strlen(f);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), f);
        ev_put(&b, fl, "faults_injected", cJSON_CreateString(name));
        f = c ? c + 1 : f + len;
    }
    /* Owned from here whatever happens: put deletes what it cannot attach. */
    ev_put(&b, d, "models", models);
    ev_put(&b, d, "arms", arms);
    ev_put(&b, d, "summary", summary);
    *out = d;
    return ev_build_end(&b, out);
}

cJSON *ev_document(const preset *p, const ev_provenance *pv, cJSON *models, cJSON *arms,
                   cJSON *summary)
{
    cJSON *d = NULL;
    ev_document_build(p, pv, models, arms, summary, &d, NULL);
    return d;
}

static double num_at(const cJSON *o, const char *k, int *ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsRaw(v)) {
        *ok = 1;
        return strtod(v->valuestring, NULL);
    }
    *ok = cJSON_IsNumber(v);
    return *ok ? v->valuedouble : 0;
}

kk_code ev_summary_build(const cJSON *arms, cJSON **out, kk_err *err)
{
    ev_build b;
    ev_build_init(&b, err);
    cJSON *s = cJSON_CreateObject();
    if (!s)
        ev_put(&b, NULL, "summary", NULL);
    *out = s;
    const cJSON *ref = NULL, *a;
    /* The reference: the first unmasked full-cache arm, else the first
     * unmasked identity-codec arm. */
    for (int pass = 0; pass < 2 && !ref; pass++)
        cJSON_ArrayForEach(a, arms) {
            const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(a, "config");
            const cJSON *codec = cJSON_GetObjectItemCaseSensitive(cfg, "codec");
            const cJSON *mask = cJSON_GetObjectItemCaseSensitive(cfg, "mask_needle");
            if (cJSON_IsTrue(mask) || !cJSON_IsString(codec))
                continue;
            if (!strcmp(codec->valuestring, pass == 0 ? "none" : "identity")) {
                ref = a;
                break;
            }
        }
    if (!ref) {
        ev_put(&b, s, "reference_arm", cJSON_CreateNull());
        return ev_build_end(&b, out);
    }
    const cJSON *rm = cJSON_GetObjectItemCaseSensitive(ref, "metrics");
    int ok_b, ok_r;
    double rb = num_at(rm, "kv_bytes_resident", &ok_b), rr = num_at(rm, "recall", &ok_r);
    ev_put(&b, s, "reference_arm",
        cJSON_CreateString(cJSON_GetObjectItemCaseSensitive(ref, "name")->valuestring));
    cJSON *per = ev_put(&b, s, "arms", cJSON_CreateObject());
    cJSON_ArrayForEach(a, arms) {
        if (b.code != KK_OK)
            break;
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(a, "metrics");
        cJSON *o = ev_put(&b, per, cJSON_GetObjectItemCaseSensitive(a, "name")->valuestring,
                       cJSON_CreateObject());
        int ok1, ok2;
        double bytes = num_at(m, "kv_bytes_resident", &ok1), r = num_at(m, "recall", &ok2);
        if (ok1 && ok_b && rb > 0)
            ev_put_num(&b, o, "kv_saved_pct", 100.0 * (1.0 - bytes / rb));
        if (ok2)
            ev_put_num(&b, o, "recall", r);
        if (ok2 && ok_r)
            ev_put_num(&b, o, "recall_vs_reference", r - rr);
    }
    ev_put(&b, s, "throughput_vs_llama_cpp", cJSON_CreateNull()); /* engine_bench measures it */
    /* The KV savings again as claims the gate checks (MEMORY_CLAIM_MISMATCH
     * against signals.memory.kv_bytes_allocated; SELF_COMPARISON on the
     * configs): kv_saved_pct alone is a number nobody verifies. Controls
     * (masked arms) and arms configured like the reference claim nothing. */
    cJSON *claims = ev_put(&b, s, "claims", cJSON_CreateArray());
    const char *ref_name = cJSON_GetObjectItemCaseSensitive(ref, "name")->valuestring;
    const cJSON *ref_sha = cJSON_GetObjectItemCaseSensitive(ref, "config_sha256");
    cJSON_ArrayForEach(a, arms) {
        if (b.code != KK_OK)
            break;
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(a, "config");
        const cJSON *sha = cJSON_GetObjectItemCaseSensitive(a, "config_sha256");
        int ok1;
        double bytes = num_at(cJSON_GetObjectItemCaseSensitive(a, "metrics"), "kv_bytes_resident", &ok1);
        if (a == ref || !ok1 || !ok_b || !(rb > 0) ||
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "mask_needle")) ||
            (cJSON_IsString(sha) && cJSON_IsString(ref_sha) &&
             !strcmp(sha->valuestring, ref_sha->valuestring)))
            continue;
        const char *name = cJSON_GetObjectItemCaseSensitive(a, "name")->valuestring;
        /* Filled before it joins claims: a claim is whole or absent with
         * the build failed (put deletes it then). */
        cJSON *c = cJSON_CreateObject();
        if (!c) {
            ev_put(&b, claims, "claims", NULL);
            break;
        }
        ev_put(&b, c, "arm", cJSON_CreateString(name));
        ev_put(&b, c, "baseline", cJSON_CreateString(ref_name));
        ev_put(&b, c, "metric", cJSON_CreateString("kv_bytes_resident"));
        ev_put_num(&b, c, "ratio", bytes / rb);
        char note[160];
        snprintf(note, sizeof note, "%s saves %.3f%% of the KV bytes %s allocates (measured)", name,
                 100.0 * (1.0 - bytes / rb), ref_name);
        ev_put(&b, c, "note", cJSON_CreateString(note));
        ev_put(&b, claims, "claims", c);
    }
    return ev_build_end(&b, out);
}

cJSON *ev_summary(const cJSON *arms)
{
    cJSON *s = NULL;
    ev_summary_build(arms, &s, NULL);
    return s;
}

/* ---- writing ------------------------------------------------------------------------ */

kk_code ev_write(const char *dir, const char *preset_name, const ev_provenance *pv,
                 const cJSON *doc, char *path, size_t cap, kk_err *err)
{
    if (!doc)
        return kk_err_set(err, KK_E_NOMEM, "no evidence document to write: building it ran out "
                          "of memory (nothing written)");
    char sub[PATH_MAX];
    if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, preset_name) >= sizeof sub)
        return kk_err_set(err, KK_E_RANGE, "evidence path too long");
    KK_TRY(kk_mkdir_p(sub, err));
    /* started = YYYY-MM-DDTHH:MM:SS.mmmZ -> YYYYMMDDTHHMMSSZ */
    char stamp[32];
    const char *s = pv->started;
    snprintf(stamp, sizeof stamp, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", s, s + 5, s + 8, s + 11, s + 14,
             s + 17);
    char stem[PATH_MAX];
    if ((size_t)snprintf(stem, sizeof stem, "%s/%s-%.7s", sub, stamp, pv->git_commit) >= sizeof stem)
        return kk_err_set(err, KK_E_RANGE, "evidence path too long");
    char *text = cJSON_Print(doc);
    if (!text)
        return kk_err_set(err, KK_E_NOMEM, "out of memory printing the evidence");
    size_t len = strlen(text);
    /* The file ends with a newline like every text file. */
    char *nl = realloc(text, len + 2);
    if (!nl) {
        cJSON_free(text);
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    }
    nl[len] = '\n';
    nl[len + 1] = 0;
    /* A signal between write and rename must not leave a temp file: hold
     * SIGINT and SIGTERM (they are delivered after the rename). The name is
     * taken exclusively (a -N suffix when taken): concurrent runs never
     * share a file. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);
    kk_code rc = kk_file_write_new(stem, ".json", nl, len + 1, path, cap, err);
    if (rc == KK_OK && kk_fault_on(KK_FAULT_SIGTERM_AFTER_RENAME))
        raise(SIGTERM); /* pending until the mask is restored below */
    sigprocmask(SIG_SETMASK, &old, NULL);
    free(nl);
    return rc;
fail:
    return err ? err->code : KK_E_IO;
}

int ev_clean_stale(const char *dir)
{
    return kk_file_clean_stale(dir, KK_FILE_STALE_AGE_S);
}
