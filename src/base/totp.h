/* totp: one-time passwords of RFC 4226 (HOTP) and RFC 6238 (TOTP), as the usual
 * authenticator apps make them (HMAC-SHA-1, 6 digits, 30 s steps; SHA-256 and
 * SHA-512 also), and the base32 text (RFC 4648) their secrets are shown in.
 * Pure functions; thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum totp_hash { TOTP_SHA1, TOTP_SHA256, TOTP_SHA512 };

/* HOTP(key, counter) truncated to `digits` (6..9) decimal digits. */
uint32_t hotp(enum totp_hash h, const unsigned char *key, size_t keylen, uint64_t counter, int digits);

/* TOTP at unix time t (seconds) with step seconds (30) and T0 = 0. */
uint32_t totp_at(enum totp_hash h, const unsigned char *key, size_t keylen, int64_t t, int step, int digits);

/* True when code (digits decimal characters) is the TOTP of t or of one step
 * either side (clocks drift); *ret_counter (may be NULL) the step it matched, so
 * that a caller can refuse a code used before. */
bool totp_verify(enum totp_hash h, const unsigned char *key, size_t keylen, int64_t t, const char *code, int digits,
                 uint64_t *ret_counter);

/* SHA-1 (FIPS 180-4) of data into out[20]. */
void totp_sha1(const unsigned char *data, size_t len, unsigned char out[20]);

/* Base32 (RFC 4648, upper case, no padding) of in[0..n) into out (size >= 8*ceil(n/5)+1). */
void base32_encode(const unsigned char *in, size_t n, char *out);
/* Decodes base32 text (case-insensitive, spaces and '=' ignored) into out (at most
 * cap bytes): the byte count, or -1 for a character outside the alphabet or too
 * long a text. */
int base32_decode(const char *in, unsigned char *out, size_t cap);
