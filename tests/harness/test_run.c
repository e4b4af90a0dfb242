/* `kakeya run` end to end, by fork/exec of this flavor's binary on the
 * shipped smoke preset: metrics identical for --jobs 1 and 2, shards merge
 * into the unsharded arms (a fault injected into one shard marks the
 * merged file), a SIGINT/SIGTERM mid-run leaves no evidence and
 * no temporary file while one after the rename reports the file written,
 * stale temporaries are removed (this host's of dead writers, any after
 * 24 h) and others' kept, concurrent runs each get their own file, the
 * evidence validates against the schema, and bad input exits 2 / usage 3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kk_fault.h"
#include "kk_file.h"
#include "test_util.h"

static char g_bin[2048], g_gate[2048], g_root[1024];
static char g_tmp[64];

static pid_t spawn(const char *bin, const char *const *args, const char *errfile)
{
    const char *argv[40];
    int n = 0;
    argv[n++] = bin;
    for (; args[n - 1] && n < 39; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fo = open("/dev/null", O_WRONLY);
        int fe = open(errfile ? errfile : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(127);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int wait_code(pid_t pid)
{
    int st = 0;
    assert_true(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run(const char *const *args)
{
    return wait_code(spawn(g_bin, args, NULL));
}

/* The only .json in dir (path into buf); counts files and temporaries. */
static void scan(const char *dir, char *buf, size_t cap, int *n_json, int *n_tmp)
{
    *n_json = *n_tmp = 0;
    buf[0] = 0;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (strstr(e->d_name, ".tmp."))
            (*n_tmp)++;
        else if (l > 5 && !strcmp(e->d_name + l - 5, ".json")) {
            (*n_json)++;
            snprintf(buf, cap, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static cJSON *load(const char *path)
{
    char *b = NULL;
    size_t n = 0;
    assert_int_equal(kk_file_read_all(path, &b, &n, NULL), KK_OK);
    cJSON *j = cJSON_ParseWithLength(b, n);
    free(b);
    assert_non_null(j);
    return j;
}

/* Each arm's name + metrics, unformatted: what must not depend on --jobs. */
static char *metrics_text(const cJSON *doc)
{
    cJSON *m = cJSON_CreateArray();
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(doc, "arms")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "name", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(a, "name"), 1));
        cJSON_AddItemToObject(o, "metrics",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(a, "metrics"), 1));
        cJSON_AddItemToObject(o, "config_sha256",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(a, "config_sha256"), 1));
        cJSON_AddItemToArray(m, o);
    }
    char *s = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    return s;
}

static int setup(void **state)
{
    (void)state;
    char self[1800];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    char *dir = dirname(self);
    snprintf(g_bin, sizeof g_bin, "%s/../../kakeya", dir);
    snprintf(g_gate, sizeof g_gate, "%s/../../kakeya-gate", dir);
    if (kk_repo_root(g_root, sizeof g_root, NULL) != KK_OK)
        return -1;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/kakeya_run_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rm_tree(g_tmp);
    return 0;
}

#define REQUIRE_BIN()                                                         \
    do {                                                                      \
        struct stat st_;                                                      \
        if (stat(g_bin, &st_) != 0) {                                         \
            fprintf(stderr, "SKIP: %s not built\n", g_bin);                   \
            skip();                                                           \
        }                                                                     \
    } while (0)

static void run_smoke(const char *out, const char *jobs, const char *shard, char *path, size_t cap)
{
    const char *a[] = {"run", "smoke", "--quiet", "--out", out, "--jobs", jobs,
                       shard ? "--shard" : NULL, shard, NULL};
    assert_int_equal(run(a), 0);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/smoke", out);
    int nj, nt;
    scan(dir, path, cap, &nj, &nt);
    assert_int_equal(nj, 1);
    assert_int_equal(nt, 0);
}

