/* tp: see threadpool.h. */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TP_RELAX() _mm_pause()
#else
#define TP_RELAX() ((void)0)
#endif

/* Spins before a worker sleeps: about 0.5 ms of `pause` on a 3 GHz core,
 * longer than the elementwise work between two products of a decode step
 * (measured 20-80 us at d 768), so a worker is awake when the next product
 * comes, and short enough that an idle process gives its core back. */
#define TP_SPIN_ITERS 20000
/* Spins of the caller waiting for the workers before it yields its core (a
 * worker preempted by another process then gets to run). */
#define TP_WAIT_SPINS 4096

struct tp_pool {
    int n_threads;
    pthread_t th[TP_MAX_THREADS];
    int n_started;
    /* the current job, written before `gen` is bumped (release) */
    tp_fn fn;
    void *ctx;
    int64_t n_tasks;
    _Atomic int64_t next;
    _Atomic int n_done;   /* workers finished with the current job */
    _Atomic unsigned gen; /* bumped once per job */
    _Atomic bool stop;
    atomic_flag busy;     /* held by the thread inside tp_run */
    pthread_mutex_t mu;   /* guards sleeping */
    pthread_cond_t cv;
    int n_sleeping;
};

typedef struct tp_worker_arg {
    tp_pool *p;
    int thread;
} tp_worker_arg;

static void tp_work(tp_pool *p, int thread)
{
    for (;;) {
        const int64_t t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->n_tasks)
            return;
        p->fn(p->ctx, t, thread);
    }
}

static void *tp_worker(void *arg)
{
    tp_pool *p = ((tp_worker_arg *)arg)->p;
    const int thread = ((tp_worker_arg *)arg)->thread;
    free(arg);
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen) {
            if (atomic_load_explicit(&p->stop, memory_order_relaxed))
                return NULL;
            if (++spins < TP_SPIN_ITERS) {
                TP_RELAX();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            p->n_sleeping++;
            while (atomic_load_explicit(&p->gen, memory_order_acquire) == seen &&
                   !atomic_load_explicit(&p->stop, memory_order_relaxed))
                pthread_cond_wait(&p->cv, &p->mu);
            p->n_sleeping--;
            pthread_mutex_unlock(&p->mu);
            spins = 0;
        }
        seen = g;
        tp_work(p, thread);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_release);
    }
}

kk_code tp_init(tp_pool **out, int n_threads, kk_err *err)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > TP_MAX_THREADS)
        return kk_err_set(err, KK_E_RANGE, "threads: %d is out of range (allowed: 1..%d)",
                          n_threads, TP_MAX_THREADS);
    tp_pool *p = calloc(1, sizeof *p);
    if (!p)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    p->n_threads = n_threads;
    atomic_init(&p->next, 0);
    atomic_init(&p->n_done, 0);
    atomic_init(&p->gen, 0);
    atomic_init(&p->stop, false);
    atomic_flag_clear(&p->busy);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 1; i < n_threads; i++) {
        tp_worker_arg *a = malloc(sizeof *a);
        if (!a) {
            tp_free(p);
            return kk_err_set(err, KK_E_NOMEM, "out of memory");
        }
        a->p = p;
        a->thread = i;
        if (pthread_create(&p->th[i], NULL, tp_worker, a) != 0) {
            free(a);
            tp_free(p);
            return kk_err_set(err, KK_E_INTERNAL, "threads: cannot start worker %d", i);
        }
        p->n_started = i;
    }
    *out = p;
    return KK_OK;
}

void tp_free(tp_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->stop, true, memory_order_relaxed);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i <= p->n_started; i++)
        pthread_join(p->th[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int tp_n_threads(const tp_pool *p) { return p ? p->n_threads : 1; }

void tp_run(tp_pool *p, tp_fn fn, void *ctx, int64_t n_tasks)
{
    if (n_tasks <= 0)
        return;
    if (!p || p->n_threads == 1 || n_tasks == 1 ||
        atomic_flag_test_and_set_explicit(&p->busy, memory_order_acquire)) {
        for (int64_t t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    /* Under the mutex, so a worker about to sleep either sees the new
     * generation or is already waiting when the broadcast comes. */
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    if (p->n_sleeping > 0)
        pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    tp_work(p, 0);
    int spins = 0;
    while (atomic_load_explicit(&p->n_done, memory_order_acquire) < p->n_threads - 1) {
        if (++spins < TP_WAIT_SPINS) {
            TP_RELAX();
        } else {
            sched_yield();
            spins = 0;
        }
    }
    atomic_flag_clear_explicit(&p->busy, memory_order_release);
}
