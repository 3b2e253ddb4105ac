/* calendar: what the engine's other files need of the listing (calendar.c).  The
 * public entry points (engine_calendar, engine_series_occurrences) are in engine.h. */
#pragma once

#include <jansson.h>

#include "engine/engine.h"

/* The occurrence (series s, nominal) exactly as one element of
 * GET /api/v1/series/{id}/occurrences shows it (the one serializer of that shape),
 * *ret a new reference.  x: its one-off change, NULL if none.  API threads. */
int calendar_occurrence_json(engine *e, store *st, const series_row *s, const exception_row *x, sked_time nominal,
                             json_t **ret, sked_err *err);
