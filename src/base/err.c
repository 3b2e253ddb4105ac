#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int neg(int code) {
        return code > 0 ? -code : (code == 0 ? -EINVAL : code);
}

int err_set(sked_err *e, int code, const char *fmt, ...) {
        code = neg(code);
        if (!e)
                return code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
        e->field[0] = '\0';
        return code;
}

int err_field(sked_err *e, int code, const char *field, const char *fmt, ...) {
        code = neg(code);
        if (!e)
                return code;
        char text[SKED_ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        e->code = code;
        snprintf(e->field, sizeof e->field, "%s", field ? field : "");
        if (field && *field)
                snprintf(e->msg, sizeof e->msg, "%s: %s", field, text);
        else
                snprintf(e->msg, sizeof e->msg, "%s", text);
        return code;
}

int err_prefix(sked_err *e, const char *prefix) {
        if (!e)
                return -EINVAL;
        char buf[SKED_ERR_MSG_MAX];
        if (e->field[0]) {
                snprintf(buf, sizeof buf, "%s.%s", prefix, e->field);
                snprintf(e->field, sizeof e->field, "%s", buf);
                /* the message starts with the old field name: swap it */
                snprintf(buf, sizeof buf, "%s.%s", prefix, e->msg);
        } else {
                snprintf(e->field, sizeof e->field, "%s", prefix);
                snprintf(buf, sizeof buf, "%s: %s", prefix, e->msg);
        }
        memcpy(e->msg, buf, sizeof e->msg);
        return e->code ? e->code : -EINVAL;
}

void err_clear(sked_err *e) {
        if (e)
                memset(e, 0, sizeof *e);
}
