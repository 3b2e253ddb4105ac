#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/params.h"

static json_t *J(const char *text) {
        json_error_t je;
        json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
        if (!v)
                fail_msg("bad test JSON %s: %s", text, je.text);
        return v;
}

static void assert_json(const json_t *got, const char *want_text) {
        json_t *want = J(want_text);
        if (!json_equal(got, want)) {
                char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
                fail_msg("got  %s\nwant %s", g, want_text);
        }
        json_decref(want);
}

static json_t *schema(const char *text) {
        json_t *in = J(text), *out = NULL;
        sked_err e = {0};
        if (params_schema_normalize(in, &out, &e) < 0)
                fail_msg("schema %s: %s", text, e.msg);
        json_decref(in);
        return out;
}

static void schema_bad(const char *text, const char *msg) {
        json_t *in = J(text), *out = NULL;
        sked_err e = {0};
        assert_int_equal(params_schema_normalize(in, &out, &e), -EINVAL);
        assert_null(out);
        assert_string_equal(e.msg, msg);
        json_decref(in);
}

static const char *SCHEMA = "[{\"name\":\"account\",\"type\":\"string\",\"required\":true,\"max_length\":8},"
                            " {\"name\":\"amount\",\"type\":\"int\",\"min\":0,\"max\":1000,\"default\":10},"
                            " {\"name\":\"rate\",\"type\":\"number\",\"min\":-1.5,\"max\":2},"
                            " {\"name\":\"dry_run\",\"type\":\"bool\",\"default\":false},"
                            " {\"name\":\"day\",\"type\":\"date\"},"
                            " {\"name\":\"at\",\"type\":\"datetime\"},"
                            " {\"name\":\"tier\",\"type\":\"enum\",\"values\":[\"gold\",\"silver\"]},"
                            " {\"name\":\"region\",\"type\":\"string\",\"values\":[\"eu\",\"us\"]},"
                            " {\"name\":\"size\",\"type\":\"int\",\"values\":[1,2,3]},"
                            " {\"name\":\"extra\",\"type\":\"json\"}]";

static void check_ok(const json_t *s, const char *in, const char *want) {
        json_t *i = J(in), *out = NULL;
        sked_err e = {0};
        if (params_validate(s, i, &out, &e) < 0)
                fail_msg("%s: %s", in, e.msg);
        assert_json(out, want);
        json_decref(out);
        json_decref(i);
}

static void check_bad(const json_t *s, const char *in, const char *msg) {
        json_t *i = J(in), *out = NULL;
        sked_err e = {0};
        assert_int_equal(params_validate(s, i, &out, &e), -EINVAL);
        assert_null(out);
        assert_string_equal(e.msg, msg);
        json_decref(i);
}

static void normalize_schema(void **state) {
        (void) state;
        json_t *s = schema(SCHEMA);
        assert_json(json_array_get(s, 0),
                    "{\"name\":\"account\",\"type\":\"string\",\"required\":true,\"max_length\":8}");
        assert_json(json_array_get(s, 1),
                    "{\"name\":\"amount\",\"type\":\"int\",\"required\":false,\"default\":10,\"min\":0,\"max\":1000}");
        assert_json(json_array_get(s, 4), "{\"name\":\"day\",\"type\":\"date\",\"required\":false}");
        /* key order is fixed: name, type, required, default, ... */
        char *txt = json_dumps(json_array_get(s, 1), JSON_COMPACT);
        assert_string_equal(
                txt, "{\"name\":\"amount\",\"type\":\"int\",\"required\":false,\"default\":10,\"min\":0,\"max\":1000}");
        free(txt);
        json_decref(s);

        /* NULL and [] both mean "no parameters" */
        json_t *out = NULL;
        assert_int_equal(params_schema_normalize(NULL, &out, NULL), 0);
        assert_json(out, "[]");
        json_decref(out);
}

