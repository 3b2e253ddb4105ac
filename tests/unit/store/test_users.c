/* The users domain on every backend: users (unique names, update), tokens (the
 * valid one found by its hash; revoked, expired or of a disabled user not; lists;
 * revoke by owner; revoke all of a user), the second factor. */
#include "backends.h"
#include "store/second_factor.h"

#define ST(state) (backend_of(state)->st)

static void users_and_tokens(void **state) {
        store *st = ST(state);
        sked_err err = {0};
        user_row u = {.name = "opal", .role = "operator", .tz = "Europe/Paris"};
        assert_int_equal(store_user_insert(st, &u, 10, &err), 0);
        assert_true(u.id > 0);
        user_row dup = {.name = "opal", .role = "viewer"};
        assert_int_equal(store_user_insert(st, &dup, 11, &err), -EEXIST);
        user_row v = {.name = "vic", .role = "viewer"};
        assert_int_equal(store_user_insert(st, &v, 12, &err), 0);
        int64_t n = 0;
        assert_int_equal(store_user_count(st, &n, &err), 0);
        assert_int_equal(n, 2);

        user_row got;
        assert_int_equal(store_user_get(st, "opal", &got, &err), 1);
        assert_string_equal(got.tz, "Europe/Paris");
        assert_null(got.display_name);
        free(got.display_name);
        got.display_name = strdup("Opal");
        assert_int_equal(store_user_update(st, &got, 20, &err), 0);
        user_row_clear(&got);
        assert_int_equal(store_user_get(st, "opal", &got, &err), 1);
        assert_string_equal(got.display_name, "Opal");
        assert_int_equal(got.updated_at, 20);
        user_row_clear(&got);
        assert_int_equal(store_user_get(st, "nobody", &got, &err), 0);

        int64_t t1 = 0, t2 = 0, t3 = 0;
        assert_int_equal(store_token_insert(st, u.id, "ci", "aa", 0, 30, &t1, &err), 0);
        assert_int_equal(store_token_insert(st, u.id, "short", "bb", 100, 30, &t2, &err), 0);
        assert_int_equal(store_token_insert(st, v.id, "v", "cc", 0, 30, &t3, &err), 0);
        assert_int_equal(store_token_insert(st, v.id, "same hash", "cc", 0, 30, NULL, &err), -EEXIST);
        token_auth a;
        assert_int_equal(store_token_auth(st, "aa", 50, &a, &err), 1);
        assert_int_equal(a.token_id, t1);
        assert_int_equal(a.user_id, u.id);
        assert_string_equal(a.name, "opal");
        assert_string_equal(a.role, "operator");
        assert_int_equal(a.last_used_at, 0);
        assert_int_equal(store_token_touch(st, t1, 55, &err), 0);
        assert_int_equal(store_token_auth(st, "aa", 60, &a, &err), 1);
        assert_int_equal(a.last_used_at, 55);
        assert_int_equal(store_token_auth(st, "bb", 99, &a, &err), 1);
        assert_int_equal(store_token_auth(st, "bb", 100, &a, &err), 0); /* expired */
        assert_int_equal(store_token_auth(st, "zz", 50, &a, &err), 0);
        assert_int_equal(store_token_exists(st, "bb", &err), 1);
        assert_int_equal(store_token_exists(st, "zz", &err), 0);

        json_t *list = NULL;
        assert_int_equal(store_token_list(st, u.id, false, &list, &err), 0);
        assert_int_equal(json_array_size(list), 2);
        json_decref(list);
        assert_int_equal(store_token_list(st, 0, false, &list, &err), 0);
        assert_int_equal(json_array_size(list), 3);
        assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "user")), "vic");
        json_decref(list);

        /* revoke: only the owner's (or anyone's with 0), once */
        assert_int_equal(store_token_revoke(st, t1, v.id, 70, &err), -ENOENT);
        assert_int_equal(store_token_revoke(st, t1, u.id, 70, &err), 0);
        assert_int_equal(store_token_revoke(st, t1, 0, 71, &err), -ENOENT);
        assert_int_equal(store_token_auth(st, "aa", 72, &a, &err), 0);
        assert_int_equal(store_token_list(st, u.id, false, &list, &err), 0);
        assert_int_equal(json_array_size(list), 1);
        json_decref(list);
        assert_int_equal(store_token_list(st, u.id, true, &list, &err), 0);
        assert_int_equal(json_array_size(list), 2);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "revoked_at")), 70);
        json_decref(list);

        /* a disabled user's tokens are refused; revoke_user ends them all */
        assert_int_equal(store_user_get(st, "vic", &got, &err), 1);
        got.disabled = true;
        assert_int_equal(store_user_update(st, &got, 80, &err), 0);
        assert_int_equal(store_token_auth(st, "cc", 81, &a, &err), 0);
        int64_t k = 0;
        assert_int_equal(store_token_revoke_user(st, got.id, 82, &k, &err), 0);
        assert_int_equal(k, 1);
        got.disabled = false;
        assert_int_equal(store_user_update(st, &got, 83, &err), 0);
        assert_int_equal(store_token_auth(st, "cc", 84, &a, &err), 0);
        user_row_clear(&got);

        user_row *all = NULL;
        size_t nall = 0;
        assert_int_equal(store_user_list(st, &all, &nall, &err), 0);
        assert_int_equal(nall, 2);
        assert_string_equal(all[0].name, "opal");
        assert_string_equal(all[1].name, "vic");
        user_rows_free(all, nall);
        u.name = v.name = NULL; /* literals, not owned */
}

