#include "api/auth.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_MIN 16

static int sodium_ready(void) {
        /* sodium_init() is thread-safe and idempotent: 0 first time, 1 after */
        return sodium_init() < 0 ? -EIO : 0;
}

int auth_token_generate(char out[AUTH_TOKEN_LEN + 1]) {
        unsigned char raw[AUTH_TOKEN_LEN / 2];
        if (sodium_ready() < 0)
                return -EIO;
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(out, AUTH_TOKEN_LEN + 1, raw, sizeof raw);
        sodium_memzero(raw, sizeof raw);
        return 0;
}

int auth_token_hash(const char *token, unsigned char out[AUTH_HASH_LEN]) {
        if (sodium_ready() < 0)
                return -EIO;
        crypto_generichash(out, AUTH_HASH_LEN, (const unsigned char *) token, strlen(token), NULL, 0);
        return 0;
}

bool auth_token_matches(const char *presented, const unsigned char hash[AUTH_HASH_LEN]) {
        unsigned char h[AUTH_HASH_LEN];
        if (!presented || !hash || auth_token_hash(presented, h) < 0)
                return false;
        return sodium_memcmp(h, hash, AUTH_HASH_LEN) == 0;
}

/* A token is one line of 16..64 printable, non-space ASCII characters. */
static bool token_valid(const char *t, size_t n) {
        if (n < TOKEN_MIN || n > AUTH_TOKEN_LEN)
                return false;
        for (size_t i = 0; i < n; i++)
                if (t[i] <= ' ' || t[i] > '~')
                        return false;
        return true;
}

static int read_token(int fd, const char *path, char out[AUTH_TOKEN_LEN + 1], sked_err *err) {
        struct stat st;
        char buf[AUTH_TOKEN_LEN + 8];
        size_t n = 0;

        if (fstat(fd, &st) < 0)
                return err_field(err, -errno, "token_file", "%s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return err_field(err, -EINVAL, "token_file", "%s: not a regular file", path);
        if (st.st_mode & (S_IRWXG | S_IRWXO))
                return err_field(err, -EPERM, "token_file",
                                 "%s: mode %04o lets group or others access the admin token; "
                                 "run 'chmod 600 %s'",
                                 path, (unsigned) (st.st_mode & 07777), path);
        if (st.st_uid != geteuid())
                return err_field(err, -EPERM, "token_file", "%s: owned by uid %u, not by us (uid %u)", path,
                                 (unsigned) st.st_uid, (unsigned) geteuid());
        for (;;) {
                ssize_t k = read(fd, buf + n, sizeof buf - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return err_field(err, -errno, "token_file", "%s: %s", path, strerror(errno));
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n == sizeof buf)
                        break;
        }
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                n--;
        if (!token_valid(buf, n)) {
                sodium_memzero(buf, sizeof buf);
                return err_field(err, -EINVAL, "token_file", "%s: expected one line of %d..%d printable characters",
                                 path, TOKEN_MIN, AUTH_TOKEN_LEN);
        }
        memcpy(out, buf, n);
        out[n] = '\0';
        sodium_memzero(buf, sizeof buf);
        return 0;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Creates path holding a new token.  Returns -EEXIST if someone else won the race. */
static int create_token(const char *path, char out[AUTH_TOKEN_LEN + 1], sked_err *err) {
        char tmp[PATH_MAX], dir[PATH_MAX], tok[AUTH_TOKEN_LEN + 2];
        int fd = -1, dfd = -1, r;
        bool linked_tmp = false;

        if ((size_t) snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp)
                return err_field(err, -ENAMETOOLONG, "token_file", "%s: path too long", path);
        snprintf(dir, sizeof dir, "%s", path);
        if (auth_token_generate(tok) < 0)
                return err_field(err, -EIO, "token_file", "%s: cannot generate a token (libsodium)", path);

        /* mkostemp opens with O_CREAT|O_EXCL (mode 0600), so it never follows or
         * reuses an existing name */
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = err_field(err, -errno, "token_file", "%s: cannot create: %s", path, strerror(errno));
                goto out;
        }
        linked_tmp = true;
        if (fchmod(fd, 0600) < 0) {
                r = err_field(err, -errno, "token_file", "%s: chmod: %s", tmp, strerror(errno));
                goto out;
        }
        memcpy(out, tok, AUTH_TOKEN_LEN + 1);
        tok[AUTH_TOKEN_LEN] = '\n';
        r = write_all(fd, tok, AUTH_TOKEN_LEN + 1);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r < 0) {
                err_field(err, r, "token_file", "%s: write: %s", tmp, strerror(-r));
                goto out;
        }
        /* link() fails with EEXIST instead of replacing: create-if-absent, atomically */
        if (link(tmp, path) < 0) {
                r = -errno;
                if (r != -EEXIST)
                        err_field(err, r, "token_file", "%s: %s", path, strerror(-r));
                goto out;
        }
        dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        r = 0;
out:
        if (linked_tmp)
                (void) unlink(tmp);
        if (fd >= 0)
                close(fd);
        if (dfd >= 0)
                close(dfd);
        sodium_memzero(tok, sizeof tok);
        if (r < 0)
                sodium_memzero(out, AUTH_TOKEN_LEN + 1);
        return r;
}

int auth_token_file_ensure(const char *path, char out[AUTH_TOKEN_LEN + 1], bool *ret_created, sked_err *err) {
        char tok[AUTH_TOKEN_LEN + 1];
        int r;

        if (!path || !*path)
                return err_field(err, -EINVAL, "token_file", "no path given");
        /* two rounds: if a concurrent process creates the file between our failed
         * open and our link, read what it wrote */
        for (int round = 0; round < 2; round++) {
                int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
                if (fd >= 0) {
                        r = read_token(fd, path, tok, err);
                        close(fd);
                        if (r < 0)
                                return r;
                        memcpy(out, tok, sizeof tok);
                        sodium_memzero(tok, sizeof tok);
                        if (ret_created)
                                *ret_created = false;
                        return 0;
                }
                if (errno == ELOOP)
                        return err_field(err, -ELOOP, "token_file", "%s: is a symbolic link; refusing to follow it",
                                         path);
                if (errno != ENOENT)
                        return err_field(err, -errno, "token_file", "%s: %s", path, strerror(errno));
                r = create_token(path, tok, err);
                if (r == 0) {
                        memcpy(out, tok, sizeof tok);
                        sodium_memzero(tok, sizeof tok);
                        if (ret_created)
                                *ret_created = true;
                        return 0;
                }
                if (r != -EEXIST)
                        return r;
        }
        return err_field(err, -EEXIST, "token_file", "%s: appeared and vanished while creating it", path);
}
