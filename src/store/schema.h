/* schema: brings a database to the schema version `target` (or the newest this
 * binary knows), one migration per transaction.  -EPROTO when the database is
 * newer than the binary. */
#pragma once

#include "base/err.h"
#include "store/db.h"

/* *ret_version (may be NULL) gets the version in force after it. */
int schema_migrate(db *d, int target, int *ret_version, sked_err *err);
/* The newest version this binary knows. */
int schema_latest(void);
