/*
 * Differential test: js_validate against Debian's python3-jsonschema 4.10.3
 * (Draft202012Validator, run as /usr/bin/python3 tests/gate/js_oracle.py via
 * fork/exec, no shell) on JS_DIFF_CASES (schema, instance) pairs generated
 * from a fixed seed. They must agree, except in the classes below, where
 * the official test suite shows the Python library wrong (each class is
 * flagged by the generator when a case could fall into it; a disagreement
 * counts as expected only when its case carries the flag):
 *
 * | class               | suite test that decides it                          |
 * |---------------------|-----------------------------------------------------|
 * | ENUM_NESTED_BOOL    | enum.json "enum with [false] does not match [0]" / "[0] is invalid" (python: nested false == 0) |
 * | UNEVAL_ADJ_ADDPROPS | unevaluatedProperties.json "unevaluatedProperties with adjacent non-bool additionalProperties" / "with additional properties" |
 * | REGEX_ASCII_CLASSES | optional/ecmascript-regex.json "\w in patterns matches [A-Za-z0-9_], not unicode letters", "\d in pattern matches [0-9], not unicode digits", "ECMA 262 \s matches whitespace" |
 *
 * The generator avoids what no suite test decides: floats that are not
 * exact in binary (0.1), control characters and "\n" in strings (Python's $
 * and . differ there), $dynamicRef (the Python library fails 15 suite tests
 * on it) and $ref cycles that do not consume the instance.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "js.h"
#include "json.h"
#include "kk_file.h"
#include "test_util.h"

#define JS_DIFF_GENERATED 1500

/* One case per exception class where the two must disagree: proves each
 * table entry is real (and that the comparison can fail at all). */
static const struct {
    const char *schema, *instance;
    unsigned flag;
} KNOWN_DIFFS[] = {
    {"{\"enum\":[[false]]}", "[0]", 1},
    {"{\"properties\":{\"foo\":{}},\"additionalProperties\":{\"type\":"
     "\"string\"},\"unevaluatedProperties\":false}",
     "{\"foo\":1,\"bar\":\"x\"}", 2},
    {"{\"pattern\":\"^\\\\w$\"}", "\"\\u00e9\"", 4},
};
#define JS_DIFF_KNOWN ((int)(sizeof KNOWN_DIFFS / sizeof KNOWN_DIFFS[0]))
#define JS_DIFF_CASES (JS_DIFF_GENERATED + JS_DIFF_KNOWN)
#define JS_DIFF_SEED 0x5EED2020ull

enum {
    F_ENUM_NESTED_BOOL = 1,
    F_UNEVAL_ADJ_ADDPROPS = 2,
    F_REGEX_ASCII_CLASSES = 4,
};

static const char *const FLAG_NAMES[] = {
    "ENUM_NESTED_BOOL (enum.json: enum with [false] does not match [0])",
    "UNEVAL_ADJ_ADDPROPS (unevaluatedProperties.json: unevaluatedProperties "
    "with adjacent non-bool additionalProperties)",
    "REGEX_ASCII_CLASSES (optional/ecmascript-regex.json: \\w / \\d / \\s are "
    "ASCII-only in ECMA-262)"};

/* ---- text buffer ------------------------------------------------------------ */
typedef struct sb {
    char *p;
    size_t n, cap;
} sb;

static void sb_put(sb *b, const char *s)
{
    size_t l = strlen(s);
    if (b->n + l + 1 > b->cap) {
        b->cap = (b->n + l + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, s, l + 1);
    b->n += l;
}

static void sb_printf(sb *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp);
}

/* ---- generator ---------------------------------------------------------------- */
static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state >> 12; /* xorshift64* (Vigna 2016) */
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 33) % n;
}

#define PICK(arr) (arr[rnd(sizeof(arr) / sizeof(arr[0]))])

/* JSON string literals (already escaped). Non-ASCII letters and digits probe
 * the ECMA-262 \w/\d classes; no control characters. */
static const char *const STRINGS[] = {
    "\"\"", "\"a\"", "\"b\"", "\"ab\"", "\"abc\"", "\"aab\"", "\"ba\"",
    "\"x1\"", "\"123\"", "\"\\u00e9\"", "\"\\u65e5\\u672c\"", "\"a b\"",
    "\"A_z\"", "\"\\ud83d\\ude00x\"", "\"foo\"", "\"bar\"", "\"\\u0663\"",
    "\"1\"", "\"cole\"", "\"\\u00e9cole\""};