static void schema_errors(void **state) {
        (void) state;
        schema_bad("{}", "params: expected a list");
        schema_bad("[{\"type\":\"int\"}]", "params[0].name: required");
        schema_bad("[{\"name\":\"Bad\",\"type\":\"int\"}]",
                   "params[0].name: \"Bad\": expected lowercase letters, digits and _, starting with a letter or _, at "
                   "most 64 characters");
        schema_bad("[{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"a\",\"type\":\"int\"}]",
                   "params[1].name: \"a\" is defined twice");
        schema_bad("[{\"name\":\"a\",\"type\":\"int\",\"reqired\":true}]",
                   "params.a.reqired: unknown key (expected one of: name, type, required, default, values, min, max, "
                   "max_length, description, label, widget, unit, group, hidden)");
        schema_bad(
                "[{\"name\":\"a\",\"type\":\"float\"}]",
                "params.a.type: expected one of: string, int, number, bool, date, datetime, enum, json; got \"float\"");
        schema_bad("[{\"name\":\"a\"}]", "params.a.type: required");
        schema_bad("[{\"name\":\"tier\",\"type\":\"enum\"}]", "params.tier.values: required for type enum");
        schema_bad("[{\"name\":\"tier\",\"type\":\"enum\",\"values\":[]}]",
                   "params.tier.values: expected a list of 1 to 256 values");
        schema_bad("[{\"name\":\"tier\",\"type\":\"enum\",\"values\":[\"a\",\"a\"]}]",
                   "params.tier.values[1]: \"a\" is listed twice");
        schema_bad("[{\"name\":\"b\",\"type\":\"bool\",\"values\":[true]}]",
                   "params.b.values: not allowed for type bool");
        schema_bad("[{\"name\":\"a\",\"type\":\"int\",\"default\":\"x\"}]",
                   "params.a.default: expected an integer, got \"x\"");
        schema_bad("[{\"name\":\"a\",\"type\":\"int\",\"min\":5,\"default\":1}]",
                   "params.a.default: must be >= 5, got 1");
        schema_bad("[{\"name\":\"t\",\"type\":\"enum\",\"values\":[\"x\"],\"default\":\"y\"}]",
                   "params.t.default: expected one of: x; got \"y\"");
        schema_bad("[{\"name\":\"d\",\"type\":\"date\",\"default\":\"2025-02-29\"}]",
                   "params.d.default: \"2025-02-29\": no such date");
        schema_bad("[{\"name\":\"a\",\"type\":\"int\",\"min\":5,\"max\":1}]", "params.a.min: greater than max");
        schema_bad("[{\"name\":\"a\",\"type\":\"int\",\"min\":1.5}]", "params.a.min: expected an integer, got 1.5");
        schema_bad("[{\"name\":\"a\",\"type\":\"string\",\"min\":1}]", "params.a.min: not allowed for type string");
        schema_bad("[{\"name\":\"a\",\"type\":\"int\",\"max_length\":1}]",
                   "params.a.max_length: not allowed for type int");
        schema_bad("[{\"name\":\"a\",\"type\":\"string\",\"max_length\":0}]",
                   "params.a.max_length: expected an integer from 1 to 65536, got 0");
        schema_bad("[{\"name\":\"a\",\"type\":\"int\",\"required\":\"yes\"}]",
                   "params.a.required: expected true or false, got \"yes\"");
        schema_bad("[{\"name\":\"a\",\"type\":\"int\",\"required\":true,\"default\":1}]",
                   "params.a.default: not allowed together with required: true");
        schema_bad("[{\"name\":\"a\",\"type\":\"int\",\"values\":[1,5],\"max\":3}]",
                   "params.a.values[1]: must be <= 3, got 5");
        schema_bad("[3]", "params[0]: expected a mapping with at least name and type");

        /* the 101st parameter is refused */
        json_t *many = json_array();
        for (int i = 0; i <= PARAMS_MAX; i++) {
                char name[16];
                snprintf(name, sizeof name, "p%d", i);
                json_array_append_new(many, json_pack("{s:s, s:s}", "name", name, "type", "int"));
        }
        json_t *out = NULL;
        sked_err e = {0};
        assert_int_equal(params_schema_normalize(many, &out, &e), -EINVAL);
        assert_string_equal(e.msg, "params: more than 100 entries");
        json_decref(many);
}

