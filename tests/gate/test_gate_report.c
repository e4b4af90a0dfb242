/* Tests of gate/gate_report (escaping, counts, exit codes) and gate/gate_dec
 * (exact decimal arithmetic behind every threshold comparison). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate_dec.h"
#include "gate_report.h"

static char *render(void (*fn)(FILE *, const gate_report *), const gate_report *rep)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f, rep);
    fclose(f);
    return buf;
}

static void xml_escape_should_write_entities_and_replace_what_xml_cannot_hold(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    gate_xml_escape(f, "a<b>&\"c'\x01\xff\xc3\xa9\n");
    fclose(f);
    assert_string_equal(buf, "a&lt;b&gt;&amp;&quot;c&apos;\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9&#10;");
    free(buf);
}

static void exit_code_should_be_the_highest_failing_severity(void **state)
{
    (void)state;
    gate_report r;
    gate_report_init(&r);
    assert_int_equal(gate_report_exit(&r), 0);
    gate_report_add(&r, "a.json", GATE_PASS, 2, "SCHEMA", "", "x", "y", NULL);
    gate_report_add(&r, "a.json", GATE_RELAXED, 1, "NOISY", "", "x", "y", "why");
    gate_report_add(&r, "a.json", GATE_SKIP, 0, "UNKNOWN_COMMIT", "", NULL, NULL, "n/a");
    assert_int_equal(gate_report_exit(&r), 0);
    gate_report_add(&r, "b.json", GATE_FAIL, 1, "THRESHOLD[0]", "/arms/0", "x", "y", NULL);
    assert_int_equal(gate_report_exit(&r), 1);
    gate_report_add(&r, "c.json", GATE_FAIL, 2, "JSON", "", "x", "y", NULL);
    assert_int_equal(gate_report_exit(&r), 2);
    assert_int_equal(gate_report_passed(&r), 2);
    assert_int_equal(gate_report_failed(&r), 2);
    char *h = render(gate_report_print_human, &r);
    assert_non_null(strstr(h, "FAIL b.json THRESHOLD[0] /arms/0: expected x, actual y\n"));
    assert_non_null(strstr(h, "PASS a.json NOISY \"\": expected x, actual y (relaxed by the preset: why)\n"));
    assert_non_null(strstr(h, "NOTE a.json UNKNOWN_COMMIT \"\": n/a\n"));
    assert_non_null(strstr(h, "\n2 passed, 2 failed\n"));
    free(h);
    char *x = render(gate_report_render_junit, &r);
    assert_non_null(strstr(x, "<testsuite name=\"a.json\" tests=\"3\" failures=\"0\" skipped=\"1\">"));
    assert_non_null(strstr(x, "<testsuite name=\"c.json\" tests=\"1\" failures=\"1\""));
    free(x);
    gate_report_free(&r);
}

static void markdown_cells_should_escape_pipes_and_newlines(void **state)
{
    (void)state;
    gate_report r;
    gate_report_init(&r);
    gate_report_add(&r, "a|b.json", GATE_FAIL, 1, "X", "/a", "p|q", "line\nnext <b>", NULL);
    char *m = render(gate_report_render_md, &r);
    assert_non_null(strstr(m, "| FAIL | a\\|b.json | X | /a | p\\|q | line next &lt;b> |"));
    free(m);
    gate_report_free(&r);
}

static int dcmp(const char *a, const char *b)
{
    gate_dec x, y;
    assert_int_equal(gate_dec_parse(a, strlen(a), &x), 0);
    assert_int_equal(gate_dec_parse(b, strlen(b), &y), 0);
    int c = gate_dec_cmp(&x, &y);
    gate_dec_free(&x);
    gate_dec_free(&y);
    return c;
}

static void decimal(const char *a, const char *b, char op, char *out, size_t cap)
{
    gate_dec x, y, r;
    assert_int_equal(gate_dec_parse(a, strlen(a), &x), 0);
    assert_int_equal(gate_dec_parse(b, strlen(b), &y), 0);
    int rc = op == '-' ? gate_dec_sub(&x, &y, &r) : op == '+' ? gate_dec_add(&x, &y, &r)
                                                              : gate_dec_mul(&x, &y, &r);
    assert_int_equal(rc, 0);
    gate_dec_format(&r, out, cap);
    gate_dec_free(&x);
    gate_dec_free(&y);
    gate_dec_free(&r);
}

static void decimals_should_compare_and_compute_exactly(void **state)
{
    (void)state;
    char s[128];
    /* The case that motivates the module: in doubles 0.95 - 1.0 < -0.05. */
    decimal("0.95", "1.0", '-', s, sizeof s);
    assert_string_equal(s, "-0.05");
    assert_int_equal(dcmp("-0.05", "-5e-2"), 0);
    assert_int_equal(dcmp("1", "1.000"), 0);
    assert_true(dcmp("0.1", "0.10000000000000001") < 0);
    assert_true(dcmp("-2", "-1") < 0);
    assert_true(dcmp("0", "-0") == 0);
    assert_true(dcmp("12345678901234567890123", "12345678901234567890122") > 0);
    assert_true(dcmp("1e400", "9e399") > 0);
    decimal("0.1", "0.2", '+', s, sizeof s);
    assert_string_equal(s, "0.3");
    decimal("1.5", "-0.25", '*', s, sizeof s);
    assert_string_equal(s, "-0.375");
    decimal("99.99", "0.01", '+', s, sizeof s);
    assert_string_equal(s, "100");
    decimal("100", "0.001", '-', s, sizeof s);
    assert_string_equal(s, "99.999");
    /* Adding numbers 10^5000 apart would need 5000 digits: refused, so the
     * caller falls back to doubles. */
    gate_dec x, y, r;
    assert_int_equal(gate_dec_parse("1e5000", 6, &x), 0);
    assert_int_equal(gate_dec_parse("1", 1, &y), 0);
    assert_int_equal(gate_dec_add(&x, &y, &r), -1);
    gate_dec_free(&x);
    gate_dec_free(&y);
    /* Only RFC 8259 numbers. */
    const char *bad[] = {"", "-", "01", "1.", ".5", "+1", "1e", "0x10", "1_000", "inf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(gate_dec_parse(bad[i], strlen(bad[i]), &x), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xml_escape_should_write_entities_and_replace_what_xml_cannot_hold),
        cmocka_unit_test(exit_code_should_be_the_highest_failing_severity),
        cmocka_unit_test(markdown_cells_should_escape_pipes_and_newlines),
        cmocka_unit_test(decimals_should_compare_and_compute_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
