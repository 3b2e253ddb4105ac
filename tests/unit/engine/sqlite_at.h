/* Test helpers: SQL on a SQLite store file with a connection of the test's own
 * (to set up what the API cannot, or to read what it does not show). */
#pragma once

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/* Removes a SQLite store file and its -wal and -shm companions (missing ones are fine). */
static inline void sql_unlink_at(const char *path) {
        char p[4096];
        unlink(path);
        snprintf(p, sizeof p, "%s-wal", path);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", path);
        unlink(p);
}

/* Runs the statements in sql; fails the test on an error. */
static inline void sql_exec_at(const char *path, const char *sql) {
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        sqlite3_busy_timeout(db, 10000);
        char *msg = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
                fail_msg("%s: %s", sql, msg);
        sqlite3_close(db);
}

/* The first column of the first row of sql; fails the test when there is none. */
static inline int64_t sql_int_at(const char *path, const char *sql) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        sqlite3_busy_timeout(db, 10000);
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}