static const char *const KEYS[] = {"a", "b", "c", "d", "1", "aa", "\\u00e9"};
/* Exact in binary, so Python's float arithmetic is exact too. */
static const char *const NUMBERS[] = {
    "0", "1", "2", "3", "-1", "4", "6", "10", "0.5", "2.5", "-1.5", "1.0",
    "4.5", "0.75", "12345678901234567890", "1e2", "-0.0", "7", "1.5", "3.0"};
static const char *const PATTERNS[] = {
    "^a", "b$", "^[a-c]+$", "\\\\d", "^\\\\w+$", "\\u00e9", "^.{2}$", "a|b",
    "(ab)+", "^[^a]*$", "x?y*z+", "^\\\\d+$", "\\\\s", "^(?:a|b)*$", "\\\\wcole",
    "^[0-9]$", "o{2,}", "^$", "a.c", "[A-Z_]"};

static void gen_value(sb *b, int depth, int *has_nested_scalar, int nested)
{
    uint32_t k = rnd(depth > 0 ? 10 : 7);
    switch (k) {
    case 0: sb_put(b, "null"); break;
    case 1: sb_put(b, rnd(2) ? "true" : "false");
        if (nested && has_nested_scalar) *has_nested_scalar = 1;
        break;
    case 2: case 3: case 4:
        sb_put(b, PICK(NUMBERS));
        if (nested && has_nested_scalar) *has_nested_scalar = 1;
        break;
    case 5: case 6: sb_put(b, PICK(STRINGS)); break;
    case 7: case 8: {
        uint32_t n = rnd(4);
        sb_put(b, "[");
        for (uint32_t i = 0; i < n; i++) {
            if (i) sb_put(b, ",");
            gen_value(b, depth - 1, has_nested_scalar, 1);
        }
        sb_put(b, "]");
        break;
    }
    default: {
        uint32_t n = rnd(4);
        int used = 0;
        sb_put(b, "{");
        for (uint32_t i = 0; i < n; i++) {
            int ki = (int)rnd(sizeof KEYS / sizeof KEYS[0]);
            if (used & (1 << ki)) continue;
            if (used) sb_put(b, ",");
            used |= 1 << ki;
            sb_printf(b, "\"%s\":", KEYS[ki]);
            gen_value(b, depth - 1, has_nested_scalar, 1);
        }
        sb_put(b, "}");
    }
    }
}

static void gen_schema(sb *b, int depth, int n_defs, unsigned *flags);

static void gen_schema_list(sb *b, int depth, int n_defs, unsigned *flags,
                            uint32_t max)
{
    uint32_t n = 1 + rnd(max);
    sb_put(b, "[");
    for (uint32_t i = 0; i < n; i++) {
        if (i) sb_put(b, ",");
        gen_schema(b, depth - 1, n_defs, flags);
    }
    sb_put(b, "]");
}

static void gen_pattern(sb *b, unsigned *flags)
{
    const char *p = PICK(PATTERNS);
    if (strstr(p, "\\\\d") || strstr(p, "\\\\w") || strstr(p, "\\\\s"))
        *flags |= F_REGEX_ASCII_CLASSES;
    sb_printf(b, "\"%s\"", p);
}

