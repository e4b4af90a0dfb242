/* What `kakeya run`, `kakeya merge` and the readers refuse, end to end by
 * fork/exec of this flavor's binaries: a merged preset name that would
 * leave --out, shards that are not what `run --shard` wrote (duplicate
 * keys, another schema_version, arm names, a file the gate rejects), a
 * shard count above the preset's arms, faulted evidence sent into the
 * repository's evidence/ through a symlink, preset symlinks that leave the
 * presets folder, and FIFOs where a file is read (presets, GGUF, shards,
 * the gate's evidence and --schema). Every child runs under alarm(), so a
 * reader that blocks fails its test instead of hanging the suite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kk_fault.h"
#include "kk_file.h"
#include "test_proc.h"

static char g_bin[PATH_MAX], g_gate[PATH_MAX], g_root[1024];
static char g_tmp[128];
static char g_shard[2][PATH_MAX]; /* smoke --shard 1/2 and 2/2 */

#define CHILD_SECS 10

/* Runs prog with args (NULL-terminated) killed by SIGALRM after CHILD_SECS
 * (exit code 128 + 14 then); stdout and stderr into *err (malloc'ed, may
 * be NULL: the gate reports on stdout). */
static int run_in(const char *prog, const char *const *args, char **err)
{
    char errp[] = "/tmp/kk_guard_err_XXXXXX";
    int fe = mkstemp(errp);
    assert_true(fe >= 0);
    const char *argv[64];
    int n = 0;
    argv[n++] = prog;
    for (; args[n - 1] && n < 63; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (dup2(fe, 1) < 0 || dup2(fe, 2) < 0)
            _exit(127);
        alarm(CHILD_SECS);
        execv(prog, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    assert_true(waitpid(pid, &st, 0) == pid);
    close(fe);
    size_t len = 0;
    char *text = NULL;
    if (kk_file_read_all(errp, &text, &len, NULL) != KK_OK)
        text = NULL;
    unlink(errp);
    if (err)
        *err = text;
    else
        free(text);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run(const char *const *args, char **err)
{
    return run_in(g_bin, args, err);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *t = calloc(1, 1 << 20);
    assert_non_null(t);
    size_t n = fread(t, 1, (1 << 20) - 1, f);
    fclose(f);
    assert_true(n > 0 && n < (1 << 20) - 1);
    return t;
}

/* src with the first `from` replaced by `to`, written to dst. */
static void mutate(const char *src, const char *dst, const char *from, const char *to)
{
    char *t = read_text(src);
    char *at = strstr(t, from);
    assert_non_null(at);
    FILE *f = fopen(dst, "w");
    assert_non_null(f);
    fwrite(t, 1, (size_t)(at - t), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    fclose(f);
    free(t);
}

/* The only .json in dir into buf ("" when none). */
static int only_json(const char *dir, char *buf, size_t cap)
{
    buf[0] = 0;
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".json")) {
            n++;
            snprintf(buf, cap, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    return n;
}

static int setup(void **state)
{
    (void)state;
    tp_program(g_bin, sizeof g_bin, "kakeya");
    tp_program(g_gate, sizeof g_gate, "kakeya-gate");
    if (kk_repo_root(g_root, sizeof g_root, NULL) != KK_OK || tp_tmpdir(g_tmp, sizeof g_tmp, "kk_guard"))
        return -1;
    for (int s = 0; s < 2; s++) {
        char out[PATH_MAX], dir[PATH_MAX + 16], shard[32];
        snprintf(out, sizeof out, "%s/shard%d", g_tmp, s + 1);
        snprintf(shard, sizeof shard, "%d/2", s + 1);
        const char *a[] = {"run", "smoke", "--quiet", "--out", out, "--shard", shard, NULL};
        if (access(g_bin, X_OK) != 0 || run(a, NULL) != 0)
            return -1;
        snprintf(dir, sizeof dir, "%s/smoke", out);
        if (only_json(dir, g_shard[s], sizeof g_shard[s]) != 1)
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tp_rmtree(g_tmp);
    return 0;
}

/* Both shards mutated (from -> to) into tmp/<tag>1.json and <tag>2.json;
 * then `merge --out tmp/<tag>_out/a/b` and its exit code. */
static int merge_mutated(const char *tag, const char *from, const char *to, int which, char **err)
{
    char f[2][PATH_MAX], out[PATH_MAX];
    for (int s = 0; s < 2; s++) {
        snprintf(f[s], sizeof f[s], "%s/%s%d.json", g_tmp, tag, s + 1);
        if (which & (1 << s))
            mutate(g_shard[s], f[s], from, to);
        else
            mutate(g_shard[s], f[s], "{", "{");
    }
    snprintf(out, sizeof out, "%s/%s_out/a/b", g_tmp, tag);
    const char *m[] = {"merge", "--out", out, f[0], f[1], NULL};
    return run(m, err);
}

/* ---- merge ------------------------------------------------------------------------------ */

static void merge_should_refuse_a_preset_name_that_leaves_out(void **state)
{
    (void)state;
    char *err = NULL;
    int code = merge_mutated("escape", "\"name\":\t\"smoke\"", "\"name\":\t\"../../escape\"", 3,
                             &err);
    char up[PATH_MAX];
    snprintf(up, sizeof up, "%s/escape_out/escape", g_tmp);
    struct stat st;
    int escaped = stat(up, &st) == 0;
    if (code != 2 || escaped)
        fprintf(stderr, "merge exit %d, %s %s; stderr: %s\n", code, up,
                escaped ? "written" : "absent", err ? err : "");
    assert_false(escaped);
    assert_int_equal(code, 2);
    assert_non_null(strstr(err, "preset.name"));
    free(err);
}

static void merge_should_refuse_duplicate_keys(void **state)
{
    (void)state;
    char *err = NULL;
    int code = merge_mutated("dup", "\"schema_version\":\t1,",
                             "\"schema_version\":\t1, \"schema_version\":\t1,", 2, &err);
    if (code != 2)
        fprintf(stderr, "merge of a shard with a duplicate key: exit %d; stderr: %s\n", code,
                err ? err : "");
    assert_int_equal(code, 2);
    assert_non_null(strstr(err, "dup2.json"));
    assert_non_null(strstr(err, "schema_version"));
    free(err);
}

static void merge_should_refuse_another_schema_version(void **state)
{
    (void)state;
    char *err = NULL;
    int code = merge_mutated("sv", "\"schema_version\":\t1,", "\"schema_version\":\t7,", 3, &err);
    if (code != 2)
        fprintf(stderr, "merge of schema_version 7 shards: exit %d; stderr: %s\n", code,
                err ? err : "");
    assert_int_equal(code, 2);
    assert_non_null(strstr(err, "sv1.json"));
    assert_non_null(strstr(err, "schema_version"));
    free(err);
}

/* Shard 2's first arm renamed to shard 1's: two arms of one name. */
static void merge_should_refuse_an_arm_name_twice(void **state)
{
    (void)state;
    char *t = read_text(g_shard[0]);
    char *arms = strstr(t, "\"arms\":");
    assert_non_null(arms);
    char *nm = strstr(arms, "\"name\":\t\"");
    assert_non_null(nm);
    char first[128];
    nm += strlen("\"name\":\t\"");
    snprintf(first, sizeof first, "\"name\":\t\"%.*s\"", (int)(strchr(nm, '"') - nm), nm);
    free(t);
    t = read_text(g_shard[1]);
    arms = strstr(t, "\"arms\":");
    nm = strstr(arms, "\"name\":\t\"");
    char second[128];
    snprintf(second, sizeof second, "%.*s", (int)(strchr(nm + 9, '"') + 1 - nm), nm);
    free(t);
    char *err = NULL;
    int code = merge_mutated("armdup", second, first, 2, &err);
    if (code != 2)
        fprintf(stderr, "merge with arm %s twice: exit %d; stderr: %s\n", first, code,
                err ? err : "");
    assert_int_equal(code, 2);
    assert_non_null(strstr(err, "armdup2.json"));
    assert_non_null(strstr(err, "arms"));
    free(err);
}

/* A member the evidence schema does not allow: the merged file would fail
 * `kakeya-gate validate`, so merge writes nothing. */
static void merge_should_refuse_what_the_gate_rejects(void **state)
{
    (void)state;
    char *err = NULL;
    int code = merge_mutated("extra", "\"schema_version\":\t1,",
                             "\"schema_version\":\t1, \"unknown_member\": 1,", 3, &err);
    char dir[PATH_MAX], any[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/extra_out/a/b/smoke", g_tmp);
    int n = only_json(dir, any, sizeof any);
    if (code != 2 || n)
        fprintf(stderr, "merge of shards the schema rejects: exit %d, %d file(s); stderr: %s\n",
                code, n, err ? err : "");
    assert_int_equal(code, 2);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err, "unknown_member"));
    free(err);
}

/* A kakeya binary with no kakeya-gate beside it cannot check the merge. */
static void merge_without_the_gate_binary_should_refuse(void **state)
{
    (void)state;
    char dir[PATH_MAX], copy[PATH_MAX + 16], out[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/nogate", g_tmp);
    mkdir(dir, 0755);
    snprintf(copy, sizeof copy, "%s/kakeya", dir);
    char *b = NULL;
    size_t n = 0;
    assert_int_equal(kk_file_read_all(g_bin, &b, &n, NULL), KK_OK);
    int fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b, n), (ssize_t)n);
    close(fd);
    free(b);
    snprintf(out, sizeof out, "%s/out", dir);
    const char *m[] = {"merge", "--out", out, g_shard[0], g_shard[1], NULL};
    char *err = NULL;
    int code = run_in(copy, m, &err);
    if (code != 2)
        fprintf(stderr, "merge with no kakeya-gate beside kakeya: exit %d; stderr: %s\n", code,
                err ? err : "");
    assert_int_equal(code, 2);
    assert_non_null(strstr(err, "nogate/kakeya-gate"));
    free(err);
}

/* ---- run ------------------------------------------------------------------------------- */

static void a_shard_count_above_the_arms_should_be_refused(void **state)
{
    (void)state;
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/shard4", g_tmp);
    const char *a[] = {"run", "smoke", "--quiet", "--out", out, "--shard", "1/4", NULL};
    char *err = NULL;
    int code = run(a, &err);
    if (code != 2)
        fprintf(stderr, "run smoke --shard 1/4: exit %d; stderr: %s\n", code, err ? err : "");
    assert_int_equal(code, 2);
    assert_non_null(strstr(err, "--shard"));
    assert_non_null(strstr(err, "3 arms"));
    free(err);
}

/* <out>/smoke a symlink into the repository's evidence/: a faulted run
 * must not follow it. */
static void a_faulted_run_should_not_follow_a_symlink_into_evidence(void **state)
{
    (void)state;
    char target[PATH_MAX + 64], out[PATH_MAX], link[PATH_MAX + 16], any[PATH_MAX];
    snprintf(target, sizeof target, "%s/evidence/kk_guard_test_%ld", g_root, (long)getpid());
    assert_int_equal(mkdir(target, 0755), 0);
    snprintf(out, sizeof out, "%s/faultout", g_tmp);
    mkdir(out, 0755);
    snprintf(link, sizeof link, "%s/smoke", out);
    assert_int_equal(symlink(target, link), 0);
    const char *a[] = {"run", "smoke", "--quiet", "--out", out, NULL};
    setenv(KK_FAULT_ENV, "evidence-alloc:1000000", 1);
    char *err = NULL;
    int code = run(a, &err);
    unsetenv(KK_FAULT_ENV);
    int n = only_json(target, any, sizeof any);
    if (n)
        unlink(any);
    rmdir(target);
    if (code != 2 || n)
        fprintf(stderr, "faulted run through %s: exit %d, %d file(s) in evidence/; stderr: %s\n",
                link, code, n, err ? err : "");
    assert_int_equal(n, 0);
    assert_int_equal(code, 2);
    assert_non_null(strstr(err, "--out"));
    free(err);
}

/* ---- presets ---------------------------------------------------------------------------- */

static void a_preset_symlink_leaving_the_folder_should_be_refused(void **state)
{
    (void)state;
    char p[PATH_MAX], secret[PATH_MAX], link[PATH_MAX + 16], inside[PATH_MAX + 16];
    char smoke[PATH_MAX + 32], copy[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/presets_sym", g_tmp);
    mkdir(p, 0755);
    snprintf(secret, sizeof secret, "%s/secret.txt", g_tmp);
    write_text(secret, "ghp_supersecret123token\n");
    snprintf(link, sizeof link, "%s/leak.yaml", p);
    assert_int_equal(symlink(secret, link), 0);
    char *err = NULL;
    const char *show[] = {"show", "leak", "--presets", p, NULL};
    int code = run(show, &err);
    if (code != 2 || strstr(err, "supersecret") || !strstr(err, "symlink"))
        fprintf(stderr, "show of a symlink to %s: exit %d; stderr: %s\n", secret, code,
                err ? err : "");
    assert_int_equal(code, 2);
    assert_null(strstr(err, "supersecret"));
    assert_non_null(strstr(err, "symlink"));
    free(err);
    /* a symlink to a preset inside the folder still loads */
    snprintf(smoke, sizeof smoke, "%s/presets/smoke.yaml", g_root);
    snprintf(copy, sizeof copy, "%s/real.yaml", p);
    char *t = read_text(smoke);
    char *nm = strstr(t, "name: smoke");
    assert_non_null(nm);
    write_text(copy, "");
    mutate(smoke, copy, "name: smoke", "name: alias");
    free(t);
    snprintf(inside, sizeof inside, "%s/alias.yaml", p);
    assert_int_equal(symlink("real.yaml", inside), 0);
    const char *show2[] = {"show", "alias", "--presets", p, NULL};
    assert_int_equal(run(show2, NULL), 0);
}

/* ---- FIFOs where a file is read ---------------------------------------------------------- */

static void fifo(const char *path)
{
    unlink(path);
    assert_int_equal(mkfifo(path, 0600), 0);
}

static void expect_fifo_refused(const char *what, const char *prog, const char *const *args,
                                const char *path)
{
    char *err = NULL;
    int code = run_in(prog, args, &err);
    if (code != 2 || !strstr(err, path) || !strstr(err, "FIFO"))
        fprintf(stderr, "%s on a FIFO: exit %d (%s); stderr: %s\n", what, code,
                code == 128 + SIGALRM ? "blocked" : "returned", err ? err : "");
    assert_int_equal(code, 2);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "FIFO"));
    free(err);
}

static void a_fifo_preset_should_be_refused(void **state)
{
    (void)state;
    char p[PATH_MAX], f[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/presets_fifo", g_tmp);
    mkdir(p, 0755);
    snprintf(f, sizeof f, "%s/pipe.yaml", p);
    fifo(f);
    const char *a[] = {"show", "pipe", "--presets", p, NULL};
    expect_fifo_refused("kakeya show", g_bin, a, f);
}

static void a_fifo_gguf_should_be_refused(void **state)
{
    (void)state;
    char f[PATH_MAX];
    snprintf(f, sizeof f, "%s/model.gguf", g_tmp);
    fifo(f);
    const char *a[] = {"model", "info", f, NULL};
    expect_fifo_refused("kakeya model info", g_bin, a, f);
}

static void a_fifo_shard_should_be_refused(void **state)
{
    (void)state;
    char f[PATH_MAX], out[PATH_MAX];
    snprintf(f, sizeof f, "%s/shard.json", g_tmp);
    snprintf(out, sizeof out, "%s/fifo_merge", g_tmp);
    fifo(f);
    const char *a[] = {"merge", "--out", out, g_shard[0], f, NULL};
    expect_fifo_refused("kakeya merge", g_bin, a, f);
}

static void a_fifo_evidence_or_schema_should_be_refused_by_the_gate(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_gate);
    char f[PATH_MAX], schema[PATH_MAX + 64];
    snprintf(f, sizeof f, "%s/evidence.json", g_tmp);
    fifo(f);
    const char *ev[] = {f, NULL};
    expect_fifo_refused("kakeya-gate EVIDENCE", g_gate, ev, f);
    snprintf(schema, sizeof schema, "%s/gate/schemas/evidence.schema.json", g_root);
    const char *inst[] = {"validate", "--schema", schema, f, NULL};
    expect_fifo_refused("kakeya-gate validate INSTANCE", g_gate, inst, f);
    const char *sch[] = {"validate", "--schema", f, g_shard[0], NULL};
    expect_fifo_refused("kakeya-gate validate --schema", g_gate, sch, f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merge_should_refuse_a_preset_name_that_leaves_out),
        cmocka_unit_test(merge_should_refuse_duplicate_keys),
        cmocka_unit_test(merge_should_refuse_another_schema_version),
        cmocka_unit_test(merge_should_refuse_an_arm_name_twice),
        cmocka_unit_test(merge_should_refuse_what_the_gate_rejects),
        cmocka_unit_test(merge_without_the_gate_binary_should_refuse),
        cmocka_unit_test(a_shard_count_above_the_arms_should_be_refused),
        cmocka_unit_test(a_faulted_run_should_not_follow_a_symlink_into_evidence),
        cmocka_unit_test(a_preset_symlink_leaving_the_folder_should_be_refused),
        cmocka_unit_test(a_fifo_preset_should_be_refused),
        cmocka_unit_test(a_fifo_gguf_should_be_refused),
        cmocka_unit_test(a_fifo_shard_should_be_refused),
        cmocka_unit_test(a_fifo_evidence_or_schema_should_be_refused_by_the_gate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
