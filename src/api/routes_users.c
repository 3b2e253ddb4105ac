/* routes_users: users and API tokens (docs/api.md "Users and tokens"). */
#include "api/routes_users.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/second_factor.h"
#include "api/views.h"
#include "model/password.h"
#include "sched/tz.h"
#include "store/second_factor.h"
#include "store/store.h"

#define TOUCH_EVERY (60 * (sked_time) 1000000) /* a token's last use is recorded at this granularity */
#define NAME_MAX_LEN 64
#define TEXT_MAX 200
#define COOKIE_SECURE "__Host-sked_session" /* on HTTPS: Secure, Path=/, no Domain */
#define COOKIE_PLAIN "sked_session"         /* on plain HTTP (a __Host- cookie needs Secure) */

static void hash_hex(const unsigned char h[AUTH_HASH_LEN], char out[AUTH_HASH_LEN * 2 + 1]) {
        sodium_bin2hex(out, AUTH_HASH_LEN * 2 + 1, h, AUTH_HASH_LEN);
}

/* ---- the token check ---- */

typedef struct touch_op {
        int64_t id;
        sked_time at;
        bool session; /* a session's last_seen_at, else a token's last_used_at */
} touch_op;

static int touch_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        touch_op *t = ctx;
        (void) e;
        (void) ret_reply;
        return t->session ? store_session_touch(st, t->id, t->at, err) : store_token_touch(st, t->id, t->at, err);
}

static void touch_done(void *ud, int result, json_t *reply, const sked_err *err) {
        (void) result;
        (void) err;
        json_decref(reply);
        free(ud);
}

/* The CSRF token of a session: a keyed hash of its cookie, so nothing is stored
 * for it and it is useless without the cookie. */
static void csrf_of(const char *cookie, char out[AUTH_HASH_LEN * 2 + 1]) {
        static const unsigned char key[] = "sked csrf token v1";
        unsigned char h[AUTH_HASH_LEN];
        crypto_generichash(h, sizeof h, (const unsigned char *) cookie, strlen(cookie), key, sizeof key - 1);
        hash_hex(h, out);
}

/* The session cookie's value in the request's Cookie header, into out; false when
 * there is none of the right shape. */
static bool session_cookie(http_req *r, char out[AUTH_TOKEN_LEN + 1]) {
        const char *c = http_header(r, "Cookie");
        for (const char *p = c; p && *p;) {
                p += strspn(p, " ;");
                const char *eq = strchr(p, '='), *end = p + strcspn(p, ";");
                if (!eq || eq > end)
                        break;
                size_t nlen = (size_t) (eq - p), vlen = (size_t) (end - eq - 1);
                if (((nlen == strlen(COOKIE_SECURE) && !strncmp(p, COOKIE_SECURE, nlen)) ||
                     (nlen == strlen(COOKIE_PLAIN) && !strncmp(p, COOKIE_PLAIN, nlen))) &&
                    vlen == AUTH_TOKEN_LEN) {
                        memcpy(out, eq + 1, vlen);
                        out[vlen] = '\0';
                        return true;
                }
                p = end;
        }
        return false;
}

/* Records a use of a token or session (through the loop, not waiting) when the last
 * record is `every` old. */
static void touch_later(engine *e, int64_t id, bool session, sked_time last, sked_time now, sked_time every) {
        if (now - last < every)
                return;
        touch_op *t = malloc(sizeof *t);
        if (t) {
                *t = (touch_op){id, now, session};
                engine_write_async(e, touch_apply, t, ENGINE_WRITE_BLIND, touch_done, t);
        }
}

/* What looking a token or a session up needs: the hex of secret's hash, this
 * thread's store, the engine's now.  0, or the store's error. */
static int lookup_start(engine *e, const char *secret, char hex[AUTH_HASH_LEN * 2 + 1], store **st, sked_time *now) {
        unsigned char h[AUTH_HASH_LEN];
        sked_err err = {0};
        if (auth_token_hash(secret, h) < 0)
                return -EACCES;
        hash_hex(h, hex);
        int k = engine_thread_store(e, st, &err);
        *now = engine_now(e);
        return k;
}

static int session_authenticate(api_ctx *ctx, http_req *r, http_principal *ret) {
        engine *e = ctx->e;
        char cookie[AUTH_TOKEN_LEN + 1], hex[AUTH_HASH_LEN * 2 + 1];
        store *st;
        sked_err err = {0};
        sked_time now;
        if (!session_cookie(r, cookie))
                return -EACCES;
        int k = lookup_start(e, cookie, hex, &st, &now);
        if (k < 0)
                return k;
        session_auth a;
        if ((k = store_session_auth(st, hex, now, ctx->users.idle, &a, &err)) < 0)
                return k;
        if (k == 0)
                return -EACCES;
        *ret = (http_principal){.user_id = a.user_id,
                                .session_id = a.session_id,
                                .role = http_role_parse(a.role),
                                .must_change = a.must_change,
                                .totp_missing = a.totp_missing};
        snprintf(ret->name, sizeof ret->name, "%s", a.name);
        csrf_of(cookie, ret->csrf);
        sodium_memzero(cookie, sizeof cookie);
        touch_later(e, a.session_id, true, a.last_seen_at, now,
                    ctx->users.idle / 4 < TOUCH_EVERY ? ctx->users.idle / 4 : TOUCH_EVERY);
        return 0;
}

int routes_users_authenticate(void *ud, http_req *r, const char *bearer, http_principal *ret) {
        api_ctx *ctx = ud;
        engine *e = ctx->e;
        if (!bearer)
                return session_authenticate(ctx, r, ret);
        char hex[AUTH_HASH_LEN * 2 + 1];
        store *st;
        sked_err err = {0};
        sked_time now;
        if (strlen(bearer) > 512)
                return -EACCES;
        int k = lookup_start(e, bearer, hex, &st, &now);
        if (k < 0)
                return k;
        token_auth a;
        if ((k = store_token_auth(st, hex, now, &a, &err)) < 0)
                return k;
        if (k == 0)
                return -EACCES;
        *ret = (http_principal){.user_id = a.user_id, .token_id = a.token_id, .role = http_role_parse(a.role)};
        snprintf(ret->name, sizeof ret->name, "%s", a.name);
        touch_later(e, a.token_id, false, a.last_used_at, now, TOUCH_EVERY);
        return 0;
}

/* ---- views ---- */

