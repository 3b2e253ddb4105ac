/* command: run one external program for one run; see command.h and
 * docs/command-handler.md.
 *
 * Shape of a run: find the program (PATH of the child's environment), posix_spawn it
 * into its own process group with three O_CLOEXEC pipes, then one poll() loop that
 * writes stdin, reads stdout and stderr, notices the exit through a pidfd, and
 * enforces timeout, cancellation and the kill grace on a monotonic clock.  The exit
 * is first observed with waitid(WNOWAIT): the child stays a zombie, so its pid — the
 * process group id — cannot be reused while we still signal the group; it is reaped
 * last, after the group has been killed. */
#include "engine/command.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/civil.h"
#include "base/strbuf.h"

#define READ_CHUNK ((size_t) 64 << 10)
#define CANCEL_POLL_MS 100
#define EXIT_POLL_MS 50 /* only when pidfd_open is unavailable */
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define EXCERPT_MAX 200 /* bytes of an offending line quoted in a message */

/* One output stream: the line being assembled, at most max_line bytes of it. */
typedef struct line_reader {
        int fd; /* -1 once at EOF or closed */
        bool is_stderr;
        char *buf; /* max_line + 1 bytes */
        size_t len;
        size_t cut; /* bytes of the current line beyond max_line, dropped */
} line_reader;

typedef struct run {
        const command_sink *sink;
        size_t max_output;
        size_t max_line;
        size_t kept;      /* bytes of output delivered (lines + newlines) */
        uint64_t dropped; /* bytes discarded once max_output was reached */
        bool truncated;
        line_reader out;
        line_reader errs;
} run;

static char *const empty_env[] = {NULL};

static void close_fd(int *fd) {
        if (*fd >= 0) {
                close(*fd);
                *fd = -1;
        }
}

static const char *errno_text(int e) {
        const char *s = strerrordesc_np(e); /* thread-safe, unlike strerror */
        return s ? s : "unknown error";
}

/* ---- delivering output -------------------------------------------------------- */

static void emit(run *r, int level, const char *text, size_t n, size_t cut) {
        if (!r->sink || !r->sink->message)
                return;
        strbuf b = STRBUF_INIT;
        strbuf_append_utf8(&b, text, n);
        if (cut > 0)
                strbuf_printf(&b, " [line cut: %zu more bytes dropped]", cut);
        const char *s = strbuf_str(&b);
        if (s && !b.oom)
                r->sink->message(r->sink->ud, level, s);
        strbuf_free(&b);
}

static void emitf(run *r, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void emitf(run *r, int level, const char *fmt, ...) {
        strbuf b = STRBUF_INIT;
        va_list ap;
        va_start(ap, fmt);
        strbuf_vprintf(&b, fmt, ap);
        va_end(ap);
        if (!b.oom && b.data)
                emit(r, level, b.data, b.len, 0);
        strbuf_free(&b);
}

/* An error message about a protocol line: "<what>: <problem>: <excerpt>". */
static void complain(run *r, int level, const char *problem, const char *line, size_t n) {
        size_t shown = n < EXCERPT_MAX ? n : EXCERPT_MAX;
        strbuf b = STRBUF_INIT;
        strbuf_printf(&b, "%s: %.*s%s", problem, (int) shown, line, shown < n ? "..." : "");
        if (!b.oom && b.data)
                emit(r, level, b.data, b.len, 0);
        strbuf_free(&b);
}

static void handle_result(run *r, const char *line, size_t n, size_t cut) {
        const char *body = line + strlen("::result::");
        size_t body_len = n - strlen("::result::");
        json_t *o = NULL, *v, *key, *status, *d;
        const char *name;
        char *data = NULL;
        char problem[256];
        json_error_t je;

        if (cut > 0) {
                snprintf(problem, sizeof problem, "::result:: line longer than %zu bytes, result dropped", r->max_line);
                goto bad;
        }
        o = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &je);
        if (!o) {
                snprintf(problem, sizeof problem, "::result:: invalid JSON at column %d: %s", je.column, je.text);
                goto bad;
        }
        if (!json_is_object(o)) {
                snprintf(problem, sizeof problem, "::result:: expected a JSON object");
                goto bad;
        }
        json_object_foreach(o, name, v) {
                if (strcmp(name, "key") != 0 && strcmp(name, "status") != 0 && strcmp(name, "data") != 0) {
                        snprintf(problem, sizeof problem,
                                 "::result:: unknown member \"%.64s\" (expected key, status, data)", name);
                        goto bad;
                }
        }
        key = json_object_get(o, "key");
        if (!json_is_string(key) || json_string_length(key) == 0) {
                snprintf(problem, sizeof problem, "::result:: \"key\" is required and must be a non-empty string");
                goto bad;
        }
        status = json_object_get(o, "status");
        if (status && (!json_is_string(status) || json_string_length(status) == 0)) {
                snprintf(problem, sizeof problem, "::result:: \"status\" must be a non-empty string");
                goto bad;
        }
        d = json_object_get(o, "data");
        if (d && !json_is_null(d)) {
                data = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
                if (!data)
                        goto done; /* out of memory: nothing sensible to report */
        }
        if (r->sink && r->sink->result)
                r->sink->result(r->sink->ud, json_string_value(key), status ? json_string_value(status) : "ok", data);
        goto done;
bad:
        complain(r, COMMAND_ERROR, problem, line, n);
done:
        free(data);
        json_decref(o);
}

