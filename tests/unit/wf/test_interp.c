/* The interpreter, each step kind, on an injected clock (instants are arguments). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/manifest.h"
#include "wf/interp.h"

#include "demo.h"

#define H (3600LL * 1000000)

static sked_time at(const char *s) {
        sked_time t = 0;
        assert_int_equal(time_parse_utc(s, &t), 0);
        return t;
}

static wf_def *build(const char *text) {
        json_t *in = NULL;
        sked_err err = {0};
        if (manifest_parse(text, strlen(text), "def.yaml", &in, &err) < 0)
                fail_msg("%s", err.msg);
        wf_def *d = NULL;
        if (wf_def_build(in, NULL, NULL, &d, NULL, &err) < 0)
                fail_msg("%s", err.msg);
        json_decref(in);
        return d;
}

static wf_inst new_inst(const char *input_json) {
        wf_inst in = {.input = json_loads(input_json, 0, NULL), .vars = json_object(), .steps = json_object()};
        assert_non_null(in.input);
        return in;
}

static void inst_clear(wf_inst *in) {
        json_decref(in->input);
        json_decref(in->vars);
        json_decref(in->steps);
}

static void advance(const wf_def *d, wf_inst *in, const wf_event *ev, sked_time now, wf_result *r) {
        sked_err err = {0};
        wf_event none = {.kind = WF_EV_NONE};
        if (wf_advance(d, in, ev ? ev : &none, now, r, &err) < 0)
                fail_msg("%s", err.msg);
}

static void test_demo_signal(void **state) {
        (void) state;
        wf_def *d = build(demo_text());
        wf_inst in = new_inst("{\"n\": 7}");
        wf_result r;
        sked_time t0 = at("2026-12-01T09:00:00Z");
        advance(d, &in, NULL, t0, &r);
        assert_int_equal(r.out, WF_OUT_WAIT);
        assert_int_equal(r.wait, WF_WAIT_SIGNAL);
        assert_string_equal(r.signal, "approve");
        assert_int_equal(r.timeout, t0 + H);
        assert_true(in.waiting);
        assert_true(json_is_integer(json_object_get(in.vars, "x")));
        assert_int_equal(json_integer_value(json_object_get(in.vars, "x")), 14);
        assert_string_equal(json_string_value(json_object_get(in.vars, "size")), "big");
        assert_int_equal(json_array_size(r.journal), 4); /* double, check, big, approval waiting */
        wf_result_clear(&r);

        json_t *data = json_pack("{s:s}", "who", "ann");
        wf_event ev = {.kind = WF_EV_SIGNAL, .signal = "approve", .data = data, .at = t0 + 60};
        advance(d, &in, &ev, t0 + 120, &r);
        assert_int_equal(r.out, WF_OUT_DONE);
        assert_string_equal(r.status, "succeeded");
        assert_string_equal(json_string_value(json_object_get(in.vars, "approved_by")), "ann");
        wf_result_clear(&r);
        json_decref(data);
        inst_clear(&in);

        /* n = 3: the else branch */
        in = new_inst("{\"n\": 3}");
        advance(d, &in, NULL, t0, &r);
        assert_string_equal(json_string_value(json_object_get(in.vars, "size")), "small");
        assert_string_equal(json_string_value(json_object_get(json_object_get(in.steps, "check"), "branch")), "else");
        wf_result_clear(&r);
        /* no signal within the hour */
        ev = (wf_event){.kind = WF_EV_TIMEOUT};
        advance(d, &in, &ev, t0 + H, &r);
        assert_int_equal(r.out, WF_OUT_DONE);
        assert_string_equal(r.status, "failed");
        assert_non_null(strstr(r.reason, "the wait timed out after 1h"));
        assert_non_null(strstr(r.reason, "approval"));
        wf_result_clear(&r);
        inst_clear(&in);
        wf_def_free(d);
}

static void test_switch_stop_and_on_timeout(void **state) {
        (void) state;
        wf_def *d = build("name: s\n"
                          "steps:\n"
                          "  - id: pick\n"
                          "    switch:\n"
                          "      - when: \"input.k == 'a'\"\n"
                          "        steps: [{id: ca, set: {v: a}}]\n"
                          "      - when: \"input.k == 'b'\"\n"
                          "        steps: [{id: cb, stop: {status: canceled, message: \"${ 'no ' .. input.k }\"}}]\n"
                          "    default: [{id: cd, set: {v: other}}]\n"
                          "  - id: w\n"
                          "    wait: {signal: go, timeout: 30m, on_timeout: [{id: late, set: {late: true}}]}\n"
                          "  - id: end\n"
                          "    stop: succeeded\n"
                          "  - id: never\n"
                          "    set: {never: true}\n");
        sked_time t0 = at("2026-12-01T09:00:00Z");
        wf_result r;
        wf_inst in = new_inst("{\"k\": \"a\"}");
        advance(d, &in, NULL, t0, &r);
        assert_string_equal(json_string_value(json_object_get(in.vars, "v")), "a");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(in.steps, "pick"), "case")), 0);
        assert_int_equal(r.out, WF_OUT_WAIT);
        wf_result_clear(&r);
        wf_event ev = {.kind = WF_EV_TIMEOUT};
        advance(d, &in, &ev, t0 + H / 2, &r);
        assert_int_equal(r.out, WF_OUT_DONE);
        assert_string_equal(r.status, "succeeded");
        assert_true(json_is_true(json_object_get(in.vars, "late")));
        assert_null(json_object_get(in.vars, "never")); /* stop ended it */
        wf_result_clear(&r);
        inst_clear(&in);

        in = new_inst("{\"k\": \"b\"}");
        advance(d, &in, NULL, t0, &r);
        assert_int_equal(r.out, WF_OUT_DONE);
        assert_string_equal(r.status, "canceled");
        assert_string_equal(r.reason, "no b");
        wf_result_clear(&r);
        inst_clear(&in);

        in = new_inst("{\"k\": \"z\"}");
        advance(d, &in, NULL, t0, &r);
        assert_string_equal(json_string_value(json_object_get(in.vars, "v")), "other");
        assert_string_equal(json_string_value(json_object_get(json_object_get(in.steps, "pick"), "case")), "default");
        wf_result_clear(&r);
        inst_clear(&in);
        wf_def_free(d);
}