/* One keyword (with its value) of an object schema. */
static void gen_keyword(sb *b, int depth, int n_defs, unsigned *flags,
                        int *has_addl_schema, int *has_uneval_props)
{
    static const char *const TYPES[] = {"null", "boolean", "object", "array",
                                        "number", "string", "integer"};
    uint32_t k = rnd(depth > 0 ? 34 : 16);
    int nested = 0;
    switch (k) {
    case 0:
        if (rnd(2))
            sb_printf(b, "\"type\":\"%s\"", PICK(TYPES));
        else
            sb_printf(b, "\"type\":[\"%s\",\"%s\"]", PICK(TYPES), PICK(TYPES));
        break;
    case 1: {
        uint32_t n = 1 + rnd(3);
        sb_put(b, "\"enum\":[");
        for (uint32_t i = 0; i < n; i++) {
            if (i) sb_put(b, ",");
            gen_value(b, 2, &nested, 0);
        }
        sb_put(b, "]");
        if (nested)
            *flags |= F_ENUM_NESTED_BOOL;
        break;
    }
    case 2: sb_put(b, "\"const\":"); gen_value(b, 2, NULL, 0); break;
    case 3: sb_printf(b, "\"minimum\":%s", PICK(NUMBERS)); break;
    case 4: sb_printf(b, "\"maximum\":%s", PICK(NUMBERS)); break;
    case 5: sb_printf(b, "\"exclusiveMinimum\":%s", PICK(NUMBERS)); break;
    case 6: sb_printf(b, "\"exclusiveMaximum\":%s", PICK(NUMBERS)); break;
    case 7: {
        static const char *const DIV[] = {"2", "3", "0.5", "1.5", "0.25"};
        sb_printf(b, "\"multipleOf\":%s", PICK(DIV));
        break;
    }
    case 8: sb_printf(b, "\"minLength\":%u", rnd(4)); break;
    case 9: sb_printf(b, "\"maxLength\":%u", rnd(4)); break;
    case 10: sb_put(b, "\"pattern\":"); gen_pattern(b, flags); break;
    case 11: sb_printf(b, "\"minItems\":%u", rnd(4)); break;
    case 12: sb_printf(b, "\"maxItems\":%u", rnd(4)); break;
    case 13: sb_printf(b, "\"uniqueItems\":%s", rnd(4) ? "true" : "false"); break;
    case 14: {
        sb_put(b, "\"required\":[");
        uint32_t n = 1 + rnd(2);
        for (uint32_t i = 0; i < n; i++)
            sb_printf(b, "%s\"%s\"", i ? "," : "", KEYS[i + rnd(4)]);
        sb_put(b, "]");
        break;
    }
    case 15:
        sb_printf(b, "\"%sProperties\":%u", rnd(2) ? "min" : "max", rnd(4));
        break;
    case 16: sb_put(b, "\"items\":"); gen_schema(b, depth - 1, n_defs, flags); break;
    case 17: sb_put(b, "\"prefixItems\":");
        gen_schema_list(b, depth, n_defs, flags, 2);
        break;
    case 18:
        sb_put(b, "\"contains\":");
        gen_schema(b, depth - 1, n_defs, flags);
        if (rnd(2)) sb_printf(b, ",\"minContains\":%u", rnd(3));
        if (rnd(3) == 0) sb_printf(b, ",\"maxContains\":%u", rnd(3));
        break;
    case 19: {
        sb_put(b, "\"properties\":{");
        uint32_t n = 1 + rnd(2);
        for (uint32_t i = 0; i < n; i++) {
            sb_printf(b, "%s\"%s\":", i ? "," : "", KEYS[i * 2 + rnd(2)]);
            gen_schema(b, depth - 1, n_defs, flags);
        }
        sb_put(b, "}");
        break;
    }
    case 20:
        sb_put(b, "\"patternProperties\":{");
        gen_pattern(b, flags);
        sb_put(b, ":");
        gen_schema(b, depth - 1, n_defs, flags);
        sb_put(b, "}");
        break;
    case 21:
        if (rnd(2)) {
            sb_printf(b, "\"additionalProperties\":%s", rnd(2) ? "true" : "false");
        } else {
            sb_put(b, "\"additionalProperties\":");
            sb_put(b, "{");
            gen_keyword(b, 0, n_defs, flags, has_addl_schema, has_uneval_props);
            sb_put(b, "}");
            *has_addl_schema = 1;
        }
        break;
    case 22:
        sb_put(b, "\"propertyNames\":{");
        if (rnd(2)) sb_printf(b, "\"maxLength\":%u", rnd(3));
        else { sb_put(b, "\"pattern\":"); gen_pattern(b, flags); }
        sb_put(b, "}");
        break;
    case 23:
        sb_printf(b, "\"dependentRequired\":{\"%s\":[\"%s\"]}", PICK(KEYS),
                  PICK(KEYS));
        break;
    case 24:
        sb_printf(b, "\"dependentSchemas\":{\"%s\":", PICK(KEYS));
        gen_schema(b, depth - 1, n_defs, flags);
        sb_put(b, "}");
        break;
    case 25: sb_put(b, "\"allOf\":"); gen_schema_list(b, depth, n_defs, flags, 3); break;
    case 26: sb_put(b, "\"anyOf\":"); gen_schema_list(b, depth, n_defs, flags, 3); break;
    case 27: sb_put(b, "\"oneOf\":"); gen_schema_list(b, depth, n_defs, flags, 3); break;
    case 28: sb_put(b, "\"not\":"); gen_schema(b, depth - 1, n_defs, flags); break;
    case 29:
        sb_put(b, "\"if\":");
        gen_schema(b, depth - 1, n_defs, flags);
        if (rnd(4)) { sb_put(b, ",\"then\":"); gen_schema(b, depth - 1, n_defs, flags); }
        if (rnd(4)) { sb_put(b, ",\"else\":"); gen_schema(b, depth - 1, n_defs, flags); }
        break;
    case 30: case 31:
        if (n_defs > 0) {
            sb_printf(b, "\"$ref\":\"#/$defs/d%u\"", rnd((uint32_t)n_defs));
            break;
        }
        sb_put(b, "\"minimum\":0");
        break;
    case 32:
        sb_put(b, "\"unevaluatedProperties\":");
        gen_schema(b, 0, n_defs, flags);
        *has_uneval_props = 1;
        break;
    default:
        sb_put(b, "\"unevaluatedItems\":");
        gen_schema(b, 0, n_defs, flags);
        break;
    }
}

