/* prom: Prometheus text format helpers (see prom.h). */
#include "base/prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_histogram_init(prom_histogram *h, const double *bounds, size_t nbounds) {
        if (nbounds > PROM_MAX_BUCKETS)
                nbounds = PROM_MAX_BUCKETS;
        h->bounds = bounds;
        h->nbounds = nbounds;
        for (size_t i = 0; i <= PROM_MAX_BUCKETS; i++)
                atomic_init(&h->counts[i], 0);
        atomic_init(&h->sum_ns, 0);
}

void prom_observe(prom_histogram *h, double seconds) {
        if (!(seconds > 0)) /* negative, zero or NaN */
                seconds = 0;
        size_t i = 0;
        while (i < h->nbounds && seconds > h->bounds[i])
                i++;
        atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
        double ns = seconds * 1e9;
        atomic_fetch_add_explicit(&h->sum_ns, ns < 1.8e19 ? (uint64_t) ns : UINT64_MAX / 2, memory_order_relaxed);
}

void prom_family(strbuf *b, const char *name, const char *type, const char *help) {
        strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_label_value(strbuf *b, const char *value) {
        for (const char *p = value ? value : ""; *p; p++) {
                if (*p == '\\')
                        strbuf_puts(b, "\\\\");
                else if (*p == '"')
                        strbuf_puts(b, "\\\"");
                else if (*p == '\n')
                        strbuf_puts(b, "\\n");
                else
                        strbuf_putc(b, *p);
        }
}

/* The shortest of %.15g..%.17g that reads back as v (0.005, not 0.0050000000000000001);
 * integers print without a fraction. */
static void put_number(strbuf *b, double v) {
        if (isnan(v))
                strbuf_puts(b, "NaN");
        else if (isinf(v))
                strbuf_puts(b, v > 0 ? "+Inf" : "-Inf");
        else if (v == floor(v) && fabs(v) < 1e15)
                strbuf_printf(b, "%.0f", v);
        else {
                char s[40];
                for (int prec = 15; prec <= 17; prec++) {
                        snprintf(s, sizeof s, "%.*g", prec, v);
                        if (strtod(s, NULL) == v)
                                break;
                }
                strbuf_puts(b, s);
        }
}

void prom_sample(strbuf *b, const char *name, const char *labels, double value) {
        strbuf_puts(b, name);
        if (labels && *labels)
                strbuf_printf(b, "{%s}", labels);
        strbuf_putc(b, ' ');
        put_number(b, value);
        strbuf_putc(b, '\n');
}

void prom_histogram_write(strbuf *b, const char *name, const char *labels, const prom_histogram *h) {
        bool have = labels && *labels;
        uint64_t cum = 0;
        for (size_t i = 0; i <= h->nbounds; i++) {
                cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
                strbuf_printf(b, "%s_bucket{%s%sle=\"", name, have ? labels : "", have ? "," : "");
                if (i < h->nbounds)
                        put_number(b, h->bounds[i]);
                else
                        strbuf_puts(b, "+Inf");
                strbuf_printf(b, "\"} %llu\n", (unsigned long long) cum);
        }
        char nm[160];
        snprintf(nm, sizeof nm, "%s_sum", name);
        prom_sample(b, nm, labels, (double) atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9);
        snprintf(nm, sizeof nm, "%s_count", name);
        prom_sample(b, nm, labels, (double) cum);
}
