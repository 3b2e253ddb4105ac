/* second_factor: what the TOTP routes (routes_users.c) compute off the loop: new
 * secrets and their otpauth:// URI, recovery codes and their hashes, and the check
 * of a code (a TOTP code or a recovery code) against a user's confirmed secret.
 * Any HTTP worker thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/civil.h"
#include "base/err.h"
#include "store/second_factor.h"

#define SF_SECRET_BYTES 20 /* 160 bits, RFC 4226's recommendation: 32 base32 characters */
#define SF_RECOVERY_CODES 10
#define SF_RECOVERY_LEN 19 /* "xxxx-xxxx-xxxx-xxxx": 16 base32 letters, 80 bits */
#define SF_HASH_HEX 65
#define SF_CODE_MAX 64 /* bytes of a code in a request */
#define SF_URI_MAX 256

/* A new random secret, base32, into out. */
void second_factor_secret(char out[TOTP_SECRET_MAX + 1]);
/* The otpauth://totp/sked:NAME?secret=...&issuer=sked URI of user name's secret. */
void second_factor_uri(const char *name, const char *secret, char out[SF_URI_MAX]);
/* SF_RECOVERY_CODES new codes (shown once) of user_id and their hashes (stored). */
void second_factor_recovery(int64_t user_id, char codes[SF_RECOVERY_CODES][SF_RECOVERY_LEN + 1],
                            char hashes[SF_RECOVERY_CODES][SF_HASH_HEX]);

/* What a good code was: a TOTP step to take (store_totp_take_step) or a recovery
 * code's hash to mark used (store_recovery_take). */
typedef struct second_factor_use {
        int64_t step;
        char recovery[SF_HASH_HEX]; /* "" for a TOTP code */
} second_factor_use;

/* Checks code for user_id at now: six digits are a TOTP code of the confirmed secret
 * (one step either side, later than the last one taken), anything else a recovery
 * code (dashes, blanks and case ignored) not used yet.  1 and *ret when it is good,
 * 0 when it is not (or the user has no confirmed secret), <0 on a store error. */
int second_factor_check(store *s, int64_t user_id, const char *code, sked_time now, second_factor_use *ret,
                        sked_err *err);
/* The TOTP step a code of secret (base32) is for at now: 1 and *ret_step, else 0. */
int second_factor_totp(const char *secret, const char *code, sked_time now, int64_t *ret_step);
