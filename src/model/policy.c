/* policy: series policies and sleep windows (see policy.h). */
#include "model/policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/duration.h"
#include "model/params.h"

static const char *const catchup_names[] = {"none", "latest", "all", NULL};
static const char *const overlap_names[] = {"skip", "buffer_one", "buffer_all", "cancel_other", "allow_all", NULL};
static const char *const gap_names[] = {"shift", "skip", NULL};            /* TZ_GAP_SHIFT - 1 .. */
static const char *const repeat_names[] = {"first", "last", "both", NULL}; /* TZ_REPEAT_FIRST - 1 .. */
static const char *const keys[] = {"catchup",    "catchup_window",    "burst",     "overlap", "jitter", "dst_gap",
                                   "dst_repeat", "catchup_window_ms", "jitter_ms", NULL};

void policy_default(policy *p) {
        *p = (policy){.catchup = CATCHUP_LATEST, .burst = 100, .overlap = OVERLAP_SKIP};
}

const char *policy_catchup_name(int c) {
        return c >= CATCHUP_NONE && c <= CATCHUP_ALL ? catchup_names[c] : "?";
}

const char *policy_overlap_name(int o) {
        return o >= OVERLAP_SKIP && o <= OVERLAP_ALLOW_ALL ? overlap_names[o] : "?";
}

static int one_of(const json_t *v, const char *field, const char *key, const char *const *names, int *ret,
                  sked_err *err) {
        char f[96];
        snprintf(f, sizeof f, "%s.%s", field, key);
        if (json_is_string(v))
                for (int i = 0; names[i]; i++)
                        if (!strcmp(json_string_value(v), names[i])) {
                                *ret = i;
                                return 0;
                        }
        char list[128] = "";
        for (int i = 0; names[i]; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
        if (json_is_string(v))
                return err_field(err, -EINVAL, f, "\"%.40s\": expected one of %s", json_string_value(v), list);
        return err_field(err, -EINVAL, f, "expected one of %s", list);
}

/* A duration key, or its normalized *_ms twin; null means 0 (none). */
static int get_ms(const json_t *in, const char *field, const char *key, int64_t max_ms, bool *ret_set, int64_t *ret,
                  sked_err *err) {
        char ms_key[48], f[96];
        snprintf(ms_key, sizeof ms_key, "%s_ms", key);
        const json_t *v = json_object_get(in, key);
        bool ms = false;
        if (!v && (v = json_object_get(in, ms_key)))
                ms = true;
        *ret_set = v != NULL;
        if (!v)
                return 0;
        snprintf(f, sizeof f, "%s.%s", field, key);
        int64_t val = 0;
        if (json_is_null(v)) {
                val = 0;
        } else if (ms) {
                if (!json_is_integer(v) || json_integer_value(v) < 0)
                        return err_field(err, -EINVAL, f, "expected a non-negative integer of milliseconds");
                val = json_integer_value(v);
        } else {
                int r = duration_from_json(v, f, &val, err);
                if (r < 0)
                        return r;
        }
        if (val > max_ms) {
                char m[32];
                duration_format(max_ms, m, sizeof m);
                return err_field(err, -EINVAL, f, "at most %s", m);
        }
        *ret = val;
        return 0;
}

int policy_apply(policy *p, const json_t *in, const char *field, sked_err *err) {
        if (!in || json_is_null(in))
                return 0;
        if (!json_is_object(in))
                return err_field(err, -EINVAL, field, "expected a mapping of policy keys");
        const char *unknown = params_unknown_key(in, keys);
        if (unknown) {
                char f[128];
                snprintf(f, sizeof f, "%s.%.64s", field, unknown);
                return err_field(err, -EINVAL, f,
                                 "unknown key (expected one of: catchup, catchup_window, burst, overlap, "
                                 "jitter, dst_gap, dst_repeat)");
        }
        int r, i;
        bool set;
        json_t *v;
        if ((v = json_object_get(in, "catchup"))) {
                if ((r = one_of(v, field, "catchup", catchup_names, &i, err)) < 0)
                        return r;
                p->catchup = i;
        }
        if ((v = json_object_get(in, "overlap"))) {
                if ((r = one_of(v, field, "overlap", overlap_names, &i, err)) < 0)
                        return r;
                p->overlap = i;
        }
        if ((v = json_object_get(in, "dst_gap"))) {
                if ((r = one_of(v, field, "dst_gap", gap_names, &i, err)) < 0)
                        return r;
                p->dst_gap = i + TZ_GAP_SHIFT;
        }
        if ((v = json_object_get(in, "dst_repeat"))) {
                if ((r = one_of(v, field, "dst_repeat", repeat_names, &i, err)) < 0)
                        return r;
                p->dst_repeat = i + TZ_REPEAT_FIRST;
        }
        if ((v = json_object_get(in, "burst"))) {
                if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > POLICY_BURST_MAX) {
                        char f[96];
                        snprintf(f, sizeof f, "%s.burst", field);
                        return err_field(err, -EINVAL, f, "expected an integer from 1 to %d", POLICY_BURST_MAX);
                }
                p->burst = (int) json_integer_value(v);
        }
        int64_t ms = 0;
        if ((r = get_ms(in, field, "catchup_window", 3660LL * 86400 * 1000, &set, &ms, err)) < 0)
                return r;
        if (set)
                p->catchup_window_ms = ms;
        if ((r = get_ms(in, field, "jitter", POLICY_JITTER_MAX_MS, &set, &ms, err)) < 0)
                return r;
        if (set)
                p->jitter_ms = ms;
        return 0;
}

