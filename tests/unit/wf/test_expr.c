/* The Lua sandbox: no way out through io, os, load, string.dump, metatables or
 * coroutines; runaway loops and allocations stopped; values keep their types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/civil.h"
#include "wf/expr.h"

static wf_lua *L;

static int setup(void **state) {
        (void) state;
        sked_err err = {0};
        assert_int_equal(wf_lua_new(&L, &err), 0);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        wf_lua_free(L);
        return 0;
}

/* evaluates text in sc; *ret_err gets the message of a failure */
static json_t *eval_in(const char *text, const wf_scope *sc, sked_err *ret_err) {
        sked_err err = {0};
        int h;
        if (wf_lua_compile(L, text, "x", &h, &err) < 0) {
                *ret_err = err;
                return NULL;
        }
        json_t *v = NULL;
        if (wf_lua_eval(L, h, sc, "x", &v, &err) < 0) {
                *ret_err = err;
                return NULL;
        }
        return v;
}

static json_t *eval_ok(const char *text) {
        sked_err err = {0};
        json_t *v = eval_in(text, NULL, &err);
        if (!v)
                fail_msg("%s: %s", text, err.msg);
        return v;
}

/* fails, with a message holding `want` */
static void eval_fails(const char *text, const char *want) {
        sked_err err = {0};
        json_t *v = eval_in(text, NULL, &err);
        if (v) {
                char *s = json_dumps(v, JSON_ENCODE_ANY);
                fail_msg("%s: expected an error (%s), got %s", text, want, s);
        }
        if (!strstr(err.msg, want))
                fail_msg("%s: expected an error with \"%s\", got \"%s\"", text, want, err.msg);
}

static void expect_json(const char *text, const char *want_json) {
        json_t *v = eval_ok(text);
        json_t *want = json_loads(want_json, JSON_DECODE_ANY, NULL);
        assert_non_null(want);
        if (!json_equal(v, want) || json_typeof(v) != json_typeof(want)) {
                char *s = json_dumps(v, JSON_ENCODE_ANY);
                fail_msg("%s: expected %s, got %s", text, want_json, s);
        }
        json_decref(v);
        json_decref(want);
}

static void test_nothing_dangerous_exists(void **state) {
        (void) state;
        static const char *const names[] = {
                "io",     "os",        "require", "load",           "loadstring",   "dofile",       "loadfile",
                "debug",  "coroutine", "package", "collectgarbage", "getmetatable", "setmetatable", "pcall",
                "xpcall", "print",     "_G",      "rawset",         "rawget"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                char text[64];
                snprintf(text, sizeof text, "%s == nil", names[i]);
                json_t *v = eval_ok(text);
                if (!json_is_true(v))
                        fail_msg("%s is reachable", names[i]);
                json_decref(v);
        }
        expect_json("string.dump == nil", "true");
        expect_json("(\"\").dump == nil", "true"); /* through strings' metatable */
        expect_json("type(string.format)", "\"function\"");
}

static void test_no_escape(void **state) {
        (void) state;
        eval_fails("io.open('/etc/passwd')", "attempt to index a nil value");
        eval_fails("os.execute('true')", "attempt to index a nil value");
        eval_fails("require('os')", "attempt to call a nil value");
        eval_fails("load('return 1')()", "attempt to call a nil value");
        eval_fails("string.dump(function() end)", "attempt to call a nil value");
        eval_fails("(''):dump()", "attempt to call a nil value");
        eval_fails("getmetatable('').__index", "attempt to call a nil value");
        eval_fails("coroutine.wrap(function() end)", "attempt to index a nil value");
        /* the libraries cannot be changed for the next evaluation */
        eval_fails("(function() string.upper = nil end)()", "read-only");
        eval_fails("(function() math.pi = 3 end)()", "read-only");
        expect_json("string.upper('a')", "\"A\"");
        /* a global set by one evaluation is gone in the next */
        expect_json("(function() leaked = 1; return leaked end)()", "1");
        expect_json("leaked == nil", "true");
        /* bytecode is refused even if text smuggles it */
        sked_err err = {0};
        int h;
        assert_true(wf_lua_compile(L, "\x1bLua", "x", &h, &err) < 0);
}

