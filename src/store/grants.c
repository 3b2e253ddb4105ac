/* grants: see grants.h. */
#include "store/grants.h"

#include <errno.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_internal.h"

static int user_id(store *s, const char *name, int64_t *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d, "SELECT id FROM users WHERE name = $1", &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, name);
        if ((r = row_read(st, &id_shape, ret, err)) < 0)
                return r;
        return r ? 0 : err_field(err, -ENOENT, "name", "no user \"%s\"", name);
}

int store_grants_get(store *s, const char *name, json_t **ret, sked_err *err) {
        int64_t id;
        int r = user_id(s, name, &id, err);
        if (r < 0)
                return r;
        db_stmt *st;
        if ((r = db_prepare(s->d, "SELECT kind, name FROM grants WHERE user_id = $1 ORDER BY kind, name", &st, err)) <
            0)
                return r;
        db_bind_int(st, 1, id);
        json_t *types = json_array(), *features = json_array();
        while ((r = db_step(st, err)) > 0)
                json_array_append_new(!strcmp(db_col_text(st, 0), "type") ? types : features,
                                      json_string(db_col_text(st, 1)));
        db_done(st);
        if (r < 0) {
                json_decref(types);
                json_decref(features);
                return r;
        }
        *ret = json_pack("{s:o, s:o}", "types", types, "features", features);
        return 0;
}

static int insert_all(store *s, int64_t id, const char *kind, const char *const *names, size_t n, sked_err *err) {
        for (size_t i = 0; i < n; i++) {
                db_stmt *st;
                int r = db_prepare(s->d, "INSERT INTO grants(user_id, kind, name) VALUES($1, $2, $3)", &st, err);
                if (r < 0)
                        return r;
                db_bind_int(st, 1, id);
                db_bind_text(st, 2, kind);
                db_bind_text(st, 3, names[i]);
                if ((r = db_run(st, err)) < 0)
                        return r == -EEXIST ? err_field(err, -EINVAL, kind[0] == 't' ? "types" : "features",
                                                        "\"%s\" is listed twice", names[i])
                                            : r;
        }
        return 0;
}

int store_grants_put(store *s, const char *name, const char *const *types, size_t nt, const char *const *features,
                     size_t nf, sked_err *err) {
        int64_t id;
        int r = user_id(s, name, &id, err);
        if (r < 0)
                return r;
        db_stmt *st;
        if ((r = db_prepare(s->d, "DELETE FROM grants WHERE user_id = $1", &st, err)) < 0)
                return r;
        db_bind_int(st, 1, id);
        if ((r = db_run(st, err)) < 0)
                return r;
        if ((r = insert_all(s, id, "type", types, nt, err)) < 0)
                return r;
        return insert_all(s, id, "feature", features, nf, err);
}

int store_grant_covers(store *s, const char *name, const char *type, bool *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(s->d,
                           "SELECT count(*) FROM grants g JOIN users u ON u.id = g.user_id "
                           "WHERE u.name = $1 AND ((g.kind = 'type' AND g.name = $2) OR (g.kind = 'feature' AND "
                           "g.name = (SELECT feature FROM types WHERE name = $2)))",
                           &st, err);
        if (r < 0)
                return r;
        db_bind_text(st, 1, name);
        db_bind_text(st, 2, type);
        int64_t n = 0;
        if ((r = row_read(st, &id_shape, &n, err)) < 0)
                return r;
        *ret = n > 0;
        return 0;
}
