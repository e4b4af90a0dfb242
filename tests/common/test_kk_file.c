/* Tests of common/kk_file's atomic write: a failed fsync (the fsync fault of
 * kk_fault.h) is an error that leaves no descriptor open and no temporary
 * file behind, and the target is not created. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kk_fault.h"
#include "kk_file.h"

/* Entries of /proc/self/fd (the listing's own descriptor included, the
 * same in every count). */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Files in dir (not . and ..). */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void a_failed_fsync_should_close_the_file_and_remove_the_temporary(void **state)
{
    (void)state;
    if (open_fds() < 0)
        skip();
    char dir[] = "/tmp/kk_file_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/out.json", dir);
    const int before = open_fds();
    setenv(KK_FAULT_ENV, KK_FAULT_FSYNC, 1);
    kk_err e;
    kk_err_clear(&e);
    const kk_code rc = kk_file_write_atomic(path, "{}\n", 3, &e);
    unsetenv(KK_FAULT_ENV);
    const int after = open_fds();
    assert_int_equal(rc, KK_E_IO);
    assert_non_null(strstr(e.msg, "fsync"));
    assert_string_equal(e.file, path);
    assert_int_equal(after, before);
    assert_int_equal(dir_entries(dir), 0); /* no temporary, no target */
    /* Without the fault the same write succeeds. */
    assert_int_equal(kk_file_write_atomic(path, "{}\n", 3, &e), KK_OK);
    assert_int_equal(open_fds(), before);
    assert_int_equal(dir_entries(dir), 1);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_failed_fsync_should_close_the_file_and_remove_the_temporary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
