/* schema: brings a database to the schema version `target` (or the newest this
 * binary knows), one migration per transaction.  -EPROTO when the database is
 * newer than the binary. */
#pragma once

#include "base/err.h"
#include "store/db.h"

int schema_migrate(db *d, int target, sked_err *err);

/* The schema version of the database (0 for an empty one). */
int schema_version(db *d, int *ret, sked_err *err);
/* The newest version this binary knows. */
int schema_latest(void);