static void test_budget(void **state) {
        (void) state;
        eval_fails("(function() while true do end end)()", "instruction budget exceeded");
        eval_fails("(function() local function f(n) return f(n + 1) + 1 end return f(1) end)()", "");
        eval_fails("(function() local t = {} for i = 1, 1e9 do t[i] = i end end)()", "");
        /* an error cannot be caught to go on: there is no pcall, and past the budget
         * every instruction fails */
        eval_fails("(function() local n = 0 for i = 1, 1e12 do n = n + 1 end return n end)()",
                   "instruction budget exceeded");
        /* the state still works afterwards */
        expect_json("1 + 1", "2");
}

static void test_memory(void **state) {
        (void) state;
        size_t before = wf_lua_memory(L);
        eval_fails("string.rep('x', 1 << 30)", "memory limit exceeded");
        eval_fails("(function() local t = {} for i = 1, 20 do t[i] = string.rep('y', 1 << 20) end return #t end)()",
                   "memory limit exceeded");
        eval_fails("(function() local s = 'z' for i = 1, 40 do s = s .. s end return #s end)()",
                   "memory limit exceeded");
        /* what a failed evaluation held is given back */
        assert_true(wf_lua_memory(L) < before + 1024 * 1024);
        expect_json("#string.rep('x', 1000)", "1000");
}

static void test_types(void **state) {
        (void) state;
        expect_json("7 * 2", "14");
        json_t *v = eval_ok("7 * 2");
        assert_true(json_is_integer(v));
        json_decref(v);
        v = eval_ok("7 / 2");
        assert_true(json_is_real(v));
        json_decref(v);
        expect_json("7 / 2", "3.5");
        expect_json("1 < 2", "true");
        expect_json("'a' .. 'b'", "\"ab\"");
        expect_json("nil", "null");
        expect_json("{a = 1, b = {true, false}}", "{\"a\": 1, \"b\": [true, false]}");
        expect_json("{}", "{}");
        expect_json("{1, 2, 3}", "[1, 2, 3]");
        eval_fails("{1, 2, nil, 4, x = 1}", "no JSON form");
        eval_fails("(function() local t = {} t.me = t return t end)()", "nested deeper");
        eval_fails("0/0", "NaN");
        eval_fails("1/0", "infinity");
        eval_fails("function() end", "function has no JSON form");
        eval_fails("'\\xff'", "UTF-8");
}

static void test_scope(void **state) {
        (void) state;
        json_t *input = json_pack("{s:i, s:s}", "n", 7, "who", "ann");
        json_t *vars = json_pack("{s:i, s:[i,i]}", "x", 14, "list", 1, 2);
        json_t *steps = json_pack("{s:{s:{s:s}}}", "approval", "data", "who", "bob");
        wf_scope sc = {.input = input, .vars = vars, .steps = steps, .now = 1700000000000000};
        sked_err err = {0};
        json_t *v = eval_in("input.n * 2 + #vars.list", &sc, &err);
        assert_non_null(v);
        assert_int_equal(json_integer_value(v), 16);
        json_decref(v);
        v = eval_in("steps.approval.data.who", &sc, &err);
        assert_string_equal(json_string_value(v), "bob");
        json_decref(v);
        /* changing vars inside an evaluation changes nothing outside it */
        v = eval_in("(function() vars.x = 0; return vars.x end)()", &sc, &err);
        assert_int_equal(json_integer_value(v), 0);
        json_decref(v);
        assert_int_equal(json_integer_value(json_object_get(vars, "x")), 14);
        v = eval_in("vars.x", &sc, &err);
        assert_int_equal(json_integer_value(v), 14);
        json_decref(v);
        v = eval_in("time.now()", &sc, &err);
        assert_int_equal(json_integer_value(v), 1700000000000000);
        json_decref(v);
        /* a runtime error names the field */
        assert_null(eval_in("vars.missing > 1", &sc, &err));
        assert_string_equal(err.field, "x");
        assert_non_null(strstr(err.msg, "attempt to compare"));
        json_decref(input);
        json_decref(vars);
        json_decref(steps);
}

