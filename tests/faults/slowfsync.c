/* slowfsync: an LD_PRELOAD shim for the fault tests (test_faults.SlowFsync) that
 * makes every fsync and fdatasync of the process take SKED_TEST_FSYNC_MS longer, as
 * a disk under heavy load or a network file system would.  The sync still happens:
 * only its latency is injected. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h> /* fsync's and fdatasync's prototypes */

static void delay(void) {
        const char *v = getenv("SKED_TEST_FSYNC_MS");
        long ms = v ? strtol(v, NULL, 10) : 0;
        if (ms <= 0 || ms > 60000)
                return;
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0)
                ;
}

int fsync(int fd) {
        static int (*real)(int);
        if (!real)
                real = (int (*)(int)) dlsym(RTLD_NEXT, "fsync");
        delay();
        return real(fd);
}

int fdatasync(int fd) {
        static int (*real)(int);
        if (!real)
                real = (int (*)(int)) dlsym(RTLD_NEXT, "fdatasync");
        delay();
        return real(fd);
}
