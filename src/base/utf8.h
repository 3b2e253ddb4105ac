/* utf8: UTF-8 validation, in one place (strbuf's scrubbing, the HTTP API's strict
 * decoding of paths and query arguments).  Pure; thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the valid UTF-8 sequence at s, n bytes available; 0 when the
 * bytes there are not one (a stray continuation byte, an overlong form, a surrogate,
 * beyond U+10FFFF, cut short).  NUL counts as invalid: our strings are C strings. */
size_t utf8_seq(const unsigned char *s, size_t n);

/* True when s[0..n) is text a person could have typed into a name or a value: valid
 * UTF-8 without NUL or other control characters (C0, DEL, C1: U+0080..U+009F).
 * Otherwise false, with *ret_off (if not NULL) the offset of the first bad byte. */
bool utf8_is_text(const char *s, size_t n, size_t *ret_off);