/* The web form's hints: kept after the other keys, in a fixed order; checked. */
static void form_hints(void **state) {
        (void) state;
        json_t *s = schema("[{\"hidden\":false,\"group\":\"Money\",\"unit\":\"EUR\",\"widget\":\"number\","
                           "\"label\":\"Amount\",\"name\":\"amount\",\"type\":\"int\",\"default\":5},"
                           " {\"name\":\"note\",\"type\":\"string\",\"widget\":\"textarea\"},"
                           " {\"name\":\"size\",\"type\":\"int\",\"values\":[1,2],\"widget\":\"radio\"}]");
        assert_json(s,
                    "[{\"name\":\"amount\",\"type\":\"int\",\"required\":false,\"default\":5,\"label\":\"Amount\","
                    "\"widget\":\"number\",\"unit\":\"EUR\",\"group\":\"Money\",\"hidden\":false},"
                    " {\"name\":\"note\",\"type\":\"string\",\"required\":false,\"widget\":\"textarea\"},"
                    " {\"name\":\"size\",\"type\":\"int\",\"required\":false,\"values\":[1,2],\"widget\":\"radio\"}]");
        char *keys = json_dumps(json_array_get(s, 0), JSON_PRESERVE_ORDER | JSON_COMPACT);
        assert_string_equal(keys,
                            "{\"name\":\"amount\",\"type\":\"int\",\"required\":false,\"default\":5,\"label\":"
                            "\"Amount\",\"widget\":\"number\",\"unit\":\"EUR\",\"group\":\"Money\",\"hidden\":false}");
        free(keys);
        json_decref(s);
        schema_bad("[{\"name\":\"a\",\"type\":\"string\",\"widget\":\"slider\"}]",
                   "params.a.widget: expected one of: text, textarea, select, radio, checkbox, date, datetime, number; "
                   "got \"slider\"");
        schema_bad("[{\"name\":\"a\",\"type\":\"bool\",\"widget\":\"textarea\"}]",
                   "params.a.widget: \"textarea\" cannot edit a parameter of type bool");
        schema_bad("[{\"name\":\"a\",\"type\":\"string\",\"widget\":\"select\"}]",
                   "params.a.widget: \"select\" cannot edit a parameter of type string");
        schema_bad("[{\"name\":\"a\",\"type\":\"string\",\"unit\":\"kg\"}]",
                   "params.a.unit: not allowed for type string (int and number only)");
        schema_bad("[{\"name\":\"a\",\"type\":\"string\",\"label\":\"\"}]",
                   "params.a.label: expected a non-empty string, got \"\"");
        schema_bad("[{\"name\":\"a\",\"type\":\"string\",\"required\":true,\"hidden\":true}]",
                   "params.a.hidden: a required parameter cannot be hidden (give it a default)");
        schema_bad("[{\"name\":\"a\",\"type\":\"string\",\"hidden\":1}]",
                   "params.a.hidden: expected true or false, got 1");
}

