/* kk_yaml: see kk_yaml.h. */
#include "kk_yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "kk_file.h"

typedef struct frame {
    kk_yaml_node *node;
} frame;

typedef struct ystate {
    const char *file;
    frame stack[KK_YAML_MAX_DEPTH + 1];
    size_t depth;
    kk_err *err;
} ystate;

/* ---- nodes ---------------------------------------------------------------- */

static void node_free(kk_yaml_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            node_free(n->keys[i]);
        node_free(n->vals[i]);
    }
    free(n->keys);
    free(n->vals);
    free(n->str);
    free(n);
}

void kk_yaml_doc_free(kk_yaml_doc *doc)
{
    if (!doc)
        return;
    node_free(doc->root);
    free(doc);
}

static kk_yaml_node *node_new(kk_yaml_kind kind, yaml_mark_t m)
{
    kk_yaml_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = (int)m.line + 1;
    n->col = (int)m.column + 1;
    n->offset = m.index;
    return n;
}

/* Appends v (and key k for maps) to container c. @return 0, -1 on ENOMEM. */
static int node_push(kk_yaml_node *c, kk_yaml_node *k, kk_yaml_node *v)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        kk_yaml_node **nv = realloc(c->vals, cap * sizeof *nv);
        if (!nv)
            return -1;
        c->vals = nv;
        if (c->kind == KK_YAML_MAP) {
            kk_yaml_node **nk = realloc(c->keys, cap * sizeof *nk);
            if (!nk)
                return -1;
            c->keys = nk;
        }
        c->cap = cap;
    }
    if (c->kind == KK_YAML_MAP)
        c->keys[c->n] = k;
    c->vals[c->n] = v;
    c->n++;
    return 0;
}

const kk_yaml_node *kk_yaml_get(const kk_yaml_node *map, const char *key)
{
    if (!map || map->kind != KK_YAML_MAP)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < map->n; i++)
        if (map->keys[i] && map->keys[i]->len == kl &&
            memcmp(map->keys[i]->str, key, kl) == 0)
            return map->vals[i];
    return NULL;
}

/* ---- errors ----------------------------------------------------------------- */

/* The key path of the innermost open collection, e.g. "gate.thresholds[1]":
 * where a problem is, in the words of the file. */
static void path_of(const ystate *st, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t d = 1; d < st->depth; d++) {
        const kk_yaml_node *parent = st->stack[d - 1].node;
        int w;
        if (parent->kind == KK_YAML_MAP) {
            const kk_yaml_node *k = parent->keys[parent->n - 1];
            w = snprintf(buf + at, cap - at, "%s%.*s", at ? "." : "",
                         (int)(k->len > 64 ? 64 : k->len), k->str);
        } else {
            w = snprintf(buf + at, cap - at, "[%zu]", parent->n - 1);
        }
        if (w < 0 || (size_t)w >= cap - at)
            return;
        at += (size_t)w;
    }
}

static kk_code fail_at(ystate *st, kk_code code, yaml_mark_t m, const char *fmt,
                       const char *arg)
{
    char where[KK_ERR_WHERE_MAX];
    path_of(st, where, sizeof where);
    kk_err_set(st->err, code, fmt, arg);
    kk_err_file(st->err, st->file ? st->file : "");
    kk_err_linecol(st->err, (int)m.line + 1, (int)m.column + 1);
    kk_err_offset(st->err, (int64_t)m.index);
    return kk_err_where(st->err, where);
}

static kk_code fail_parser(ystate *st, const yaml_parser_t *p)
{
    yaml_mark_t m = p->problem_mark;
    if (p->error == YAML_READER_ERROR) {
        /* Reader errors have an offset only (bad UTF-8, control chars). */
        m.index = p->problem_offset;
        m.line = 0;
        m.column = 0;
        kk_err_set(st->err, KK_E_FORMAT, "invalid YAML text: %s (byte 0x%02x)",
                   p->problem ? p->problem : "?",
                   (unsigned)(p->problem_value & 0xff));
        kk_err_file(st->err, st->file ? st->file : "");
        return kk_err_offset(st->err, (int64_t)m.index);
    }
    char msg[256];
    if (p->context)
        snprintf(msg, sizeof msg, "invalid YAML: %s (%s at line %zu)",
                 p->problem ? p->problem : "?", p->context,
                 p->context_mark.line + 1);
    else
        snprintf(msg, sizeof msg, "invalid YAML: %s",
                 p->problem ? p->problem : "?");
    if (p->error == YAML_MEMORY_ERROR)
        return fail_at(st, KK_E_NOMEM, m, "%s", "out of memory parsing YAML");
    return fail_at(st, KK_E_FORMAT, m, "%s", msg);
}

