#include "model/manifest.h"

#include <fcntl.h>
#include <libfyaml.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/parse.h"
#include "base/utf8.h"
#include "model/ptype.h"

typedef struct conv {
        const char *origin;
        sked_err *err;
} conv;

static int node_error(conv *c, struct fy_node *n, const char *fmt, const char *arg) {
        struct fy_token *t = fy_node_get_type(n) == FYNT_SCALAR ? fy_node_get_scalar_token(n) : NULL;
        const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
        char text[256];
        snprintf(text, sizeof text, fmt, arg);
        if (m)
                return err_set(c->err, -EINVAL, "%s:%d:%d: %s", c->origin, m->line + 1, m->column + 1, text);
        return err_set(c->err, -EINVAL, "%s: %s", c->origin, text);
}

static bool all_digits(const char *s, size_t n) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

static bool is_one_of(const char *s, size_t n, const char *const *list) {
        for (; *list; list++)
                if (strlen(*list) == n && memcmp(*list, s, n) == 0)
                        return true;
        return false;
}

/* YAML 1.2 core schema resolution of a plain scalar.  Returns NULL for "a string". */
static json_t *plain_scalar(const char *s, size_t n, bool *ret_bad_number) {
        static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
        static const char *const trues[] = {"true", "True", "TRUE", NULL};
        static const char *const falses[] = {"false", "False", "FALSE", NULL};
        static const char *const specials[] = {".inf",  ".Inf",  ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
                                               "-.Inf", "-.INF", ".nan", ".NaN",  ".NAN",  NULL};
        *ret_bad_number = false;
        if (is_one_of(s, n, nulls))
                return json_null();
        if (is_one_of(s, n, trues))
                return json_true();
        if (is_one_of(s, n, falses))
                return json_false();
        if (is_one_of(s, n, specials)) {
                *ret_bad_number = true;
                return NULL;
        }
        /* int: [-+]?[0-9]+ ; float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
        size_t i = 0;
        if (n > 64)
                return NULL;
        if (s[0] == '-' || s[0] == '+')
                i++;
        size_t d0 = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
        size_t intdigits = i - d0;
        bool isreal = false;
        if (i < n && s[i] == '.') {
                isreal = true;
                i++;
                size_t f0 = i;
                while (i < n && s[i] >= '0' && s[i] <= '9')
                        i++;
                if (intdigits == 0 && i == f0)
                        return NULL;
        } else if (intdigits == 0)
                return NULL;
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                isreal = true;
                i++;
                if (i < n && (s[i] == '-' || s[i] == '+'))
                        i++;
                if (!all_digits(s + i, n - i))
                        return NULL;
                i = n;
        }
        if (i != n)
                return NULL;

        char buf[72];
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (!isreal) {
                int64_t v;
                if (parse_int64(buf, INT64_MIN, INT64_MAX, &v) < 0) {
                        *ret_bad_number = true;
                        return NULL;
                }
                return json_integer(v);
        }
        double d = strtod(buf, NULL);
        if (!isfinite(d)) {
                *ret_bad_number = true;
                return NULL;
        }
        return json_real(d);
}

static int scalar_to_json(conv *c, struct fy_node *n, json_t **ret) {
        size_t len, tlen = 0;
        const char *s = fy_node_get_scalar(n, &len);
        const char *tag = fy_node_get_tag(n, &tlen);
        bool bad = false;
        json_t *v = NULL;

        if (!s)
                return node_error(c, n, "%s", "unreadable scalar");
        if (memchr(s, '\0', len))
                return node_error(c, n, "%s", "NUL characters are not allowed");
        if (tag && tlen) {
                /* only !!str is useful (a plain scalar forced to a string) */
                if (!(tlen == 5 && memcmp(tag, "!!str", 5) == 0) &&
                    !(tlen == 21 && memcmp(tag, "tag:yaml.org,2002:str", 21) == 0))
                        return node_error(c, n, "%s", "YAML tags are not supported (except !!str)");
        } else if (fy_node_get_style(n) == FYNS_PLAIN) {
                v = plain_scalar(s, len, &bad);
                if (bad)
                        return node_error(c, n, "%s", "number out of range");
        }
        if (!v)
                v = json_stringn(s, len);
        if (!v)
                return node_error(c, n, "%s", "invalid UTF-8 or out of memory");
        *ret = v;
        return 0;
}