static void metrics_should_be_identical_for_one_and_two_jobs_and_validate(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char o1[128], o2[128], p1[512], p2[512];
    snprintf(o1, sizeof o1, "%s/j1", g_tmp);
    snprintf(o2, sizeof o2, "%s/j2", g_tmp);
    run_smoke(o1, "1", NULL, p1, sizeof p1);
    run_smoke(o2, "2", NULL, p2, sizeof p2);
    cJSON *d1 = load(p1), *d2 = load(p2);
    char *m1 = metrics_text(d1), *m2 = metrics_text(d2);
    assert_string_equal(m1, m2);
    assert_non_null(strstr(m1, "\"recall\""));
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(d2, "provenance");
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pv, "jobs")), 2);
    free(m1);
    free(m2);
    cJSON_Delete(d1);
    cJSON_Delete(d2);
    /* the evidence schema, by the gate's own validator */
    char schema[1200];
    snprintf(schema, sizeof schema, "%s/gate/schemas/evidence.schema.json", g_root);
    const char *v[] = {"validate", "--schema", schema, p1, p2, NULL};
    assert_int_equal(wait_code(spawn(g_gate, v, NULL)), 0);
}

static void shards_should_merge_into_the_unsharded_arms(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char o[128], s1[128], s2[128], pf[512], pa[512], pb[512], pm[512];
    snprintf(o, sizeof o, "%s/full", g_tmp);
    snprintf(s1, sizeof s1, "%s/s1", g_tmp);
    snprintf(s2, sizeof s2, "%s/s2", g_tmp);
    run_smoke(o, "1", NULL, pf, sizeof pf);
    run_smoke(s1, "1", "1/2", pa, sizeof pa);
    run_smoke(s2, "2", "2/2", pb, sizeof pb);
    char om[128];
    snprintf(om, sizeof om, "%s/merged", g_tmp);
    const char *m[] = {"merge", "--out", om, pb, pa, NULL};
    assert_int_equal(run(m), 0);
    char dir[300];
    int nj, nt;
    snprintf(dir, sizeof dir, "%s/smoke", om);
    scan(dir, pm, sizeof pm, &nj, &nt);
    assert_int_equal(nj, 1);
    cJSON *df = load(pf), *dm = load(pm);
    char *mf = metrics_text(df), *mm = metrics_text(dm);
    assert_string_equal(mf, mm);
    char *sf = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(df, "summary"));
    char *sm = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(dm, "summary"));
    assert_string_equal(sf, sm);
    free(sf);
    free(sm);
    free(mf);
    free(mm);
    cJSON_Delete(df);
    cJSON_Delete(dm);
    /* a shard given twice, or one missing, is refused (exit 2) */
    const char *twice[] = {"merge", "--out", om, pa, pa, NULL};
    assert_int_equal(run(twice), 2);
    const char *missing[] = {"merge", "--out", om, pa, NULL};
    assert_int_equal(run(missing), 2);
    const char *unsharded[] = {"merge", "--out", om, pf, NULL};
    assert_int_equal(run(unsharded), 2);
}

/* A fault injected into one shard (kk_fault.h) must survive the merge:
 * the merged provenance lists the union of the shards' faults. */
static void a_faulted_shard_should_mark_the_merged_file(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char s1[128], s2[128], om[128], pa[512], pb[512], pm[512];
    snprintf(s1, sizeof s1, "%s/f1", g_tmp);
    snprintf(s2, sizeof s2, "%s/f2", g_tmp);
    snprintf(om, sizeof om, "%s/fmerged", g_tmp);
    run_smoke(s1, "1", "1/2", pa, sizeof pa);
    setenv(KK_FAULT_ENV, KK_FAULT_CODEC_PASSTHROUGH, 1);
    run_smoke(s2, "1", "2/2", pb, sizeof pb);
    unsetenv(KK_FAULT_ENV);
    const char *m[] = {"merge", "--out", om, pa, pb, NULL};
    assert_int_equal(run(m), 0);
    char dir[300];
    int nj, nt;
    snprintf(dir, sizeof dir, "%s/smoke", om);
    scan(dir, pm, sizeof pm, &nj, &nt);
    assert_int_equal(nj, 1);
    cJSON *da = load(pa), *dm = load(pm);
    const cJSON *fa = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(da, "provenance"), "faults_injected");
    const cJSON *fm = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(dm, "provenance"), "faults_injected");
    assert_int_equal(cJSON_GetArraySize(fa), 0);
    assert_int_equal(cJSON_GetArraySize(fm), 1);
    assert_string_equal(cJSON_GetArrayItem(fm, 0)->valuestring, KK_FAULT_CODEC_PASSTHROUGH);
    cJSON_Delete(da);
    cJSON_Delete(dm);
}

