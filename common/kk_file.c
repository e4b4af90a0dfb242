/* kk_file: see kk_file.h. */
#include "kk_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kk_fault.h"

const char *kk_file_type_name(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    case S_IFLNK: return "a symlink";
    default: return "of an unknown file type";
    }
}

/* err's file set to path; the code also when err is NULL (kk_err_file
 * alone returns KK_OK then). */
static kk_code at_file(kk_err *err, kk_code code, const char *path)
{
    kk_err_file(err, path);
    return code;
}

kk_code kk_file_open_read(const char *path, int *fd, struct stat *st, kk_err *err)
{
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0) {
        kk_err_set(err, KK_E_IO, "cannot open: %s", strerror(errno));
        return at_file(err, KK_E_IO, path);
    }
    if (fstat(*fd, st) != 0) {
        int e = errno;
        close(*fd);
        *fd = -1;
        kk_err_set(err, KK_E_IO, "cannot stat: %s", strerror(e));
        return at_file(err, KK_E_IO, path);
    }
    if (!S_ISREG(st->st_mode)) {
        close(*fd);
        *fd = -1;
        kk_err_set(err, KK_E_TYPE, "is %s, not a regular file; allowed: a regular file",
                   kk_file_type_name((unsigned)st->st_mode));
        return at_file(err, KK_E_TYPE, path);
    }
    int fl = fcntl(*fd, F_GETFL);
    if (fl < 0 || fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(*fd);
        *fd = -1;
        kk_err_set(err, KK_E_IO, "cannot clear O_NONBLOCK: %s", strerror(e));
        return at_file(err, KK_E_IO, path);
    }
    return KK_OK;
}

kk_code kk_file_read_all(const char *path, char **data, size_t *len, kk_err *err)
{
    *data = NULL;
    *len = 0;
    int fd = -1;
    struct stat st;
    kk_code rc = kk_file_open_read(path, &fd, &st, err);
    if (rc != KK_OK)
        return rc;
    size_t cap = (size_t)st.st_size;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        kk_err_set(err, KK_E_NOMEM, "cannot allocate %zu bytes", cap + 1);
        return at_file(err, KK_E_NOMEM, path);
    }
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != cap) {
        free(buf);
        kk_err_set(err, KK_E_IO, "short read: %zu of %zu bytes", got, cap);
        return at_file(err, KK_E_IO, path);
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return KK_OK;
}

kk_code kk_map_open(kk_map *map, const char *path, kk_err *err)
{
    map->data = NULL;
    map->size = 0;
    struct stat st;
    kk_code rc = kk_file_open_read(path, &map->fd, &st, err);
    if (rc != KK_OK)
        return rc;
    map->size = (size_t)st.st_size;
    if (map->size > 0) {
        void *p = mmap(NULL, map->size, PROT_READ, MAP_PRIVATE, map->fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            map->size = 0;
            kk_map_close(map);
            kk_err_set(err, KK_E_IO, "cannot mmap: %s", strerror(e));
            return kk_err_file(err, path);
        }
        map->data = p;
    }
    return KK_OK;
}

void kk_map_prefault(const kk_map *map)
{
    if (!map || !map->data || !map->size)
        return;
#ifdef MADV_POPULATE_READ
    if (madvise((void *)map->data, map->size, MADV_POPULATE_READ) == 0)
        return;
#endif
    /* older kernels: one read per page */
    const long pg = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096;
    const volatile unsigned char *p = map->data;
    unsigned char sink = 0;
    for (size_t i = 0; i < map->size; i += (size_t)pg)
        sink ^= p[i];
    (void)sink;
}

void kk_map_close(kk_map *map)
{
    if (!map)
        return;
    if (map->data && map->size)
        munmap((void *)map->data, map->size);
    if (map->fd >= 0)
        close(map->fd);
    map->data = NULL;
    map->size = 0;
    map->fd = -1;
}

/* fsync, or the fsync fault (kk_fault.h): fails with EIO. */
static int sync_fd(int fd)
{
    if (kk_fault_on(KK_FAULT_FSYNC)) {
        errno = EIO;
        return -1;
    }
    return fsync(fd);
}

