/* query: the filter language users attach to a series to pick the items a run handles.
 *
 * A query compares the type's queryable fields (its manifest's query_fields) with
 * literal values and combines comparisons with and, or, not and parentheses.  It has
 * a text form, `region = "eu" and not (amount < 100 or tier in ("gold", "silver"))`, and
 * one canonical JSON form (the AST), which is what gets stored and handed to handlers:
 *
 *   {"and": [c1, c2, ...]}   {"or": [c1, c2, ...]}   {"not": c}
 *   {"field": "amount", "op": ">=", "value": 100}
 *   ops: = != < <= > >= contains, and in (value: non-empty list), between (value: [lo, hi])
 *
 * See docs/queries.md.  All functions are pure and thread-safe. */
#pragma once

#include <stdbool.h>

#include <jansson.h>

#include "base/err.h"

#define QUERY_TEXT_MAX 8192 /* bytes of query text */
#define QUERY_DEPTH_MAX 32  /* nesting of and/or/not/parentheses */
#define QUERY_NODES_MAX 256 /* comparisons plus and/or/not nodes */
#define QUERY_LIST_MAX 256  /* values in an `in` list */

/* Parses query text into a new AST (*ret_ast, caller owns).  Only syntax is checked:
 * field names and value types are query_validate()'s job.  Keywords (and, or, not, in,
 * between, contains, true, false) are case-insensitive; strings are double-quoted with
 * JSON escapes; numbers are JSON numbers; bare ISO dates/datetimes (2026-01-31,
 * 2026-01-31T08:00:00Z) are strings.  `a and b and c` gives one "and" with three
 * children; not binds tighter than and, and tighter than or.
 * Errors (-EINVAL) name the 1-based byte position: `query: at 17: expected a value after "="`. */
int query_parse_text(const char *text, json_t **ret_ast, sked_err *err);

/* Checks an AST (from query_parse_text or from a user's JSON) against a type's
 * normalized query_fields and returns the normalized AST: nested and-in-and / or-in-or
 * flattened, one-child and/or collapsed, values coerced to the field's type.
 * Errors (-EINVAL): `query.amount: not a queryable field of this type (expected one of:
 * region, tier)`, `query.flag: operator "<" not allowed for a bool field (allowed: =, !=)`,
 * `query.day: expected a date (YYYY-MM-DD), got "tomorrow"`, or `query: ...` for a
 * malformed AST.  -ENOMEM on allocation failure. */
int query_validate(const json_t *fields, const json_t *ast, json_t **ret_normalized, sked_err *err);

/* Evaluates a validated AST against a JSON object of field values.  A comparison whose
 * field is absent or null, or holds a value of another JSON type, is false (so is `!=`;
 * `not` still negates).  Strings compare bytewise (ISO dates and datetimes in the
 * canonical format therefore compare chronologically); contains is case-sensitive.
 * Returns 0 with *ret set, or -EINVAL for a malformed AST. */
int query_eval(const json_t *ast, const json_t *item, bool *ret);

/* Canonical text of an AST: lower-case keywords, quoted strings, parentheses only where
 * needed; query_parse_text() of the result gives back an equal AST.  Returns a new
 * string (free() it) or NULL for a malformed AST or out of memory. */
char *query_to_text(const json_t *ast);
