/* run_child: see run_child.h. */
#include "run_child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

void run_child_write_all(int fd, const char *s)
{
    size_t len = strlen(s), off = 0;
    while (off < len) {
        const ssize_t w = write(fd, s + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

uint64_t run_child_vm_rss(void)
{
    char buf[4096];
    const int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *v = strstr(buf, "VmRSS:");
    return v ? (uint64_t)strtoull(v + 6, NULL, 10) * 1024u : 0;
}

void run_child_read_reply(int fd, char *buf, size_t cap)
{
    size_t k = 0;
    for (;;) {
        char tmp[512];
        const ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n && k + 1 < cap; i++)
            buf[k++] = tmp[i];
    }
    buf[k] = '\0';
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
}

void run_child_signals(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

kk_code run_child_reap(pid_t pid, int *status, uint64_t *peak_rss)
{
    struct rusage ru;
    pid_t w;
    do
        w = wait4(pid, status, 0, &ru);
    while (w < 0 && errno == EINTR);
    if (w != pid)
        return KK_E_IO;
    *peak_rss = (uint64_t)ru.ru_maxrss * 1024u; /* Linux: KiB */
    return KK_OK;
}


void run_child_status_text(int status, char *buf, size_t cap)
{
    if (WIFSIGNALED(status))
        snprintf(buf, cap, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, cap, "exit %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

kk_code run_child_measure(void (*child)(int fd, void *ctx), void *ctx, char *reply, size_t cap,
                          int *status, uint64_t *peak_rss, kk_err *err)
{
    int fd[2];
    if (pipe(fd) != 0)
        return kk_err_set(err, KK_E_IO, "pipe: %s", strerror(errno));
    fflush(NULL);
    const pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return kk_err_set(err, KK_E_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        run_child_signals();
        close(fd[0]);
        child(fd[1], ctx);
        _exit(127);
    }
    close(fd[1]);
    run_child_read_reply(fd[0], reply, cap);
    close(fd[0]);
    if (run_child_reap(pid, status, peak_rss) != KK_OK)
        return kk_err_set(err, KK_E_IO, "cannot wait for the measuring process: %s",
                          strerror(errno));
    return KK_OK;
}
