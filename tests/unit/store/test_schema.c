/* The schema each migration produces, on both backends, compared with fixtures
 * dumped from the migrations as they were written before they were written once
 * for both dialects (tests/unit/store/fixtures/schema-*.txt, from commit 5e74657's
 * src/store/schema.c).  SQLite: sqlite_master as stored (the CREATE texts byte for
 * byte); PostgreSQL: information_schema's column list, pg_indexes' definitions and
 * pg_constraint's, of the case's own schema.
 *
 * SKED_SCHEMA_WRITE=1 rewrites the fixtures instead of comparing (only ever from
 * code whose schema is the reference). */
#include "backends.h"

#ifndef FIXTURES
#error FIXTURES must name tests/unit/store/fixtures
#endif

static void dump_schema(db *d, FILE *out) {
        if (db_dialect(d) == DB_SQLITE) {
                dump_rows(d, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name", 4, out);
                return;
        }
        fputs("-- columns\n", out);
        dump_rows(d,
                  "SELECT table_name, ordinal_position, column_name, data_type, is_nullable, column_default, "
                  "is_identity, identity_generation FROM information_schema.columns "
                  "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
                  8, out);
        fputs("-- indexes\n", out);
        dump_rows(d,
                  "SELECT tablename, indexname, replace(indexdef, current_schema() || '.', '') FROM pg_indexes "
                  "WHERE schemaname = current_schema() ORDER BY tablename, indexname",
                  3, out);
        fputs("-- constraints\n", out);
        dump_rows(d,
                  "SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid) FROM pg_constraint k "
                  "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE n.nspname = current_schema() ORDER BY c.relname, k.conname",
                  4, out);
}

static char *slurp(const char *path) {
        FILE *f = fopen(path, "r");
        if (!f)
                return NULL;
        char *buf = NULL;
        size_t n = 0;
        FILE *m = open_memstream(&buf, &n);
        int ch;
        while ((ch = fgetc(f)) != EOF)
                fputc(ch, m);
        fclose(m);
        fclose(f);
        return buf;
}

/* Each version from 1 to the newest, one store migrated to it step by step. */
static void schema_matches_fixture(void **state) {
        backend_ctx *c = backend_of(state);
        char *got = NULL;
        size_t n = 0;
        FILE *out = open_memstream(&got, &n);
        for (int v = 1; v <= store_schema_latest(); v++) {
                store *s = NULL;
                int version = 0;
                sked_err err = {0};
                if (store_open_at(c->uri, v, &s, &version, &err) < 0)
                        fail_msg("store_open_at(%d): %s", v, err.msg);
                assert_int_equal(version, v);
                fprintf(out, "== version %d\n", v);
                dump_schema(s->d, out);
                store_close(s);
        }
        fclose(out);
        char path[512];
        snprintf(path, sizeof path, "%s/schema-%s.txt", FIXTURES, c->pg ? "postgres" : "sqlite");
        const char *w = getenv("SKED_SCHEMA_WRITE");
        if (w && !strcmp(w, "1")) {
                FILE *f = fopen(path, "w");
                assert_non_null(f);
                fputs(got, f);
                fclose(f);
                print_message("wrote %s\n", path);
        } else {
                char *want = slurp(path);
                if (!want)
                        fail_msg("%s: missing", path);
                if (strcmp(want, got) != 0) {
                        /* the first line that differs */
                        const char *a = want, *b = got;
                        int line = 1;
                        while (*a && *a == *b) {
                                line += *a == '\n';
                                a++, b++;
                        }
                        fail_msg("schema differs from %s at line %d:\nwant: %.200s\ngot:  %.200s", path, line, a, b);
                }
                free(want);
        }
        free(got);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                BACKEND_TESTS_CLOSED(schema_matches_fixture),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
