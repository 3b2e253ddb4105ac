/* users: the accounts (name, role, password hash, display name, time zone) and
 * their API tokens (stored as hashes, hex).  Same conventions as store.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/civil.h"
#include "base/err.h"

typedef struct store store;

enum user_totp { USER_TOTP_OFF, USER_TOTP_PENDING, USER_TOTP_ON }; /* none, enrolled not confirmed, on */
typedef struct user_row {
        int64_t id;
        char *name, *display_name, *tz, *role, *password_hash; /* display_name, tz, password_hash may be NULL */
        bool must_change, disabled;
        enum user_totp totp; /* read only (the totp table, store/second_factor.h) */
        sked_time created_at, updated_at;
} user_row;
void user_row_clear(user_row *u);

/* Inserts u (its id is ignored) and sets u->id.  -EEXIST when the name is taken. */
int store_user_insert(store *s, user_row *u, sked_time now, sked_err *err);
/* The user of that name: 1, or 0 when there is none (*ret untouched). */
int store_user_get(store *s, const char *name, user_row *ret, sked_err *err);
/* Every user by name: *ret (caller frees with user_rows_free) and *ret_n. */
int store_user_list(store *s, user_row **ret, size_t *ret_n, sked_err *err);
void user_rows_free(user_row *v, size_t n);
/* Writes u's display_name, tz, role, password_hash, must_change, disabled; -ENOENT
 * when there is no user u->id. */
int store_user_update(store *s, const user_row *u, sked_time now, sked_err *err);
/* How many users there are. */
int store_user_count(store *s, int64_t *ret, sked_err *err);

/* ---- tokens ---- */
typedef struct token_auth {
        int64_t token_id, user_id;
        char name[65], role[16]; /* the user's */
        sked_time last_used_at;  /* 0: never */
} token_auth;
/* Inserts a token of user_id (hash: hex), expires_at 0 = never; *ret_id its id. */
int store_token_insert(store *s, int64_t user_id, const char *name, const char *hash, sked_time expires_at,
                       sked_time now, int64_t *ret_id, sked_err *err);
/* The valid token with that hash (not revoked, not expired at now, its user not
 * disabled): 1 and *ret, or 0. */
int store_token_auth(store *s, const char *hash, sked_time now, token_auth *ret, sked_err *err);
/* True (1) when a token with that hash exists at all (valid or not), else 0. */
int store_token_exists(store *s, const char *hash, sked_err *err);
/* Records a use of token id at now. */
int store_token_touch(store *s, int64_t id, sked_time now, sked_err *err);
/* Tokens as JSON [{id, user, name, created_at, expires_at, last_used_at, revoked_at}]
 * (instants as integers, 0 for none), of user_id or of everyone (user_id 0), by id;
 * revoked ones only when include_revoked. */
int store_token_list(store *s, int64_t user_id, bool include_revoked, json_t **ret, sked_err *err);
/* Revokes token id (of user_id, or of anyone when user_id is 0) at now: -ENOENT when
 * there is no such token not yet revoked. */
int store_token_revoke(store *s, int64_t id, int64_t user_id, sked_time now, sked_err *err);
/* Revokes every token of user_id; *ret_n (may be NULL) how many. */
int store_token_revoke_user(store *s, int64_t user_id, sked_time now, int64_t *ret_n, sked_err *err);

/* ---- web sessions ---- */
typedef struct session_auth {
        int64_t session_id, user_id;
        char name[65], role[16];
        bool must_change;
        bool totp_missing; /* the user's role must have a second factor (settings "totp_required_roles") and
                              they have none confirmed */
        sked_time last_seen_at;
} session_auth;
/* A new session of user_id (hash: hex of its cookie) ending at expires_at at the
 * latest; addr and user_agent (may be NULL) for the user's list. */
int store_session_insert(store *s, int64_t user_id, const char *hash, sked_time now, sked_time expires_at,
                         const char *addr, const char *user_agent, int64_t *ret_id, sked_err *err);
/* The live session with that hash: not revoked, not past expires_at, seen after
 * now - idle, its user enabled: 1 and *ret, or 0. */
int store_session_auth(store *s, const char *hash, sked_time now, sked_time idle, session_auth *ret, sked_err *err);
int store_session_touch(store *s, int64_t id, sked_time now, sked_err *err);
/* The live sessions of user_id as JSON [{id, created_at, last_seen_at, expires_at,
 * addr, user_agent}] (instants as integers), by id. */
int store_session_list(store *s, int64_t user_id, sked_time now, sked_time idle, json_t **ret, sked_err *err);
/* Ends session id of user_id (0: anyone's): -ENOENT when there is no such live one. */
int store_session_revoke(store *s, int64_t id, int64_t user_id, sked_time now, sked_err *err);
/* Ends every session of user_id but `except` (0: none). */
int store_session_revoke_user(store *s, int64_t user_id, int64_t except, sked_time now, sked_err *err);