static void gen_schema(sb *b, int depth, int n_defs, unsigned *flags)
{
    if (depth < 0 || rnd(20) == 0) {
        sb_put(b, rnd(3) ? "true" : "false");
        return;
    }
    uint32_t n = 1 + rnd(3);
    int addl = 0, unev = 0;
    sb_put(b, "{");
    for (uint32_t i = 0; i < n; i++) {
        if (i) sb_put(b, ",");
        gen_keyword(b, depth, n_defs, flags, &addl, &unev);
    }
    sb_put(b, "}");
    if (addl && unev)
        *flags |= F_UNEVAL_ADJ_ADDPROPS;
}

/* A root with $defs d0..dN (leaf schemas: refs into them never cycle). */
static void gen_root(sb *b, unsigned *flags)
{
    int n_defs = (int)rnd(3);
    sb_put(b, "{");
    if (n_defs) {
        sb_put(b, "\"$defs\":{");
        for (int i = 0; i < n_defs; i++) {
            sb_printf(b, "%s\"d%d\":", i ? "," : "", i);
            gen_schema(b, 1, 0, flags);
        }
        sb_put(b, "},");
    }
    uint32_t n = 1 + rnd(3);
    int addl = 0, unev = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i) sb_put(b, ",");
        gen_keyword(b, 2, n_defs, flags, &addl, &unev);
    }
    sb_put(b, "}");
    if (addl && unev)
        *flags |= F_UNEVAL_ADJ_ADDPROPS;
}

/* ---- oracle process ------------------------------------------------------------ */
/* Feed `input` to the oracle on stdin, collect its stdout. @return exit code,
 * or -1 when it could not be started. */
