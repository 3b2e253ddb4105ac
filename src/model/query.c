#include "model/query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/strbuf.h"
#include "model/params.h"

/* ---- lexer ---- */

typedef enum tok_kind {
        T_END,
        T_LPAREN,
        T_RPAREN,
        T_COMMA,
        T_OP,    /* = != < <= > >= */
        T_WORD,  /* identifier or keyword */
        T_VALUE, /* string, number or bare date: `value` holds it */
} tok_kind;

typedef struct tok {
        tok_kind kind;
        size_t pos; /* 0-based byte offset */
        const char *s;
        size_t len;
        json_t *value;
} tok;

typedef struct parser {
        const char *text;
        size_t len, off;
        tok cur;
        tok prev; /* kind/s/len of the token before cur, for messages */
        int nodes;
        sked_err *err;
} parser;

static const char *const keywords[] = {"and", "or", "not", "in", "between", "contains", "true", "false"};

static bool is_word(const tok *t, const char *kw) {
        return t->kind == T_WORD && strlen(kw) == t->len && strncasecmp(t->s, kw, t->len) == 0;
}

static bool is_keyword(const tok *t) {
        for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
                if (is_word(t, keywords[i]))
                        return true;
        return false;
}

static int perr(parser *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parser *p, size_t pos, const char *fmt, ...) {
        char text[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        return err_field(p->err, -EINVAL, "query", "at %zu: %s", pos + 1, text);
}

/* Quoted text of a token for messages. */
static void tok_text(const tok *t, char *buf, size_t len) {
        if (t->kind == T_END)
                snprintf(buf, len, "the end of the query");
        else
                snprintf(buf, len, "\"%.*s\"", (int) (t->len > 40 ? 40 : t->len), t->s);
}

static bool word_char(char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

static bool bare_char(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ':' || c == '.' ||
               c == '+' || c == '-';
}

static bool looks_like_date(const char *s, size_t n) {
        if (n < 10)
                return false;
        for (int i = 0; i < 10; i++) {
                bool dash = i == 4 || i == 7;
                if (dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
                        return false;
        }
        return n == 10 || s[10] == 'T';
}

static int next(parser *p) {
        const char *t = p->text;
        size_t i = p->off;

        json_decref(p->cur.value);
        p->prev = p->cur;
        p->prev.value = NULL;
        memset(&p->cur, 0, sizeof p->cur);

        while (i < p->len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
                i++;
        p->cur.pos = i;
        p->cur.s = t + i;
        if (i >= p->len) {
                p->cur.kind = T_END;
                p->off = i;
                return 0;
        }
        char c = t[i];
        size_t start = i;
        if (c == '(' || c == ')' || c == ',') {
                p->cur.kind = c == '(' ? T_LPAREN : c == ')' ? T_RPAREN : T_COMMA;
                i++;
        } else if (c == '=' || c == '<' || c == '>' || c == '!') {
                p->cur.kind = T_OP;
                i++;
                if (i < p->len && t[i] == '=' && c != '=')
                        i++;
                else if (c == '!') {
                        p->cur.len = 1;
                        return perr(p, start, "unknown operator \"!\" (did you mean \"!=\" or \"not\"?)");
                }
        } else if (c == '"') {
                i++;
                while (i < p->len && t[i] != '"') {
                        if (t[i] == '\\' && i + 1 < p->len)
                                i++;
                        i++;
                }
                if (i >= p->len)
                        return perr(p, start, "unterminated string");
                i++;
                p->cur.kind = T_VALUE;
                p->cur.value = json_loadb(t + start, i - start, JSON_DECODE_ANY, NULL);
                if (!p->cur.value || !json_is_string(p->cur.value))
                        return perr(p, start, "invalid string (bad escape or not UTF-8)");
        } else if (word_char(c, true)) {
                while (i < p->len && word_char(t[i], false))
                        i++;
                p->cur.kind = T_WORD;
        } else if ((c >= '0' && c <= '9') || (c == '-' && i + 1 < p->len && t[i + 1] >= '0' && t[i + 1] <= '9')) {
                i++;
                while (i < p->len && bare_char(t[i]))
                        i++;
                p->cur.kind = T_VALUE;
                if (looks_like_date(t + start, i - start))
                        p->cur.value = json_stringn(t + start, i - start);
                else if (i - start <= 64)
                        p->cur.value = json_loadb(t + start, i - start, JSON_DECODE_ANY, NULL);
                if (!p->cur.value || !(json_is_number(p->cur.value) || json_is_string(p->cur.value)))
                        return perr(p, start, "invalid number \"%.*s\"", (int) (i - start > 40 ? 40 : i - start),
                                    t + start);
        } else
                return perr(p, start, "unexpected character '%c'", c >= 32 && c < 127 ? c : '?');
        p->cur.len = i - start;
        p->off = i;
        return 0;
}

static int count_node(parser *p) {
        if (++p->nodes > QUERY_NODES_MAX)
                return perr(p, p->cur.pos, "more than %d conditions", QUERY_NODES_MAX);
        return 0;
}

static int parse_or(parser *p, int depth, json_t **ret);

static int parse_value(parser *p, json_t **ret) {
        char prev[64];
        tok_text(&p->prev, prev, sizeof prev);
        json_t *v = NULL;
        if (p->cur.kind == T_VALUE)
                v = json_incref(p->cur.value);
        else if (is_word(&p->cur, "true") || is_word(&p->cur, "false"))
                v = json_boolean(is_word(&p->cur, "true"));
        if (v) {
                int r = next(p);
                if (r < 0) {
                        json_decref(v);
                        return r;
                }
                *ret = v;
                return 0;
        }
        if (p->cur.kind == T_WORD && !is_keyword(&p->cur))
                return perr(p, p->cur.pos, "expected a value after %s (strings need double quotes)", prev);
        return perr(p, p->cur.pos, "expected a value after %s", prev);
}

static int parse_comparison(parser *p, json_t **ret) {
        json_t *value = NULL, *v = NULL;
        char got[64], field[80];
        const char *op;
        int r;

        if (p->cur.kind != T_WORD || is_keyword(&p->cur)) {
                tok_text(&p->cur, got, sizeof got);
                return perr(p, p->cur.pos, "expected a field name, got %s", got);
        }
        if (p->cur.len > 64)
                return perr(p, p->cur.pos, "field name longer than 64 characters");
        snprintf(field, sizeof field, "%.*s", (int) p->cur.len, p->cur.s);
        r = count_node(p);
        if (r < 0)
                return r;
        r = next(p);
        if (r < 0)
                return r;

        if (p->cur.kind == T_OP) {
                static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
                op = NULL;
                for (size_t i = 0; i < 6; i++)
                        if (strlen(ops[i]) == p->cur.len && strncmp(ops[i], p->cur.s, p->cur.len) == 0)
                                op = ops[i];
                if (!op)
                        return perr(p, p->cur.pos, "unknown operator");
                r = next(p);
                if (r < 0)
                        return r;
                r = parse_value(p, &value);
                if (r < 0)
                        return r;
        } else if (is_word(&p->cur, "contains")) {
                op = "contains";
                r = next(p);
                if (r < 0)
                        return r;
                r = parse_value(p, &value);
                if (r < 0)
                        return r;
        } else if (is_word(&p->cur, "between")) {
                op = "between";
                value = json_array();
                if (!value)
                        return -ENOMEM;
                r = next(p);
                if (r < 0)
                        goto fail;
                r = parse_value(p, &v);
                if (r < 0)
                        goto fail;
                json_array_append_new(value, v);
                v = NULL;
                if (!is_word(&p->cur, "and")) {
                        tok_text(&p->cur, got, sizeof got);
                        r = perr(p, p->cur.pos, "expected \"and\" after the lower bound of \"between\", got %s", got);
                        goto fail;
                }
                r = next(p);
                if (r < 0)
                        goto fail;
                r = parse_value(p, &v);
                if (r < 0)
                        goto fail;
                json_array_append_new(value, v);
                v = NULL;
        } else if (is_word(&p->cur, "in")) {
                op = "in";
                value = json_array();
                if (!value)
                        return -ENOMEM;
                r = next(p);
                if (r < 0)
                        goto fail;
                if (p->cur.kind != T_LPAREN) {
                        r = perr(p, p->cur.pos, "expected \"(\" after \"in\"");
                        goto fail;
                }
                do {
                        r = next(p);
                        if (r < 0)
                                goto fail;
                        if (json_array_size(value) >= QUERY_LIST_MAX) {
                                r = perr(p, p->cur.pos, "more than %d values in a list", QUERY_LIST_MAX);
                                goto fail;
                        }
                        r = parse_value(p, &v);
                        if (r < 0)
                                goto fail;
                        json_array_append_new(value, v);
                        v = NULL;
                } while (p->cur.kind == T_COMMA);
                if (p->cur.kind != T_RPAREN) {
                        tok_text(&p->cur, got, sizeof got);
                        r = perr(p, p->cur.pos, "expected \",\" or \")\" in the list, got %s", got);
                        goto fail;
                }
                r = next(p);
                if (r < 0)
                        goto fail;
        } else {
                tok_text(&p->cur, got, sizeof got);
                return perr(p, p->cur.pos,
                            "expected an operator after \"%s\" (=, !=, <, <=, >, >=, in, between, contains), got %s",
                            field, got);
        }
        *ret = json_pack("{s:s, s:s, s:o}", "field", field, "op", op, "value", value);
        return *ret ? 0 : -ENOMEM;
fail:
        json_decref(value);
        return r;
}

static int parse_unary(parser *p, int depth, json_t **ret) {
        json_t *child = NULL;
        int r;

        if (is_word(&p->cur, "not") || p->cur.kind == T_LPAREN) {
                if (depth >= QUERY_DEPTH_MAX)
                        return perr(p, p->cur.pos, "nested deeper than %d levels", QUERY_DEPTH_MAX);
        }
        if (is_word(&p->cur, "not")) {
                r = count_node(p);
                if (r < 0)
                        return r;
                r = next(p);
                if (r < 0)
                        return r;
                r = parse_unary(p, depth + 1, &child);
                if (r < 0)
                        return r;
                *ret = json_pack("{s:o}", "not", child);
                return *ret ? 0 : -ENOMEM;
        }
        if (p->cur.kind == T_LPAREN) {
                size_t open = p->cur.pos;
                r = next(p);
                if (r < 0)
                        return r;
                r = parse_or(p, depth + 1, &child);
                if (r < 0)
                        return r;
                if (p->cur.kind != T_RPAREN) {
                        char got[64];
                        tok_text(&p->cur, got, sizeof got);
                        json_decref(child);
                        return perr(p, p->cur.pos, "expected \")\" to close the \"(\" at %zu, got %s", open + 1, got);
                }
                r = next(p);
                if (r < 0) {
                        json_decref(child);
                        return r;
                }
                *ret = child;
                return 0;
        }
        return parse_comparison(p, ret);
}

/* One level of `and` (over unary) or `or` (over and). */
static int parse_chain(parser *p, int depth, bool is_or, json_t **ret) {
        const char *kw = is_or ? "or" : "and";
        json_t *list = NULL, *e = NULL;
        int r;

        r = is_or ? parse_chain(p, depth, false, &e) : parse_unary(p, depth, &e);
        if (r < 0)
                return r;
        if (!is_word(&p->cur, kw)) {
                *ret = e;
                return 0;
        }
        list = json_array();
        if (!list || json_array_append_new(list, e) < 0) {
                json_decref(list);
                return -ENOMEM;
        }
        r = count_node(p);
        if (r < 0)
                goto fail;
        while (is_word(&p->cur, kw)) {
                r = next(p);
                if (r < 0)
                        goto fail;
                r = is_or ? parse_chain(p, depth, false, &e) : parse_unary(p, depth, &e);
                if (r < 0)
                        goto fail;
                if (json_array_append_new(list, e) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        *ret = json_pack("{s:o}", kw, list);
        return *ret ? 0 : -ENOMEM;
fail:
        json_decref(list);
        return r;
}

static int parse_or(parser *p, int depth, json_t **ret) {
        return parse_chain(p, depth, true, ret);
}

int query_parse_text(const char *text, json_t **ret_ast, sked_err *err) {
        parser p = {.text = text, .len = text ? strlen(text) : 0, .err = err};
        json_t *ast = NULL;
        int r;

        if (p.len > QUERY_TEXT_MAX)
                return err_field(err, -EINVAL, "query", "longer than %d bytes", QUERY_TEXT_MAX);
        r = next(&p);
        if (r < 0)
                goto done;
        if (p.cur.kind == T_END) {
                r = err_field(err, -EINVAL, "query", "empty");
                goto done;
        }
        r = parse_or(&p, 0, &ast);
        if (r < 0)
                goto done;
        if (p.cur.kind != T_END) {
                char got[64];
                tok_text(&p.cur, got, sizeof got);
                r = perr(&p, p.cur.pos, "expected \"and\", \"or\" or the end of the query, got %s", got);
                goto done;
        }
        *ret_ast = ast;
        ast = NULL;
        r = 0;
done:
        if (r == -ENOMEM)
                err_field(err, -ENOMEM, "query", "out of memory");
        json_decref(p.cur.value);
        json_decref(ast);
        return r;
}

/* ---- validation ---- */

typedef struct vstate {
        const json_t *fields;
        int nodes;
        sked_err *err;
} vstate;

static const char *const all_ops[] = {"=", "!=", "<", "<=", ">", ">=", "in", "between", "contains", NULL};

static const char *const *ops_for(const char *type) {
        static const char *const str_ops[] = {"=", "!=", "<", "<=", ">", ">=", "in", "between", "contains", NULL};
        static const char *const ord_ops[] = {"=", "!=", "<", "<=", ">", ">=", "in", "between", NULL};
        static const char *const enum_ops[] = {"=", "!=", "in", NULL};
        static const char *const bool_ops[] = {"=", "!=", NULL};
        if (strcmp(type, "string") == 0)
                return str_ops;
        if (strcmp(type, "enum") == 0)
                return enum_ops;
        if (strcmp(type, "bool") == 0)
                return bool_ops;
        return ord_ops;
}

static bool op_in(const char *op, const char *const *list) {
        for (; *list; list++)
                if (strcmp(op, *list) == 0)
                        return true;
        return false;
}

static int bad_node(vstate *s, const json_t *n) {
        char got[80];
        params_describe(n, got, sizeof got);
        return err_field(s->err, -EINVAL, "query",
                         "expected a condition {\"field\", \"op\", \"value\"}, {\"and\": [...]}, {\"or\": [...]} or "
                         "{\"not\": ...}, got %s",
                         got);
}

static int validate_node(vstate *s, const json_t *n, int depth, json_t **ret);

static int validate_comparison(vstate *s, const json_t *n, json_t **ret) {
        const json_t *jf = json_object_get(n, "field"), *jo = json_object_get(n, "op"),
                     *jv = json_object_get(n, "value");
        const char *key;
        json_t *val, *def = NULL, *d, *out = NULL, *v = NULL;
        size_t i;
        char f[96];
        int r;

        json_object_foreach((json_t *) n, key, val) {
                if (strcmp(key, "field") && strcmp(key, "op") && strcmp(key, "value"))
                        return err_field(s->err, -EINVAL, "query",
                                         "unknown key \"%.64s\" in a condition (expected field, op, value)", key);
        }
        if (!json_is_string(jf) || !json_is_string(jo) || !jv)
                return err_field(s->err, -EINVAL, "query",
                                 "a condition needs field (a string), op (a string) and value");
        const char *field = json_string_value(jf), *op = json_string_value(jo);
        snprintf(f, sizeof f, "query.%.64s", field);
        json_array_foreach(s->fields, i, d) {
                if (strcmp(json_string_value(json_object_get(d, "name")), field) == 0)
                        def = d;
        }
        if (!def) {
                if (json_array_size(s->fields) == 0)
                        return err_field(s->err, -EINVAL, f, "not a queryable field of this type (it has none)");
                strbuf b = STRBUF_INIT;
                json_array_foreach(s->fields, i, d)
                        strbuf_printf(&b, "%s%s", i ? ", " : "", json_string_value(json_object_get(d, "name")));
                r = err_field(s->err, -EINVAL, f, "not a queryable field of this type (expected one of: %s)",
                              strbuf_str(&b));
                strbuf_free(&b);
                return r;
        }
        const char *type = json_string_value(json_object_get(def, "type"));
        if (!op_in(op, all_ops))
                return err_field(s->err, -EINVAL, f,
                                 "unknown operator \"%.16s\" (expected =, !=, <, <=, >, >=, in, between, contains)",
                                 op);
        const char *const *allowed = ops_for(type);
        if (!op_in(op, allowed)) {
                strbuf b = STRBUF_INIT;
                for (const char *const *a = allowed; *a; a++)
                        strbuf_printf(&b, "%s%s", a == allowed ? "" : ", ", *a);
                r = err_field(s->err, -EINVAL, f, "operator \"%s\" not allowed for %s %s field (allowed: %s)", op,
                              strcmp(type, "enum") == 0 || strcmp(type, "int") == 0 ? "an" : "a", type, strbuf_str(&b));
                strbuf_free(&b);
                return r;
        }

        bool is_in = strcmp(op, "in") == 0, is_between = strcmp(op, "between") == 0;
        if (is_in || is_between) {
                if (is_in && (!json_is_array(jv) || json_array_size(jv) == 0 || json_array_size(jv) > QUERY_LIST_MAX))
                        return err_field(s->err, -EINVAL, f, "\"in\" needs a list of 1 to %d values", QUERY_LIST_MAX);
                if (is_between && (!json_is_array(jv) || json_array_size(jv) != 2))
                        return err_field(s->err, -EINVAL, f, "\"between\" needs a list of two values [low, high]");
                out = json_array();
                if (!out)
                        return -ENOMEM;
                json_array_foreach(jv, i, d) {
                        r = params_check_value(def, d, f, is_in ? 0 : PARAMS_NO_ALLOWLIST, &v, s->err);
                        if (r < 0)
                                goto fail;
                        if (json_array_append_new(out, v) < 0) {
                                r = -ENOMEM;
                                goto fail;
                        }
                }
        } else {
                bool plain = strcmp(op, "=") == 0 || strcmp(op, "!=") == 0;
                r = params_check_value(def, jv, f, plain ? 0 : PARAMS_NO_ALLOWLIST, &out, s->err);
                if (r < 0)
                        return r;
        }
        *ret = json_pack("{s:s, s:s, s:o}", "field", field, "op", op, "value", out);
        return *ret ? 0 : -ENOMEM;
fail:
        json_decref(out);
        return r;
}

static int validate_node(vstate *s, const json_t *n, int depth, json_t **ret) {
        json_t *out = NULL, *list = NULL, *c = NULL;
        int r;

        if (!json_is_object(n))
                return bad_node(s, n);
        if (depth > QUERY_DEPTH_MAX)
                return err_field(s->err, -EINVAL, "query", "nested deeper than %d levels", QUERY_DEPTH_MAX);
        if (++s->nodes > QUERY_NODES_MAX)
                return err_field(s->err, -EINVAL, "query", "more than %d conditions", QUERY_NODES_MAX);

        const json_t *jand = json_object_get(n, "and"), *jor = json_object_get(n, "or"),
                     *jnot = json_object_get(n, "not");
        if (jand || jor || jnot) {
                if (json_object_size(n) != 1)
                        return bad_node(s, n);
        } else
                return validate_comparison(s, n, ret);

        if (jnot) {
                r = validate_node(s, jnot, depth + 1, &c);
                if (r < 0)
                        return r;
                *ret = json_pack("{s:o}", "not", c);
                return *ret ? 0 : -ENOMEM;
        }

        const char *kw = jand ? "and" : "or";
        const json_t *in = jand ? jand : jor;
        size_t i;
        json_t *e;
        if (!json_is_array(in) || json_array_size(in) == 0)
                return err_field(s->err, -EINVAL, "query", "\"%s\" needs a non-empty list of conditions", kw);
        list = json_array();
        if (!list)
                return -ENOMEM;
        json_array_foreach(in, i, e) {
                r = validate_node(s, e, depth + 1, &c);
                if (r < 0)
                        goto fail;
                /* flatten a and (b and c) into a and b and c: the canonical form */
                json_t *same = json_object_get(c, kw);
                if (same && json_object_size(c) == 1) {
                        r = json_array_extend(list, same) < 0 ? -ENOMEM : 0;
                        json_decref(c);
                } else
                        r = json_array_append_new(list, c) < 0 ? -ENOMEM : 0;
                if (r < 0)
                        goto fail;
        }
        if (json_array_size(list) == 1) {
                out = json_incref(json_array_get(list, 0));
                json_decref(list);
        } else {
                out = json_pack("{s:o}", kw, list);
                if (!out)
                        return -ENOMEM;
        }
        *ret = out;
        return 0;
fail:
        json_decref(list);
        return r;
}

int query_validate(const json_t *fields, const json_t *ast, json_t **ret_normalized, sked_err *err) {
        vstate s = {.fields = fields, .err = err};
        json_t *out = NULL;
        if (!json_is_array(fields))
                return err_field(err, -EINVAL, "query", "internal error: bad field list");
        int r = validate_node(&s, ast, 1, &out);
        if (r == -ENOMEM)
                return err_field(err, -ENOMEM, "query", "out of memory");
        if (r < 0)
                return r;
        *ret_normalized = out;
        return 0;
}

/* ---- evaluation ---- */

/* Compares two values of the same JSON kind; false in *ok when they are not comparable. */
static int cmp(const json_t *a, const json_t *b, bool *ok) {
        *ok = true;
        if (json_is_integer(a) && json_is_integer(b)) {
                json_int_t x = json_integer_value(a), y = json_integer_value(b);
                return x < y ? -1 : x > y;
        }
        if (json_is_number(a) && json_is_number(b)) {
                double x = json_number_value(a), y = json_number_value(b);
                return x < y ? -1 : x > y;
        }
        if (json_is_string(a) && json_is_string(b)) {
                int c = strcmp(json_string_value(a), json_string_value(b));
                return c < 0 ? -1 : c > 0;
        }
        if (json_is_boolean(a) && json_is_boolean(b))
                return json_is_true(a) == json_is_true(b) ? 0 : 1;
        *ok = false;
        return 0;
}

static int eval_node(const json_t *n, const json_t *item, int depth, bool *ret) {
        const json_t *x;
        size_t i;
        json_t *e;
        bool b, ok;
        int r, c;

        if (!json_is_object(n) || depth > QUERY_DEPTH_MAX + 1)
                return -EINVAL;
        if ((x = json_object_get(n, "not"))) {
                r = eval_node(x, item, depth + 1, &b);
                if (r < 0)
                        return r;
                *ret = !b;
                return 0;
        }
        bool is_and = (x = json_object_get(n, "and")) != NULL;
        if (is_and || (x = json_object_get(n, "or"))) {
                if (!json_is_array(x))
                        return -EINVAL;
                /* evaluate all children so a malformed one is reported either way */
                bool acc = is_and;
                json_array_foreach(x, i, e) {
                        r = eval_node(e, item, depth + 1, &b);
                        if (r < 0)
                                return r;
                        acc = is_and ? acc && b : acc || b;
                }
                *ret = acc;
                return 0;
        }

        const char *field = json_string_value(json_object_get(n, "field"));
        const char *op = json_string_value(json_object_get(n, "op"));
        const json_t *v = json_object_get(n, "value");
        if (!field || !op || !v)
                return -EINVAL;
        const json_t *iv = json_is_object(item) ? json_object_get(item, field) : NULL;
        bool present = iv && !json_is_null(iv);

        if (strcmp(op, "in") == 0 || strcmp(op, "between") == 0) {
                if (!json_is_array(v))
                        return -EINVAL;
                *ret = false;
                if (!present)
                        return 0;
                if (op[0] == 'i') {
                        json_array_foreach(v, i, e) {
                                c = cmp(iv, e, &ok);
                                if (ok && c == 0)
                                        *ret = true;
                        }
                } else {
                        if (json_array_size(v) != 2)
                                return -EINVAL;
                        int lo = cmp(iv, json_array_get(v, 0), &ok);
                        bool ok2;
                        int hi = cmp(iv, json_array_get(v, 1), &ok2);
                        *ret = ok && ok2 && !json_is_boolean(iv) && lo >= 0 && hi <= 0;
                }
                return 0;
        }
        if (strcmp(op, "contains") == 0) {
                *ret = present && json_is_string(iv) && json_is_string(v) &&
                       strstr(json_string_value(iv), json_string_value(v)) != NULL;
                return 0;
        }
        if (!op_in(op, all_ops))
                return -EINVAL;
        *ret = false;
        if (!present)
                return 0;
        c = cmp(iv, v, &ok);
        if (!ok)
                return 0;
        bool ordered = !json_is_boolean(iv);
        if (strcmp(op, "=") == 0)
                *ret = c == 0;
        else if (strcmp(op, "!=") == 0)
                *ret = c != 0;
        else if (!ordered)
                *ret = false;
        else if (strcmp(op, "<") == 0)
                *ret = c < 0;
        else if (strcmp(op, "<=") == 0)
                *ret = c <= 0;
        else if (strcmp(op, ">") == 0)
                *ret = c > 0;
        else
                *ret = c >= 0;
        return 0;
}

int query_eval(const json_t *ast, const json_t *item, bool *ret) {
        bool b;
        int r = eval_node(ast, item, 1, &b);
        if (r < 0)
                return r;
        *ret = b;
        return 0;
}

/* ---- canonical text ---- */

static bool ident_ok(const char *s) {
        if (!s || !word_char(s[0], true))
                return false;
        for (const char *p = s + 1; *p; p++)
                if (!word_char(*p, false))
                        return false;
        for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
                if (strcasecmp(s, keywords[i]) == 0)
                        return false;
        return true;
}

static int put_value(strbuf *b, const json_t *v) {
        if (!(json_is_string(v) || json_is_number(v) || json_is_boolean(v)))
                return -EINVAL;
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        if (!s)
                return -ENOMEM;
        strbuf_puts(b, s);
        free(s);
        return 0;
}

/* Kind of a node for parenthesizing: 0 comparison, 1 not, 2 and, 3 or. */
static int kind_of(const json_t *n) {
        if (json_object_get(n, "or"))
                return 3;
        if (json_object_get(n, "and"))
                return 2;
        if (json_object_get(n, "not"))
                return 1;
        return 0;
}

static int to_text(strbuf *b, const json_t *n, int depth);

static int child_text(strbuf *b, const json_t *c, bool parens, int depth) {
        int r;
        if (parens)
                strbuf_putc(b, '(');
        r = to_text(b, c, depth + 1);
        if (parens)
                strbuf_putc(b, ')');
        return r;
}

static int to_text(strbuf *b, const json_t *n, int depth) {
        size_t i;
        json_t *e;
        int r, k;

        if (!json_is_object(n) || depth > QUERY_DEPTH_MAX + 1)
                return -EINVAL;
        k = kind_of(n);
        if (k == 1) {
                strbuf_puts(b, "not ");
                const json_t *c = json_object_get(n, "not");
                return child_text(b, c, kind_of(c) >= 2, depth);
        }
        if (k >= 2) {
                const json_t *list = json_object_get(n, k == 2 ? "and" : "or");
                if (!json_is_array(list) || json_array_size(list) == 0)
                        return -EINVAL;
                json_array_foreach(list, i, e) {
                        if (i)
                                strbuf_puts(b, k == 2 ? " and " : " or ");
                        /* and binds tighter than or; same-kind children keep their grouping */
                        int ck = kind_of(e);
                        r = child_text(b, e, ck >= k || (k == 2 && ck == 3), depth);
                        if (r < 0)
                                return r;
                }
                return 0;
        }

        const char *field = json_string_value(json_object_get(n, "field"));
        const char *op = json_string_value(json_object_get(n, "op"));
        const json_t *v = json_object_get(n, "value");
        if (!ident_ok(field) || !op || !op_in(op, all_ops) || !v)
                return -EINVAL;
        strbuf_printf(b, "%s %s ", field, op);
        if (strcmp(op, "in") == 0) {
                if (!json_is_array(v) || json_array_size(v) == 0)
                        return -EINVAL;
                strbuf_putc(b, '(');
                json_array_foreach(v, i, e) {
                        if (i)
                                strbuf_puts(b, ", ");
                        r = put_value(b, e);
                        if (r < 0)
                                return r;
                }
                strbuf_putc(b, ')');
                return 0;
        }
        if (strcmp(op, "between") == 0) {
                if (!json_is_array(v) || json_array_size(v) != 2)
                        return -EINVAL;
                r = put_value(b, json_array_get(v, 0));
                if (r < 0)
                        return r;
                strbuf_puts(b, " and ");
                return put_value(b, json_array_get(v, 1));
        }
        return put_value(b, v);
}

char *query_to_text(const json_t *ast) {
        strbuf b = STRBUF_INIT;
        if (to_text(&b, ast, 1) < 0 || b.oom) {
                strbuf_free(&b);
                return NULL;
        }
        return strbuf_steal(&b);
}
