#include "model/params.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/civil.h"
#include "base/strbuf.h"

static const char *const param_types[] = {"string", "int", "number", "bool", "date", "datetime", "enum", "json"};
static const char *const param_keys[] = {"name",   "type", "required",   "default",     "values",
                                         "min",    "max",  "max_length", "description", "label",
                                         "widget", "unit", "group",      "hidden"};
static const char *const field_keys[] = {"name", "type", "values", "description"};
static const char *const reserved[] = {"and", "or", "not", "in", "between", "contains", "true", "false"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool in_list(const char *s, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(s, list[i]) == 0)
                        return true;
        return false;
}

static void join_list(strbuf *b, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                strbuf_printf(b, "%s%s", i ? ", " : "", list[i]);
}

/* Appends the values of a values list, or the names of a schema array, ", "-separated. */
static void join_json(strbuf *b, const json_t *arr, const char *key) {
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
                const json_t *v = key ? json_object_get(e, key) : e;
                if (i)
                        strbuf_puts(b, ", ");
                if (json_is_string(v))
                        strbuf_puts(b, json_string_value(v));
                else if (json_is_integer(v))
                        strbuf_printf(b, "%lld", (long long) json_integer_value(v));
                else if (json_is_real(v))
                        strbuf_printf(b, "%.17g", json_real_value(v));
        }
}

const char *params_unknown_key(const json_t *obj, const char *const *known) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *) obj, key, v) {
                const char *const *k = known;
                while (*k && strcmp(key, *k))
                        k++;
                if (!*k)
                        return key;
        }
        return NULL;
}

void params_describe(const json_t *v, char *buf, size_t len) {
        switch (json_typeof(v)) {
        case JSON_STRING: {
                const char *s = json_string_value(v);
                size_t n = json_string_length(v);
                if (n > 40)
                        snprintf(buf, len, "\"%.40s...\"", s);
                else
                        snprintf(buf, len, "\"%s\"", s);
                break;
        }
        case JSON_INTEGER:
                snprintf(buf, len, "%lld", (long long) json_integer_value(v));
                break;
        case JSON_REAL:
                snprintf(buf, len, "%.17g", json_real_value(v));
                break;
        case JSON_TRUE:
                snprintf(buf, len, "true");
                break;
        case JSON_FALSE:
                snprintf(buf, len, "false");
                break;
        case JSON_NULL:
                snprintf(buf, len, "null");
                break;
        case JSON_ARRAY:
                snprintf(buf, len, "an array");
                break;
        case JSON_OBJECT:
                snprintf(buf, len, "an object");
                break;
        }
}

static int expected(sked_err *err, const char *field, const char *what, const json_t *v) {
        char got[80];
        params_describe(v, got, sizeof got);
        return err_field(err, -EINVAL, field, "expected %s, got %s", what, got);
}

/* Exact decimal/JSON number syntax only: no spaces, hex, inf or nan. */
static json_t *number_from_string(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 64 || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) || !(s[n - 1] >= '0' && s[n - 1] <= '9'))
                return NULL;
        json_t *v = json_loadb(s, n, JSON_DECODE_ANY, NULL);
        if (v && !json_is_number(v)) {
                json_decref(v);
                return NULL;
        }
        return v;
}