static json_t *view_user(const user_row *u) {
        json_t *o = json_pack("{s:s, s:s?, s:s?, s:s, s:b, s:b, s:b}", "name", u->name, "display_name", u->display_name,
                              "tz", u->tz, "role", u->role, "disabled", u->disabled, "must_change_password",
                              u->must_change, "has_password", u->password_hash != NULL);
        static const char *const totp[] = {"off", "pending", "on"};
        json_object_set_new(o, "totp", json_string(totp[u->totp]));
        view_set_instant(o, "created_at", u->created_at);
        view_set_instant(o, "updated_at", u->updated_at);
        return o;
}

json_t *routes_users_view(const user_row *u) {
        return view_user(u);
}

static void view_token(json_t *t) {
        static const char *const keys[] = {"created_at", "expires_at", "last_used_at", "revoked_at"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
                sked_time v = json_integer_value(json_object_get(t, keys[i]));
                if (v)
                        view_set_instant(t, keys[i], v);
                else
                        json_object_set_new(t, keys[i], json_null());
        }
}

/* ---- checks of the input ---- */

static bool user_name_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > NAME_MAX_LEN || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-@") == n;
}

/* An optional string member: 0 with *ret (NULL when absent or null), or replies 400. */
static int opt_string(http_req *req, const char *name, size_t max, const char **ret) {
        json_t *v = json_object_get(http_body_json(req), name);
        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v) || json_string_length(v) > max) {
                http_reply_problem(req, 400, name, "%s: expected a string of at most %zu bytes", name, max);
                return -EINVAL;
        }
        *ret = json_string_value(v);
        return 0;
}

/* Replies 429 (and counts the attempt) when logins of user from addr must wait. */
static bool throttle_refused(http_req *req, api_ctx *ctx, const char *user, const char *addr, sked_time now) {
        sked_time wait = throttle_wait(&ctx->users.logins, user, addr, now);
        if (wait <= 0)
                return false;
        char ra[24];
        long long secs = (long long) ((wait + 999999) / 1000000);
        throttle_failed(&ctx->users.logins, user, addr, true, now);
        snprintf(ra, sizeof ra, "%lld", secs);
        http_add_header(req, "Retry-After", ra);
        http_reply_problem(req, 429, NULL,
                           "too many failed logins for this account or from this address; try again in %lld s", secs);
        return true;
}

static int check_tz(http_req *req, const char *tz) {
        const tz_zone *z;
        sked_err err = {0};
        if (tz && tz_load(tz, &z, &err) < 0) {
                http_reply_problem(req, 400, "tz", "tz: \"%s\": not a known time zone (IANA name, e.g. Europe/Paris)",
                                   tz);
                return -EINVAL;
        }
        return 0;
}

static int check_role(http_req *req, const char *role) {
        if (role && http_role_parse(role) == HTTP_ROLE_NONE) {
                http_reply_problem(req, 400, "role", "role: \"%s\": expected admin, operator or viewer", role);
                return -EINVAL;
        }
        return 0;
}

/* The caller may act on user `name`: an admin on anyone, others on themselves. */
static int self_or_admin(http_req *req, const char *name) {
        const http_principal *p = http_principal_of(req);
        if (p && (p->role == HTTP_ROLE_ADMIN || !strcmp(p->name, name)))
                return 0;
        http_reply_problem(req, 403, NULL, "only an admin may act on another user (\"%s\")", name);
        return -EACCES;
}

static int hash_reply_err(http_req *req, int r) {
        if (r == -EBUSY) {
                http_add_header(req, "Retry-After", "1");
                http_reply_problem(req, 503, NULL, "too many password hashes being computed; try again");
        } else {
                http_reply_problem(req, 500, NULL, "cannot hash the password: %s", strerror(-r));
        }
        return 0;
}

/* ---- writes ---- */

enum user_op_kind {
        OP_ADD,
        OP_PATCH,
        OP_PASSWORD,
        OP_DISABLE,
        OP_ENABLE,
        OP_TOKEN_CREATE,
        OP_TOKEN_REVOKE,
        OP_LOGIN,
        OP_SESSION_END,
        OP_TOTP_ENROL,
        OP_TOTP_CONFIRM,
        OP_TOTP_DISABLE,
        OP_RECOVERY_NEW,
        OP_TOTP_POLICY
};

typedef struct user_op {
        enum user_op_kind kind;
        const char *name; /* the user acted on */
        const char *display_name, *tz, *role, *token_name;
        bool set_display, set_tz;
        char hash[PASSWORD_HASH_LEN];     /* OP_ADD (may be ""), OP_PASSWORD */
        char token[AUTH_TOKEN_LEN + 1];   /* OP_TOKEN_CREATE: the new token */
        sked_time expires_at;             /* OP_TOKEN_CREATE */
        int64_t token_id, only_user;      /* OP_TOKEN_REVOKE: the token, and whose (0: anyone's) */
        bool self_change;                 /* OP_PASSWORD by the user themselves: must_change ends */
        int64_t session_id;               /* OP_PASSWORD: the caller's (kept); OP_SESSION_END: the one */
        sked_time lifetime;               /* OP_LOGIN */
        const char *addr, *user_agent;    /* OP_LOGIN */
        bool secure;                      /* OP_LOGIN: the cookie's name and attributes; OP_SESSION_END: clear it */
        second_factor_use factor;         /* OP_LOGIN, OP_RECOVERY_NEW: the code to take (step or recovery) */
        char secret[TOTP_SECRET_MAX + 1]; /* OP_TOTP_ENROL, OP_TOTP_CONFIRM */
        int64_t step;                     /* OP_TOTP_CONFIRM: the step of its code */
        char codes[SF_RECOVERY_CODES][SF_RECOVERY_LEN + 1]; /* OP_TOTP_CONFIRM, OP_RECOVERY_NEW */
        char hashes[SF_RECOVERY_CODES][SF_HASH_HEX];        /* their hashes */
        char policy[40];                                    /* OP_TOTP_POLICY: ",role,...," or "" for none */
        json_t *out;
} user_op;

/* Takes the code a request was checked with (second_factor_check, on the HTTP
 * thread), in the write: a code is good once, also when two requests race. */
static int take_factor(store *st, int64_t user_id, const second_factor_use *f, sked_time now, sked_err *err) {
        if (f->recovery[0])
                return store_recovery_take(st, user_id, f->recovery, now, err);
        return f->step ? store_totp_take_step(st, user_id, f->step, err) : 0;
}

