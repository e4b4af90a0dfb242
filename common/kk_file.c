/* kk_file: see kk_file.h. */
#include "kk_file.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
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
    *fd = -1;
    /* An empty path would be reported as "cannot open: No such file" with
     * no name to show: say what it is. */
    if (!path || !path[0])
        return kk_err_set(err, KK_E_RANGE, "the file path is empty (allowed: a path naming a "
                          "file)");
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

/* ---- whole-file writes (the protocol: kk_file.h) ------------------------- */

/* fsync, or the fsync fault (kk_fault.h): fails with EIO. */
static int sync_fd(int fd)
{
    if (kk_fault_on(KK_FAULT_FSYNC)) {
        errno = EIO;
        return -1;
    }
    return fsync(fd);
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* "<host>.<pid namespace>": who writes, in temporary names. The host name
 * keeps [A-Za-z0-9_-] (anything else becomes '-', so it holds no '.'); the
 * pid namespace is the inode of /proc/self/ns/pid (0 when unreadable): two
 * containers that share a host name still tell their pids apart. */
static void writer_id(char *buf, size_t cap)
{
    char host[72] = "";
    if (gethostname(host, 64) != 0)
        host[0] = 0;
    host[64] = 0;
    for (char *c = host; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-'))
            *c = '-';
    char ns[64] = "";
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    unsigned long long ino = 0;
    if (n > 0) {
        ns[n] = 0;
        const char *b = strchr(ns, '[');
        if (b)
            ino = strtoull(b + 1, NULL, 10);
    }
    snprintf(buf, cap, "%s.%llu", host[0] ? host : "unknown-host", ino);
}

int kk_file_tmp_name(const char *path, long pid, char *buf, size_t cap)
{
    char id[128];
    writer_id(id, sizeof id);
    int n = snprintf(buf, cap, "%s.tmp.%s.%ld", path, id, pid);
    return n >= 0 && (size_t)n < cap;
}

static const char *type_name(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISLNK(m))
        return "a symbolic link";
    return "a special file";
}

#define ALLOWED_TARGETS "allowed: a regular file, an absent path, a character device, a FIFO or a socket"

/* Splits path into its folder, resolved (realpath), and its last name. */
static kk_code resolve_folder(const char *path, char *real_dir, char *base, size_t base_cap,
                              kk_err *err)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (!*name) {
        kk_err_set(err, KK_E_TYPE, "names a folder (ends with '/'); " ALLOWED_TARGETS);
        return kk_err_file(err, path);
    }
    if ((size_t)snprintf(base, base_cap, "%s", name) >= base_cap || strlen(path) >= sizeof dir) {
        kk_err_set(err, KK_E_RANGE, "path too long");
        return kk_err_file(err, path);
    }
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (!realpath(dir, real_dir)) {
        kk_err_set(err, KK_E_IO, "cannot resolve its folder %s: %s", dir, strerror(errno));
        return kk_err_file(err, path);
    }
    return KK_OK;
}

/* Where a write of path goes (stat() follows links): *stream = 1 for a
 * character device, FIFO or socket (written through at path); else the
 * folder the file lives in once every link is resolved (real_dir) and its
 * name there (base). A dangling link is refused: writing would replace the
 * link, or create a file somewhere the caller did not name. */
static kk_code resolve_target(const char *path, int *stream, char *real_dir, char *base,
                              size_t base_cap, kk_err *err)
{
    *stream = 0;
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
            *stream = 1;
            return KK_OK;
        }
        if (!S_ISREG(st.st_mode)) {
            kk_err_set(err, KK_E_TYPE, "cannot write over %s; " ALLOWED_TARGETS,
                       type_name(st.st_mode));
            return kk_err_file(err, path);
        }
        char real[PATH_MAX];
        if (!realpath(path, real)) {
            kk_err_set(err, KK_E_IO, "cannot resolve: %s", strerror(errno));
            return kk_err_file(err, path);
        }
        return resolve_folder(real, real_dir, base, base_cap, err);
    }
    if (errno != ENOENT) {
        kk_err_set(err, KK_E_IO, "cannot stat: %s", strerror(errno));
        return kk_err_file(err, path);
    }
    if (lstat(path, &st) == 0) {
        kk_err_set(err, KK_E_TYPE, "cannot write through a symbolic link to a missing file; "
                   ALLOWED_TARGETS);
        return kk_err_file(err, path);
    }
    return resolve_folder(path, real_dir, base, base_cap, err);
}