static int node_to_json(conv *c, struct fy_node *n, int depth, json_t **ret) {
        json_t *out = NULL, *v = NULL;
        void *it = NULL;
        int r;

        if (!n)
                return (*ret = json_null()) ? 0 : -ENOMEM;
        if (depth > MANIFEST_MAX_DEPTH)
                return node_error(c, n, "nesting deeper than %s levels", "32");
        if (fy_node_is_alias(n) || fy_node_get_anchor(n))
                return node_error(c, n, "%s", "anchors and aliases are not supported");

        switch (fy_node_get_type(n)) {
        case FYNT_SCALAR:
                return scalar_to_json(c, n, ret);
        case FYNT_SEQUENCE: {
                struct fy_node *e;
                out = json_array();
                if (!out)
                        return -ENOMEM;
                while ((e = fy_node_sequence_iterate(n, &it))) {
                        r = node_to_json(c, e, depth + 1, &v);
                        if (r < 0)
                                goto fail;
                        if (json_array_append_new(out, v) < 0) {
                                r = -ENOMEM;
                                goto fail;
                        }
                }
                break;
        }
        case FYNT_MAPPING: {
                struct fy_node_pair *p;
                out = json_object();
                if (!out)
                        return -ENOMEM;
                while ((p = fy_node_mapping_iterate(n, &it))) {
                        struct fy_node *k = fy_node_pair_key(p);
                        size_t klen;
                        const char *ks;
                        if (!k || fy_node_get_type(k) != FYNT_SCALAR || fy_node_is_alias(k) ||
                            !(ks = fy_node_get_scalar(k, &klen))) {
                                r = node_error(c, k ? k : n, "%s", "mapping keys must be plain strings");
                                goto fail;
                        }
                        if (klen > 256 || memchr(ks, '\0', klen)) {
                                r = node_error(c, k, "%s", "key too long or not a plain string");
                                goto fail;
                        }
                        char key[257];
                        memcpy(key, ks, klen);
                        key[klen] = '\0';
                        r = node_to_json(c, fy_node_pair_value(p), depth + 1, &v);
                        if (r < 0)
                                goto fail;
                        if (json_object_set_new(out, key, v) < 0) {
                                r = node_error(c, k, "%s", "invalid key");
                                goto fail;
                        }
                }
                break;
        }
        default:
                return node_error(c, n, "%s", "unsupported node");
        }
        *ret = out;
        return 0;
fail:
        json_decref(out);
        return r;
}

static int parse_yaml(const char *text, size_t len, const char *origin, json_t **ret, sked_err *err) {
        struct fy_diag_cfg dc;
        struct fy_diag *diag = NULL;
        struct fy_parser *fyp = NULL;
        struct fy_document *doc = NULL, *more = NULL;
        conv c = {origin, err};
        json_t *out = NULL;
        int r;

        fy_diag_cfg_default(&dc);
        dc.fp = NULL;
        dc.colorize = false;
        diag = fy_diag_create(&dc);
        if (!diag)
                return err_set(err, -ENOMEM, "%s: out of memory", origin);
        fy_diag_set_collect_errors(diag, true);

        struct fy_parse_cfg pc = {0};
        pc.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2;
        pc.diag = diag;
        fyp = fy_parser_create(&pc);
        if (!fyp || fy_parser_set_string(fyp, text, len) < 0) {
                r = err_set(err, -ENOMEM, "%s: out of memory", origin);
                goto done;
        }
        doc = fy_parse_load_document(fyp);
        if (doc) {
                more = fy_parse_load_document(fyp);
                if (more) {
                        r = err_set(err, -EINVAL, "%s: more than one YAML document", origin);
                        goto done;
                }
        }
        void *it = NULL;
        struct fy_diag_error *de = fy_diag_errors_iterate(diag, &it);
        if (de) {
                r = err_set(err, -EINVAL, "%s:%d:%d: %s", origin, de->line, de->column, de->msg);
                goto done;
        }
        if (!doc || !fy_document_root(doc)) {
                r = err_set(err, -EINVAL, "%s: empty manifest", origin);
                goto done;
        }
        struct fy_node *root = fy_document_root(doc);
        if (fy_node_get_type(root) != FYNT_MAPPING) {
                r = err_set(err, -EINVAL, "%s: expected a mapping (name: ..., handler: ...) at the top level", origin);
                goto done;
        }
        r = node_to_json(&c, root, 0, &out);
        if (r == -ENOMEM)
                err_set(err, -ENOMEM, "%s: out of memory", origin);
        if (r < 0)
                goto done;
        *ret = out;
        r = 0;
done:
        if (more)
                fy_parse_document_destroy(fyp, more);
        if (doc)
                fy_parse_document_destroy(fyp, doc);
        if (fyp)
                fy_parser_destroy(fyp);
        fy_diag_destroy(diag);
        return r;
}

