/* gate_report: see gate_report.h. */
#include "gate_report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kk_file.h"

void gate_report_init(gate_report *rep)
{
    memset(rep, 0, sizeof *rep);
}

static void check_free(gate_check *c)
{
    free(c->file);
    free(c->id);
    free(c->pointer);
    free(c->expected);
    free(c->actual);
    free(c->note);
}

void gate_report_free(gate_report *rep)
{
    if (!rep)
        return;
    for (size_t i = 0; i < rep->n; i++)
        check_free(&rep->checks[i]);
    free(rep->checks);
    memset(rep, 0, sizeof *rep);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

void gate_report_add(gate_report *rep, const char *file, gate_status status,
                     int severity, const char *id, const char *pointer,
                     const char *expected, const char *actual,
                     const char *note)
{
    if (rep->n == rep->cap) {
        size_t cap = rep->cap ? rep->cap * 2 : 16;
        gate_check *nc = realloc(rep->checks, cap * sizeof *nc);
        if (!nc) {
            rep->nomem = 1;
            return;
        }
        rep->checks = nc;
        rep->cap = cap;
    }
    gate_check c;
    c.file = dup_or_empty(file);
    c.id = dup_or_empty(id);
    c.pointer = dup_or_empty(pointer);
    c.expected = dup_or_empty(expected);
    c.actual = dup_or_empty(actual);
    c.note = dup_or_empty(note);
    c.status = status;
    c.severity = status == GATE_FAIL ? (severity >= 2 ? 2 : 1) : 0;
    if (!c.file || !c.id || !c.pointer || !c.expected || !c.actual || !c.note) {
        check_free(&c);
        rep->nomem = 1;
        return;
    }
    rep->checks[rep->n++] = c;
}

size_t gate_report_passed(const gate_report *rep)
{
    size_t k = 0;
    for (size_t i = 0; i < rep->n; i++)
        k += rep->checks[i].status == GATE_PASS ||
             rep->checks[i].status == GATE_RELAXED;
    return k;
}

size_t gate_report_failed(const gate_report *rep)
{
    size_t k = 0;
    for (size_t i = 0; i < rep->n; i++)
        k += rep->checks[i].status == GATE_FAIL;
    return k;
}

int gate_report_exit(const gate_report *rep)
{
    int x = rep->nomem ? 2 : 0;
    for (size_t i = 0; i < rep->n; i++)
        if (rep->checks[i].status == GATE_FAIL && rep->checks[i].severity > x)
            x = rep->checks[i].severity;
    return x;
}

static const char *status_word(gate_status s)
{
    switch (s) {
    case GATE_PASS: return "PASS";
    case GATE_FAIL: return "FAIL";
    case GATE_RELAXED: return "RELAXED";
    case GATE_SKIP: return "SKIP";
    }
    return "?";
}

/* ---- human ------------------------------------------------------------------ */

static void detail_human(FILE *out, const gate_check *c)
{
    if (c->expected[0] && c->actual[0])
        fprintf(out, "expected %s, actual %s", c->expected, c->actual);
    else if (c->expected[0])
        fprintf(out, "expected %s", c->expected);
    else
        fputs(c->actual, out);
}

void gate_report_print_human(FILE *out, const gate_report *rep)
{
    for (size_t i = 0; i < rep->n; i++) {
        const gate_check *c = &rep->checks[i];
        const char *ptr = c->pointer[0] ? c->pointer : "\"\"";
        switch (c->status) {
        case GATE_SKIP:
            fprintf(out, "NOTE %s %s %s: %s\n", c->file, c->id,
                    ptr, c->note);
            continue;
        case GATE_RELAXED:
            fprintf(out, "PASS %s %s %s: ", c->file, c->id, ptr);
            detail_human(out, c);
            fprintf(out, " (relaxed by the preset: %s)\n", c->note);
            continue;
        default:
            fprintf(out, "%s %s %s %s: ", status_word(c->status), c->file,
                    c->id, ptr);
            detail_human(out, c);
            if (c->note[0])
                fprintf(out, " (%s)", c->note);
            fputc('\n', out);
        }
    }
    if (rep->nomem)
        fputs("FAIL out of memory: the report is incomplete\n", out);
    fprintf(out, "%zu passed, %zu failed\n", gate_report_passed(rep),
            gate_report_failed(rep));
}

/* ---- JSON ------------------------------------------------------------------- */

static void jstr(FILE *out, const char *s)
{
    json_write_string(out, s, strlen(s));
}

void gate_report_print_json(FILE *out, const gate_report *rep)
{
    fprintf(out, "{\"passed\":%zu,\"failed\":%zu,\"exit\":%d,\"checks\":[",
            gate_report_passed(rep), gate_report_failed(rep),
            gate_report_exit(rep));
    for (size_t i = 0; i < rep->n; i++) {
        const gate_check *c = &rep->checks[i];
        fputs(i ? ",{\"status\":" : "{\"status\":", out);
        jstr(out, status_word(c->status));
        fputs(",\"file\":", out);
        jstr(out, c->file);
        fputs(",\"id\":", out);
        jstr(out, c->id);
        fputs(",\"pointer\":", out);
        jstr(out, c->pointer);
        fputs(",\"expected\":", out);
        jstr(out, c->expected);
        fputs(",\"actual\":", out);
        jstr(out, c->actual);
        fputs(",\"note\":", out);
        jstr(out, c->note);
        fprintf(out, ",\"severity\":%d}", c->severity);
    }
    fputs("]}\n", out);
}

/* ---- XML -------------------------------------------------------------------- */

/* Decodes one UTF-8 sequence at s; @return its length, 0 when invalid. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

void gate_xml_escape(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        uint32_t cp;
        size_t n = utf8_next(s, &cp);
        if (n == 0) {
            fputs("\xef\xbf\xbd", out); /* U+FFFD for a stray byte */
            s++;
            continue;
        }
        /* XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
         * [#x10000-#x10FFFF]; nothing else can be written, even escaped. */
        int ok = cp == 0x9 || cp == 0xa || cp == 0xd ||
                 (cp >= 0x20 && cp <= 0xd7ff) ||
                 (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000;
        if (!ok)
            fputs("\xef\xbf\xbd", out);
        else if (cp == '&')
            fputs("&amp;", out);
        else if (cp == '<')
            fputs("&lt;", out);
        else if (cp == '>')
            fputs("&gt;", out);
        else if (cp == '"')
            fputs("&quot;", out);
        else if (cp == '\'')
            fputs("&apos;", out);
        else if (cp == '\n' || cp == '\r' || cp == '\t')
            fprintf(out, "&#%u;", (unsigned)cp); /* survive attribute
                                                      normalization */
        else
            fwrite(s, 1, n, out);
        s += n;
    }
}

