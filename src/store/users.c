/* users: see users.h. */
#include "store/users.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

#define USER_COLS                                                                                                      \
        "id, name, display_name, tz, role, password_hash, must_change, disabled, created_at, updated_at, "             \
        "(SELECT confirmed FROM totp t WHERE t.user_id = users.id)"

void user_row_clear(user_row *u) {
        if (!u)
                return;
        free(u->name);
        free(u->display_name);
        free(u->tz);
        free(u->role);
        free(u->password_hash);
        memset(u, 0, sizeof *u);
}

void user_rows_free(user_row *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                user_row_clear(&v[i]);
        free(v);
}

static void user_decode(db_stmt *st, void *elem) {
        user_row *u = elem;
        memset(u, 0, sizeof *u);
        u->id = db_col_int(st, 0);
        u->name = dup_or_null(db_col_text(st, 1));
        u->display_name = dup_or_null(db_col_text(st, 2));
        u->tz = dup_or_null(db_col_text(st, 3));
        u->role = dup_or_null(db_col_text(st, 4));
        u->password_hash = dup_or_null(db_col_text(st, 5));
        u->must_change = db_col_int(st, 6) != 0;
        u->disabled = db_col_int(st, 7) != 0;
        u->created_at = db_col_int(st, 8);
        u->updated_at = db_col_int(st, 9);
        u->totp = db_col_null(st, 10) ? USER_TOTP_OFF : db_col_int(st, 10) ? USER_TOTP_ON : USER_TOTP_PENDING;
}

static void user_clear(void *elem) {
        user_row_clear(elem);
}

static const row_shape user_shape = {sizeof(user_row), user_decode, user_clear};

int store_user_insert(store *s, user_row *u, sked_time now, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO users(name, display_name, tz, role, password_hash, must_change, disabled, "
                           "created_at, updated_at) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, u->name);
        db_bind_text(st, 2, u->display_name);
        db_bind_text(st, 3, u->tz);
        db_bind_text(st, 4, u->role);
        db_bind_text(st, 5, u->password_hash);
        db_bind_int(st, 6, u->must_change);
        db_bind_int(st, 7, u->disabled);
        db_bind_int(st, 8, now);
        r = row_read(st, &id_shape, &u->id, err);
        if (r == -EEXIST)
                return err_field(err, -EEXIST, "name", "user \"%s\" exists already", u->name);
        if (r < 0)
                return r;
        u->created_at = u->updated_at = now;
        return 0;
}

int store_user_get(store *s, const char *name, user_row *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT " USER_COLS " FROM users WHERE name = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, name);
        return row_read(st, &user_shape, ret, err);
}

int store_user_list(store *s, user_row **ret, size_t *ret_n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT " USER_COLS " FROM users ORDER BY name", &st, err);
        if (r < 0)
                return r;
        return rows_read(st, &user_shape, ret, ret_n, err);
}

int store_user_update(store *s, const user_row *u, sked_time now, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE users SET display_name = $2, tz = $3, role = $4, password_hash = $5, "
                           "must_change = $6, disabled = $7, updated_at = $8 WHERE id = $1",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, u->id);
        db_bind_text(st, 2, u->display_name);
        db_bind_text(st, 3, u->tz);
        db_bind_text(st, 4, u->role);
        db_bind_text(st, 5, u->password_hash);
        db_bind_int(st, 6, u->must_change);
        db_bind_int(st, 7, u->disabled);
        db_bind_int(st, 8, now);
        if ((r = db_run(st, err)) < 0)
                return r;
        return db_changes(s->d) ? 0 : err_set(err, -ENOENT, "no user %lld", (long long) u->id);
}

int store_user_count(store *s, int64_t *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT count(*) FROM users", &st, err);
        if (r < 0)
                return r;
        *ret = 0;
        r = row_read(st, &id_shape, ret, err);
        return r < 0 ? r : 0;
}

/* ---- tokens ---- */