static void handle_progress(run *r, char *line, size_t n) {
        const char *p = line + strlen("::progress::");
        char *end;
        double v = strtod(p, &end);
        while (*end == ' ' || *end == '\t')
                end++;
        if (end == p || *end != '\0' || isnan(v) || (size_t) (end - line) != n) {
                complain(r, COMMAND_WARNING, "::progress:: expected a number 0..100", line, n);
                return;
        }
        int pct = v <= 0 ? 0 : v >= 100 ? 100 : (int) v;
        if (r->sink && r->sink->progress)
                r->sink->progress(r->sink->ud, pct);
}

static bool has_prefix(const char *s, size_t n, const char *prefix) {
        size_t k = strlen(prefix);
        return n >= k && memcmp(s, prefix, k) == 0;
}

/* A complete line (without its newline) of an output stream, within the cap. */
static void handle_line(run *r, line_reader *lr) {
        char *s = lr->buf;
        size_t n = lr->len;
        if (lr->cut == 0 && n > 0 && s[n - 1] == '\r')
                n--;
        s[n] = '\0';
        if (n == 0 && lr->cut == 0)
                return; /* blank lines carry nothing */
        if (lr->is_stderr) {
                emit(r, COMMAND_WARNING, s, n, lr->cut);
                return;
        }
        static const struct {
                const char *prefix;
                int level;
        } levels[] = {
                {"::info::", COMMAND_INFO},
                {"::warning::", COMMAND_WARNING},
                {"::error::", COMMAND_ERROR},
        };
        for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
                size_t k = strlen(levels[i].prefix);
                if (has_prefix(s, n, levels[i].prefix)) {
                        emit(r, levels[i].level, s + k, n - k, lr->cut);
                        return;
                }
        }
        if (has_prefix(s, n, "::result::"))
                handle_result(r, s, n, lr->cut);
        else if (has_prefix(s, n, "::progress::"))
                handle_progress(r, s, n);
        else
                emit(r, COMMAND_INFO, s, n, lr->cut);
}

/* Ends the current line of lr: delivers it if it fits in max_output, else drops it
 * and everything after it. */
static void finish_line(run *r, line_reader *lr, bool newline) {
        size_t kept = lr->len + (newline ? 1 : 0);
        if (!r->truncated && kept > r->max_output - r->kept)
                r->truncated = true;
        if (r->truncated)
                r->dropped += kept + lr->cut;
        else {
                r->kept += kept;
                handle_line(r, lr);
        }
        lr->len = 0;
        lr->cut = 0;
}

