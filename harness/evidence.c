/* ev: evidence document and its atomic write (evidence.h). */
#include "evidence.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kk_git.h"
#include "kind.h"
#include "kk_args.h"
#include "kk_fault.h"
#include "kk_file.h"
#include "sha256.h"

/* OpenBLAS reports its version and build; declared here so the harness
 * needs no cblas header for one call. */
extern char *openblas_get_config(void);

/* ---- numbers ---------------------------------------------------------------- */

void ev_add_u64(cJSON *o, const char *key, uint64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%" PRIu64, v);
    cJSON_AddRawToObject(o, key, b);
}

void ev_add_i64(cJSON *o, const char *key, int64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%" PRId64, v);
    cJSON_AddRawToObject(o, key, b);
}

int ev_add_num(cJSON *o, const char *key, double v)
{
    if (!isfinite(v))
        return 0;
    cJSON_AddNumberToObject(o, key, v == 0 ? 0.0 : v);
    return 1;
}

kk_code ev_json_sha256(const cJSON *v, char out[65], kk_err *err)
{
    char *s = cJSON_PrintUnformatted(v);
    if (!s)
        return kk_err_set(err, KK_E_NOMEM, "out of memory printing JSON");
    sha256_hex(s, strlen(s), out);
    cJSON_free(s);
    return KK_OK;
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

/* Newest mtime (seconds, nanoseconds) of *.c / *.h directly in dir. */
static void newest_source(const char *dir, struct timespec *newest)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const size_t n = strlen(e->d_name);
        if (n < 3 || e->d_name[n - 2] != '.' || (e->d_name[n - 1] != 'c' && e->d_name[n - 1] != 'h'))
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
    static const char *const dirs[] = {"common", "engine", "gate", "harness"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", root, dirs[i]) < sizeof path)
            newest_source(path, &newest);
    }
    return newest.tv_sec > xs.st_mtim.tv_sec ||
           (newest.tv_sec == xs.st_mtim.tv_sec && newest.tv_nsec > xs.st_mtim.tv_nsec);
}

void ev_provenance_collect(ev_provenance *pv, const char *root)
{
    memset(pv->git_commit, '0', 40);
    pv->binary_stale = 0;
    pv->git_commit[40] = 0;
    pv->git_dirty = 1;
    if (kk_git_in_checkout(root)) {
        const char *rev[] = {"rev-parse", "HEAD", NULL};
        char *out = NULL;
        size_t len = 0;
        int st = -1;
        if (kk_git_run(root, rev, &out, &len, 4096, &st, NULL) == KK_OK && st == 0) {
            trim(out);
            if (strlen(out) == 40 || strlen(out) == 64)
                snprintf(pv->git_commit, sizeof pv->git_commit, "%s", out);
        }
        free(out);
        out = NULL;
        const char *stat[] = {"status", "--porcelain", "--untracked-files=no", NULL};
        if (kk_git_run(root, stat, &out, &len, 1 << 20, &st, NULL) == KK_OK && st == 0)
            pv->git_dirty = len > 0;
        free(out);
        /* a binary older than its sources did not run HEAD's code */
        pv->binary_stale = ev_binary_stale(root, "/proc/self/exe");
        if (pv->binary_stale)
            pv->git_dirty = 1;
    }
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

cJSON *ev_params(const preset *p)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < p->n_params; i++) {
        const preset_param *prm = &p->params[i];
        preset_type t = prm->b.type == PRESET_T_LIST ? prm->b.of : prm->b.type;
        cJSON *arr = prm->b.type == PRESET_T_LIST ? cJSON_CreateArray() : NULL;
        for (size_t k = 0; k < prm->v.n; k++) {
            cJSON *v = NULL;
            char b[32];
            switch (t) {
            case PRESET_T_INT:
                snprintf(b, sizeof b, "%" PRId64, prm->v.i[k]);
                v = cJSON_CreateRaw(b);
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
            if (arr)
                cJSON_AddItemToArray(arr, v);
            else
                cJSON_AddItemToObject(o, prm->name, v);
        }
        if (arr)
            cJSON_AddItemToObject(o, prm->name, arr);
    }
    return o;
}

