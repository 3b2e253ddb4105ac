/* routes_users: users and their API tokens (docs/api.md "Users and tokens"), the
 * check of a user's bearer token (routes_users_authenticate, the http_authn_fn of
 * `sked serve`), and the first start's accounts (routes_users_bootstrap). */
#pragma once

#include "api/api.h"

int routes_users_register(http_server *s, api_ctx *ctx, sked_err *err);

/* The user u as GET /api/v1/users/{name} shows it (no secret), a new reference. */
struct user_row;
json_t *routes_users_view(const struct user_row *u);

/* http_authn_fn with the engine as ud: a user's token, looked up by its hash; its
 * last use is recorded (through the loop) when the last record is a minute old. */
int routes_users_authenticate(void *ud, http_req *r, const char *bearer, http_principal *ret);

/* On a store without users: creates the user `admin` (role admin) with a random
 * password that must be changed, gives it the token whose hash is admin_hash (the
 * data directory's token file: existing directories keep their token), and sets
 * *ret_password (caller frees; NULL when nothing was created).  Before the engine
 * starts.  0 or a negative errno with err. */
int routes_users_bootstrap(engine *e, const unsigned char admin_hash[AUTH_HASH_LEN], char **ret_password,
                           sked_err *err);
