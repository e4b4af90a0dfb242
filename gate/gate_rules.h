/*
 * gate_rules: the evidence rules, each with a stable code and a one-line
 * reason (docs/gate.md, "Evidence rules"). Rules plug in here: one table entry and one function.
 *
 * Two phases:
 *   GATE_RULE_RAW       runs on the parsed JSON before schema validation; a
 *                       failure ends the file's judgement (LEGACY_SCHEMA:
 *                       an older file is judged by this rule alone).
 *   GATE_RULE_EVIDENCE  runs after schema validation with the preset loaded;
 *                       a preset may relax it (`relax: [{rule, reason}]`), in
 *                       which case its failures are reported as relaxed, with
 *                       the reason, and do not fail the gate.
 * A rule whose `check` is NULL is known (a preset may name it in `relax`)
 * but reports nothing (none is, today).
 *
 * Every evidence rule is on by default and reports one PASS when it found
 * nothing, else one FAIL (severity 1) per violation: the code as id, the
 * JSON pointer of the offending value, the numbers as expected/actual, and
 * "<reason>; <the arm and claim concerned>" as note. What each rule reads
 * (arm config fields, signals, claims) is specified in docs/gate.md.
 *
 * Rules report through gate_report_add (gate_report.h); they never print.
 */
#ifndef KK_GATE_RULES_H
#define KK_GATE_RULES_H

#include <stddef.h>

#include "json.h"

/* The evidence schema_version this gate reads (evidence.schema.json). */
#define GATE_SCHEMA_VERSION 1

struct gate_report;
struct kk_preset;

typedef enum gate_rule_phase {
    GATE_RULE_RAW = 0,
    GATE_RULE_EVIDENCE
} gate_rule_phase;

/* What a rule sees. All borrowed for the duration of the call. */
typedef struct gate_rule_ctx {
    const char *file;                /* evidence path as given */
    const json_value *root;          /* the evidence document */
    const struct kk_preset *preset; /* NULL in the RAW phase */
    int relaxed;                     /* 1: report failures as relaxed */
    const char *relax_reason;        /* the preset's reason when relaxed */
    int allow_dirty;                 /* kakeya-gate --allow-dirty: DIRTY_TREE
                                        reports a note instead of a FAIL */
} gate_rule_ctx;

typedef struct gate_rule {
    const char *code;      /* stable: "LEGACY_SCHEMA" */
    const char *reason;    /* one line, printed with each violation */
    gate_rule_phase phase;
    int relaxable;         /* 0: a preset naming it in relax is malformed */
    /* @return 1 when the file may go on to later checks, 0 when this rule
     * ends its judgement (RAW rules only). */
    int (*check)(const gate_rule_ctx *ctx, struct gate_report *rep);
} gate_rule;

size_t gate_rules_count(void);
const gate_rule *gate_rules_at(size_t i);
/* NULL when no rule has this code. */
const gate_rule *gate_rules_find(const char *code);

#endif /* KK_GATE_RULES_H */