static bool date_shape(const char *s) {
        for (int i = 0; i < 10; i++) {
                bool dash = i == 4 || i == 7;
                if (dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
                        return false;
        }
        return s[10] == '\0';
}

static bool datetime_shape(const char *s) {
        static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
        for (size_t i = 0; i < sizeof pat - 1; i++) {
                if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
                        return false;
        }
        return s[sizeof pat - 1] == '\0';
}

static bool date_valid(const char *s) {
        char buf[32];
        civil c;
        snprintf(buf, sizeof buf, "%sT00:00:00", s);
        return civil_parse(buf, false, false, &c) == 0;
}

static double num(const json_t *v) {
        return json_number_value(v);
}

/* -1, 0, 1; exact for two integers. */
static int num_cmp(const json_t *a, const json_t *b) {
        if (json_is_integer(a) && json_is_integer(b)) {
                json_int_t x = json_integer_value(a), y = json_integer_value(b);
                return x < y ? -1 : x > y;
        }
        double x = num(a), y = num(b);
        return x < y ? -1 : x > y;
}

static bool value_listed(const json_t *values, const json_t *v) {
        size_t i;
        json_t *e;
        json_array_foreach(values, i, e) {
                if (json_is_number(v) && json_is_number(e) ? num_cmp(v, e) == 0 : json_equal(v, e))
                        return true;
        }
        return false;
}

static size_t utf8_chars(const char *s, size_t n) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++)
                if (((unsigned char) s[i] & 0xC0) != 0x80)
                        c++;
        return c;
}

