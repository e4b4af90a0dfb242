/* cli_kernels: see cli_kernels.h. */
#include "cli_kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_env.h"
#include "kernels.h"
#include "kk_file.h"
#include "sha256.h"

static const char *g_source = "default";

const char *cli_kernels_source(void) { return g_source; }

/* "<model name>|<flags>" of the first CPU in /proc/cpuinfo ("unknown|"
 * where it cannot be read). */
static void cpu_desc(char *buf, size_t cap)
{
    char model[256] = "unknown", flags[4096] = "";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[8192];
        while (fgets(line, sizeof line, f)) {
            const char *c = strchr(line, ':');
            if (!c)
                continue;
            char *v = (char *)c + 1 + (c[1] == ' ');
            v[strcspn(v, "\n")] = '\0';
            if (!strncmp(line, "model name", 10) && !strcmp(model, "unknown"))
                snprintf(model, sizeof model, "%s", v);
            else if (!strncmp(line, "flags", 5) && !flags[0])
                snprintf(flags, sizeof flags, "%s", v);
            if (strcmp(model, "unknown") != 0 && flags[0])
                break;
        }
        fclose(f);
    }
    snprintf(buf, cap, "%s|%s", model, flags);
}

kk_code cli_kernels_cache_path(char *buf, size_t cap, char *desc, size_t dcap, kk_err *err)
{
    char dir[2048], d[4600], hex[65];
    KK_TRY(cli_env_cache_dir(dir, sizeof dir, err));
    cpu_desc(d, sizeof d);
    sha256_hex(d, strlen(d), hex);
    hex[16] = '\0';
    if (desc)
        snprintf(desc, dcap, "%s", d);
    const int n = snprintf(buf, cap, "%s/kernels/%s.txt", dir, hex);
    if (n < 0 || (size_t)n >= cap)
        return kk_err_set(err, KK_E_RANGE, "the kernel cache's path is too long");
    return KK_OK;
fail:
    return err && err->code ? err->code : KK_E_INTERNAL;
}

kk_code cli_kernels_apply(int *argc, char **argv, kk_err *err)
{
    kern_choice c;
    kern_defaults(&c);
    g_source = "default";
    char path[2200];
    char *data = NULL;
    size_t len = 0;
    if (cli_kernels_cache_path(path, sizeof path, NULL, 0, NULL) == KK_OK &&
        kk_file_read_all(path, &data, &len, NULL) == KK_OK) {
        data[strcspn(data, "\n")] = '\0';
        kern_choice t;
        if (kern_parse(data, &t, err) != KK_OK) {
            free(data);
            kk_err_file(err, path);
            return err ? err->code : KK_E_FORMAT;
        }
        c = t;
        g_source = "tune-cache";
    }
    free(data);
    const char *env = getenv(CLI_ENV_KERNELS);
    if (env && *env) {
        if (kern_parse(env, &c, err) != KK_OK)
            return kk_err_where(err, CLI_ENV_KERNELS);
        g_source = "env";
    }
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--kernels") != 0)
            continue;
        if (i + 1 >= *argc) {
            kk_err_set(err, KK_E_USAGE, "--kernels needs a value (default, or key=value,...: "
                       "docs/performance.md)");
            return kk_err_where(err, "--kernels");
        }
        if (kern_parse(argv[i + 1], &c, err) != KK_OK)
            return kk_err_where(err, "--kernels");
        g_source = "flag";
        for (int j = i; j + 2 <= *argc; j++)
            argv[j] = argv[j + 2];
        *argc -= 2;
        i--;
    }
    kern_set(&c);
    return KK_OK;
}
