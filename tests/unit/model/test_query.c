#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/params.h"
#include "model/query.h"

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

static json_t *parse(const char *text) {
        json_t *ast = NULL;
        sked_err e = {0};
        if (query_parse_text(text, &ast, &e) < 0)
                fail_msg("%s: %s", text, e.msg);
        return ast;
}

static void parse_bad(const char *text, const char *msg) {
        json_t *ast = NULL;
        sked_err e = {0};
        assert_int_equal(query_parse_text(text, &ast, &e), -EINVAL);
        assert_null(ast);
        assert_string_equal(e.msg, msg);
        assert_string_equal(e.field, "query");
}

/* text -> AST equals `want`; canonical text equals `canon` (NULL = same as input);
 * and the canonical text parses back to the same AST. */
static void roundtrip(const char *text, const char *want, const char *canon) {
        json_t *ast = parse(text);
        assert_json(ast, want);
        char *t = query_to_text(ast);
        assert_non_null(t);
        assert_string_equal(t, canon ? canon : text);
        json_t *again = parse(t);
        assert_true(json_equal(ast, again));
        free(t);
        json_decref(again);
        json_decref(ast);
}

static void parse_and_print(void **state) {
        (void) state;
        roundtrip("region = \"eu\"", "{\"field\":\"region\",\"op\":\"=\",\"value\":\"eu\"}", NULL);
        roundtrip(
                "region = \"eu\" and (amount >= 100 or tier in (\"gold\", \"silver\")) and not name contains \"test\" "
                "and day between 2026-01-01 and 2026-01-31",
                "{\"and\":[{\"field\":\"region\",\"op\":\"=\",\"value\":\"eu\"},"
                "{\"or\":[{\"field\":\"amount\",\"op\":\">=\",\"value\":100},"
                "{\"field\":\"tier\",\"op\":\"in\",\"value\":[\"gold\",\"silver\"]}]},"
                "{\"not\":{\"field\":\"name\",\"op\":\"contains\",\"value\":\"test\"}},"
                "{\"field\":\"day\",\"op\":\"between\",\"value\":[\"2026-01-01\",\"2026-01-31\"]}]}",
                "region = \"eu\" and (amount >= 100 or tier in (\"gold\", \"silver\")) and not name contains \"test\" "
                "and day between \"2026-01-01\" and \"2026-01-31\"");
        /* every comparison operator, keywords in any case, no spaces */
        roundtrip(
                "a=1 AND b!=2 And c<3 and d<=-4 and e>5.5 and f>=1e3 and g IN (1) and h Between 1 AND 2 and i CONTAINS "
                "\"x\"",
                "{\"and\":[{\"field\":\"a\",\"op\":\"=\",\"value\":1},{\"field\":\"b\",\"op\":\"!=\",\"value\":2},"
                "{\"field\":\"c\",\"op\":\"<\",\"value\":3},{\"field\":\"d\",\"op\":\"<=\",\"value\":-4},"
                "{\"field\":\"e\",\"op\":\">\",\"value\":5.5},{\"field\":\"f\",\"op\":\">=\",\"value\":1000.0},"
                "{\"field\":\"g\",\"op\":\"in\",\"value\":[1]},{\"field\":\"h\",\"op\":\"between\",\"value\":[1,2]},"
                "{\"field\":\"i\",\"op\":\"contains\",\"value\":\"x\"}]}",
                "a = 1 and b != 2 and c < 3 and d <= -4 and e > 5.5 and f >= 1000.0 and g in (1) and h between 1 and 2 "
                "and i contains \"x\"");
        roundtrip("ok = TRUE or ok = false",
                  "{\"or\":[{\"field\":\"ok\",\"op\":\"=\",\"value\":true},"
                  "{\"field\":\"ok\",\"op\":\"=\",\"value\":false}]}",
                  "ok = true or ok = false");
        roundtrip("s = \"say \\\"hi\\\" \\\\ \\u00e9\\n\"",
                  "{\"field\":\"s\",\"op\":\"=\",\"value\":\"say \\\"hi\\\" \\\\ \\u00e9\\n\"}",
                  "s = \"say \\\"hi\\\" \\\\ \u00e9\\n\"");
        roundtrip("at < 2026-01-31T08:00:00Z", "{\"field\":\"at\",\"op\":\"<\",\"value\":\"2026-01-31T08:00:00Z\"}",
                  "at < \"2026-01-31T08:00:00Z\"");
        roundtrip("not not a = 1", "{\"not\":{\"not\":{\"field\":\"a\",\"op\":\"=\",\"value\":1}}}", NULL);
        roundtrip("not (a = 1 or b = 2)",
                  "{\"not\":{\"or\":[{\"field\":\"a\",\"op\":\"=\",\"value\":1},"
                  "{\"field\":\"b\",\"op\":\"=\",\"value\":2}]}}",
                  NULL);
        roundtrip("((a = 1))", "{\"field\":\"a\",\"op\":\"=\",\"value\":1}", "a = 1");
}

