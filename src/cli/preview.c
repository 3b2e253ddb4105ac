#include <stdio.h>

#include "cli/cli.h"

int cli_preview(int argc, char **argv) {
        (void) argc;
        (void) argv;
        fprintf(stderr, "sked preview: being written\n");
        return CLI_USAGE;
}
