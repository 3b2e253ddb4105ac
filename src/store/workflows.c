/* workflows: see workflows.h. */
#include "store/workflows.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

/* ---- definitions ---- */

int store_workflow_put(store *s, const char *name, const char *mode, const char *definition, sked_time now,
                       int64_t *ret_version, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO workflows(name, version, mode, definition, created_at) "
                           "SELECT CAST($1 AS TEXT), COALESCE(MAX(version), 0) + 1, CAST($2 AS TEXT), "
                           "CAST($3 AS TEXT), CAST($4 AS BIGINT) FROM workflows WHERE name = $1 RETURNING version",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, name);
        db_bind_text(st, 2, mode);
        db_bind_text(st, 3, definition);
        db_bind_int(st, 4, now);
        int64_t v = 0;
        if ((r = row_read(st, &id_shape, &v, err)) < 0)
                return r;
        if (r == 0 || v <= 0)
                return err_set(err, -EIO, "database: insert returned no version");
        *ret_version = v;
        return 0;
}

typedef struct def_col {
        char *text;
        int64_t version;
} def_col;

static void def_decode(db_stmt *st, void *elem) {
        def_col *d = elem;
        d->text = dup_or_null(db_col_text(st, 0));
        d->version = db_col_int(st, 1);
}

static void def_clear(void *elem) {
        free(((def_col *) elem)->text);
}

static const row_shape def_shape = {sizeof(def_col), def_decode, def_clear};

int store_workflow_get(store *s, const char *name, int64_t version, char **ret_definition, int64_t *ret_version,
                       sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT definition, version FROM workflows WHERE name = $1 AND "
                           "(version = $2 OR ($2 = 0 AND version = (SELECT MAX(version) FROM workflows WHERE name = "
                           "$1)))",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, name);
        db_bind_int(st, 2, version);
        def_col d = {0};
        if ((r = row_read(st, &def_shape, &d, err)) < 0)
                return r;
        if (r == 0) {
                if (version)
                        return err_field(err, -ENOENT, "workflow", "\"%s\": no version %lld", name,
                                         (long long) version);
                return err_field(err, -ENOENT, "workflow", "\"%s\": no such workflow", name);
        }
        if (!d.text)
                return err_set(err, -ENOMEM, "out of memory");
        *ret_definition = d.text;
        if (ret_version)
                *ret_version = d.version;
        return 0;
}

static json_t *workflow_json(db_stmt *st) {
        json_t *def = json_loads(db_col_text(st, 3), 0, NULL);
        json_t *title = def ? json_object_get(def, "title") : NULL;
        json_t *o = json_pack("{s:s, s:I, s:s, s:O?, s:I, s:I, s:I}", "name", db_col_text(st, 0), "version",
                              (json_int_t) db_col_int(st, 1), "mode", db_col_text(st, 2), "title",
                              json_is_string(title) ? title : NULL, "created_at", (json_int_t) db_col_int(st, 4),
                              "updated_at", (json_int_t) db_col_int(st, 5), "versions", (json_int_t) db_col_int(st, 1));
        json_decref(def);
        return o;
}

JSON_SHAPE(workflow_shape, workflow_json);

int store_workflows_list(store *s, json_t **ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT w.name, w.version, w.mode, w.definition, "
                           "(SELECT MIN(created_at) FROM workflows f WHERE f.name = w.name), w.created_at "
                           "FROM workflows w WHERE w.version = (SELECT MAX(version) FROM workflows m WHERE m.name = "
                           "w.name) ORDER BY w.name",
                           &st, err);
        if (r < 0)
                return r;
        return json_read(st, &workflow_shape, ret, err);
}

static json_t *version_json(db_stmt *st) {
        json_t *def = json_loads(db_col_text(st, 2), 0, NULL);
        return json_pack("{s:I, s:I, s:o?}", "version", (json_int_t) db_col_int(st, 0), "created_at",
                         (json_int_t) db_col_int(st, 1), "definition", def);
}

JSON_SHAPE(version_shape, version_json);

int store_workflow_versions(store *s, const char *name, int limit, json_t **ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT version, created_at, definition FROM workflows WHERE name = $1 "
                           "ORDER BY version DESC LIMIT $2",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, name);
        db_bind_int(st, 2, limit);
        return json_read(st, &version_shape, ret, err);
}

/* ---- instances ---- */

void instance_row_clear(instance_row *r) {
        if (!r)
                return;
        free(r->workflow);
        free(r->status);
        free(r->reason);
        free(r->input);
        free(r->vars);
        free(r->steps);
        free(r->position);
        free(r->wait_kind);
        free(r->wait_signal);
        memset(r, 0, sizeof *r);
}

void instance_rows_free(instance_row *rows, size_t n) {
        for (size_t i = 0; i < n; i++)
                instance_row_clear(&rows[i]);
        free(rows);
}