static int parse_json(const char *text, size_t len, const char *origin, json_t **ret, sked_err *err) {
        json_error_t je;
        json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!v)
                return err_set(err, -EINVAL, "%s:%d:%d: %s", origin, je.line, je.column, je.text);
        if (!json_is_object(v)) {
                json_decref(v);
                return err_set(err, -EINVAL, "%s: expected an object at the top level", origin);
        }
        *ret = v;
        return 0;
}

/* A manifest is UTF-8 text (YAML 1.2 §5.2, JSON RFC 8259 §8.1), without NUL: checked
 * before either parser sees it, so that each gets only what it is made for (libfyaml
 * 0.7.12 loops forever on invalid UTF-8 after a '%' directive: tests/fuzz).  Returns 0,
 * or -EINVAL naming the line and column of the first bad byte. */
static int check_utf8(const char *text, size_t len, const char *origin, sked_err *err) {
        int line = 1, col = 1;
        for (size_t i = 0; i < len;) {
                unsigned char c = (unsigned char) text[i];
                size_t n = c && c < 0x80 ? 1 : utf8_seq((const unsigned char *) text + i, len - i);
                if (n == 0)
                        return err_set(err, -EINVAL, "%s:%d:%d: %s", origin, line, col,
                                       c ? "not valid UTF-8 (a manifest is UTF-8 text)" : "a NUL byte");
                if (c == '\n') {
                        line++;
                        col = 1;
                } else {
                        col++;
                }
                i += n;
        }
        return 0;
}

int manifest_parse(const char *text, size_t len, const char *origin, json_t **ret, sked_err *err) {
        size_t i = 0, start = 0;
        int r;

        if (!origin)
                origin = "manifest";
        if (len > MANIFEST_MAX_BYTES)
                return err_set(err, -EFBIG, "%s: larger than %d bytes", origin, MANIFEST_MAX_BYTES);
        if (len && !text)
                return err_set(err, -EINVAL, "%s: no text", origin);
        if ((r = check_utf8(text, len, origin, err)) < 0)
                return r;
        /* a UTF-8 BOM is common in files written on Windows */
        if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
                i = start = 3;
        while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
                i++;
        if (i < len && text[i] == '{')
                return parse_json(text + start, len - start, origin, ret, err); /* keeps line numbers */
        return parse_yaml(text, len, origin, ret, err);
}

int manifest_load(const char *path, json_t **ret, sked_err *err) {
        char *buf = NULL;
        size_t len = 0;
        struct stat st;
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                int e = errno;
                return err_set(err, -e, "%s: %s", path, strerror(e));
        }
        if (fstat(fd, &st) < 0) {
                int e = errno;
                r = err_set(err, -e, "%s: %s", path, strerror(e));
                goto done;
        }
        if (!S_ISREG(st.st_mode)) {
                r = err_set(err, -EINVAL, "%s: not a regular file", path);
                goto done;
        }
        /* read at most one byte past the limit, whatever stat said (the file may grow) */
        buf = malloc(MANIFEST_MAX_BYTES + 1);
        if (!buf) {
                r = err_set(err, -ENOMEM, "%s: out of memory", path);
                goto done;
        }
        while (len < MANIFEST_MAX_BYTES + 1) {
                ssize_t n = read(fd, buf + len, MANIFEST_MAX_BYTES + 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        r = err_set(err, -e, "%s: %s", path, strerror(e));
                        goto done;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        if (len > MANIFEST_MAX_BYTES) {
                r = err_set(err, -EFBIG, "%s: larger than %d bytes", path, MANIFEST_MAX_BYTES);
                goto done;
        }
        r = manifest_parse(buf, len, path, ret, err);
done:
        free(buf);
        close(fd);
        return r;
}

int manifest_load_checked(const char *path, json_t **ret, sked_err *err) {
        json_t *def = NULL;
        ptype *t = NULL;
        int r = manifest_load(path, &def, err);
        if (r < 0)
                return r;
        if ((r = ptype_from_json(def, &t, err)) < 0) {
                json_decref(def);
                if (err) {
                        char buf[SKED_ERR_MSG_MAX];
                        snprintf(buf, sizeof buf, "%s: %s", path, err->msg);
                        memcpy(err->msg, buf, sizeof err->msg);
                }
                return r;
        }
        ptype_free(t);
        *ret = def;
        return 0;
}
