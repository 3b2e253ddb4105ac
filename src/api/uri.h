/* uri: the request target of an HTTP request ("/path?query", RFC 9112 §3.2.1
 * origin-form), checked and decoded strictly, for src/api/http.c (docs/api.md
 * "Request rules").  Pure; thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Checks that raw is a request target in origin form: it starts with '/' and holds
 * only what RFC 3986 allows there unescaped (unreserved characters, sub-delims, ':',
 * '@', '/', in the query also '?') and '%' followed by two hex digits.  Returns 0, or
 * -EINVAL with *ret_off the offset of the first byte at fault and *ret_why saying
 * what is wrong ("is not allowed unescaped", "is not a %XX escape", ...). */
int uri_check(const char *raw, size_t *ret_off, const char **ret_why);

/* Decodes s in place: each %XX becomes its byte and, when plus is set (a query
 * argument), '+' becomes ' '.  The result must be text (utf8_is_text: valid UTF-8, no
 * NUL or other control character).  Returns 0, or -EILSEQ with *ret_why "is not valid
 * UTF-8" or "holds a control character" (s is then decoded, but not text).  Escapes
 * that are not two hex digits are left as they are: uri_check refuses them first. */
int uri_unescape(char *s, bool plus, const char **ret_why);
