/* Tests of the command handler with real processes (/bin/sh snippets as fixtures). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/civil.h"
#include "base/err.h"
#include "engine/command.h"

/* ---- recording sink ------------------------------------------------------------ */

typedef struct msg {
        int level;
        char *text;
} msg;

typedef struct res {
        char *key, *status, *data;
} res;

typedef struct rec {
        msg *msgs;
        size_t nmsgs, cap;
        res *results;
        size_t nresults;
        int progress[32];
        size_t nprogress;
        size_t bytes; /* total message text */
        volatile int cancel;
        const char *cancel_on; /* set cancel when this message arrives */
} rec;

static void on_message(void *ud, int level, const char *text) {
        rec *r = ud;
        if (r->nmsgs == r->cap) {
                r->cap = r->cap ? 2 * r->cap : 64;
                r->msgs = realloc(r->msgs, r->cap * sizeof *r->msgs);
                assert_non_null(r->msgs);
        }
        r->msgs[r->nmsgs].level = level;
        r->msgs[r->nmsgs].text = strdup(text);
        r->nmsgs++;
        r->bytes += strlen(text);
        if (r->cancel_on && strcmp(text, r->cancel_on) == 0)
                r->cancel = 1;
}

static void on_result(void *ud, const char *key, const char *status, const char *data) {
        rec *r = ud;
        r->results = realloc(r->results, (r->nresults + 1) * sizeof *r->results);
        r->results[r->nresults].key = strdup(key);
        r->results[r->nresults].status = strdup(status);
        r->results[r->nresults].data = data ? strdup(data) : NULL;
        r->nresults++;
}

static void on_progress(void *ud, int pct) {
        rec *r = ud;
        if (r->nprogress < 32)
                r->progress[r->nprogress++] = pct;
}

static void rec_free(rec *r) {
        for (size_t i = 0; i < r->nmsgs; i++)
                free(r->msgs[i].text);
        for (size_t i = 0; i < r->nresults; i++) {
                free(r->results[i].key);
                free(r->results[i].status);
                free(r->results[i].data);
        }
        free(r->msgs);
        free(r->results);
        memset(r, 0, sizeof *r);
}

static char *std_env[] = {"PATH=/usr/bin:/bin", NULL};

static int run(command_spec *spec, rec *r, command_outcome *o, sked_err *e) {
        command_sink sink = {on_message, on_result, on_progress, r};
        if (!spec->env)
                spec->env = std_env;
        memset(o, 0, sizeof *o);
        err_clear(e);
        return command_run(spec, &sink, o, e);
}

/* Runs `script` with /bin/sh -c; arg becomes $0. */
static int run_sh(const char *script, const char *arg, command_spec *spec, rec *r, command_outcome *o) {
        char *argv[] = {"/bin/sh", "-c", (char *) script, (char *) (arg ? arg : "sh"), NULL};
        command_spec s = spec ? *spec : (command_spec){0};
        s.argv = argv;
        sked_err e;
        int ret = run(&s, r, o, &e);
        if (ret < 0)
                print_error("command_run: %s\n", e.msg);
        return ret;
}

static size_t count_level(const rec *r, int level) {
        size_t n = 0;
        for (size_t i = 0; i < r->nmsgs; i++)
                n += r->msgs[i].level == level;
        return n;
}

static const msg *find_msg(const rec *r, const char *needle) {
        for (size_t i = 0; i < r->nmsgs; i++)
                if (strstr(r->msgs[i].text, needle))
                        return &r->msgs[i];
        return NULL;
}

/* A pid is gone when /proc has no entry or it is a zombie nobody reaped yet (pid 1
 * of a container may not reap). */
static bool pid_gone(pid_t pid) {
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return true;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        return !p || p[1] == '\0' || p[2] == 'Z' || p[2] == 'X';
}

static bool pid_gone_soon(pid_t pid) {
        for (int i = 0; i < 100; i++) {
                if (pid_gone(pid))
                        return true;
                usleep(20000);
        }
        return false;
}

