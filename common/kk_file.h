/*
 * kk_file: whole-file reads, read-only maps, whole-file writes, repository
 * root.
 *
 * Ownership:
 *   kk_file_read_all   -> caller frees *data with free(); data is NUL-terminated
 *                         one byte past *len (the NUL is not counted).
 *   kk_map_open        -> caller releases with kk_map_close (accepts NULL/empty).
 *   The writers own nothing the caller passes and leave nothing open; on any
 *   error their temporary file is removed.
 *
 * Whole-file writes (every output file of both programs goes through one of
 * the two writers below; docs/harness.md "Files written whole"). What is at
 * the target, by stat() (links followed), decides:
 *   a regular file, or nothing   the bytes go to a temporary in the folder
 *                                of the RESOLVED path, are fsynced, renamed
 *                                onto the resolved path, then the folder is
 *                                fsynced: readers never see half a file, and
 *                                a symlink keeps its link (its target gets
 *                                the bytes);
 *   a character device, FIFO     opened write-only without O_CREAT or
 *   or socket                    O_TRUNC and written through (--junit
 *                                /dev/null, /dev/stdout on a pipe): never
 *                                replaced by a file (a socket, which
 *                                open() refuses, only when it is this
 *                                process's stdout or stderr);
 *   anything else                KK_E_TYPE naming the path and its type (a
 *                                directory, a block device, a link to a
 *                                missing file), nothing written.
 * Temporary names: "<final path>.tmp.<host>.<pid namespace>.<pid>"
 * (kk_file_tmp_name), so a cleaner can tell its own host's writers from
 * others' (kk_file_clean_stale).
 */
#ifndef KK_FILE_H
#define KK_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"

/* Every reader opens files here: open(O_RDONLY | O_NONBLOCK | O_CLOEXEC)
 * so a FIFO without a writer cannot block, then fstat, and only a regular
 * file is kept (O_NONBLOCK cleared again); anything else is KK_E_TYPE
 * with the path in err->file and its type in the message ("is a FIFO,
 * not a regular file"). On
 * success *fd is the caller's (close) and *st its fstat. */
struct stat;
kk_code kk_file_open_read(const char *path, int *fd, struct stat *st, kk_err *err);

/* "a FIFO", "a directory", "a character device", ... for messages. */
const char *kk_file_type_name(unsigned mode);

kk_code kk_file_read_all(const char *path, char **data, size_t *len, kk_err *err);

typedef struct kk_map {
    const uint8_t *data; /* read-only view; NULL for an empty file */
    size_t size;
    int fd;              /* -1 when closed */
} kk_map;

kk_code kk_map_open(kk_map *map, const char *path, kk_err *err);
void kk_map_close(kk_map *map);
/* Fault every page of the map in now (MADV_POPULATE_READ, else a read per
 * page): a model's loader does this so its first pass does not pay ~4 000
 * page faults per 256 MB inside the timed work (llama.cpp maps with
 * MAP_POPULATE for the same reason). Best effort: errors are ignored. */
void kk_map_prefault(const kk_map *map);

/* Writes path whole, by the protocol above (replacing a regular file).
 * @return KK_OK; KK_E_TYPE for a target of another type; KK_E_IO (the
 * message says what failed: a rename done before a folder fsync failed
 * says so). */
kk_code kk_file_write_atomic(const char *path, const void *data, size_t len,
                             kk_err *err);

/* Writes a NEW file: "<stem><ext>", or when that name is taken (by anything:
 * a file, a link, a device) "<stem>-2<ext>", "-3", ... up to
 * -KK_FILE_NEW_MAX. The temporary (in stem's resolved folder) is written
 * and fsynced once, then given the first free name exclusively
 * (renameat2 RENAME_NOREPLACE; link() + unlink where the file system lacks
 * it), and the folder is fsynced: two writers never share a name and
 * nothing is replaced. path receives the name taken (cap bytes), as stem
 * spells it. @return KK_OK, KK_E_LIMIT when every name is taken, KK_E_IO. */
#define KK_FILE_NEW_MAX 999
kk_code kk_file_write_new(const char *stem, const char *ext, const void *data, size_t len,
                          char *path, size_t cap, kk_err *err);

/* The temporary name this process's writers use for path when their pid is
 * `pid` (tests make the names of other writers with it). @return 1, or 0
 * when it does not fit in cap. */
int kk_file_tmp_name(const char *path, long pid, char *buf, size_t cap);

/* How old (mtime) a temporary of another host, another pid namespace or an
 * older naming must be before kk_file_clean_stale removes it: 24 hours. A
 * temporary lives from its creation to its rename, the time to write and
 * fsync one file (seconds for the largest model file); a day is far past
 * any live write, and past clock skew between the hosts of a shared folder. */
#define KK_FILE_STALE_AGE_S (24L * 3600L)

/* Removes stale temporaries from dir (not below it): those named for this
 * host and pid namespace whose process no longer exists (what a SIGKILL
 * leaves), and any temporary older than max_age_s seconds whoever wrote
 * it. A temporary of a writer not visible here (another host on a shared
 * folder, another pid namespace, an unnamed host) is left until then.
 * @return how many were removed. */
int kk_file_clean_stale(const char *dir, long max_age_s);

/* Create a directory and its parents (mode 0755); existing ones are fine. */
kk_code kk_mkdir_p(const char *path, kk_err *err);

/* The repository root: the folder above the running binary's bin/ (from
 * /proc/self/exe), else the git top level of the current folder. Writes into
 * buf (cap bytes); @return KK_OK or KK_E_MISSING. Never the current folder. */
kk_code kk_repo_root(char *buf, size_t cap, kk_err *err);

/* The fixtures folder: $KAKEYA_FIXTURES, else <repo root>/../shared/fixtures.
 * @return 1 when that folder exists, 0 when not (buf holds the path looked at). */
int kk_fixtures_dir(char *buf, size_t cap);

#endif /* KK_FILE_H */