#define INSTANCE_COLS                                                                                                  \
        "id, workflow, version, status, reason, input, vars, steps, position, wait_kind, wait_signal, wait_run, "      \
        "wait_until, timeout_at, due_at, transitions, journal_seq, created_at, updated_at, ended_at"

static void instance_decode(db_stmt *st, void *elem) {
        instance_row *r = elem;
        memset(r, 0, sizeof *r);
        r->id = db_col_int(st, 0);
        r->workflow = dup_or_null(db_col_text(st, 1));
        r->version = db_col_int(st, 2);
        r->status = dup_or_null(db_col_text(st, 3));
        r->reason = dup_or_null(db_col_text(st, 4));
        r->input = dup_or_null(db_col_text(st, 5));
        r->vars = dup_or_null(db_col_text(st, 6));
        r->steps = dup_or_null(db_col_text(st, 7));
        r->position = dup_or_null(db_col_text(st, 8));
        r->wait_kind = dup_or_null(db_col_text(st, 9));
        r->wait_signal = dup_or_null(db_col_text(st, 10));
        r->wait_run = db_col_int(st, 11);
        r->wait_until = db_col_int(st, 12);
        r->timeout_at = db_col_int(st, 13);
        r->due_at = db_col_int(st, 14);
        r->transitions = db_col_int(st, 15);
        r->journal_seq = db_col_int(st, 16);
        r->created_at = db_col_int(st, 17);
        r->updated_at = db_col_int(st, 18);
        r->ended_at = db_col_int(st, 19);
}

static void instance_clear(void *elem) {
        instance_row_clear(elem);
}

static const row_shape instance_shape = {sizeof(instance_row), instance_decode, instance_clear};

/* binds the mutable fields at $first.. (status .. ended_at: 15 values) */
static void bind_state(db_stmt *st, int first, const instance_row *r) {
        db_bind_text(st, first, r->status);
        db_bind_text(st, first + 1, r->reason);
        db_bind_text(st, first + 2, r->vars ? r->vars : "{}");
        db_bind_text(st, first + 3, r->steps ? r->steps : "{}");
        db_bind_text(st, first + 4, r->position ? r->position : "");
        db_bind_text(st, first + 5, r->wait_kind);
        db_bind_text(st, first + 6, r->wait_signal);
        db_bind_int_or_null(st, first + 7, r->wait_run, r->wait_run == 0);
        db_bind_int_or_null(st, first + 8, r->wait_until, r->wait_until == 0);
        db_bind_int_or_null(st, first + 9, r->timeout_at, r->timeout_at == 0);
        db_bind_int_or_null(st, first + 10, r->due_at, r->due_at == 0);
        db_bind_int(st, first + 11, r->transitions);
        db_bind_int(st, first + 12, r->journal_seq);
        db_bind_int(st, first + 13, r->updated_at);
        db_bind_int_or_null(st, first + 14, r->ended_at, r->ended_at == 0);
}

int store_instance_insert(store *s, instance_row *r, sked_err *err) {
#define INSTANCE_INSERT                                                                                                \
        "INSERT INTO instances(workflow, version, input, created_at, status, reason, vars, steps, position, "          \
        "wait_kind, wait_signal, wait_run, wait_until, timeout_at, due_at, transitions, journal_seq, updated_at, "     \
        "ended_at) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        static const char *const sql_sqlite = INSTANCE_INSERT;
        static const char *const sql_pg = INSTANCE_INSERT " RETURNING id";
#undef INSTANCE_INSERT
        bool pg = db_dialect(s->d) == DB_POSTGRES;
        db_stmt *st;
        int rc = db_prepare(s->d, pg ? sql_pg : sql_sqlite, &st, err);
        if (rc < 0)
                return rc;
        db_bind_text(st, 1, r->workflow);
        db_bind_int(st, 2, r->version);
        db_bind_text(st, 3, r->input ? r->input : "{}");
        db_bind_int(st, 4, r->created_at);
        bind_state(st, 5, r);
        int64_t id = 0;
        if ((rc = row_read(st, &id_shape, &id, err)) < 0)
                return rc;
        r->id = pg ? id : db_last_insert_id(s->d);
        if (r->id <= 0)
                return err_set(err, -EIO, "database: insert returned no id");
        return 0;
}

int store_instance_get(store *s, int64_t id, instance_row *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT " INSTANCE_COLS " FROM instances WHERE id = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        if ((r = row_read(st, &instance_shape, ret, err)) < 0)
                return r;
        if (r == 0)
                return err_field(err, -ENOENT, "id", "%lld: no such instance", (long long) id);
        return 0;
}

