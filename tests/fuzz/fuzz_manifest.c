/* fuzz_manifest: type manifests, YAML (libfyaml) or JSON, through manifest_parse and
 * the structure check of registration, ptype_from_json (src/model/manifest.c,
 * ptype.c, policy.c, params.c).  Invariants: a parse that fails says why (err.msg);
 * one that succeeds gives an object. */
#include <errno.h>
#include <jansson.h>

#include "fuzz.h"
#include "model/manifest.h"
#include "model/ptype.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_t *doc = NULL;
        sked_err err = {0};
        int r = manifest_parse((const char *) data, size, "fuzz.yaml", &doc, &err);
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -EFBIG || r == -ENOMEM, "manifest_parse returned %d", r);
                FUZZ_CHECK(err.msg[0], "refused without a message");
                return 0;
        }
        FUZZ_CHECK(json_is_object(doc), "manifest is not an object");
        ptype *t = NULL;
        if (ptype_from_json(doc, &t, &err) == 0)
                ptype_free(t);
        else
                FUZZ_CHECK(err.msg[0], "type refused without a message");
        json_decref(doc);
        return 0;
}
