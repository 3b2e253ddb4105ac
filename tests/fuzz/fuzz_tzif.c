/* fuzz_tzif: corrupted zone files through the TZif reader of tz_load (src/sched/tz.c,
 * tz_parse_tzif) and, when it accepts one, the lookups on the zone it built.  The corpus
 * is real zone files (/usr/share/zoneinfo) that libFuzzer mutates.  Invariants of an
 * accepted file: offsets stay within ±26 h; tz_next_transition answers a later instant
 * whose offset differs; tz_resolve answers 0..2 instants, ascending, and an instant it
 * answers for an ordinary wall time maps back to that wall time (tz_local). */
#include <errno.h>

#include "fuzz.h"
#include "sched/tz.h"

#define TZIF_MAX (1 << 20) /* tz_load reads no more (TZ_FILE_MAX) */

static const int64_t probes[] = {-2208988800LL, -1LL,          0, 1711846800LL, 1729990800LL, 2147483648LL,
                                 4102444800LL,  253402300799LL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > TZIF_MAX)
                return 0;
        tz_zone *z = NULL;
        int r = tz_parse_tzif("fuzz", data, size, &z);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM, "tz_parse_tzif returned %d", r);
        if (r < 0)
                return 0;
        for (size_t i = 0; i < sizeof probes / sizeof *probes; i++) {
                sked_time t = probes[i] * 1000000;
                int32_t off = tz_offset_at(z, t);
                FUZZ_CHECK(off >= -26 * 3600 && off <= 26 * 3600, "offset %d", off);
                sked_time nx;
                if (tz_next_transition(z, t, &nx) == 0) {
                        FUZZ_CHECK(nx > t, "transition %lld not after %lld", (long long) nx, (long long) t);
                        FUZZ_CHECK(tz_offset_at(z, nx) != tz_offset_at(z, nx - 1), "no change at %lld", (long long) nx);
                }
                int64_t local;
                tz_local(z, t, &local, &off);
                for (int gap = 0; gap <= 2; gap++)
                        for (int rep = 0; rep <= 3; rep++) {
                                sked_time out[2];
                                int kind = 0;
                                int n = tz_resolve_ex(z, local, gap, rep, out, &kind);
                                FUZZ_CHECK(n >= 0 && n <= 2, "tz_resolve answered %d", n);
                                FUZZ_CHECK(n < 2 || out[0] < out[1], "instants not ascending");
                                if (kind == 0 && n >= 1) {
                                        int64_t back;
                                        tz_local(z, out[0], &back, NULL);
                                        FUZZ_CHECK(back == local, "wall %lld resolves to %lld, which is %lld",
                                                   (long long) local, (long long) out[0], (long long) back);
                                }
                        }
        }
        tz_zone_free(z);
        return 0;
}
