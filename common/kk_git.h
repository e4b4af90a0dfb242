/*
 * kk_git: the few questions the gate and the harness ask git, by fork/exec with an argv
 * (never a shell, so nothing in a file name or an evidence field is ever
 * interpreted). `git` is found on PATH. GIT_DIR, GIT_WORK_TREE and
 * GIT_INDEX_FILE are removed from the child's environment so `-C DIR`
 * decides the repository (a hook's GIT_DIR would otherwise win).
 *
 * Ownership: kk_git_blob_at_head returns a malloc'ed buffer (caller frees).
 */
#ifndef KK_GIT_H
#define KK_GIT_H

#include <stddef.h>

#include "kk_err.h"

/* 1 when dir is inside a git checkout (an ancestor holds .git), else 0.
 * Found without running git, so a missing git binary is an error later,
 * not a silent "not a checkout". */
int kk_git_in_checkout(const char *dir);

/* Runs `git -C dir ARGS...` (args NULL-terminated) with stdout captured (at
 * most max_out bytes; more is an error) and stderr discarded.
 * @return KK_OK with *status = the exit status (0..255), or KK_E_IO when git
 * cannot be run. */
kk_code kk_git_run(const char *dir, const char *const *args, char **out,
                     size_t *out_len, size_t max_out, int *status, kk_err *err);

/* The bytes of ./relpath (relative to dir) in the commit HEAD.
 * @return KK_OK; KK_E_MISSING when HEAD does not have it (not committed, or
 * no commit yet); KK_E_IO when git cannot run. */
kk_code kk_git_blob_at_head(const char *dir, const char *relpath, char **buf,
                              size_t *len, kk_err *err);

/* 1 when `commit` names a commit object in dir's repository
 * (`git cat-file -e COMMIT^{commit}`), 0 when not, -1 when git cannot run
 * (err says why). `commit` must be hex (the schema's pattern). */
int kk_git_commit_exists(const char *dir, const char *commit, kk_err *err);

#endif /* KK_GIT_H */
