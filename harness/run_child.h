/*
 * run_child: what the timing kinds (engine_bench, spec_decode) need to
 * measure in fresh processes: a fork()ed child writes one reply line on a
 * pipe, the parent reads it and reaps the child with its peak RSS.
 *
 * Ownership: no state; buffers are the caller's.
 */
#ifndef KK_RUN_CHILD_H
#define KK_RUN_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kk_err.h"

/* Write all of s to fd (gives up silently on a closed pipe: the parent
 * reports the child's exit). */
void run_child_write_all(int fd, const char *s);

/* VmRSS of this process in bytes (0 when unreadable), read with plain
 * open/read: the child of a multithreaded parent avoids stdio's locks. */
uint64_t run_child_vm_rss(void);

/* Everything the child wrote on fd until EOF (at most cap - 1 bytes
 * kept), cut at the first newline. */
void run_child_read_reply(int fd, char *buf, size_t cap);

/* In a child: default SIGINT/SIGTERM (the harness's handlers only set a
 * flag) and nothing blocked, so Ctrl-C stops the measurement too. */
void run_child_signals(void);

/* Wait for pid: its status and peak RSS in bytes (wait4's ru_maxrss).
 * @return KK_OK or KK_E_IO. */
kk_code run_child_reap(pid_t pid, int *status, uint64_t *peak_rss);

/* One measurement in a fresh process: fork; the child (default signals,
 * the pipe's write end as fd) runs child(fd, ctx), which writes its reply
 * and never returns (_exit 127 if it does); the parent reads the reply
 * line into reply (cap bytes) and reaps the child: its wait status and
 * peak RSS. stdio is flushed before the fork. @return KK_OK, or KK_E_IO
 * naming the pipe, fork or wait that failed. */
kk_code run_child_measure(void (*child)(int fd, void *ctx), void *ctx, char *reply, size_t cap,
                          int *status, uint64_t *peak_rss, kk_err *err);

/* "exit N" or "killed by signal N" for a wait status, into buf. */
void run_child_status_text(int status, char *buf, size_t cap);

#endif /* KK_RUN_CHILD_H */
