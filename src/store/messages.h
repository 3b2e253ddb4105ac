/* messages: what runs log: messages with a level and results, one per processed
 * item.
 * Same conventions as store.h: 0 or a negative errno, messages in err, one
 * connection per thread; the caller holds the transaction where one is needed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/civil.h"
#include "base/err.h"

typedef struct store store;

int store_message_add(store *s, int64_t run_id, int64_t seq, sked_time at, const char *level, const char *text,
                      sked_err *err);
int store_result_add(store *s, int64_t run_id, int64_t seq, sked_time at, const char *key, const char *status,
                     const char *data, sked_err *err);
/* JSON arrays: messages {"seq","at","level","text"}, results {"seq","at","key","status","data"}. */
int store_messages_list(store *s, int64_t run_id, int64_t after_seq, int limit, json_t **ret, sked_err *err);
int store_results_list(store *s, int64_t run_id, int64_t after_seq, int limit, json_t **ret, sked_err *err);
/* The results of a series' most recent finished run(s): {"run_id","finished_at","state","results":[...]} objects,
 * newest first. */
int store_series_recent_results(store *s, int64_t series_id, int runs, json_t **ret, sked_err *err);
