/* password: the rules for passwords (8..128 characters, no composition rules, the
 * most common ones refused) and their hashes: argon2id through libsodium
 * (crypto_pwhash_str, the interactive limits: 64 MiB and 2 passes each).
 *
 * At most PASSWORD_HASHES_MAX hashes are computed at once in the process (a
 * counting semaphore, taken without waiting): past it password_hash and
 * password_verify answer -EBUSY at once, which the API turns into 503 with
 * Retry-After, so that a flood of logins costs at most that many times 64 MiB
 * instead of queueing without bound.  Thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define PASSWORD_MIN 8   /* characters (code points) */
#define PASSWORD_MAX 128 /* characters */
#define PASSWORD_HASH_LEN 128
#define PASSWORD_HASHES_MAX 4

/* 0, or -EINVAL with err (field `field`) naming what is wrong: not UTF-8 text, too
 * short, too long, or one of the common passwords (compared lowercased). */
int password_check(const char *pw, const char *field, sked_err *err);

/* True when pw (lowercased) is in the list of common passwords. */
bool password_is_common(const char *pw);

/* The argon2id hash of pw ("$argon2id$v=19$m=...", NUL-terminated) into out.
 * -EBUSY when PASSWORD_HASHES_MAX hashes are being computed; -ENOMEM. */
int password_hash(const char *pw, char out[PASSWORD_HASH_LEN]);

/* 0 when pw matches hash, -EACCES when not (or hash is NULL or not a hash),
 * -EBUSY as password_hash. */
int password_verify(const char *hash, const char *pw);

/* Fills out (n > 16) with a random password of n-1 characters from an alphabet
 * without look-alikes. */
void password_random(char *out, size_t n);
