/*
 * kk_args: checked parsing of command-line values. Every error names the
 * flag, the value found and what is allowed (KK_E_RANGE or KK_E_FORMAT,
 * which main() turns into exit 2, with err->where = the flag).
 * Unknown flags and missing arguments are the caller's KK_E_USAGE (exit 3).
 */
#ifndef KK_ARGS_H
#define KK_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"

/* Whole decimal integer in [min, max]. */
kk_code kk_arg_i64(const char *flag, const char *val, int64_t min, int64_t max,
                   int64_t *out, kk_err *err);
/* Finite float in [min, max]. */
kk_code kk_arg_f64(const char *flag, const char *val, double min, double max,
                   double *out, kk_err *err);
/* Comma-separated decimal ids, each in [0, max_id]; at least one. `what`
 * names one id in messages ("token id", "layer"). *ids is malloc'ed
 * (caller frees). */
kk_code kk_arg_ids(const char *flag, const char *val, int64_t max_id, const char *what,
                   int32_t **ids, size_t *n, kk_err *err);

/* The value of a flag that takes one: argv[*i + 1], advancing *i; NULL with
 * KK_E_USAGE set when it is missing. */
const char *kk_arg_value(int argc, char **argv, int *i, kk_err *err);

/* Cores available to this process (sched_getaffinity), at least 1. */
int kk_ncores(void);

#endif /* KK_ARGS_H */