static void test_run_step(void **state) {
        (void) state;
        wf_def *d = build(
                "name: r\n"
                "steps:\n"
                "  - id: job\n"
                "    run: {type: ledger.transfer, params: {amount: \"${ input.n * 100 }\", note: \"n=${input.n}\"}}\n"
                "  - id: after\n"
                "    set: {count: \"${ #steps.job.results }\", first: \"${ steps.job.results[1].key }\"}\n");
        sked_time t0 = at("2026-12-01T09:00:00Z");
        wf_result r;
        wf_inst in = new_inst("{\"n\": 5}");
        advance(d, &in, NULL, t0, &r);
        assert_int_equal(r.out, WF_OUT_RUN);
        assert_string_equal(r.type, "ledger.transfer");
        assert_string_equal(r.step_id, "job");
        assert_int_equal(json_integer_value(json_object_get(r.params, "amount")), 500);
        assert_string_equal(json_string_value(json_object_get(r.params, "note")), "n=5");
        wf_result_clear(&r);
        json_t *out = json_pack("{s:I, s:s, s:[{s:s}, {s:s}]}", "run_id", (json_int_t) 9, "state", "succeeded",
                                "results", "key", "k1", "key", "k2");
        wf_event ev = {.kind = WF_EV_RUN, .data = out, .run_ok = true};
        advance(d, &in, &ev, t0 + 5, &r);
        assert_int_equal(r.out, WF_OUT_DONE);
        assert_string_equal(r.status, "succeeded");
        assert_int_equal(json_integer_value(json_object_get(in.vars, "count")), 2);
        assert_string_equal(json_string_value(json_object_get(in.vars, "first")), "k1");
        wf_result_clear(&r);
        inst_clear(&in);
        json_decref(out);

        /* a run that failed fails the instance, naming the step */
        in = new_inst("{\"n\": 5}");
        advance(d, &in, NULL, t0, &r);
        wf_result_clear(&r);
        ev = (wf_event){.kind = WF_EV_RUN, .run_ok = false, .error = "exit status 3"};
        advance(d, &in, &ev, t0 + 5, &r);
        assert_string_equal(r.status, "failed");
        assert_non_null(strstr(r.reason, "steps[0] (job): the run of ledger.transfer did not succeed: exit status 3"));
        wf_result_clear(&r);
        inst_clear(&in);
        wf_def_free(d);
}

static void test_expression_error_fails_with_path(void **state) {
        (void) state;
        wf_def *d =
                build("name: e\nsteps:\n  - id: a\n    if: \"vars.nothing > 1\"\n    then: [{id: b, set: {x: 1}}]\n");
        wf_result r;
        wf_inst in = new_inst("{}");
        advance(d, &in, NULL, 0, &r);
        assert_int_equal(r.out, WF_OUT_DONE);
        assert_string_equal(r.status, "failed");
        if (!strstr(r.reason, "steps[0].if: expr:1: attempt to compare"))
                fail_msg("%s", r.reason);
        wf_result_clear(&r);
        inst_clear(&in);
        wf_def_free(d);
}

