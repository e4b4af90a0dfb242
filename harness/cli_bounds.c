/* cli_bounds: the shared numeric flags (cli_bounds.h). */
#include "cli_bounds.h"

#include <stdio.h>
#include <string.h>

#include "kk_args.h"
#include "run.h"
#include "threadpool.h"

static const cli_bound BOUNDS[] = {
    /* One compute pool per process (ops_set_threads): with --jobs N the
     * workers share it, they do not get T threads each. */
    {"--threads", 1, TP_MAX_THREADS, "compute threads of the process's one pool"},
    {"--jobs", 1, RUN_MAX_JOBS, "workers running tasks; metrics do not depend on it"},
};

const cli_bound *cli_bound_find(const char *flag)
{
    for (size_t i = 0; i < sizeof BOUNDS / sizeof BOUNDS[0]; i++)
        if (!strcmp(BOUNDS[i].flag, flag))
            return &BOUNDS[i];
    return NULL;
}

kk_code cli_bound_parse(const char *flag, const char *val, int64_t *out, kk_err *err)
{
    const cli_bound *b = cli_bound_find(flag);
    if (!b)
        return kk_err_set(err, KK_E_INTERNAL, "%s has no row in the bounds table", flag);
    return kk_arg_i64(flag, val, b->min, b->max, out, err);
}

const char *cli_bound_help(const char *flag, char *buf, size_t cap)
{
    const cli_bound *b = cli_bound_find(flag);
    if (!b)
        snprintf(buf, cap, "?");
    else
        snprintf(buf, cap, "%s (%lld..%lld)", b->what, (long long)b->min, (long long)b->max);
    return buf;
}
