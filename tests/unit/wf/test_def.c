/* Workflow definitions: the structure check names every error's path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/manifest.h"
#include "wf/def.h"

#include "demo.h"

static bool known_type(void *ud, const char *type) {
        (void) ud;
        return !strcmp(type, "ledger.transfer");
}

static json_t *yaml(const char *text) {
        json_t *v = NULL;
        sked_err err = {0};
        if (manifest_parse(text, strlen(text), "def.yaml", &v, &err) < 0)
                fail_msg("%s", err.msg);
        return v;
}

static wf_def *build_ok(const char *text) {
        json_t *in = yaml(text);
        wf_def *d = NULL;
        json_t *errors = NULL;
        sked_err err = {0};
        if (wf_def_build(in, known_type, NULL, &d, &errors, &err) < 0)
                fail_msg("%s", err.msg);
        json_decref(in);
        return d;
}

/* builds text, expecting exactly the errors in want (field, then a piece of the message) */
static void build_fails(const char *text, const char *const *want, size_t nwant) {
        json_t *in = yaml(text);
        wf_def *d = NULL;
        json_t *errors = NULL;
        sked_err err = {0};
        int r = wf_def_build(in, known_type, NULL, &d, &errors, &err);
        json_decref(in);
        if (r == 0)
                fail_msg("expected errors, the definition was built");
        assert_int_equal(r, -EINVAL);
        char *all = json_dumps(errors, JSON_INDENT(1));
        if (json_array_size(errors) != nwant)
                fail_msg("expected %zu errors, got %s", nwant, all);
        for (size_t i = 0; i < nwant; i++) {
                json_t *e = json_array_get(errors, i);
                const char *field = json_string_value(json_object_get(e, "field"));
                const char *msg = json_string_value(json_object_get(e, "message"));
                if (strcmp(field, want[2 * i]) || !strstr(msg, want[2 * i + 1]) || strncmp(msg, field, strlen(field)))
                        fail_msg("error %zu: expected %s: ...%s..., got %s", i, want[2 * i], want[2 * i + 1], all);
        }
        /* err has the first one */
        assert_string_equal(err.field, want[0]);
        free(all);
        json_decref(errors);
}

static void test_demo_builds(void **state) {
        (void) state;
        wf_def *d = build_ok(demo_text());
        assert_string_equal(d->name, "demo.approve");
        assert_string_equal(d->mode, "background");
        assert_int_equal(d->steps.n, 4);
        assert_int_equal(d->nsteps, 6);
        assert_int_equal(d->steps.v[1].kind, WF_IF);
        assert_int_equal(d->steps.v[1].then_.n, 1);
        assert_int_equal(d->steps.v[2].wait, WF_WAIT_SIGNAL);
        assert_int_equal(d->steps.v[2].timeout_us, 3600LL * 1000000);
        assert_string_equal(d->steps.v[1].else_.v[0].path, "steps[1].else[0]");
        assert_int_equal(json_array_size(d->input), 1);
        wf_def_free(d);
}

static void test_every_error_with_its_path(void **state) {
        (void) state;
        static const char text[] = "name: Bad Name\n"
                                   "mode: background\n"
                                   "colour: red\n"
                                   "steps:\n"
                                   "  - id: a\n"
                                   "    set: {x: \"${ 1 + }\"}\n"
                                   "  - id: a\n"
                                   "    frobnicate: 1\n"
                                   "  - id: c\n"
                                   "    if: \"vars.x >\"\n"
                                   "    then:\n"
                                   "      - id: d\n"
                                   "        set: {\"bad-name\": 1, ok: \"${ steps.nope.data }\"}\n"
                                   "  - id: e\n"
                                   "    wait: {signal: go, timeout: 1x}\n"
                                   "  - id: f\n"
                                   "    run: {type: no.such.type, params: {a: 1}}\n"
                                   "  - id: g\n"
                                   "    wait: {duration: 1h, signal: x}\n"
                                   "  - id: h\n"
                                   "    stop: finished\n"
                                   "  - id: i\n"
                                   "    set: {y: 1}\n"
                                   "    then: []\n"
                                   "  - id: j\n"
                                   "    wait: {at: \"25:00\", zone: Mars/Olympus}\n";
        static const char *const want[] = {
                "colour",
                "unknown key",
                "name",
                "expected a name",
                "steps[0].set.x",
                "unexpected symbol",
                "steps[1].id",
                "used already by steps[0]",
                "steps[1]",
                "no kind of step",
                "steps[1].frobnicate",
                "unknown key",
                "steps[2].if",
                "unexpected symbol",
                "steps[2].then[0].set.bad-name",
                "not a variable name",
                "steps[3].wait.timeout",
                "unknown unit",
                "steps[4].run.type",
                "no such process type",
                "steps[5].wait",
                "exactly one of duration, until, at or signal",
                "steps[6].stop",
                "expected succeeded or canceled",
                "steps[7].then",
                "not a key of set steps",
                "steps[8].wait.zone",
                "not found",
                "steps[8].wait.at",
                "expected a wall time",
                "steps[2].then[0].set.ok",
                "no step has the id \"nope\"",
        };
        build_fails(text, want, sizeof want / sizeof want[0] / 2);
}

