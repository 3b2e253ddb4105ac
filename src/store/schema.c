/* schema: versioned migrations.  Migration N brings the schema from version N-1 to
 * N; the version lives in the `meta` table.  Never edit a released migration: add
 * the next one. */
#include <errno.h>
#include <stdbool.h>
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
        /* 2: nodes of a cluster and their heartbeats */
        "CREATE TABLE nodes("
        "  name TEXT PRIMARY KEY, started_at INTEGER NOT NULL, heartbeat_at INTEGER NOT NULL,"
        "  role TEXT NOT NULL, workers INTEGER NOT NULL, running INTEGER NOT NULL DEFAULT 0,"
        "  pid INTEGER, version TEXT);",
        /* 3: the plan under control (issue 3): series policies and sleep windows,
         * one-off occurrence exceptions, features, skip records, overlap control,
         * retention counters */
        "ALTER TABLE series ADD COLUMN policy TEXT;"
        "ALTER TABLE series ADD COLUMN sleep TEXT;"
        "ALTER TABLE series ADD COLUMN feature_on INTEGER NOT NULL DEFAULT 1;"
        "ALTER TABLE series ADD COLUMN n_exceptions INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE series ADD COLUMN skipped_overlap INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE series ADD COLUMN skipped_sleep INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE series ADD COLUMN skipped_disabled INTEGER NOT NULL DEFAULT 0;"
        "DROP INDEX series_due;"
        "CREATE INDEX series_due ON series(next_due) WHERE enabled = 1 AND feature_on = 1 AND next_due IS NOT NULL;"
        "CREATE TABLE exceptions("
        "  series_id INTEGER NOT NULL, nominal INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,"
        "  moved_to INTEGER, params TEXT, note TEXT, fired INTEGER NOT NULL DEFAULT 0,"
        "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY(series_id, nominal)) WITHOUT ROWID;"
        "CREATE INDEX exceptions_due ON exceptions(moved_to) WHERE moved_to IS NOT NULL AND fired = 0 AND disabled = 0;"
        "ALTER TABLE occurrences ADD COLUMN skipped TEXT;"
        "CREATE INDEX occurrences_nominal ON occurrences(nominal);"
        "ALTER TABLE runs ADD COLUMN exclusive INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;"
        "CREATE INDEX runs_series_active ON runs(series_id) WHERE state IN ('queued', 'running');"
        "CREATE INDEX runs_manual ON runs(nominal) WHERE trigger = 'manual';"
        "CREATE INDEX runs_finished ON runs(type, finished_at) WHERE finished_at IS NOT NULL;"
        "CREATE TABLE features("
        "  name TEXT PRIMARY KEY, enabled INTEGER NOT NULL, note TEXT, changed_at INTEGER NOT NULL);"
        "ALTER TABLE poller ADD COLUMN purged_runs INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE poller ADD COLUMN purged_messages INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE poller ADD COLUMN purged_results INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE poller ADD COLUMN last_purge_at INTEGER;",
        /* 4: a fired occurrence is recorded by its scheduled run alone (no occurrence
         * row: one page fewer per occurrence, spread over the series); occurrence
         * rows remain for skips and for what fired before this version.  The runs
         * of a series are found by (series, nominal): the record of the occurrence
         * and the backstop against firing it twice. */
        "DROP INDEX runs_series;"
        "CREATE INDEX runs_series ON runs(series_id, nominal);"
        "DROP INDEX runs_manual;"
        "CREATE INDEX runs_nominal ON runs(nominal) WHERE nominal IS NOT NULL;",
};

/* PostgreSQL: the same schema; 64-bit integers throughout (instants are
 * microseconds), identity columns for ids. */