static void feed(run *r, line_reader *lr, const char *p, size_t n) {
        while (n > 0) {
                if (r->truncated) {
                        /* past the cap: only count, so a child printing gigabytes costs
                         * us one read() per 64 KiB and nothing else */
                        r->dropped += lr->len + lr->cut + n;
                        lr->len = 0;
                        lr->cut = 0;
                        return;
                }
                const char *nl = memchr(p, '\n', n);
                size_t take = nl ? (size_t) (nl - p) : n;
                size_t room = r->max_line - lr->len;
                size_t copy = take < room ? take : room;
                memcpy(lr->buf + lr->len, p, copy);
                lr->len += copy;
                lr->cut += take - copy;
                if (!nl)
                        return;
                finish_line(r, lr, true);
                p += take + 1;
                n -= take + 1;
        }
}

/* Reads what is available on lr->fd; closes it at EOF (delivering a last line
 * without newline). */
static void read_some(run *r, line_reader *lr, char *chunk) {
        ssize_t k = read(lr->fd, chunk, READ_CHUNK);
        if (k > 0) {
                feed(r, lr, chunk, (size_t) k);
                return;
        }
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        close_fd(&lr->fd);
        if (lr->len > 0 || lr->cut > 0)
                finish_line(r, lr, false);
}

/* ---- starting ------------------------------------------------------------------ */

static const char *env_get(char *const *env, const char *name) {
        size_t k = strlen(name);
        for (; env && *env; env++)
                if (strncmp(*env, name, k) == 0 && (*env)[k] == '=')
                        return *env + k + 1;
        return NULL;
}

/* Resolves argv[0] like execvpe, but in the child's PATH, never the server's, and
 * never searching the working directory (empty or relative PATH entries are skipped).
 * Returns 0 and a malloc'ed path, -ENOENT, -EACCES (found only non-executable
 * files) or -ENOMEM. */
static int find_program(const char *name, char *const *env, char **ret_path) {
        if (strchr(name, '/')) {
                char *p = strdup(name);
                if (!p)
                        return -ENOMEM;
                *ret_path = p;
                return 0;
        }
        const char *path = env_get(env, "PATH");
        if (!path)
                path = DEFAULT_PATH;
        int ret = -ENOENT;
        while (*path) {
                const char *colon = strchrnul(path, ':');
                size_t dlen = (size_t) (colon - path);
                if (dlen > 0 && path[0] == '/') {
                        strbuf b = STRBUF_INIT;
                        strbuf_printf(&b, "%.*s/%s", (int) dlen, path, name);
                        if (b.oom || !b.data) {
                                strbuf_free(&b);
                                return -ENOMEM;
                        }
                        struct stat st;
                        if (stat(b.data, &st) == 0 && S_ISREG(st.st_mode)) {
                                if (access(b.data, X_OK) == 0) {
                                        *ret_path = strbuf_steal(&b);
                                        return 0;
                                }
                                ret = -EACCES;
                        }
                        strbuf_free(&b);
                }
                path = *colon ? colon + 1 : colon;
        }
        return ret;
}

/* A pipe whose both ends are O_CLOEXEC and >= 3, so that dup2 onto 0..2 in the child
 * never meets one of our own ends there. */
static int make_pipe(int fds[2]) {
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        for (int i = 0; i < 2; i++) {
                if (fds[i] >= 3)
                        continue;
                int nfd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                if (nfd < 0) {
                        int e = -errno;
                        close_fd(&fds[0]);
                        close_fd(&fds[1]);
                        return e;
                }
                close(fds[i]);
                fds[i] = nfd;
        }
        return 0;
}

static int set_nonblock(int fd) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

