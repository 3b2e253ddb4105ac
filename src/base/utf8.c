/* utf8: UTF-8 validation; see utf8.h. */
#include "base/utf8.h"

size_t utf8_seq(const unsigned char *s, size_t n) {
        unsigned char c = s[0];
        if (c >= 0x01 && c <= 0x7f)
                return 1;
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
                len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                if (c == 0xe0)
                        lo = 0xa0; /* overlong */
                else if (c == 0xed)
                        hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                if (c == 0xf0)
                        lo = 0x90; /* overlong */
                else if (c == 0xf4)
                        hi = 0x8f; /* beyond U+10FFFF */
        } else
                return 0;
        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return len;
}

bool utf8_is_text(const char *s, size_t n, size_t *ret_off) {
        const unsigned char *p = (const unsigned char *) s;
        for (size_t i = 0; i < n;) {
                size_t k = utf8_seq(p + i, n - i);
                /* C0 and DEL are one byte; C1 is U+0080..U+009F, encoded C2 80..C2 9F */
                bool control = k == 1 ? (p[i] < 0x20 || p[i] == 0x7f) : (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0);
                if (k == 0 || control) {
                        if (ret_off)
                                *ret_off = i;
                        return false;
                }
                i += k;
        }
        return true;
}
