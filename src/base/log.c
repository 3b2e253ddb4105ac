#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/civil.h"

static enum log_level min_level = LOG_INFO;
static enum log_format format = LOG_TEXT;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const names[] = {"debug", "info", "warning", "error"};

void log_set_level(enum log_level level) {
        min_level = level;
}

void log_set_format(enum log_format f) {
        format = f;
}

bool log_enabled(enum log_level level) {
        return level >= min_level;
}

int log_level_parse(const char *name, enum log_level *ret) {
        for (int i = LOG_DEBUG; i <= LOG_ERROR; i++)
                if (name && !strcmp(name, names[i])) {
                        *ret = (enum log_level) i;
                        return 0;
                }
        return -EINVAL;
}

int log_format_parse(const char *name, enum log_format *ret) {
        if (name && !strcmp(name, "text")) {
                *ret = LOG_TEXT;
                return 0;
        }
        if (name && !strcmp(name, "json")) {
                *ret = LOG_JSON;
                return 0;
        }
        return -EINVAL;
}

/* A JSON string of s (bytes >= 0x80 pass through: messages are UTF-8 or ASCII). */
static void put_json_str(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p == '\t')
                        fputs("\\t", f);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

/* A text value: bare when it is one plain word, else quoted like JSON. */
static void put_text_value(FILE *f, const char *s) {
        bool plain = *s != '\0';
        for (const unsigned char *p = (const unsigned char *) s; *p && plain; p++)
                plain = *p > 0x20 && *p != '"' && *p != '=' && *p != '\\' && *p != 0x7f;
        if (plain)
                fputs(s, f);
        else
                put_json_str(f, s);
}

/* Writes one line under the lock; `msg` is the formatted message. */
static void emit(enum log_level level, const char *msg, const log_field *fields, size_t n) {
        char ts[40];
        sked_time now = time_now_real();
        time_format_utc(now, ts, sizeof ts);
        pthread_mutex_lock(&log_lock);
        if (format == LOG_JSON) {
                /* milliseconds in JSON: machines sort and join on it */
                snprintf(ts + 19, sizeof ts - 19, ".%03lldZ",
                         (long long) ((now - time_seconds(now) * SKED_USEC) / 1000));
                fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, names[level]);
                put_json_str(stderr, msg);
                for (size_t i = 0; i < n; i++) {
                        fputc(',', stderr);
                        put_json_str(stderr, fields[i].key);
                        fputc(':', stderr);
                        if (fields[i].str)
                                put_json_str(stderr, fields[i].str);
                        else if (fields[i].is_null)
                                fputs("null", stderr);
                        else
                                fprintf(stderr, "%lld", (long long) fields[i].num);
                }
                fputs("}\n", stderr);
        } else {
                fprintf(stderr, "%s sked[%s] %s", ts, names[level], msg);
                for (size_t i = 0; i < n; i++) {
                        fprintf(stderr, " %s=", fields[i].key);
                        if (fields[i].str)
                                put_text_value(stderr, fields[i].str);
                        else if (fields[i].is_null)
                                fputc('-', stderr);
                        else
                                fprintf(stderr, "%lld", (long long) fields[i].num);
                }
                fputc('\n', stderr);
        }
        pthread_mutex_unlock(&log_lock);
}

void log_msg(enum log_level level, const char *fmt, ...) {
        if (level < min_level)
                return;
        char buf[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        emit(level, buf, NULL, 0);
}

void log_fields(enum log_level level, const char *msg, const log_field *fields, size_t n) {
        if (level < min_level)
                return;
        emit(level, msg, fields, n);
}
