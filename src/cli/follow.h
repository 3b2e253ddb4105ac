/* follow: `sked runs follow ID` and `sked runs watch`, over the live event stream
 * (GET /api/v1/events).  Verbs of the runs noun (runs.c's table). */
#pragma once

#include "cli/common.h"

/* The messages of one run as they come (those already logged first), then its
 * outcome: exit 0 when it succeeded, 1 when it ended otherwise, 3 when the stream
 * ended (and could not be resumed within --reconnect seconds) before the run did. */
int runs_follow(const cli_noun *n, int argc, char **argv);
/* Every run state change (of --series, --type) as a line, until interrupted. */
int runs_watch(const cli_noun *n, int argc, char **argv);
