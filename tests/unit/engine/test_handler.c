/* handler: every handler kind the manifest parser accepts has a row in the engine's
 * table, the rows say what the kinds did before the table (timeout policy, in-process
 * code), and no other kind can be made. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/handler.h"
#include "model/ptype.h"

/* One valid manifest per kind.  A new kind must add its sample here, or
 * parsed_kinds_have_rows fails: it checks that every kind was seen. */
static const char *const samples[] = {
        "{\"name\": \"t.cmd\", \"handler\": {\"command\": [\"/bin/true\"]}}",
        "{\"name\": \"t.cmd2\", \"handler\": {\"command\": [\"env\", \"-i\"], \"workdir\": \"/tmp\", "
        "\"env\": {\"A\": \"b\"}}}",
        "{\"name\": \"t.plug\", \"handler\": {\"plugin\": true}}",
};

static ptype *parse(const char *text, sked_err *err) {
        json_error_t je;
        json_t *def = json_loads(text, 0, &je);
        assert_non_null(def);
        ptype *t = NULL;
        int r = ptype_from_json(def, &t, err);
        json_decref(def);
        return r < 0 ? NULL : t;
}

static void every_kind_has_a_row(void **state) {
        (void) state;
        for (int k = 0; k < PTYPE_HANDLER_COUNT; k++) {
                ptype t = {.handler = (ptype_handler) k};
                const handler_ops *h = handler_of(&t);
                const char *name = ptype_handler_name((ptype_handler) k);
                assert_non_null(h);
                assert_non_null(name);
                assert_string_equal(h->name, name);
                assert_non_null(h->run);
                assert_true(h->timeout == HANDLER_TIMEOUT_OWN || h->timeout == HANDLER_TIMEOUT_COOPERATIVE);
                for (int o = 0; o < k; o++) /* one row per kind */
                        assert_ptr_not_equal(handler_of(&(ptype){.handler = (ptype_handler) o}), h);
        }
}

/* The kind of a parsed manifest is the row named by its handler mapping's key. */
static void parsed_kinds_have_rows(void **state) {
        (void) state;
        bool seen[PTYPE_HANDLER_COUNT] = {0};
        for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
                sked_err err = {0};
                ptype *t = parse(samples[i], &err);
                if (!t)
                        fail_msg("%s: %s", samples[i], err.msg);
                assert_true((unsigned) t->handler < PTYPE_HANDLER_COUNT);
                const handler_ops *h = handler_of(t);
                assert_non_null(json_object_get(json_object_get(t->json, "handler"), h->name));
                seen[t->handler] = true;
                ptype_free(t);
        }
        for (int k = 0; k < PTYPE_HANDLER_COUNT; k++)
                if (!seen[k])
                        fail_msg("handler kind %s has no sample manifest in this test",
                                 ptype_handler_name((ptype_handler) k));
}

/* What the kinds did before they were rows: a command enforces its own timeout
 * and needs no code in the process; a plug-in is asked to stop and needs its
 * sked_handler. */
static void rows_keep_the_old_behaviour(void **state) {
        (void) state;
        const handler_ops *cmd = handler_of(&(ptype){.handler = PTYPE_HANDLER_COMMAND});
        const handler_ops *plug = handler_of(&(ptype){.handler = PTYPE_HANDLER_PLUGIN});
        assert_string_equal(cmd->name, "command");
        assert_int_equal(cmd->timeout, HANDLER_TIMEOUT_OWN);
        assert_false(cmd->in_process);
        assert_string_equal(plug->name, "plugin");
        assert_int_equal(plug->timeout, HANDLER_TIMEOUT_COOPERATIVE);
        assert_true(plug->in_process);
}

/* The parser makes no kind it has no row for, and names what it accepts. */
static void unknown_kind_refused(void **state) {
        (void) state;
        static const struct {
                const char *def, *field, *msg;
        } bad[] = {
                {"{\"name\": \"x\", \"handler\": {\"lua\": \"return 1\"}}", "handler.lua",
                 "handler.lua: unknown key (expected one of: command, workdir, env, plugin)"},
                {"{\"name\": \"x\", \"handler\": {\"workdir\": \"/tmp\"}}", "handler",
                 "handler: expected exactly one of command or plugin"},
                {"{\"name\": \"x\", \"handler\": {\"command\": [\"ls\"], \"plugin\": true}}", "handler",
                 "handler: expected exactly one of command or plugin"},
                {"{\"name\": \"x\", \"handler\": \"command\"}", "handler",
                 "handler: expected a mapping with command or plugin"},
                {"{\"name\": \"x\"}", "handler", "handler: required (command: [...] or plugin: true)"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                sked_err err = {0};
                assert_null(parse(bad[i].def, &err));
                assert_int_equal(err.code, -EINVAL);
                assert_string_equal(err.field, bad[i].field);
                assert_string_equal(err.msg, bad[i].msg);
        }
        assert_null(ptype_handler_name(PTYPE_HANDLER_COUNT));
        assert_null(ptype_handler_name((ptype_handler) -1));
}

/* A value that is no kind (only a bug can make one) is refused loudly. */
static void no_row_aborts(void **state) {
        (void) state;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                signal(SIGABRT, SIG_DFL);
                ptype t = {.handler = PTYPE_HANDLER_COUNT};
                handler_of(&t);
                _exit(0);
        }
        int st = 0;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), SIGABRT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(every_kind_has_a_row),
                cmocka_unit_test(parsed_kinds_have_rows),
                cmocka_unit_test(rows_keep_the_old_behaviour),
                cmocka_unit_test(unknown_kind_refused),
                cmocka_unit_test(no_row_aborts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
