/* ev_binary_stale: evidence from a binary older than its sources must not
 * claim the checkout's commit (harness/evidence.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "evidence.h"

static void touch_at(const char *path, time_t t)
{
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fclose(f);
    const struct timeval tv[2] = {{t, 0}, {t, 0}};
    assert_int_equal(utimes(path, tv), 0);
}

static void a_binary_older_than_a_source_should_be_stale_and_a_newer_one_not(void **state)
{
    (void)state;
    char root[] = "/tmp/kk_stale_XXXXXX";
    assert_non_null(mkdtemp(root));
    char dir[256], src[256], hdr[256], txt[256], exe[256];
    snprintf(dir, sizeof dir, "%s/engine", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(src, sizeof src, "%s/engine/a.c", root);
    snprintf(hdr, sizeof hdr, "%s/engine/a.h", root);
    snprintf(txt, sizeof txt, "%s/engine/notes.md", root);
    snprintf(exe, sizeof exe, "%s/kakeya", root);
    touch_at(src, 1000000);
    touch_at(hdr, 1000000);
    touch_at(exe, 2000000);
    assert_int_equal(ev_binary_stale(root, exe), 0); /* built after the sources */
    touch_at(txt, 3000000);
    assert_int_equal(ev_binary_stale(root, exe), 0); /* not a C source */
    touch_at(hdr, 3000000);
    assert_int_equal(ev_binary_stale(root, exe), 1); /* a header edited since */
    touch_at(exe, 4000000);
    assert_int_equal(ev_binary_stale(root, exe), 0);
    /* every folder kakeya links counts (bench/lib, compare); the gate's
     * sources are another program's */
    char sub[256], f[300];
    const char *const linked[] = {"compare", "bench", "bench/lib", "gate"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(sub, sizeof sub, "%s/%s", root, linked[i]);
        assert_int_equal(mkdir(sub, 0755), 0);
    }
    snprintf(f, sizeof f, "%s/gate/g.c", root);
    touch_at(f, 5000000);
    assert_int_equal(ev_binary_stale(root, exe), 0);
    unlink(f);
    snprintf(f, sizeof f, "%s/bench/lib/b.h", root);
    touch_at(f, 5000000);
    assert_int_equal(ev_binary_stale(root, exe), 1);
    unlink(f);
    snprintf(f, sizeof f, "%s/compare/c.c", root);
    touch_at(f, 5000000);
    assert_int_equal(ev_binary_stale(root, exe), 1);
    unlink(f);
    for (size_t i = 4; i-- > 0;) {
        snprintf(sub, sizeof sub, "%s/%s", root, linked[i]);
        rmdir(sub);
    }
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope", root);
    assert_int_equal(ev_binary_stale(root, missing), 0); /* unreadable: not claimed */
    unlink(src);
    unlink(hdr);
    unlink(txt);
    unlink(exe);
    rmdir(dir);
    rmdir(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_binary_older_than_a_source_should_be_stale_and_a_newer_one_not),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
