/* api: the helpers every resource's routes share; see api.h. */
#include "api/api.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes_users.h"
#include "api/views.h"
#include "base/log.h"
#include "base/parse.h"
#include "engine/workflow.h"
#include "store/grants.h"
#include "store/occurrences.h"
#include "store/runs.h"
#include "store/series.h"
#include "store/types.h"
#include "store/users.h"
#include "store/workflows.h"

int api_route_table(http_server *s, const http_route_def *defs, size_t n, api_ctx *ctx, sked_err *err) {
        for (size_t i = 0; i < n; i++) {
                int r = http_route_table(s, &defs[i], 1, ctx);
                if (r < 0)
                        return err_set(err, r, "cannot register route %s %s", defs[i].method, defs[i].pattern);
        }
        return 0;
}

int api_status_of(int r) {
        switch (r) {
        case -ENOENT:
                return 404;
        case -ESTALE:
                return 412;
        case -EEXIST:
                return 409;
        case -E2BIG:
                return 413;
        case -EINVAL:
        case -ERANGE:
        case -EDOM:
                return 400;
        case -ENOSPC:
                return 507; /* the store's file system is full */
        case -EROFS:        /* the store is read-only */
        case -ECONNRESET:   /* the database connection broke; sked reconnects */
                return 503;
        case -EACCES:
                return 403;
        default:
                return 500;
        }
}

int api_reply_err(http_req *req, int r, const sked_err *err) {
        const char *msg = err->msg[0] ? err->msg : strerror(-r);
        if (r == -ENOSPC || r == -EROFS) {
                /* nothing of the request was kept; it can be sent again once the operator
                 * freed space or made the data directory writable */
                http_add_header(req, "Retry-After", "10");
                http_reply_problem(req, api_status_of(r), NULL, "%s: %s; nothing was changed, try again later", msg,
                                   r == -ENOSPC ? "the store's file system is full"
                                                : "the store cannot be written (read-only data directory or database)");
                return 0;
        }
        if (r == -ECONNRESET) {
                http_add_header(req, "Retry-After", "1");
                http_reply_problem(req, 503, NULL,
                                   "%s; sked reconnects by itself: send the request again (a change that was being "
                                   "committed as the connection broke may have been made: look first)",
                                   msg);
                return 0;
        }
        http_reply_problem(req, api_status_of(r), err->field[0] ? err->field : NULL, "%s", msg);
        return 0;
}

int api_get_store(engine *e, http_req *req, store **ret) {
        sked_err err = {0};
        int r = engine_thread_store(e, ret, &err);
        if (r < 0)
                http_reply_problem(req, 503, NULL, "store unavailable: %s", err.msg);
        return r;
}

/* ---- writes: each goes through the loop (engine_write), in its own savepoint of
 * a turn's transaction; the reply leaves once that turn committed.  The *_apply
 * functions run on the loop thread with its connection: they only call the
 * engine and fill their context; the reply is built here, on the HTTP thread. */

/* A write refused because the loop's queue is full, or the engine stops: 503. */
int api_reply_write_err(http_req *req, int r, const sked_err *err) {
        if (r == -EBUSY || r == -ESHUTDOWN) {
                http_add_header(req, "Retry-After", "1");
                http_reply_problem(req, 503, NULL, "%s", err->msg[0] ? err->msg : strerror(-r));
                return 0;
        }
        return api_reply_err(req, r, err);
}

/* A write in flight: the connection is suspended (http_defer) while the loop runs
 * it, so that 4 HTTP threads keep many writes in one turn; `op` is the operation's
 * context (copied here), which *_apply fills and `ok` replies from. */
typedef struct write_job {
        engine *e;
        http_req *req;
        engine_write_fn fn;
        char *actor, *via, *addr, *method, *path, *change; /* the audit entry (store/audit.h) */
        unsigned flags;                                    /* engine_write_async's */
        int (*ok)(http_req *req, void *op);
        void (*clear)(void *op); /* frees op's outputs after a failure */
        int result;
        sked_err err;
        _Alignas(max_align_t) unsigned char op[];
} write_job;

/* on the loop thread, after the turn: only wakes the connection */
static void job_done(void *ud, int result, json_t *reply, const sked_err *err) {
        write_job *job = ud;
        json_decref(reply); /* the ops fill their context instead */
        job->result = result;
        if (result < 0 && err)
                job->err = *err;
        http_resume(job->req);
}

/* ---- the audit log's before and after ---- */

