/* prom: what the Prometheus text format (version 0.0.4) needs: histograms with fixed
 * buckets that several threads update at once, family headers, escaped label values
 * and numbers (docs/operations.md, "Metrics").
 *
 * A histogram counts observations in seconds (Prometheus' base unit) into the
 * buckets given by `bounds` (ascending upper bounds, the +Inf bucket implied).  Its
 * counters are atomics: prom_observe from any thread, prom_histogram_write while
 * others observe (a scrape may see one observation in the count and not yet in the
 * sum; Prometheus tolerates that). */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"

#define PROM_MAX_BUCKETS 20

typedef struct prom_histogram {
        const double *bounds; /* nbounds ascending upper bounds, in seconds; borrowed, static */
        size_t nbounds;
        _Atomic uint64_t counts[PROM_MAX_BUCKETS + 1]; /* per bucket (not cumulative); the last: +Inf */
        _Atomic uint64_t sum_ns;                       /* the sum of the observations, in nanoseconds */
} prom_histogram;

/* Sets h up with bounds (at most PROM_MAX_BUCKETS; more are ignored), all counts 0. */
void prom_histogram_init(prom_histogram *h, const double *bounds, size_t nbounds);
/* Counts one observation of `seconds` (negative ones count as 0). */
void prom_observe(prom_histogram *h, double seconds);

/* "# HELP name help\n# TYPE name type\n" (help is plain text without newlines). */
void prom_family(strbuf *b, const char *name, const char *type, const char *help);
/* `value` escaped for a label value: backslash, double quote and newline. */
void prom_label_value(strbuf *b, const char *value);
/* A sample line: name{labels} value, where `labels` is a ready "k=\"v\",..." list or
 * NULL/"" for none. */
void prom_sample(strbuf *b, const char *name, const char *labels, double value);
/* The _bucket (cumulative, with le), _sum and _count lines of h under name{labels}. */
void prom_histogram_write(strbuf *b, const char *name, const char *labels, const prom_histogram *h);