static pid_t read_pid(const char *path) {
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        int pid = 0;
        assert_int_equal(fscanf(f, "%d", &pid), 1);
        fclose(f);
        assert_true(pid > 1);
        return pid;
}

static char *tmp_path(const char *name) {
        static __thread char buf[PATH_MAX];
        snprintf(buf, sizeof buf, "/tmp/sked-test-command-%d-%s", (int) getpid(), name);
        return buf;
}

static bool sigpipe_clean(void) {
        sigset_t mask, pend;
        pthread_sigmask(SIG_SETMASK, NULL, &mask);
        sigpending(&pend);
        return !sigismember(&mask, SIGPIPE) && !sigismember(&pend, SIGPIPE);
}

/* ---- tests ------------------------------------------------------------------- */

static void protocol(void **state) {
        (void) state;
        const char *script =
                "printf '::info::hello\\n::warning::careful\\n::error::broken\\n'\n"
                "echo 'plain line'\n"
                "echo '::result::{\"key\":\"k1\",\"status\":\"done\",\"data\":{\"a\": [1, 2], \"b\": \"x\"}}'\n"
                "echo '::result::{\"key\":\"k2\"}'\n"
                "echo '::result:: {\"key\":\"k3\",\"data\":null} '\n"
                "echo '::result::{bad'\n"
                "echo '::result::{\"status\":\"ok\"}'\n"
                "echo '::result::[1]'\n"
                "echo '::result::{\"key\":\"k\",\"extra\":1}'\n"
                "echo '::result::{\"key\":\"k\",\"key\":\"j\"}'\n"
                "echo '::result::{\"key\":\"k\",\"status\":7}'\n"
                "echo '::progress::50'\n"
                "echo '::progress::150'\n"
                "echo '::progress::-5'\n"
                "echo '::progress:: 42.7 '\n"
                "echo '::progress::abc'\n"
                "printf 'crlf line\\r\\n'\n"
                "echo\n"
                "printf '\\377\\376bad utf8 \\300\\200 ok \\303\\251\\n'\n"
                "echo '::unknown::x'\n"
                "echo 'to stderr' >&2\n"
                "printf 'last line without newline'\n";
        rec r = {0};
        command_outcome o;
        assert_int_equal(run_sh(script, NULL, NULL, &r, &o), 0);
        assert_false(o.signaled);
        assert_int_equal(o.exit_code, 0);
        assert_false(o.output_truncated);

        /* stdout messages in order; the stderr one may come anywhere */
        const msg *se = find_msg(&r, "to stderr");
        assert_non_null(se);
        assert_int_equal(se->level, COMMAND_WARNING);
        assert_string_equal(se->text, "to stderr");
        msg m[32];
        size_t n = 0;
        for (size_t i = 0; i < r.nmsgs && n < 32; i++)
                if (&r.msgs[i] != se)
                        m[n++] = r.msgs[i];
        struct {
                int level;
                const char *text;
                bool exact;
        } want[] = {
                {COMMAND_INFO, "hello", true},
                {COMMAND_WARNING, "careful", true},
                {COMMAND_ERROR, "broken", true},
                {COMMAND_INFO, "plain line", true},
                {COMMAND_ERROR, "::result:: invalid JSON", false},
                {COMMAND_ERROR, "\"key\" is required", false},
                {COMMAND_ERROR, "expected a JSON object", false},
                {COMMAND_ERROR, "unknown member \"extra\"", false},
                {COMMAND_ERROR, "duplicate", false},
                {COMMAND_ERROR, "\"status\" must be", false},
                {COMMAND_WARNING, "::progress:: expected a number 0..100: ::progress::abc", true},
                {COMMAND_INFO, "crlf line", true},
                {COMMAND_INFO,
                 "\xef\xbf\xbd\xef\xbf\xbd"
                 "bad utf8 \xef\xbf\xbd\xef\xbf\xbd ok \xc3\xa9",
                 true},
                {COMMAND_INFO, "::unknown::x", true},
                {COMMAND_INFO, "last line without newline", true},
        };
        size_t nwant = sizeof want / sizeof want[0];
        for (size_t i = 0; i < n; i++)
                print_message("msg %zu [%d] %s\n", i, m[i].level, m[i].text);
        assert_int_equal(n, nwant);
        for (size_t i = 0; i < nwant; i++) {
                assert_int_equal(m[i].level, want[i].level);
                if (want[i].exact)
                        assert_string_equal(m[i].text, want[i].text);
                else
                        assert_non_null(strstr(m[i].text, want[i].text));
        }
        /* the malformed line itself is quoted */
        assert_non_null(strstr(m[4].text, "{bad"));

        assert_int_equal(r.nresults, 3);
        assert_string_equal(r.results[0].key, "k1");
        assert_string_equal(r.results[0].status, "done");
        assert_string_equal(r.results[0].data, "{\"a\":[1,2],\"b\":\"x\"}");
        assert_string_equal(r.results[1].key, "k2");
        assert_string_equal(r.results[1].status, "ok");
        assert_null(r.results[1].data);
        assert_string_equal(r.results[2].key, "k3");
        assert_null(r.results[2].data);

        assert_int_equal(r.nprogress, 4);
        assert_int_equal(r.progress[0], 50);
        assert_int_equal(r.progress[1], 100);
        assert_int_equal(r.progress[2], 0);
        assert_int_equal(r.progress[3], 42);
        rec_free(&r);
}