static void test_timers(void **state) {
        (void) state;
        wf_def *d = build("name: t\n"
                          "steps:\n"
                          "  - id: pause\n"
                          "    wait: {duration: 90m}\n"
                          "  - id: until_instant\n"
                          "    wait: {until: \"2026-12-24T18:00:00Z\"}\n"
                          "  - id: until_wall\n"
                          "    wait: {until: \"2027-03-14T02:30:00\", zone: America/New_York}\n"
                          "  - id: computed\n"
                          "    wait: {until: \"${ time.now() + time.duration('2h') }\"}\n"
                          "  - id: at_nine\n"
                          "    wait: {at: \"09:00\", zone: Europe/Paris}\n");
        wf_result r;
        wf_inst in = new_inst("{}");
        sked_time t0 = at("2026-12-01T09:00:00Z");
        advance(d, &in, NULL, t0, &r);
        assert_int_equal(r.out, WF_OUT_WAIT);
        assert_int_equal(r.due, t0 + 90 * 60 * 1000000LL);
        assert_int_equal(r.timeout, 0);
        wf_result_clear(&r);
        wf_event fire = {.kind = WF_EV_TIMER};
        advance(d, &in, &fire, r.due, &r);
        assert_int_equal(r.due, at("2026-12-24T18:00:00Z"));
        assert_string_equal(json_string_value(json_object_get(json_object_get(in.steps, "pause"), "fired_at")),
                            "2026-12-01T10:30:00Z");
        wf_result_clear(&r);
        advance(d, &in, &fire, at("2026-12-24T18:00:00Z"), &r);
        /* 02:30 does not exist on 2027-03-14 in New York: 03:30 EDT */
        assert_int_equal(r.due, at("2027-03-14T07:30:00Z"));
        wf_result_clear(&r);
        advance(d, &in, &fire, at("2027-03-14T07:30:00Z"), &r);
        assert_int_equal(r.due, at("2027-03-14T09:30:00Z"));
        wf_result_clear(&r);
        advance(d, &in, &fire, at("2027-03-14T09:30:00Z"), &r);
        /* 09:00 in Paris on 2027-03-14 (CET) is 08:00Z, passed: the next day */
        assert_int_equal(r.due, at("2027-03-15T08:00:00Z"));
        wf_result_clear(&r);
        advance(d, &in, &fire, at("2027-03-15T08:00:00Z"), &r);
        assert_string_equal(r.status, "succeeded");
        wf_result_clear(&r);
        inst_clear(&in);
        wf_def_free(d);
}

static void test_daily_timer_across_dst_nights(void **state) {
        (void) state;
        /* a wall-time wait at 02:30 New York each night, around both changes of 2026 */
        wf_def *d = build("name: dst\nsteps:\n  - id: w\n    wait: {at: \"02:30\", zone: America/New_York}\n");
        wf_event none = {.kind = WF_EV_NONE};
        static const struct {
                const char *now, *due;
        } cases[] = {
                {"2026-03-07T12:00:00Z", "2026-03-08T07:30:00Z"}, /* the gap: 03:30 EDT */
                {"2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"}, /* the next night, EDT */
                {"2026-10-31T12:00:00Z", "2026-11-01T07:30:00Z"}, /* after the fall back: EST, once */
                {"2026-11-01T07:30:00Z", "2026-11-02T07:30:00Z"}, /* EST */
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                wf_inst in = new_inst("{}");
                wf_result r;
                sked_err err = {0};
                assert_int_equal(wf_advance(d, &in, &none, at(cases[i].now), &r, &err), 0);
                char got[40];
                time_format_utc(r.due, got, sizeof got);
                if (r.due != at(cases[i].due))
                        fail_msg("from %s: expected %s, got %s", cases[i].now, cases[i].due, got);
                wf_result_clear(&r);
                inst_clear(&in);
        }
        /* 01:30 on the fall-back night happens twice: the first */
        wf_def *d2 = build("name: dst2\nsteps:\n  - id: w\n    wait: {at: \"01:30\", zone: America/New_York}\n");
        wf_inst in = new_inst("{}");
        wf_result r;
        sked_err err = {0};
        assert_int_equal(wf_advance(d2, &in, &none, at("2026-10-31T12:00:00Z"), &r, &err), 0);
        assert_int_equal(r.due, at("2026-11-01T05:30:00Z"));
        wf_result_clear(&r);
        inst_clear(&in);
        wf_def_free(d2);
        wf_def_free(d);
}

static void test_yield_bounds_inline_work(void **state) {
        (void) state;
        /* WF_INLINE_MAX set steps run in one advance; one more yields once */
        size_t cap = 64 * 1024;
        char *text = malloc(cap);
        size_t o = (size_t) snprintf(text, cap, "name: many\nsteps:\n");
        for (int i = 0; i < WF_INLINE_MAX + 1; i++)
                o += (size_t) snprintf(text + o, cap - o, "  - {id: s%d, set: {n: %d}}\n", i, i);
        wf_def *d = build(text);
        free(text);
        wf_inst in = new_inst("{}");
        wf_result r;
        advance(d, &in, NULL, 0, &r);
        assert_int_equal(r.out, WF_OUT_YIELD);
        assert_int_equal(json_integer_value(json_object_get(in.vars, "n")), WF_INLINE_MAX - 1);
        wf_result_clear(&r);
        advance(d, &in, NULL, 0, &r);
        assert_int_equal(r.out, WF_OUT_DONE);
        assert_int_equal(json_integer_value(json_object_get(in.vars, "n")), WF_INLINE_MAX);
        wf_result_clear(&r);
        inst_clear(&in);
        wf_def_free(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_demo_signal),
                cmocka_unit_test(test_switch_stop_and_on_timeout),
                cmocka_unit_test(test_run_step),
                cmocka_unit_test(test_expression_error_fails_with_path),
                cmocka_unit_test(test_timers),
                cmocka_unit_test(test_daily_timer_across_dst_nights),
                cmocka_unit_test(test_yield_bounds_inline_work),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
