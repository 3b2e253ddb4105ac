/* schema: versioned migrations.  Migration N brings the schema from version N-1 to
 * N; the version lives in the `meta` table.  Never edit a released migration: add
 * the next one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/db.h"
#include "store/schema.h"

static const char *const migrations_sqlite[] = {
        /* 1: the core */
        "CREATE TABLE types("
        "  name TEXT PRIMARY KEY, background INTEGER NOT NULL, feature TEXT,"
        "  definition TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
        "CREATE TABLE series("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL REFERENCES types(name),"
        "  title TEXT NOT NULL, schedule TEXT NOT NULL, tz TEXT NOT NULL, start_local TEXT,"
        "  end_at INTEGER, count INTEGER, params TEXT NOT NULL, query TEXT,"
        "  enabled INTEGER NOT NULL DEFAULT 1, background INTEGER NOT NULL DEFAULT 0,"
        "  pause_note TEXT, owner TEXT, next_due INTEGER, last_nominal INTEGER,"
        "  fired INTEGER NOT NULL DEFAULT 0, missed INTEGER NOT NULL DEFAULT 0,"
        "  version INTEGER NOT NULL DEFAULT 1,"
        "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
        "CREATE INDEX series_due ON series(next_due) WHERE enabled = 1 AND next_due IS NOT NULL;"
        "CREATE INDEX series_type ON series(type, id);"
        "CREATE TABLE occurrences("
        "  series_id INTEGER NOT NULL, nominal INTEGER NOT NULL, fired_at INTEGER NOT NULL,"
        "  run_id INTEGER, PRIMARY KEY(series_id, nominal)) WITHOUT ROWID;"
        "CREATE TABLE runs("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT, series_id INTEGER, nominal INTEGER, type TEXT NOT NULL,"
        "  attempt INTEGER NOT NULL DEFAULT 1, trigger TEXT NOT NULL, state TEXT NOT NULL,"
        "  params TEXT NOT NULL, query TEXT, idem_key TEXT, /* NULL: derived when read */"
        "  queued_at INTEGER NOT NULL, not_before INTEGER NOT NULL,"
        "  started_at INTEGER, finished_at INTEGER, lease_until INTEGER, node TEXT,"
        "  exit_code INTEGER, error TEXT, progress INTEGER NOT NULL DEFAULT 0,"
        "  n_info INTEGER NOT NULL DEFAULT 0, n_warning INTEGER NOT NULL DEFAULT 0,"
        "  n_error INTEGER NOT NULL DEFAULT 0, n_results INTEGER NOT NULL DEFAULT 0,"
        "  next_attempt INTEGER);"
        "CREATE INDEX runs_ready ON runs(not_before, id) WHERE state = 'queued';"
        "CREATE INDEX runs_running ON runs(lease_until) WHERE state = 'running';"
        "CREATE INDEX runs_series ON runs(series_id, id);"
        "CREATE INDEX runs_type ON runs(type, id);"
        "CREATE TABLE messages("
        "  run_id INTEGER NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL,"
        "  level TEXT NOT NULL, text TEXT NOT NULL, PRIMARY KEY(run_id, seq)) WITHOUT ROWID;"
        "CREATE TABLE results("
        "  run_id INTEGER NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL,"
        "  key TEXT NOT NULL, status TEXT NOT NULL, data TEXT,"
        "  PRIMARY KEY(run_id, seq)) WITHOUT ROWID;"
        "CREATE TABLE poller("
        "  id INTEGER PRIMARY KEY CHECK (id = 1), node TEXT NOT NULL,"
        "  started_at INTEGER, heartbeat_at INTEGER, last_fire_at INTEGER,"
        "  initialized_at INTEGER, fired_total INTEGER NOT NULL DEFAULT 0,"
        "  last_batch INTEGER NOT NULL DEFAULT 0, next_due INTEGER);",
};

int schema_migrate(db *d, int target, sked_err *err) {
        int r = db_exec_script(d, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                               err);
        if (r < 0)
                return r;
        db_stmt *st;
        if ((r = db_prepare(d, "SELECT value FROM meta WHERE key = 'schema_version'", &st, err)) < 0)
                return r;
        int version = 0;
        if ((r = db_step(st, err)) == 1)
                version = atoi(db_col_text(st, 0));
        db_done(st);
        if (r < 0)
                return r;
        int known = (int) (sizeof migrations_sqlite / sizeof migrations_sqlite[0]);
        if (target > known)
                target = known;
        if (version > known)
                return err_set(err, -EPROTO,
                               "database schema version %d is newer than this sked (knows up to %d): "
                               "upgrade sked, or restore a backup",
                               version, known);
        for (int v = version + 1; v <= target; v++) {
                if ((r = db_begin(d, err)) < 0)
                        return r;
                char setv[128];
                snprintf(setv, sizeof setv,
                         "INSERT INTO meta(key, value) VALUES('schema_version', '%d') "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                         v);
                if ((r = db_exec_script(d, migrations_sqlite[v - 1], err)) < 0 ||
                    (r = db_exec_script(d, setv, err)) < 0) {
                        db_rollback(d);
                        return err_prefix(err, "schema migration");
                }
                if ((r = db_commit(d, err)) < 0)
                        return r;
        }
        return 0;
}