int store_instance_lock(store *s, int64_t id, instance_row *ret, sked_err *err) {
        static const char *const sql_sqlite = "SELECT " INSTANCE_COLS " FROM instances WHERE id = $1";
        static const char *const sql_pg = "SELECT " INSTANCE_COLS " FROM instances WHERE id = $1 FOR UPDATE";
        db_stmt *st;
        int r = db_prepare(s->d, db_dialect(s->d) == DB_POSTGRES ? sql_pg : sql_sqlite, &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        if ((r = row_read(st, &instance_shape, ret, err)) < 0)
                return r;
        if (r == 0)
                return err_field(err, -ENOENT, "id", "%lld: no such instance", (long long) id);
        return 0;
}

static int changed(store *s, db_stmt *st, bool *ret_changed, sked_err *err) {
        int r = db_run(st, err);
        if (r < 0)
                return r;
        *ret_changed = db_changes(s->d) == 1;
        return 0;
}

int store_instance_pause(store *s, int64_t id, sked_time now, bool *ret_changed, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE instances SET status = 'paused', due_at = NULL, updated_at = $2 "
                           "WHERE id = $1 AND status IN ('queued', 'running', 'waiting')",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, now);
        return changed(s, st, ret_changed, err);
}

int store_instance_resume(store *s, int64_t id, sked_time now, bool *ret_changed, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE instances SET status = CASE WHEN wait_kind IN ('timer', 'signal') THEN 'waiting' "
                           "WHEN position = '' THEN 'queued' ELSE 'running' END, due_at = $2, updated_at = $2 "
                           "WHERE id = $1 AND status = 'paused'",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, now);
        return changed(s, st, ret_changed, err);
}

int store_instance_cancel(store *s, int64_t id, const char *reason, sked_time now, bool *ret_changed, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE instances SET status = 'canceled', reason = $2, due_at = NULL, wait_kind = NULL, "
                           "wait_signal = NULL, wait_run = NULL, wait_until = NULL, timeout_at = NULL, "
                           "updated_at = $3, ended_at = $3 "
                           "WHERE id = $1 AND status IN ('queued', 'running', 'waiting', 'paused')",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_text(st, 2, reason);
        db_bind_int(st, 3, now);
        return changed(s, st, ret_changed, err);
}

int store_instance_signal_wake(store *s, int64_t id, const char *name, sked_time now, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE instances SET due_at = $3 WHERE id = $1 AND status = 'waiting' AND "
                           "wait_kind = 'signal' AND wait_signal = $2 AND (due_at IS NULL OR due_at > $3)",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_text(st, 2, name);
        db_bind_int(st, 3, now);
        return db_run(st, err);
}

int store_instance_delay(store *s, int64_t id, sked_time at, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "UPDATE instances SET due_at = $2 WHERE id = $1 AND due_at IS NOT NULL", &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, id);
        db_bind_int(st, 2, at);
        return db_run(st, err);
}

int store_instance_update(store *s, const instance_row *r, sked_err *err) {
        db_stmt *st;
        int rc = db_prepare(s->d,
                            "UPDATE instances SET status = $2, reason = $3, vars = $4, steps = $5, position = $6, "
                            "wait_kind = $7, wait_signal = $8, wait_run = $9, wait_until = $10, timeout_at = $11, "
                            "due_at = $12, transitions = $13, journal_seq = $14, updated_at = $15, ended_at = $16 "
                            "WHERE id = $1",
                            &st, err);
        if (rc < 0)
                return rc;
        db_bind_int(st, 1, r->id);
        bind_state(st, 2, r);
        if ((rc = db_run(st, err)) < 0)
                return rc;
        if (db_changes(s->d) != 1)
                return err_field(err, -ENOENT, "id", "%lld: no such instance", (long long) r->id);
        return 0;
}

int store_instances_list(store *s, const instance_filter *f, instance_row **ret, size_t *ret_n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT " INSTANCE_COLS " FROM instances WHERE "
                           "(CAST($1 AS TEXT) IS NULL OR workflow = $1) AND (CAST($2 AS TEXT) IS NULL OR status = $2) "
                           "AND ($3 = 0 OR id < $3) ORDER BY id DESC LIMIT $4",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, f->workflow);
        db_bind_text(st, 2, f->status);
        db_bind_int(st, 3, f->before_id);
        db_bind_int(st, 4, f->limit > 0 ? f->limit : 100);
        return rows_read(st, &instance_shape, ret, ret_n, err);
}

int store_instances_due(store *s, sked_time now, int limit, int64_t **ret_ids, size_t *ret_n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT id FROM instances WHERE due_at IS NOT NULL AND due_at <= $1 "
                           "ORDER BY due_at, id LIMIT $2",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, now);
        db_bind_int(st, 2, limit);
        return rows_read(st, &id_shape, ret_ids, ret_n, err);
}

