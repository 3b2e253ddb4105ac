/* manifest: reads a process type manifest (YAML or JSON) into JSON.
 *
 * Only syntax is checked here; ptype_from_json() checks the structure.  YAML follows
 * the 1.2 core schema: plain `true`/`false` are booleans, `3` an integer, `1.5` a real,
 * `null`/`~`/nothing null, quoted scalars always strings.  Anchors, aliases, tags other
 * than the core ones, and more than one document are refused: a manifest is plain data.
 *
 * Thread-safe (libfyaml and jansson keep no global state we touch). */
#pragma once

#include <stddef.h>

#include <jansson.h>

#include "base/err.h"

#define MANIFEST_MAX_BYTES (1024 * 1024)
#define MANIFEST_MAX_DEPTH 32

/* Parses `text` (len bytes, need not be NUL-terminated) as JSON when its first
 * non-blank character is '{', else as YAML.  The top level must be a mapping.
 * `origin` (a file name, or NULL for "manifest") starts every message, with the position
 * when known: `ledger.yaml:3:9: flow sequence without a closing bracket`.
 * On success *ret is a new JSON object owned by the caller.
 * Returns 0, -EINVAL (bad syntax), -EFBIG (over MANIFEST_MAX_BYTES) or -ENOMEM. */
int manifest_parse(const char *text, size_t len, const char *origin, json_t **ret, sked_err *err);

/* Reads the file at `path` (at most MANIFEST_MAX_BYTES) and parses it as above with the
 * path as origin.  Returns what manifest_parse returns, or the negative errno of a failed
 * open/read (message `path: <strerror>`). */
int manifest_load(const char *path, json_t **ret, sked_err *err);

/* manifest_load(), then the structure check that registration makes
 * (ptype_from_json), so that every error the file can be fixed for names it, as
 * docs/manifests.md shows: `ledger.yaml: defaults.timout: unknown key (...)`
 * (err->field stays the key).  For `sked type register FILE`, which otherwise learns
 * of structure errors from the server, which never saw the file's name.  On success
 * *ret is the manifest's JSON (a new object, not normalized: the server does that).
 * Returns what manifest_load returns, or -EINVAL/-ENOMEM of the check. */
int manifest_load_checked(const char *path, json_t **ret, sked_err *err);