/* ---- the event loop ------------------------------------------------------- */

/* Refuses anchors and tags on a node event. */
static kk_code check_props(ystate *st, const yaml_event_t *ev,
                           const yaml_char_t *anchor, const yaml_char_t *tag)
{
    if (anchor)
        return fail_at(st, KK_E_FORMAT, ev->start_mark,
                       "anchor '&%s' found; anchors and aliases are not "
                       "allowed in presets (write the value out)",
                       (const char *)anchor);
    if (tag)
        return fail_at(st, KK_E_FORMAT, ev->start_mark,
                       "tag '%s' found; tags are not allowed in presets "
                       "(plain and quoted scalars, maps and lists only)",
                       (const char *)tag);
    return KK_OK;
}

/* Attaches a finished node to the open container (or as the root). A scalar
 * in key position becomes the pending key; duplicates are refused here. */
static kk_code attach(ystate *st, kk_yaml_doc *doc, kk_yaml_node *n,
                      const yaml_event_t *ev, int *pending_key)
{
    if (st->depth == 0) {
        doc->root = n;
        return KK_OK;
    }
    kk_yaml_node *c = st->stack[st->depth - 1].node;
    if (c->kind == KK_YAML_SEQ) {
        if (node_push(c, NULL, n) != 0)
            goto nomem;
        return KK_OK;
    }
    if (!pending_key[st->depth - 1]) {
        /* key position */
        if (n->kind != KK_YAML_SCALAR) {
            node_free(n);
            return fail_at(st, KK_E_FORMAT, ev->start_mark, "%s",
                           "a key must be a scalar (found a map or list)");
        }
        for (size_t i = 0; i < c->n; i++) {
            const kk_yaml_node *k = c->keys[i];
            if (k->len == n->len && memcmp(k->str, n->str, n->len) == 0) {
                char what[128];
                snprintf(what, sizeof what, "%.*s (first at line %d)",
                         (int)(n->len > 64 ? 64 : n->len), n->str, k->line);
                node_free(n);
                return fail_at(st, KK_E_DUPLICATE, ev->start_mark,
                               "duplicate key %s; each key may appear once",
                               what);
            }
        }
        /* The value comes next; keep the key with a NULL value slot. */
        if (node_push(c, n, NULL) != 0)
            goto nomem;
        pending_key[st->depth - 1] = 1;
        return KK_OK;
    }
    c->vals[c->n - 1] = n;
    pending_key[st->depth - 1] = 0;
    return KK_OK;
nomem:
    node_free(n);
    return fail_at(st, KK_E_NOMEM, ev->start_mark, "%s", "out of memory");
}