static void junit_detail(FILE *out, const gate_check *c)
{
    if (c->expected[0]) {
        fputs("expected ", out);
        gate_xml_escape(out, c->expected);
        fputs(", actual ", out);
    }
    gate_xml_escape(out, c->actual);
    if (c->note[0]) {
        fputs(" (", out);
        gate_xml_escape(out, c->note);
        fputs(")", out);
    }
}

void gate_report_render_junit(FILE *out, const gate_report *rep)
{
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<testsuites name=\"kakeya-gate\" tests=\"%zu\" failures=\"%zu\">\n",
            rep->n, gate_report_failed(rep));
    size_t i = 0;
    while (i < rep->n) {
        /* One testsuite per file: checks of one file are contiguous. */
        size_t j = i, fails = 0, skips = 0;
        while (j < rep->n && strcmp(rep->checks[j].file, rep->checks[i].file) == 0) {
            fails += rep->checks[j].status == GATE_FAIL;
            skips += rep->checks[j].status == GATE_SKIP;
            j++;
        }
        fputs("  <testsuite name=\"", out);
        gate_xml_escape(out, rep->checks[i].file);
        fprintf(out, "\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\">\n",
                j - i, fails, skips);
        for (size_t k = i; k < j; k++) {
            const gate_check *c = &rep->checks[k];
            fputs("    <testcase classname=\"", out);
            gate_xml_escape(out, c->file);
            fputs("\" name=\"", out);
            gate_xml_escape(out, c->id);
            if (c->pointer[0]) {
                fputs(" ", out);
                gate_xml_escape(out, c->pointer);
            }
            fputs("\"", out);
            if (c->status == GATE_PASS) {
                fputs("/>\n", out);
                continue;
            }
            fputs(">\n", out);
            if (c->status == GATE_FAIL) {
                fputs("      <failure type=\"", out);
                gate_xml_escape(out, c->id);
                fputs("\" message=\"", out);
                junit_detail(out, c);
                fputs("\">", out);
                junit_detail(out, c);
                fputs("</failure>\n", out);
            } else if (c->status == GATE_SKIP) {
                fputs("      <skipped message=\"", out);
                gate_xml_escape(out, c->note);
                fputs("\"/>\n", out);
            } else { /* relaxed: passed, the reason kept as output */
                fputs("      <system-out>relaxed by the preset: ", out);
                gate_xml_escape(out, c->note);
                fputs("; ", out);
                junit_detail(out, c);
                fputs("</system-out>\n", out);
            }
            fputs("    </testcase>\n", out);
        }
        fputs("  </testsuite>\n", out);
        i = j;
    }
    fputs("</testsuites>\n", out);
}

