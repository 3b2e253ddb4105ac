/* sdnotify: sd_notify(3)'s protocol over an AF_UNIX datagram socket; see sdnotify.h. */
#include "base/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/parse.h"

struct sdnotify {
        int fd;
        struct sockaddr_un addr;
        socklen_t len;
};

int sdnotify_open(sdnotify **ret) {
        const char *path = getenv("NOTIFY_SOCKET");
        *ret = NULL;
        if (!path || !*path)
                return 0;
        size_t n = strlen(path);
        sdnotify *s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->addr.sun_family = AF_UNIX;
        if ((path[0] != '/' && path[0] != '@') || n >= sizeof s->addr.sun_path || n < 2) {
                free(s);
                return -EINVAL;
        }
        memcpy(s->addr.sun_path, path, n);
        if (path[0] == '@')
                s->addr.sun_path[0] = '\0'; /* abstract: the name's length counts, no NUL after it */
        s->len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
        s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s->fd < 0) {
                int e = errno;
                free(s);
                return -e;
        }
        *ret = s;
        return 0;
}

int sdnotify_send(sdnotify *n, const char *state) {
        if (!n)
                return 0;
        /* MSG_NOSIGNAL: a manager that went away must not kill us with SIGPIPE */
        if (sendto(n->fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *) &n->addr, n->len) < 0)
                return -errno;
        return 1;
}

int64_t sdnotify_watchdog_usec(void) {
        const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
        int64_t v, p;
        if (!us || parse_int64(us, 1, INT64_MAX, &v) < 0)
                return 0;
        if (pid && *pid && (parse_int64(pid, 1, INT64_MAX, &p) < 0 || p != (int64_t) getpid()))
                return 0;
        return v;
}

void sdnotify_close(sdnotify *n) {
        if (!n)
                return;
        close(n->fd);
        free(n);
}
