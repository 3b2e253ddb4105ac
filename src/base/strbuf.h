/* strbuf: a growable NUL-terminated byte buffer.  Not thread-safe; one owner. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct strbuf {
        char *data; /* always NUL-terminated once anything was appended; may be NULL when empty */
        size_t len;
        size_t cap;
        bool oom; /* an allocation failed; further appends are dropped */
} strbuf;

#define STRBUF_INIT                                                                                                    \
        { NULL, 0, 0, false }

/* Makes room for `extra` more bytes, so that large outputs grow once. */
int strbuf_reserve(strbuf *b, size_t extra);
int strbuf_append(strbuf *b, const char *s, size_t n);
int strbuf_puts(strbuf *b, const char *s);
int strbuf_putc(strbuf *b, char c);
int strbuf_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strbuf_vprintf(strbuf *b, const char *fmt, va_list ap);
/* Appends n bytes of s as valid UTF-8 text: each byte that is not part of a valid
 * sequence (and NUL) becomes U+FFFD.  Messages and results are stored and served as
 * JSON, and PostgreSQL refuses invalid UTF-8. */
int strbuf_append_utf8(strbuf *b, const char *s, size_t n);
/* The same, taking at most `max` bytes (max >= 3): text whose UTF-8 form is longer
 * is cut on a character boundary and ends with "…" (3 bytes, within max).  Returns
 * 1 when it cut, 0 when all of it fit, -ENOMEM.  Only the first max + 1 bytes of s
 * are read: each byte gives at least one. */
int strbuf_append_utf8_max(strbuf *b, const char *s, size_t n, size_t max);
/* Returns the contents ("" when empty, never NULL unless out of memory). */
const char *strbuf_str(strbuf *b);
/* Hands the buffer to the caller (free() it) and resets b. */
char *strbuf_steal(strbuf *b);
void strbuf_reset(strbuf *b);
void strbuf_free(strbuf *b);