kk_code kk_file_write_atomic(const char *path, const void *data, size_t len,
                             kk_err *err)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        kk_err_set(err, KK_E_RANGE, "path too long");
        return kk_err_file(err, path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        kk_err_set(err, KK_E_IO, "cannot create %s: %s", tmp, strerror(errno));
        return kk_err_file(err, path);
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            kk_err_set(err, KK_E_IO, "write failed: %s", strerror(e));
            return kk_err_file(err, path);
        }
        p += w;
        left -= (size_t)w;
    }
    /* Close whatever fsync said: the descriptor is ours either way. */
    const int synced = sync_fd(fd) == 0;
    const int sync_errno = errno;
    const int closed = close(fd) == 0;
    if (!synced || !closed) {
        const int e = synced ? errno : sync_errno;
        unlink(tmp);
        kk_err_set(err, KK_E_IO, "%s failed: %s", synced ? "close" : "fsync", strerror(e));
        return kk_err_file(err, path);
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        kk_err_set(err, KK_E_IO, "rename failed: %s", strerror(e));
        return kk_err_file(err, path);
    }
    return KK_OK;
}

kk_code kk_mkdir_p(const char *path, kk_err *err)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        kk_err_set(err, KK_E_RANGE, "bad directory path length %zu", n);
        return kk_err_file(err, path);
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                kk_err_set(err, KK_E_IO, "cannot create directory %s: %s", buf,
                           strerror(errno));
                return kk_err_file(err, path);
            }
            buf[i] = c;
        }
    }
    return KK_OK;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

kk_code kk_repo_root(char *buf, size_t cap, kk_err *err)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        /* <root>/bin/prog or <root>/build/<flavor>/.../prog: walk up until a
         * folder holds both Makefile and engine/ and gate/. */
        char *slash;
        while ((slash = strrchr(exe, '/')) != NULL && slash != exe) {
            *slash = '\0';
            char probe[PATH_MAX + 32];
            snprintf(probe, sizeof probe, "%s/gate", exe);
            int ok = is_dir(probe);
            snprintf(probe, sizeof probe, "%s/engine", exe);
            ok = ok && is_dir(probe);
            /* build/<flavor>/tests/ also holds gate/ and engine/ (test
             * binaries): the Makefile tells the root apart. */
            struct stat mk;
            snprintf(probe, sizeof probe, "%s/Makefile", exe);
            ok = ok && stat(probe, &mk) == 0 && S_ISREG(mk.st_mode);
            if (ok && strlen(exe) < cap) {
                memcpy(buf, exe, strlen(exe) + 1);
                return KK_OK;
            }
        }
    }
    /* The git top level of the current folder, found without running git
     * (no shell, no child process): the nearest ancestor holding .git. */
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd)) {
        for (;;) {
            char probe[PATH_MAX + 8];
            struct stat st;
            snprintf(probe, sizeof probe, "%s/.git", cwd);
            if (stat(probe, &st) == 0 && strlen(cwd) < cap) {
                memcpy(buf, cwd, strlen(cwd) + 1);
                return KK_OK;
            }
            char *slash = strrchr(cwd, '/');
            if (!slash || slash == cwd)
                break;
            *slash = '\0';
        }
    }
    return kk_err_set(err, KK_E_MISSING,
                      "cannot find the repository root (from the binary's "
                      "location or git)");
}

int kk_fixtures_dir(char *buf, size_t cap)
{
    const char *env = getenv("KAKEYA_FIXTURES");
    if (env && env[0]) {
        snprintf(buf, cap, "%s", env);
        return is_dir(buf);
    }
    char root[PATH_MAX];
    if (kk_repo_root(root, sizeof root, NULL) != KK_OK) {
        snprintf(buf, cap, "../shared/fixtures");
        return is_dir(buf);
    }
    snprintf(buf, cap, "%s/../shared/fixtures", root);
    return is_dir(buf);
}