static int user_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        user_op *o = ctx;
        sked_time now = engine_now(e);
        (void) ret_reply;
        user_row u = {0};
        int r;
        if (o->kind == OP_ADD) {
                u = (user_row){.name = (char *) o->name,
                               .display_name = (char *) o->display_name,
                               .tz = (char *) o->tz,
                               .role = (char *) o->role,
                               .password_hash = o->hash[0] ? o->hash : NULL};
                if ((r = store_user_insert(st, &u, now, err)) < 0)
                        return r;
                o->out = view_user(&u);
                return 0;
        }
        if (o->kind == OP_TOKEN_REVOKE)
                return store_token_revoke(st, o->token_id, o->only_user, now, err);
        if (o->kind == OP_SESSION_END)
                return store_session_revoke(st, o->session_id, o->only_user, now, err);
        if (o->kind == OP_TOTP_POLICY)
                return store_setting_set(st, "totp_required_roles", o->policy[0] ? o->policy : NULL, err);
        if ((r = store_user_get(st, o->name, &u, err)) < 0)
                return r;
        if (r == 0)
                return err_field(err, -ENOENT, "name", "no user \"%s\"", o->name);
        switch (o->kind) {
        case OP_PATCH:
                if (o->set_display) {
                        free(u.display_name);
                        u.display_name = o->display_name ? strdup(o->display_name) : NULL;
                }
                if (o->set_tz) {
                        free(u.tz);
                        u.tz = o->tz ? strdup(o->tz) : NULL;
                }
                if (o->role) {
                        free(u.role);
                        u.role = strdup(o->role);
                }
                break;
        case OP_PASSWORD:
                free(u.password_hash);
                u.password_hash = strdup(o->hash);
                u.must_change = !o->self_change;
                /* the user's other sessions end: whoever knew the old password is out */
                if ((r = store_session_revoke_user(st, u.id, o->self_change ? o->session_id : 0, now, err)) < 0)
                        goto out;
                break;
        case OP_LOGIN: {
                unsigned char h[AUTH_HASH_LEN];
                char hex[AUTH_HASH_LEN * 2 + 1], csrf[AUTH_HASH_LEN * 2 + 1];
                int64_t id = 0;
                if ((r = take_factor(st, u.id, &o->factor, now, err)) < 0)
                        goto out;
                auth_token_hash(o->token, h);
                hash_hex(h, hex);
                if ((r = store_session_insert(st, u.id, hex, now, now + o->lifetime, o->addr, o->user_agent, &id,
                                              err)) < 0)
                        goto out;
                csrf_of(o->token, csrf);
                o->out = json_pack("{s:o, s:I, s:s}", "user", view_user(&u), "session", (json_int_t) id, "csrf_token",
                                   csrf);
                view_set_instant(o->out, "expires_at", now + o->lifetime);
                r = 0;
                goto out;
        }
        case OP_DISABLE:
        case OP_ENABLE:
                u.disabled = o->kind == OP_DISABLE;
                /* disabling ends every token at once (a disabled user's tokens are
                 * refused anyway; revoked, they stay ended when enabled again) */
                if (u.disabled && ((r = store_token_revoke_user(st, u.id, now, NULL, err)) < 0 ||
                                   (r = store_session_revoke_user(st, u.id, 0, now, err)) < 0))
                        goto out;
                break;
        case OP_TOKEN_CREATE: {
                unsigned char h[AUTH_HASH_LEN];
                char hex[AUTH_HASH_LEN * 2 + 1];
                int64_t id = 0;
                if (u.disabled) {
                        r = err_field(err, -EINVAL, "user", "user \"%s\" is disabled", u.name);
                        goto out;
                }
                auth_token_hash(o->token, h);
                hash_hex(h, hex);
                if ((r = store_token_insert(st, u.id, o->token_name, hex, o->expires_at, now, &id, err)) < 0)
                        goto out;
                o->out = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t) id, "user", u.name, "name", o->token_name,
                                   "token", o->token);
                view_set_instant(o->out, "created_at", now);
                if (o->expires_at)
                        view_set_instant(o->out, "expires_at", o->expires_at);
                else
                        json_object_set_new(o->out, "expires_at", json_null());
                r = 0;
                goto out;
        }
        case OP_TOTP_ENROL: {
                char uri[SF_URI_MAX];
                if ((r = store_totp_enrol(st, u.id, o->secret, now, err)) < 0)
                        goto out;
                second_factor_uri(u.name, o->secret, uri);
                o->out = json_pack("{s:s, s:s, s:s, s:i, s:i}", "secret", o->secret, "uri", uri, "algorithm", "SHA1",
                                   "digits", 6, "period", 30);
                sodium_memzero(uri, sizeof uri);
                goto out;
        }
        case OP_TOTP_CONFIRM:
        case OP_RECOVERY_NEW:
                if ((r = o->kind == OP_TOTP_CONFIRM ? store_totp_confirm(st, u.id, o->secret, o->step, err)
                                                    : take_factor(st, u.id, &o->factor, now, err)) < 0)
                        goto out;
                char *hashes[SF_RECOVERY_CODES];
                for (int i = 0; i < SF_RECOVERY_CODES; i++)
                        hashes[i] = o->hashes[i];
                if ((r = store_recovery_set(st, u.id, hashes, SF_RECOVERY_CODES, now, err)) < 0)
                        goto out;
                o->out = json_pack("{s:[]}", "recovery_codes");
                for (int i = 0; i < SF_RECOVERY_CODES; i++)
                        json_array_append_new(json_object_get(o->out, "recovery_codes"), json_string(o->codes[i]));
                goto out;
        case OP_TOTP_DISABLE:
                r = store_totp_remove(st, u.id, err);
                goto out;
        default:
                break;
        }
        if ((r = store_user_update(st, &u, now, err)) < 0)
                goto out;
        u.updated_at = now;
        o->out = view_user(&u);
out:
        user_row_clear(&u);
        return r;
}

static int user_ok(http_req *req, void *op) {
        user_op *o = op;
        if (o->kind == OP_LOGIN) {
                char cookie[256];
                snprintf(cookie, sizeof cookie, "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
                         o->secure ? COOKIE_SECURE : COOKIE_PLAIN, o->token, (long long) (o->lifetime / 1000000),
                         o->secure ? "; Secure" : "");
                http_add_header(req, "Set-Cookie", cookie);
                sodium_memzero(cookie, sizeof cookie);
        }
        if (o->kind == OP_SESSION_END && o->secure) /* the caller's own: its cookie goes too */
                http_add_header(req, "Set-Cookie", o->token_name);
        sodium_memzero(o->token, sizeof o->token);
        sodium_memzero(o->secret, sizeof o->secret);
        sodium_memzero(o->codes, sizeof o->codes);
        if (!o->out) {
                http_reply_json(req, 204, NULL);
                return 0;
        }
        http_reply_json(req,
                        o->kind == OP_ADD || o->kind == OP_TOKEN_CREATE || o->kind == OP_LOGIN ||
                                        o->kind == OP_TOTP_ENROL
                                ? 201
                                : 200,
                        o->out);
        return 0;
}