static void audit_log(void **state) {
        store *st = ST(state);
        sked_err err = {0};
        audit_entry e = {.at = 10,
                         .actor = "opal",
                         .via = "token",
                         .addr = "127.0.0.1",
                         .method = "POST",
                         .path = "/api/v1/series/1/pause",
                         .change = "{\"note\":\"x\"}"};
        assert_int_equal(store_audit_insert(st, &e, &err), 0);
        e = (audit_entry){.at = 20, .actor = "admin", .via = "session", .method = "DELETE", .path = "/api/v1/series/1"};
        assert_int_equal(store_audit_insert(st, &e, &err), 0);
        e.at = 30;
        e.path = "/api/v1/users";
        e.method = "POST";
        assert_int_equal(store_audit_insert(st, &e, &err), 0);
        json_t *l = NULL;
        audit_filter f = {.limit = 10};
        assert_int_equal(store_audit_list(st, &f, &l, &err), 0);
        assert_int_equal(json_array_size(l), 3);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 0), "at")), 30); /* newest first */
        json_t *first = json_array_get(l, 2);
        assert_string_equal(json_string_value(json_object_get(json_object_get(first, "change"), "note")), "x");
        assert_true(json_is_null(json_object_get(json_array_get(l, 0), "change")));
        int64_t mid = json_integer_value(json_object_get(json_array_get(l, 1), "id"));
        json_decref(l);
        f = (audit_filter){.actor = "admin", .limit = 10};
        assert_int_equal(store_audit_list(st, &f, &l, &err), 0);
        assert_int_equal(json_array_size(l), 2);
        json_decref(l);
        f = (audit_filter){.path_prefix = "/api/v1/series", .limit = 10};
        assert_int_equal(store_audit_list(st, &f, &l, &err), 0);
        assert_int_equal(json_array_size(l), 2);
        json_decref(l);
        f = (audit_filter){.method = "POST", .since = 15, .limit = 10};
        assert_int_equal(store_audit_list(st, &f, &l, &err), 0);
        assert_int_equal(json_array_size(l), 1);
        json_decref(l);
        f = (audit_filter){.until = 20, .limit = 10};
        assert_int_equal(store_audit_list(st, &f, &l, &err), 0);
        assert_int_equal(json_array_size(l), 1);
        json_decref(l);
        f = (audit_filter){.before = mid, .limit = 1};
        assert_int_equal(store_audit_list(st, &f, &l, &err), 0);
        assert_int_equal(json_array_size(l), 1);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 0), "at")), 10);
        json_decref(l);
}

/* The second factor (store/second_factor.h): an unconfirmed secret replaced by a new
 * enrolment, a confirmed one not; the user row's state; steps taken once, in order;
 * recovery codes used once and replaced; the per-role requirement on a session. */
