/* audit: see audit.h. */
#include "store/audit.h"

#include <errno.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

int store_audit_insert(store *s, const audit_entry *e, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO audit(at, actor, via, addr, method, path, change, before_state, after_state) "
                           "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_int(st, 1, e->at);
        db_bind_text(st, 2, e->actor);
        db_bind_text(st, 3, e->via);
        db_bind_text(st, 4, e->addr);
        db_bind_text(st, 5, e->method);
        db_bind_text(st, 6, e->path);
        db_bind_text(st, 7, e->change);
        db_bind_text(st, 8, e->before);
        db_bind_text(st, 9, e->after);
        return db_send(st, NULL, NULL, err);
}

/* column i's JSON text parsed, or null */
static json_t *json_col(db_stmt *st, int i) {
        const char *text = db_col_text(st, i);
        json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
        return v ? v : json_null();
}

static json_t *audit_json(db_stmt *st) {
        return json_pack("{s:I, s:I, s:s, s:s, s:s?, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t) db_col_int(st, 0),
                         "at", (json_int_t) db_col_int(st, 1), "actor", db_col_text(st, 2), "via", db_col_text(st, 3),
                         "addr", db_col_text(st, 4), "method", db_col_text(st, 5), "path", db_col_text(st, 6), "change",
                         json_col(st, 7), "before", json_col(st, 8), "after", json_col(st, 9));
}

JSON_SHAPE(audit_shape, audit_json);

int store_audit_list(store *s, const audit_filter *f, json_t **ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(
                s->d,
                "SELECT id, at, actor, via, addr, method, path, change, before_state, after_state FROM audit "
                "WHERE (CAST($1 AS TEXT) IS NULL OR actor = $1) "
                "AND (CAST($2 AS TEXT) IS NULL OR substr(path, 1, length($2)) = $2) "
                "AND (CAST($3 AS TEXT) IS NULL OR method = $3) "
                "AND at >= $4 AND (CAST($5 AS BIGINT) = 0 OR at < $5) AND (CAST($6 AS BIGINT) = 0 OR id < $6) "
                "ORDER BY id DESC LIMIT $7",
                &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, f->actor);
        db_bind_text(st, 2, f->path_prefix);
        db_bind_text(st, 3, f->method);
        db_bind_int(st, 4, f->since);
        db_bind_int(st, 5, f->until);
        db_bind_int(st, 6, f->before);
        db_bind_int(st, 7, f->limit);
        return json_read(st, &audit_shape, ret, err);
}
