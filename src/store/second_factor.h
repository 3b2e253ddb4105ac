/* second_factor: the users' TOTP secrets, their recovery codes (as hashes, hex)
 * and the admins' settings (key/value), issue 14.  Same conventions as store.h:
 * 0 (or 1/0 for a lookup) on success, a negative errno with err set on failure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/civil.h"
#include "base/err.h"

typedef struct store store;

#define TOTP_SECRET_MAX 64 /* base32 characters */

typedef struct totp_row {
        char secret[TOTP_SECRET_MAX + 1]; /* base32 */
        bool confirmed;
        int64_t last_step; /* the last step a code was accepted for (0: none) */
} totp_row;

/* The TOTP of user_id: 1 and *ret, or 0 when there is none. */
int store_totp_get(store *s, int64_t user_id, totp_row *ret, sked_err *err);
/* A new, unconfirmed secret for user_id (replacing an unconfirmed one): -EEXIST
 * when a confirmed one is there.  Drops the user's recovery codes. */
int store_totp_enrol(store *s, int64_t user_id, const char *secret, sked_time now, sked_err *err);
/* Confirms user_id's secret (the one the code was checked against) with a code of
 * `step`: -ENOENT when that secret is not there unconfirmed (enrolled again since). */
int store_totp_confirm(store *s, int64_t user_id, const char *secret, int64_t step, sked_err *err);
/* Takes step for user_id's confirmed secret: -EACCES (field "code") when a code of
 * that step or a later one was taken already (a replay). */
int store_totp_take_step(store *s, int64_t user_id, int64_t step, sked_err *err);
/* Removes user_id's secret and recovery codes: -ENOENT when there is no secret. */
int store_totp_remove(store *s, int64_t user_id, sked_err *err);

/* Replaces user_id's recovery codes with the n hashes. */
int store_recovery_set(store *s, int64_t user_id, char *const *hashes, size_t n, sked_time now, sked_err *err);
/* 1 when user_id has an unused recovery code with that hash, else 0. */
int store_recovery_find(store *s, int64_t user_id, const char *hash, sked_err *err);
/* Marks that unused code used: -EACCES (field "code") when there is none. */
int store_recovery_take(store *s, int64_t user_id, const char *hash, sked_time now, sked_err *err);
/* How many unused recovery codes user_id has. */
int store_recovery_left(store *s, int64_t user_id, int64_t *ret, sked_err *err);

/* The setting `key`: 1 and *ret (caller frees), or 0 when it is not set. */
int store_setting_get(store *s, const char *key, char **ret, sked_err *err);
/* Sets (value non-NULL) or removes (NULL) the setting `key`. */
int store_setting_set(store *s, const char *key, const char *value, sked_err *err);