static int spawn_error(sked_err *err, const command_spec *spec, const char *path, int e) {
        if (spec->workdir && (e == ENOENT || e == EACCES || e == ENOTDIR)) {
                /* addchdir and execve fail alike; find out which it was */
                struct stat st;
                int we = 0;
                if (stat(spec->workdir, &st) < 0)
                        we = errno;
                else if (!S_ISDIR(st.st_mode))
                        we = ENOTDIR;
                else if (access(spec->workdir, X_OK) < 0)
                        we = errno;
                if (we)
                        return err_field(err, -we, "workdir", "\"%s\": %s", spec->workdir, errno_text(we));
        }
        const char *argv0 = spec->argv[0];
        const char *why;
        switch (e) {
        case ENOENT:
                if (path && path[0] == '/' && access(path, F_OK) == 0)
                        why = "its #! interpreter was not found";
                else if (!strchr(argv0, '/'))
                        why = "not found in PATH";
                else
                        why = "no such file";
                break;
        case EACCES:
                why = "permission denied (not an executable file?)";
                break;
        case ENOEXEC:
                why = "not an executable format (a script needs a #! line)";
                break;
        default:
                why = errno_text(e);
        }
        return err_field(err, -e, "argv[0]", "\"%s\": cannot execute: %s", argv0, why);
}

static int spawn(const command_spec *spec, const char *path, int in, int out, int errfd, pid_t *ret_pid,
                 sked_err *err) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int r;

        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return err_set(err, -r, "cannot start \"%s\": %s", spec->argv[0], errno_text(r));
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return err_set(err, -r, "cannot start \"%s\": %s", spec->argv[0], errno_text(r));
        }
        sigemptyset(&none);
        sigfillset(&all);
        if ((r = posix_spawn_file_actions_adddup2(&fa, in, 0)) != 0 ||
            (r = posix_spawn_file_actions_adddup2(&fa, out, 1)) != 0 ||
            (r = posix_spawn_file_actions_adddup2(&fa, errfd, 2)) != 0 ||
            (spec->workdir && (r = posix_spawn_file_actions_addchdir_np(&fa, spec->workdir)) != 0) ||
            (r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
            (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                         POSIX_SPAWN_SETSIGDEF)) != 0 ||
            (r = posix_spawnattr_setpgroup(&attr, 0)) != 0 || (r = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
            (r = posix_spawnattr_setsigdefault(&attr, &all)) != 0) {
                r = err_set(err, -r, "cannot start \"%s\": %s", spec->argv[0], errno_text(r));
                goto out;
        }
        /* glibc's posix_spawn (clone(CLONE_VFORK)) reports a failed chdir or execve as
         * its return value and reaps the failed child itself. */
        pid_t pid;
        r = posix_spawn(&pid, path, &fa, &attr, spec->argv, spec->env ? spec->env : empty_env);
        if (r != 0) {
                r = spawn_error(err, spec, path, r);
                goto out;
        }
        *ret_pid = pid;
out:
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        return r;
}

/* ---- running -------------------------------------------------------------------- */

static int64_t min64(int64_t a, int64_t b) {
        return a < b ? a : b;
}

