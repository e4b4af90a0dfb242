/* The evidence rules (issue 19) on evidence the harness wrote: `kakeya run
 * smoke` into a temporary folder, then `kakeya-gate` on the result, both
 * the binaries of this build flavor. Every rule must run and pass: a rule
 * that fires on honest harness output, or a signal the harness stops
 * recording, fails here rather than in CI's gate over evidence/.
 *
 * Not here yet: the run-time half of issue 19's end-to-end test (a codec
 * that silently passes values through must make LIVENESS fire). It needs a
 * switch in the harness or engine that turns a codec into an uncounted
 * copy; see docs/gate.md, "Evidence rules". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gate_rules.h"
#include "kk_file.h"
#include "test_util.h"

static char g_kakeya[PATH_MAX + 32], g_gate[PATH_MAX + 32], g_root[PATH_MAX];

/* Runs argv with stdout into *out (stderr discarded); @return exit code. */
static int run(const char *const *argv, char **out)
{
    char path[] = "/tmp/kk_rules_e2e_out_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(null, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int ws;
    waitpid(pid, &ws, 0);
    size_t len;
    if (!out || kk_file_read_all(path, out, &len, NULL) != KK_OK) {
        if (out)
            *out = strdup("");
    }
    close(fd);
    unlink(path);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* The one *.json below dir (evidence/<preset>/<stamp>.json). */
static int find_json(const char *dir, char *buf, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[PATH_MAX + 256];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        size_t n = strlen(e->d_name);
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            found = find_json(p, buf, cap);
        else if (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0) {
            snprintf(buf, cap, "%s", p);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

static void smoke_evidence_from_the_harness_should_pass_every_rule(void **state)
{
    (void)state;
    char tmp[] = "/tmp/kk_rules_e2e_XXXXXX";
    assert_non_null(mkdtemp(tmp));
    char presets[PATH_MAX], out[PATH_MAX], from[PATH_MAX + 32], to[PATH_MAX + 32];
    snprintf(presets, sizeof presets, "%s/presets", tmp);
    snprintf(out, sizeof out, "%s/ev", tmp);
    assert_int_equal(mkdir(presets, 0755), 0);
    /* The shipped preset, copied outside the checkout: the gate then
     * compares the evidence with this file and does not ask git. */
    snprintf(from, sizeof from, "%s/presets/smoke.yaml", g_root);
    snprintf(to, sizeof to, "%s/smoke.yaml", presets);
    char *buf;
    size_t len;
    assert_int_equal(kk_file_read_all(from, &buf, &len, NULL), KK_OK);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
    free(buf);

    const char *argv_run[] = {g_kakeya, "run", "smoke", "--presets", presets, "--out", out,
                              "--jobs", "1", "--quiet", NULL};
    assert_int_equal(run(argv_run, NULL), 0);
    char ev[PATH_MAX + 300], schema[PATH_MAX + 64];
    assert_true(find_json(out, ev, sizeof ev));
    snprintf(schema, sizeof schema, "%s/gate/schemas/evidence.schema.json", g_root);
    const char *argv_gate[] = {g_gate, "--presets", presets, "--schema", schema, "--json",
                               ev, NULL};
    char *json = NULL;
    int rc = run(argv_gate, &json);
    if (rc != 0) {
        fprintf(stderr, "%s\n", json);
        fail_msg("the gate refused harness evidence (exit %d)", rc);
    }
    /* Every rule ran and passed on it. */
    for (size_t i = 0; i < gate_rules_count(); i++) {
        char needle[128];
        snprintf(needle, sizeof needle, "\"id\":\"%s\"", gate_rules_at(i)->code);
        if (!strstr(json, needle))
            fail_msg("no %s check on harness evidence", gate_rules_at(i)->code);
    }
    assert_null(strstr(json, "\"status\":\"FAIL\""));
    free(json);
    const char *argv_rm[] = {"/bin/rm", "-rf", tmp, NULL};
    run(argv_rm, NULL);
}

static int setup(void **state)
{
    (void)state;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || kk_repo_root(g_root, sizeof g_root, NULL) != KK_OK)
        return -1;
    self[n] = '\0';
    /* build/<flavor>/tests/harness/<me> -> build/<flavor>/kakeya{,-gate}. */
    for (int up = 0; up < 3; up++)
        *strrchr(self, '/') = '\0';
    snprintf(g_kakeya, sizeof g_kakeya, "%s/kakeya", self);
    snprintf(g_gate, sizeof g_gate, "%s/kakeya-gate", self);
    if (access(g_kakeya, X_OK) != 0 || access(g_gate, X_OK) != 0) {
        snprintf(g_kakeya, sizeof g_kakeya, "%s/bin/kakeya", g_root);
        snprintf(g_gate, sizeof g_gate, "%s/bin/kakeya-gate", g_root);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(smoke_evidence_from_the_harness_should_pass_every_rule),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
