/*
 * kk_err: errors as values with a location.
 *
 * Every library function that can fail takes a `kk_err *err` (may be NULL
 * when the caller does not care about the message) and returns a kk_code
 * (KK_OK == 0) or NULL/-1 with `err` filled. Library code never exits,
 * aborts or prints: only a program's main() turns a kk_code into an exit
 * code (kk_exit_code) and prints the error (kk_err_print).
 *
 * Location fields are independent, so tests can assert on them and the gate
 * can report them without parsing text:
 *   file    the file the problem is in ("" when not a file)
 *   offset  byte offset into that file, -1 when unknown
 *   line/col 1-based; 0 when unknown (libyaml marks are 0-based: add 1)
 *   where   the key, tensor name, flag or JSON pointer concerned ("" if none)
 *
 * Ownership: kk_err is a plain value type with fixed buffers; nothing to free.
 */
#ifndef KK_ERR_H
#define KK_ERR_H

#include <stdint.h>
#include <stdio.h>

typedef enum kk_code {
    KK_OK = 0,
    KK_E_FORMAT,      /* malformed bytes: bad magic, truncation, bad syntax */
    KK_E_RANGE,       /* a value outside what is allowed */
    KK_E_TYPE,        /* a value of the wrong type */
    KK_E_MISSING,     /* a required key, field, tensor or file is absent */
    KK_E_DUPLICATE,   /* a key or name that must be unique appears twice */
    KK_E_UNSUPPORTED, /* valid but not implemented (unknown arch, tensor type) */
    KK_E_LIMIT,       /* a size, depth or work limit was exceeded */
    KK_E_IO,          /* open/read/write/mmap failed */
    KK_E_NOMEM,       /* allocation failed */
    KK_E_USAGE,       /* command line: unknown flag, missing argument */
    KK_E_CHECK,       /* the checked thing failed (gate threshold, invalid instance) */
    KK_E_INTERNAL     /* a bug of ours */
} kk_code;

/* Process exit codes: one table for every program (docs/cli.md). */
typedef enum kk_exit {
    KK_EXIT_OK = 0,     /* ok */
    KK_EXIT_FAIL = 1,   /* the checked or measured thing failed */
    KK_EXIT_INPUT = 2,  /* bad input: malformed file, bad value, I/O error */
    KK_EXIT_USAGE = 3   /* unknown subcommand or flag, missing argument */
} kk_exit;

#define KK_ERR_MSG_MAX 512
#define KK_ERR_FILE_MAX 256
#define KK_ERR_WHERE_MAX 256

typedef struct kk_err {
    kk_code code;
    char msg[KK_ERR_MSG_MAX];
    char file[KK_ERR_FILE_MAX];
    int64_t offset;            /* -1: unknown */
    int line, col;             /* 1-based; 0: unknown */
    char where[KK_ERR_WHERE_MAX];
} kk_err;

/* Reset to "no error" (code KK_OK, empty strings, offset -1). */
void kk_err_clear(kk_err *err);

/* Set code and printf-style message; location fields are left as they are.
 * Accepts err == NULL. @return code (so `return kk_err_set(...)` works). */
kk_code kk_err_set(kk_err *err, kk_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Location setters; accept err == NULL; return err->code (or KK_OK if NULL). */
kk_code kk_err_file(kk_err *err, const char *file);
kk_code kk_err_offset(kk_err *err, int64_t offset);
kk_code kk_err_linecol(kk_err *err, int line, int col);
kk_code kk_err_where(kk_err *err, const char *where);

/* Rename a parameter: a library names its parameters (a struct field such
 * as `n_layers`), a program names its own flag or key (`--layers`). Sets
 * where to `to` when it equals `from`, and replaces every whole-word
 * occurrence of `from` in msg (not inside a longer name: letters, digits
 * and '_' bound a word), truncating at KK_ERR_MSG_MAX. Accepts err == NULL.
 * @return 1 when anything changed, else 0. */
int kk_err_rename(kk_err *err, const char *from, const char *to);

/* Stable name of a code ("format", "range", ...). */
const char *kk_code_name(kk_code code);

/* The exit code a program returns for an error of this kind. */
kk_exit kk_exit_code(kk_code code);

/* One line: "FILE:LINE:COL: [at WHERE] [offset 0xN] MSG" (parts omitted when
 * unknown), prefixed by `prog: ` when prog is not NULL. */
void kk_err_print(FILE *out, const char *prog, const kk_err *err);

/* Check-and-jump helpers: clean up at one label.
 *   KK_CHECK(cond, err, code, fmt, ...)  sets err and jumps to `fail` if !cond
 *   KK_TRY(expr)                         jumps to `fail` if expr != KK_OK   */
#define KK_CHECK(cond, err, code, ...)                                        \
    do {                                                                      \
        if (!(cond)) {                                                        \
            kk_err_set((err), (code), __VA_ARGS__);                           \
            goto fail;                                                        \
        }                                                                     \
    } while (0)
#define KK_TRY(expr)                                                          \
    do {                                                                      \
        if ((expr) != KK_OK)                                                  \
            goto fail;                                                        \
    } while (0)

#endif /* KK_ERR_H */