static void interrupt(int sig)
{
    char out[128], dir[300], p[512], errf[200];
    snprintf(out, sizeof out, "%s/sig%d", g_tmp, sig);
    snprintf(dir, sizeof dir, "%s/smoke", out);
    snprintf(errf, sizeof errf, "%s/sig%d.err", g_tmp, sig);
    const char *a[] = {"run", "smoke", "--out", out, "--set", "samples=1000", NULL};
    pid_t pid = spawn(g_bin, a, errf);
    /* wait for the run to be under way: its first progress line */
    for (int i = 0; i < 200; i++) {
        struct stat st;
        if (stat(errf, &st) == 0 && st.st_size > 0)
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, sig);
    int code = wait_code(pid);
    assert_int_equal(code, 128 + sig);
    int nj, nt;
    scan(dir, p, sizeof p, &nj, &nt);
    assert_int_equal(nj, 0);
    assert_int_equal(nt, 0);
}

static void a_signal_mid_run_should_leave_no_evidence_and_no_temporary(void **state)
{
    (void)state;
    REQUIRE_BIN();
    interrupt(SIGINT);
    interrupt(SIGTERM);
}

/* Writes a one-byte temporary at path, its mtime age_s seconds ago. */
static void make_tmp(const char *path, long age_s)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{", f);
    fclose(f);
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= age_s;
    t[1] = t[0];
    assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

/* At start a run removes this host's temporaries of processes that are
 * gone, and any temporary older than KK_FILE_STALE_AGE_S whoever wrote it;
 * another host's fresh one stays. */
static void stale_temporaries_should_be_removed_at_start(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char out[128], dir[300], stale[512], old[512], foreign[512], x[320], p[512];
    snprintf(out, sizeof out, "%s/stale", g_tmp);
    snprintf(dir, sizeof dir, "%s/smoke", out);
    assert_int_equal(kk_mkdir_p(dir, NULL), KK_OK);
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    snprintf(x, sizeof x, "%s/x.json", dir);
    assert_true(kk_file_tmp_name(x, (long)dead, stale, sizeof stale));
    make_tmp(stale, 0);
    snprintf(foreign, sizeof foreign, "%s.tmp.other-host.4026531836.%ld", x, (long)dead);
    make_tmp(foreign, 60);
    snprintf(old, sizeof old, "%s/y.json.tmp.other-host.4026531836.%ld", dir, (long)dead);
    make_tmp(old, KK_FILE_STALE_AGE_S + 60);
    const char *a[] = {"run", "smoke", "--quiet", "--out", out, NULL};
    assert_int_equal(run(a), 0);
    int nj, nt;
    scan(dir, p, sizeof p, &nj, &nt);
    assert_int_equal(nj, 1);
    assert_int_equal(nt, 1); /* the foreign one alone */
    struct stat st;
    assert_int_not_equal(stat(stale, &st), 0);
    assert_int_not_equal(stat(old, &st), 0);
    assert_int_equal(stat(foreign, &st), 0); /* a writer we cannot see */
    unlink(foreign);
}

static void bad_input_should_exit_2_and_usage_3(void **state)
{
    (void)state;
    REQUIRE_BIN();
    const char *nopreset[] = {"run", "no-such-preset", "--out", g_tmp, NULL};
    assert_int_equal(run(nopreset), 2);
    const char *badset[] = {"run", "smoke", "--out", g_tmp, "--set", "samples=5", NULL};
    assert_int_equal(run(badset), 2);
    const char *badjobs[] = {"run", "smoke", "--out", g_tmp, "--jobs", "0", NULL};
    assert_int_equal(run(badjobs), 2);
    const char *badshard[] = {"run", "smoke", "--out", g_tmp, "--shard", "3/2", NULL};
    assert_int_equal(run(badshard), 2);
    const char *badflag[] = {"run", "smoke", "--bogus", NULL};
    assert_int_equal(run(badflag), 3);
    const char *noname[] = {"run", NULL};
    assert_int_equal(run(noname), 3);
    const char *list[] = {"list", NULL};
    assert_int_equal(run(list), 0);
    const char *show[] = {"show", "smoke", "--set", "samples=40", NULL};
    assert_int_equal(run(show), 0);
    const char *val[] = {"validate-presets", NULL};
    assert_int_equal(run(val), 0);
}


/* Waits for pid at most secs seconds; kills it and returns -1 when it is
 * still running then (a run that hangs fails the test, not the suite). */
static int wait_code_within(pid_t pid, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        assert_true(r >= 0);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* `kakeya run smoke` under KAKEYA_FAULT=fault into out; its exit code
 * (-1: still running after 60 s), stderr in errfile. */
static int run_faulted(const char *fault, const char *jobs, const char *out, const char *errfile)
{
    const char *a[] = {"run", "smoke", "--quiet", "--out", out, "--jobs", jobs, NULL};
    setenv(KK_FAULT_ENV, fault, 1);
    pid_t pid = spawn(g_bin, a, errfile);
    unsetenv(KK_FAULT_ENV);
    return wait_code_within(pid, 60);
}

static int file_has(const char *path, const char *needle)
{
    char *b = NULL;
    size_t n = 0;
    if (kk_file_read_all(path, &b, &n, NULL) != KK_OK)
        return 0;
    int found = strstr(b, needle) != NULL;
    free(b);
    return found;
}

/* No worker thread starts: the run must fail at once with a message, not
 * wait for ever for tasks nobody runs (the wait loop used to come before
 * the started == 0 check). One of two workers failing to start: the run
 * goes on with the other and its metrics are those of any --jobs. */
static void a_run_whose_workers_cannot_start_should_fail_at_once(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char out[128], dir[300], path[512], errf[300];
    snprintf(out, sizeof out, "%s/nostart", g_tmp);
    snprintf(dir, sizeof dir, "%s/smoke", out);
    snprintf(errf, sizeof errf, "%s/nostart.err", g_tmp);
    const int code = run_faulted("thread-start:1", "1", out, errf);
    assert_true(code != -1); /* -1: it hung */
    assert_int_not_equal(code, 0);
    assert_true(file_has(errf, "cannot start a worker thread"));
    int nj, nt;
    scan(dir, path, sizeof path, &nj, &nt);
    assert_int_equal(nj, 0);
    assert_int_equal(nt, 0);

    char out2[128], dir2[300], p1[512], p2[512];
    snprintf(out2, sizeof out2, "%s/halfstart", g_tmp);
    snprintf(dir2, sizeof dir2, "%s/smoke", out2);
    assert_int_equal(run_faulted("thread-start:2", "2", out2, errf), 0);
    assert_true(file_has(errf, "1 of 2 workers started"));
    scan(dir2, p2, sizeof p2, &nj, &nt);
    assert_int_equal(nj, 1);
    char o1[128];
    snprintf(o1, sizeof o1, "%s/halfstart-ref", g_tmp);
    run_smoke(o1, "1", NULL, p1, sizeof p1);
    cJSON *d1 = load(p1), *d2 = load(p2);
    char *m1 = metrics_text(d1), *m2 = metrics_text(d2);
    assert_string_equal(m1, m2);
    free(m1);
    free(m2);
    cJSON_Delete(d1);
    cJSON_Delete(d2);
}

/* Every allocation the run loop and the NIAH kind check, failed in turn
 * (run-alloc:N for N = 1, 2, ...): each run ends with exit 2 naming what
 * ran out, and writes nothing, until N passes the last allocation and the
 * run succeeds. An unchecked allocation would crash (exit 128 + SIGSEGV)
 * or write evidence with a field missing. */
static void every_failed_run_allocation_should_fail_the_run_and_write_nothing(void **state)
{
    (void)state;
    REQUIRE_BIN();
    int n_failed = 0;
    for (int k = 1; k <= 200; k++) {
        char fault[32], out[128], dir[300], path[512], errf[300];
        snprintf(fault, sizeof fault, "run-alloc:%d", k);
        snprintf(out, sizeof out, "%s/alloc%d", g_tmp, k);
        snprintf(dir, sizeof dir, "%s/smoke", out);
        snprintf(errf, sizeof errf, "%s/alloc%d.err", g_tmp, k);
        const int code = run_faulted(fault, "1", out, errf);
        int nj, nt;
        scan(dir, path, sizeof path, &nj, &nt);
        assert_int_equal(nt, 0);
        if (code == 0) {
            assert_int_equal(nj, 1);
            break;
        }
        if (code != 2)
            fail_msg("%s: exit %d (want 2, or 0 past the last allocation)", fault, code);
        assert_true(file_has(errf, "out of memory"));
        assert_int_equal(nj, 0);
        n_failed++;
    }
    /* arms, state, codecs, tasks, results, worker, its tokens, each arm's
     * timings and Gaussian figures: well over ten allocations are checked. */
    assert_true(n_failed >= 10);
}


/* The arms, the models list and the document are built through the
 * checked builder: a member that cannot be added (evidence-alloc:N, each
 * build counting its own members) ends the run with exit 2 naming the
 * member and no file, wherever it falls: the models list (1, 3), an arm's
 * samples (20, 200). A count past every build's size runs clean. */
static void a_member_that_cannot_be_added_should_fail_the_run_and_write_nothing(void **state)
{
    (void)state;
    REQUIRE_BIN();
    const int ns[] = {1, 3, 20, 200, 100000};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        char fault[48], out[128], dir[300], path[512], errf[300];
        snprintf(fault, sizeof fault, "evidence-alloc:%d", ns[i]);
        snprintf(out, sizeof out, "%s/evalloc%d", g_tmp, ns[i]);
        snprintf(dir, sizeof dir, "%s/smoke", out);
        snprintf(errf, sizeof errf, "%s/evalloc%d.err", g_tmp, ns[i]);
        const int code = run_faulted(fault, "1", out, errf);
        int nj, nt;
        scan(dir, path, sizeof path, &nj, &nt);
        assert_int_equal(nt, 0);
        if (ns[i] == 100000) {
            assert_int_equal(code, 0);
            assert_int_equal(nj, 1);
        } else {
            assert_int_equal(code, 2);
            assert_true(file_has(errf, "out of memory adding"));
            assert_int_equal(nj, 0);
        }
    }
}


/* Rewrites a shard's provenance: dirty, with the given paths and total. */
static void set_dirty(const char *path, const char *const *paths, size_t n, int total)
{
    cJSON *d = load(path);
    cJSON *pv = cJSON_GetObjectItemCaseSensitive(d, "provenance");
    cJSON_ReplaceItemInObjectCaseSensitive(pv, "git_dirty", cJSON_CreateBool(1));
    cJSON_DeleteItemFromObjectCaseSensitive(pv, "git_dirty_paths");
    cJSON_DeleteItemFromObjectCaseSensitive(pv, "git_dirty_paths_total");
    cJSON *a = cJSON_AddArrayToObject(pv, "git_dirty_paths");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(paths[i]));
    cJSON_AddNumberToObject(pv, "git_dirty_paths_total", total);
    char *t = cJSON_PrintUnformatted(d);
    assert_int_equal(kk_file_write_atomic(path, t, strlen(t), NULL), KK_OK);
    free(t);
    cJSON_Delete(d);
}