static void precedence(void **state) {
        (void) state;
        /* not > and > or */
        roundtrip("a = 1 or b = 2 and c = 3",
                  "{\"or\":[{\"field\":\"a\",\"op\":\"=\",\"value\":1},{\"and\":[{\"field\":\"b\",\"op\":\"=\","
                  "\"value\":2},"
                  "{\"field\":\"c\",\"op\":\"=\",\"value\":3}]}]}",
                  NULL);
        roundtrip("a = 1 and b = 2 or c = 3",
                  "{\"or\":[{\"and\":[{\"field\":\"a\",\"op\":\"=\",\"value\":1},{\"field\":\"b\",\"op\":\"=\","
                  "\"value\":2}]},"
                  "{\"field\":\"c\",\"op\":\"=\",\"value\":3}]}",
                  NULL);
        roundtrip("not a = 1 and b = 2",
                  "{\"and\":[{\"not\":{\"field\":\"a\",\"op\":\"=\",\"value\":1}},{\"field\":\"b\",\"op\":\"=\","
                  "\"value\":2}]}",
                  NULL);
        roundtrip("(a = 1 or b = 2) and c = 3",
                  "{\"and\":[{\"or\":[{\"field\":\"a\",\"op\":\"=\",\"value\":1},{\"field\":\"b\",\"op\":\"=\","
                  "\"value\":2}]},"
                  "{\"field\":\"c\",\"op\":\"=\",\"value\":3}]}",
                  NULL);
        /* explicit grouping of the same operator is kept by the parser and printer */
        roundtrip("(a = 1 and b = 2) and c = 3",
                  "{\"and\":[{\"and\":[{\"field\":\"a\",\"op\":\"=\",\"value\":1},{\"field\":\"b\",\"op\":\"=\","
                  "\"value\":2}]},"
                  "{\"field\":\"c\",\"op\":\"=\",\"value\":3}]}",
                  NULL);
}