kk_code kk_yaml_parse(const char *buf, size_t len, const char *file,
                        kk_yaml_doc **out, kk_err *err)
{
    *out = NULL;
    ystate st;
    memset(&st, 0, sizeof st);
    st.file = file;
    st.err = err;
    int pending_key[KK_YAML_MAX_DEPTH + 1] = {0};
    if (len > KK_YAML_MAX_BYTES) {
        kk_err_set(err, KK_E_LIMIT, "preset is %zu bytes; at most %d allowed",
                   len, KK_YAML_MAX_BYTES);
        return kk_err_file(err, file ? file : "");
    }
    kk_yaml_doc *doc = calloc(1, sizeof *doc);
    if (!doc)
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        free(doc);
        return kk_err_set(err, KK_E_NOMEM, "cannot initialize libyaml");
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    kk_code rc = KK_OK;
    int n_docs = 0, done = 0;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = fail_parser(&st, &p);
            break;
        }
        kk_yaml_node *n = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++n_docs > 1)
                rc = fail_at(&st, KK_E_FORMAT, ev.start_mark, "%s",
                             "a second YAML document; a preset is one document");
            else if (ev.data.document_start.tag_directives.start !=
                     ev.data.document_start.tag_directives.end)
                rc = fail_at(&st, KK_E_FORMAT, ev.start_mark, "%s",
                             "%TAG directive found; tags are not allowed");
            break;
        case YAML_ALIAS_EVENT:
            rc = fail_at(&st, KK_E_FORMAT, ev.start_mark,
                         "alias '*%s' found; anchors and aliases are not "
                         "allowed in presets (write the value out)",
                         (const char *)ev.data.alias.anchor);
            break;
        case YAML_SCALAR_EVENT:
            rc = check_props(&st, &ev, ev.data.scalar.anchor, ev.data.scalar.tag);
            if (rc != KK_OK)
                break;
            n = node_new(KK_YAML_SCALAR, ev.start_mark);
            if (n) {
                n->str = malloc(ev.data.scalar.length + 1);
                if (n->str) {
                    memcpy(n->str, ev.data.scalar.value, ev.data.scalar.length);
                    n->str[ev.data.scalar.length] = '\0';
                    n->len = ev.data.scalar.length;
                    n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                } else {
                    node_free(n);
                    n = NULL;
                }
            }
            if (!n) {
                rc = fail_at(&st, KK_E_NOMEM, ev.start_mark, "%s", "out of memory");
                break;
            }
            rc = attach(&st, doc, n, &ev, pending_key);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            int is_map = ev.type == YAML_MAPPING_START_EVENT;
            rc = is_map ? check_props(&st, &ev, ev.data.mapping_start.anchor,
                                      ev.data.mapping_start.tag)
                        : check_props(&st, &ev, ev.data.sequence_start.anchor,
                                      ev.data.sequence_start.tag);
            if (rc != KK_OK)
                break;
            if (st.depth >= KK_YAML_MAX_DEPTH) {
                char lim[64];
                snprintf(lim, sizeof lim, "%d", KK_YAML_MAX_DEPTH);
                rc = fail_at(&st, KK_E_LIMIT, ev.start_mark,
                             "nesting deeper than %s levels", lim);
                break;
            }
            n = node_new(is_map ? KK_YAML_MAP : KK_YAML_SEQ, ev.start_mark);
            if (!n) {
                rc = fail_at(&st, KK_E_NOMEM, ev.start_mark, "%s", "out of memory");
                break;
            }
            rc = attach(&st, doc, n, &ev, pending_key);
            if (rc != KK_OK)
                break;
            pending_key[st.depth] = 0;
            st.stack[st.depth++].node = n;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (st.depth > 0)
                st.depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (rc != KK_OK)
            break;
    }
    yaml_parser_delete(&p);
    if (rc != KK_OK) {
        kk_yaml_doc_free(doc);
        return rc;
    }
    *out = doc;
    return KK_OK;
}

