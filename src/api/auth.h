/* auth: API tokens.  The server keeps only a BLAKE2b hash of the admin token and
 * compares presented tokens in constant time; the token itself lives in a 0600
 * file under the data directory so the CLI on the same host can read it.
 *
 * All functions are thread-safe (libsodium is initialised on first use). */
#pragma once

#include <stdbool.h>

#include "base/err.h"

#define AUTH_TOKEN_LEN 64 /* hex characters of a generated token */
#define AUTH_HASH_LEN 32  /* bytes of a token hash */

/* Fills out with a fresh token: 32 random bytes as 64 lowercase hex characters
 * plus the terminating NUL.  Returns 0, or -EIO if libsodium cannot initialise. */
int auth_token_generate(char out[AUTH_TOKEN_LEN + 1]);

/* Hashes token (any length, NUL-terminated) into out with unkeyed BLAKE2b-256.
 * Tokens are 256-bit random values, not passwords: a fast hash is enough because
 * there is nothing to brute-force, so no password hashing (argon2) is needed.
 * Returns 0, or -EIO if libsodium cannot initialise. */
int auth_token_hash(const char *token, unsigned char out[AUTH_HASH_LEN]);

/* True if presented (may be NULL) hashes to hash.  The comparison of the hashes
 * runs in constant time (sodium_memcmp). */
bool auth_token_matches(const char *presented, const unsigned char hash[AUTH_HASH_LEN]);

/* Reads the admin token from path into out, or if path does not exist, creates it
 * atomically (a 0600 temporary file in the same directory, written and fsync'ed,
 * then link()ed into place, so readers never see a partial token) with a new token.
 * *ret_created (may be NULL) tells which happened.
 * Errors (with err set, field "token_file"):
 *   -EPERM   the file is accessible by group or others, or not owned by us
 *   -EINVAL  the file is not a regular file, or does not hold a token
 *            (16..64 printable characters, one line)
 *   other negative errno from open/read/write/link (e.g. -ENOENT when the
 *   directory does not exist, -ELOOP when path is a symlink). */
int auth_token_file_ensure(const char *path, char out[AUTH_TOKEN_LEN + 1], bool *ret_created, sked_err *err);
