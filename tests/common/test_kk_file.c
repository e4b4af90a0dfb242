/* Tests of common/kk_file's whole-file writes: a failed fsync (the fsync
 * fault of kk_fault.h) is an error that leaves no descriptor open and no
 * temporary file behind, and the target is not created; what is at the
 * target decides the protocol (a regular file or nothing: temp + rename in
 * the resolved folder; a character device or FIFO: written through, never
 * replaced; a symlink keeps its link; anything else: refused, naming its
 * type). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/sysmacros.h>
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

/* A copy of /dev/null (character device 1,3) made in a temporary folder:
 * the real /dev/null is never touched. mknod of a character device needs
 * root (CI runs as root): elsewhere this skips, saying so. */
static void a_character_device_target_should_be_written_through_not_replaced(void **state)
{
    (void)state;
    char dir[] = "/tmp/kk_file_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char node[256];
    snprintf(node, sizeof node, "%s/null", dir);
    if (mknod(node, S_IFCHR | 0666, makedev(1, 3)) != 0) {
        fprintf(stderr, "SKIP: mknod of a character device in %s: %s (needs root)\n", dir,
                strerror(errno));
        rmdir(dir);
        skip();
    }
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(kk_file_write_atomic(node, "<xml/>\n", 7, &e), KK_OK);
    struct stat st;
    assert_int_equal(lstat(node, &st), 0);
    assert_true(S_ISCHR(st.st_mode)); /* still the device, not a regular file */
    assert_int_equal(dir_entries(dir), 1); /* no temporary left beside it */
    unlink(node);
    rmdir(dir);
}

/* A FIFO (what /dev/stdout is on a pipe) is written through: the reader
 * gets the bytes, the FIFO stays a FIFO. */
static void a_fifo_target_should_be_written_through_not_replaced(void **state)
{
    (void)state;
    char dir[] = "/tmp/kk_file_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s/pipe", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* our own reader, opened first so the writer's open does not block */
    const int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(kk_file_write_atomic(fifo, "hello\n", 6, &e), KK_OK);
    char buf[16] = "";
    assert_int_equal(read(rd, buf, sizeof buf), 6);
    assert_memory_equal(buf, "hello\n", 6);
    close(rd);
    struct stat st;
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(dir_entries(dir), 1);
    unlink(fifo);
    rmdir(dir);
}

/* A symlink to a regular file in another folder: the target gets the new
 * bytes (temporary in the target's folder), the link stays a link. */
static void a_symlink_target_should_write_the_file_it_names_and_stay_a_link(void **state)
{
    (void)state;
    char a[] = "/tmp/kk_file_test_XXXXXX", b[] = "/tmp/kk_file_test_XXXXXX";
    assert_non_null(mkdtemp(a));
    assert_non_null(mkdtemp(b));
    char real[256], link_[256];
    snprintf(real, sizeof real, "%s/real.md", b);
    snprintf(link_, sizeof link_, "%s/report.md", a);
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(kk_file_write_atomic(real, "old\n", 4, &e), KK_OK);
    assert_int_equal(symlink(real, link_), 0);
    assert_int_equal(kk_file_write_atomic(link_, "new\n", 4, &e), KK_OK);
    struct stat st;
    assert_int_equal(lstat(link_, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(kk_file_read_all(real, &data, &len, &e), KK_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(data, "new\n", 4);
    free(data);
    assert_int_equal(dir_entries(a), 1);
    assert_int_equal(dir_entries(b), 1);
    unlink(link_);
    unlink(real);
    rmdir(a);
    rmdir(b);
}

/* A folder at the target is refused with its type named (exit 2 where it
 * ends a command); nothing is created. */
static void a_directory_target_should_be_refused_naming_its_type(void **state)
{
    (void)state;
    char dir[] = "/tmp/kk_file_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[256];
    snprintf(sub, sizeof sub, "%s/out.md", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(kk_file_write_atomic(sub, "x", 1, &e), KK_E_TYPE);
    assert_non_null(strstr(e.msg, "a directory"));
    assert_string_equal(e.file, sub);
    assert_int_equal(dir_entries(dir), 1);
    rmdir(sub);
    rmdir(dir);
}

/* kk_file_write_new never replaces what holds its name, not even a link
 * to a missing file: the next -N name is taken, and path says which. */
static void a_new_file_should_take_the_next_free_name_and_replace_nothing(void **state)
{
    (void)state;
    char dir[] = "/tmp/kk_file_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char stem[256], first[300], second[300], path[320];
    snprintf(stem, sizeof stem, "%s/ev", dir);
    snprintf(first, sizeof first, "%s.json", stem);
    snprintf(second, sizeof second, "%s-2.json", stem);
    assert_int_equal(symlink("/nonexistent/target", first), 0);
    kk_err e;
    kk_err_clear(&e);
    assert_int_equal(kk_file_write_new(stem, ".json", "{}\n", 3, path, sizeof path, &e), KK_OK);
    assert_string_equal(path, second);
    struct stat st;
    assert_int_equal(lstat(first, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(kk_file_write_new(stem, ".json", "{}\n", 3, path, sizeof path, &e), KK_OK);
    snprintf(second, sizeof second, "%s-3.json", stem);
    assert_string_equal(path, second);
    assert_int_equal(dir_entries(dir), 3); /* no temporary left */
    unlink(first);
    unlink(path);
    snprintf(second, sizeof second, "%s-2.json", stem);
    unlink(second);
    rmdir(dir);
}

/* /dev/stdout on a socket (a service's log socket): open() refuses a
 * socket, so the writer uses the descriptor that already holds it. Run in
 * a child whose stdout is one end of a socketpair. */
static void dev_stdout_on_a_socket_should_be_written_through(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        if (dup2(sv[1], 1) < 0)
            _exit(3);
        _exit(kk_file_write_atomic("/dev/stdout", "sock\n", 5, NULL) == KK_OK ? 0 : 1);
    }
    close(sv[1]);
    int st = 0;
    assert_true(waitpid(pid, &st, 0) == pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    char buf[16] = "";
    assert_int_equal(read(sv[0], buf, sizeof buf), 5);
    assert_memory_equal(buf, "sock\n", 5);
    close(sv[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_failed_fsync_should_close_the_file_and_remove_the_temporary),
        cmocka_unit_test(a_character_device_target_should_be_written_through_not_replaced),
        cmocka_unit_test(a_fifo_target_should_be_written_through_not_replaced),
        cmocka_unit_test(a_symlink_target_should_write_the_file_it_names_and_stay_a_link),
        cmocka_unit_test(a_directory_target_should_be_refused_naming_its_type),
        cmocka_unit_test(a_new_file_should_take_the_next_free_name_and_replace_nothing),
        cmocka_unit_test(dev_stdout_on_a_socket_should_be_written_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
