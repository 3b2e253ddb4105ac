/* params: parameter schemas of process types and validation of parameter values.
 *
 * A schema is the normalized JSON array that params_schema_normalize() returns; a
 * parameter set is a JSON object { name: value }.  Query fields (the fields a user's
 * query may filter on) share the definition format, minus defaults and limits, and are
 * normalized by params_fields_normalize().
 *
 * All functions are pure and thread-safe (they only read their inputs, which callers
 * must not modify concurrently).  Returned JSON is new (caller owns one reference). */
#pragma once

#include <stdbool.h>

#include <jansson.h>

#include "base/err.h"

#define PARAMS_MAX 100              /* parameters per type, query fields per type */
#define PARAMS_NAME_MAX 64          /* characters in a parameter or field name */
#define PARAMS_VALUES_MAX 256       /* entries in a values list */
#define PARAMS_STRING_MAX 65536     /* bytes in a string value */
#define PARAMS_DESCRIPTION_MAX 4096 /* bytes in a description */

/* Flag for params_check_value(): skip the values allow-list (for ordering and
 * substring comparisons in queries, where the operand need not be a listed value). */
#define PARAMS_NO_ALLOWLIST 1u

/* Validates and normalizes a manifest's `params` list (NULL = no parameters).
 * Each entry: name (^[a-z_][a-z0-9_]{0,63}$, unique), type (string, int, number, bool,
 * date, datetime, enum, json), required (default false), default (validated against the
 * entry itself), values (required for enum; allow-list for string/int/number), min/max
 * (int/number), max_length (string), description.  Normalized entries carry name, type
 * and required always, the other keys only when given.  Errors name the entry:
 * `params.amount.min: expected an integer, got "x"` (`params[2]` before a name is known).
 * Returns 0 or -EINVAL / -ENOMEM; *ret written only on success. */
int params_schema_normalize(const json_t *in, json_t **ret, sked_err *err);

/* Same for a manifest's `query_fields` list: keys name, type (string, int, number, bool,
 * date, datetime, enum), values, description.  Names must not be a query keyword (and,
 * or, not, in, between, contains, true, false).  Errors are prefixed `query_fields`. */
int params_fields_normalize(const json_t *in, json_t **ret, sked_err *err);

/* Validates a parameter set `in` (an object; NULL or JSON null = {}) against a
 * normalized schema.  On success *ret_normalized is a new object holding, in schema
 * order, every given parameter (coerced to its type: "12" -> 12 for int, "true" -> true
 * for bool) and every absent parameter that has a default.  A JSON null value counts as
 * absent.  Errors: `params.foo: unknown parameter (expected one of: account, amount)`,
 * `params.account: required`, `params.amount: expected an integer, got "12x"`, ...
 * Returns 0, -EINVAL or -ENOMEM. */
int params_validate(const json_t *schema, const json_t *in, json_t **ret_normalized, sked_err *err);

/* Checks one non-null value against one normalized definition (a params or query_fields
 * entry) and returns the coerced value in *ret (new reference).  `field` names the value
 * in messages.  `flags`: PARAMS_NO_ALLOWLIST or 0.  Returns 0, -EINVAL or -ENOMEM. */
int params_check_value(const json_t *def, const json_t *v, const char *field, unsigned flags, json_t **ret,
                       sked_err *err);

/* Describes a JSON value for a message: strings quoted (shortened past 40 bytes), numbers
 * and true/false/null as JSON, containers as "an array"/"an object".  buf >= 64 bytes. */
void params_describe(const json_t *v, char *buf, size_t len);

/* The first key of object obj that is not in `known` (NULL-terminated), or NULL. */
const char *params_unknown_key(const json_t *obj, const char *const *known);
