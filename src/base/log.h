/* log: the daemon's and CLI's diagnostics on stderr.  Thread-safe.  Libraries
 * return errors instead of logging; only boundaries (server loops, CLI) log.
 *
 * Two formats (log_set_format): text, one line "TS sked[LEVEL] MSG key=value ...";
 * json, one object a line {"ts", "level", "msg", and the fields}.  Set the level and
 * the format once at start, before other threads log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR };
enum log_format { LOG_TEXT, LOG_JSON };

void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
/* Whether a message at `level` would be written (to skip building its fields). */
bool log_enabled(enum log_level level);
/* "debug", "info", "warning", "error" -> 0 and *ret; -EINVAL for anything else. */
int log_level_parse(const char *name, enum log_level *ret);
/* "text", "json" -> 0 and *ret; -EINVAL for anything else. */
int log_format_parse(const char *name, enum log_format *ret);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One field of a structured line: a string (str non-NULL), else the integer num;
 * a NULL str with is_null set is written as null (json) or "-" (text). */
typedef struct log_field {
        const char *key;
        const char *str;
        int64_t num;
        bool is_null;
} log_field;

#define LOG_STR(k, v) ((log_field){.key = (k), .str = (v), .is_null = (v) == NULL})
#define LOG_INT(k, v) ((log_field){.key = (k), .num = (int64_t) (v)})

/* A message and its fields as one line.  Text format: string values with spaces,
 * quotes or '=' are quoted ("..."), control characters escaped. */
void log_fields(enum log_level level, const char *msg, const log_field *fields, size_t n);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