int store_token_insert(store *s, int64_t user_id, const char *name, const char *hash, sked_time expires_at,
                       sked_time now, int64_t *ret_id, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO tokens(user_id, name, hash, created_at, expires_at) "
                           "VALUES($1, $2, $3, $4, $5) RETURNING id",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, user_id);
        db_bind_text(st, 2, name);
        db_bind_text(st, 3, hash);
        db_bind_int(st, 4, now);
        db_bind_int_or_null(st, 5, expires_at, expires_at == 0);
        int64_t id = 0;
        if ((r = row_read(st, &id_shape, &id, err)) < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        return 0;
}

static void auth_decode(db_stmt *st, void *elem) {
        token_auth *a = elem;
        memset(a, 0, sizeof *a);
        a->token_id = db_col_int(st, 0);
        a->user_id = db_col_int(st, 1);
        snprintf(a->name, sizeof a->name, "%s", db_col_text(st, 2) ? db_col_text(st, 2) : "");
        snprintf(a->role, sizeof a->role, "%s", db_col_text(st, 3) ? db_col_text(st, 3) : "");
        a->last_used_at = db_col_null(st, 4) ? 0 : db_col_int(st, 4);
}

static const row_shape auth_shape = {sizeof(token_auth), auth_decode, NULL};

int store_token_auth(store *s, const char *hash, sked_time now, token_auth *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT t.id, t.user_id, u.name, u.role, t.last_used_at FROM tokens t "
                           "JOIN users u ON u.id = t.user_id WHERE t.hash = $1 AND t.revoked_at IS NULL "
                           "AND u.disabled = 0 AND (t.expires_at IS NULL OR t.expires_at > $2)",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, hash);
        db_bind_int(st, 2, now);
        return row_read(st, &auth_shape, ret, err);
}

int store_token_exists(store *s, const char *hash, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT id FROM tokens WHERE hash = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, hash);
        int64_t id;
        return row_read(st, &id_shape, &id, err);
}

int store_token_touch(store *s, int64_t id, sked_time now, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "UPDATE tokens SET last_used_at = $2 WHERE id = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, now);
        return db_run(st, err);
}

static json_t *token_json(db_stmt *st) {
        return json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I}", "id", (json_int_t) db_col_int(st, 0), "user",
                         db_col_text(st, 1) ? db_col_text(st, 1) : "", "name",
                         db_col_text(st, 2) ? db_col_text(st, 2) : "", "created_at", (json_int_t) db_col_int(st, 3),
                         "expires_at", (json_int_t) db_col_int(st, 4), "last_used_at", (json_int_t) db_col_int(st, 5),
                         "revoked_at", (json_int_t) db_col_int(st, 6));
}

JSON_SHAPE(token_shape, token_json);

int store_token_list(store *s, int64_t user_id, bool include_revoked, json_t **ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT t.id, u.name, t.name, t.created_at, COALESCE(t.expires_at, 0), "
                           "COALESCE(t.last_used_at, 0), COALESCE(t.revoked_at, 0) FROM tokens t "
                           "JOIN users u ON u.id = t.user_id WHERE (CAST($1 AS BIGINT) = 0 OR t.user_id = $1) "
                           "AND (CAST($2 AS INTEGER) = 1 OR t.revoked_at IS NULL) ORDER BY t.id",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, user_id);
        db_bind_int(st, 2, include_revoked);
        return json_read(st, &token_shape, ret, err);
}

int store_token_revoke(store *s, int64_t id, int64_t user_id, sked_time now, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(
                s->d,
                "UPDATE tokens SET revoked_at = $3 WHERE id = $1 AND (CAST($2 AS BIGINT) = 0 OR user_id = $2) "
                "AND revoked_at IS NULL",
                &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, user_id);
        db_bind_int(st, 3, now);
        if ((r = db_run(st, err)) < 0)
                return r;
        return db_changes(s->d) ? 0 : err_field(err, -ENOENT, "id", "no token %lld to revoke", (long long) id);
}

int store_token_revoke_user(store *s, int64_t user_id, sked_time now, int64_t *ret_n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "UPDATE tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", &st,
                           err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, user_id);
        db_bind_int(st, 2, now);
        if ((r = db_run(st, err)) < 0)
                return r;
        if (ret_n)
                *ret_n = db_changes(s->d);
        return 0;
}

/* ---- web sessions ---- */