static void syntax_errors(void **state) {
        (void) state;
        parse_bad("", "query: empty");
        parse_bad("   ", "query: empty");
        parse_bad("region = \"eu\" and amount >=", "query: at 28: expected a value after \">=\"");
        parse_bad("region = and", "query: at 10: expected a value after \"=\"");
        parse_bad("region = eu", "query: at 10: expected a value after \"=\" (strings need double quotes)");
        parse_bad("region \"eu\"", "query: at 8: expected an operator after \"region\" (=, !=, <, <=, >, >=, in, "
                                   "between, contains), got \"\"eu\"\"");
        parse_bad("= 1", "query: at 1: expected a field name, got \"=\"");
        parse_bad("and = 1", "query: at 1: expected a field name, got \"and\"");
        parse_bad("a = \"x", "query: at 5: unterminated string");
        parse_bad("a = \"\\q\"", "query: at 5: invalid string (bad escape or not UTF-8)");
        parse_bad("a = 12x", "query: at 5: invalid number \"12x\"");
        parse_bad("a = 1 b = 2", "query: at 7: expected \"and\", \"or\" or the end of the query, got \"b\"");
        parse_bad("(a = 1", "query: at 7: expected \")\" to close the \"(\" at 1, got the end of the query");
        parse_bad("a = 1)", "query: at 6: expected \"and\", \"or\" or the end of the query, got \")\"");
        parse_bad("a in 1", "query: at 6: expected \"(\" after \"in\"");
        parse_bad("a in (1 2)", "query: at 9: expected \",\" or \")\" in the list, got \"2\"");
        parse_bad("a in ()", "query: at 7: expected a value after \"(\"");
        parse_bad("a between 1 or 2",
                  "query: at 13: expected \"and\" after the lower bound of \"between\", got \"or\"");
        parse_bad("a ! 1", "query: at 3: unknown operator \"!\" (did you mean \"!=\" or \"not\"?)");
        parse_bad("a = 1 & b = 2", "query: at 7: unexpected character '&'");

        /* limits: depth, conditions, text size */
        char buf[QUERY_TEXT_MAX + 2];
        strcpy(buf, "");
        for (int i = 0; i < 33; i++)
                strcat(buf, "not ");
        strcat(buf, "a = 1");
        parse_bad(buf, "query: at 129: nested deeper than 32 levels");
        buf[0] = '\0';
        for (int i = 0; i < 300; i++)
                strcat(buf, i ? " or a = 1" : "a = 1");
        parse_bad(buf, "query: at 2296: more than 256 conditions");
        memset(buf, ' ', sizeof buf - 1);
        buf[sizeof buf - 1] = '\0';
        parse_bad(buf, "query: longer than 8192 bytes");
}

static const char *FIELDS = "[{\"name\":\"region\",\"type\":\"string\",\"values\":[\"eu\",\"us\"]},"
                            " {\"name\":\"name\",\"type\":\"string\"},"
                            " {\"name\":\"amount\",\"type\":\"int\"},"
                            " {\"name\":\"rate\",\"type\":\"number\"},"
                            " {\"name\":\"vip\",\"type\":\"bool\"},"
                            " {\"name\":\"day\",\"type\":\"date\"},"
                            " {\"name\":\"at\",\"type\":\"datetime\"},"
                            " {\"name\":\"tier\",\"type\":\"enum\",\"values\":[\"gold\",\"silver\"]}]";

static json_t *fields(void) {
        json_t *in = J(FIELDS), *out = NULL;
        sked_err e = {0};
        if (params_fields_normalize(in, &out, &e) < 0)
                fail_msg("%s", e.msg);
        json_decref(in);
        return out;
}

static void valid_ok(const json_t *f, const char *text, const char *want) {
        json_t *ast = parse(text), *out = NULL;
        sked_err e = {0};
        if (query_validate(f, ast, &out, &e) < 0)
                fail_msg("%s: %s", text, e.msg);
        assert_json(out, want);
        json_decref(out);
        json_decref(ast);
}

static void valid_bad_ast(const json_t *f, const char *json, const char *msg) {
        json_t *ast = J(json), *out = NULL;
        sked_err e = {0};
        assert_int_equal(query_validate(f, ast, &out, &e), -EINVAL);
        assert_null(out);
        assert_string_equal(e.msg, msg);
        json_decref(ast);
}

static void valid_bad(const json_t *f, const char *text, const char *msg) {
        json_t *ast = parse(text);
        char *j = json_dumps(ast, JSON_COMPACT);
        valid_bad_ast(f, j, msg);
        free(j);
        json_decref(ast);
}

