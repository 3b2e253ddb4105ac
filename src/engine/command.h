/* command: the `command` handler — runs one external program for one run.
 *
 * The program is started with posix_spawn (never a shell) in a new process group,
 * with a clean signal state, only the environment the caller built, and no file
 * descriptor of the server other than its stdin/stdout/stderr pipes.  Its stdin gets
 * the run's input (JSON) and is then closed; its stdout lines are parsed as the
 * output protocol (docs/command-handler.md) and turned into messages, results and
 * progress; its stderr lines become warning messages.
 *
 * Requirements on the process that uses this module:
 *   - SIGCHLD must not be set to SIG_IGN (and SA_NOCLDWAIT must not be set), and no
 *     thread may reap children it does not own (waitpid(-1, ...)): command_run reaps
 *     its own child by pid.
 *   - SIGPIPE needs nothing: command_run blocks it in the calling thread for the
 *     duration of the run and consumes one its own stdin writes raised, so the
 *     server never dies of a child that closed its stdin.  (The server should still
 *     ignore SIGPIPE process-wide for its sockets; that is compatible.)
 *   - The calling thread's signal mask and dispositions are not inherited by the
 *     child: it starts with an empty mask and every signal at SIG_DFL. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum {
        COMMAND_INFO = 0,
        COMMAND_WARNING = 1,
        COMMAND_ERROR = 2,
};

#define COMMAND_DEFAULT_KILL_GRACE_MS 5000
#define COMMAND_DEFAULT_MAX_OUTPUT ((size_t) 1 << 20) /* 1 MiB of stdout+stderr kept */
#define COMMAND_DEFAULT_MAX_LINE ((size_t) 64 << 10)  /* 64 KiB per line */
/* After the program exits, how long its pipes may stay open (held by processes it
 * left behind in its group) before the group is killed. */
#define COMMAND_DRAIN_MS 1000

/* Callbacks, all called from the thread inside command_run, never concurrently.
 * Any of them may be NULL.  Strings are valid UTF-8, NUL-terminated, and only valid
 * during the call. */
typedef struct command_sink {
        void (*message)(void *ud, int level, const char *text); /* level: COMMAND_INFO.. */
        void (*result)(void *ud, const char *key, const char *status,
                       const char *data_json /* compact JSON, NULL if none */);
        void (*progress)(void *ud, int percent); /* 0..100 */
        void *ud;
} command_sink;

typedef struct command_spec {
        char *const *argv;   /* NULL-terminated; argv[0] with a '/' is used as is
                              * (relative to workdir), else searched in the PATH
                              * of `env` (default /usr/local/bin:/usr/bin:/bin) */
        char *const *env;    /* the child's whole environment, "K=V", NULL-terminated;
                              * NULL = empty (the server's is never inherited) */
        const char *workdir; /* NULL = the server's */
        const char *input;   /* written to stdin, which is then closed; may be NULL */
        size_t input_len;
        int64_t timeout_ms;         /* 0 = none; then SIGTERM to the group, SIGKILL after grace */
        int64_t kill_grace_ms;      /* 0 = COMMAND_DEFAULT_KILL_GRACE_MS */
        size_t max_output;          /* 0 = COMMAND_DEFAULT_MAX_OUTPUT */
        size_t max_line;            /* 0 = COMMAND_DEFAULT_MAX_LINE */
        const volatile int *cancel; /* non-NULL: polled (every 100 ms); non-zero terminates
                                     * the program like a timeout */
} command_spec;

typedef struct command_outcome {
        int exit_code; /* valid when !signaled */
        int signal;    /* terminating signal, 0 if it exited */
        bool signaled;
        bool timed_out;        /* we sent SIGTERM because timeout_ms passed */
        bool cancelled;        /* we sent SIGTERM because *cancel became non-zero */
        bool output_truncated; /* max_output was reached and output was dropped */
        int64_t duration_ms;   /* from start to the program's exit */
} command_outcome;

/* Runs spec->argv to completion, blocking the calling thread, and reports its output
 * to `sink` as it arrives.
 *
 * Returns 0 when the program ran, whatever its exit (see *ret_outcome, written only
 * then).  Returns a negative errno when it could not be started, with a message in
 * `err` naming argv[0] (or the workdir) and the reason:
 *   -EINVAL  bad spec (no argv[0]);
 *   -ENOENT  program not found (or workdir missing); -EACCES, -ENOEXEC, -E2BIG, ...
 *            as execve reports them; -EMFILE, -ENOMEM, -EAGAIN for lack of resources.
 * A failure of the run loop itself (poll) kills the process group, reaps the child
 * and returns that error.
 *
 * Processes the program leaves behind in its process group are SIGKILLed once it
 * has exited and its output is drained (at most COMMAND_DRAIN_MS); a process that
 * must outlive the run has to leave the group (setsid).
 *
 * Thread-safety: may be called from any number of threads at once; it keeps no
 * global state, and spawns with every server fd excluded from the child. */
int command_run(const command_spec *spec, const command_sink *sink, command_outcome *ret_outcome, sked_err *err);
