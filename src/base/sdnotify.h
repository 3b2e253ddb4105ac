/* sdnotify: the service manager's readiness and watchdog protocol (sd_notify(3)),
 * spoken directly: each notification is one datagram of "KEY=VALUE\n..." text on the
 * AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" in the abstract
 * namespace).  systemd documents the protocol as stable and meant to be
 * re-implemented; doing so spares a libsystemd link for a dozen lines.
 *
 * Without $NOTIFY_SOCKET (not started by systemd with Type=notify) everything here is
 * a no-op.  Thread-safe once opened: sdnotify_send may be called from any thread. */
#pragma once

#include <stdint.h>

typedef struct sdnotify sdnotify;

/* Reads $NOTIFY_SOCKET and opens a datagram socket for it.  *ret is NULL (and 0 is
 * returned) when the variable is unset or empty.  Errors: -EINVAL for an address
 * that is neither "/path" nor "@abstract" or too long, or socket()'s errno. */
int sdnotify_open(sdnotify **ret);

/* Sends state ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=...", several joined
 * by '\n').  n NULL: a no-op, returns 0.  Returns 1 when sent, else the negative
 * errno of sendto (the manager went away: callers ignore it). */
int sdnotify_send(sdnotify *n, const char *state);

/* The watchdog interval asked of this process: $WATCHDOG_USEC, when $WATCHDOG_PID
 * is unset or names this process; 0 when there is none (or the text is not a
 * positive number).  A process should ping at least every half of it. */
int64_t sdnotify_watchdog_usec(void);

/* NULL is a no-op. */
void sdnotify_close(sdnotify *n);
