/* Tests of harness/evidence: the document is complete or an error. Under
 * KAKEYA_FAULT=evidence-alloc:N (kk_fault.h) the Nth member added while
 * building it fails as cJSON does when memory runs out; for every N the
 * writer must return KK_E_NOMEM and leave no file, until N passes the
 * last member and the document is again the clean one, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence.h"
#include "kk_fault.h"
#include "kk_file.h"
#include "preset.h"
#include "test_proc.h"

/* More than the members of the document below; the loop stops earlier. */
#define MAX_ADDS 400

static char g_root[PATH_MAX], g_tmp[64];
static preset *g_preset;

static int setup(void **state)
{
    (void)state;
    if (kk_repo_root(g_root, sizeof g_root, NULL) != KK_OK)
        return -1;
    if (tp_tmpdir(g_tmp, sizeof g_tmp, "kk_evidence") != 0)
        return -1;
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/presets", g_root);
    kk_err e;
    if (preset_load(dir, "smoke", &g_preset, &e) != KK_OK) {
        fprintf(stderr, "%s: %s\n", e.file, e.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    preset_free(g_preset);
    tp_rmtree(g_tmp);
    return 0;
}

static void fill_provenance(ev_provenance *pv)
{
    memset(pv, 0, sizeof *pv);
    snprintf(pv->git_commit, sizeof pv->git_commit, "%040d", 0);
    snprintf(pv->cpu, sizeof pv->cpu, "test cpu");
    pv->cores = 2;
    snprintf(pv->compiler, sizeof pv->compiler, "cc");
    snprintf(pv->build, sizeof pv->build, "release");
    snprintf(pv->blas, sizeof pv->blas, "none");
    pv->seed = 7;
    pv->threads = 1;
    pv->jobs = 1;
    pv->shard_i = 1;
    pv->shard_n = 2; /* the shard object too */
    snprintf(pv->started, sizeof pv->started, "2026-01-02T03:04:05.678Z");
    snprintf(pv->finished, sizeof pv->finished, "2026-01-02T03:04:06.678Z");
    pv->wall_s = 1.0;
    snprintf(pv->faults, sizeof pv->faults, "a,b");
}

/* Two arms, so the summary has a reference, per-arm figures and a claim. */
static void make_parts(cJSON **models, cJSON **arms, cJSON **summary)
{
    *models = cJSON_Parse("[{\"role\": \"model\", \"source\": \"synth:niah\"}]");
    *arms = cJSON_Parse(
        "[{\"name\": \"full\", \"config\": {\"codec\": \"none\"}, \"config_sha256\": \"a\","
        "  \"metrics\": {\"kv_bytes_resident\": 1000, \"recall\": 1}},"
        " {\"name\": \"q8\", \"config\": {\"codec\": \"q8_0\"}, \"config_sha256\": \"b\","
        "  \"metrics\": {\"kv_bytes_resident\": 500, \"recall\": 0.95}}]");
    assert_non_null(*models);
    assert_non_null(*arms);
    *summary = ev_summary(*arms);
    assert_non_null(*summary);
}

/* JSON files under dir/smoke; the one found (if any) read into *text. */
static int written(const char *dir, char **text)
{
    char sub[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/smoke", dir);
    DIR *d = opendir(sub);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        if (text && strstr(e->d_name, ".json")) {
            char p[PATH_MAX + 300];
            snprintf(p, sizeof p, "%s/%s", sub, e->d_name);
            size_t len;
            assert_int_equal(kk_file_read_all(p, text, &len, NULL), KK_OK);
        }
    }
    closedir(d);
    return n;
}

static void every_failed_add_should_fail_the_write_and_leave_no_file(void **state)
{
    (void)state;
    ev_provenance pv;
    fill_provenance(&pv);
    cJSON *models, *arms, *summary;
    char dir[PATH_MAX], path[PATH_MAX + 512];
    kk_err e;

    unsetenv(KK_FAULT_ENV);
    make_parts(&models, &arms, &summary);
    cJSON *doc = ev_document(g_preset, &pv, models, arms, summary);
    snprintf(dir, sizeof dir, "%s/clean", g_tmp);
    assert_int_equal(ev_write(dir, "smoke", &pv, doc, path, sizeof path, &e), KK_OK);
    cJSON_Delete(doc);
    char *clean = NULL;
    assert_int_equal(written(dir, &clean), 1);

    int n;
    for (n = 1; n <= MAX_ADDS; n++) {
        make_parts(&models, &arms, &summary); /* built clean: the document's own adds count */
        char fault[64];
        snprintf(fault, sizeof fault, "%s:%d", KK_FAULT_EVIDENCE_ALLOC, n);
        setenv(KK_FAULT_ENV, fault, 1);
        doc = ev_document(g_preset, &pv, models, arms, summary);
        unsetenv(KK_FAULT_ENV);
        snprintf(dir, sizeof dir, "%s/n%d", g_tmp, n);
        kk_err_clear(&e);
        const kk_code rc = ev_write(dir, "smoke", &pv, doc, path, sizeof path, &e);
        cJSON_Delete(doc);
        char *text = NULL;
        const int files = written(dir, &text);
        if (rc == KK_OK) {
            /* Past the last member: the whole document, as clean. */
            assert_int_equal(files, 1);
            assert_string_equal(text, clean);
            free(text);
            break;
        }
        if (rc != KK_E_NOMEM || files != 0)
            fail_msg("%s: write returned %s with %d file(s): %s", fault, kk_code_name(rc), files,
                     e.msg);
        free(text);
    }
    /* Every member of the document was made to fail once: dozens of them. */
    assert_true(n > 40 && n <= MAX_ADDS);
    free(clean);
}

static void a_failed_build_should_name_the_member_it_could_not_add(void **state)
{
    (void)state;
    ev_provenance pv;
    fill_provenance(&pv);
    cJSON *models, *arms, *summary, *doc = NULL;
    static const char *const first[] = {"schema_version", "preset", "name"};
    for (int n = 1; n <= 3; n++) {
        make_parts(&models, &arms, &summary);
        char fault[64];
        snprintf(fault, sizeof fault, "%s:%d", KK_FAULT_EVIDENCE_ALLOC, n);
        setenv(KK_FAULT_ENV, fault, 1);
        kk_err e;
        kk_err_clear(&e);
        assert_int_equal(ev_document_build(g_preset, &pv, models, arms, summary, &doc, &e),
                         KK_E_NOMEM);
        unsetenv(KK_FAULT_ENV);
        assert_null(doc);
        assert_string_equal(e.where, first[n - 1]);
        assert_non_null(strstr(e.msg, first[n - 1]));
    }
    /* The summary fails alike, and a document given no summary fails
     * naming it (it still frees models and arms: ASan checks). */
    make_parts(&models, &arms, &summary);
    cJSON_Delete(summary);
    setenv(KK_FAULT_ENV, KK_FAULT_EVIDENCE_ALLOC, 1);
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(ev_summary_build(arms, &summary, &e), KK_E_NOMEM);
    unsetenv(KK_FAULT_ENV);
    assert_null(summary);
    assert_string_equal(e.where, "reference_arm");
    kk_err_clear(&e);
    assert_int_equal(ev_document_build(g_preset, &pv, models, arms, NULL, &doc, &e), KK_E_NOMEM);
    assert_null(doc);
    assert_string_equal(e.where, "summary");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_failed_add_should_fail_the_write_and_leave_no_file),
        cmocka_unit_test(a_failed_build_should_name_the_member_it_could_not_add),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
