/*
 * Shared helpers for the cmocka tests. Include after <cmocka.h>'s
 * prerequisites (stdarg, stddef, setjmp, stdint).
 *
 * Fixtures are read where KAKEYA_FIXTURES points (the Makefile exports
 * ../shared/fixtures resolved from the repository root); a test that needs
 * them and does not find them skips with a message naming the path.
 */
#ifndef KK_TEST_UTIL_H
#define KK_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kk_file.h"

/* Path of a fixture file into buf; returns 1 if it exists. */
static inline int tu_fixture(char *buf, size_t cap, const char *rel)
{
    char dir[1024];
    kk_fixtures_dir(dir, sizeof dir);
    snprintf(buf, cap, "%s/%s", dir, rel);
    struct stat st;
    return stat(buf, &st) == 0;
}

/* The whole file as a NUL-terminated malloc'd string (free it); NULL when
 * it cannot be read. */
static inline char *tu_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        const long len = ftell(f);
        if (len >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1)) != NULL) {
            if (fread(buf, 1, (size_t)len, f) == (size_t)len) {
                buf[len] = 0;
            } else {
                free(buf);
                buf = NULL;
            }
        }
    }
    fclose(f);
    return buf;
}

/* Skip the current cmocka test when a fixture is absent. */
#define TU_REQUIRE_FIXTURE(buf, rel)                                          \
    do {                                                                      \
        if (!tu_fixture((buf), sizeof(buf), (rel))) {                         \
            fprintf(stderr, "SKIP: fixture %s not found "                     \
                            "(set KAKEYA_FIXTURES)\n", (buf));                \
            skip();                                                           \
        }                                                                     \
    } while (0)

#endif /* KK_TEST_UTIL_H */