/* A merged file says what made every shard's tree dirty, not only the
 * first's: the union of the paths in shard order, the largest total. */
static void a_merge_should_keep_every_shards_dirty_paths(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char s1[128], s2[128], pa[512], pb[512], pm[512], om[128], dir[300];
    snprintf(s1, sizeof s1, "%s/dirty1", g_tmp);
    snprintf(s2, sizeof s2, "%s/dirty2", g_tmp);
    run_smoke(s1, "1", "1/2", pa, sizeof pa);
    run_smoke(s2, "1", "2/2", pb, sizeof pb);
    const char *first[] = {"engine/a.c", "common/b.h"}, *second[] = {"common/b.h", "harness/c.c"};
    set_dirty(pa, first, 2, 2);
    set_dirty(pb, second, 2, 7);
    snprintf(om, sizeof om, "%s/dirty-merged", g_tmp);
    const char *m[] = {"merge", "--out", om, pa, pb, NULL};
    assert_int_equal(run(m), 0);
    int nj, nt;
    snprintf(dir, sizeof dir, "%s/smoke", om);
    scan(dir, pm, sizeof pm, &nj, &nt);
    assert_int_equal(nj, 1);
    cJSON *d = load(pm);
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(d, "provenance");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pv, "git_dirty")));
    char *paths = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(pv, "git_dirty_paths"));
    assert_string_equal(paths, "[\"engine/a.c\",\"common/b.h\",\"harness/c.c\"]");
    free(paths);
    assert_int_equal(
        (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pv, "git_dirty_paths_total")),
        7);
    cJSON_Delete(d);
}