static void exit_codes(void **state) {
        (void) state;
        static const struct {
                const char *script;
                int code, sig;
        } cases[] = {
                {"exit 0", 0, 0},
                {"exit 1", 1, 0},
                {"exit 75", 75, 0},
                {"exit 255", 255, 0},
                {"kill -KILL $$", 0, SIGKILL},
                {"kill -SEGV $$", 0, SIGSEGV},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                rec r = {0};
                command_outcome o;
                assert_int_equal(run_sh(cases[i].script, NULL, NULL, &r, &o), 0);
                assert_int_equal(o.signaled, cases[i].sig != 0);
                assert_int_equal(o.signal, cases[i].sig);
                if (!cases[i].sig)
                        assert_int_equal(o.exit_code, cases[i].code);
                assert_false(o.timed_out);
                assert_false(o.cancelled);
                assert_true(o.duration_ms >= 0 && o.duration_ms < 2000);
                rec_free(&r);
        }
}

/* 1 MiB of JSON-ish input in 100-byte lines. */
static char *make_input(size_t *ret_len) {
        size_t lines = 10486, len = lines * 100;
        char *s = malloc(len + 1);
        assert_non_null(s);
        uint32_t x = 12345;
        for (size_t i = 0; i < lines; i++) {
                char *l = s + i * 100;
                int k = snprintf(l, 100, "{\"line\":%zu,\"v\":\"", i);
                for (int j = k; j < 97; j++) {
                        x = x * 1103515245u + 12345u;
                        l[j] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[(x >> 16) % 62];
                }
                memcpy(l + 97, "\"}\n", 3);
        }
        s[len] = '\0';
        *ret_len = len;
        return s;
}

static void assert_file_equals(const char *path, const char *want, size_t len) {
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        char *got = malloc(len + 1);
        size_t n = fread(got, 1, len + 1, f);
        fclose(f);
        assert_int_equal(n, len);
        assert_memory_equal(got, want, len);
        free(got);
}

