/* cli_env: see cli_env.h. */
#include "cli_env.h"

#include <stdio.h>
#include <stdlib.h>

#include "matmul.h"

kk_code cli_env_apply_matmul_isa(kk_err *err)
{
    const char *v = getenv(CLI_ENV_MATMUL_ISA);
    if (!v || !*v)
        return KK_OK;
    matmul_isa isa;
    if (matmul_isa_parse(v, &isa, NULL) != KK_OK) {
        kk_err_set(err, KK_E_RANGE, "found \"%.100s\" in %s; allowed: %s (or unset)", v,
                   CLI_ENV_MATMUL_ISA, MATMUL_ISA_NAMES);
        return kk_err_where(err, CLI_ENV_MATMUL_ISA);
    }
    matmul_set_isa(isa);
    return KK_OK;
}

kk_code cli_env_cache_dir(char *buf, size_t cap, kk_err *err)
{
    const char *cache = getenv(CLI_ENV_CACHE);
    const char *home = getenv("HOME");
    int n;
    if (cache && *cache)
        n = snprintf(buf, cap, "%s", cache);
    else if (home && *home)
        n = snprintf(buf, cap, "%s/.cache/kakeya", home);
    else
        return kk_err_set(err, KK_E_MISSING, "neither %s nor HOME is set: no cache folder",
                          CLI_ENV_CACHE);
    if (n < 0 || (size_t)n >= cap)
        return kk_err_set(err, KK_E_RANGE, "the cache folder's path is too long");
    return KK_OK;
}
