/*
 * kk_file: whole-file reads, read-only maps, atomic writes, repository root.
 *
 * Ownership:
 *   kk_file_read_all   -> caller frees *data with free(); data is NUL-terminated
 *                         one byte past *len (the NUL is not counted).
 *   kk_map_open        -> caller releases with kk_map_close (accepts NULL/empty).
 *   kk_file_write_atomic writes to "PATH.tmp.<pid>" in the same folder, fsyncs,
 *                         then rename()s over PATH: readers never see half a file.
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

kk_code kk_file_write_atomic(const char *path, const void *data, size_t len,
                             kk_err *err);

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