static void stdin_large(void **state) {
        (void) state;
        size_t len;
        char *input = make_input(&len);
        const char *file = tmp_path("stdin");
        command_spec spec = {.input = input, .input_len = len, .max_output = 8 << 20, .timeout_ms = 20000};

        /* the child writes 1.7 MB before it reads anything: we must read while writing */
        rec r = {0};
        command_outcome o;
        assert_int_equal(
                run_sh("yes 'some output line' | head -n 100000; cat > \"$0\"; echo done", file, &spec, &r, &o), 0);
        assert_int_equal(o.exit_code, 0);
        assert_false(o.output_truncated);
        assert_int_equal(r.nmsgs, 100001);
        assert_string_equal(r.msgs[r.nmsgs - 1].text, "done");
        assert_file_equals(file, input, len);
        rec_free(&r);

        /* echoing as it reads: both pipes full at once */
        assert_int_equal(run_sh("tee \"$0\"", file, &spec, &r, &o), 0);
        assert_int_equal(o.exit_code, 0);
        assert_int_equal(r.nmsgs, len / 100);
        assert_non_null(strstr(r.msgs[0].text, "{\"line\":0,"));
        assert_file_equals(file, input, len);
        rec_free(&r);
        unlink(file);
        free(input);
        assert_true(sigpipe_clean());
}

static void stdin_ignored(void **state) {
        (void) state;
        size_t len;
        char *input = make_input(&len);
        command_spec spec = {.input = input, .input_len = len};
        /* SIGPIPE is at SIG_DFL in this process: an unhandled EPIPE would kill us */
        for (int i = 0; i < 10; i++) {
                rec r = {0};
                command_outcome o;
                assert_int_equal(run_sh("exit 3", NULL, &spec, &r, &o), 0);
                assert_int_equal(o.exit_code, 3);
                assert_int_equal(run_sh("exec 0<&-; sleep 0.05; echo hi", NULL, &spec, &r, &o), 0);
                assert_int_equal(o.exit_code, 0);
                assert_int_equal(r.nmsgs, 1);
                assert_string_equal(r.msgs[0].text, "hi");
                rec_free(&r);
                assert_true(sigpipe_clean());
        }
        free(input);
}

static void timeout_kills_group(void **state) {
        (void) state;
        const char *file = tmp_path("grandchild");
        unlink(file);
        command_spec spec = {.timeout_ms = 300, .kill_grace_ms = 3000};
        rec r = {0};
        command_outcome o;
        int64_t t0 = time_mono_usec();
        assert_int_equal(run_sh("sleep 60 & echo $! > \"$0\"; echo started; sleep 60", file, &spec, &r, &o), 0);
        int64_t took = (time_mono_usec() - t0) / 1000;
        assert_true(o.timed_out);
        assert_false(o.cancelled);
        assert_true(o.signaled);
        assert_int_equal(o.signal, SIGTERM);
        assert_true(o.duration_ms >= 290 && o.duration_ms < 1500);
        assert_true(took < 1000); /* the whole group died at once: no drain wait */
        assert_non_null(find_msg(&r, "started"));
        assert_null(find_msg(&r, "left in its process group"));
        assert_true(pid_gone_soon(read_pid(file)));
        unlink(file);
        rec_free(&r);
}

static void term_ignored_gets_kill(void **state) {
        (void) state;
        command_spec spec = {.timeout_ms = 200, .kill_grace_ms = 300};
        rec r = {0};
        command_outcome o;
        assert_int_equal(run_sh("trap '' TERM; echo started; sleep 60", NULL, &spec, &r, &o), 0);
        assert_true(o.timed_out);
        assert_true(o.signaled);
        assert_int_equal(o.signal, SIGKILL);
        assert_true(o.duration_ms >= 480 && o.duration_ms < 2000);
        rec_free(&r);
}

static void cancellation(void **state) {
        (void) state;
        rec r = {0};
        r.cancel_on = "started";
        command_spec spec = {.cancel = &r.cancel, .timeout_ms = 10000};
        command_outcome o;
        assert_int_equal(run_sh("echo started; sleep 60", NULL, &spec, &r, &o), 0);
        assert_true(o.cancelled);
        assert_false(o.timed_out);
        assert_true(o.signaled);
        assert_int_equal(o.signal, SIGTERM);
        assert_true(o.duration_ms < 1000);
        rec_free(&r);
}