cJSON *ev_document(const preset *p, const ev_provenance *pv, cJSON *models, cJSON *arms,
                   cJSON *summary)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "schema_version", EV_SCHEMA_VERSION);
    cJSON *pr = cJSON_AddObjectToObject(d, "preset");
    cJSON_AddStringToObject(pr, "name", p->name);
    cJSON_AddStringToObject(pr, "kind", p->kind->name);
    cJSON_AddStringToObject(pr, "sha256", p->sha256);
    cJSON_AddItemToObject(pr, "params", ev_params(p));
    cJSON *v = cJSON_AddObjectToObject(d, "provenance");
    cJSON_AddStringToObject(v, "tool_version", EV_TOOL_VERSION);
    cJSON_AddStringToObject(v, "git_commit", pv->git_commit);
    cJSON_AddBoolToObject(v, "git_dirty", pv->git_dirty);
    cJSON *h = cJSON_AddObjectToObject(v, "host");
    cJSON_AddStringToObject(h, "cpu", pv->cpu);
    cJSON_AddNumberToObject(h, "cores", pv->cores);
    cJSON_AddStringToObject(v, "compiler", pv->compiler);
    cJSON_AddStringToObject(v, "build", pv->build);
    cJSON_AddStringToObject(v, "blas", pv->blas);
    ev_add_u64(v, "seed", pv->seed);
    cJSON_AddNumberToObject(v, "threads", pv->threads);
    cJSON_AddNumberToObject(v, "jobs", pv->jobs);
    if (pv->shard_n) {
        cJSON *s = cJSON_AddObjectToObject(v, "shard");
        cJSON_AddNumberToObject(s, "index", pv->shard_i);
        cJSON_AddNumberToObject(s, "count", pv->shard_n);
    }
    cJSON_AddStringToObject(v, "started", pv->started);
    cJSON_AddStringToObject(v, "finished", pv->finished);
    ev_add_num(v, "wall_s", pv->wall_s);
    /* Always written, empty when clean: the gate's FAULT_INJECTED check
     * rejects a file that lists any. */
    cJSON *fl = cJSON_AddArrayToObject(v, "faults_injected");
    for (const char *f = pv->faults; *f;) {
        const char *c = strchr(f, ',');
        size_t len = c ? (size_t)(c - f) : strlen(f);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), f);
        cJSON_AddItemToArray(fl, cJSON_CreateString(name));
        f = c ? c + 1 : f + len;
    }
    cJSON_AddItemToObject(d, "models", models);
    cJSON_AddItemToObject(d, "arms", arms);
    cJSON_AddItemToObject(d, "summary", summary);
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