static const char *const migrations_pg[] = {
        /* 1: the core */
        "CREATE TABLE types("
        "  name TEXT PRIMARY KEY, background INTEGER NOT NULL, feature TEXT,"
        "  definition TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
        "CREATE TABLE series("
        "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        "  type TEXT NOT NULL REFERENCES types(name),"
        "  title TEXT NOT NULL, schedule TEXT NOT NULL, tz TEXT NOT NULL, start_local TEXT,"
        "  end_at BIGINT, count BIGINT, params TEXT NOT NULL, query TEXT,"
        "  enabled INTEGER NOT NULL DEFAULT 1, background INTEGER NOT NULL DEFAULT 0,"
        "  pause_note TEXT, owner TEXT, next_due BIGINT, last_nominal BIGINT,"
        "  fired BIGINT NOT NULL DEFAULT 0, missed BIGINT NOT NULL DEFAULT 0,"
        "  version BIGINT NOT NULL DEFAULT 1,"
        "  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
        "CREATE INDEX series_due ON series(next_due) WHERE enabled = 1 AND next_due IS NOT NULL;"
        "CREATE INDEX series_type ON series(type, id);"
        "CREATE TABLE occurrences("
        "  series_id BIGINT NOT NULL, nominal BIGINT NOT NULL, fired_at BIGINT NOT NULL,"
        "  run_id BIGINT, PRIMARY KEY(series_id, nominal));"
        "CREATE TABLE runs("
        "  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
        "  series_id BIGINT, nominal BIGINT, type TEXT NOT NULL,"
        "  attempt BIGINT NOT NULL DEFAULT 1, trigger TEXT NOT NULL, state TEXT NOT NULL,"
        "  params TEXT NOT NULL, query TEXT, idem_key TEXT,"
        "  queued_at BIGINT NOT NULL, not_before BIGINT NOT NULL,"
        "  started_at BIGINT, finished_at BIGINT, lease_until BIGINT, node TEXT,"
        "  exit_code BIGINT, error TEXT, progress BIGINT NOT NULL DEFAULT 0,"
        "  n_info BIGINT NOT NULL DEFAULT 0, n_warning BIGINT NOT NULL DEFAULT 0,"
        "  n_error BIGINT NOT NULL DEFAULT 0, n_results BIGINT NOT NULL DEFAULT 0,"
        "  next_attempt BIGINT);"
        "CREATE INDEX runs_ready ON runs(not_before, id) WHERE state = 'queued';"
        "CREATE INDEX runs_running ON runs(lease_until) WHERE state = 'running';"
        "CREATE INDEX runs_series ON runs(series_id, id);"
        "CREATE INDEX runs_type ON runs(type, id);"
        "CREATE TABLE messages("
        "  run_id BIGINT NOT NULL, seq BIGINT NOT NULL, at BIGINT NOT NULL,"
        "  level TEXT NOT NULL, text TEXT NOT NULL, PRIMARY KEY(run_id, seq));"
        "CREATE TABLE results("
        "  run_id BIGINT NOT NULL, seq BIGINT NOT NULL, at BIGINT NOT NULL,"
        "  key TEXT NOT NULL, status TEXT NOT NULL, data TEXT, PRIMARY KEY(run_id, seq));"
        "CREATE TABLE poller("
        "  id INTEGER PRIMARY KEY CHECK (id = 1), node TEXT NOT NULL,"
        "  started_at BIGINT, heartbeat_at BIGINT, last_fire_at BIGINT,"
        "  initialized_at BIGINT, fired_total BIGINT NOT NULL DEFAULT 0,"
        "  last_batch BIGINT NOT NULL DEFAULT 0, next_due BIGINT);",
        /* 2: nodes of a cluster and their heartbeats */
        "CREATE TABLE nodes("
        "  name TEXT PRIMARY KEY, started_at BIGINT NOT NULL, heartbeat_at BIGINT NOT NULL,"
        "  role TEXT NOT NULL, workers INTEGER NOT NULL, running INTEGER NOT NULL DEFAULT 0,"
        "  pid INTEGER, version TEXT);",
        /* 3: the plan under control (issue 3): series policies and sleep windows,
         * one-off occurrence exceptions, features, skip records, overlap control,
         * retention counters */
        "ALTER TABLE series ADD COLUMN policy TEXT;"
        "ALTER TABLE series ADD COLUMN sleep TEXT;"
        "ALTER TABLE series ADD COLUMN feature_on INTEGER NOT NULL DEFAULT 1;"
        "ALTER TABLE series ADD COLUMN n_exceptions BIGINT NOT NULL DEFAULT 0;"
        "ALTER TABLE series ADD COLUMN skipped_overlap BIGINT NOT NULL DEFAULT 0;"
        "ALTER TABLE series ADD COLUMN skipped_sleep BIGINT NOT NULL DEFAULT 0;"
        "ALTER TABLE series ADD COLUMN skipped_disabled BIGINT NOT NULL DEFAULT 0;"
        "DROP INDEX series_due;"
        "CREATE INDEX series_due ON series(next_due) WHERE enabled = 1 AND feature_on = 1 AND next_due IS NOT NULL;"
        "CREATE TABLE exceptions("
        "  series_id BIGINT NOT NULL, nominal BIGINT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,"
        "  moved_to BIGINT, params TEXT, note TEXT, fired INTEGER NOT NULL DEFAULT 0,"
        "  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY(series_id, nominal));"
        "CREATE INDEX exceptions_due ON exceptions(moved_to) WHERE moved_to IS NOT NULL AND fired = 0 AND disabled = 0;"
        "ALTER TABLE occurrences ADD COLUMN skipped TEXT;"
        "CREATE INDEX occurrences_nominal ON occurrences(nominal);"
        "ALTER TABLE runs ADD COLUMN exclusive INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;"
        "CREATE INDEX runs_series_active ON runs(series_id) WHERE state IN ('queued', 'running');"
        "CREATE INDEX runs_manual ON runs(nominal) WHERE trigger = 'manual';"
        "CREATE INDEX runs_finished ON runs(type, finished_at) WHERE finished_at IS NOT NULL;"
        "CREATE TABLE features("
        "  name TEXT PRIMARY KEY, enabled INTEGER NOT NULL, note TEXT, changed_at BIGINT NOT NULL);"
        "ALTER TABLE poller ADD COLUMN purged_runs BIGINT NOT NULL DEFAULT 0;"
        "ALTER TABLE poller ADD COLUMN purged_messages BIGINT NOT NULL DEFAULT 0;"
        "ALTER TABLE poller ADD COLUMN purged_results BIGINT NOT NULL DEFAULT 0;"
        "ALTER TABLE poller ADD COLUMN last_purge_at BIGINT;",
        /* 4: as SQLite's */
        "DROP INDEX runs_series;"
        "CREATE INDEX runs_series ON runs(series_id, nominal, id);"
        "DROP INDEX runs_manual;"
        "CREATE INDEX runs_nominal ON runs(nominal) WHERE nominal IS NOT NULL;",
};

