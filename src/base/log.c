#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "base/civil.h"

static enum log_level min_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level level) {
        min_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...) {
        static const char *names[] = {"debug", "info", "warning", "error"};
        if (level < min_level)
                return;
        char ts[32];
        time_format_utc(time_now_real(), ts, sizeof ts);
        va_list ap;
        va_start(ap, fmt);
        pthread_mutex_lock(&log_lock);
        fprintf(stderr, "%s sked[%s] ", ts, names[level]);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        pthread_mutex_unlock(&log_lock);
        va_end(ap);
}