static void user_clear(void *op) {
        user_op *o = op;
        sodium_memzero(o->token, sizeof o->token);
        sodium_memzero(o->secret, sizeof o->secret);
        sodium_memzero(o->codes, sizeof o->codes);
        json_decref(o->out);
}

static int user_write(http_req *req, api_ctx *ctx, user_op *o) {
        int r = api_write_through_loop(req, ctx->e, user_apply, 0, o, sizeof *o, user_ok, user_clear);
        sodium_memzero(o, sizeof *o);
        return r;
}

/* ---- users ---- */

static int h_users_list(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        store *st;
        if (api_get_store(ctx->e, req, &st) < 0)
                return 0;
        user_row *v = NULL;
        size_t n = 0;
        sked_err err = {0};
        int r = store_user_list(st, &v, &n, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(items, view_user(&v[i]));
        user_rows_free(v, n);
        http_reply_json(req, 200, json_pack("{s:o}", "items", items));
        return 0;
}

static int h_user_get(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        const char *name = http_param(req, "name");
        if (self_or_admin(req, name) < 0)
                return 0;
        store *st;
        if (api_get_store(ctx->e, req, &st) < 0)
                return 0;
        user_row u;
        sked_err err = {0};
        int r = store_user_get(st, name, &u, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        if (r == 0) {
                http_reply_problem(req, 404, "name", "no user \"%s\"", name);
                return 0;
        }
        http_reply_json(req, 200, view_user(&u));
        user_row_clear(&u);
        return 0;
}

static int h_user_add(http_req *req, void *ud) {
        user_op o = {.kind = OP_ADD};
        const char *pw = NULL;
        if (opt_string(req, "name", NAME_MAX_LEN, &o.name) < 0 || opt_string(req, "role", 16, &o.role) < 0 ||
            opt_string(req, "display_name", TEXT_MAX, &o.display_name) < 0 ||
            opt_string(req, "tz", TEXT_MAX, &o.tz) < 0 || opt_string(req, "password", PASSWORD_MAX * 4, &pw) < 0)
                return 0;
        if (!user_name_valid(o.name)) {
                http_reply_problem(req, 400, "name",
                                   "name: expected 1 to %d characters of a-z, 0-9 and _ . - @, starting with a letter "
                                   "or digit",
                                   NAME_MAX_LEN);
                return 0;
        }
        if (!o.role) {
                http_reply_problem(req, 400, "role", "role: required: admin, operator or viewer");
                return 0;
        }
        if (check_role(req, o.role) < 0 || check_tz(req, o.tz) < 0)
                return 0;
        sked_err err = {0};
        if (pw && password_check(pw, "password", &err) < 0)
                return api_reply_err(req, -EINVAL, &err);
        int r;
        if (pw && (r = password_hash(pw, o.hash)) < 0)
                return hash_reply_err(req, r);
        return user_write(req, ud, &o);
}

static int h_user_patch(http_req *req, void *ud) {
        user_op o = {.kind = OP_PATCH, .name = http_param(req, "name")};
        json_t *body = http_body_json(req);
        if (self_or_admin(req, o.name) < 0)
                return 0;
        if (opt_string(req, "role", 16, &o.role) < 0 ||
            opt_string(req, "display_name", TEXT_MAX, &o.display_name) < 0 ||
            opt_string(req, "tz", TEXT_MAX, &o.tz) < 0)
                return 0;
        o.set_display = json_object_get(body, "display_name") != NULL;
        o.set_tz = json_object_get(body, "tz") != NULL;
        if (check_role(req, o.role) < 0 || check_tz(req, o.tz) < 0)
                return 0;
        const http_principal *p = http_principal_of(req);
        if (o.role && p->role != HTTP_ROLE_ADMIN) {
                http_reply_problem(req, 403, "role", "role: only an admin may change a role");
                return 0;
        }
        return user_write(req, ud, &o);
}

/* Re-authentication of the caller acting on their own account `name`: password is
 * their current one (when they have one).  With `throttled`, a locked account or
 * address is refused first and a wrong password counts as a failed login.  0, or
 * -1 when it replied (403 current_password, 429, 404, 503). */
static int verify_current(http_req *req, api_ctx *ctx, const char *name, const char *password, bool throttled) {
        const char *addr = http_client_addr(req);
        sked_time now = engine_now(ctx->e);
        if (throttled && throttle_refused(req, ctx, name, addr, now))
                return -1;
        store *st;
        if (api_get_store(ctx->e, req, &st) < 0)
                return -1;
        user_row u;
        sked_err err = {0};
        int r = store_user_get(st, name, &u, &err);
        if (r < 0) {
                api_reply_err(req, r, &err);
                return -1;
        }
        if (r == 0) {
                http_reply_problem(req, 404, "name", "no user \"%s\"", name);
                return -1;
        }
        r = u.password_hash ? password_verify(u.password_hash, password ? password : "") : 0;
        user_row_clear(&u);
        if (r == -EACCES) {
                if (throttled)
                        throttle_failed(&ctx->users.logins, name, addr, false, now);
                http_reply_problem(req, 403, "current_password",
                                   "current_password: required, and must be your current password");
                return -1;
        }
        if (r < 0) {
                hash_reply_err(req, r);
                return -1;
        }
        return 0;
}

static int h_user_password(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        user_op o = {.kind = OP_PASSWORD, .name = http_param(req, "name")};
        const char *pw = NULL, *current = NULL;
        if (self_or_admin(req, o.name) < 0)
                return 0;
        if (opt_string(req, "password", PASSWORD_MAX * 4, &pw) < 0 ||
            opt_string(req, "current_password", PASSWORD_MAX * 4, &current) < 0)
                return 0;
        const http_principal *p = http_principal_of(req);
        o.self_change = !strcmp(p->name, o.name);
        o.session_id = p->session_id;
        sked_err err = {0};
        if (password_check(pw, "password", &err) < 0)
                return api_reply_err(req, -EINVAL, &err);
        int r;
        if (o.self_change && verify_current(req, ctx, o.name, current, false) < 0)
                return 0;
        if ((r = password_hash(pw, o.hash)) < 0)
                return hash_reply_err(req, r);
        return user_write(req, ud, &o);
}

static int h_user_disable(http_req *req, void *ud) {
        user_op o = {.kind = OP_DISABLE, .name = http_param(req, "name")};
        const http_principal *p = http_principal_of(req);
        if (!strcmp(p->name, o.name)) {
                http_reply_problem(req, 400, "name", "you cannot disable yourself");
                return 0;
        }
        return user_write(req, ud, &o);
}

static int h_user_enable(http_req *req, void *ud) {
        user_op o = {.kind = OP_ENABLE, .name = http_param(req, "name")};
        return user_write(req, ud, &o);
}

/* ---- tokens ---- */

static int h_tokens_list(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        const http_principal *p = http_principal_of(req);
        bool all = false, revoked = false;
        if (api_bool_arg(req, "all", &all) < 0 || api_bool_arg(req, "revoked", &revoked) < 0)
                return 0;
        if (all && p->role != HTTP_ROLE_ADMIN) {
                http_reply_problem(req, 403, "all", "all: only an admin may list everyone's tokens");
                return 0;
        }
        store *st;
        if (api_get_store(ctx->e, req, &st) < 0)
                return 0;
        json_t *items = NULL;
        sked_err err = {0};
        int r = store_token_list(st, all ? 0 : p->user_id, revoked, &items, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        size_t i;
        json_t *t;
        json_array_foreach(items, i, t) {
                view_token(t);
        }
        http_reply_json(req, 200, json_pack("{s:o}", "items", items));
        return 0;
}

static int h_token_create(http_req *req, void *ud) {
        user_op o = {.kind = OP_TOKEN_CREATE};
        const http_principal *p = http_principal_of(req);
        const char *user = NULL, *expires = NULL;
        if (opt_string(req, "name", TEXT_MAX, &o.token_name) < 0 || opt_string(req, "user", NAME_MAX_LEN, &user) < 0 ||
            opt_string(req, "expires_at", 40, &expires) < 0)
                return 0;
        if (!o.token_name || !*o.token_name) {
                http_reply_problem(req, 400, "name", "name: required: what the token is for (e.g. \"ci\")");
                return 0;
        }
        o.name = user ? user : p->name;
        if (self_or_admin(req, o.name) < 0)
                return 0;
        if (p->user_id == 0 && !user) {
                http_reply_problem(req, 400, "user", "user: required with the built-in token");
                return 0;
        }
        if (expires && time_parse_utc(expires, &o.expires_at) < 0) {
                http_reply_problem(req, 400, "expires_at",
                                   "expires_at: \"%s\": expected a UTC instant "
                                   "YYYY-MM-DDTHH:MM:SSZ",
                                   expires);
                return 0;
        }
        api_ctx *ctx = ud;
        if (expires && o.expires_at <= engine_now(ctx->e)) {
                http_reply_problem(req, 400, "expires_at", "expires_at: %s is not in the future", expires);
                return 0;
        }
        if (auth_token_generate(o.token) < 0) {
                http_reply_problem(req, 500, NULL, "cannot generate a token");
                return 0;
        }
        return user_write(req, ud, &o);
}

static int h_token_revoke(http_req *req, void *ud) {
        user_op o = {.kind = OP_TOKEN_REVOKE};
        const http_principal *p = http_principal_of(req);
        if (api_id_param(req, &o.token_id) < 0)
                return 0;
        o.only_user = p->role == HTTP_ROLE_ADMIN ? 0 : p->user_id;
        return user_write(req, ud, &o);
}

/* ---- web sessions ---- */

/* A hash to verify against when the user does not exist, so that a wrong name
 * costs what a wrong password does. */
static char dummy_hash[PASSWORD_HASH_LEN];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static void dummy_init(void) {
        char pw[25];
        password_random(pw, sizeof pw);
        if (password_hash(pw, dummy_hash) < 0)
                dummy_hash[0] = '\0';
}

/* Checks a second-factor code of user uid (name): 0 with *ret when it is good, else
 * replies (status: 401 at login, 403 to a signed-in user; field "code") counted as a
 * failed login, and returns -1. */
static int factor_refused(http_req *req, api_ctx *ctx, store *st, int64_t uid, const char *name, const char *code,
                          int status, second_factor_use *ret) {
        sked_err err = {0};
        sked_time now = engine_now(ctx->e);
        int r = second_factor_check(st, uid, code ? code : "", now, ret, &err);
        if (r < 0) {
                api_reply_err(req, r, &err);
                return -1;
        }
        if (r == 0) {
                throttle_failed(&ctx->users.logins, name, http_client_addr(req), false, now);
                http_reply_problem(req, status, "code",
                                   "code: not the code of this account's authenticator app now, nor an unused "
                                   "recovery code (each code is good once)");
                return -1;
        }
        return 0;
}

static int h_login(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        user_op o = {.kind = OP_LOGIN, .lifetime = ctx->users.lifetime};
        const char *pw = NULL, *code = NULL;
        if (!http_same_origin(req)) {
                http_reply_problem(req, 403, "Origin", "Origin: a login must come from this site");
                return 0;
        }
        if (opt_string(req, "name", NAME_MAX_LEN, &o.name) < 0 ||
            opt_string(req, "password", PASSWORD_MAX * 4, &pw) < 0 || opt_string(req, "code", SF_CODE_MAX, &code) < 0)
                return 0;
        if (!o.name || !pw) {
                http_reply_problem(req, 400, !o.name ? "name" : "password", "%s: required",
                                   !o.name ? "name" : "password");
                return 0;
        }
        const char *addr = http_client_addr(req);
        sked_time now = engine_now(ctx->e);
        if (throttle_refused(req, ctx, o.name, addr, now))
                return 0;
        store *st;
        if (api_get_store(ctx->e, req, &st) < 0)
                return 0;
        user_row u;
        sked_err err = {0};
        int r = store_user_get(st, o.name, &u, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        bool found = r == 1, usable = found && !u.disabled && u.password_hash;
        bool second = found && u.totp == USER_TOTP_ON;
        int64_t uid = found ? u.id : 0;
        if (!usable)
                pthread_once(&dummy_once, dummy_init);
        r = password_verify(usable ? u.password_hash : dummy_hash, pw);
        if (r == 0 && !usable)
                r = -EACCES;
        if (found)
                user_row_clear(&u);
        if (r == -EACCES) {
                throttle_failed(&ctx->users.logins, o.name, addr, false, now);
                http_reply_problem(req, 401, NULL, "wrong user name or password");
                return 0;
        }
        if (r < 0)
                return hash_reply_err(req, r);
        /* the second step: the same request again with a code (nothing is kept between
         * the two, so the password is checked again; a missing code is no failure) */
        if (second && !code) {
                http_reply_problem(req, 401, "code",
                                   "code: required: this account has a second factor; send the code of its "
                                   "authenticator app (or a recovery code) with the name and password");
                return 0;
        }
        if (second && (r = factor_refused(req, ctx, st, uid, o.name, code, 401, &o.factor)) != 0)
                return 0;
        throttle_succeeded(&ctx->users.logins, o.name, addr);
        if (auth_token_generate(o.token) < 0) {
                http_reply_problem(req, 500, NULL, "cannot generate a session");
                return 0;
        }
        o.secure = http_request_secure(req);
        o.addr = addr;
        o.user_agent = http_header(req, "User-Agent");
        return user_write(req, ud, &o);
}

static int h_whoami(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        const http_principal *p = http_principal_of(req);
        store *st;
        if (api_get_store(ctx->e, req, &st) < 0)
                return 0;
        user_row u;
        sked_err err = {0};
        int r = p->user_id ? store_user_get(st, p->name, &u, &err) : 0;
        if (r < 0)
                return api_reply_err(req, r, &err);
        json_t *o = json_pack("{s:s, s:s}", "name", p->name, "via", p->session_id ? "session" : "token");
        json_object_set_new(o, "role", json_string(http_role_name(p->role)));
        json_object_set_new(o, "user", r == 1 ? view_user(&u) : json_null());
        if (r == 1)
                user_row_clear(&u);
        if (p->session_id) {
                json_object_set_new(o, "session", json_integer(p->session_id));
                json_object_set_new(o, "csrf_token", json_string(p->csrf));
                json_object_set_new(o, "totp_enrolment_required", json_boolean(p->totp_missing));
        }
        http_reply_json(req, 200, o);
        return 0;
}

static int h_logout(http_req *req, void *ud) {
        const http_principal *p = http_principal_of(req);
        if (!p->session_id) {
                http_reply_problem(req, 400, NULL, "no session: this request came with a token, not a session cookie");
                return 0;
        }
        bool secure = http_request_secure(req);
        static const char clear_secure[] = COOKIE_SECURE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure",
                          clear_plain[] = COOKIE_PLAIN "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict";
        user_op o = {.kind = OP_SESSION_END,
                     .session_id = p->session_id,
                     .only_user = p->user_id,
                     .secure = true,
                     .token_name = secure ? clear_secure : clear_plain};
        return user_write(req, ud, &o);
}

static int h_sessions_list(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        const http_principal *p = http_principal_of(req);
        store *st;
        if (api_get_store(ctx->e, req, &st) < 0)
                return 0;
        json_t *items = NULL;
        sked_err err = {0};
        int r = store_session_list(st, p->user_id, engine_now(ctx->e), ctx->users.idle, &items, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        size_t i;
        json_t *x;
        json_array_foreach(items, i, x) {
                static const char *const keys[] = {"created_at", "last_seen_at", "expires_at"};
                for (size_t k = 0; k < 3; k++)
                        view_set_instant(x, keys[k], json_integer_value(json_object_get(x, keys[k])));
                json_object_set_new(x, "current",
                                    json_boolean(json_integer_value(json_object_get(x, "id")) == p->session_id));
        }
        http_reply_json(req, 200, json_pack("{s:o}", "items", items));
        return 0;
}

static int h_session_revoke(http_req *req, void *ud) {
        const http_principal *p = http_principal_of(req);
        user_op o = {.kind = OP_SESSION_END, .only_user = p->user_id};
        if (api_id_param(req, &o.session_id) < 0)
                return 0;
        return user_write(req, ud, &o);
}

static int h_lockouts(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        json_t *items = throttle_lockouts(&ctx->users.logins, engine_now(ctx->e));
        size_t i;
        json_t *x;
        json_array_foreach(items, i, x) {
                view_set_instant(x, "locked_until", json_integer_value(json_object_get(x, "locked_until")));
        }
        http_reply_json(req, 200, json_pack("{s:o}", "items", items));
        return 0;
}

/* ---- the second factor (TOTP) ---- */

/* The caller acts on their own account `name` (a second factor is one's own). */
static int self_only(http_req *req, const char *name) {
        const http_principal *p = http_principal_of(req);
        if (p && p->user_id && !strcmp(p->name, name))
                return 0;
        http_reply_problem(req, 403, "name", "name: \"%s\": a second factor is enrolled by its user themselves", name);
        return -1;
}

/* Re-authentication for a change of one's second factor: the current password and
 * a code (TOTP or recovery), counted in the login throttle.  0 with *f, or -1. */
static int reauth_factor(http_req *req, api_ctx *ctx, const char *name, second_factor_use *f) {
        const char *pw = NULL, *code = NULL;
        if (opt_string(req, "current_password", PASSWORD_MAX * 4, &pw) < 0 ||
            opt_string(req, "code", SF_CODE_MAX, &code) < 0)
                return -1;
        if (verify_current(req, ctx, name, pw, true) < 0)
                return -1;
        if (!code) {
                http_reply_problem(req, 400, "code",
                                   "code: required: a code of your authenticator app, or a recovery code");
                return -1;
        }
        store *st;
        if (api_get_store(ctx->e, req, &st) < 0)
                return -1;
        const http_principal *p = http_principal_of(req);
        return factor_refused(req, ctx, st, p->user_id, name, code, 403, f);
}

/* The caller's TOTP row (self_only checked): 1 with *t, 0 when there is none (and
 * replied 404 when `need`), -1 when it replied. */
static int own_totp(http_req *req, api_ctx *ctx, totp_row *t, bool need) {
        store *st;
        sked_err err = {0};
        if (api_get_store(ctx->e, req, &st) < 0)
                return -1;
        int r = store_totp_get(st, http_principal_of(req)->user_id, t, &err);
        if (r < 0) {
                api_reply_err(req, r, &err);
                return -1;
        }
        if (r == 0 && need)
                http_reply_problem(req, 404, "name", "no second factor enrolled (POST /api/v1/users/NAME/totp first)");
        return r == 0 && need ? -1 : r;
}

/* The state of the caller's second factor (enum user_totp), or -1 when it replied
 * (404 when there is none and `need`). */
static int own_totp_state(http_req *req, api_ctx *ctx, bool need) {
        totp_row t;
        int r = own_totp(req, ctx, &t, need);
        int state = r < 0 ? -1 : r == 0 ? USER_TOTP_OFF : t.confirmed ? USER_TOTP_ON : USER_TOTP_PENDING;
        sodium_memzero(&t, sizeof t);
        return state;
}

static int h_totp_enrol(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        user_op o = {.kind = OP_TOTP_ENROL, .name = http_param(req, "name")};
        const char *pw = NULL;
        if (self_only(req, o.name) < 0 || opt_string(req, "current_password", PASSWORD_MAX * 4, &pw) < 0 ||
            verify_current(req, ctx, o.name, pw, true) < 0)
                return 0;
        int r = own_totp_state(req, ctx, false);
        if (r < 0)
                return 0;
        if (r == USER_TOTP_ON) {
                http_reply_problem(req, 409, "name", "the user has a second factor already: disable it first");
                return 0;
        }
        second_factor_secret(o.secret);
        return user_write(req, ud, &o);
}

static int h_totp_confirm(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        user_op o = {.kind = OP_TOTP_CONFIRM, .name = http_param(req, "name")};
        const char *code = NULL;
        totp_row t;
        if (self_only(req, o.name) < 0 || opt_string(req, "code", SF_CODE_MAX, &code) < 0)
                return 0;
        if (!code) {
                http_reply_problem(req, 400, "code", "code: required: the code the authenticator app shows now");
                return 0;
        }
        int r = own_totp(req, ctx, &t, true);
        if (r < 0)
                return 0;
        if (t.confirmed) {
                sodium_memzero(&t, sizeof t);
                http_reply_problem(req, 409, "name", "the second factor is confirmed already");
                return 0;
        }
        r = second_factor_totp(t.secret, code, engine_now(ctx->e), &o.step);
        snprintf(o.secret, sizeof o.secret, "%s", t.secret);
        sodium_memzero(&t, sizeof t);
        if (r != 1) {
                sodium_memzero(&o, sizeof o);
                http_reply_problem(req, 400, "code",
                                   "code: not the code of the enrolled secret now (six digits; is the device's clock "
                                   "right?)");
                return 0;
        }
        second_factor_recovery(http_principal_of(req)->user_id, o.codes, o.hashes);
        return user_write(req, ud, &o);
}

static int h_totp_disable(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        user_op o = {.kind = OP_TOTP_DISABLE, .name = http_param(req, "name")};
        const http_principal *p = http_principal_of(req);
        if (strcmp(p->name, o.name) != 0) {
                /* an admin removes another's second factor (a lost device) */
                if (p->role != HTTP_ROLE_ADMIN) {
                        http_reply_problem(req, 403, "name", "only an admin may remove another user's second factor");
                        return 0;
                }
                return user_write(req, ud, &o);
        }
        if (own_totp_state(req, ctx, true) < 0 || reauth_factor(req, ctx, o.name, &o.factor) < 0)
                return 0;
        return user_write(req, ud, &o);
}

static int h_recovery_new(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        user_op o = {.kind = OP_RECOVERY_NEW, .name = http_param(req, "name")};
        if (self_only(req, o.name) < 0)
                return 0;
        int r = own_totp_state(req, ctx, true);
        if (r < 0)
                return 0;
        if (r != USER_TOTP_ON) {
                http_reply_problem(req, 409, "name", "the second factor is not confirmed yet");
                return 0;
        }
        if (reauth_factor(req, ctx, o.name, &o.factor) < 0)
                return 0;
        second_factor_recovery(http_principal_of(req)->user_id, o.codes, o.hashes);
        return user_write(req, ud, &o);
}

/* The roles that must have a second factor: the setting's ",admin,operator," as a list. */
static json_t *policy_view(const char *v) {
        json_t *roles = json_array();
        for (int i = HTTP_ROLE_VIEWER; i <= HTTP_ROLE_ADMIN; i++) {
                char key[24];
                snprintf(key, sizeof key, ",%s,", http_role_name(i));
                if (v && strstr(v, key))
                        json_array_append_new(roles, json_string(http_role_name(i)));
        }
        return json_pack("{s:o}", "required_roles", roles);
}

static int h_totp_policy_get(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        store *st;
        if (api_get_store(ctx->e, req, &st) < 0)
                return 0;
        char *v = NULL;
        sked_err err = {0};
        int r = store_setting_get(st, "totp_required_roles", &v, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        http_reply_json(req, 200, policy_view(v));
        free(v);
        return 0;
}

static int policy_ok(http_req *req, void *op) {
        user_op *o = op;
        http_reply_json(req, 200, policy_view(o->policy));
        return 0;
}

static int h_totp_policy_put(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        json_t *roles = json_object_get(http_body_json(req), "required_roles");
        char v[40] = ",";
        if (!json_is_array(roles) || json_array_size(roles) > 3) {
                http_reply_problem(req, 400, "required_roles",
                                   "required_roles: expected an array of roles (admin, operator, viewer)");
                return 0;
        }
        size_t i;
        json_t *x;
        bool any = false;
        json_array_foreach(roles, i, x) {
                const char *role = json_string_value(x);
                if (!role || http_role_parse(role) == HTTP_ROLE_NONE) {
                        http_reply_problem(req, 400, "required_roles",
                                           "required_roles[%zu]: expected admin, operator or viewer", i);
                        return 0;
                }
                char key[24];
                snprintf(key, sizeof key, ",%s,", role);
                if (!strstr(v, key)) {
                        strcat(v, role);
                        strcat(v, ",");
                        any = true;
                }
        }
        user_op o = {.kind = OP_TOTP_POLICY};
        if (any)
                snprintf(o.policy, sizeof o.policy, "%s", v);
        return api_write_through_loop(req, ctx->e, user_apply, 0, &o, sizeof o, policy_ok, user_clear);
}

/* ---- the audit log ---- */

static int h_audit_list(http_req *req, void *ud) {
        api_ctx *ctx = ud;
        audit_filter f = {.actor = http_query(req, "actor"),
                          .path_prefix = http_query(req, "path"),
                          .method = http_query(req, "method")};
        if (api_instant_arg(req, "since", 0, &f.since) < 0 || api_instant_arg(req, "until", 0, &f.until) < 0 ||
            api_int_arg(req, "before", http_query(req, "before"), 0, 0, INT64_MAX, &f.before) < 0 ||
            api_int_arg(req, "limit", http_query(req, "limit"), API_DEFAULT_LIMIT, 1, API_MAX_LIMIT, &f.limit) < 0)
                return 0;
        if (f.actor && !*f.actor)
                f.actor = NULL;
        if (f.path_prefix && !*f.path_prefix)
                f.path_prefix = NULL;
        if (f.method && !*f.method)
                f.method = NULL;
        store *st;
        if (api_get_store(ctx->e, req, &st) < 0)
                return 0;
        json_t *items = NULL;
        sked_err err = {0};
        int r = store_audit_list(st, &f, &items, &err);
        if (r < 0)
                return api_reply_err(req, r, &err);
        size_t i, n = json_array_size(items);
        json_t *x;
        json_array_foreach(items, i, x) {
                view_set_instant(x, "at", json_integer_value(json_object_get(x, "at")));
        }
        json_t *last = n ? json_array_get(items, n - 1) : NULL;
        json_t *next =
                n == (size_t) f.limit ? json_integer(json_integer_value(json_object_get(last, "id"))) : json_null();
        http_reply_json(req, 200, json_pack("{s:o, s:o}", "items", items, "next", next));
        return 0;
}

/* the session routes are open to a session that must change its password or enrol
 * a second factor first: it can see who it is and log out */
#define PENDING (HTTP_PASSWORD_PENDING | HTTP_TOTP_PENDING)

static const http_route_def routes[] = {
        {"GET", "/api/v1/lockouts", HTTP_ADMIN, h_lockouts, .args = NULL},
        {"GET", "/api/v1/audit", HTTP_ADMIN, h_audit_list,
         .args = HTTP_NAMES("actor", "path", "method", "since", "until", "before", "limit")},
        {"POST", "/api/v1/session", HTTP_PUBLIC | HTTP_BODY, h_login,
         .members = HTTP_NAMES("name", "password", "code")},
        {"GET", "/api/v1/session", HTTP_ANY_ROLE | PENDING, h_whoami, .args = NULL},
        {"DELETE", "/api/v1/session", HTTP_ANY_ROLE | PENDING, h_logout, .args = NULL},
        {"GET", "/api/v1/sessions", HTTP_ANY_ROLE | PENDING, h_sessions_list, .args = NULL},
        {"DELETE", "/api/v1/sessions/{id}", HTTP_ANY_ROLE | PENDING, h_session_revoke, .args = NULL},
        {"GET", "/api/v1/totp-policy", HTTP_ADMIN, h_totp_policy_get, .args = NULL},
        {"PUT", "/api/v1/totp-policy", HTTP_BODY | HTTP_ADMIN, h_totp_policy_put,
         .members = HTTP_NAMES("required_roles")},
        {"POST", "/api/v1/users/{name}/totp", HTTP_BODY | HTTP_ANY_ROLE | HTTP_TOTP_PENDING, h_totp_enrol,
         .members = HTTP_NAMES("current_password")},
        {"POST", "/api/v1/users/{name}/totp/confirm", HTTP_BODY | HTTP_ANY_ROLE | HTTP_TOTP_PENDING, h_totp_confirm,
         .members = HTTP_NAMES("code")},
        {"POST", "/api/v1/users/{name}/totp/disable", HTTP_BODY_OPTIONAL | HTTP_ANY_ROLE, h_totp_disable,
         .members = HTTP_NAMES("current_password", "code")},
        {"POST", "/api/v1/users/{name}/totp/recovery-codes", HTTP_BODY | HTTP_ANY_ROLE, h_recovery_new,
         .members = HTTP_NAMES("current_password", "code")},
        {"GET", "/api/v1/users", HTTP_ADMIN, h_users_list, .args = NULL},
        {"POST", "/api/v1/users", HTTP_BODY | HTTP_ADMIN, h_user_add,
         .members = HTTP_NAMES("name", "role", "display_name", "tz", "password")},
        {"GET", "/api/v1/users/{name}", HTTP_ANY_ROLE | HTTP_TOTP_PENDING, h_user_get, .args = NULL},
        {"PATCH", "/api/v1/users/{name}", HTTP_BODY | HTTP_ANY_ROLE, h_user_patch,
         .members = HTTP_NAMES("role", "display_name", "tz")},
        {"POST", "/api/v1/users/{name}/password", HTTP_BODY | HTTP_ANY_ROLE | HTTP_PASSWORD_PENDING, h_user_password,
         .members = HTTP_NAMES("password", "current_password")},
        {"POST", "/api/v1/users/{name}/disable", HTTP_ADMIN, h_user_disable, .args = NULL},
        {"POST", "/api/v1/users/{name}/enable", HTTP_ADMIN, h_user_enable, .args = NULL},
        {"GET", "/api/v1/tokens", HTTP_ANY_ROLE, h_tokens_list, .args = HTTP_NAMES("all", "revoked")},
        {"POST", "/api/v1/tokens", HTTP_BODY | HTTP_ANY_ROLE, h_token_create,
         .members = HTTP_NAMES("name", "user", "expires_at")},
        {"DELETE", "/api/v1/tokens/{id}", HTTP_ANY_ROLE, h_token_revoke, .args = NULL},
};

int routes_users_register(http_server *s, api_ctx *ctx, sked_err *err) {
        return api_route_table(s, routes, sizeof routes / sizeof routes[0], ctx, err);
}

/* ---- the first start ---- */

typedef struct boot_op {
        const unsigned char *admin_hash;
        char password[25];
        char hash[PASSWORD_HASH_LEN];
        bool created;
} boot_op;

static int boot_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        boot_op *b = ctx;
        sked_time now = engine_now(e);
        int64_t n = 0;
        (void) ret_reply;
        int r = store_user_count(st, &n, err);
        if (r < 0 || n > 0)
                return r;
        user_row u = {.name = "admin", .role = "admin", .password_hash = b->hash, .must_change = true};
        if ((r = store_user_insert(st, &u, now, err)) < 0)
                return r;
        char hex[AUTH_HASH_LEN * 2 + 1];
        hash_hex(b->admin_hash, hex);
        if ((r = store_token_exists(st, hex, err)) < 0)
                return r;
        if (r == 0 && (r = store_token_insert(st, u.id, "admin token file", hex, 0, now, NULL, err)) < 0)
                return r;
        b->created = true;
        return 0;
}

int routes_users_bootstrap(engine *e, const unsigned char admin_hash[AUTH_HASH_LEN], char **ret_password,
                           sked_err *err) {
        boot_op b = {.admin_hash = admin_hash};
        *ret_password = NULL;
        store *st;
        int64_t n = 0;
        int r = engine_thread_store(e, &st, err);
        if (r < 0 || (r = store_user_count(st, &n, err)) < 0)
                return r;
        if (n > 0)
                return 0;
        password_random(b.password, sizeof b.password);
        if ((r = password_hash(b.password, b.hash)) < 0)
                return err_set(err, r, "cannot hash the first admin's password: %s", strerror(-r));
        /* several nodes of a cluster starting at once: the one that lost the race
         * finds the user made by another (-EEXIST) */
        if ((r = engine_write(e, boot_apply, &b, NULL, err)) < 0) {
                if (r == -EEXIST) {
                        *err = (sked_err){0};
                        r = 0;
                }
                goto out;
        }
        if (b.created && !(*ret_password = strdup(b.password)))
                r = err_set(err, -ENOMEM, "out of memory");
out:
        sodium_memzero(&b, sizeof b);
        return r;
}
