#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "model/manifest.h"
#include "model/params.h"
#include "model/ptype.h"

static char fixtures[1024];
static char tmpdir[] = "/tmp/sked-model-XXXXXX";

static const char *fixture(const char *name) {
        static char path[2048];
        snprintf(path, sizeof path, "%s/%s", fixtures, name);
        return path;
}

static json_t *load_json_file(const char *path) {
        json_error_t je;
        json_t *v = json_load_file(path, 0, &je);
        if (!v)
                fail_msg("%s: %s", path, je.text);
        return v;
}

static void assert_json_equal(const json_t *got, const json_t *want) {
        if (!json_equal(got, want)) {
                char *g = json_dumps(got, JSON_COMPACT), *w = json_dumps(want, JSON_COMPACT);
                fail_msg("got  %s\nwant %s", g, w);
        }
}

static ptype *load(const char *path) {
        ptype *t = NULL;
        sked_err e = {0};
        if (ptype_load(path, &t, &e) < 0)
                fail_msg("%s", e.msg);
        return t;
}

static void write_file(const char *name, const char *text, size_t len) {
        FILE *f = fopen(name, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
}

/* Writes `text` to m.yaml (or m.json) in the temp dir and expects ptype_load to fail
 * with exactly `msg`. */
static void bad(const char *name, const char *text, const char *msg) {
        ptype *t = NULL;
        sked_err e = {0};
        write_file(name, text, strlen(text));
        int r = ptype_load(name, &t, &e);
        if (r >= 0)
                fail_msg("accepted: %s", text);
        assert_null(t);
        if (strcmp(e.msg, msg) != 0 && getenv("KEEP_GOING"))
                print_message("MISMATCH\ngot  %s\nwant %s\n", e.msg, msg);
        else if (strcmp(e.msg, msg) != 0)
                fail_msg("for:\n%s\ngot  %s\nwant %s", text, e.msg, msg);
        unlink(name);
}

/* What `sked type register FILE` reads: the file's JSON, or the error with the file's
 * name first, for syntax and structure alike (docs/manifests.md). */
static void load_checked(void **state) {
        (void) state;
        assert_int_equal(chdir(tmpdir), 0);
        static const struct {
                const char *text, *msg;
        } cases[] = {
                {"name: x\nhandler: {plugin: true}\ndefaults: {timout: 5m}\n",
                 "ledger.yaml: defaults.timout: unknown key (expected one of: timeout, grace, retry, concurrency, "
                 "retention, policy)"},
                {"name: x\nparams: [a, b\n", "ledger.yaml:3:1: flow sequence without a closing bracket"},
                {"name: x\n", "ledger.yaml: handler: required (command: [...] or plugin: true)"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                json_t *def = NULL;
                sked_err e = {0};
                write_file("ledger.yaml", cases[i].text, strlen(cases[i].text));
                assert_int_equal(manifest_load_checked("ledger.yaml", &def, &e), -EINVAL);
                assert_null(def);
                assert_string_equal(e.msg, cases[i].msg);
        }
        const char *good = "name: ledger.transfer\nhandler: {command: [/bin/true]}\n";
        write_file("ledger.yaml", good, strlen(good));
        json_t *def = NULL;
        sked_err e = {0};
        assert_int_equal(manifest_load_checked("ledger.yaml", &def, &e), 0);
        assert_string_equal(json_string_value(json_object_get(def, "name")), "ledger.transfer");
        json_decref(def);
        unlink("ledger.yaml");
        json_t *none = NULL;
        assert_int_equal(manifest_load_checked("missing.yaml", &none, &e), -ENOENT);
        assert_string_equal(e.msg, "missing.yaml: No such file or directory");
}

static void scheduled_yaml(void **state) {
        (void) state;
        ptype *t = load(fixture("transfer.yaml"));
        json_t *want = load_json_file(fixture("transfer.expected.json"));
        assert_json_equal(t->json, want);

        assert_string_equal(t->name, "ledger.transfer");
        assert_string_equal(t->title, "Transfer ledger");
        assert_string_equal(t->feature, "ledger");
        assert_false(t->background);
        assert_int_equal(t->handler, PTYPE_HANDLER_COMMAND);
        assert_int_equal(t->argc, 2);
        assert_string_equal(t->argv[0], "/usr/local/bin/transfer");
        assert_string_equal(t->argv[1], "--fast");
        assert_null(t->argv[2]);
        assert_string_equal(t->workdir, "/srv/ledger");
        assert_string_equal(t->env[0], "LEDGER_MODE=fast");
        assert_string_equal(t->env[1], "TZ=UTC");
        assert_null(t->env[2]);
        assert_int_equal(t->timeout_ms, 30 * 60 * 1000);
        assert_int_equal(t->retention_ms, 30LL * 86400 * 1000);
        assert_int_equal(t->concurrency, 2);
        assert_int_equal(t->retry.max_attempts, 3);
        assert_int_equal(t->retry.initial_backoff_ms, 10000);
        assert_int_equal(t->retry.max_backoff_ms, 600000);
        assert_true(t->retry.multiplier == 2.0);
        assert_null(t->series);
        assert_true(json_equal(t->params, json_object_get(want, "params")));

        /* the schema is usable as is */
        json_t *in = json_pack("{s:s}", "account", "acme"), *out = NULL;
        assert_int_equal(params_validate(t->params, in, &out, NULL), 0);
        char *txt = json_dumps(out, JSON_COMPACT);
        assert_string_equal(txt, "{\"account\":\"acme\",\"amount\":100,\"ratio\":0.5,\"dry_run\":false,\"tier\":"
                                 "\"gold\",\"code\":\"3\"}");
        free(txt);
        json_decref(out);
        json_decref(in);
        json_decref(want);
        ptype_free(t);
}

static void scheduled_json_same(void **state) {
        (void) state;
        ptype *y = load(fixture("transfer.yaml"));
        ptype *j = load(fixture("transfer.json"));
        assert_json_equal(j->json, y->json);
        ptype_free(y);
        ptype_free(j);
}

static void background_yaml(void **state) {
        (void) state;
        ptype *t = load(fixture("subledger.yaml"));
        json_t *want = load_json_file(fixture("subledger.expected.json"));
        assert_json_equal(t->json, want);
        assert_true(t->background);
        assert_int_equal(t->handler, PTYPE_HANDLER_PLUGIN);
        assert_null(t->argv);
        assert_non_null(t->env);
        assert_null(t->env[0]);
        assert_null(t->description);
        assert_null(t->feature);
        assert_string_equal(t->title, "subledger.sync");
        assert_true(json_equal(t->series, json_object_get(want, "series")));
        json_decref(want);
        ptype_free(t);
}

/* The normalized JSON (what the store keeps) reads back to the same type. */
static void normalized_is_stable(void **state) {
        (void) state;
        static const char *const files[] = {"transfer.yaml", "subledger.yaml"};
        for (size_t i = 0; i < 2; i++) {
                ptype *t = load(fixture(files[i])), *again = NULL;
                sked_err e = {0};
                if (ptype_from_json(t->json, &again, &e) < 0)
                        fail_msg("%s: %s", files[i], e.msg);
                assert_json_equal(again->json, t->json);
                assert_int_equal(again->timeout_ms, t->timeout_ms);
                ptype_free(again);
                ptype_free(t);
        }
        ptype_free(NULL);
}

static void yaml_scalars(void **state) {
        (void) state;
        const char *text = "a: true\nb: 3\nc: \"3\"\nd: 1.5\ne: ~\nf: yes\ng: 0x10\nh: -7\ni: '007'\nj:\nk: False\n"
                           "l: !!str 12\nm: [1, x, null]\nn: 1e3\no: 99999999999999999999.0\n";
        json_t *v = NULL, *want;
        sked_err e = {0};
        if (manifest_parse(text, strlen(text), "t.yaml", &v, &e) < 0)
                fail_msg("%s", e.msg);
        want = json_loads("{\"a\":true,\"b\":3,\"c\":\"3\",\"d\":1.5,\"e\":null,\"f\":\"yes\",\"g\":\"0x10\",\"h\":-7,"
                          "\"i\":\"007\",\"j\":null,\"k\":false,\"l\":\"12\",\"m\":[1,\"x\",null],\"n\":1000.0,"
                          "\"o\":1e20}",
                          0, NULL);
        assert_json_equal(v, want);
        assert_true(json_is_integer(json_object_get(v, "b")));
        assert_true(json_is_real(json_object_get(v, "n")));
        json_decref(v);
        json_decref(want);
}

/* A manifest is UTF-8 text: a bad byte is refused with its line and column before a
 * parser sees it (libfyaml looped forever on "%\xff", found by tests/fuzz). */
static void not_utf8(void **state) {
        (void) state;
        static const struct {
                const char *text;
                size_t len;
                const char *msg;
        } cases[] = {
                {"%\xff", 2, "m.yaml:1:2: not valid UTF-8 (a manifest is UTF-8 text)"},
                {"name: x\n%Y\xff\xff", 12, "m.yaml:2:3: not valid UTF-8 (a manifest is UTF-8 text)"},
                {"name: \"\xc3(\"\n", 11, "m.yaml:1:8: not valid UTF-8 (a manifest is UTF-8 text)"},
                {"{\"name\": \"\xed\xa0\x80\"}", 14, "m.yaml:1:11: not valid UTF-8 (a manifest is UTF-8 text)"},
                {"name: x\0\n", 9, "m.yaml:1:8: a NUL byte"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                json_t *v = NULL;
                sked_err e = {0};
                assert_int_equal(manifest_parse(cases[i].text, cases[i].len, "m.yaml", &v, &e), -EINVAL);
                assert_null(v);
                assert_string_equal(e.msg, cases[i].msg);
        }
        json_t *v = NULL;
        sked_err e = {0};
        assert_int_equal(manifest_parse("name: \"\xc3\xa9t\xc3\xa9\"\n", 14, "m.yaml", &v, &e), 0);
        assert_string_equal(json_string_value(json_object_get(v, "name")), "\xc3\xa9t\xc3\xa9");
        json_decref(v);
}

static void bad_manifests(void **state) {
        (void) state;
        assert_int_equal(chdir(tmpdir), 0);
        const char *ok_handler = "handler: {plugin: true}\n";
        char buf[4096];

        bad("m.yaml", "kind: scheduled\nhandler: {plugin: true}\n", "m.yaml: name: required");
        bad("m.yaml", "name: Ledger\nhandler: {plugin: true}\n",
            "m.yaml: name: \"Ledger\": expected lowercase letters, digits, '.', '_' or '-', starting with a letter, "
            "at most 64 characters");
        bad("m.yaml", "name: 5\nhandler: {plugin: true}\n", "m.yaml: name: expected a string, got 5");
        bad("m.yaml", "name: x\nnme: y\nhandler: {plugin: true}\n",
            "m.yaml: nme: unknown key (expected one of: name, kind, title, description, feature, handler, params, "
            "query_fields, defaults, series)");
        bad("m.yaml", "name: x\nhandler: {plugin: true}\ndefaults: {timout: 5m}\n",
            "m.yaml: defaults.timout: unknown key (expected one of: timeout, grace, retry, concurrency, retention, "
            "policy)");
        bad("m.yaml", "name: x\nhandler: {plugin: true}\ndefaults: {retry: {max_attempt: 2}}\n",
            "m.yaml: defaults.retry.max_attempt: unknown key (expected one of: max_attempts, initial_backoff, "
            "max_backoff, multiplier)");
        bad("m.yaml", "name: x\nkind: daily\nhandler: {plugin: true}\n",
            "m.yaml: kind: expected scheduled or background, got \"daily\"");
        bad("m.yaml", "name: x\nfeature: Big Feature\nhandler: {plugin: true}\n",
            "m.yaml: feature: \"Big Feature\": expected lowercase letters, digits, '.', '_' or '-', starting with a "
            "letter, at most 64 characters");

        /* handlers */
        bad("m.yaml", "name: x\n", "m.yaml: handler: required (command: [...] or plugin: true)");
        bad("m.yaml", "name: x\nhandler: {command: [/bin/true], plugin: true}\n",
            "m.yaml: handler: expected exactly one of command or plugin");
        bad("m.yaml", "name: x\nhandler: {}\n", "m.yaml: handler: expected exactly one of command or plugin");
        bad("m.yaml", "name: x\nhandler: {command: \"/bin/echo hi\"}\n",
            "m.yaml: handler.command: expected a non-empty list of strings (the program and its arguments; no shell)");
        bad("m.yaml", "name: x\nhandler: {command: []}\n",
            "m.yaml: handler.command: expected a non-empty list of strings (the program and its arguments; no shell)");
        bad("m.yaml", "name: x\nhandler: {command: [bin/run]}\n",
            "m.yaml: handler.command[0]: \"bin/run\": expected an absolute path or a bare program name (looked up in "
            "PATH)");
        bad("m.yaml", "name: x\nhandler: {command: [run, 5]}\n",
            "m.yaml: handler.command[1]: expected a string, got 5");
        bad("m.yaml", "name: x\nhandler: {command: [run], workdir: srv}\n",
            "m.yaml: handler.workdir: \"srv\": expected an absolute path");
        bad("m.yaml", "name: x\nhandler: {command: [run], env: {SKED_RUN: 1}}\n",
            "m.yaml: handler.env.SKED_RUN: names starting with SKED_ are reserved for sked");
        bad("m.yaml", "name: x\nhandler: {command: [run], env: {PORT: 8080}}\n",
            "m.yaml: handler.env.PORT: expected a string, got 8080");
        bad("m.yaml", "name: x\nhandler: {command: [run], env: {1X: a}}\n",
            "m.yaml: handler.env.1X: expected a name matching [A-Za-z_][A-Za-z0-9_]*");
        bad("m.yaml", "name: x\nhandler: {plugin: false}\n", "m.yaml: handler.plugin: expected true, got false");
        bad("m.yaml", "name: x\nhandler: {plugin: true, workdir: /srv}\n",
            "m.yaml: handler.workdir: only allowed with a command handler");
        bad("m.yaml", "name: x\nhandler: {plugin: true, shell: sh}\n",
            "m.yaml: handler.shell: unknown key (expected one of: command, workdir, env, plugin)");

        /* params */
        snprintf(buf, sizeof buf, "name: x\n%sparams:\n  - {name: tier, type: enum}\n", ok_handler);
        bad("m.yaml", buf, "m.yaml: params.tier.values: required for type enum");
        snprintf(buf, sizeof buf, "name: x\n%sparams:\n  - {name: amount, type: int, max: 10, default: 20}\n",
                 ok_handler);
        bad("m.yaml", buf, "m.yaml: params.amount.default: must be <= 10, got 20");
        snprintf(buf, sizeof buf, "name: x\n%sparams:\n  - {name: day, type: date, default: 2025-02-29}\n", ok_handler);
        bad("m.yaml", buf, "m.yaml: params.day.default: \"2025-02-29\": no such date");
        snprintf(buf, sizeof buf, "name: x\n%sparams:\n  - {name: code, type: string, default: 3}\n", ok_handler);
        bad("m.yaml", buf, "m.yaml: params.code.default: expected a string, got 3");

        /* defaults */
        snprintf(buf, sizeof buf, "name: x\n%sdefaults: {timeout: 8d}\n", ok_handler);
        bad("m.yaml", buf, "m.yaml: defaults.timeout: must be from 1s to 7d, got 8d");
        snprintf(buf, sizeof buf, "name: x\n%sdefaults: {timeout: 5 minutes}\n", ok_handler);
        bad("m.yaml", buf, "m.yaml: defaults.timeout: \"5 minutes\": missing unit after 5 (expected ms, s, m, h or d)");
        snprintf(buf, sizeof buf, "name: x\n%sdefaults: {timeout: 5m, timeout_ms: 1000}\n", ok_handler);
        bad("m.yaml", buf, "m.yaml: defaults.timeout: give either timeout or timeout_ms, not both");
        snprintf(buf, sizeof buf, "name: x\n%sdefaults: {retry: {max_attempts: 0}}\n", ok_handler);
        bad("m.yaml", buf, "m.yaml: defaults.retry.max_attempts: expected an integer from 1 to 100, got 0");
        snprintf(buf, sizeof buf, "name: x\n%sdefaults: {retry: {initial_backoff: 1h, max_backoff: 1m}}\n", ok_handler);
        bad("m.yaml", buf, "m.yaml: defaults.retry.max_backoff: must not be less than initial_backoff");
        snprintf(buf, sizeof buf, "name: x\n%sdefaults: {concurrency: -1}\n", ok_handler);
        bad("m.yaml", buf, "m.yaml: defaults.concurrency: expected an integer from 0 (unlimited) to 100000, got -1");

        /* series */
        snprintf(buf, sizeof buf, "name: x\nkind: background\n%s", ok_handler);
        bad("m.yaml", buf, "m.yaml: series: required for background types (schedule, tz, params)");
        snprintf(buf, sizeof buf, "name: x\n%sseries: {schedule: every 30s}\n", ok_handler);
        bad("m.yaml", buf, "m.yaml: series: only for background types (users create the series of scheduled types)");
        snprintf(buf, sizeof buf, "name: x\nkind: background\n%sseries: {tz: UTC}\n", ok_handler);
        bad("m.yaml", buf, "m.yaml: series.schedule: required (e.g. \"every 30s\")");
        snprintf(buf, sizeof buf, "name: x\nkind: background\n%sseries: {schedule: every 1m, tz: ../../etc/passwd}\n",
                 ok_handler);
        bad("m.yaml", buf, "m.yaml: series.tz: \"../../etc/passwd\": expected a time zone name like Europe/Paris");
        snprintf(buf, sizeof buf,
                 "name: x\nkind: background\n%sparams: [{name: n, type: int, required: true}]\nseries: {schedule: "
                 "every 1m}\n",
                 ok_handler);
        bad("m.yaml", buf, "m.yaml: series.params.n: required");
        snprintf(buf, sizeof buf, "name: x\nkind: background\n%sseries: {schedule: every 1m, params: {n: 1}}\n",
                 ok_handler);
        bad("m.yaml", buf, "m.yaml: series.params.n: unknown parameter (this type takes no parameters)");

        /* syntax */
        bad("m.yaml", "name: x\nhandler: {command: [a, b}\n", "m.yaml:2:25: mismatched flow mapping end");
        bad("m.yaml", "name: x\nname: y\n", "m.yaml:2:1: duplicate key");
        bad("m.yaml", "name: x\n\tkind: y\n", "m.yaml:1:7: invalid multiline plain key");
        bad("m.yaml", "name: &n x\ntitle: *n\n", "m.yaml:1:10: anchors and aliases are not supported");
        bad("m.yaml", "name: !!binary eA==\n", "m.yaml:1:16: YAML tags are not supported (except !!str)");
        bad("m.yaml", "name: x\n---\nname: y\n", "m.yaml: more than one YAML document");
        bad("m.yaml", "", "m.yaml: empty manifest");
        bad("m.yaml", "# nothing\n", "m.yaml: empty manifest");
        bad("m.yaml", "- name: x\n", "m.yaml: expected a mapping (name: ..., handler: ...) at the top level");
        bad("m.yaml", "name: .inf\n", "m.yaml:1:7: number out of range");
        bad("m.json", "{\"name\": \"x\",}", "m.json:1:14: string or '}' expected near '}'");
        bad("m.json", "\n\n{\"name\": \"x\",,}", "m.json:3:14: string or '}' expected near ','");
        bad("m.json", "{\"name\": \"x\",\n \"name\": \"y\"}", "m.json:2:7: duplicate object key near '\"name\"'");
        bad("m.json", "  {\"name\": \"x\", \"handler\": {\"plugin\": true}, \"defaults\": {\"timout\": 1}}",
            "m.json: defaults.timout: unknown key (expected one of: timeout, grace, retry, concurrency, retention, "
            "policy)");

        /* size limit and missing file */
        char *big = malloc(MANIFEST_MAX_BYTES + 2);
        assert_non_null(big);
        memset(big, '#', MANIFEST_MAX_BYTES + 1);
        big[MANIFEST_MAX_BYTES + 1] = '\0';
        bad("m.yaml", big, "m.yaml: larger than 1048576 bytes");
        free(big);
        ptype *t = NULL;
        sked_err e = {0};
        assert_int_equal(ptype_load("missing.yaml", &t, &e), -ENOENT);
        assert_string_equal(e.msg, "missing.yaml: No such file or directory");
        assert_int_equal(ptype_load(".", &t, &e), -EINVAL);
        assert_string_equal(e.msg, ".: not a regular file");
        assert_null(t);
}

static int setup(void **state) {
        (void) state;
        const char *dir = getenv("MODEL_FIXTURES");
        if (dir)
                snprintf(fixtures, sizeof fixtures, "%s", dir);
        else {
                /* run by hand from the build tree */
                snprintf(fixtures, sizeof fixtures, "%s", "../../../tests/unit/model/fixtures");
        }
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
        (void) state;
        /* a failed case leaves its file behind */
        if (chdir(tmpdir) == 0) {
                unlink("m.yaml");
                unlink("m.json");
        }
        if (chdir("/") == 0)
                rmdir(tmpdir);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(scheduled_yaml),  cmocka_unit_test(scheduled_json_same),
                cmocka_unit_test(background_yaml), cmocka_unit_test(normalized_is_stable),
                cmocka_unit_test(yaml_scalars),    cmocka_unit_test(bad_manifests),
                cmocka_unit_test(not_utf8),        cmocka_unit_test(load_checked),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
