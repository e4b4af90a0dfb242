/* Tests of the evidence's provenance (harness/evidence.c
 * ev_provenance_collect): what makes a tree dirty, and what is recorded
 * when git cannot be used.
 *
 * The Makefile compiles every *.c and *.h it finds, so an untracked source
 * file runs as much as a modified one: it must make the tree dirty. The
 * run's own evidence (untracked files under evidence/) must not, or every
 * run would make the next one dirty. Each case runs in a temporary git
 * repository made here (git init, one commit), never in the checkout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evidence.h"
#include "kk_file.h"
#include "kk_git.h"
#include "test_proc.h"

static char g_tmp[64], g_repo[PATH_MAX], g_kakeya[PATH_MAX];

/* git -C g_repo ARGS..., which must exit 0. */
static void git_ok(const char *const *args)
{
    char *out = NULL;
    size_t len = 0;
    int st = -1;
    kk_err e;
    kk_err_clear(&e);
    if (kk_git_run(g_repo, args, &out, &len, 1 << 16, &st, &e) != KK_OK || st != 0)
        fail_msg("git %s: %s (exit %d)", args[0], e.msg, st);
    free(out);
}

static void put_file(const char *rel, const char *text)
{
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/%s", g_repo, rel);
    for (char *c = path + strlen(g_repo) + 1; (c = strchr(c, '/')) != NULL; c++) {
        *c = '\0';
        mkdir(path, 0755); /* each folder on the way; EEXIST is fine */
        *c = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void drop_file(const char *rel)
{
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/%s", g_repo, rel);
    assert_int_equal(unlink(path), 0);
}

static int setup(void **state)
{
    (void)state;
    tp_program(g_kakeya, sizeof g_kakeya, "kakeya");
    if (tp_tmpdir(g_tmp, sizeof g_tmp, "kk_provenance") != 0)
        return -1;
    snprintf(g_repo, sizeof g_repo, "%s/repo", g_tmp);
    if (mkdir(g_repo, 0755) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tp_rmtree(g_tmp);
    return 0;
}

/* A repository with one commit: lib/a.h and .gitignore (build/). Not
 * common/ or engine/: a source there newer than this test binary would
 * make ev_binary_stale mark the tree dirty. */
static void make_repo(void)
{
    const char *init[] = {"init", "-q", NULL};
    git_ok(init);
    put_file("lib/a.h", "int a;\n");
    put_file(".gitignore", "/build/\n");
    const char *add[] = {"add", "-A", NULL};
    git_ok(add);
    const char *commit[] = {"-c", "user.name=t", "-c", "user.email=t@t", "-c",
                            "commit.gpgsign=false", "commit", "-q", "-m", "one", NULL};
    git_ok(commit);
}

static void an_untracked_source_file_should_make_the_tree_dirty(void **state)
{
    (void)state;
    make_repo();
    ev_provenance pv;
    ev_provenance_collect(&pv, g_repo);
    assert_int_equal(pv.git_dirty, 0);
    assert_int_equal(strlen(pv.git_commit), 40);
    assert_string_not_equal(pv.git_commit, "0000000000000000000000000000000000000000");

    /* A header beside the tracked one: the Makefile would compile it in. */
    put_file("lib/b.h", "int b;\n");
    ev_provenance_collect(&pv, g_repo);
    assert_int_equal(pv.git_dirty, 1);
    assert_int_equal(pv.n_dirty_paths, 1);
    assert_string_equal(pv.dirty_paths[0], "lib/b.h");
    assert_string_equal(pv.git_error, "");
    drop_file("lib/b.h");

    /* Ignored files and the run's own evidence do not count. */
    put_file("build/x.o", "o\n");
    put_file("evidence/smoke/20260101T000000Z-0000000.json", "{}\n");
    ev_provenance_collect(&pv, g_repo);
    assert_int_equal(pv.git_dirty, 0);
    assert_int_equal(pv.n_dirty_paths, 0);

    /* A tracked file edited counts, with its path. */
    put_file("lib/a.h", "int a2;\n");
    ev_provenance_collect(&pv, g_repo);
    assert_int_equal(pv.git_dirty, 1);
    assert_int_equal(pv.n_dirty_paths, 1);
    assert_string_equal(pv.dirty_paths[0], "lib/a.h");
}

/* The list keeps the first EV_DIRTY_PATHS_MAX paths; the total counts all. */
static void the_dirty_paths_should_be_capped_and_counted(void **state)
{
    (void)state;
    for (int i = 0; i < EV_DIRTY_PATHS_MAX + 10; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "u%03d.c", i);
        put_file(rel, "x\n");
    }
    ev_provenance pv;
    ev_provenance_collect(&pv, g_repo);
    assert_int_equal(pv.git_dirty, 1);
    assert_int_equal(pv.n_dirty_paths, EV_DIRTY_PATHS_MAX + 11); /* and lib/a.h */
    assert_true(pv.dirty_paths[EV_DIRTY_PATHS_MAX - 1][0] != '\0');
    for (int i = 0; i < EV_DIRTY_PATHS_MAX + 10; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "u%03d.c", i);
        drop_file(rel);
    }
}

/* Outside a checkout: dirty, all-zero commit, and the reason. */
static void a_folder_outside_any_checkout_should_be_dirty_and_say_why(void **state)
{
    (void)state;
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/plain", g_tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    ev_provenance pv;
    ev_provenance_collect(&pv, dir);
    if (kk_git_in_checkout(dir))
        skip(); /* the temporary folder sits inside some checkout */
    assert_int_equal(pv.git_dirty, 1);
    assert_string_equal(pv.git_commit, "0000000000000000000000000000000000000000");
    assert_non_null(strstr(pv.git_error, "not in a git checkout"));
    assert_int_equal(pv.n_dirty_paths, 0);
}

/* kakeya run with no git on PATH: exit 0, but a warning on stderr and the
 * reason in provenance.git_error beside the all-zero commit. */
static void a_run_without_git_should_warn_and_record_why(void **state)
{
    (void)state;
    TP_REQUIRE_PROGRAM(g_kakeya);
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/ev", g_tmp);
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    setenv("PATH", "/nonexistent-kakeya-test", 1);
    const char *args[] = {"run", "smoke", "--out", out, "--jobs", "1", "--quiet", NULL};
    tp_run r = tp_run_prog(NULL, g_kakeya, args);
    if (saved) {
        setenv("PATH", saved, 1);
        free(saved);
    }
    if (r.code != 0)
        fprintf(stderr, "%s", r.err);
    assert_int_equal(r.code, 0);
    if (!strstr(r.err, "warning: git could not be used"))
        fail_msg("no warning on stderr: \"%s\"", r.err);
    char file[PATH_MAX + 320];
    snprintf(file, sizeof file, "%s", r.out);
    file[strcspn(file, "\n")] = '\0';
    tp_run_free(&r);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(kk_file_read_all(file, &text, &len, NULL), KK_OK);
    cJSON *d = cJSON_Parse(text);
    free(text);
    assert_non_null(d);
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(d, "provenance");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pv, "git_dirty")));
    const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pv, "git_error"));
    if (!why)
        fail_msg("no provenance.git_error");
    assert_non_null(strstr(why, "git"));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pv, "git_commit")),
                        "0000000000000000000000000000000000000000");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pv, "git_dirty_paths")),
                     0);
    cJSON_Delete(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_untracked_source_file_should_make_the_tree_dirty),
        cmocka_unit_test(the_dirty_paths_should_be_capped_and_counted),
        cmocka_unit_test(a_folder_outside_any_checkout_should_be_dirty_and_say_why),
        cmocka_unit_test(a_run_without_git_should_warn_and_record_why),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
