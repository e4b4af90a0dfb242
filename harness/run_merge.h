/*
 * run_merge: join the evidence of `kakeya run --shard I/N` into one file.
 * Each shard is read with the strict reader (json.h), a member name twice
 * in one object refused (KK_E_DUPLICATE), and its merged fields checked:
 * schema_version is EV_SCHEMA_VERSION, preset.name a plain file stem (it
 * becomes a folder under --out), preset.sha256 and provenance.git_commit
 * hex, every arm named plainly, shard s of N holding the arms with index
 * % N == s-1 and no arm name twice (KK_E_RANGE / KK_E_DUPLICATE, exit 2,
 * naming the file and, in `where`, the field).
 * Refused (KK_E_RANGE, exit 2) when the shards differ in preset (name,
 * kind, sha256), parameters, seed, git commit or shard count, when a shard
 * is missing or given twice, or when a file is not sharded evidence.
 * The merged document has the arms in preset order (shard I holds arms
 * with index % N == I-1), the summary recomputed from them (ev_summary),
 * provenance from shard 1 with `jobs` the largest, started the earliest,
 * finished the latest, wall_s summed, and `merged_from` listing the files.
 *
 * Ownership: *out is the caller's (cJSON_Delete).
 */
#ifndef KK_RUN_MERGE_H
#define KK_RUN_MERGE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "kk_err.h"

kk_code run_merge(const char *const *files, size_t n, cJSON **out, kk_err *err);

/* The kakeya-gate beside the running program (/proc/self/exe's folder):
 * the harness does not link the gate, it runs it. */
kk_code run_merge_gate_path(char *buf, size_t cap, kk_err *err);

/* Writes doc to a temporary file ($TMPDIR or /tmp, removed after) and runs
 * `kakeya-gate validate --schema <repo>/gate/schemas/evidence.schema.json`
 * on it, the gate's report going to stderr. KK_E_MISSING naming the
 * expected path when there is no kakeya-gate beside this program,
 * KK_E_FORMAT when the gate rejects the file. */
kk_code run_merge_validate(const cJSON *doc, kk_err *err);

#endif /* KK_RUN_MERGE_H */
