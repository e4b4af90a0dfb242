/* kk_err: see kk_err.h. */
#include "kk_err.h"

#include <stdarg.h>
#include <string.h>

void kk_err_clear(kk_err *err)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->offset = -1;
}

kk_code kk_err_set(kk_err *err, kk_code code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

static void copy_field(char *dst, size_t cap, const char *src)
{
    if (!src)
        src = "";
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

kk_code kk_err_file(kk_err *err, const char *file)
{
    if (!err)
        return KK_OK;
    copy_field(err->file, sizeof err->file, file);
    return err->code;
}

kk_code kk_err_offset(kk_err *err, int64_t offset)
{
    if (!err)
        return KK_OK;
    err->offset = offset;
    return err->code;
}

kk_code kk_err_linecol(kk_err *err, int line, int col)
{
    if (!err)
        return KK_OK;
    err->line = line;
    err->col = col;
    return err->code;
}

kk_code kk_err_where(kk_err *err, const char *where)
{
    if (!err)
        return KK_OK;
    copy_field(err->where, sizeof err->where, where);
    return err->code;
}

static int is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

int kk_err_rename(kk_err *err, const char *from, const char *to)
{
    if (!err || !from || !*from || !to)
        return 0;
    int changed = 0;
    if (!strcmp(err->where, from)) {
        copy_field(err->where, sizeof err->where, to);
        changed = 1;
    }
    const size_t fl = strlen(from), tl = strlen(to);
    char out[KK_ERR_MSG_MAX];
    size_t o = 0;
    for (const char *p = err->msg; *p && o + 1 < sizeof out;) {
        const int word = !strncmp(p, from, fl) && (p == err->msg || !is_word_char(p[-1])) &&
                         !is_word_char(p[fl]);
        if (word) {
            const size_t n = tl < sizeof out - 1 - o ? tl : sizeof out - 1 - o;
            memcpy(out + o, to, n);
            o += n;
            p += fl;
            changed = 1;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    memcpy(err->msg, out, o + 1);
    return changed;
}

const char *kk_code_name(kk_code code)
{
    switch (code) {
    case KK_OK: return "ok";
    case KK_E_FORMAT: return "format";
    case KK_E_RANGE: return "range";
    case KK_E_TYPE: return "type";
    case KK_E_MISSING: return "missing";
    case KK_E_DUPLICATE: return "duplicate";
    case KK_E_UNSUPPORTED: return "unsupported";
    case KK_E_LIMIT: return "limit";
    case KK_E_IO: return "io";
    case KK_E_NOMEM: return "nomem";
    case KK_E_USAGE: return "usage";
    case KK_E_CHECK: return "check";
    case KK_E_INTERNAL: return "internal";
    }
    return "unknown";
}

kk_exit kk_exit_code(kk_code code)
{
    switch (code) {
    case KK_OK: return KK_EXIT_OK;
    case KK_E_CHECK: return KK_EXIT_FAIL;
    case KK_E_USAGE: return KK_EXIT_USAGE;
    default: return KK_EXIT_INPUT;
    }
}

void kk_err_print(FILE *out, const char *prog, const kk_err *err)
{
    if (!err)
        return;
    if (prog)
        fprintf(out, "%s: ", prog);
    if (err->file[0]) {
        fprintf(out, "%s", err->file);
        if (err->line > 0)
            fprintf(out, ":%d:%d", err->line, err->col > 0 ? err->col : 1);
        fputs(": ", out);
    }
    if (err->where[0])
        fprintf(out, "at %s: ", err->where);
    if (err->offset >= 0 && err->line <= 0)
        fprintf(out, "offset %lld (0x%llx): ", (long long)err->offset,
                (unsigned long long)err->offset);
    fprintf(out, "%s\n", err->msg[0] ? err->msg : kk_code_name(err->code));
}