static void leftover_holding_pipe(void **state) {
        (void) state;
        const char *file = tmp_path("leftover");
        unlink(file);
        rec r = {0};
        command_outcome o;
        int64_t t0 = time_mono_usec();
        assert_int_equal(run_sh("sleep 60 & echo $! > \"$0\"; echo hi", file, NULL, &r, &o), 0);
        int64_t took = (time_mono_usec() - t0) / 1000;
        assert_false(o.signaled);
        assert_int_equal(o.exit_code, 0);
        assert_true(took >= COMMAND_DRAIN_MS - 50 && took < COMMAND_DRAIN_MS + 1500);
        assert_non_null(find_msg(&r, "hi"));
        const msg *w = find_msg(&r, "left in its process group");
        assert_non_null(w);
        assert_int_equal(w->level, COMMAND_WARNING);
        assert_true(pid_gone_soon(read_pid(file)));
        unlink(file);
        rec_free(&r);
}

static void output_cap(void **state) {
        (void) state;
        const char *file = tmp_path("cap");
        unlink(file);
        rec r = {0};
        command_outcome o;
        int64_t t0 = time_mono_usec();
        /* 10 MB of 100-byte lines, then proof that the child was never blocked */
        assert_int_equal(run_sh("yes "
                                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                "aaaaaaaaaaaaa"
                                " | head -c 10000000; echo finished > \"$0\"",
                                file, NULL, &r, &o),
                         0);
        int64_t took = (time_mono_usec() - t0) / 1000;
        assert_int_equal(o.exit_code, 0);
        assert_true(o.output_truncated);
        assert_true(took < 10000);
        assert_int_equal(access(file, F_OK), 0);
        assert_int_equal(count_level(&r, COMMAND_WARNING), 1);
        const msg *w = &r.msgs[r.nmsgs - 1];
        assert_int_equal(w->level, COMMAND_WARNING);
        unsigned long long dropped = 0;
        assert_int_equal(sscanf(w->text, "output truncated: %llu bytes dropped", &dropped), 1);
        size_t kept = 0;
        for (size_t i = 0; i + 1 < r.nmsgs; i++) {
                assert_int_equal(strlen(r.msgs[i].text), 99);
                kept += 100;
        }
        assert_true(kept <= COMMAND_DEFAULT_MAX_OUTPUT);
        assert_true(kept > COMMAND_DEFAULT_MAX_OUTPUT - 100);
        assert_int_equal(kept + dropped, 10000000);
        unlink(file);
        rec_free(&r);
}

static void long_lines_and_garbage(void **state) {
        (void) state;
        command_spec spec = {.max_line = 1000};
        rec r = {0};
        command_outcome o;
        assert_int_equal(run_sh("head -c 200000 /dev/zero | tr '\\0' b; echo; echo next;"
                                "printf '::result::{\"key\":\"'; head -c 5000 /dev/zero | tr '\\0' k;"
                                "echo '\"}'; head -c 3000 /dev/zero | tr '\\0' z",
                                NULL, &spec, &r, &o),
                         0);
        assert_int_equal(r.nmsgs, 4);
        char want[1100];
        memset(want, 'b', 1000);
        strcpy(want + 1000, " [line cut: 199000 more bytes dropped]");
        assert_string_equal(r.msgs[0].text, want);
        assert_string_equal(r.msgs[1].text, "next");
        assert_int_equal(r.msgs[2].level, COMMAND_ERROR);
        assert_non_null(strstr(r.msgs[2].text, "longer than 1000 bytes"));
        assert_int_equal(r.nresults, 0);
        assert_int_equal(strncmp(r.msgs[3].text, "zzzz", 4), 0);
        assert_non_null(strstr(r.msgs[3].text, "[line cut: 2000 more bytes dropped]"));
        rec_free(&r);

        /* binary garbage, NULs included, on both streams: every message valid UTF-8 */
        spec.max_line = 4096;
        assert_int_equal(run_sh("head -c 300000 /dev/urandom; head -c 100000 /dev/urandom >&2", NULL, &spec, &r, &o),
                         0);
        assert_int_equal(o.exit_code, 0);
        assert_true(r.nmsgs > 100);
        for (size_t i = 0; i < r.nmsgs; i++) {
                json_t *s = json_string(r.msgs[i].text); /* NULL unless valid UTF-8 */
                assert_non_null(s);
                json_decref(s);
        }
        rec_free(&r);
}