cJSON *ev_summary(const cJSON *arms)
{
    cJSON *s = cJSON_CreateObject();
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
        cJSON_AddNullToObject(s, "reference_arm");
        return s;
    }
    const cJSON *rm = cJSON_GetObjectItemCaseSensitive(ref, "metrics");
    int ok_b, ok_r;
    double rb = num_at(rm, "kv_bytes_resident", &ok_b), rr = num_at(rm, "recall", &ok_r);
    cJSON_AddStringToObject(s, "reference_arm",
                            cJSON_GetObjectItemCaseSensitive(ref, "name")->valuestring);
    cJSON *per = cJSON_AddObjectToObject(s, "arms");
    cJSON_ArrayForEach(a, arms) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(a, "metrics");
        cJSON *o = cJSON_AddObjectToObject(per,
                                           cJSON_GetObjectItemCaseSensitive(a, "name")->valuestring);
        int ok1, ok2;
        double b = num_at(m, "kv_bytes_resident", &ok1), r = num_at(m, "recall", &ok2);
        if (ok1 && ok_b && rb > 0)
            ev_add_num(o, "kv_saved_pct", 100.0 * (1.0 - b / rb));
        if (ok2)
            ev_add_num(o, "recall", r);
        if (ok2 && ok_r)
            ev_add_num(o, "recall_vs_reference", r - rr);
    }
    cJSON_AddNullToObject(s, "throughput_vs_llama_cpp"); /* engine_bench measures it */
    /* The KV savings again as claims the gate checks (MEMORY_CLAIM_MISMATCH
     * against signals.memory.kv_bytes_allocated; SELF_COMPARISON on the
     * configs): kv_saved_pct alone is a number nobody verifies. Controls
     * (masked arms) and arms configured like the reference claim nothing. */
    cJSON *claims = cJSON_AddArrayToObject(s, "claims");
    const char *ref_name = cJSON_GetObjectItemCaseSensitive(ref, "name")->valuestring;
    const cJSON *ref_sha = cJSON_GetObjectItemCaseSensitive(ref, "config_sha256");
    cJSON_ArrayForEach(a, arms) {
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(a, "config");
        const cJSON *sha = cJSON_GetObjectItemCaseSensitive(a, "config_sha256");
        int ok1;
        double b = num_at(cJSON_GetObjectItemCaseSensitive(a, "metrics"), "kv_bytes_resident", &ok1);
        if (a == ref || !ok1 || !ok_b || !(rb > 0) ||
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "mask_needle")) ||
            (cJSON_IsString(sha) && cJSON_IsString(ref_sha) &&
             !strcmp(sha->valuestring, ref_sha->valuestring)))
            continue;
        const char *name = cJSON_GetObjectItemCaseSensitive(a, "name")->valuestring;
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "arm", name);
        cJSON_AddStringToObject(c, "baseline", ref_name);
        cJSON_AddStringToObject(c, "metric", "kv_bytes_resident");
        ev_add_num(c, "ratio", b / rb);
        char note[160];
        snprintf(note, sizeof note, "%s saves %.3f%% of the KV bytes %s allocates (measured)", name,
                 100.0 * (1.0 - b / rb), ref_name);
        cJSON_AddStringToObject(c, "note", note);
        cJSON_AddItemToArray(claims, c);
    }
    return s;
}

/* ---- writing ------------------------------------------------------------------------ */

kk_code ev_write(const char *dir, const char *preset_name, const ev_provenance *pv,
                 const cJSON *doc, char *path, size_t cap, kk_err *err)
{
    char sub[PATH_MAX];
    if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, preset_name) >= sizeof sub)
        return kk_err_set(err, KK_E_RANGE, "evidence path too long");
    KK_TRY(kk_mkdir_p(sub, err));
    /* started = YYYY-MM-DDTHH:MM:SS.mmmZ -> YYYYMMDDTHHMMSSZ */
    char stamp[32];
    const char *s = pv->started;
    snprintf(stamp, sizeof stamp, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", s, s + 5, s + 8, s + 11, s + 14,
             s + 17);
    char *text = cJSON_Print(doc);
    if (!text)
        return kk_err_set(err, KK_E_NOMEM, "out of memory printing the evidence");
    for (int k = 1; k < 1000; k++) {
        char suffix[16] = "";
        if (k > 1)
            snprintf(suffix, sizeof suffix, "-%d", k);
        if ((size_t)snprintf(path, cap, "%s/%s-%.7s%s.json", sub, stamp, pv->git_commit, suffix) >= cap) {
            cJSON_free(text);
            return kk_err_set(err, KK_E_RANGE, "evidence path too long");
        }
        struct stat st;
        if (stat(path, &st) != 0)
            break;
    }
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
     * SIGINT and SIGTERM (they are delivered after the rename). */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);
    kk_code rc = kk_file_write_atomic(path, nl, len + 1, err);
    sigprocmask(SIG_SETMASK, &old, NULL);
    free(nl);
    return rc;
fail:
    return err ? err->code : KK_E_IO;
}

int ev_clean_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t)
            continue;
        char *end = NULL;
        long pid = strtol(t + 5, &end, 10);
        if (!end || *end || pid <= 0)
            continue;
        if (pid != (long)getpid() && kill((pid_t)pid, 0) == 0)
            continue; /* a live writer: leave it */
        if (pid != (long)getpid() && errno == EPERM)
            continue;
        char p[PATH_MAX];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < sizeof p && unlink(p) == 0)
            n++;
    }
    closedir(d);
    return n;
}