int policy_normalize(const json_t *in, const char *field, json_t **ret, sked_err *err) {
        /* apply to two different bases: a key is "given" when either result differs
         * from its base or the input names it */
        policy p;
        policy_default(&p);
        int r = policy_apply(&p, in, field, err);
        if (r < 0)
                return r;
        *ret = NULL;
        if (!in || json_is_null(in) || json_object_size(in) == 0)
                return 0;
        json_t *all = policy_to_json(&p), *out = json_object();
        static const char *const pairs[][2] = {
                {"catchup", "catchup"},
                {"catchup_window", "catchup_window_ms"},
                {"catchup_window_ms", "catchup_window_ms"},
                {"burst", "burst"},
                {"overlap", "overlap"},
                {"jitter", "jitter_ms"},
                {"jitter_ms", "jitter_ms"},
                {"dst_gap", "dst_gap"},
                {"dst_repeat", "dst_repeat"},
        };
        for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
                if (json_object_get(in, pairs[k][0]))
                        json_object_set(out, pairs[k][1], json_object_get(all, pairs[k][1]));
        json_decref(all);
        *ret = out;
        return 0;
}

json_t *policy_to_json(const policy *p) {
        return json_pack("{s:s, s:o, s:i, s:s, s:I, s:s, s:s}", "catchup", policy_catchup_name(p->catchup),
                         "catchup_window_ms", p->catchup_window_ms ? json_integer(p->catchup_window_ms) : json_null(),
                         "burst", p->burst, "overlap", policy_overlap_name(p->overlap), "jitter_ms",
                         (json_int_t) p->jitter_ms, "dst_gap", gap_names[p->dst_gap == TZ_GAP_SKIP ? 1 : 0],
                         "dst_repeat",
                         repeat_names[p->dst_repeat >= TZ_REPEAT_FIRST ? p->dst_repeat - TZ_REPEAT_FIRST : 0]);
}

/* "HH:MM" -> seconds after midnight; "24:00" allowed as an end. */
static int parse_hm(const char *s, int32_t *ret) {
        if (strlen(s) != 5 || s[2] != ':')
                return -1;
        for (int i = 0; i < 5; i++)
                if (i != 2 && (s[i] < '0' || s[i] > '9'))
                        return -1;
        int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
        if (m > 59 || h > 24 || (h == 24 && m))
                return -1;
        *ret = h * 3600 + m * 60;
        return 0;
}