static void write_file(const char *path, const char *text, mode_t mode) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        assert_int_equal(chmod(path, mode), 0);
}

static void exec_failures(void **state) {
        (void) state;
        /* glibc's posix_spawn reports a failed exec through memory it shares with the
         * child (CLONE_VM | CLONE_VFORK); valgrind runs that child as a plain fork, so
         * the parent never hears of the failure (scripts/test sets this under memcheck) */
        if (getenv("SKED_TEST_VALGRIND"))
                skip();
        rec r = {0};
        command_outcome o;
        sked_err e;

        command_spec spec = {.argv = (char *[]){"/nonexistent/prog", "x", NULL}};
        assert_int_equal(run(&spec, &r, &o, &e), -ENOENT);
        assert_non_null(strstr(e.msg, "\"/nonexistent/prog\""));
        assert_non_null(strstr(e.msg, "no such file"));

        spec.argv = (char *[]){"no-such-prog-xyz", NULL};
        assert_int_equal(run(&spec, &r, &o, &e), -ENOENT);
        assert_non_null(strstr(e.msg, "\"no-such-prog-xyz\""));
        assert_non_null(strstr(e.msg, "PATH"));

        const char *plain = tmp_path("plain");
        write_file(plain, "#!/bin/sh\necho hi\n", 0644);
        spec.argv = (char *[]){(char *) plain, NULL};
        assert_int_equal(run(&spec, &r, &o, &e), -EACCES);
        assert_non_null(strstr(e.msg, plain));

        write_file(plain, "echo no shebang\n", 0755);
        assert_int_equal(run(&spec, &r, &o, &e), -ENOEXEC);
        assert_non_null(strstr(e.msg, "#!"));

        write_file(plain, "#!/nonexistent/interp\n", 0755);
        assert_int_equal(run(&spec, &r, &o, &e), -ENOENT);
        assert_non_null(strstr(e.msg, "interpreter"));
        unlink(plain);

        spec.argv = (char *[]){"/bin/true", NULL};
        spec.workdir = "/nonexistent/dir";
        assert_int_equal(run(&spec, &r, &o, &e), -ENOENT);
        assert_non_null(strstr(e.msg, "workdir"));
        assert_non_null(strstr(e.msg, "/nonexistent/dir"));

        /* on failure the outcome is not written */
        spec = (command_spec){.argv = (char *[]){NULL}};
        o.exit_code = 12345;
        assert_int_equal(command_run(&spec, NULL, &o, &e), -EINVAL);
        assert_int_equal(o.exit_code, 12345);
        assert_non_null(strstr(e.msg, "argv"));
        assert_int_equal(r.nmsgs, 0);
        assert_true(sigpipe_clean());
        rec_free(&r);
}

static void workdir_and_env(void **state) {
        (void) state;
        rec r = {0};
        command_outcome o;
        sked_err e;

        /* exactly the environment given, nothing of ours */
        char *env[] = {"FOO=bar baz", "SKED_RUN_ID=42", NULL};
        command_spec spec = {.argv = (char *[]){"/usr/bin/env", NULL}, .env = env};
        assert_int_equal(run(&spec, &r, &o, &e), 0);
        assert_int_equal(r.nmsgs, 2);
        assert_string_equal(r.msgs[0].text, "FOO=bar baz");
        assert_string_equal(r.msgs[1].text, "SKED_RUN_ID=42");
        rec_free(&r);

        /* looked up in the child's PATH (here: the default one, env has none) */
        spec.argv = (char *[]){"env", NULL};
        assert_int_equal(run(&spec, &r, &o, &e), 0);
        assert_int_equal(r.nmsgs, 2);
        rec_free(&r);

        char dir[] = "/tmp/sked-test-command-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char real[PATH_MAX];
        assert_non_null(realpath(dir, real));
        char script[PATH_MAX + 16];
        snprintf(script, sizeof script, "%s/hello.sh", dir);
        write_file(script, "#!/bin/sh\necho \"hello from $(pwd -P) $FOO\"\n", 0755);

        /* a relative argv[0] is relative to workdir */
        spec = (command_spec){.argv = (char *[]){"./hello.sh", NULL}, .env = env, .workdir = dir};
        assert_int_equal(run(&spec, &r, &o, &e), 0);
        assert_int_equal(o.exit_code, 0);
        assert_int_equal(r.nmsgs, 1);
        char want[PATH_MAX + 64];
        snprintf(want, sizeof want, "hello from %s bar baz", real);
        assert_string_equal(r.msgs[0].text, want);
        rec_free(&r);
        unlink(script);
        rmdir(dir);
}