/* The feature `name` as GET /api/v1/features lists it, or json null. */
static json_t *feature_state(store *st, const char *name) {
        json_t *list = NULL, *f, *found = NULL;
        size_t i;
        sked_err err = {0};
        if (store_features_list(st, &list, &err) < 0)
                return NULL;
        json_array_foreach(list, i, f) {
                if (!strcmp(json_string_value(json_object_get(f, "name")) ?: "", name))
                        found = json_incref(f);
        }
        json_decref(list);
        return found ? found : json_null();
}

/* The one-off change of occurrence (series, nominal text of the path), or json null. */
static json_t *occurrence_state(store *st, int64_t series, const char *text) {
        sked_time nominal;
        int64_t n;
        if (time_parse_utc(text, &nominal) < 0) {
                if (parse_int64(text, INT64_MIN + 1, INT64_MAX, &n) < 0)
                        return NULL;
                nominal = n;
        }
        exception_row x = {0};
        sked_err err = {0};
        int r = store_exception_get(st, series, nominal, &x, &err);
        if (r == -ENOENT)
                return json_null();
        if (r < 0)
                return NULL;
        /* in the members of PATCH .../occurrences/{nominal} */
        json_t *o = json_pack("{s:I, s:b, s:O?, s:s?}", "series_id", (json_int_t) series, "enabled", !x.disabled,
                              "params", x.params, "note", x.note);
        view_set_instant(o, "nominal", nominal);
        if (x.moved_to)
                view_set_instant(o, "start", x.moved_to);
        else
                json_object_set_new(o, "start", json_null());
        exception_row_clear(&x);
        return o;
}

/* The resource a write's path names, as its GET shows it, read in the write's own
 * savepoint (before the change, and after): NULL when the path names none whose
 * state is recorded (a create, a trigger, a login), json null when it does not exist
 * (any more). */
static json_t *audit_state(engine *e, store *st, const char *path) {
        char buf[256], *seg[6], *save = NULL;
        size_t n = 0;
        if (strncmp(path, "/api/v1/", 8) || strlen(path + 8) >= sizeof buf)
                return NULL;
        snprintf(buf, sizeof buf, "%s", path + 8);
        for (char *t = strtok_r(buf, "/", &save); t && n < 6; t = strtok_r(NULL, "/", &save))
                seg[n++] = t;
        if (n < 2)
                return NULL;
        int64_t id = 0;
        bool numeric = parse_int64(seg[1], 1, INT64_MAX, &id) == 0;
        sked_err err = {0};
        int r = 0;
        json_t *out = NULL;
        if (!strcmp(seg[0], "series") && numeric && n == 4 && !strcmp(seg[2], "occurrences")) {
                out = occurrence_state(st, id, seg[3]);
        } else if (!strcmp(seg[0], "series") && numeric &&
                   (n == 2 || (n == 3 && (!strcmp(seg[2], "pause") || !strcmp(seg[2], "resume"))))) {
                series_row row = {0};
                r = store_series_get(st, id, &row, &err);
                out = r == 0 ? view_series(&row) : NULL;
                series_row_clear(&row);
        } else if (!strcmp(seg[0], "runs") && numeric && n == 3) {
                run_row row = {0};
                r = store_run_get(st, id, &row, &err);
                out = r == 0 ? view_run(&row) : NULL;
                run_row_clear(&row);
        } else if (!strcmp(seg[0], "instances") && numeric && n == 3) {
                instance_row row = {0};
                r = store_instance_get(st, id, &row, &err);
                out = r == 0 ? engine_instance_json(&row) : NULL;
                instance_row_clear(&row);
        } else if (!strcmp(seg[0], "users") && n == 3 && !strcmp(seg[2], "grants")) {
                r = store_grants_get(st, seg[1], &out, &err);
                return r == -ENOENT ? json_null() : r < 0 ? NULL : out;
        } else if (!strcmp(seg[0], "users") && n <= 3) {
                user_row row = {0};
                r = store_user_get(st, seg[1], &row, &err); /* 1: found, 0: none */
                out = r > 0 ? routes_users_view(&row) : r == 0 ? json_null() : NULL;
                user_row_clear(&row);
                return out;
        } else if (!strcmp(seg[0], "features") && n == 3) {
                return feature_state(st, seg[1]);
        } else {
                return NULL;
        }
        (void) e;
        return r == -ENOENT ? json_null() : out;
}

/* v as JSON text (NULL for NULL), and v released */
static char *state_text(json_t *v) {
        char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(v);
        return s;
}

