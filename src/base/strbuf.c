#include "base/strbuf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

static int grow(strbuf *b, size_t extra) {
        if (b->oom)
                return -ENOMEM;
        if (extra > SIZE_MAX - b->len - 1) {
                b->oom = true;
                return -ENOMEM;
        }
        size_t need = b->len + extra + 1;
        if (need <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need)
                cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        char *p = realloc(b->data, cap);
        if (!p) {
                b->oom = true;
                return -ENOMEM;
        }
        b->data = p;
        b->cap = cap;
        return 0;
}

int strbuf_reserve(strbuf *b, size_t extra) {
        return grow(b, extra);
}

int strbuf_append(strbuf *b, const char *s, size_t n) {
        if (grow(b, n) < 0)
                return -ENOMEM;
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

int strbuf_puts(strbuf *b, const char *s) {
        return strbuf_append(b, s, strlen(s));
}

int strbuf_putc(strbuf *b, char c) {
        return strbuf_append(b, &c, 1);
}

int strbuf_vprintf(strbuf *b, const char *fmt, va_list ap) {
        va_list aq;
        va_copy(aq, ap);
        int n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0 || grow(b, (size_t) n) < 0)
                return -ENOMEM;
        vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
        b->len += (size_t) n;
        return 0;
}

int strbuf_printf(strbuf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = strbuf_vprintf(b, fmt, ap);
        va_end(ap);
        return r;
}

const char *strbuf_str(strbuf *b) {
        if (!b->data && grow(b, 0) == 0)
                b->data[0] = '\0';
        return b->data;
}

char *strbuf_steal(strbuf *b) {
        strbuf_str(b);
        char *p = b->data;
        *b = (strbuf) STRBUF_INIT;
        return p;
}

void strbuf_reset(strbuf *b) {
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

void strbuf_free(strbuf *b) {
        free(b->data);
        *b = (strbuf) STRBUF_INIT;
}

/* Appends s as valid UTF-8: each invalid byte (and NUL) becomes U+FFFD. */
int strbuf_append_utf8(strbuf *b, const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s;
        size_t run_start = 0, i = 0;
        while (i < n) {
                size_t k = utf8_seq(p + i, n - i);
                if (k > 0) {
                        i += k;
                        continue;
                }
                strbuf_append(b, s + run_start, i - run_start);
                strbuf_append(b, "\xef\xbf\xbd", 3);
                i++;
                run_start = i;
        }
        return strbuf_append(b, s + run_start, n - run_start);
}

int strbuf_append_utf8_max(strbuf *b, const char *s, size_t n, size_t max) {
        const unsigned char *p = (const unsigned char *) s;
        /* out: the UTF-8 form's length so far; fit: the input taken while out stays
         * within max - 3 (where a cut ends, with room for the mark) */
        size_t i = 0, out = 0, fit = 0;
        if (n > max + 1)
                n = max + 1;
        while (i < n) {
                size_t k = utf8_seq(p + i, n - i), add = k ? k : 3; /* U+FFFD */
                if (out + add > max)
                        break;
                out += add;
                i += k ? k : 1;
                if (out + 3 <= max)
                        fit = i;
        }
        if (i == n)
                return strbuf_append_utf8(b, s, n) < 0 ? -ENOMEM : 0;
        if (strbuf_append_utf8(b, s, fit) < 0 || strbuf_append(b, "\xe2\x80\xa6", 3) < 0)
                return -ENOMEM;
        return 1;
}