static void test_top_level_errors(void **state) {
        (void) state;
        static const char *const want1[] = {"mode", "not supported yet", "steps", "required"};
        build_fails("name: a.b\nmode: realtime\n", want1, 2);
        static const char *const want2[] = {"mode", "not supported yet"};
        build_fails("name: a.b\nmode: action\nsteps: [{id: a, set: {x: 1}}]\n", want2, 1);
        static const char *const want3[] = {"input.n.type", "", "steps", "expected a list of steps"};
        build_fails("name: a.b\ninput: {n: {type: integer}}\nsteps: []\n", want3, 2);
        static const char *const want4[] = {"steps[0].switch[0].when", "required", "steps[0].default[0]",
                                            "no kind of step"};
        build_fails("name: a.b\nsteps:\n  - id: s\n    switch: [{steps: [{id: t, set: {x: 1}}]}]\n"
                    "    default: [{id: u}]\n",
                    want4, 2);
        static const char *const want5[] = {"steps[0].wait.on_timeout", "only with a timeout"};
        build_fails("name: a.b\nsteps:\n  - id: w\n    wait: {signal: s, on_timeout: [{id: x, set: {a: 1}}]}\n", want5,
                    1);
        static const char *const want6[] = {"steps[0].wait.until", "expected YYYY-MM-DDTHH:MM:SSZ"};
        build_fails("name: a.b\nsteps:\n  - id: w\n    wait: {until: tomorrow}\n", want6, 1);
}

static void test_nesting_limit(void **state) {
        (void) state;
        /* built as JSON: YAML manifests stop at 32 levels of their own */
        json_t *leaf = json_pack("[{s:s, s:{s:i}}]", "id", "leaf", "set", "a", 1);
        for (int i = 0; i < WF_NEST_MAX + 2; i++) {
                char id[16];
                snprintf(id, sizeof id, "s%d", i);
                leaf = json_pack("[{s:s, s:s, s:o}]", "id", id, "if", "true", "then", leaf);
        }
        json_t *in = json_pack("{s:s, s:o}", "name", "deep", "steps", leaf);
        wf_def *d = NULL;
        sked_err err = {0};
        assert_int_equal(wf_def_build(in, NULL, NULL, &d, NULL, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "nested deeper than 16 levels"));
        json_decref(in);
}

static void test_positions(void **state) {
        (void) state;
        wf_def *d = build_ok(demo_text());
        wf_pos p = {.n = 1, .v = {1}};
        assert_string_equal(wf_pos_step(d, &p)->id, "check");
        p = (wf_pos){.n = 3, .v = {1, 0, 0}};
        assert_string_equal(wf_pos_step(d, &p)->id, "big");
        assert_true(wf_pos_next(d, &p)); /* then ends: after the if */
        assert_int_equal(p.n, 1);
        assert_int_equal(p.v[0], 2);
        char buf[64];
        p = (wf_pos){.n = 3, .v = {1, 1, 0}};
        wf_pos_format(&p, buf, sizeof buf);
        assert_string_equal(buf, "1.1.0");
        wf_pos q;
        assert_int_equal(wf_pos_parse(buf, &q), 0);
        assert_int_equal(q.n, 3);
        assert_int_equal(q.v[1], 1);
        assert_string_equal(wf_pos_step(d, &q)->id, "small");
        assert_int_equal(wf_pos_parse("1..2", &q), -EINVAL);
        assert_int_equal(wf_pos_parse("x", &q), -EINVAL);
        p = (wf_pos){.n = 1, .v = {3}};
        assert_false(wf_pos_next(d, &p));
        p = (wf_pos){.n = 3, .v = {1, 2, 0}}; /* an if has no branch 2 */
        assert_null(wf_pos_step(d, &p));
        wf_def_free(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_demo_builds),      cmocka_unit_test(test_every_error_with_its_path),
                cmocka_unit_test(test_top_level_errors), cmocka_unit_test(test_nesting_limit),
                cmocka_unit_test(test_positions),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
