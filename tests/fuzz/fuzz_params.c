/* fuzz_params: parameter schemas and values (src/model/params.c).  Input: a JSON
 * object {"schema": [...], "fields": [...], "params": {...}}, any part may be
 * missing.  The schema goes through params_schema_normalize, the fields through
 * params_fields_normalize, the params through params_validate against the
 * normalized schema.  Invariants: normalizing a normalized schema (or field list)
 * gives it back unchanged; validating the normalized parameters again gives them
 * back unchanged. */
#include <jansson.h>

#include "fuzz.h"
#include "model/params.h"

typedef int (*normalize_fn)(const json_t *in, json_t **ret, sked_err *err);

static json_t *normalize_twice(normalize_fn fn, const json_t *in, const char *what) {
        json_t *a = NULL, *b = NULL;
        sked_err err = {0};
        if (!in || fn(in, &a, &err) < 0)
                return NULL;
        FUZZ_CHECK(fn(a, &b, &err) == 0, "normalized %s refused: %s", what, err.msg);
        FUZZ_CHECK(json_equal(a, b), "normalized %s changed by normalizing again", what);
        json_decref(b);
        return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_t *in = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(in)) {
                json_decref(in);
                return 0;
        }
        json_t *schema = normalize_twice(params_schema_normalize, json_object_get(in, "schema"), "schema");
        json_decref(normalize_twice(params_fields_normalize, json_object_get(in, "fields"), "fields"));
        if (schema) {
                json_t *a = NULL, *b = NULL;
                sked_err err = {0};
                if (params_validate(schema, json_object_get(in, "params"), &a, &err) == 0) {
                        FUZZ_CHECK(params_validate(schema, a, &b, &err) == 0, "normalized params refused: %s", err.msg);
                        FUZZ_CHECK(json_equal(a, b), "normalized params changed by validating again");
                }
                json_decref(a);
                json_decref(b);
                json_decref(schema);
        }
        json_decref(in);
        return 0;
}
