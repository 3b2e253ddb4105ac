/* replay: the fuzz targets' main for `make test` (no libFuzzer, any compiler).  Feeds
 * each file named on the command line, or each file of each directory named, to
 * LLVMFuzzerTestOneInput, in name order, and prints how many it ran.  A crash or a
 * failed invariant aborts the process (the test fails) after naming the file. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv) {
        return 0;
}

static int run_file(const char *path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -1;
        }
        size_t cap = 4096, len = 0;
        unsigned char *buf = malloc(cap);
        size_t k;
        while (buf && (k = fread(buf + len, 1, cap - len, f)) > 0) {
                len += k;
                if (len == cap) {
                        unsigned char *nb = realloc(buf, cap *= 2);
                        if (!nb)
                                free(buf);
                        buf = nb;
                }
        }
        fclose(f);
        if (!buf) {
                fprintf(stderr, "%s: out of memory\n", path);
                return -1;
        }
        fprintf(stderr, "replay: %s\n", path);
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv) {
        int ran = 0, bad = 0;
        LLVMFuzzerInitialize(&argc, &argv);
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        bad++;
                        continue;
                }
                if (!S_ISDIR(st.st_mode)) {
                        bad += run_file(argv[i]) < 0;
                        ran++;
                        continue;
                }
                struct dirent **ents;
                int n = scandir(argv[i], &ents, NULL, by_name);
                if (n < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        bad++;
                        continue;
                }
                for (int j = 0; j < n; j++) {
                        if (ents[j]->d_name[0] != '.') {
                                char path[4096];
                                snprintf(path, sizeof path, "%s/%s", argv[i], ents[j]->d_name);
                                bad += run_file(path) < 0;
                                ran++;
                        }
                        free(ents[j]);
                }
                free(ents);
        }
        printf("replay: %d inputs, %d unreadable\n", ran, bad);
        return bad || ran == 0 ? 1 : 0;
}