/* N runs of one preset started together into one --out folder: the
 * evidence name is taken exclusively (a -N suffix when taken), so N runs
 * give N files and N distinct printed paths, whatever the timing. */
static void concurrent_runs_should_each_write_their_own_file(void **state)
{
    (void)state;
    REQUIRE_BIN();
    enum { N = 4, ROUNDS = 4 };
    char out[128], dir[300];
    snprintf(out, sizeof out, "%s/concurrent", g_tmp);
    snprintf(dir, sizeof dir, "%s/smoke", out);
    char printed[N * ROUNDS][512];
    for (int r = 0; r < ROUNDS; r++) {
        pid_t pid[N];
        char outf[N][300];
        for (int i = 0; i < N; i++) {
            snprintf(outf[i], sizeof outf[i], "%s/concurrent-%d-%d.out", g_tmp, r, i);
            const char *a[] = {"run", "smoke", "--quiet", "--out", out, NULL};
            const char *argv[] = {g_bin, a[0], a[1], a[2], a[3], a[4], NULL};
            fflush(NULL);
            pid[i] = fork();
            assert_true(pid[i] >= 0);
            if (pid[i] == 0) {
                int fo = open(outf[i], O_WRONLY | O_CREAT | O_TRUNC, 0600);
                int fe = open("/dev/null", O_WRONLY);
                if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
                    _exit(127);
                execv(g_bin, (char *const *)argv);
                _exit(127);
            }
        }
        for (int i = 0; i < N; i++) {
            assert_int_equal(wait_code(pid[i]), 0);
            char *b = NULL;
            size_t n = 0;
            assert_int_equal(kk_file_read_all(outf[i], &b, &n, NULL), KK_OK);
            assert_true(n > 1 && b[n - 1] == '\n');
            b[n - 1] = 0;
            snprintf(printed[r * N + i], sizeof printed[0], "%s", b);
            free(b);
        }
    }
    for (int i = 0; i < N * ROUNDS; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(printed[i], printed[j]))
                fail_msg("two runs printed the same path %s", printed[i]);
    char last[512];
    int nj, nt;
    scan(dir, last, sizeof last, &nj, &nt);
    assert_int_equal(nt, 0);
    assert_int_equal(nj, N * ROUNDS);
}