static int run_oracle(const char *script, const char *input, size_t len,
                      char **out, size_t *out_len)
{
    int in_pipe[2], out_pipe[2];
    if (pipe(in_pipe) || pipe(out_pipe))
        return -1;
    /* The oracle's output (a few bytes a case) is read after all input is
     * written; keep it under the pipe buffer so neither side blocks. */
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(in_pipe[0], 0);
        dup2(out_pipe[1], 1);
        close(in_pipe[0]); close(in_pipe[1]);
        close(out_pipe[0]); close(out_pipe[1]);
        char *const argv[] = {"/usr/bin/python3", (char *)script, NULL};
        execv("/usr/bin/python3", argv);
        _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(in_pipe[1], input + off, len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(in_pipe[1]);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 1024 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t r = read(out_pipe[0], buf + n, cap - n - 1);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    close(out_pipe[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    *out = buf;
    *out_len = n;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void differential_with_python_jsonschema_agrees(void **state)
{
    (void)state;
    struct stat st;
    if (stat("/usr/bin/python3", &st) != 0) {
        fprintf(stderr, "SKIP: /usr/bin/python3 not found\n");
        skip();
    }
    char root[2048], script[2200];
    if (kk_repo_root(root, sizeof root, NULL) != KK_OK)
        snprintf(root, sizeof root, ".");
    snprintf(script, sizeof script, "%s/tests/gate/js_oracle.py", root);
    if (stat(script, &st) != 0)
        snprintf(script, sizeof script, "tests/gate/js_oracle.py");

    rng_state = JS_DIFF_SEED;
    sb input = {0};
    char **schemas = calloc(JS_DIFF_CASES, sizeof *schemas);
    char **insts = calloc(JS_DIFF_CASES, sizeof *insts);
    unsigned *flags = calloc(JS_DIFF_CASES, sizeof *flags);
    assert_true(schemas && insts && flags);
    for (int i = 0; i < JS_DIFF_CASES; i++) {
        sb s = {0}, v = {0};
        if (i < JS_DIFF_GENERATED) {
            gen_root(&s, &flags[i]);
            gen_value(&v, 3, NULL, 0);
        } else {
            sb_put(&s, KNOWN_DIFFS[i - JS_DIFF_GENERATED].schema);
            sb_put(&v, KNOWN_DIFFS[i - JS_DIFF_GENERATED].instance);
            flags[i] = KNOWN_DIFFS[i - JS_DIFF_GENERATED].flag;
        }
        schemas[i] = s.p;
        insts[i] = v.p;
        sb_put(&input, "[");
        sb_put(&input, s.p);
        sb_put(&input, ",");
        sb_put(&input, v.p);
        sb_put(&input, "]\n");
    }
    char *out = NULL;
    size_t out_len = 0;
    int rc = run_oracle(script, input.p, input.n, &out, &out_len);
    if (rc == 2 || rc < 0 || rc == 127) {
        fprintf(stderr, "SKIP: oracle %s could not run (exit %d): "
                        "python3-jsonschema missing?\n", script, rc);
        free(out);
        for (int i = 0; i < JS_DIFF_CASES; i++) { free(schemas[i]); free(insts[i]); }
        free(schemas); free(insts); free(flags); free(input.p);
        skip();
    }
    int agree = 0, expected_diff = 0, unexpected = 0, oracle_err = 0;
    int n_valid = 0, known_seen = 0;
    int per_flag[3] = {0, 0, 0};
    char *line = out;
    for (int i = 0; i < JS_DIFF_CASES; i++) {
        char *nl = line ? strchr(line, '\n') : NULL;
        assert_non_null(nl);
        *nl = '\0';
        json_doc *sd = NULL, *idoc = NULL;
        js_schema *s = NULL;
        kk_err err;
        assert_int_equal(json_parse(schemas[i], strlen(schemas[i]), "schema",
                                    NULL, &sd, &err), KK_OK);
        assert_int_equal(json_parse(insts[i], strlen(insts[i]), "instance",
                                    NULL, &idoc, &err), KK_OK);
        if (js_compile(json_doc_root(sd), "", NULL, &s, &err) != KK_OK)
            fail_msg("case %d: schema did not compile: %s at %s\n  %s", i,
                     err.msg, err.where, schemas[i]);
        int ours = js_validate(s, json_doc_root(idoc), NULL, &err);
        assert_true(ours >= 0);
        n_valid += ours == 1;
        if (i >= JS_DIFF_GENERATED && line[0] != 'E' &&
            (line[0] == '1') != (ours == 1))
            known_seen++;
        if (line[0] == 'E') {
            oracle_err++;
            printf("oracle error on case %d (%s): %s / %s\n", i, line,
                   schemas[i], insts[i]);
        } else if ((line[0] == '1') == (ours == 1)) {
            agree++;
        } else if (flags[i]) {
            expected_diff++;
            for (int f = 0; f < 3; f++)
                if (flags[i] & (1u << f))
                    per_flag[f]++;
        } else {
            unexpected++;
            printf("DISAGREE case %d: ours %s, python %s\n  schema   %s\n"
                   "  instance %s\n", i, ours ? "valid" : "invalid",
                   line[0] == '1' ? "valid" : "invalid", schemas[i], insts[i]);
        }
        js_schema_free(s);
        json_doc_free(sd);
        json_doc_free(idoc);
        line = nl + 1;
    }
    printf("differential: %d cases (%d generated, seed 0x%llx; %d valid by "
           "js_validate), %d agree, %d known python-jsonschema errors, %d "
           "unexplained, %d oracle exceptions\n", JS_DIFF_CASES,
           JS_DIFF_GENERATED, (unsigned long long)JS_DIFF_SEED, n_valid, agree,
           expected_diff, unexpected, oracle_err);
    for (int f = 0; f < 3; f++)
        printf("  %4d  %s\n", per_flag[f], FLAG_NAMES[f]);
    for (int i = 0; i < JS_DIFF_CASES; i++) { free(schemas[i]); free(insts[i]); }
    free(schemas); free(insts); free(flags); free(input.p); free(out);
    assert_int_equal(unexpected, 0);
    assert_int_equal(oracle_err, 0);
    assert_int_equal(known_seen, JS_DIFF_KNOWN);
    assert_true(agree >= 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(differential_with_python_jsonschema_agrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
