/* fuzz_uri: request targets through the strict decoding of src/api/uri.c, as
 * src/api/http.c applies it: uri_check on the raw target, then each path segment and
 * each query name and value through uri_unescape.  Invariants: a target uri_check
 * accepts starts with '/' and its error offset lies inside it; what uri_unescape
 * accepts is text (no NUL, valid UTF-8: utf8_is_text) and never longer than before. */
#include <errno.h>

#include "api/uri.h"
#include "base/utf8.h"
#include "fuzz.h"

static void unescape(const char *part, size_t len, bool plus) {
        char *s = strndup(part, len);
        if (!s)
                return;
        const char *why = NULL;
        int r = uri_unescape(s, plus, &why);
        FUZZ_CHECK(r == 0 || r == -EILSEQ, "uri_unescape returned %d", r);
        FUZZ_CHECK(strlen(s) <= len, "decoded %zu bytes out of %zu", strlen(s), len);
        if (r == 0)
                FUZZ_CHECK(utf8_is_text(s, strlen(s), NULL), "accepted \"%s\" is not text", s);
        else
                FUZZ_CHECK(why != NULL, "no reason for refusing \"%s\"", part);
        free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *raw = fuzz_text(data, size);
        if (!raw)
                return 0;
        size_t off = 0;
        const char *why = NULL;
        size_t len = strlen(raw); /* a target never holds a NUL: MHD ends it there */
        int r = uri_check(raw, &off, &why);
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL, "uri_check returned %d", r);
                FUZZ_CHECK(off <= len && why, "offset %zu of %zu", off, len);
                free(raw);
                return 0;
        }
        FUZZ_CHECK(raw[0] == '/', "accepted \"%s\" without a leading '/'", raw);
        char *q = strchr(raw, '?');
        size_t plen = q ? (size_t) (q - raw) : len;
        for (size_t i = 1; i <= plen;) {
                size_t j = i;
                while (j < plen && raw[j] != '/')
                        j++;
                unescape(raw + i, j - i, false);
                i = j + 1;
        }
        if (q) {
                for (char *a = q + 1; *a;) {
                        size_t n = strcspn(a, "&");
                        char *eq = memchr(a, '=', n);
                        if (eq) {
                                unescape(a, (size_t) (eq - a), true);
                                unescape(eq + 1, n - (size_t) (eq - a) - 1, true);
                        } else {
                                unescape(a, n, true);
                        }
                        a += n + (a[n] == '&');
                }
        }
        free(raw);
        return 0;
}
