/* fuzz_duration: durations ("1h30m", "PT5M", ...) through duration_parse
 * (src/model/duration.c).  Invariant: the text duration_format writes for an accepted
 * duration parses back to the same number of milliseconds. */
#include "fuzz.h"
#include "model/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size);
        if (!text)
                return 0;
        int64_t ms, back;
        sked_err err = {0};
        if (duration_parse(text, &ms, &err) == 0) {
                char buf[64];
                duration_format(ms, buf, sizeof buf);
                FUZZ_CHECK(duration_parse(buf, &back, &err) == 0 && back == ms, "\"%s\" is %lld ms, \"%s\" %lld", text,
                           (long long) ms, buf, (long long) back);
        }
        free(text);
        return 0;
}
