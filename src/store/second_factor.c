/* second_factor: see second_factor.h. */
#include "store/second_factor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

static void totp_decode(db_stmt *st, void *elem) {
        totp_row *t = elem;
        memset(t, 0, sizeof *t);
        snprintf(t->secret, sizeof t->secret, "%s", db_col_text(st, 0) ? db_col_text(st, 0) : "");
        t->confirmed = db_col_int(st, 1) != 0;
        t->last_step = db_col_int(st, 2);
}

static const row_shape totp_shape = {sizeof(totp_row), totp_decode, NULL};

int store_totp_get(store *s, int64_t user_id, totp_row *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT secret, confirmed, last_step FROM totp WHERE user_id = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, user_id);
        return row_read(st, &totp_shape, ret, err);
}

/* runs one statement of user_id (and a second integer when arg >= 0); *ret_n (may
 * be NULL) the number of rows changed */
static int run_user(store *s, const char *sql, int64_t user_id, int64_t arg, int64_t *ret_n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, sql, &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, user_id);
        if (arg >= 0)
                db_bind_int(st, 2, arg);
        if ((r = db_run(st, err)) < 0)
                return r;
        if (ret_n)
                *ret_n = db_changes(s->d);
        return 0;
}

/* runs one statement binding ($1 user_id, $2 text, $3 v); *ret_n (may be NULL) the
 * number of rows changed */
static int run_text(store *s, const char *sql, int64_t user_id, const char *text, int64_t v, int64_t *ret_n,
                    sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, sql, &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, user_id);
        db_bind_text(st, 2, text);
        db_bind_int(st, 3, v);
        if ((r = db_run(st, err)) < 0)
                return r;
        if (ret_n)
                *ret_n = db_changes(s->d);
        return 0;
}

int store_totp_enrol(store *s, int64_t user_id, const char *secret, sked_time now, sked_err *err) {
        totp_row t;
        int r = store_totp_get(s, user_id, &t, err);
        if (r < 0)
                return r;
        if (r == 1 && t.confirmed)
                return err_field(err, -EEXIST, "name", "the user has a second factor already: disable it first");
        if ((r = run_user(s, "DELETE FROM totp WHERE user_id = $1", user_id, -1, NULL, err)) < 0 ||
            (r = run_user(s, "DELETE FROM recovery_codes WHERE user_id = $1", user_id, -1, NULL, err)) < 0)
                return r;
        return run_text(s, "INSERT INTO totp(user_id, secret, created_at) VALUES($1, $2, $3)", user_id, secret, now,
                        NULL, err);
}

int store_totp_confirm(store *s, int64_t user_id, const char *secret, int64_t step, sked_err *err) {
        int64_t n = 0;
        int r = run_text(s,
                         "UPDATE totp SET confirmed = 1, last_step = $3 WHERE user_id = $1 AND secret = $2 "
                         "AND confirmed = 0",
                         user_id, secret, step, &n, err);
        if (r < 0)
                return r;
        return n ? 0 : err_field(err, -ENOENT, "name", "no second factor being enrolled (enrol first)");
}

int store_totp_take_step(store *s, int64_t user_id, int64_t step, sked_err *err) {
        int64_t n = 0;
        int r = run_user(s, "UPDATE totp SET last_step = $2 WHERE user_id = $1 AND confirmed = 1 AND last_step < $2",
                         user_id, step, &n, err);
        if (r < 0)
                return r;
        return n ? 0 : err_field(err, -EACCES, "code", "code: used already");
}

int store_totp_remove(store *s, int64_t user_id, sked_err *err) {
        int64_t n = 0;
        int r = run_user(s, "DELETE FROM totp WHERE user_id = $1", user_id, -1, &n, err);
        if (r < 0 || (r = run_user(s, "DELETE FROM recovery_codes WHERE user_id = $1", user_id, -1, NULL, err)) < 0)
                return r;
        return n ? 0 : err_field(err, -ENOENT, "name", "the user has no second factor");
}

int store_recovery_set(store *s, int64_t user_id, char *const *hashes, size_t n, sked_time now, sked_err *err) {
        int r = run_user(s, "DELETE FROM recovery_codes WHERE user_id = $1", user_id, -1, NULL, err);
        for (size_t i = 0; r == 0 && i < n; i++)
                r = run_text(s, "INSERT INTO recovery_codes(user_id, hash, created_at) VALUES($1, $2, $3)", user_id,
                             hashes[i], now, NULL, err);
        return r;
}

int store_recovery_find(store *s, int64_t user_id, const char *hash, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT id FROM recovery_codes WHERE user_id = $1 AND hash = $2 AND used_at IS NULL",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, user_id);
        db_bind_text(st, 2, hash);
        int64_t id;
        return row_read(st, &id_shape, &id, err);
}

int store_recovery_take(store *s, int64_t user_id, const char *hash, sked_time now, sked_err *err) {
        int64_t n = 0;
        int r = run_text(s,
                         "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND hash = $2 AND used_at IS NULL",
                         user_id, hash, now, &n, err);
        if (r < 0)
                return r;
        return n ? 0 : err_field(err, -EACCES, "code", "code: used already");
}

int store_recovery_left(store *s, int64_t user_id, int64_t *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL", &st,
                           err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, user_id);
        int64_t n = 0;
        if ((r = row_read(st, &id_shape, &n, err)) < 0)
                return r;
        *ret = n;
        return 0;
}

static void text_decode(db_stmt *st, void *elem) {
        *(char **) elem = dup_or_null(db_col_text(st, 0));
}

static const row_shape text_shape = {sizeof(char *), text_decode, NULL};

int store_setting_get(store *s, const char *key, char **ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT value FROM settings WHERE key = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, key);
        char *v = NULL;
        if ((r = row_read(st, &text_shape, &v, err)) <= 0)
                return r;
        if (!v)
                return err_set(err, -ENOMEM, "out of memory");
        *ret = v;
        return 1;
}

int store_setting_set(store *s, const char *key, const char *value, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           value ? "INSERT INTO settings(key, value) VALUES($1, $2) "
                                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
                                 : "DELETE FROM settings WHERE key = $1",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, key);
        if (value)
                db_bind_text(st, 2, value);
        return db_run(st, err);
}