int command_run(const command_spec *spec, const command_sink *sink, command_outcome *ret_outcome, sked_err *err) {
        int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
        int pidfd = -1;
        pid_t pid = -1;
        char *path = NULL, *chunk = NULL;
        sigset_t pipe_set, old_mask;
        bool mask_set = false, pipe_was_pending = false;
        bool exited = false, term_sent = false, kill_sent = false;
        command_outcome o = {0};
        run r = {0};
        int ret;

        r.out.fd = -1;
        r.errs.fd = -1;
        r.errs.is_stderr = true;
        if (!spec || !spec->argv || !spec->argv[0] || !spec->argv[0][0])
                return err_field(err, -EINVAL, "argv", "a program to run is required");
        if (spec->timeout_ms < 0 || spec->kill_grace_ms < 0)
                return err_field(err, -EINVAL, "timeout", "must not be negative");
        r.sink = sink;
        r.max_output = spec->max_output ? spec->max_output : COMMAND_DEFAULT_MAX_OUTPUT;
        r.max_line = spec->max_line ? spec->max_line : COMMAND_DEFAULT_MAX_LINE;
        if (r.max_line > SIZE_MAX / 2)
                return err_field(err, -EINVAL, "max_line", "too large");
        int64_t grace_ms = spec->kill_grace_ms ? spec->kill_grace_ms : COMMAND_DEFAULT_KILL_GRACE_MS;

        chunk = malloc(READ_CHUNK);
        r.out.buf = malloc(r.max_line + 1);
        r.errs.buf = malloc(r.max_line + 1);
        if (!chunk || !r.out.buf || !r.errs.buf) {
                ret = err_set(err, -ENOMEM, "out of memory");
                goto finish;
        }
        ret = find_program(spec->argv[0], spec->env, &path);
        if (ret < 0) {
                ret = ret == -ENOMEM ? err_set(err, ret, "out of memory") : spawn_error(err, spec, NULL, -ret);
                goto finish;
        }
        if ((ret = make_pipe(in)) < 0 || (ret = make_pipe(out)) < 0 || (ret = make_pipe(errp)) < 0 ||
            (ret = set_nonblock(in[1])) < 0 || (ret = set_nonblock(out[0])) < 0 || (ret = set_nonblock(errp[0])) < 0) {
                ret = err_set(err, ret, "cannot start \"%s\": pipes: %s", spec->argv[0], errno_text(-ret));
                goto finish;
        }

        /* Our stdin writes may raise SIGPIPE (child closed its stdin): keep it blocked
         * in this thread for the run and consume it at the end, so it neither kills
         * the server nor needs a process-wide SIG_IGN.  The child gets an empty mask. */
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
        mask_set = true;
        sigset_t pending;
        if (sigpending(&pending) == 0)
                pipe_was_pending = sigismember(&pending, SIGPIPE);

        int64_t start = time_mono_usec();
        ret = spawn(spec, path, in[0], out[1], errp[1], &pid, err);
        if (ret < 0)
                goto finish;
        close_fd(&in[0]);
        close_fd(&out[1]);
        close_fd(&errp[1]);
        r.out.fd = out[0];
        r.errs.fd = errp[0];
        out[0] = errp[0] = -1;
        if (!spec->input || spec->input_len == 0)
                close_fd(&in[1]);
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0); /* < 0: fall back to ticking */

        int64_t deadline = spec->timeout_ms > 0 ? start + spec->timeout_ms * 1000 : INT64_MAX;
        int64_t kill_at = INT64_MAX, drain_until = INT64_MAX;
        size_t in_off = 0;
        for (;;) {
                int64_t now = time_mono_usec();
                if (!exited) {
                        siginfo_t si;
                        memset(&si, 0, sizeof si);
                        if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno != EINTR) {
                                ret = err_set(err, -errno, "\"%s\": waitid: %s", spec->argv[0], errno_text(errno));
                                break;
                        }
                        if (si.si_pid == pid) {
                                exited = true;
                                o.duration_ms = (now - start) / 1000;
                                drain_until = now + (int64_t) COMMAND_DRAIN_MS * 1000;
                                close_fd(&pidfd);
                                close_fd(&in[1]); /* nobody left to read it */
                        }
                }
                if (!exited && !term_sent) {
                        if (spec->cancel && __atomic_load_n(spec->cancel, __ATOMIC_RELAXED))
                                o.cancelled = true;
                        else if (now >= deadline)
                                o.timed_out = true;
                        if (o.cancelled || o.timed_out) {
                                kill(-pid, SIGTERM);
                                kill(-pid, SIGCONT); /* a stopped process must see it */
                                term_sent = true;
                                kill_at = now + grace_ms * 1000;
                        }
                }
                if (!exited && term_sent && !kill_sent && now >= kill_at) {
                        kill(-pid, SIGKILL);
                        kill_sent = true;
                }
                if (exited && ((r.out.fd < 0 && r.errs.fd < 0) || now >= drain_until)) {
                        ret = 0;
                        break;
                }

                int64_t wake = INT64_MAX;
                if (exited)
                        wake = drain_until;
                else {
                        if (!term_sent)
                                wake = deadline;
                        else if (!kill_sent)
                                wake = kill_at;
                        if (spec->cancel && !term_sent)
                                wake = min64(wake, now + CANCEL_POLL_MS * 1000);
                        if (pidfd < 0)
                                wake = min64(wake, now + EXIT_POLL_MS * 1000);
                }
                int timeout = -1;
                if (wake != INT64_MAX) {
                        int64_t ms = (wake - now + 999) / 1000;
                        timeout = ms < 0 ? 0 : ms > INT_MAX ? INT_MAX : (int) ms;
                }
                struct pollfd p[4] = {
                        {.fd = r.out.fd, .events = POLLIN},
                        {.fd = r.errs.fd, .events = POLLIN},
                        {.fd = in[1], .events = POLLOUT},
                        {.fd = pidfd, .events = POLLIN},
                };
                if (poll(p, 4, timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        ret = err_set(err, -errno, "\"%s\": poll: %s", spec->argv[0], errno_text(errno));
                        break;
                }
                if (p[0].revents)
                        read_some(&r, &r.out, chunk);
                if (p[1].revents)
                        read_some(&r, &r.errs, chunk);
                if (p[2].revents) {
                        ssize_t k = write(in[1], spec->input + in_off, spec->input_len - in_off);
                        if (k > 0) {
                                in_off += (size_t) k;
                                if (in_off == spec->input_len)
                                        close_fd(&in[1]);
                        } else if (k < 0 && errno != EAGAIN && errno != EINTR)
                                close_fd(&in[1]); /* EPIPE: the child does not want it */
                }
        }

        /* Whatever is left in the group goes: leftovers after a normal exit, everything
         * on a loop failure.  pid is still our unreaped child, so -pid is still its group. */
        kill(-pid, SIGKILL);
        bool leftovers = exited && (r.out.fd >= 0 || r.errs.fd >= 0);
        for (int i = 0; i < 2; i++) {
                line_reader *lr = i == 0 ? &r.out : &r.errs;
                for (int rounds = 0; lr->fd >= 0 && rounds < 64; rounds++) {
                        ssize_t k = read(lr->fd, chunk, READ_CHUNK);
                        if (k <= 0)
                                break;
                        feed(&r, lr, chunk, (size_t) k);
                }
                if (lr->fd >= 0) {
                        close_fd(&lr->fd);
                        if (lr->len > 0 || lr->cut > 0)
                                finish_line(&r, lr, false);
                }
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        pid = -1;
        if (ret < 0)
                goto finish;
        if (!exited) /* not reached today: the loop only ends early on errors */
                o.duration_ms = (time_mono_usec() - start) / 1000;
        if (WIFSIGNALED(status)) {
                o.signaled = true;
                o.signal = WTERMSIG(status);
        } else
                o.exit_code = WEXITSTATUS(status);
        if (leftovers)
                emitf(&r, COMMAND_WARNING,
                      "the program exited but processes it left in its process group still "
                      "held its output after %d ms; they were killed",
                      COMMAND_DRAIN_MS);
        if (r.truncated) {
                o.output_truncated = true;
                emitf(&r, COMMAND_WARNING, "output truncated: %llu bytes dropped beyond the limit of %zu bytes",
                      (unsigned long long) r.dropped, r.max_output);
        }
        *ret_outcome = o;
        ret = 0;
finish:
        if (pid > 0) {
                kill(-pid, SIGKILL);
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        close_fd(&in[0]);
        close_fd(&in[1]);
        close_fd(&out[0]);
        close_fd(&out[1]);
        close_fd(&errp[0]);
        close_fd(&errp[1]);
        close_fd(&r.out.fd);
        close_fd(&r.errs.fd);
        close_fd(&pidfd);
        if (mask_set) {
                if (!pipe_was_pending) {
                        const struct timespec zero = {0, 0};
                        while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
                                ;
                }
                pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
        }
        free(r.out.buf);
        free(r.errs.buf);
        free(path);
        free(chunk);
        return ret;
}
