/* views: the JSON shapes the API serves for stored rows. */
#pragma once

#include <jansson.h>

#include "store/store.h"

json_t *view_series(const series_row *s);
json_t *view_run(const run_row *r);
/* Adds "at_text"-style ISO strings next to integer instants: {key: "YYYY-MM-DDTHH:MM:SSZ"}. */
void view_set_instant(json_t *o, const char *key, sked_time t);