int sleep_parse(const json_t *in, const char *default_tz, sleep_window **ret, size_t *ret_n, json_t **ret_norm,
                sked_err *err) {
        if (ret)
                *ret = NULL;
        if (ret_n)
                *ret_n = 0;
        *ret_norm = NULL;
        if (!in || json_is_null(in) || (json_is_array(in) && json_array_size(in) == 0))
                return 0;
        if (!json_is_array(in))
                return err_field(err, -EINVAL, "sleep", "expected a list of {from, to, tz} windows");
        size_t n = json_array_size(in);
        if (n > SLEEP_WINDOWS_MAX)
                return err_field(err, -EINVAL, "sleep", "at most %d windows", SLEEP_WINDOWS_MAX);
        sleep_window *w = calloc(n, sizeof *w);
        json_t *norm = json_array();
        int r = 0;
        if (!w || !norm) {
                r = err_set(err, -ENOMEM, "out of memory");
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                json_t *o = json_array_get(in, i);
                char f[48];
                snprintf(f, sizeof f, "sleep[%zu]", i);
                if (!json_is_object(o)) {
                        r = err_field(err, -EINVAL, f,
                                      "expected {\"from\": \"HH:MM\", \"to\": \"HH:MM\", \"tz\": ZONE}");
                        goto fail;
                }
                static const char *const sleep_keys[] = {"from", "to", "tz", NULL};
                const char *unknown = params_unknown_key(o, sleep_keys);
                if (unknown) {
                        r = err_field(err, -EINVAL, f, "unknown key \"%.40s\" (expected from, to, tz)", unknown);
                        goto fail;
                }
                const char *names[2] = {"from", "to"};
                int32_t secs[2];
                json_t *v;
                for (int k = 0; k < 2; k++) {
                        v = json_object_get(o, names[k]);
                        if (!json_is_string(v) || parse_hm(json_string_value(v), &secs[k]) < 0 ||
                            (k == 0 && secs[k] == 86400)) {
                                char ff[64];
                                snprintf(ff, sizeof ff, "%s.%s", f, names[k]);
                                r = err_field(err, -EINVAL, ff, "expected a wall time \"HH:MM\" (00:00 to %s)",
                                              k ? "24:00" : "23:59");
                                goto fail;
                        }
                }
                if (secs[0] == secs[1] || (secs[0] == 0 && secs[1] == 86400)) {
                        r = err_field(err, -EINVAL, f, "from and to must differ and leave part of the day awake");
                        goto fail;
                }
                v = json_object_get(o, "tz");
                if (v && !json_is_null(v) && !json_is_string(v)) {
                        char ff[64];
                        snprintf(ff, sizeof ff, "%s.tz", f);
                        r = err_field(err, -EINVAL, ff, "expected a time zone name");
                        goto fail;
                }
                const char *tzname = json_is_string(v) ? json_string_value(v) : default_tz ? default_tz : "UTC";
                const tz_zone *z;
                if (tz_load(tzname, &z, NULL) < 0) {
                        char ff[64];
                        snprintf(ff, sizeof ff, "%s.tz", f);
                        r = err_field(err, -EINVAL, ff, "\"%.64s\": not a time zone of the tz database", tzname);
                        goto fail;
                }
                w[i] = (sleep_window){.from_s = secs[0], .to_s = secs[1] % 86400, .zone = z};
                char a[16], b[16];
                snprintf(a, sizeof a, "%02d:%02d", secs[0] / 3600, secs[0] / 60 % 60);
                snprintf(b, sizeof b, "%02d:%02d", secs[1] / 3600, secs[1] / 60 % 60);
                /* a window without its own zone follows the series' zone, also after a change */
                json_t *nw = json_pack("{s:s, s:s}", "from", a, "to", b);
                if (json_is_string(v))
                        json_object_set_new(nw, "tz", json_string(tzname));
                json_array_append_new(norm, nw);
        }
        *ret_norm = norm;
        if (ret) {
                *ret = w;
                *ret_n = n;
        } else {
                free(w);
        }
        return 0;
fail:
        free(w);
        json_decref(norm);
        return r;
}

bool sleep_contains(const sleep_window *w, size_t n, sked_time t) {
        for (size_t i = 0; i < n; i++) {
                int64_t local;
                tz_local(w[i].zone, t, &local, NULL);
                int32_t tod = (int32_t) (((local % 86400) + 86400) % 86400);
                bool in = w[i].from_s < w[i].to_s ? tod >= w[i].from_s && tod < w[i].to_s
                                                  : tod >= w[i].from_s || tod < w[i].to_s;
                if (in)
                        return true;
        }
        return false;
}