static void no_fd_leak(void **state) {
        (void) state;
        /* descriptors of ours without O_CLOEXEC, as a careless library would leave */
        int a = open("/dev/null", O_RDONLY);
        int p[2];
        assert_true(a >= 0);
        assert_int_equal(pipe(p), 0);
        rec r = {0};
        command_outcome o;
        sked_err e;
        command_spec spec = {.argv = (char *[]){"/bin/ls", "/proc/self/fd", NULL}};
        assert_int_equal(run(&spec, &r, &o, &e), 0);
        assert_int_equal(o.exit_code, 0);
        /* 0, 1, 2 and ls's own directory handle */
        assert_true(r.nmsgs >= 3 && r.nmsgs <= 4);
        for (size_t i = 0; i < r.nmsgs; i++)
                assert_true(atoi(r.msgs[i].text) <= 3);
        rec_free(&r);
        close(a);
        close(p[0]);
        close(p[1]);
}

typedef struct worker {
        int id;
        int failures;
        char why[256];
} worker;

static void *worker_main(void *arg) {
        worker *w = arg;
        for (int round = 0; round < 3; round++) {
                char input[64], id[16], want[64], data[16];
                snprintf(input, sizeof input, "hello-%d-%d\n", w->id, round);
                snprintf(id, sizeof id, "%d", w->id);
                char *argv[] = {"/bin/sh", "-c",
                                "read line; echo \"got $line\"; echo '::progress::50';"
                                "echo \"::result::{\\\"key\\\":\\\"t\\\",\\\"data\\\":$0}\";"
                                "sleep 0.2; exit $((10 + $0))",
                                id, NULL};
                command_spec spec = {.argv = argv, .input = input, .input_len = strlen(input), .timeout_ms = 10000};
                rec r = {0};
                command_outcome o;
                sked_err e;
                int ret = run(&spec, &r, &o, &e);
                snprintf(want, sizeof want, "got hello-%d-%d", w->id, round);
                snprintf(data, sizeof data, "%d", w->id);
                if (ret != 0 || o.signaled || o.exit_code != 10 + w->id || r.nmsgs != 1 ||
                    strcmp(r.msgs[0].text, want) != 0 || r.nresults != 1 || strcmp(r.results[0].data, data) != 0 ||
                    r.nprogress != 1) {
                        w->failures++;
                        snprintf(w->why, sizeof w->why, "worker %d round %d: ret %d exit %d msgs %zu", w->id, round,
                                 ret, o.exit_code, r.nmsgs);
                }
                rec_free(&r);
        }
        return NULL;
}

static void threads(void **state) {
        (void) state;
        pthread_t t[4];
        worker w[4];
        int64_t t0 = time_mono_usec();
        for (int i = 0; i < 4; i++) {
                w[i] = (worker){.id = i};
                assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
                assert_int_equal(pthread_join(t[i], NULL), 0);
                if (w[i].failures)
                        print_error("%s\n", w[i].why);
                assert_int_equal(w[i].failures, 0);
        }
        /* 3 rounds of 0.2 s each, in parallel: well under 4 x 3 x 0.2 s */
        assert_true((time_mono_usec() - t0) / 1000 < 2000);
}

