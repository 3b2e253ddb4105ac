/* uri: the request target, checked and decoded strictly; see uri.h. */
#include "api/uri.h"

#include <errno.h>
#include <string.h>

#include "base/utf8.h"

static int hexval(unsigned char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* RFC 3986 pchar less pct-encoded: unreserved / sub-delims / ":" / "@" */
static bool pchar(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("-._~!$&'()*+,;=:@", c));
}

int uri_check(const char *raw, size_t *ret_off, const char **ret_why) {
        const unsigned char *p = (const unsigned char *) raw;
        bool query = false;
        if (p[0] != '/') {
                *ret_off = 0;
                *ret_why = "expected a path starting with '/' (origin form)";
                return -EINVAL;
        }
        for (size_t i = 0; p[i]; i++) {
                unsigned char c = p[i];
                if (c == '%') {
                        if (hexval(p[i + 1]) < 0 || hexval(p[i + 2]) < 0) {
                                *ret_off = i;
                                *ret_why = "'%' is not followed by two hex digits";
                                return -EINVAL;
                        }
                        i += 2;
                } else if (c == '?') {
                        query = true;
                } else if (!pchar(c) && c != '/') {
                        *ret_off = i;
                        *ret_why = query ? "is not allowed unescaped in a query" : "is not allowed unescaped in a path";
                        return -EINVAL;
                }
        }
        return 0;
}

int uri_unescape(char *s, bool plus, const char **ret_why) {
        char *w = s;
        for (const char *r = s; *r; r++) {
                int hi, lo;
                if (*r == '%' && (hi = hexval((unsigned char) r[1])) >= 0 && (lo = hexval((unsigned char) r[2])) >= 0) {
                        *w++ = (char) (hi << 4 | lo);
                        r += 2;
                } else {
                        *w++ = plus && *r == '+' ? ' ' : *r;
                }
        }
        size_t n = (size_t) (w - s), off;
        *w = '\0';
        if (utf8_is_text(s, n, &off))
                return 0;
        /* a decoded NUL or another control byte is text's "control character"; a byte
         * at or above 0x80 that is not part of a sequence is not UTF-8 */
        unsigned char c = (unsigned char) s[off];
        bool c1 = c == 0xc2 && off + 1 < n && (unsigned char) s[off + 1] < 0xa0 && (unsigned char) s[off + 1] >= 0x80;
        *ret_why = c < 0x20 || c == 0x7f || c1 ? "holds a control character" : "is not valid UTF-8";
        return -EILSEQ;
}
