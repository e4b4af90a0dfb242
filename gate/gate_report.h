/*
 * gate_report: the list of checks the gate made, and every format it is
 * rendered in (human lines, JUnit XML, a JSON summary, Markdown). One list
 * feeds all four, so they cannot disagree.
 *
 * A check has a status:
 *   PASS     the check held;
 *   FAIL     it did not: `severity` is the exit code it asks for
 *            (1 a threshold, control or rule; 2 malformed input);
 *   RELAXED  a rule failed but the preset relaxes it (counted as passed,
 *            printed with the preset's reason);
 *   SKIP     not applicable here (printed as a NOTE line, e.g. the commit
 *            check outside a git checkout, staleness under --allow-stale).
 *
 * Ownership: gate_report_add copies every string; gate_report_free frees
 * them (accepts NULL). Renderers borrow the report.
 */
#ifndef KK_GATE_REPORT_H
#define KK_GATE_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "kk_err.h"

typedef enum gate_status {
    GATE_PASS = 0,
    GATE_FAIL,
    GATE_RELAXED,
    GATE_SKIP
} gate_status;

typedef struct gate_check {
    char *file;      /* evidence file (or preset file) concerned */
    char *id;        /* "THRESHOLD[0]", "CONTROL_NEGATIVE", "LEGACY_SCHEMA" */
    char *pointer;   /* JSON pointer into the evidence ("" is the root) */
    char *expected;  /* what had to hold ("" when not applicable) */
    char *actual;    /* what was found */
    char *note;      /* rule reason, relax reason, skip reason ("" if none) */
    gate_status status;
    int severity;    /* exit code of a FAIL: 1 or 2 */
} gate_check;

typedef struct gate_report {
    gate_check *checks;
    size_t n, cap;
    int nomem;       /* an add failed: the report is incomplete (exit 2) */
} gate_report;

void gate_report_init(gate_report *rep);
void gate_report_free(gate_report *rep);

/* Appends a check; NULL strings are stored as "". */
void gate_report_add(gate_report *rep, const char *file, gate_status status,
                     int severity, const char *id, const char *pointer,
                     const char *expected, const char *actual,
                     const char *note);

/* Counts (RELAXED counts as passed; SKIP as neither). */
size_t gate_report_passed(const gate_report *rep);
size_t gate_report_failed(const gate_report *rep);

/* 0 all pass, else the highest severity among FAIL checks (2 beats 1). */
int gate_report_exit(const gate_report *rep);

/* "PASS|FAIL <file> <id> <pointer>: expected E, actual A[ (note)]", NOTE
 * lines for SKIP, and the closing "N passed, N failed". */
void gate_report_print_human(FILE *out, const gate_report *rep);

/* {"passed":N,"failed":N,"exit":X,"checks":[{...}]} on one line. */
void gate_report_print_json(FILE *out, const gate_report *rep);

/* JUnit XML (one testsuite per file, one testcase per check) and Markdown,
 * written atomically (kk_file_write_atomic). */
kk_code gate_report_write_junit(const gate_report *rep, const char *path,
                                kk_err *err);
kk_code gate_report_write_md(const gate_report *rep, const char *path,
                             kk_err *err);

/* Renderers into a stream (used by the writers above and by tests). */
void gate_report_render_junit(FILE *out, const gate_report *rep);
void gate_report_render_md(FILE *out, const gate_report *rep);

/* Appends `s` to out with XML 1.0 escaping: & < > " ' become entities;
 * control characters XML 1.0 cannot carry (and invalid UTF-8 bytes) become
 * U+FFFD. */
void gate_xml_escape(FILE *out, const char *s);

#endif /* KK_GATE_REPORT_H */