static void validation(void **state) {
        (void) state;
        json_t *f = fields();
        valid_ok(f, "amount >= \"100\" and vip = \"true\"",
                 "{\"and\":[{\"field\":\"amount\",\"op\":\">=\",\"value\":100},{\"field\":\"vip\",\"op\":\"=\","
                 "\"value\":true}]}");
        valid_ok(f, "region < \"zz\"",
                 "{\"field\":\"region\",\"op\":\"<\",\"value\":\"zz\"}"); /* no allow-list for < */
        valid_ok(f, "day between 2024-02-01 and 2024-02-29",
                 "{\"field\":\"day\",\"op\":\"between\",\"value\":[\"2024-02-01\",\"2024-02-29\"]}");
        valid_ok(f, "rate in (1, 2.5) or tier != \"gold\"",
                 "{\"or\":[{\"field\":\"rate\",\"op\":\"in\",\"value\":[1,2.5]},{\"field\":\"tier\",\"op\":\"!=\","
                 "\"value\":\"gold\"}]}");
        /* grouping of the same operator is flattened; single-child lists collapse */
        valid_ok(f, "(amount = 1 and amount = 2) and (amount = 3)",
                 "{\"and\":[{\"field\":\"amount\",\"op\":\"=\",\"value\":1},{\"field\":\"amount\",\"op\":\"=\","
                 "\"value\":2},"
                 "{\"field\":\"amount\",\"op\":\"=\",\"value\":3}]}");
        json_t *ast = J("{\"or\":[{\"and\":[{\"field\":\"amount\",\"op\":\"=\",\"value\":1}]}]}"), *out = NULL;
        assert_int_equal(query_validate(f, ast, &out, NULL), 0);
        assert_json(out, "{\"field\":\"amount\",\"op\":\"=\",\"value\":1}");
        json_decref(out);
        json_decref(ast);

        valid_bad(f, "amout = 1",
                  "query.amout: not a queryable field of this type (expected one of: region, name, amount, rate, vip, "
                  "day, at, tier)");
        valid_bad(f, "amount = \"x\"", "query.amount: expected an integer, got \"x\"");
        valid_bad(f, "amount = 1.5", "query.amount: expected an integer, got 1.5");
        valid_bad(f, "region = \"apac\"", "query.region: expected one of: eu, us; got \"apac\"");
        valid_bad(f, "region in (\"eu\", \"apac\")", "query.region: expected one of: eu, us; got \"apac\"");
        valid_bad(f, "tier > \"gold\"",
                  "query.tier: operator \">\" not allowed for an enum field (allowed: =, !=, in)");
        valid_bad(f, "vip < true", "query.vip: operator \"<\" not allowed for a bool field (allowed: =, !=)");
        valid_bad(f, "vip in (true)", "query.vip: operator \"in\" not allowed for a bool field (allowed: =, !=)");
        valid_bad(f, "amount contains \"1\"",
                  "query.amount: operator \"contains\" not allowed for an int field (allowed: =, !=, <, <=, >, >=, in, "
                  "between)");
        valid_bad(f, "day = 2025-02-29", "query.day: \"2025-02-29\": no such date");
        valid_bad(f, "day > \"tomorrow\"", "query.day: expected a date (YYYY-MM-DD), got \"tomorrow\"");
        valid_bad(f, "at >= 2026-01-01",
                  "query.at: expected a UTC date and time (YYYY-MM-DDTHH:MM:SSZ), got \"2026-01-01\"");
        valid_bad(f, "name contains 5", "query.name: expected a string, got 5");
        valid_bad_ast(f, "{\"field\":\"amount\",\"op\":\"in\",\"value\":[]}",
                      "query.amount: \"in\" needs a list of 1 to 256 values");
        valid_bad_ast(f, "{\"field\":\"amount\",\"op\":\"between\",\"value\":[1]}",
                      "query.amount: \"between\" needs a list of two values [low, high]");
        valid_bad_ast(f, "{\"field\":\"amount\",\"op\":\"~\",\"value\":1}",
                      "query.amount: unknown operator \"~\" (expected =, !=, <, <=, >, >=, in, between, contains)");
        valid_bad_ast(f, "{\"field\":\"amount\",\"op\":\"=\",\"value\":1,\"x\":2}",
                      "query: unknown key \"x\" in a condition (expected field, op, value)");
        valid_bad_ast(f, "{\"field\":\"amount\",\"op\":\"=\"}",
                      "query: a condition needs field (a string), op (a string) and value");
        valid_bad_ast(f, "{\"and\":[]}", "query: \"and\" needs a non-empty list of conditions");
        valid_bad_ast(f, "{\"and\":[{\"field\":\"amount\",\"op\":\"=\",\"value\":1}],\"or\":[]}",
                      "query: expected a condition {\"field\", \"op\", \"value\"}, {\"and\": [...]}, {\"or\": [...]} "
                      "or {\"not\": ...}, got an object");
        valid_bad_ast(f, "[1]",
                      "query: expected a condition {\"field\", \"op\", \"value\"}, {\"and\": [...]}, {\"or\": [...]} "
                      "or {\"not\": ...}, got an array");

        /* depth limit applies to JSON ASTs too */
        json_t *deep = J("{\"field\":\"amount\",\"op\":\"=\",\"value\":1}");
        for (int i = 0; i < 40; i++)
                deep = json_pack("{s:o}", "not", deep);
        sked_err e = {0};
        assert_int_equal(query_validate(f, deep, &out, &e), -EINVAL);
        assert_string_equal(e.msg, "query: nested deeper than 32 levels");
        json_decref(deep);

        json_t *none = J("[]");
        valid_bad(none, "a = 1", "query.a: not a queryable field of this type (it has none)");
        json_decref(none);
        json_decref(f);
}