/* A temporary whose writer this process cannot see (another host on a
 * shared folder, another pid namespace) must survive a run's cleanup: one
 * named without a host (`.tmp.<pid>`, the name older tools wrote) cannot
 * be told apart from such a writer's, so only age removes it. */
static void a_temporary_of_a_writer_not_visible_here_should_be_kept(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char out[128], dir[300], tmp[400];
    snprintf(out, sizeof out, "%s/foreign", g_tmp);
    snprintf(dir, sizeof dir, "%s/smoke", out);
    assert_int_equal(kk_mkdir_p(dir, NULL), KK_OK);
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    snprintf(tmp, sizeof tmp, "%s/x.json.tmp.%ld", dir, (long)dead);
    make_tmp(tmp, 60);
    const char *a[] = {"run", "smoke", "--quiet", "--out", out, NULL};
    assert_int_equal(run(a), 0);
    struct stat st;
    assert_int_equal(stat(tmp, &st), 0);
}

/* A signal that arrives while the evidence is written (held until the
 * file has its name: the sigterm-after-rename fault puts it exactly
 * there) must not be reported as "no evidence written": the run prints
 * the path of the complete file, says the signal came after it was
 * written, and dies of the signal. */
static void a_signal_after_the_rename_should_report_the_file_written(void **state)
{
    (void)state;
    REQUIRE_BIN();
    char out[128], dir[300], p[512], outf[300], errf[300];
    snprintf(out, sizeof out, "%s/sigafter", g_tmp);
    snprintf(dir, sizeof dir, "%s/smoke", out);
    snprintf(outf, sizeof outf, "%s/sigafter.out", g_tmp);
    snprintf(errf, sizeof errf, "%s/sigafter.err", g_tmp);
    const char *argv[] = {g_bin, "run", "smoke", "--quiet", "--out", out, NULL};
    setenv(KK_FAULT_ENV, KK_FAULT_SIGTERM_AFTER_RENAME, 1);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fo = open(outf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(127);
        execv(g_bin, (char *const *)argv);
        _exit(127);
    }
    unsetenv(KK_FAULT_ENV);
    assert_int_equal(wait_code(pid), 128 + SIGTERM);
    int nj, nt;
    scan(dir, p, sizeof p, &nj, &nt);
    assert_int_equal(nj, 1);
    assert_int_equal(nt, 0);
    if (file_has(errf, "no evidence written"))
        fail_msg("the run wrote %s and said it wrote nothing", p);
    assert_true(file_has(errf, "after the evidence was written"));
    assert_true(file_has(outf, p)); /* the path, on stdout as on success */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metrics_should_be_identical_for_one_and_two_jobs_and_validate),
        cmocka_unit_test(shards_should_merge_into_the_unsharded_arms),
        cmocka_unit_test(a_merge_should_keep_every_shards_dirty_paths),
        cmocka_unit_test(a_faulted_shard_should_mark_the_merged_file),
        cmocka_unit_test(a_signal_mid_run_should_leave_no_evidence_and_no_temporary),
        cmocka_unit_test(a_signal_after_the_rename_should_report_the_file_written),
        cmocka_unit_test(stale_temporaries_should_be_removed_at_start),
        cmocka_unit_test(a_temporary_of_a_writer_not_visible_here_should_be_kept),
        cmocka_unit_test(concurrent_runs_should_each_write_their_own_file),
        cmocka_unit_test(bad_input_should_exit_2_and_usage_3),
        cmocka_unit_test(a_run_whose_workers_cannot_start_should_fail_at_once),
        cmocka_unit_test(every_failed_run_allocation_should_fail_the_run_and_write_nothing),
        cmocka_unit_test(a_member_that_cannot_be_added_should_fail_the_run_and_write_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
