/*
 * Shared process helpers for the CLI tests: run a program by fork/exec (no
 * shell) capturing its exit code, stdout and stderr; find this build
 * flavor's program; make and remove a temporary folder. Include after
 * <cmocka.h> (the helpers assert with cmocka) like test_util.h.
 *
 * Ownership: tp_run's out and err are malloc'ed, NUL-terminated, and freed
 * by tp_run_free; the caller owns the result.
 */
#ifndef KK_TEST_PROC_H
#define KK_TEST_PROC_H

#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kk_file.h"

typedef struct tp_run {
    int code; /* exit status, 128 + signal if killed, 127 if exec failed */
    char *out, *err;
    size_t out_len, err_len;
} tp_run;

static inline void tp_run_free(tp_run *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* Reads and unlinks a capture file; "" when it cannot be read. */
static inline void tp_slurp_(char *path, int fd, char **data, size_t *len)
{
    close(fd);
    if (kk_file_read_all(path, data, len, NULL) != KK_OK) {
        *data = strdup("");
        *len = 0;
    }
    assert_non_null(*data);
    unlink(path);
}

/* Runs argv (NULL-terminated; argv[0] a path, or a name looked up in PATH as
 * execvp does, never through a shell) in cwd (NULL: this one). Both streams
 * go to mkstemp files, not pipes, so a chatty child cannot block on a full
 * pipe while we wait for it. */
static inline tp_run tp_run_argv(const char *cwd, const char *const *argv)
{
    char outp[] = "/tmp/kk_test_out_XXXXXX";
    char errp[] = "/tmp/kk_test_err_XXXXXX";
    int fo = mkstemp(outp);
    int fe = mkstemp(errp);
    assert_true(fo >= 0 && fe >= 0);
    fflush(NULL); /* do not let the child flush our buffered output twice */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(127);
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    assert_true(waitpid(pid, &status, 0) == pid);
    tp_run r = {0};
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    tp_slurp_(outp, fo, &r.out, &r.out_len);
    tp_slurp_(errp, fe, &r.err, &r.err_len);
    return r;
}

/* Runs prog with args (NULL-terminated, at most 62) as tp_run_argv does. */
static inline tp_run tp_run_prog(const char *cwd, const char *prog, const char *const *args)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = prog;
    while (args[n - 1] && n < 63) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    return tp_run_argv(cwd, argv);
}

/* Runs items[0..n) as argv, leaving out NULL entries (optional flags). */
static inline tp_run tp_run_opt(const char *cwd, const char *const *items, size_t n)
{
    const char *argv[64];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 63; i++)
        if (items[i])
            argv[k++] = items[i];
    argv[k] = NULL;
    return tp_run_argv(cwd, argv);
}

/* This flavor's program NAME into buf: build/<flavor>/NAME, found from this
 * test's own path (build/<flavor>/tests/<group>/test_x), so `make check`
 * runs the sanitized binary; else <repo root>/bin/NAME. */
static inline void tp_program(char *buf, size_t cap, const char *name)
{
    char self[2048];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    buf[0] = '\0';
    if (n > 0) {
        self[n] = '\0';
        snprintf(buf, cap, "%s/../../%s", dirname(self), name);
        if (access(buf, X_OK) == 0)
            return;
    }
    char root[1024];
    if (kk_repo_root(root, sizeof root, NULL) == KK_OK)
        snprintf(buf, cap, "%s/bin/%s", root, name);
}

/* Skip the current cmocka test when the program at path is not built. */
#define TP_REQUIRE_PROGRAM(path)                                              \
    do {                                                                      \
        if (access((path), X_OK) != 0) {                                      \
            fprintf(stderr, "SKIP: %s not built\n", (path));                  \
            skip();                                                           \
        }                                                                     \
    } while (0)

/* A fresh folder /tmp/<tag>_XXXXXX into buf; 0 on success, -1 otherwise. */
static inline int tp_tmpdir(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/tmp/%s_XXXXXX", tag);
    return mkdtemp(buf) ? 0 : -1;
}

static inline int tp_rm_one_(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes dir and everything under it (symlinks not followed). */
static inline void tp_rmtree(const char *dir)
{
    nftw(dir, tp_rm_one_, 16, FTW_DEPTH | FTW_PHYS);
}

/* A CLI test's group setup: this flavor's program NAME into bin (tp_program)
 * and a fresh folder into tmp (tp_tmpdir), which *state then points at for
 * tp_teardown_tmpdir. 0 on success, -1 otherwise. */
static inline int tp_cli_setup(void **state, char *bin, size_t bincap, const char *name,
                               char *tmp, size_t tmpcap, const char *tag)
{
    tp_program(bin, bincap, name);
    if (tp_tmpdir(tmp, tmpcap, tag) != 0)
        return -1;
    *state = tmp;
    return 0;
}

/* A cmocka group teardown removing the folder tp_cli_setup made. */
static inline int tp_teardown_tmpdir(void **state)
{
    if (*state)
        tp_rmtree(*state);
    return 0;
}

#endif /* KK_TEST_PROC_H */
