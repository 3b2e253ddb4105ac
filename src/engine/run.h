/* run: what the loop needs of run.c beyond engine_internal.h. */
#pragma once

#include "store/store.h"

/* The idempotency key of the attempt after `run` (a new string, NULL: let the store
 * derive it).  A run of a series keys on (series, nominal), which every attempt
 * keeps, so the store's derivation serves; a one-off run (no series) keys on its
 * first attempt's id, "run:ID:", kept by every later attempt with only the attempt
 * number changed (docs/command-handler.md: dedupe on the key less its attempt). */
char *run_next_idem_key(const run_row *run);
