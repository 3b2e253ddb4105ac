/* rows: the one shape of the store's reads (see store_internal.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

int rows_read(db_stmt *st, const row_shape *shape, void *ret, size_t *ret_n, sked_err *err) {
        char *rows = NULL;
        size_t n = 0, cap = 0;
        int r;
        while ((r = db_step(st, err)) == 1) {
                if (n == cap) {
                        size_t c = cap ? cap * 2 : 16;
                        char *p = c > SIZE_MAX / shape->size ? NULL : realloc(rows, c * shape->size);
                        if (!p) {
                                r = err_set(err, -ENOMEM, "out of memory");
                                break;
                        }
                        rows = p;
                        cap = c;
                }
                shape->decode(st, rows + n++ * shape->size);
        }
        db_done(st);
        if (r < 0) {
                for (size_t i = 0; shape->clear && i < n; i++)
                        shape->clear(rows + i * shape->size);
                free(rows);
                return r;
        }
        *(void **) ret = rows;
        *ret_n = n;
        return 0;
}

int row_read(db_stmt *st, const row_shape *shape, void *ret, sked_err *err) {
        int r = db_step(st, err);
        if (r == 1)
                shape->decode(st, ret);
        db_done(st);
        return r;
}

int json_read(db_stmt *st, const row_shape *shape, json_t **ret, sked_err *err) {
        json_t **items = NULL;
        size_t n = 0;
        int r = rows_read(st, shape, &items, &n, err);
        if (r < 0)
                return r;
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
                if (items[i])
                        json_array_append_new(arr, items[i]);
        free(items);
        if (!arr)
                return err_set(err, -ENOMEM, "out of memory");
        *ret = arr;
        return 0;
}

static void id_decode(db_stmt *st, void *elem) {
        *(int64_t *) elem = db_col_int(st, 0);
}

static void int_decode(db_stmt *st, void *elem) {
        *(int_col *) elem = (int_col){db_col_int(st, 0), db_col_null(st, 0)};
}

static void bool_decode(db_stmt *st, void *elem) {
        const char *v = db_col_text(st, 0);
        *(bool *) elem = v && (v[0] == 't' || v[0] == '1');
}

const row_shape id_shape = {sizeof(int64_t), id_decode, NULL};
const row_shape int_shape = {sizeof(int_col), int_decode, NULL};
const row_shape bool_shape = {sizeof(bool), bool_decode, NULL};
