/* Tests of engine/threadpool: every task runs once, on a valid thread
 * index, whatever the pool size; concurrent callers stay correct. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "threadpool.h"

#define MAX_TASKS 5000

typedef struct counts {
    _Atomic int ran[MAX_TASKS];
    _Atomic int bad_thread;
    int n_threads;
} counts;

static void count_task(void *ctx, int64_t task, int thread)
{
    counts *c = ctx;
    atomic_fetch_add(&c->ran[task], 1);
    if (thread < 0 || thread >= c->n_threads)
        atomic_fetch_add(&c->bad_thread, 1);
}

static void every_task_should_run_exactly_once_on_a_valid_thread(void **state)
{
    (void)state;
    const int threads[] = {1, 2, 4};
    const int64_t tasks[] = {0, 1, 2, 7, 1000, MAX_TASKS};
    for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++) {
        tp_pool *p = NULL;
        assert_int_equal(tp_init(&p, threads[i], NULL), KK_OK);
        assert_int_equal(tp_n_threads(p), threads[i]);
        for (size_t j = 0; j < sizeof tasks / sizeof tasks[0]; j++)
            for (int rep = 0; rep < 3; rep++) { /* reuse: generations advance */
                counts *c = calloc(1, sizeof *c);
                assert_non_null(c);
                c->n_threads = threads[i];
                tp_run(p, count_task, c, tasks[j]);
                for (int64_t t = 0; t < MAX_TASKS; t++)
                    assert_int_equal(atomic_load(&c->ran[t]), t < tasks[j] ? 1 : 0);
                assert_int_equal(atomic_load(&c->bad_thread), 0);
                free(c);
            }
        tp_free(p);
    }
}

static void a_null_pool_should_run_the_tasks_inline(void **state)
{
    (void)state;
    counts *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->n_threads = 1;
    tp_run(NULL, count_task, c, 10);
    for (int t = 0; t < 10; t++)
        assert_int_equal(atomic_load(&c->ran[t]), 1);
    free(c);
    tp_free(NULL);
}

typedef struct caller {
    tp_pool *p;
    counts *c;
} caller;

static void *call_many(void *v)
{
    caller *k = v;
    for (int i = 0; i < 200; i++)
        tp_run(k->p, count_task, k->c, 25);
    return NULL;
}

/* Two threads share one pool: whoever finds it busy runs alone, so both
 * finish with every task run 200 times. */
static void concurrent_callers_should_each_see_all_their_tasks_run(void **state)
{
    (void)state;
    tp_pool *p = NULL;
    assert_int_equal(tp_init(&p, 2, NULL), KK_OK);
    counts *c1 = calloc(1, sizeof *c1), *c2 = calloc(1, sizeof *c2);
    assert_non_null(c1);
    assert_non_null(c2);
    c1->n_threads = c2->n_threads = 2;
    caller k1 = {p, c1}, k2 = {p, c2};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, call_many, &k1), 0);
    call_many(&k2);
    pthread_join(th, NULL);
    for (int t = 0; t < 25; t++) {
        assert_int_equal(atomic_load(&c1->ran[t]), 200);
        assert_int_equal(atomic_load(&c2->ran[t]), 200);
    }
    free(c1);
    free(c2);
    tp_free(p);
}

static void a_thread_count_out_of_range_should_be_refused(void **state)
{
    (void)state;
    tp_pool *p = (tp_pool *)1;
    kk_err e;
    assert_int_equal(tp_init(&p, 0, &e), KK_E_RANGE);
    assert_null(p);
    assert_int_equal(tp_init(&p, TP_MAX_THREADS + 1, &e), KK_E_RANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_task_should_run_exactly_once_on_a_valid_thread),
        cmocka_unit_test(a_null_pool_should_run_the_tasks_inline),
        cmocka_unit_test(concurrent_callers_should_each_see_all_their_tasks_run),
        cmocka_unit_test(a_thread_count_out_of_range_should_be_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