static const char run_json[] = "{\"run\":{\"id\":\"r1\",\"series_id\":\"s1\",\"type\":\"example\",\"attempt\":1,"
                               "\"idempotency_key\":\"s1:2026-11-22T00:00:00Z:1\",\"nominal\":\"2026-11-22T00:00:00Z\","
                               "\"scheduled_for\":\"2026-11-22T00:00:00Z\"},\"params\":{\"url\":\"file://" FIXTURE_DIR
                               "/example.sh\"},\"query\":{}}";

static char *example_env[] = {
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "SKED_RUN_ID=r1",
        "SKED_SERIES_ID=s1",
        "SKED_TYPE=example",
        "SKED_ATTEMPT=1",
        "SKED_IDEMPOTENCY_KEY=s1:test:1",
        "SKED_NOMINAL=2026-11-22T00:00:00Z",
        NULL,
};

static void documented_examples(void **state) {
        (void) state;
        rec r = {0};
        command_outcome o;
        sked_err e;
        command_spec spec = {.argv = (char *[]){"/bin/sh", FIXTURE_DIR "/example.sh", NULL},
                             .env = example_env,
                             .input = run_json,
                             .input_len = strlen(run_json),
                             .timeout_ms = 10000};
        assert_int_equal(run(&spec, &r, &o, &e), 0);
        for (size_t i = 0; i < r.nmsgs; i++)
                print_message("example.sh [%d] %s\n", r.msgs[i].level, r.msgs[i].text);
        assert_int_equal(o.exit_code, 0);
        assert_int_equal(r.nresults, 1);
        assert_string_equal(r.results[0].key, "disk.root");
        assert_non_null(strstr(r.results[0].data, "\"used_percent\":"));
        assert_non_null(find_msg(&r, "run r1 (attempt 1) of example"));
        rec_free(&r);
        unlink("/tmp/sked-example-s1_test_1");

        if (access("/usr/bin/python3", X_OK) != 0) {
                print_message("no /usr/bin/python3: example.py not run\n");
                return;
        }
        spec.argv = (char *[]){"/usr/bin/python3", FIXTURE_DIR "/example.py", NULL};
        assert_int_equal(run(&spec, &r, &o, &e), 0);
        for (size_t i = 0; i < r.nmsgs; i++)
                print_message("example.py [%d] %s\n", r.msgs[i].level, r.msgs[i].text);
        assert_int_equal(o.exit_code, 0);
        assert_int_equal(r.nresults, 1);
        assert_string_equal(r.results[0].key, "fetch");
        struct stat st;
        assert_int_equal(stat(FIXTURE_DIR "/example.sh", &st), 0);
        char want[64];
        snprintf(want, sizeof want, "\"bytes\":%lld}", (long long) st.st_size);
        assert_non_null(strstr(r.results[0].data, want));
        rec_free(&r);

        static const char no_url[] = "{\"run\":{\"id\":\"r1\",\"attempt\":1},\"params\":{}}";
        spec.input = no_url;
        spec.input_len = strlen(no_url);
        assert_int_equal(run(&spec, &r, &o, &e), 0);
        assert_int_equal(o.exit_code, 2);
        assert_non_null(find_msg(&r, "params.url is required"));
        rec_free(&r);
}

int main(void) {
        /* Deliberately not SIG_IGN: command_run must cope with SIGPIPE at SIG_DFL. */
        signal(SIGPIPE, SIG_DFL);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(protocol),
                cmocka_unit_test(exit_codes),
                cmocka_unit_test(stdin_large),
                cmocka_unit_test(stdin_ignored),
                cmocka_unit_test(timeout_kills_group),
                cmocka_unit_test(term_ignored_gets_kill),
                cmocka_unit_test(cancellation),
                cmocka_unit_test(leftover_holding_pipe),
                cmocka_unit_test(output_cap),
                cmocka_unit_test(long_lines_and_garbage),
                cmocka_unit_test(exec_failures),
                cmocka_unit_test(workdir_and_env),
                cmocka_unit_test(no_fd_leak),
                cmocka_unit_test(threads),
                cmocka_unit_test(documented_examples),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