/* job's audit entry, at the loop's now */
static int audit_write(engine *e, store *st, const write_job *job, const char *before, const char *after,
                       sked_err *err) {
        audit_entry a = {.at = engine_now(e),
                         .actor = job->actor,
                         .via = job->via,
                         .addr = job->addr,
                         .method = job->method,
                         .path = job->path,
                         .change = job->change,
                         .before = before,
                         .after = after};
        return store_audit_insert(st, &a, err);
}

/* on the loop thread: the write, then its audit entry in the same savepoint (or
 * pipeline): both stay, or neither.  Before and after are read around the write,
 * except in a blind one (a pipeline sends, it cannot read). */
static int audited_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        write_job *job = ctx;
        bool states = !(job->flags & ENGINE_WRITE_BLIND);
        char *before = states ? state_text(audit_state(e, st, job->path)) : NULL;
        int r = job->fn(e, st, job->op, ret_reply, err);
        if (r >= 0) {
                char *after = states && before ? state_text(audit_state(e, st, job->path)) : NULL;
                r = audit_write(e, st, job, before, after, err);
                free(after);
        }
        free(before);
        return r;
}

static void job_start(http_req *req, void *ud) {
        write_job *job = ud;
        job->req = req;
        engine_write_async(job->e, audited_apply, job, job->flags, job_done, job);
}

static void job_free(write_job *job) {
        free(job->actor);
        free(job->via);
        free(job->addr);
        free(job->method);
        free(job->path);
        free(job->change);
        free(job);
}

/* Members whose values are secrets: never written to the audit log. */
static bool secret_key(const char *k) {
        static const char *const secrets[] = {"password", "current_password", "token", "secret",
                                              "code",     "recovery_code"};
        for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
                if (!strcmp(k, secrets[i]))
                        return true;
        return false;
}

/* v without its secrets (a deep copy, the secret members' values replaced). */
static json_t *without_secrets(json_t *v) {
        if (json_is_object(v)) {
                json_t *o = json_object(), *x;
                const char *k;
                json_object_foreach(v, k, x) {
                        json_object_set_new(o, k, secret_key(k) ? json_string("(secret)") : without_secrets(x));
                }
                return o;
        }
        if (json_is_array(v)) {
                json_t *a = json_array(), *x;
                size_t i;
                json_array_foreach(v, i, x) {
                        json_array_append_new(a, without_secrets(x));
                }
                return a;
        }
        return json_deep_copy(v);
}

/* Who, from where, what: the audit entry of the write req asks for. */
static int job_audit(write_job *job, http_req *req) {
        const http_principal *p = http_principal_of(req);
        json_t *body = http_body_json(req);
        job->actor = strdup(p ? p->name : "-");
        job->via = strdup(!p ? "none" : p->session_id ? "session" : "token");
        job->addr = strdup(http_client_addr(req));
        job->method = strdup(http_method(req));
        job->path = strdup(http_path(req));
        if (body) {
                json_t *clean = without_secrets(body);
                job->change = json_dumps(clean, JSON_COMPACT);
                json_decref(clean);
        }
        return job->actor && job->via && job->addr && job->method && job->path && (!body || job->change) ? 0 : -ENOMEM;
}

static int job_reply(http_req *req, void *ud) {
        write_job *job = ud;
        int r = 0;
        if (job->result < 0) {
                job->clear(job->op);
                api_reply_write_err(req, job->result, &job->err);
        } else {
                r = job->ok(req, job->op);
        }
        job_free(job);
        return r;
}

/* Runs fn(op) through the loop and replies with ok(op) once its turn committed. */
int api_write_through_loop(http_req *req, engine *e, engine_write_fn fn, unsigned flags, const void *op, size_t size,
                           int (*ok)(http_req *, void *), void (*clear)(void *)) {
        write_job *job = calloc(1, sizeof *job + size);
        if (!job) {
                http_reply_problem(req, 503, NULL, "out of memory");
                return 0;
        }
        *job = (write_job){.e = e, .fn = fn, .flags = flags, .ok = ok, .clear = clear};
        memcpy(job->op, op, size);
        if (job_audit(job, req) < 0) {
                job_free(job);
                http_reply_problem(req, 503, NULL, "out of memory");
                return 0;
        }
        http_defer(req, job_start, job_reply, job);
        return 0;
}

/* Parses an integer query argument (or path parameter); replies 400 on junk. */
int api_int_arg(http_req *req, const char *name, const char *v, int64_t def, int64_t min, int64_t max, int64_t *ret) {
        if (!v || !*v) {
                *ret = def;
                return 0;
        }
        int64_t n;
        if (parse_int64(v, min, max, &n) < 0) {
                http_reply_problem(req, 400, name, "%s: \"%s\": expected an integer from %lld to %lld", name, v,
                                   (long long) min, (long long) max);
                return -EINVAL;
        }
        *ret = n;
        return 0;
}