int params_check_value(const json_t *def, const json_t *v, const char *field, unsigned flags, json_t **ret,
                       sked_err *err) {
        const char *type = json_string_value(json_object_get(def, "type"));
        const json_t *values = json_object_get(def, "values");
        const json_t *min = json_object_get(def, "min"), *max = json_object_get(def, "max");
        json_t *out = NULL;
        char buf[80];

        if (!type || !v)
                return err_field(err, -EINVAL, field, "internal error: bad definition");

        if (strcmp(type, "json") == 0) {
                out = json_deep_copy(v);
                if (!out)
                        return err_field(err, -ENOMEM, field, "out of memory");
                *ret = out;
                return 0;
        }

        if (strcmp(type, "string") == 0 || strcmp(type, "enum") == 0) {
                if (!json_is_string(v))
                        return expected(err, field, "a string", v);
                size_t n = json_string_length(v);
                if (n > PARAMS_STRING_MAX)
                        return err_field(err, -EINVAL, field, "longer than %d bytes", PARAMS_STRING_MAX);
                if (memchr(json_string_value(v), '\0', n))
                        return err_field(err, -EINVAL, field, "contains a NUL character");
                const json_t *ml = json_object_get(def, "max_length");
                if (ml && utf8_chars(json_string_value(v), n) > (size_t) json_integer_value(ml))
                        return err_field(err, -EINVAL, field, "longer than %lld characters",
                                         (long long) json_integer_value(ml));
                out = json_incref((json_t *) v);
        } else if (strcmp(type, "int") == 0) {
                if (json_is_integer(v))
                        out = json_incref((json_t *) v);
                else if (json_is_real(v)) {
                        double d = json_real_value(v);
                        /* 2^63 is exact as a double; anything below it fits */
                        if (d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
                                return expected(err, field, "an integer", v);
                        out = json_integer((json_int_t) d);
                } else if (json_is_string(v)) {
                        out = number_from_string(json_string_value(v));
                        if (!out || !json_is_integer(out)) {
                                json_decref(out);
                                return expected(err, field, "an integer", v);
                        }
                } else
                        return expected(err, field, "an integer", v);
        } else if (strcmp(type, "number") == 0) {
                if (json_is_number(v))
                        out = json_incref((json_t *) v);
                else if (json_is_string(v)) {
                        out = number_from_string(json_string_value(v));
                        if (!out)
                                return expected(err, field, "a number", v);
                } else
                        return expected(err, field, "a number", v);
        } else if (strcmp(type, "bool") == 0) {
                if (json_is_boolean(v))
                        out = json_incref((json_t *) v);
                else if (json_is_string(v) && strcmp(json_string_value(v), "true") == 0)
                        out = json_true();
                else if (json_is_string(v) && strcmp(json_string_value(v), "false") == 0)
                        out = json_false();
                else
                        return expected(err, field, "true or false", v);
        } else if (strcmp(type, "date") == 0) {
                if (!json_is_string(v) || !date_shape(json_string_value(v)))
                        return expected(err, field, "a date (YYYY-MM-DD)", v);
                if (!date_valid(json_string_value(v))) {
                        params_describe(v, buf, sizeof buf);
                        return err_field(err, -EINVAL, field, "%s: no such date", buf);
                }
                out = json_incref((json_t *) v);
        } else if (strcmp(type, "datetime") == 0) {
                civil c;
                if (!json_is_string(v) || !datetime_shape(json_string_value(v)))
                        return expected(err, field, "a UTC date and time (YYYY-MM-DDTHH:MM:SSZ)", v);
                if (civil_parse(json_string_value(v), true, true, &c) < 0) {
                        params_describe(v, buf, sizeof buf);
                        return err_field(err, -EINVAL, field, "%s: no such date or time", buf);
                }
                out = json_incref((json_t *) v);
        } else
                return err_field(err, -EINVAL, field, "internal error: unknown type \"%s\"", type);

        if (!out)
                return err_field(err, -ENOMEM, field, "out of memory");

        if (json_is_number(out)) {
                if (json_is_real(out) && !isfinite(json_real_value(out))) {
                        json_decref(out);
                        return expected(err, field, "a finite number", v);
                }
                if (min && num_cmp(out, min) < 0) {
                        params_describe(min, buf, sizeof buf);
                        char got[80];
                        params_describe(out, got, sizeof got);
                        json_decref(out);
                        return err_field(err, -EINVAL, field, "must be >= %s, got %s", buf, got);
                }
                if (max && num_cmp(out, max) > 0) {
                        params_describe(max, buf, sizeof buf);
                        char got[80];
                        params_describe(out, got, sizeof got);
                        json_decref(out);
                        return err_field(err, -EINVAL, field, "must be <= %s, got %s", buf, got);
                }
        }

        if (values && !(flags & PARAMS_NO_ALLOWLIST) && !value_listed(values, out)) {
                strbuf b = STRBUF_INIT;
                params_describe(out, buf, sizeof buf);
                join_json(&b, values, NULL);
                int r = err_field(err, -EINVAL, field, "expected one of: %s; got %s", strbuf_str(&b), buf);
                strbuf_free(&b);
                json_decref(out);
                return r;
        }

        *ret = out;
        return 0;
}

static bool name_ok(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > PARAMS_NAME_MAX || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
                        return false;
        return true;
}

/* The web form's hints of a parameter (label, widget, unit, group, hidden): checked
 * here so a typo fails at registration, and copied to `out` after the other keys.
 * Each widget lists the types it can edit; "select" and "radio" also take any type
 * with `values`. */
static const struct {
        const char *name, *types;
} widgets[] = {
        {"text", " string int number date datetime json "},
        {"textarea", " string json "},
        {"select", " enum "},
        {"radio", " enum "},
        {"checkbox", " bool "},
        {"date", " date "},
        {"datetime", " datetime "},
        {"number", " int number "},
};

static int ui_keys(const json_t *d, const char *path, const char *type, json_t *out, sked_err *err) {
        static const struct {
                const char *key;
                size_t max;
        } texts[] = {{"label", 200}, {"unit", 32}, {"group", 200}};
        char f[192];
        for (size_t k = 0; k < COUNT(texts); k++) {
                const json_t *v = json_object_get(d, texts[k].key);
                if (!v)
                        continue;
                snprintf(f, sizeof f, "%s.%s", path, texts[k].key);
                if (!json_is_string(v) || json_string_length(v) == 0)
                        return expected(err, f, "a non-empty string", v);
                if (json_string_length(v) > texts[k].max)
                        return err_field(err, -EINVAL, f, "longer than %zu bytes", texts[k].max);
                if (!strcmp(texts[k].key, "unit") && strcmp(type, "int") != 0 && strcmp(type, "number") != 0)
                        return err_field(err, -EINVAL, f, "not allowed for type %s (int and number only)", type);
        }
        const json_t *w = json_object_get(d, "widget");
        if (w) {
                snprintf(f, sizeof f, "%s.widget", path);
                size_t i = 0;
                while (i < COUNT(widgets) && !(json_is_string(w) && !strcmp(json_string_value(w), widgets[i].name)))
                        i++;
                if (i == COUNT(widgets)) {
                        strbuf b = STRBUF_INIT;
                        for (size_t k = 0; k < COUNT(widgets); k++)
                                strbuf_printf(&b, "%s%s", k ? ", " : "", widgets[k].name);
                        char got[80];
                        params_describe(w, got, sizeof got);
                        int r = err_field(err, -EINVAL, f, "expected one of: %s; got %s", strbuf_str(&b), got);
                        strbuf_free(&b);
                        return r;
                }
                char t[32];
                snprintf(t, sizeof t, " %s ", type);
                bool listed = json_object_get(out, "values") && (i == 2 || i == 3);
                if (!strstr(widgets[i].types, t) && !listed)
                        return err_field(err, -EINVAL, f, "\"%s\" cannot edit a parameter of type %s", widgets[i].name,
                                         type);
        }
        const json_t *h = json_object_get(d, "hidden");
        if (h) {
                snprintf(f, sizeof f, "%s.hidden", path);
                if (!json_is_boolean(h))
                        return expected(err, f, "true or false", h);
                if (json_is_true(h) && json_is_true(json_object_get(out, "required")))
                        return err_field(err, -EINVAL, f, "a required parameter cannot be hidden (give it a default)");
        }
        static const char *const order[] = {"label", "widget", "unit", "group", "hidden"};
        for (size_t k = 0; k < COUNT(order); k++) {
                json_t *v = json_object_get(d, order[k]);
                if (v && json_object_set(out, order[k], v) < 0)
                        return err_field(err, -ENOMEM, path, "out of memory");
        }
        return 0;
}

/* Normalizes one definition; `query` selects the query_fields rules. */
static int normalize_def(const json_t *d, size_t idx, const char *what, bool query, const json_t *done, json_t **ret,
                         sked_err *err) {
        char path[128], f[192];
        json_t *out = NULL, *v = NULL;
        const char *key;
        json_t *val;
        int r;

        snprintf(path, sizeof path, "%s[%zu]", what, idx);
        if (!json_is_object(d))
                return err_field(err, -EINVAL, path, "expected a mapping with at least name and type");

        const json_t *jn = json_object_get(d, "name");
        snprintf(f, sizeof f, "%s.name", path);
        if (!jn)
                return err_field(err, -EINVAL, f, "required");
        if (!json_is_string(jn))
                return expected(err, f, "a string", jn);
        const char *name = json_string_value(jn);
        if (!name_ok(name))
                return err_field(err, -EINVAL, f,
                                 "\"%.80s\": expected lowercase letters, digits and _, starting with a "
                                 "letter or _, at most %d characters",
                                 name, PARAMS_NAME_MAX);
        if (query && in_list(name, reserved, COUNT(reserved)))
                return err_field(err, -EINVAL, f, "\"%s\" is a query keyword, not allowed as a field name", name);
        size_t i;
        json_t *e;
        json_array_foreach(done, i, e) {
                if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
                        return err_field(err, -EINVAL, f, "\"%s\" is defined twice", name);
        }
        snprintf(path, sizeof path, "%s.%s", what, name);

        json_object_foreach((json_t *) d, key, val) {
                bool ok = query ? in_list(key, field_keys, COUNT(field_keys))
                                : in_list(key, param_keys, COUNT(param_keys));
                if (!ok) {
                        strbuf b = STRBUF_INIT;
                        if (query)
                                join_list(&b, field_keys, COUNT(field_keys));
                        else
                                join_list(&b, param_keys, COUNT(param_keys));
                        snprintf(f, sizeof f, "%s.%.64s", path, key);
                        r = err_field(err, -EINVAL, f, "unknown key (expected one of: %s)", strbuf_str(&b));
                        strbuf_free(&b);
                        return r;
                }
        }

        const json_t *jt = json_object_get(d, "type");
        snprintf(f, sizeof f, "%s.type", path);
        size_t ntypes = query ? COUNT(param_types) - 1 : COUNT(param_types); /* json last */
        if (!jt)
                return err_field(err, -EINVAL, f, "required");
        if (!json_is_string(jt) || !in_list(json_string_value(jt), param_types, ntypes)) {
                strbuf b = STRBUF_INIT;
                join_list(&b, param_types, ntypes);
                char got[80];
                params_describe(jt, got, sizeof got);
                r = err_field(err, -EINVAL, f, "expected one of: %s; got %s", strbuf_str(&b), got);
                strbuf_free(&b);
                return r;
        }
        const char *type = json_string_value(jt);
        bool is_enum = strcmp(type, "enum") == 0, is_string = strcmp(type, "string") == 0;
        bool is_int = strcmp(type, "int") == 0, is_number = strcmp(type, "number") == 0;

        out = json_object();
        if (!out || json_object_set(out, "name", (json_t *) jn) < 0 || json_object_set(out, "type", (json_t *) jt) < 0)
                goto oom;

        if (!query) {
                const json_t *jr = json_object_get(d, "required");
                snprintf(f, sizeof f, "%s.required", path);
                if (jr && !json_is_boolean(jr)) {
                        r = expected(err, f, "true or false", jr);
                        goto fail;
                }
                if (json_object_set_new(out, "required", json_boolean(json_is_true(jr))) < 0)
                        goto oom;
        }

        /* values, min, max, max_length: checked with a definition holding the type only,
         * then added so later checks (the default) see them */
        const json_t *jv = json_object_get(d, "values");
        snprintf(f, sizeof f, "%s.values", path);
        if (jv) {
                if (!(is_enum || is_string || is_int || is_number)) {
                        r = err_field(err, -EINVAL, f, "not allowed for type %s", type);
                        goto fail;
                }
                if (!json_is_array(jv) || json_array_size(jv) == 0 || json_array_size(jv) > PARAMS_VALUES_MAX) {
                        r = err_field(err, -EINVAL, f, "expected a list of 1 to %d values", PARAMS_VALUES_MAX);
                        goto fail;
                }
                json_t *list = json_array();
                if (!list || json_object_set_new(out, "values", list) < 0)
                        goto oom;
                json_array_foreach(jv, i, e) {
                        char ef[224];
                        snprintf(ef, sizeof ef, "%s[%zu]", f, i);
                        r = params_check_value(out, e, ef, PARAMS_NO_ALLOWLIST, &v, err);
                        if (r < 0)
                                goto fail;
                        if (is_enum && json_string_length(v) == 0) {
                                r = err_field(err, -EINVAL, ef, "must not be empty");
                                goto fail;
                        }
                        if (value_listed(list, v)) {
                                char got[80];
                                params_describe(v, got, sizeof got);
                                r = err_field(err, -EINVAL, ef, "%s is listed twice", got);
                                goto fail;
                        }
                        if (json_array_append_new(list, v) < 0) {
                                v = NULL;
                                goto oom;
                        }
                        v = NULL;
                }
        } else if (is_enum) {
                r = err_field(err, -EINVAL, f, "required for type enum");
                goto fail;
        }

        if (!query) {
                static const char *const bounds[] = {"min", "max"};
                for (size_t k = 0; k < 2; k++) {
                        const json_t *jb = json_object_get(d, bounds[k]);
                        if (!jb)
                                continue;
                        snprintf(f, sizeof f, "%s.%s", path, bounds[k]);
                        if (!(is_int || is_number)) {
                                r = err_field(err, -EINVAL, f, "not allowed for type %s", type);
                                goto fail;
                        }
                        if (is_int ? !json_is_integer(jb) : !json_is_number(jb)) {
                                r = expected(err, f, is_int ? "an integer" : "a number", jb);
                                goto fail;
                        }
                        if (json_is_real(jb) && !isfinite(json_real_value(jb))) {
                                r = expected(err, f, "a finite number", jb);
                                goto fail;
                        }
                        if (json_object_set(out, bounds[k], (json_t *) jb) < 0)
                                goto oom;
                }
                const json_t *mn = json_object_get(out, "min"), *mx = json_object_get(out, "max");
                if (mn && mx && num_cmp(mn, mx) > 0) {
                        snprintf(f, sizeof f, "%s.min", path);
                        r = err_field(err, -EINVAL, f, "greater than max");
                        goto fail;
                }
                const json_t *jl = json_object_get(d, "max_length");
                if (jl) {
                        snprintf(f, sizeof f, "%s.max_length", path);
                        if (!is_string) {
                                r = err_field(err, -EINVAL, f, "not allowed for type %s", type);
                                goto fail;
                        }
                        if (!json_is_integer(jl) || json_integer_value(jl) < 1 ||
                            json_integer_value(jl) > PARAMS_STRING_MAX) {
                                char what2[64];
                                snprintf(what2, sizeof what2, "an integer from 1 to %d", PARAMS_STRING_MAX);
                                r = expected(err, f, what2, jl);
                                goto fail;
                        }
                        if (json_object_set(out, "max_length", (json_t *) jl) < 0)
                                goto oom;
                }
                /* the listed values must respect the bounds too */
                if (json_object_get(out, "values") && (mn || mx || jl)) {
                        json_array_foreach(json_object_get(out, "values"), i, e) {
                                snprintf(f, sizeof f, "%s.values[%zu]", path, i);
                                r = params_check_value(out, e, f, PARAMS_NO_ALLOWLIST, &v, err);
                                if (r < 0)
                                        goto fail;
                                json_decref(v);
                                v = NULL;
                        }
                }
        }

        const json_t *jd = json_object_get(d, "description");
        if (jd) {
                snprintf(f, sizeof f, "%s.description", path);
                if (!json_is_string(jd)) {
                        r = expected(err, f, "a string", jd);
                        goto fail;
                }
                if (json_string_length(jd) > PARAMS_DESCRIPTION_MAX) {
                        r = err_field(err, -EINVAL, f, "longer than %d bytes", PARAMS_DESCRIPTION_MAX);
                        goto fail;
                }
        }

        if (!query) {
                const json_t *jdef = json_object_get(d, "default");
                if (jdef && !json_is_null(jdef)) {
                        snprintf(f, sizeof f, "%s.default", path);
                        if (json_is_true(json_object_get(out, "required"))) {
                                r = err_field(err, -EINVAL, f, "not allowed together with required: true");
                                goto fail;
                        }
                        r = params_check_value(out, jdef, f, 0, &v, err);
                        if (r < 0)
                                goto fail;
                        if (json_object_set_new(out, "default", v) < 0) {
                                v = NULL;
                                goto oom;
                        }
                        v = NULL;
                }
        }
        if (jd && json_object_set(out, "description", (json_t *) jd) < 0)
                goto oom;

        /* fixed key order: name, type, required, default, values, min, max, max_length, description, then
         * the form's hints (ui_keys) */
        if (json_object_get(out, "default")) {
                static const char *const after[] = {"values", "min", "max", "max_length", "description"};
                for (size_t k = 0; k < COUNT(after); k++) {
                        json_t *x = json_object_get(out, after[k]);
                        if (!x)
                                continue;
                        json_incref(x);
                        json_object_del(out, after[k]);
                        if (json_object_set_new(out, after[k], x) < 0)
                                goto oom;
                }
        }

        if (!query && (r = ui_keys(d, path, type, out, err)) < 0)
                goto fail;
        *ret = out;
        return 0;
oom:
        r = err_field(err, -ENOMEM, path, "out of memory");
fail:
        json_decref(v);
        json_decref(out);
        return r;
}

static int normalize_list(const json_t *in, const char *what, bool query, json_t **ret, sked_err *err) {
        json_t *out = json_array(), *d = NULL;
        size_t i;
        json_t *e;
        int r;

        if (!out)
                return err_field(err, -ENOMEM, what, "out of memory");
        if (in && !json_is_null(in)) {
                if (!json_is_array(in)) {
                        r = err_field(err, -EINVAL, what, "expected a list");
                        goto fail;
                }
                if (json_array_size(in) > PARAMS_MAX) {
                        r = err_field(err, -EINVAL, what, "more than %d entries", PARAMS_MAX);
                        goto fail;
                }
                json_array_foreach(in, i, e) {
                        r = normalize_def(e, i, what, query, out, &d, err);
                        if (r < 0)
                                goto fail;
                        if (json_array_append_new(out, d) < 0) {
                                r = err_field(err, -ENOMEM, what, "out of memory");
                                goto fail;
                        }
                }
        }
        *ret = out;
        return 0;
fail:
        json_decref(out);
        return r;
}

int params_schema_normalize(const json_t *in, json_t **ret, sked_err *err) {
        return normalize_list(in, "params", false, ret, err);
}

int params_fields_normalize(const json_t *in, json_t **ret, sked_err *err) {
        return normalize_list(in, "query_fields", true, ret, err);
}

int params_validate(const json_t *schema, const json_t *in, json_t **ret_normalized, sked_err *err) {
        json_t *out = NULL, *v = NULL;
        const char *key;
        json_t *val, *d;
        size_t i;
        char f[128];
        int r;

        if (!json_is_array(schema))
                return err_field(err, -EINVAL, "params", "internal error: bad schema");
        if (in && !json_is_null(in) && !json_is_object(in))
                return err_field(err, -EINVAL, "params", "expected a mapping of parameter names to values");

        if (in && json_is_object(in)) {
                json_object_foreach((json_t *) in, key, val) {
                        bool known = false;
                        json_array_foreach(schema, i, d) {
                                if (strcmp(json_string_value(json_object_get(d, "name")), key) == 0) {
                                        known = true;
                                        break;
                                }
                        }
                        if (known)
                                continue;
                        snprintf(f, sizeof f, "params.%.64s", key);
                        if (json_array_size(schema) == 0)
                                return err_field(err, -EINVAL, f, "unknown parameter (this type takes no parameters)");
                        strbuf b = STRBUF_INIT;
                        join_json(&b, schema, "name");
                        r = err_field(err, -EINVAL, f, "unknown parameter (expected one of: %s)", strbuf_str(&b));
                        strbuf_free(&b);
                        return r;
                }
        }

        out = json_object();
        if (!out)
                return err_field(err, -ENOMEM, "params", "out of memory");
        json_array_foreach(schema, i, d) {
                const char *name = json_string_value(json_object_get(d, "name"));
                const json_t *given = json_is_object(in) ? json_object_get(in, name) : NULL;
                snprintf(f, sizeof f, "params.%s", name);
                if (!given || json_is_null(given)) {
                        const json_t *dv = json_object_get(d, "default");
                        if (dv) {
                                if (json_object_set(out, name, (json_t *) dv) < 0)
                                        goto oom;
                        } else if (json_is_true(json_object_get(d, "required"))) {
                                r = err_field(err, -EINVAL, f, "required");
                                goto fail;
                        }
                        continue;
                }
                r = params_check_value(d, given, f, 0, &v, err);
                if (r < 0)
                        goto fail;
                if (json_object_set_new(out, name, v) < 0)
                        goto oom;
        }
        *ret_normalized = out;
        return 0;
oom:
        r = err_field(err, -ENOMEM, "params", "out of memory");
fail:
        json_decref(out);
        return r;
}
