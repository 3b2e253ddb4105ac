/* fuzz_query: the query language (src/model/query.c): query_parse_text, the
 * canonical text, query_validate against a type's query fields (those of
 * tests/unit/model/test_query.c) and query_eval.  Invariants: the canonical text of an
 * accepted query parses back to the same AST, and its own canonical text is itself; a
 * validated query evaluates without error on an item. */
#include <jansson.h>

#include "fuzz.h"
#include "model/params.h"
#include "model/query.h"

static json_t *fields, *item;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        json_t *in = json_loads("[{\"name\":\"region\",\"type\":\"string\",\"values\":[\"eu\",\"us\"]},"
                                "{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"amount\",\"type\":\"int\"},"
                                "{\"name\":\"rate\",\"type\":\"number\"},{\"name\":\"vip\",\"type\":\"bool\"},"
                                "{\"name\":\"day\",\"type\":\"date\"},{\"name\":\"at\",\"type\":\"datetime\"},"
                                "{\"name\":\"tier\",\"type\":\"enum\",\"values\":[\"gold\",\"silver\"]}]",
                                0, NULL);
        sked_err err = {0};
        if (!in || params_fields_normalize(in, &fields, &err) < 0)
                abort();
        json_decref(in);
        item = json_loads("{\"region\":\"eu\",\"name\":\"Ann O'Neil\",\"amount\":12,\"rate\":1.5,\"vip\":true,"
                          "\"day\":\"2026-03-01\",\"at\":\"2026-03-01T10:00:00Z\",\"tier\":\"gold\"}",
                          0, NULL);
        return item ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!fields)
                LLVMFuzzerInitialize(NULL, NULL);
        char *text = fuzz_text(data, size);
        if (!text)
                return 0;
        json_t *ast = NULL, *again = NULL, *norm = NULL;
        char *canon = NULL, *canon2 = NULL;
        sked_err err = {0};
        if (query_parse_text(text, &ast, &err) < 0)
                goto out;
        canon = query_to_text(ast);
        FUZZ_CHECK(canon, "no canonical text");
        FUZZ_CHECK(query_parse_text(canon, &again, &err) == 0, "canonical \"%s\" refused: %s", canon, err.msg);
        FUZZ_CHECK(json_equal(ast, again), "canonical \"%s\" parses to another AST", canon);
        canon2 = query_to_text(again);
        FUZZ_CHECK(canon2 && !strcmp(canon, canon2), "canonical text \"%s\" then \"%s\"", canon, canon2);
        if (query_validate(fields, ast, &norm, &err) == 0) {
                bool hit;
                FUZZ_CHECK(query_eval(norm, item, &hit) == 0, "a validated query did not evaluate");
        }
out:
        json_decref(ast);
        json_decref(again);
        json_decref(norm);
        free(canon);
        free(canon2);
        free(text);
        return 0;
}