static void test_time_in_zones(void **state) {
        (void) state;
        /* 2026-03-08 02:30 does not exist in New York: the offset before the gap
         * gives 03:30 EDT = 07:30Z */
        expect_json("time.iso(time.at('America/New_York', 2026, 3, 8, 2, 30))", "\"2026-03-08T07:30:00Z\"");
        /* 01:30 on 2026-11-01 happens twice: the first (EDT) */
        expect_json("time.iso(time.at('America/New_York', 2026, 11, 1, 1, 30))", "\"2026-11-01T05:30:00Z\"");
        expect_json("time.wall(time.parse('2026-11-01T06:30:00Z'), 'America/New_York').text",
                    "\"2026-11-01T01:30:00-05:00\"");
        expect_json("time['local'](time.parse('2026-07-01T12:00:00Z'), 'Europe/Paris').hour", "14");
        expect_json("time.wall(time.parse('2026-07-01T12:00:00Z'), 'UTC').wday", "3");
        expect_json("time.duration('1h30m')", "5400000000");
        eval_fails("time.wall(0, 'No/Such_Zone')", "not found");
        eval_fails("time.at('UTC', 2026, 2, 30)", "not a valid date");
}

static json_t *tmpl(const char *json_text, const wf_scope *sc, sked_err *err) {
        json_t *in = json_loads(json_text, JSON_DECODE_ANY, NULL);
        assert_non_null(in);
        wf_tmpl *t = NULL;
        json_t *v = NULL;
        if (wf_tmpl_compile(L, in, "set", &t, err) == 0)
                wf_tmpl_eval(L, t, sc, "set", &v, err);
        wf_tmpl_free(t);
        json_decref(in);
        return v;
}

static void test_templates(void **state) {
        (void) state;
        json_t *input = json_pack("{s:i}", "n", 7);
        wf_scope sc = {.input = input};
        sked_err err = {0};
        /* only ${...}: the value keeps its type */
        json_t *v = tmpl("\"${ input.n * 2 }\"", &sc, &err);
        assert_true(json_is_integer(v));
        assert_int_equal(json_integer_value(v), 14);
        json_decref(v);
        v = tmpl("\" ${ input.n > 3 } \"", &sc, &err);
        assert_true(json_is_true(v));
        json_decref(v);
        v = tmpl("\"${ {a = input.n} }\"", &sc, &err);
        assert_int_equal(json_integer_value(json_object_get(v, "a")), 7);
        json_decref(v);
        /* inside text: converted to text */
        v = tmpl("\"n=${input.n}, half=${input.n / 2}, t=${ {1,2} }, nil=${nil}.\"", &sc, &err);
        assert_string_equal(json_string_value(v), "n=7, half=3.5, t=[1,2], nil=.");
        json_decref(v);
        /* a brace inside a Lua string does not end the expression */
        v = tmpl("\"${ '}' .. 'x' }\"", &sc, &err);
        assert_string_equal(json_string_value(v), "}x");
        json_decref(v);
        /* nested values, literals kept */
        v = tmpl("{\"a\": [1, \"${input.n}\", \"plain\"], \"b\": null}", &sc, &err);
        char *s = json_dumps(v, JSON_COMPACT);
        assert_string_equal(s, "{\"a\":[1,7,\"plain\"],\"b\":null}");
        free(s);
        json_decref(v);
        /* errors name the place */
        assert_null(tmpl("{\"a\": [1, \"${ input.n + }\"]}", &sc, &err));
        assert_string_equal(err.field, "set.a[1]");
        assert_null(tmpl("\"x ${ input.n \"", &sc, &err));
        assert_non_null(strstr(err.msg, "without its closing"));
        json_decref(input);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_nothing_dangerous_exists),
                cmocka_unit_test(test_no_escape),
                cmocka_unit_test(test_budget),
                cmocka_unit_test(test_memory),
                cmocka_unit_test(test_types),
                cmocka_unit_test(test_scope),
                cmocka_unit_test(test_time_in_zones),
                cmocka_unit_test(test_templates),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
