/* The workflows domain on every backend: versions, instances (checkpoint, due
 * index, the wake-up of a finished run), the journal, signals. */
#include "backends.h"

#define ST(state) (backend_of(state)->st)

static void versions(void **state) {
        store *st = ST(state);
        sked_err err = {0};
        int64_t v = 0;
        assert_int_equal(
                store_workflow_put(st, "demo.a", "background", "{\"name\":\"demo.a\",\"title\":\"A\"}", 10, &v, &err),
                0);
        assert_int_equal(v, 1);
        assert_int_equal(
                store_workflow_put(st, "demo.a", "background", "{\"name\":\"demo.a\",\"title\":\"A2\"}", 20, &v, &err),
                0);
        assert_int_equal(v, 2);
        assert_int_equal(store_workflow_put(st, "demo.b", "background", "{\"name\":\"demo.b\"}", 30, &v, &err), 0);
        assert_int_equal(v, 1);
        char *text = NULL;
        int64_t got = 0;
        assert_int_equal(store_workflow_get(st, "demo.a", 0, &text, &got, &err), 0);
        assert_int_equal(got, 2);
        assert_non_null(strstr(text, "A2"));
        free(text);
        assert_int_equal(store_workflow_get(st, "demo.a", 1, &text, &got, &err), 0);
        assert_int_equal(got, 1);
        assert_null(strstr(text, "A2"));
        free(text);
        assert_int_equal(store_workflow_get(st, "demo.a", 3, &text, &got, &err), -ENOENT);
        assert_int_equal(store_workflow_get(st, "nope", 0, &text, &got, &err), -ENOENT);
        json_t *list = NULL;
        assert_int_equal(store_workflows_list(st, &list, &err), 0);
        assert_int_equal(json_array_size(list), 2);
        json_t *a = json_array_get(list, 0);
        assert_string_equal(json_string_value(json_object_get(a, "name")), "demo.a");
        assert_int_equal(json_integer_value(json_object_get(a, "version")), 2);
        assert_string_equal(json_string_value(json_object_get(a, "title")), "A2");
        assert_int_equal(json_integer_value(json_object_get(a, "created_at")), 10);
        json_decref(list);
        assert_int_equal(store_workflow_versions(st, "demo.a", 10, &list, &err), 0);
        assert_int_equal(json_array_size(list), 2);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "version")), 2);
        json_decref(list);
}

