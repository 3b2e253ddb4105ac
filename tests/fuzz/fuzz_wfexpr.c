/* fuzz_wfexpr: workflow expressions in the Lua sandbox (src/wf/expr.c): compiled with
 * wf_lua_compile and evaluated with wf_lua_eval and wf_lua_truth in a scope with
 * input, vars and steps.  The first line is the expression, the rest a JSON object for
 * `input`.  Invariants: evaluation ends (its step and memory budgets: libFuzzer's
 * timeout and RSS limit would catch a loop that escaped them); a value it answers is
 * JSON; the state's memory does not grow evaluation after evaluation. */
#include <jansson.h>

#include "fuzz.h"
#include "wf/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_text(data, size);
        if (!s)
                return 0;
        char *part[2];
        fuzz_lines(s, part, 2);
        json_t *input = json_loads(part[1], 0, NULL);
        json_t *vars = json_pack("{s:i,s:s,s:[i,i]}", "n", 3, "who", "ann", "list", 1, 2);
        json_t *steps = json_pack("{s:{s:s,s:{s:b}}}", "check", "status", "succeeded", "result", "ok", 1);
        wf_scope sc = {.input = json_is_object(input) ? input : NULL,
                       .vars = vars,
                       .steps = steps,
                       .now = 1767225600LL * 1000000};
        /* a state compiles every expression of one definition: a fresh one per input
         * keeps inputs independent (the replay and libFuzzer alike) */
        wf_lua *one = NULL;
        sked_err err = {0};
        int h;
        if (wf_lua_new(&one, &err) == 0 && wf_lua_compile(one, part[0], "expr", &h, &err) == 0) {
                json_t *v = NULL;
                bool truth;
                if (wf_lua_eval(one, h, &sc, "expr", &v, &err) == 0) {
                        char *txt = json_dumps(v, JSON_ENCODE_ANY);
                        FUZZ_CHECK(txt, "the value is not JSON");
                        free(txt);
                }
                json_decref(v);
                size_t before = wf_lua_memory(one);
                (void) wf_lua_truth(one, h, &sc, "expr", &truth, &err);
                (void) wf_lua_truth(one, h, &sc, "expr", &truth, &err);
                FUZZ_CHECK(wf_lua_memory(one) <= before + WF_EXPR_MEM, "memory grew from %zu to %zu", before,
                           wf_lua_memory(one));
        }
        wf_lua_free(one);
        json_decref(input);
        json_decref(vars);
        json_decref(steps);
        free(s);
        return 0;
}
