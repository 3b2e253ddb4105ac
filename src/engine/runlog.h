/* runlog: one log line when a run starts and one when it ends (docs/operations.md,
 * "The log").  Called by the worker that starts the run and by the loop that records
 * its end; the lines go through base/log (level info, text or JSON). */
#pragma once

#include <stdbool.h>

#include "engine/engine_internal.h"

/* "run started": run id, type, series (null for a one-off run), attempt, trigger. */
void runlog_start(const job *j);
/* "run finished": the same, and outcome (the state recorded: succeeded, failed,
 * lost, cancelled), duration_ms, exit (the exit status of a command, else null),
 * error (null when it succeeded) and retry (whether another attempt is queued).
 * Not for runs that never started (released or retracted): nothing is written. */
void runlog_end(const job *j, const event *ev, const char *state, bool again);
