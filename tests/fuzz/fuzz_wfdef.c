/* fuzz_wfdef: workflow definitions, JSON (the body of POST /api/v1/workflows) or YAML
 * (`sked workflow register FILE`), read by manifest_parse, through wf_def_build (src/wf/def.c, with its Lua
 * compilation, src/wf/expr.c).  Process types "report" and "approve" exist.  Invariants: a refused definition says why
 * (at least one error, the first in err); a built one walks: wf_pos_next from the first step visits steps that
 * wf_pos_step finds, and positions survive wf_pos_format and wf_pos_parse. */
#include <jansson.h>

#include "fuzz.h"
#include "model/manifest.h"
#include "wf/def.h"

static bool exists(void *ud, const char *type) {
        return !strcmp(type, "report") || !strcmp(type, "approve");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_t *in = NULL;
        sked_err err = {0};
        if (manifest_parse((const char *) data, size, "fuzz.yaml", &in, &err) < 0)
                return 0;
        wf_def *d = NULL;
        json_t *errors = NULL;
        if (wf_def_build(in, exists, NULL, &d, &errors, &err) == 0) {
                wf_pos p = {.n = 1, .v = {0}};
                for (int i = 0; i < 10000 && wf_pos_step(d, &p); i++) {
                        char buf[WF_POS_MAX * 8];
                        wf_pos q;
                        wf_pos_format(&p, buf, sizeof buf);
                        FUZZ_CHECK(wf_pos_parse(buf, &q) == 0 && q.n == p.n && !memcmp(q.v, p.v, sizeof *p.v * p.n),
                                   "position %s does not parse back", buf);
                        if (!wf_pos_next(d, &p))
                                break;
                }
                wf_def_free(d);
        } else {
                FUZZ_CHECK(err.msg[0], "refused without a message");
                FUZZ_CHECK(!errors || json_array_size(errors) > 0, "refused with an empty error list");
        }
        json_decref(errors);
        json_decref(in);
        return 0;
}