static void validate_types(void **state) {
        (void) state;
        json_t *s = schema(SCHEMA);

        check_ok(s, "{\"account\":\"acme\"}", "{\"account\":\"acme\",\"amount\":10,\"dry_run\":false}");
        check_ok(s, "{\"account\":\"acme\",\"amount\":\"12\",\"dry_run\":\"true\",\"rate\":\"0.5\"}",
                 "{\"account\":\"acme\",\"amount\":12,\"rate\":0.5,\"dry_run\":true}");
        check_ok(s,
                 "{\"account\":\"acme\",\"amount\":7.0,\"rate\":2,\"day\":\"2024-02-29\",\"at\":\"2026-03-29T01:30:"
                 "00Z\"}",
                 "{\"account\":\"acme\",\"amount\":7,\"rate\":2,\"dry_run\":false,\"day\":\"2024-02-29\",\"at\":\"2026-"
                 "03-29T01:30:00Z\"}");
        check_ok(s,
                 "{\"account\":\"acme\",\"tier\":\"gold\",\"region\":\"eu\",\"size\":2,\"extra\":{\"any\":[1,null]}}",
                 "{\"account\":\"acme\",\"amount\":10,\"dry_run\":false,\"tier\":\"gold\",\"region\":\"eu\",\"size\":2,"
                 "\"extra\":{\"any\":[1,null]}}");
        /* null counts as absent: the default applies */
        check_ok(s, "{\"account\":\"acme\",\"amount\":null}", "{\"account\":\"acme\",\"amount\":10,\"dry_run\":false}");
        /* max_length counts characters, not bytes */
        check_ok(s, "{\"account\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}",
                 "{\"account\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\",\"amount\":10,\"dry_run\":"
                 "false}");

        check_bad(s, "{\"account\":\"a\",\"foo\":1}",
                  "params.foo: unknown parameter (expected one of: account, amount, rate, dry_run, day, at, tier, "
                  "region, size, extra)");
        check_bad(s, "{}", "params.account: required");
        check_bad(s, "null", "params.account: required");
        check_bad(s, "[]", "params: expected a mapping of parameter names to values");
        check_bad(s, "{\"account\":5}", "params.account: expected a string, got 5");
        check_bad(s, "{\"account\":\"123456789\"}", "params.account: longer than 8 characters");
        check_bad(s, "{\"account\":\"a\",\"amount\":\"12x\"}", "params.amount: expected an integer, got \"12x\"");
        check_bad(s, "{\"account\":\"a\",\"amount\":1.5}", "params.amount: expected an integer, got 1.5");
        check_bad(s, "{\"account\":\"a\",\"amount\":true}", "params.amount: expected an integer, got true");
        check_bad(s, "{\"account\":\"a\",\"amount\":1e30}", "params.amount: expected an integer, got 1e+30");
        check_bad(s, "{\"account\":\"a\",\"amount\":\" 12\"}", "params.amount: expected an integer, got \" 12\"");
        check_bad(s, "{\"account\":\"a\",\"amount\":-1}", "params.amount: must be >= 0, got -1");
        check_bad(s, "{\"account\":\"a\",\"amount\":1001}", "params.amount: must be <= 1000, got 1001");
        check_bad(s, "{\"account\":\"a\",\"rate\":2.5}", "params.rate: must be <= 2, got 2.5");
        check_bad(s, "{\"account\":\"a\",\"rate\":\"nan\"}", "params.rate: expected a number, got \"nan\"");
        check_bad(s, "{\"account\":\"a\",\"rate\":[1]}", "params.rate: expected a number, got an array");
        check_bad(s, "{\"account\":\"a\",\"dry_run\":1}", "params.dry_run: expected true or false, got 1");
        check_bad(s, "{\"account\":\"a\",\"day\":\"2025-02-29\"}", "params.day: \"2025-02-29\": no such date");
        check_bad(s, "{\"account\":\"a\",\"day\":\"2100-02-29\"}", "params.day: \"2100-02-29\": no such date");
        check_bad(s, "{\"account\":\"a\",\"day\":\"2025-2-1\"}",
                  "params.day: expected a date (YYYY-MM-DD), got \"2025-2-1\"");
        check_bad(s, "{\"account\":\"a\",\"day\":\"2025-01-01T00:00:00Z\"}",
                  "params.day: expected a date (YYYY-MM-DD), got \"2025-01-01T00:00:00Z\"");
        check_bad(s, "{\"account\":\"a\",\"at\":\"2026-03-29T01:30:00\"}",
                  "params.at: expected a UTC date and time (YYYY-MM-DDTHH:MM:SSZ), got \"2026-03-29T01:30:00\"");
        check_bad(s, "{\"account\":\"a\",\"at\":\"2026-03-29T24:00:00Z\"}",
                  "params.at: \"2026-03-29T24:00:00Z\": no such date or time");
        check_bad(s, "{\"account\":\"a\",\"tier\":\"bronze\"}",
                  "params.tier: expected one of: gold, silver; got \"bronze\"");
        check_bad(s, "{\"account\":\"a\",\"region\":\"apac\"}", "params.region: expected one of: eu, us; got \"apac\"");
        check_bad(s, "{\"account\":\"a\",\"size\":4}", "params.size: expected one of: 1, 2, 3; got 4");

        json_decref(s);

        json_t *none = schema("[]");
        check_ok(none, "{}", "{}");
        check_bad(none, "{\"x\":1}", "params.x: unknown parameter (this type takes no parameters)");
        json_decref(none);
}

static void query_fields(void **state) {
        (void) state;
        json_t *in = J("[{\"name\":\"region\",\"type\":\"string\",\"values\":[\"eu\",\"us\"]},{\"name\":\"day\","
                       "\"type\":\"date\"}]");
        json_t *out = NULL;
        sked_err e = {0};
        assert_int_equal(params_fields_normalize(in, &out, &e), 0);
        assert_json(out, "[{\"name\":\"region\",\"type\":\"string\",\"values\":[\"eu\",\"us\"]},{\"name\":\"day\","
                         "\"type\":\"date\"}]");
        json_decref(out);
        json_decref(in);

        in = J("[{\"name\":\"x\",\"type\":\"json\"}]");
        assert_int_equal(params_fields_normalize(in, &out, &e), -EINVAL);
        assert_string_equal(
                e.msg,
                "query_fields.x.type: expected one of: string, int, number, bool, date, datetime, enum; got \"json\"");
        json_decref(in);
        in = J("[{\"name\":\"x\",\"type\":\"int\",\"required\":true}]");
        assert_int_equal(params_fields_normalize(in, &out, &e), -EINVAL);
        assert_string_equal(e.msg,
                            "query_fields.x.required: unknown key (expected one of: name, type, values, description)");
        json_decref(in);
        in = J("[{\"name\":\"between\",\"type\":\"int\"}]");
        assert_int_equal(params_fields_normalize(in, &out, &e), -EINVAL);
        assert_string_equal(e.msg, "query_fields[0].name: \"between\" is a query keyword, not allowed as a field name");
        json_decref(in);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(normalize_schema), cmocka_unit_test(schema_errors), cmocka_unit_test(form_hints),
                cmocka_unit_test(validate_types),   cmocka_unit_test(query_fields),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
