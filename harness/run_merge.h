/*
 * run_merge: join the evidence of `kakeya run --shard I/N` into one file.
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

#endif /* KK_RUN_MERGE_H */