static bool eval(const char *text, const char *item) {
        json_t *ast = parse(text), *it = J(item);
        bool b = false;
        assert_int_equal(query_eval(ast, it, &b), 0);
        json_decref(ast);
        json_decref(it);
        return b;
}

static void evaluation(void **state) {
        (void) state;
        const char *item = "{\"region\":\"eu\",\"name\":\"prod-test-1\",\"amount\":150,\"rate\":2.5,\"vip\":true,"
                           "\"day\":\"2026-01-15\",\"at\":\"2026-01-15T10:00:00Z\",\"tier\":\"gold\",\"none\":null}";
        assert_true(eval("region = \"eu\"", item));
        assert_false(eval("region = \"us\"", item));
        assert_true(eval("region != \"us\"", item));
        assert_false(eval("amount < 150", item));
        assert_true(eval("amount <= 150", item));
        assert_true(eval("amount > 149.5", item));
        assert_false(eval("amount >= 151", item));
        assert_true(eval("rate = 2.5 and rate < 3", item));
        assert_true(eval("vip = true and vip != false", item));
        assert_true(eval("name contains \"test\"", item));
        assert_false(eval("name contains \"TEST\"", item));
        assert_true(eval("tier in (\"silver\", \"gold\")", item));
        assert_false(eval("tier in (\"silver\")", item));
        assert_true(eval("day between 2026-01-15 and 2026-01-31", item));
        assert_false(eval("day between 2026-01-16 and 2026-01-31", item));
        assert_true(eval("at > 2026-01-15T09:59:59Z", item));
        assert_true(eval("amount between 100 and 150", item));
        /* precedence: false or (true and true) */
        assert_true(eval("region = \"us\" or amount = 150 and vip = true", item));
        assert_false(eval("(region = \"us\" or amount = 150) and vip = false", item));
        assert_true(eval("not region = \"us\"", item));
        assert_false(eval("not (region = \"eu\" or vip = false)", item));
        /* absent, null and mismatched fields compare false, != included */
        assert_false(eval("missing = 1", item));
        assert_false(eval("missing != 1", item));
        assert_true(eval("not missing = 1", item));
        assert_false(eval("none = 1", item));
        assert_false(eval("region = 1", item));
        assert_false(eval("vip < true", item));
        /* the brief's example */
        assert_true(eval("region = \"eu\" and (amount >= 100 or tier in (\"gold\", \"silver\")) and not name contains "
                         "\"staging\" and day between 2026-01-01 and 2026-01-31",
                         item));

        bool b;
        json_t *bad = J("{\"field\":\"a\",\"op\":\"~\",\"value\":1}"), *it = J("{}");
        assert_int_equal(query_eval(bad, it, &b), -EINVAL);
        assert_null(query_to_text(bad));
        json_decref(bad);
        bad = J("{\"field\":\"a b\",\"op\":\"=\",\"value\":1}");
        assert_null(query_to_text(bad));
        json_decref(bad);
        json_decref(it);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(parse_and_print), cmocka_unit_test(precedence), cmocka_unit_test(syntax_errors),
                cmocka_unit_test(validation),      cmocka_unit_test(evaluation),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
