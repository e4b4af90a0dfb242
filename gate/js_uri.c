/*
 * js_uri: RFC 3986 reference resolution (section 5.2) for $id / $ref, and
 * JSON pointer fragments (RFC 6901, after RFC 3986 percent-decoding).
 *
 * URIs are compared as strings after resolution; no case or percent
 * normalization beyond what resolution does (the test suite needs none).
 * "urn:" URIs have no authority and an opaque path: resolving a fragment
 * against them keeps the whole URN, as RFC 3986 prescribes.
 */
#include <stdlib.h>
#include <string.h>

#include "js_internal.h"

typedef struct uri_parts {
    const char *scheme; size_t scheme_len; int has_scheme;
    const char *auth;   size_t auth_len;   int has_auth;
    const char *path;   size_t path_len;
    const char *query;  size_t query_len;  int has_query;
    const char *frag;   size_t frag_len;   int has_frag;
} uri_parts;

/* RFC 3986 appendix B's regular expression, by hand. */
static void uri_split(const char *s, uri_parts *p)
{
    memset(p, 0, sizeof *p);
    const char *c = s;
    /* scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
    const char *q = c;
    while (*q && *q != ':' && *q != '/' && *q != '?' && *q != '#')
        q++;
    if (*q == ':' && q > c) {
        p->has_scheme = 1;
        p->scheme = c;
        p->scheme_len = (size_t)(q - c);
        c = q + 1;
    }
    if (c[0] == '/' && c[1] == '/') {
        c += 2;
        q = c;
        while (*q && *q != '/' && *q != '?' && *q != '#')
            q++;
        p->has_auth = 1;
        p->auth = c;
        p->auth_len = (size_t)(q - c);
        c = q;
    }
    q = c;
    while (*q && *q != '?' && *q != '#')
        q++;
    p->path = c;
    p->path_len = (size_t)(q - c);
    c = q;
    if (*c == '?') {
        c++;
        q = c;
        while (*q && *q != '#')
            q++;
        p->has_query = 1;
        p->query = c;
        p->query_len = (size_t)(q - c);
        c = q;
    }
    if (*c == '#') {
        c++;
        p->has_frag = 1;
        p->frag = c;
        p->frag_len = strlen(c);
    }
}

/* RFC 3986 5.2.4 (steps A to E), in place on a NUL-terminated buffer:
 * the input is read from a copy, so output may overwrite it. */
static int remove_dot_segments(char *buf)
{
    size_t n = strlen(buf);
    char *in = malloc(n + 1);
    if (!in)
        return -1;
    memcpy(in, buf, n + 1);
    char *r = in;
    size_t o = 0;
    while (*r) {
        if (strncmp(r, "../", 3) == 0) {
            r += 3;
        } else if (strncmp(r, "./", 2) == 0) {
            r += 2;
        } else if (strncmp(r, "/./", 3) == 0) {
            r += 2;
        } else if (strcmp(r, "/.") == 0) {
            r[1] = '\0';
        } else if (strncmp(r, "/../", 4) == 0 || strcmp(r, "/..") == 0) {
            if (r[3] == '\0') {
                r += 2;
                r[0] = '/';
            } else {
                r += 3;
            }
            while (o > 0 && buf[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else if (strcmp(r, ".") == 0 || strcmp(r, "..") == 0) {
            break;
        } else {
            if (*r == '/')
                buf[o++] = *r++;
            while (*r && *r != '/')
                buf[o++] = *r++;
        }
    }
    buf[o] = '\0';
    free(in);
    return 0;
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = (b->n + n + 1) * 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

char *js_uri_resolve(const char *base, const char *ref)
{
    uri_parts B, R;
    uri_split(base ? base : "", &B);
    uri_split(ref, &R);
    /* T components as (pointer, length) plus an owned path buffer. */
    sbuf path = {0};
    const char *sch = NULL, *auth = NULL, *query = NULL;
    size_t sch_len = 0, auth_len = 0, query_len = 0;
    int has_sch = 0, has_auth = 0, has_query = 0;
    if (R.has_scheme) {
        has_sch = 1; sch = R.scheme; sch_len = R.scheme_len;
        has_auth = R.has_auth; auth = R.auth; auth_len = R.auth_len;
        sb_add(&path, R.path, R.path_len);
        has_query = R.has_query; query = R.query; query_len = R.query_len;
    } else {
        has_sch = B.has_scheme; sch = B.scheme; sch_len = B.scheme_len;
        if (R.has_auth) {
            has_auth = 1; auth = R.auth; auth_len = R.auth_len;
            sb_add(&path, R.path, R.path_len);
            has_query = R.has_query; query = R.query; query_len = R.query_len;
        } else {
            has_auth = B.has_auth; auth = B.auth; auth_len = B.auth_len;
            if (R.path_len == 0) {
                sb_add(&path, B.path, B.path_len);
                if (R.has_query) {
                    has_query = 1; query = R.query; query_len = R.query_len;
                } else {
                    has_query = B.has_query; query = B.query;
                    query_len = B.query_len;
                }
            } else {
                if (R.path[0] == '/') {
                    sb_add(&path, R.path, R.path_len);
                } else if (B.has_auth && B.path_len == 0) {
                    /* 5.2.3 merge: base with authority and empty path */
                    sb_add(&path, "/", 1);
                    sb_add(&path, R.path, R.path_len);
                } else {
                    size_t keep = B.path_len;
                    while (keep > 0 && B.path[keep - 1] != '/')
                        keep--;
                    sb_add(&path, B.path, keep);
                    sb_add(&path, R.path, R.path_len);
                }
                has_query = R.has_query; query = R.query; query_len = R.query_len;
            }
        }
    }
    sb_add(&path, "", 0);
    if (path.oom) {
        free(path.p);
        return NULL;
    }
    /* URNs and other opaque paths (no authority, not starting with '/')
     * have no dot segments to remove: "urn:a:../b" stays as written. */
    if ((has_auth || (path.n && path.p[0] == '/')) &&
        remove_dot_segments(path.p) != 0) {
        free(path.p);
        return NULL;
    }
    sbuf out = {0};
    if (has_sch) {
        sb_add(&out, sch, sch_len);
        sb_add(&out, ":", 1);
    }
    if (has_auth) {
        sb_add(&out, "//", 2);
        sb_add(&out, auth, auth_len);
    }
    sb_add(&out, path.p, strlen(path.p));
    if (has_query) {
        sb_add(&out, "?", 1);
        sb_add(&out, query, query_len);
    }
    if (R.has_frag) {
        sb_add(&out, "#", 1);
        sb_add(&out, R.frag, R.frag_len);
    }
    sb_add(&out, "", 0);
    free(path.p);
    if (out.oom) {
        free(out.p);
        return NULL;
    }
    return out.p;
}

char *js_uri_strip_fragment(const char *uri, const char **frag)
{
    const char *h = strchr(uri, '#');
    size_t n = h ? (size_t)(h - uri) : strlen(uri);
    char *r = malloc(n + 1);
    if (!r)
        return NULL;
    memcpy(r, uri, n);
    r[n] = '\0';
    if (frag)
        *frag = h ? h + 1 : uri + n;
    return r;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *js_uri_pct_decode(const char *s, size_t *out_len)
{
    size_t n = strlen(s);
    char *r = malloc(n + 1);
    if (!r)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h = i + 2 < n ? hexval(s[i + 1]) : -1;
            int l = h >= 0 ? hexval(s[i + 2]) : -1;
            if (h < 0 || l < 0) {
                free(r);
                return NULL;
            }
            r[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            r[o++] = s[i];
        }
    }
    r[o] = '\0';
    *out_len = o;
    return r;
}

const json_value *js_pointer_get(const json_value *root, const char *ptr,
                                 size_t len,
                                 void (*visit)(void *, const json_value *),
                                 void *ud)
{
    const json_value *v = root;
    if (visit)
        visit(ud, v);
    size_t i = 0;
    if (len == 0)
        return v;
    if (ptr[0] != '/')
        return NULL;
    char tok[1024];
    while (i < len) {
        i++; /* skip '/' */
        size_t t = 0;
        while (i < len && ptr[i] != '/') {
            char c = ptr[i++];
            if (c == '~') {
                if (i >= len || (ptr[i] != '0' && ptr[i] != '1'))
                    return NULL;
                c = ptr[i++] == '0' ? '~' : '/';
            }
            if (t + 1 >= sizeof tok)
                return NULL;
            tok[t++] = c;
        }
        tok[t] = '\0';
        if (v->type == JSON_OBJECT) {
            v = json_obj_getn(v, tok, t);
        } else if (v->type == JSON_ARRAY) {
            /* RFC 6901: "0" or a digit string without leading zero */
            if (t == 0 || (t > 1 && tok[0] == '0') || t > 18)
                return NULL;
            size_t idx = 0;
            for (size_t k = 0; k < t; k++) {
                if (tok[k] < '0' || tok[k] > '9')
                    return NULL;
                idx = idx * 10 + (size_t)(tok[k] - '0');
            }
            v = idx < v->u.arr.n ? v->u.arr.items[idx] : NULL;
        } else {
            v = NULL;
        }
        if (!v)
            return NULL;
        if (visit)
            visit(ud, v);
    }
    return v;
}