static int read_version(db *d, int *ret, sked_err *err) {
        db_stmt *st;
        int r = db_prepare(d, "SELECT value FROM meta WHERE key = 'schema_version'", &st, err);
        if (r < 0)
                return r;
        int version = 0;
        if ((r = db_step(st, err)) == 1)
                version = atoi(db_col_text(st, 0));
        db_done(st);
        if (r < 0)
                return r;
        *ret = version;
        return 0;
}

int schema_latest(void) {
        return (int) (sizeof migrations_sqlite / sizeof migrations_sqlite[0]);
}

static int migrate(db *d, int target, int *ret_version, sked_err *err);

int schema_migrate(db *d, int target, int *ret_version, sked_err *err) {
        if (db_dialect(d) != DB_POSTGRES)
                return migrate(d, target, ret_version, err);
        /* several nodes may start at once: one migrates, the others wait for it */
        int r = db_exec_script(d, "SELECT pg_advisory_lock(727372)", err);
        if (r < 0)
                return r;
        r = migrate(d, target, ret_version, err);
        sked_err ignore = {0};
        db_exec_script(d, "SELECT pg_advisory_unlock(727372)", &ignore);
        return r;
}

static int migrate(db *d, int target, int *ret_version, sked_err *err) {
        int r = db_exec_script(d, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                               err);
        if (r < 0)
                return r;
        int version = 0;
        if ((r = read_version(d, &version, err)) < 0)
                return r;
        bool pg = db_dialect(d) == DB_POSTGRES;
        const char *const *migrations = pg ? migrations_pg : migrations_sqlite;
        int known = (int) (pg ? sizeof migrations_pg / sizeof migrations_pg[0]
                              : sizeof migrations_sqlite / sizeof migrations_sqlite[0]);
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
                if ((r = db_exec_script(d, migrations[v - 1], err)) < 0 ||
                    (r = db_exec_script(d, setv, err)) < 0) {
                        db_rollback(d);
                        return err_prefix(err, "schema migration");
                }
                if ((r = db_commit(d, err)) < 0)
                        return r;
                version = v;
        }
        if (ret_version)
                *ret_version = version;
        return 0;
}
