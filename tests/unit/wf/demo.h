/* The shipped example examples/workflows/demo.approve.yaml (the example of issue 17),
 * read once: the unit tests check the file users are told to register, not a copy. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

static const char *demo_text(void) {
        static char *text;
        if (!text) {
                FILE *f = fopen(SKED_EXAMPLES "/workflows/demo.approve.yaml", "rb");
                if (!f)
                        fail_msg("cannot open %s", SKED_EXAMPLES "/workflows/demo.approve.yaml");
                text = calloc(1, 1 << 16);
                size_t n = text ? fread(text, 1, (1 << 16) - 1, f) : 0;
                fclose(f);
                if (!n)
                        fail_msg("cannot read the demo.approve example");
        }
        return text;
}