/* A device, FIFO or socket: opened write-only, never created or truncated
 * (a FIFO without a reader blocks here, as any writer's open would). */
static kk_code write_through(const char *path, const void *data, size_t len, kk_err *err)
{
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    /* Linux cannot open() a socket (ENXIO), /dev/stdout on a socket
     * included: when path is the socket this process's stdout or stderr
     * already holds, write through a copy of that descriptor. */
    struct stat st, fs;
    if (fd < 0 && errno == ENXIO && stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        for (int std = 1; std <= 2 && fd < 0; std++)
            if (fstat(std, &fs) == 0 && fs.st_dev == st.st_dev && fs.st_ino == st.st_ino)
                fd = fcntl(std, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
            errno = ENXIO;
    }
    if (fd < 0) {
        kk_err_set(err, KK_E_IO, "cannot open for writing: %s", strerror(errno));
        return kk_err_file(err, path);
    }
    const int ok = write_all(fd, data, len) == 0;
    const int e = errno;
    if (close(fd) != 0 && ok) {
        kk_err_set(err, KK_E_IO, "close failed: %s", strerror(errno));
        return kk_err_file(err, path);
    }
    if (!ok) {
        kk_err_set(err, KK_E_IO, "write failed: %s", strerror(e));
        return kk_err_file(err, path);
    }
    return KK_OK;
}

/* The bytes in a new temporary "<real_dir>/<name>.tmp.<host>.<ns>.<pid>",
 * fsynced and closed; tmp receives its name. Created with O_EXCL (nothing
 * planted at that name is followed); a leftover of an earlier process that
 * had this pid is removed first. */
static kk_code tmp_write(const char *shown, const char *real_dir, const char *name,
                         const void *data, size_t len, char *tmp, size_t cap, kk_err *err)
{
    char final[PATH_MAX];
    if ((size_t)snprintf(final, sizeof final, "%s/%s", strcmp(real_dir, "/") ? real_dir : "",
                         name) >= sizeof final ||
        !kk_file_tmp_name(final, (long)getpid(), tmp, cap)) {
        kk_err_set(err, KK_E_RANGE, "path too long");
        return kk_err_file(err, shown);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        kk_err_set(err, KK_E_IO, "cannot create %s: %s", tmp, strerror(errno));
        return kk_err_file(err, shown);
    }
    if (write_all(fd, data, len) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        kk_err_set(err, KK_E_IO, "write failed: %s", strerror(e));
        return kk_err_file(err, shown);
    }
    /* Close whatever fsync said: the descriptor is ours either way. */
    const int synced = sync_fd(fd) == 0;
    const int sync_errno = errno;
    const int closed = close(fd) == 0;
    if (!synced || !closed) {
        const int e = synced ? errno : sync_errno;
        unlink(tmp);
        kk_err_set(err, KK_E_IO, "%s failed: %s", synced ? "close" : "fsync", strerror(e));
        return kk_err_file(err, shown);
    }
    return KK_OK;
}

/* fsync the folder so the rename itself survives a crash. A file system
 * that cannot sync a folder (EINVAL, ENOTSUP) is not an error; any other
 * failure is, and says that the file is in place. */
static kk_code sync_folder(const char *shown, const char *real_dir, kk_err *err)
{
    int fd = open(real_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? -1 : sync_fd(fd);
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (rc != 0 && e != EINVAL && e != ENOTSUP) {
        kk_err_set(err, KK_E_IO, "written and renamed, but syncing its folder %s failed: %s "
                   "(the file may not survive a crash)", real_dir, strerror(e));
        return kk_err_file(err, shown);
    }
    return KK_OK;
}

kk_code kk_file_write_atomic(const char *path, const void *data, size_t len,
                             kk_err *err)
{
    char real_dir[PATH_MAX], base[NAME_MAX + 1], tmp[PATH_MAX + 256], final[PATH_MAX + NAME_MAX + 2];
    int stream;
    KK_TRY(resolve_target(path, &stream, real_dir, base, sizeof base, err));
    if (stream)
        return write_through(path, data, len, err);
    KK_TRY(tmp_write(path, real_dir, base, data, len, tmp, sizeof tmp, err));
    snprintf(final, sizeof final, "%s/%s", strcmp(real_dir, "/") ? real_dir : "", base);
    if (rename(tmp, final) != 0) {
        int e = errno;
        unlink(tmp);
        kk_err_set(err, KK_E_IO, "rename failed: %s", strerror(e));
        return kk_err_file(err, path);
    }
    return sync_folder(path, real_dir, err);
fail:
    return err ? err->code : KK_E_IO;
}

/* Gives tmp the name `to` only when nothing is there: renameat2
 * (RENAME_NOREPLACE), else (a file system without it: EINVAL) link() then
 * unlink of the temporary. @return 0, or -1 with errno (EEXIST: taken). */
static int place_new(const char *tmp, const char *to)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return -1;
    if (link(tmp, to) != 0)
        return -1;
    unlink(tmp);
    return 0;
}

kk_code kk_file_write_new(const char *stem, const char *ext, const void *data, size_t len,
                          char *path, size_t cap, kk_err *err)
{
    char real_dir[PATH_MAX], base[NAME_MAX + 1], name[NAME_MAX + 1], tmp[PATH_MAX + 256];
    char final[PATH_MAX + NAME_MAX + 2];
    KK_TRY(resolve_folder(stem, real_dir, base, sizeof base, err));
    if ((size_t)snprintf(name, sizeof name, "%s%s", base, ext) >= sizeof name) {
        kk_err_set(err, KK_E_RANGE, "file name too long");
        return kk_err_file(err, stem);
    }
    KK_TRY(tmp_write(stem, real_dir, name, data, len, tmp, sizeof tmp, err));
    for (int k = 1; k <= KK_FILE_NEW_MAX; k++) {
        char suffix[16] = "";
        if (k > 1)
            snprintf(suffix, sizeof suffix, "-%d", k);
        if ((size_t)snprintf(path, cap, "%s%s%s", stem, suffix, ext) >= cap ||
            (size_t)snprintf(final, sizeof final, "%s/%s%s%s", strcmp(real_dir, "/") ? real_dir : "",
                             base, suffix, ext) >= sizeof final) {
            unlink(tmp);
            kk_err_set(err, KK_E_RANGE, "path too long");
            return kk_err_file(err, stem);
        }
        if (place_new(tmp, final) == 0)
            return sync_folder(path, real_dir, err);
        if (errno != EEXIST) {
            int e = errno;
            unlink(tmp);
            kk_err_set(err, KK_E_IO, "cannot create: %s", strerror(e));
            return kk_err_file(err, path);
        }
    }
    unlink(tmp);
    kk_err_set(err, KK_E_LIMIT, "every name up to suffix -%d is taken", KK_FILE_NEW_MAX);
    return kk_err_file(err, stem);
fail:
    return err ? err->code : KK_E_IO;
}

/* pid of a temporary name "<...>.tmp.<...>.<pid>" (0: not one). */
static long tmp_pid(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    const char *dot = strrchr(name, '.');
    if (!t || !dot || dot < t + 4 || !dot[1])
        return 0;
    char *end = NULL;
    long pid = strtol(dot + 1, &end, 10);
    return end && !*end && pid > 0 ? pid : 0;
}

int kk_file_clean_stale(const char *dir, long max_age_s)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char id[128], mine[160];
    writer_id(id, sizeof id);
    snprintf(mine, sizeof mine, ".tmp.%s.", id);
    const time_t now = time(NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const long pid = tmp_pid(e->d_name);
        if (!pid)
            continue;
        char p[PATH_MAX];
        struct stat st;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p ||
            lstat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        /* this host's and this pid namespace's: ".tmp.<id>.<pid>" ends the name */
        const char *dot = strrchr(e->d_name, '.');
        const size_t ml = strlen(mine);
        const int ours = (size_t)(dot + 1 - e->d_name) >= ml &&
                         !strncmp(dot + 1 - ml, mine, ml);
        const int gone = pid == (long)getpid() || (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
        const int old = now - st.st_mtime > max_age_s;
        if (((ours && gone) || old) && unlink(p) == 0)
            n++;
    }
    closedir(d);
    return n;
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
