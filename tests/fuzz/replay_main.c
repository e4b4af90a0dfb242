/*
 * Replays fuzz corpora through a libFuzzer entry point without libFuzzer, so
 * `make test` (and `make check` under ASan+UBSan) re-runs every saved input
 * and every crasher ever found. Usage: replay DIR_OR_FILE...
 * Missing arguments are skipped with a message (fixture seeds may be absent).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kk_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    if (kk_file_read_all(path, &buf, &len, NULL) != KK_OK) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return 1;
    }
    /* An exact-size copy so ASan sees reads past the end. */
    uint8_t *exact = malloc(len ? len : 1);
    if (len)
        memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

int main(int argc, char **argv)
{
    int n = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: SKIP %s (absent)\n", argv[i]);
            continue;
        }
        if (S_ISREG(st.st_mode)) {
            bad += run_file(argv[i]);
            n++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
            if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
                bad += run_file(p);
                n++;
            }
        }
        closedir(d);
    }
    printf("replay: %d inputs, %d unreadable\n", n, bad);
    return bad ? 1 : 0;
}
