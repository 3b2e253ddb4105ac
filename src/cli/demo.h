/* demo: the demo types and series of `sked serve --demo` (see demo.c). */
#pragma once

#include <stddef.h>

#include "sked/sked.h"

/* Registers the demo's types and, on a store without them, its series (`s` is the
 * engine of `sked serve`, before it starts).  On failure, writes the reason to errbuf. */
int demo_register(sked *s, char *errbuf, size_t errlen);