static void instances(void **state) {
        store *st = ST(state);
        sked_err err = {0};
        instance_row r = {.workflow = "demo.a",
                          .version = 1,
                          .status = "queued",
                          .input = "{\"n\":7}",
                          .vars = "{}",
                          .steps = "{}",
                          .position = "",
                          .due_at = 100,
                          .created_at = 100,
                          .updated_at = 100};
        assert_int_equal(store_instance_insert(st, &r, &err), 0);
        int64_t id1 = r.id;
        r.due_at = 0;
        assert_int_equal(store_instance_insert(st, &r, &err), 0);
        int64_t id2 = r.id;
        assert_true(id2 > id1);
        int64_t *ids = NULL;
        size_t n = 0;
        assert_int_equal(store_instances_due(st, 99, 10, &ids, &n, &err), 0);
        assert_int_equal(n, 0);
        free(ids);
        assert_int_equal(store_instances_due(st, 100, 10, &ids, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_int_equal(ids[0], id1);
        free(ids);
        sked_time next;
        bool any;
        assert_int_equal(store_instances_next_due(st, &next, &any, &err), 0);
        assert_true(any);
        assert_int_equal(next, 100);

        /* the checkpoint: waiting for a run */
        run_row run = {.type = "t",
                       .trigger = "workflow",
                       .params = "{}",
                       .attempt = 1,
                       .queued_at = 1,
                       .not_before = 1,
                       .idem_key = "wf:1:job:1"};
        assert_int_equal(store_type_put(st, "t", false, NULL, "{\"name\":\"t\"}", 1, &err), 0);
        assert_int_equal(store_run_insert(st, &run, &err), 0);
        instance_row g = {0};
        assert_int_equal(store_instance_get(st, id1, &g, &err), 0);
        assert_string_equal(g.input, "{\"n\":7}");
        free(g.status);
        g.status = strdup("running");
        free(g.vars);
        g.vars = strdup("{\"x\":14}");
        free(g.wait_kind);
        g.wait_kind = strdup("run");
        g.wait_run = run.id;
        g.due_at = 0;
        g.transitions = 3;
        g.journal_seq = 2;
        g.updated_at = 200;
        assert_int_equal(store_instance_update(st, &g, &err), 0);
        instance_row_clear(&g);
        assert_int_equal(store_instances_next_due(st, &next, &any, &err), 0);
        assert_false(any);
        /* the run has not ended: the sweep leaves it */
        int64_t woke = -1;
        assert_int_equal(store_instances_wake_ended_runs(st, 300, &woke, &err), 0);
        assert_int_equal(woke, 0);
        assert_int_equal(store_run_start(st, run.id, "n1", 2, 1000, &err), 0);
        run_finish f = {.state = "succeeded", .finished_at = 3};
        assert_int_equal(store_run_finish(st, run.id, &f, 0, &err), 0);
        assert_int_equal(store_instances_wake_ended_runs(st, 300, &woke, &err), 0);
        assert_int_equal(woke, 1);
        assert_int_equal(store_instances_due(st, 300, 10, &ids, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_int_equal(ids[0], id1);
        free(ids);
        assert_int_equal(store_instance_get(st, id1, &g, &err), 0);
        assert_string_equal(g.vars, "{\"x\":14}");
        assert_int_equal(g.wait_run, run.id);
        assert_int_equal(g.transitions, 3);
        g.due_at = 0;
        assert_int_equal(store_instance_update(st, &g, &err), 0);
        assert_int_equal(store_instances_wake_run(st, run.id, 400, &err), 0);
        instance_row_clear(&g);
        assert_int_equal(store_instance_get(st, id1, &g, &err), 0);
        assert_int_equal(g.due_at, 400);
        instance_row_clear(&g);
        free(run.state);
        assert_int_equal(store_instance_get(st, 9999, &g, &err), -ENOENT);

        instance_row *rows = NULL;
        instance_filter fl = {.workflow = "demo.a", .status = "running", .limit = 10};
        assert_int_equal(store_instances_list(st, &fl, &rows, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_int_equal(rows[0].id, id1);
        instance_rows_free(rows, n);
        fl = (instance_filter){.limit = 10};
        assert_int_equal(store_instances_list(st, &fl, &rows, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_int_equal(rows[0].id, id2); /* newest first */
        instance_rows_free(rows, n);
}

static void journal_and_signals(void **state) {
        store *st = ST(state);
        sked_err err = {0};
        journal_entry e = {.step = "a", .path = "steps[0]", .kind = "set", .outcome = "ok", .at = 5};
        assert_int_equal(store_journal_add(st, 1, 1, &e, &err), 0);
        e = (journal_entry){.step = "b",
                            .path = "steps[1]",
                            .kind = "run",
                            .outcome = "started",
                            .at = 6,
                            .detail = "t",
                            .run_id = 42};
        assert_int_equal(store_journal_add(st, 1, 2, &e, &err), 0);
        assert_int_equal(store_journal_add(st, 1, 2, &e, &err), -EEXIST);
        json_t *j = NULL;
        assert_int_equal(store_journal_list(st, 1, 0, 10, &j, &err), 0);
        assert_int_equal(json_array_size(j), 2);
        assert_true(json_is_null(json_object_get(json_array_get(j, 0), "detail")));
        assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 1), "run_id")), 42);
        json_decref(j);
        assert_int_equal(store_journal_list(st, 1, 1, 10, &j, &err), 0);
        assert_int_equal(json_array_size(j), 1);
        json_decref(j);

        assert_int_equal(store_signal_add(st, 1, "go", "{\"n\":1}", 10, &err), 0);
        assert_int_equal(store_signal_add(st, 1, "go", "{\"n\":2}", 11, &err), 0);
        assert_int_equal(store_signal_add(st, 2, "go", NULL, 12, &err), 0);
        bool found;
        char *data = NULL;
        sked_time at;
        assert_int_equal(store_signal_take(st, 1, "stop", &found, &data, &at, &err), 0);
        assert_false(found);
        assert_int_equal(store_signal_take(st, 1, "go", &found, &data, &at, &err), 0);
        assert_true(found);
        assert_string_equal(data, "{\"n\":1}");
        assert_int_equal(at, 10);
        free(data);
        assert_int_equal(store_signal_take(st, 1, "go", &found, &data, &at, &err), 0);
        assert_string_equal(data, "{\"n\":2}");
        free(data);
        assert_int_equal(store_signal_take(st, 1, "go", &found, &data, &at, &err), 0);
        assert_false(found);
        assert_int_equal(store_signal_take(st, 2, "go", &found, &data, &at, &err), 0);
        assert_true(found);
        assert_null(data);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                BACKEND_TESTS(versions),
                BACKEND_TESTS(instances),
                BACKEND_TESTS(journal_and_signals),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