kk_code kk_yaml_read_file(const char *path, char **buf, size_t *len,
                            kk_err *err)
{
    *buf = NULL;
    *len = 0;
    int fd = -1;
    struct stat sb;
    kk_code rc = kk_file_open_read(path, &fd, &sb, err);
    if (rc != KK_OK)
        return rc;
    if (sb.st_size > KK_YAML_MAX_BYTES) {
        close(fd);
        kk_err_set(err, KK_E_LIMIT, "preset is %lld bytes; at most %d allowed",
                   (long long)sb.st_size, KK_YAML_MAX_BYTES);
        return kk_err_file(err, path);
    }
    /* Read one byte more than allowed: a file that grows after fstat is
     * still refused. */
    char *b = malloc(KK_YAML_MAX_BYTES + 2);
    if (!b) {
        close(fd);
        return kk_err_set(err, KK_E_NOMEM, "out of memory");
    }
    size_t got = 0;
    while (got < KK_YAML_MAX_BYTES + 1) {
        ssize_t r = read(fd, b + got, KK_YAML_MAX_BYTES + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(b);
            kk_err_set(err, KK_E_IO, "read failed: %s", strerror(e));
            return kk_err_file(err, path);
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got > KK_YAML_MAX_BYTES) {
        free(b);
        kk_err_set(err, KK_E_LIMIT, "preset is more than %d bytes",
                   KK_YAML_MAX_BYTES);
        return kk_err_file(err, path);
    }
    b[got] = '\0';
    *buf = b;
    *len = got;
    return KK_OK;
}

kk_code kk_yaml_verr(kk_err *err, const char *file, const kk_yaml_node *n,
                       const char *where, kk_code code, const char *fmt,
                       va_list ap)
{
    char msg[KK_ERR_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    kk_err_set(err, code, "%s", msg);
    kk_err_file(err, file ? file : "");
    if (n) {
        kk_err_linecol(err, n->line, n->col);
        kk_err_offset(err, (int64_t)n->offset);
    }
    kk_err_where(err, where);
    return code;
}

kk_code kk_yaml_err(kk_err *err, const char *file, const kk_yaml_node *n, const char *where,
                    kk_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kk_yaml_verr(err, file, n, where, code, fmt, ap);
    va_end(ap);
    return code;
}

void kk_yaml_found(const kk_yaml_node *n, char *buf, size_t cap)
{
    if (n->kind == KK_YAML_MAP)
        snprintf(buf, cap, "a map");
    else if (n->kind == KK_YAML_SEQ)
        snprintf(buf, cap, "a list");
    else
        kk_yaml_quote(n->str, n->len, buf, cap);
}

/* ---- scalar classes ------------------------------------------------------ */

static int eq_any(const char *s, size_t len, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == len && memcmp(s, *words, len) == 0)
            return 1;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? (RFC 8259, section 6);
 * *is_int when neither fraction nor exponent. */
static int json_number_form(const char *s, size_t len, int *is_int)
{
    size_t i = 0;
    *is_int = 1;
    if (i < len && s[i] == '-')
        i++;
    if (i >= len)
        return 0;
    if (s[i] == '0')
        i++;
    else if (s[i] >= '1' && s[i] <= '9')
        while (i < len && is_digit(s[i]))
            i++;
    else
        return 0;
    if (i < len && s[i] == '.') {
        *is_int = 0;
        size_t d = ++i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == d)
            return 0;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        *is_int = 0;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == d)
            return 0;
    }
    return i == len;
}

kk_yaml_sclass kk_yaml_classify(const char *s, size_t len, int plain)
{
    if (!plain)
        return KK_YAML_SC_STRING;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    /* YAML 1.1's bool set (https://yaml.org/type/bool.html), y/n included. */
    static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE",
                                        "yes", "Yes", "YES", "no", "No", "NO", "on", "On",
                                        "ON", "off", "Off", "OFF", "y", "Y", "n", "N", NULL};
    static const char *const specials[] = {".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN", NULL};
    if (eq_any(s, len, nulls))
        return KK_YAML_SC_NULL;
    if (eq_any(s, len, bools))
        return KK_YAML_SC_BOOL;
    int is_int;
    if (json_number_form(s, len, &is_int))
        return is_int ? KK_YAML_SC_INT : KK_YAML_SC_NUMBER;
    size_t i = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    if (eq_any(s + i, len - i, specials))
        return KK_YAML_SC_OTHER_NUM;
    if (len - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b'))
        return KK_YAML_SC_OTHER_NUM;
    int digits = 0, dots = 0;
    for (; i < len; i++) {
        if (is_digit(s[i]))
            digits++;
        else if (s[i] == '.')
            dots++;
        else if (s[i] != '_')
            break;
    }
    if (digits && dots <= 1 && i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e0 = i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == e0)
            return KK_YAML_SC_STRING;
    }
    return digits && dots <= 1 && i == len ? KK_YAML_SC_OTHER_NUM : KK_YAML_SC_STRING;
}

kk_yaml_sclass kk_yaml_node_class(const kk_yaml_node *n)
{
    return kk_yaml_classify(n->str, n->len, n->plain);
}

void kk_yaml_quote(const char *s, size_t len, char *buf, size_t cap)
{
    size_t o = 0;
    if (cap < 8) {
        if (cap)
            buf[0] = 0;
        return;
    }
    buf[o++] = '"';
    for (size_t i = 0; i < len && o + 6 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= 60) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            if (c == '"' || c == '\\') {
                buf[o++] = '\\';
                buf[o++] = (char)c;
            } else {
                o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
            }
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = 0;
}
