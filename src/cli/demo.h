/* demo: the demo types of `sked serve --demo` (see demo.c). */
#pragma once

#include <stddef.h>

#include "sked/sked.h"

int demo_register(sked *s, char *errbuf, size_t errlen);