int api_id_param(http_req *req, int64_t *ret) {
        return api_int_arg(req, "id", http_param(req, "id"), 0, 1, INT64_MAX, ret);
}

int api_instant_arg(http_req *req, const char *name, sked_time def, sked_time *ret) {
        const char *v = http_query(req, name);
        if (!v || !*v) {
                *ret = def;
                return 0;
        }
        if (time_parse_utc(v, ret) < 0) {
                http_reply_problem(req, 400, name, "%s: \"%s\": expected a UTC instant YYYY-MM-DDTHH:MM:SSZ", name, v);
                return -EINVAL;
        }
        return 0;
}

int api_bool_arg(http_req *req, const char *name, bool *ret) {
        static const char *const yes[] = {"true", "1", "yes"}, *const no[] = {"false", "0", "no", ""};
        const char *v = http_query(req, name);
        for (size_t i = 0; v && i < sizeof yes / sizeof yes[0]; i++)
                if (!strcmp(v, yes[i])) {
                        *ret = true;
                        return 0;
                }
        bool off = !v;
        for (size_t i = 0; v && i < sizeof no / sizeof no[0]; i++)
                off |= !strcmp(v, no[i]);
        if (!off) {
                http_reply_problem(req, 400, name, "%s: \"%s\": expected true or false", name, v);
                return -EINVAL;
        }
        *ret = false;
        return 0;
}

int api_if_match(http_req *req, int64_t *ret) {
        const char *v = http_header(req, "If-Match");
        if (!v || !strcmp(v, "*")) {
                *ret = 0;
                return 0;
        }
        /* one strong entity-tag: DQUOTE digits DQUOTE, the form of sked's ETags */
        size_t len = strlen(v);
        char digits[24];
        int64_t n;
        if (len >= 3 && len - 2 < sizeof digits && v[0] == '"' && v[len - 1] == '"' &&
            strspn(v + 1, "0123456789") == len - 2) {
                memcpy(digits, v + 1, len - 2);
                digits[len - 2] = '\0';
                if (parse_int64(digits, 1, INT64_MAX, &n) == 0) {
                        *ret = n;
                        return 0;
                }
        }
        http_reply_problem(req, 400, "If-Match",
                           "If-Match: expected the series' ETag, like \"3\" (quoted, as the ETag header gives it), "
                           "or *%s",
                           !strncmp(v, "W/", 2) ? "; a weak ETag never matches" : "");
        return -EINVAL;
}

void api_set_etag(http_req *req, int64_t version) {
        char tag[32];
        snprintf(tag, sizeof tag, "\"%lld\"", (long long) version);
        http_add_header(req, "ETag", tag);
}

static int audit_only_apply(engine *e, store *st, void *ctx, json_t **ret_reply, sked_err *err) {
        (void) ret_reply;
        return audit_write(e, st, ctx, NULL, NULL, err);
}

int api_audit_after(http_req *req, engine *e) {
        write_job *job = calloc(1, sizeof *job);
        if (!job)
                return -ENOMEM;
        int r = job_audit(job, req);
        sked_err err = {0};
        if (r == 0)
                r = engine_write(e, audit_only_apply, job, NULL, &err);
        if (r < 0)
                log_error("audit: %s %s: the change is made but its entry was not written: %s", job->method, job->path,
                          err.msg[0] ? err.msg : strerror(-r));
        job_free(job);
        return r;
}

const char *api_owner_limit(http_req *req) {
        const http_principal *p = http_principal_of(req);
        return p && p->role == HTTP_ROLE_OPERATOR ? p->name : NULL;
}

int api_series_owned(store *st, int64_t id, const char *limit, sked_err *err) {
        if (!limit)
                return 0;
        series_row row = {0};
        int r = store_series_get(st, id, &row, err);
        if (r < 0)
                return r;
        bool mine = row.owner && !strcmp(row.owner, limit);
        if (!mine) /* or an admin granted its type, or its feature */
                r = store_grant_covers(st, limit, row.type, &mine, err);
        series_row_clear(&row);
        if (r < 0)
                return r;
        return mine ? 0
                    : err_field(err, -EACCES, "id",
                                "series %lld is not yours: operators change the series they own, and those of "
                                "the types and features an admin granted them (its owner is another user or "
                                "none); ask an admin",
                                (long long) id);
}
