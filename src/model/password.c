/* password: see password.h. */
#include "model/password.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

static const char *const common[] = {
#include "model/common_passwords.inc"
};

static int cmp(const void *a, const void *b) {
        return strcmp(a, *(const char *const *) b);
}

bool password_is_common(const char *pw) {
        char low[PASSWORD_MAX * 4 + 1];
        size_t n = strlen(pw);
        if (n >= sizeof low)
                return false;
        for (size_t i = 0; i <= n; i++)
                low[i] = (char) tolower((unsigned char) pw[i]);
        return bsearch(low, common, sizeof common / sizeof common[0], sizeof common[0], cmp) != NULL;
}

static size_t code_points(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                if (((unsigned char) *s & 0xC0) != 0x80)
                        n++;
        return n;
}

int password_check(const char *pw, const char *field, sked_err *err) {
        if (!pw)
                return err_field(err, -EINVAL, field, "expected a string");
        size_t len = strlen(pw);
        if (!utf8_is_text(pw, len, NULL))
                return err_field(err, -EINVAL, field, "expected UTF-8 text without control characters");
        size_t n = code_points(pw);
        if (n < PASSWORD_MIN || n > PASSWORD_MAX)
                return err_field(err, -EINVAL, field, "%s: expected %d to %d characters, got %zu", field, PASSWORD_MIN,
                                 PASSWORD_MAX, n);
        if (password_is_common(pw))
                return err_field(err, -EINVAL, field,
                                 "this password is one of the most common ones; choose another (a few "
                                 "unrelated words are easy to remember and hard to guess)");
        return 0;
}

static sem_t pool;
static int pool_ready = -1;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_init(void) {
        pool_ready = sodium_init() >= 0 && sem_init(&pool, 0, PASSWORD_HASHES_MAX) == 0 ? 0 : -ENOMEM;
}

static int pool_take(void) {
        pthread_once(&pool_once, pool_init);
        if (pool_ready < 0)
                return pool_ready;
        while (sem_trywait(&pool) < 0)
                if (errno != EINTR)
                        return -EBUSY;
        return 0;
}

int password_hash(const char *pw, char out[PASSWORD_HASH_LEN]) {
        int r = pool_take();
        if (r < 0)
                return r;
        _Static_assert(PASSWORD_HASH_LEN >= crypto_pwhash_STRBYTES, "hash buffer");
        r = crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
                    ? 0
                    : -ENOMEM;
        sem_post(&pool);
        return r;
}

int password_verify(const char *hash, const char *pw) {
        if (!hash || strncmp(hash, "$argon2id$", 10) != 0 || !pw)
                return -EACCES;
        int r = pool_take();
        if (r < 0)
                return r;
        r = crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0 ? 0 : -EACCES;
        sem_post(&pool);
        return r;
}

void password_random(char *out, size_t n) {
        static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        pthread_once(&pool_once, pool_init);
        for (size_t i = 0; i + 1 < n; i++)
                out[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
        out[n - 1] = '\0';
}
