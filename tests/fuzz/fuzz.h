/* fuzz: what every fuzz target (tests/fuzz/fuzz_*.c) shares.
 *
 * A target defines LLVMFuzzerTestOneInput, which libFuzzer calls (make fuzz) and
 * tests/fuzz/replay.c calls once per corpus file (make test).  FUZZ_CHECK states an
 * invariant: when it fails, the target says which and aborts, which both drivers
 * report as a crash with the input that caused it. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...)                                                                                          \
        do {                                                                                                           \
                if (!(cond)) {                                                                                         \
                        fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond);                   \
                        fprintf(stderr, __VA_ARGS__);                                                                  \
                        fputc('\n', stderr);                                                                           \
                        abort();                                                                                       \
                }                                                                                                      \
        } while (0)

/* A NUL-terminated copy of the input (the caller frees), or NULL when out of memory. */
static inline char *fuzz_text(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (s) {
                memcpy(s, data, size);
                s[size] = '\0';
        }
        return s;
}

/* Splits s in place at its first n-1 newlines into parts[0..n); the last part takes
 * the rest.  Parts not present are "". */
static inline void fuzz_lines(char *s, char **parts, int n) {
        for (int i = 0; i < n; i++) {
                parts[i] = s;
                if (i == n - 1)
                        break;
                char *nl = strchr(s, '\n');
                if (nl) {
                        *nl = '\0';
                        s = nl + 1;
                } else {
                        s = s + strlen(s);
                }
        }
}