int store_instances_next_due(store *s, sked_time *ret, bool *ret_any, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT MIN(due_at) FROM instances WHERE due_at IS NOT NULL", &st, err);
        if (r < 0)
                return r;
        int_col v = {.null = true};
        if ((r = row_read(st, &int_shape, &v, err)) < 0)
                return r;
        *ret_any = r == 1 && !v.null;
        *ret = *ret_any ? v.v : 0;
        return 0;
}

int store_instances_wake_run(store *s, int64_t run_id, sked_time now, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE instances SET due_at = $2 WHERE wait_run = $1 AND status = 'running' "
                           "AND (due_at IS NULL OR due_at > $2)",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, run_id);
        db_bind_int(st, 2, now);
        return db_run(st, err);
}

int store_instances_wake_ended_runs(store *s, sked_time now, int64_t *ret_n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "UPDATE instances SET due_at = $1 WHERE wait_run IS NOT NULL AND status = 'running' "
                           "AND (due_at IS NULL OR due_at > $1) AND EXISTS (SELECT 1 FROM runs r WHERE r.id = "
                           "instances.wait_run AND r.state NOT IN ('queued', 'running'))",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, now);
        if ((r = db_run(st, err)) < 0)
                return r;
        if (ret_n)
                *ret_n = db_changes(s->d);
        return 0;
}

/* ---- the journal ---- */

int store_journal_add(store *s, int64_t instance_id, int64_t seq, const journal_entry *e, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO instance_journal(instance_id, seq, at, step, path, kind, outcome, detail, "
                           "run_id) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, instance_id);
        db_bind_int(st, 2, seq);
        db_bind_int(st, 3, e->at);
        db_bind_text(st, 4, e->step);
        db_bind_text(st, 5, e->path);
        db_bind_text(st, 6, e->kind);
        db_bind_text(st, 7, e->outcome);
        db_bind_text(st, 8, e->detail);
        db_bind_int_or_null(st, 9, e->run_id, e->run_id == 0);
        return db_run(st, err);
}

static json_t *journal_json(db_stmt *st) {
        json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s}", "seq", (json_int_t) db_col_int(st, 0), "at",
                              (json_int_t) db_col_int(st, 1), "step", db_col_text(st, 2), "path", db_col_text(st, 3),
                              "kind", db_col_text(st, 4), "outcome", db_col_text(st, 5));
        if (o)
                json_object_set_new(o, "detail", db_col_null(st, 6) ? json_null() : json_string(db_col_text(st, 6)));
        if (o)
                json_object_set_new(o, "run_id", db_col_null(st, 7) ? json_null() : json_integer(db_col_int(st, 7)));
        return o;
}

JSON_SHAPE(journal_shape, journal_json);

int store_journal_list(store *s, int64_t instance_id, int64_t after, int limit, json_t **ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT seq, at, step, path, kind, outcome, detail, run_id FROM instance_journal "
                           "WHERE instance_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, instance_id);
        db_bind_int(st, 2, after);
        db_bind_int(st, 3, limit);
        return json_read(st, &journal_shape, ret, err);
}

/* ---- signals ---- */

int store_signal_add(store *s, int64_t instance_id, const char *name, const char *data, sked_time at, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "INSERT INTO instance_signals(instance_id, name, data, at) VALUES($1, $2, $3, $4)",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, instance_id);
        db_bind_text(st, 2, name);
        db_bind_text(st, 3, data);
        db_bind_int(st, 4, at);
        return db_run(st, err);
}

typedef struct signal_col {
        int64_t id;
        char *data;
        sked_time at;
} signal_col;

static void signal_decode(db_stmt *st, void *elem) {
        signal_col *c = elem;
        c->id = db_col_int(st, 0);
        c->data = dup_or_null(db_col_text(st, 1));
        c->at = db_col_int(st, 2);
}

static void signal_clear(void *elem) {
        free(((signal_col *) elem)->data);
}

static const row_shape signal_shape = {sizeof(signal_col), signal_decode, signal_clear};

int store_signal_take(store *s, int64_t instance_id, const char *name, bool *ret_found, char **ret_data,
                      sked_time *ret_at, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT id, data, at FROM instance_signals WHERE instance_id = $1 AND name = $2 "
                           "ORDER BY id LIMIT 1",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, instance_id);
        db_bind_text(st, 2, name);
        signal_col c = {0};
        if ((r = row_read(st, &signal_shape, &c, err)) < 0)
                return r;
        if (r == 0) {
                *ret_found = false;
                return 0;
        }
        if ((r = db_prepare(s->d, "DELETE FROM instance_signals WHERE id = $1", &st, err)) < 0) {
                free(c.data);
                return r;
        }
        db_bind_int(st, 1, c.id);
        if ((r = db_run(st, err)) < 0) {
                free(c.data);
                return r;
        }
        *ret_found = true;
        *ret_data = c.data;
        *ret_at = c.at;
        return 0;
}
