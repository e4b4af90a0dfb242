/* kk_git: see kk_git.h. */
#include "kk_git.h"

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

int kk_git_in_checkout(const char *dir)
{
    char cur[PATH_MAX];
    if (!realpath(dir, cur))
        return 0;
    for (;;) {
        char probe[PATH_MAX + 8];
        struct stat st;
        snprintf(probe, sizeof probe, "%s/.git", cur);
        if (stat(probe, &st) == 0)
            return 1;
        char *slash = strrchr(cur, '/');
        if (!slash)
            return 0;
        if (slash == cur) {
            if (cur[1] == '\0')
                return 0;
            cur[1] = '\0'; /* try "/" itself last */
            continue;
        }
        *slash = '\0';
    }
}

#define MAX_ARGS 16

kk_code kk_git_run(const char *dir, const char *const *args, char **out,
                     size_t *out_len, size_t max_out, int *status, kk_err *err)
{
    *out = NULL;
    *out_len = 0;
    *status = -1;
    const char *argv[MAX_ARGS + 4];
    size_t n = 0;
    argv[n++] = "git";
    argv[n++] = "-C";
    argv[n++] = dir;
    for (size_t i = 0; args[i]; i++) {
        if (n >= MAX_ARGS + 3)
            return kk_err_set(err, KK_E_INTERNAL, "too many git arguments");
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    int pfd[2];
    if (pipe(pfd) != 0)
        return kk_err_set(err, KK_E_IO, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return kk_err_set(err, KK_E_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /* Child: stdout to the pipe, stdin and stderr to /dev/null. */
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 2);
        }
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        unsetenv("GIT_DIR");
        unsetenv("GIT_WORK_TREE");
        unsetenv("GIT_INDEX_FILE");
        execvp("git", (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    int too_big = 0;
    while (buf) {
        if (len == cap) {
            if (cap >= max_out) {
                too_big = 1;
                break;
            }
            cap = cap * 2 > max_out ? max_out : cap * 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        ssize_t r = read(pfd[0], buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(pfd[0]); /* a child still writing gets SIGPIPE and ends */
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    if (!buf)
        return kk_err_set(err, KK_E_NOMEM, "out of memory reading git output");
    if (too_big) {
        free(buf);
        return kk_err_set(err, KK_E_LIMIT, "git output exceeds %zu bytes", max_out);
    }
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) == 127) {
        free(buf);
        return kk_err_set(err, KK_E_IO,
                          "cannot run git (is it installed and on PATH?)");
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    *status = WEXITSTATUS(ws);
    return KK_OK;
}

/* git exits 128 both for "no such object" and for "cannot use this
 * repository" (dubious ownership, corrupt .git): ask first, so the second
 * is an error and not a verdict. */
static kk_code repo_ok(const char *dir, kk_err *err)
{
    const char *args[] = {"rev-parse", "--git-dir", NULL};
    char *out = NULL;
    size_t len = 0;
    int status;
    kk_code rc = kk_git_run(dir, args, &out, &len, 1 << 16, &status, err);
    free(out);
    if (rc != KK_OK)
        return rc;
    if (status != 0)
        return kk_err_set(err, KK_E_IO,
                          "git cannot read the repository at %s (exit %d; "
                          "try `git -C %s status`)", dir, status, dir);
    return KK_OK;
}

kk_code kk_git_blob_at_head(const char *dir, const char *relpath, char **buf,
                              size_t *len, kk_err *err)
{
    *buf = NULL;
    *len = 0;
    KK_TRY(repo_ok(dir, err));
    char spec[PATH_MAX + 16];
    int n = snprintf(spec, sizeof spec, "HEAD:./%s", relpath);
    if (n < 0 || (size_t)n >= sizeof spec)
        return kk_err_set(err, KK_E_RANGE, "path too long");
    const char *args[] = {"cat-file", "blob", spec, NULL};
    int status;
    /* A preset over 64 KiB is refused anyway; allow a margin to say so. */
    kk_code rc = kk_git_run(dir, args, buf, len, 1 << 20, &status, err);
    if (rc != KK_OK)
        return rc;
    if (status != 0) {
        free(*buf);
        *buf = NULL;
        *len = 0;
        return kk_err_set(err, KK_E_MISSING, "%s is not in the commit HEAD "
                          "(not committed)", relpath);
    }
    return KK_OK;
fail:
    return err ? err->code : KK_E_IO;
}

int kk_git_commit_exists(const char *dir, const char *commit, kk_err *err)
{
    for (const char *p = commit; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    char spec[160];
    if (strlen(commit) > 128 || commit[0] == '\0')
        return 0;
    snprintf(spec, sizeof spec, "%s^{commit}", commit);
    if (repo_ok(dir, err) != KK_OK)
        return -1;
    const char *args[] = {"cat-file", "-e", spec, NULL};
    char *out = NULL;
    size_t len = 0;
    int status;
    if (kk_git_run(dir, args, &out, &len, 4096, &status, err) != KK_OK)
        return -1;
    free(out);
    if (status == 0)
        return 1;
    if (status == 128 || status == 1)
        return 0; /* cat-file -e: 128 for an unknown name, 1 otherwise */
    kk_err_set(err, KK_E_IO, "git cat-file exited with status %d", status);
    return -1;
}