int store_session_insert(store *s, int64_t user_id, const char *hash, sked_time now, sked_time expires_at,
                         const char *addr, const char *user_agent, int64_t *ret_id, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(
                s->d,
                "INSERT INTO sessions(user_id, hash, created_at, last_seen_at, expires_at, addr, user_agent) "
                "VALUES($1, $2, $3, $3, $4, $5, $6) RETURNING id",
                &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, user_id);
        db_bind_text(st, 2, hash);
        db_bind_int(st, 3, now);
        db_bind_int(st, 4, expires_at);
        db_bind_text(st, 5, addr);
        db_bind_text(st, 6, user_agent);
        int64_t id = 0;
        if ((r = row_read(st, &id_shape, &id, err)) < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        return 0;
}

static void session_decode(db_stmt *st, void *elem) {
        session_auth *a = elem;
        memset(a, 0, sizeof *a);
        a->session_id = db_col_int(st, 0);
        a->user_id = db_col_int(st, 1);
        snprintf(a->name, sizeof a->name, "%s", db_col_text(st, 2) ? db_col_text(st, 2) : "");
        snprintf(a->role, sizeof a->role, "%s", db_col_text(st, 3) ? db_col_text(st, 3) : "");
        a->must_change = db_col_int(st, 4) != 0;
        a->last_seen_at = db_col_int(st, 5);
        a->totp_missing = db_col_int(st, 6) != 0;
}

static const row_shape session_shape = {sizeof(session_auth), session_decode, NULL};

int store_session_auth(store *s, const char *hash, sked_time now, sked_time idle, session_auth *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT x.id, x.user_id, u.name, u.role, u.must_change, x.last_seen_at, "
                           "CASE WHEN EXISTS(SELECT 1 FROM settings s WHERE s.key = 'totp_required_roles' "
                           "AND s.value LIKE '%,' || u.role || ',%') AND NOT EXISTS(SELECT 1 FROM totp t "
                           "WHERE t.user_id = u.id AND t.confirmed = 1) THEN 1 ELSE 0 END FROM sessions x "
                           "JOIN users u ON u.id = x.user_id WHERE x.hash = $1 AND x.revoked_at IS NULL "
                           "AND u.disabled = 0 AND x.expires_at > $2 AND x.last_seen_at > $3",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, hash);
        db_bind_int(st, 2, now);
        db_bind_int(st, 3, now - idle);
        return row_read(st, &session_shape, ret, err);
}

int store_session_touch(store *s, int64_t id, sked_time now, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, now);
        return db_run(st, err);
}

static json_t *session_json(db_stmt *st) {
        return json_pack("{s:I, s:I, s:I, s:I, s:s?, s:s?}", "id", (json_int_t) db_col_int(st, 0), "created_at",
                         (json_int_t) db_col_int(st, 1), "last_seen_at", (json_int_t) db_col_int(st, 2), "expires_at",
                         (json_int_t) db_col_int(st, 3), "addr", db_col_text(st, 4), "user_agent", db_col_text(st, 5));
}

JSON_SHAPE(session_list_shape, session_json);

int store_session_list(store *s, int64_t user_id, sked_time now, sked_time idle, json_t **ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT id, created_at, last_seen_at, expires_at, addr, user_agent FROM sessions "
                           "WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 AND last_seen_at > $3 "
                           "ORDER BY id",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, user_id);
        db_bind_int(st, 2, now);
        db_bind_int(st, 3, now - idle);
        return json_read(st, &session_list_shape, ret, err);
}

int store_session_revoke(store *s, int64_t id, int64_t user_id, sked_time now, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND (CAST($2 AS BIGINT) = 0 OR "
                           "user_id = $2) AND revoked_at IS NULL AND expires_at > $3",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, user_id);
        db_bind_int(st, 3, now);
        if ((r = db_run(st, err)) < 0)
                return r;
        return db_changes(s->d) ? 0 : err_field(err, -ENOENT, "id", "no session %lld to end", (long long) id);
}

int store_session_revoke_user(store *s, int64_t user_id, int64_t except, sked_time now, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, user_id);
        db_bind_int(st, 2, except);
        db_bind_int(st, 3, now);
        return db_run(st, err);
}
