/*
 * cli_bounds: the one table of the numeric flags several commands share
 * (--threads, --jobs): their allowed range and what they mean. The parser
 * (cli_bound_parse) and every --help text (cli_bound_help) read the same
 * row, so the bound a user is told is the bound that is enforced, and the
 * engine's own limit (the compute pool's TP_MAX_THREADS) is where the
 * --threads row comes from.
 *
 * Static data; nothing to free.
 */
#ifndef KK_CLI_BOUNDS_H
#define KK_CLI_BOUNDS_H

#include <stddef.h>
#include <stdint.h>

#include "kk_err.h"

typedef struct cli_bound {
    const char *flag;  /* "--threads" */
    int64_t min, max;
    const char *what;  /* one line for --help */
} cli_bound;

/* The row of flag; NULL when the table has none. */
const cli_bound *cli_bound_find(const char *flag);

/* Parse val as an integer of flag's row (KK_E_RANGE / KK_E_TYPE naming
 * the flag, the value and the range otherwise). */
kk_code cli_bound_parse(const char *flag, const char *val, int64_t *out, kk_err *err);

/* "compute threads of the process (1..64)" into buf, for --help. */
const char *cli_bound_help(const char *flag, char *buf, size_t cap);

#endif /* KK_CLI_BOUNDS_H */