/* ---- Markdown --------------------------------------------------------------- */

/* A table cell: | would end the cell, a newline the row, < starts HTML. */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', out);
        else if (*s == '<')
            fputs("&lt;", out);
        else if (*s == '`')
            fputs("\\`", out);
        else
            fputc(*s, out);
    }
}

void gate_report_render_md(FILE *out, const gate_report *rep)
{
    size_t p = gate_report_passed(rep), f = gate_report_failed(rep);
    fprintf(out, "## kakeya-gate: %s\n\n%zu passed, %zu failed (exit %d)\n\n",
            f ? "FAIL" : "PASS", p, f, gate_report_exit(rep));
    fputs("| status | file | check | pointer | expected | actual | note |\n"
          "|---|---|---|---|---|---|---|\n", out);
    for (size_t i = 0; i < rep->n; i++) {
        const gate_check *c = &rep->checks[i];
        fprintf(out, "| %s | ", status_word(c->status));
        md_cell(out, c->file);
        fputs(" | ", out);
        md_cell(out, c->id);
        fputs(" | ", out);
        md_cell(out, c->pointer);
        fputs(" | ", out);
        md_cell(out, c->expected);
        fputs(" | ", out);
        md_cell(out, c->actual);
        fputs(" | ", out);
        md_cell(out, c->note);
        fputs(" |\n", out);
    }
}

/* ---- atomic writers ------------------------------------------------------- */

static kk_code write_rendered(const gate_report *rep, const char *path,
                              void (*render)(FILE *, const gate_report *),
                              kk_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return kk_err_set(err, KK_E_NOMEM, "cannot open a memory stream");
    render(m, rep);
    if (fclose(m) != 0) {
        free(buf);
        return kk_err_set(err, KK_E_NOMEM, "cannot render the report");
    }
    kk_code rc = kk_file_write_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

kk_code gate_report_write_junit(const gate_report *rep, const char *path,
                                kk_err *err)
{
    return write_rendered(rep, path, gate_report_render_junit, err);
}

kk_code gate_report_write_md(const gate_report *rep, const char *path,
                             kk_err *err)
{
    return write_rendered(rep, path, gate_report_render_md, err);
}
