/* kk_args: see kk_args.h. */
#include "kk_args.h"

#include <ctype.h>

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

kk_code kk_arg_i64(const char *flag, const char *val, int64_t min, int64_t max,
                   int64_t *out, kk_err *err)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(val, &end, 10);
    if (val[0] == '\0' || *end != '\0' || errno == ERANGE) {
        kk_err_set(err, KK_E_FORMAT,
                   "%s: '%s' is not an integer (allowed: %lld..%lld)", flag,
                   val, (long long)min, (long long)max);
        return kk_err_where(err, flag);
    }
    if (v < min || v > max) {
        kk_err_set(err, KK_E_RANGE, "%s: %lld is out of range (allowed: %lld..%lld)",
                   flag, v, (long long)min, (long long)max);
        return kk_err_where(err, flag);
    }
    *out = v;
    return KK_OK;
}

kk_code kk_arg_f64(const char *flag, const char *val, double min, double max,
                   double *out, kk_err *err)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(val, &end);
    if (val[0] == '\0' || *end != '\0' || !isfinite(v)) {
        kk_err_set(err, KK_E_FORMAT, "%s: '%s' is not a finite number (allowed: %.15g..%.15g)",
                   flag, val, min, max);
        return kk_err_where(err, flag);
    }
    if (v < min || v > max) {
        kk_err_set(err, KK_E_RANGE, "%s: %.15g is out of range (allowed: %.15g..%.15g)",
                   flag, v, min, max);
        return kk_err_where(err, flag);
    }
    *out = v;
    return KK_OK;
}

kk_code kk_arg_ids(const char *flag, const char *val, int64_t max_id, const char *what,
                   int32_t **ids, size_t *n, kk_err *err)
{
    *ids = NULL;
    *n = 0;
    size_t cap = 1;
    for (const char *p = val; *p; p++)
        cap += (*p == ',');
    int32_t *out = malloc(cap * sizeof *out);
    if (!out)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    size_t k = 0;
    const char *p = val;
    for (;;) {
        const char *q = p;
        while (*q >= '0' && *q <= '9')
            q++;
        if (q == p || (q - p) > 10 || (*q != ',' && *q != '\0')) {
            size_t at = (size_t)(p - val);
            free(out);
            kk_err_set(err, KK_E_FORMAT,
                       "%s: expected comma-separated %ss (0..%lld) at "
                       "character %zu of '%s'",
                       flag, what, (long long)max_id, at + 1, val);
            return kk_err_where(err, flag);
        }
        long long v = strtoll(p, NULL, 10);
        if (v > max_id) {
            free(out);
            kk_err_set(err, KK_E_RANGE, "%s: %s %lld is out of range (allowed: 0..%lld)",
                       flag, what, v, (long long)max_id);
            return kk_err_where(err, flag);
        }
        out[k++] = (int32_t)v;
        if (*q == '\0')
            break;
        p = q + 1;
    }
    *ids = out;
    *n = k;
    return KK_OK;
}

const char *kk_arg_value(int argc, char **argv, int *i, kk_err *err)
{
    if (*i + 1 >= argc) {
        kk_err_set(err, KK_E_USAGE, "%s needs a value", argv[*i]);
        kk_err_where(err, argv[*i]);
        return NULL;
    }
    /* `--jobs --out D` is a --jobs without its value, not a --jobs of
     * "--out": a value that looks like a long flag is a missing value,
     * but for the prompt, whose text may start with anything. */
    const char *v = argv[*i + 1];
    const int text = !strcmp(argv[*i], "-p") || !strcmp(argv[*i], "--prompt");
    if (!text && v[0] == '-' && v[1] == '-' && isalpha((unsigned char)v[2])) {
        kk_err_set(err, KK_E_USAGE, "%s needs a value (found the flag %s)", argv[*i], v);
        kk_err_where(err, argv[*i]);
        return NULL;
    }
    *i += 1;
    return argv[*i];
}

int kk_ncores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    return 1;
}