static void second_factor(void **state) {
        store *st = ST(state);
        sked_err err = {0};
        user_row u = {.name = "tess", .role = "operator"};
        assert_int_equal(store_user_insert(st, &u, 10, &err), 0);
        totp_row t;
        assert_int_equal(store_totp_get(st, u.id, &t, &err), 0);
        assert_int_equal(store_totp_take_step(st, u.id, 5, &err), -EACCES); /* nothing confirmed */
        assert_int_equal(store_totp_enrol(st, u.id, "AAAA", 11, &err), 0);
        assert_int_equal(store_totp_enrol(st, u.id, "BBBB", 12, &err), 0); /* replaces the unconfirmed one */
        user_row got;
        assert_int_equal(store_user_get(st, "tess", &got, &err), 1);
        assert_int_equal(got.totp, USER_TOTP_PENDING);
        user_row_clear(&got);
        assert_int_equal(store_totp_confirm(st, u.id, "AAAA", 100, &err), -ENOENT); /* not that secret any more */
        assert_int_equal(store_totp_confirm(st, u.id, "BBBB", 100, &err), 0);
        assert_int_equal(store_totp_confirm(st, u.id, "BBBB", 100, &err), -ENOENT);
        assert_int_equal(store_totp_enrol(st, u.id, "CCCC", 13, &err), -EEXIST);
        assert_int_equal(store_totp_get(st, u.id, &t, &err), 1);
        assert_string_equal(t.secret, "BBBB");
        assert_true(t.confirmed);
        assert_int_equal(t.last_step, 100);
        assert_int_equal(store_user_get(st, "tess", &got, &err), 1);
        assert_int_equal(got.totp, USER_TOTP_ON);
        user_row_clear(&got);
        /* a step is taken once, and never one before it */
        assert_int_equal(store_totp_take_step(st, u.id, 100, &err), -EACCES);
        assert_string_equal(err.field, "code");
        assert_int_equal(store_totp_take_step(st, u.id, 101, &err), 0);
        assert_int_equal(store_totp_take_step(st, u.id, 101, &err), -EACCES);
        assert_int_equal(store_totp_take_step(st, u.id, 99, &err), -EACCES);

        char *hashes[] = {"h1", "h2", "h3"};
        assert_int_equal(store_recovery_set(st, u.id, hashes, 3, 20, &err), 0);
        int64_t left = 0;
        assert_int_equal(store_recovery_left(st, u.id, &left, &err), 0);
        assert_int_equal(left, 3);
        assert_int_equal(store_recovery_find(st, u.id, "h2", &err), 1);
        assert_int_equal(store_recovery_find(st, u.id + 1, "h2", &err), 0); /* another user's */
        assert_int_equal(store_recovery_take(st, u.id, "h2", 21, &err), 0);
        assert_int_equal(store_recovery_take(st, u.id, "h2", 22, &err), -EACCES);
        assert_int_equal(store_recovery_find(st, u.id, "h2", &err), 0);
        assert_int_equal(store_recovery_left(st, u.id, &left, &err), 0);
        assert_int_equal(left, 2);
        char *fresh[] = {"h4"};
        assert_int_equal(store_recovery_set(st, u.id, fresh, 1, 23, &err), 0);
        assert_int_equal(store_recovery_find(st, u.id, "h1", &err), 0);

        /* the requirement per role, read with the session */
        int64_t sid = 0;
        session_auth a;
        user_row v = {.name = "vic", .role = "viewer"};
        assert_int_equal(store_user_insert(st, &v, 10, &err), 0);
        assert_int_equal(store_session_insert(st, v.id, "s1", 30, 1000, NULL, NULL, &sid, &err), 0);
        assert_int_equal(store_session_auth(st, "s1", 31, 100, &a, &err), 1);
        assert_false(a.totp_missing);
        assert_int_equal(store_setting_set(st, "totp_required_roles", ",operator,viewer,", &err), 0);
        char *val = NULL;
        assert_int_equal(store_setting_get(st, "totp_required_roles", &val, &err), 1);
        assert_string_equal(val, ",operator,viewer,");
        free(val);
        assert_int_equal(store_session_auth(st, "s1", 32, 100, &a, &err), 1);
        assert_true(a.totp_missing);
        assert_int_equal(store_session_insert(st, u.id, "s2", 30, 1000, NULL, NULL, &sid, &err), 0);
        assert_int_equal(store_session_auth(st, "s2", 32, 100, &a, &err), 1);
        assert_false(a.totp_missing); /* tess has one */
        assert_int_equal(store_totp_remove(st, u.id, &err), 0);
        assert_int_equal(store_totp_remove(st, u.id, &err), -ENOENT);
        assert_int_equal(store_recovery_left(st, u.id, &left, &err), 0);
        assert_int_equal(left, 0);
        assert_int_equal(store_session_auth(st, "s2", 33, 100, &a, &err), 1);
        assert_true(a.totp_missing);
        assert_int_equal(store_setting_set(st, "totp_required_roles", NULL, &err), 0);
        assert_int_equal(store_setting_get(st, "totp_required_roles", &val, &err), 0);
        assert_int_equal(store_session_auth(st, "s2", 34, 100, &a, &err), 1);
        assert_false(a.totp_missing);
        u.name = v.name = NULL; /* literals, not owned */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                BACKEND_TESTS(users_and_tokens),
                BACKEND_TESTS(audit_log),
                BACKEND_TESTS(second_factor),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
