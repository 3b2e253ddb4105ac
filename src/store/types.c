/* types: see types.h. */
#include "store/types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

int store_type_usage(store *s, const char *name, int64_t *ret_series, int64_t *ret_unfinished, sked_err *err) {
        static const char *const sql[] = {
                "SELECT count(*) FROM series WHERE type = $1",
                "SELECT count(*) FROM runs WHERE type = $1 AND state IN ('queued', 'running')",
        };
        int64_t n[2] = {0, 0};
        for (size_t i = 0; i < 2; i++) {
                db_stmt *st;
                int r = db_prepare(s->d, sql[i], &st, err);
                if (r < 0)
                        return r;
                db_bind_text(st, 1, name);
                int_col c = {0, true};
                if ((r = row_read(st, &int_shape, &c, err)) < 0)
                        return r;
                n[i] = c.v;
        }
        *ret_series = n[0];
        *ret_unfinished = n[1];
        return 0;
}

int store_type_series(store *s, const char *name, int limit, int64_t **ret, size_t *ret_n, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT id FROM series WHERE type = $1 ORDER BY id LIMIT $2", &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, name);
        db_bind_int(st, 2, limit);
        return rows_read(st, &id_shape, ret, ret_n, err);
}

int store_type_delete(store *s, const char *name, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "DELETE FROM types WHERE name = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, name);
        if ((r = db_run(st, err)) < 0)
                return r;
        return db_changes(s->d) == 1 ? 0 : err_field(err, -ENOENT, "name", "\"%s\": no such process type", name);
}

int store_type_put(store *s, const char *name, bool background, const char *feature, const char *definition,
                   sked_time now, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO types(name, background, feature, definition, created_at, updated_at) "
                           "VALUES($1, $2, $3, $4, $5, $5) ON CONFLICT(name) DO UPDATE SET "
                           "background = excluded.background, feature = excluded.feature, "
                           "definition = excluded.definition, updated_at = excluded.updated_at",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, name);
        db_bind_int(st, 2, background);
        db_bind_text(st, 3, feature);
        db_bind_text(st, 4, definition);
        db_bind_int(st, 5, now);
        if ((r = db_run(st, err)) < 0)
                return r;
        /* the type may have moved to (or out of) a disabled feature */
        if ((r = db_prepare(s->d,
                            "UPDATE series SET feature_on = " FEATURE_ON_OF_TYPE(
                                    "$1") " WHERE type = $1 AND "
                                          "feature_on <> " FEATURE_ON_OF_TYPE("$1"),
                            &st, err)) < 0)
                return r;
        db_bind_text(st, 1, name);
        return db_run(st, err);
}

static json_t *type_row(db_stmt *st) {
        return json_loads(db_col_text(st, 0), 0, NULL);
}

JSON_SHAPE(type_shape, type_row);

int store_type_list(store *s, json_t **ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT definition FROM types ORDER BY name", &st, err);
        if (r < 0)
                return r;
        return json_read(st, &type_shape, ret, err);
}

int store_feature_set(store *s, const char *name, bool enabled, const char *note, sked_time now, int64_t *ret_series,
                      sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "INSERT INTO features(name, enabled, note, changed_at) VALUES($1, $2, $3, $4) "
                           "ON CONFLICT(name) DO UPDATE SET enabled = excluded.enabled, note = excluded.note, "
                           "changed_at = excluded.changed_at",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, name);
        db_bind_int(st, 2, enabled);
        db_bind_text(st, 3, note);
        db_bind_int(st, 4, now);
        if ((r = db_run(st, err)) < 0)
                return r;
        if ((r = db_prepare(s->d,
                            "UPDATE series SET feature_on = $2 WHERE feature_on <> $2 AND type IN "
                            "(SELECT name FROM types WHERE feature = $1)",
                            &st, err)) < 0)
                return r;
        db_bind_text(st, 1, name);
        db_bind_int(st, 2, enabled);
        if ((r = db_run(st, err)) < 0)
                return r;
        if (ret_series)
                *ret_series = db_changes(s->d);
        return 0;
}

static json_t *feature_json(db_stmt *st) {
        return json_pack("{s:s, s:b, s:s?, s:I, s:I, s:I}", "name", db_col_text(st, 0), "enabled",
                         db_col_int(st, 1) != 0, "note", db_col_text(st, 2), "changed_at",
                         (json_int_t) db_col_int(st, 3), "types", (json_int_t) db_col_int(st, 4), "series",
                         (json_int_t) db_col_int(st, 5));
}

JSON_SHAPE(feature_shape, feature_json);

int store_features_list(store *s, json_t **ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT n.name, COALESCE(f.enabled, 1), f.note, COALESCE(f.changed_at, 0), "
                           "(SELECT count(*) FROM types t WHERE t.feature = n.name), "
                           "(SELECT count(*) FROM series x JOIN types t ON t.name = x.type WHERE t.feature = n.name) "
                           "FROM (SELECT feature AS name FROM types WHERE feature IS NOT NULL "
                           "UNION SELECT name FROM features) n LEFT JOIN features f ON f.name = n.name "
                           "ORDER BY n.name",
                           &st, err);
        if (r < 0)
                return r;
        return json_read(st, &feature_shape, ret, err);
}
