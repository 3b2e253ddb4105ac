/* second_factor: see second_factor.h. */
#include "api/second_factor.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/totp.h"

#define DIGITS 6
#define STEP 30
static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

void second_factor_secret(char out[TOTP_SECRET_MAX + 1]) {
        unsigned char key[SF_SECRET_BYTES];
        randombytes_buf(key, sizeof key);
        base32_encode(key, sizeof key, out);
        sodium_memzero(key, sizeof key);
}

void second_factor_uri(const char *name, const char *secret, char out[SF_URI_MAX]) {
        char label[3 * 64 + 1];
        size_t n = 0;
        /* user names are a-z 0-9 _ . - @ (routes_users.c): only '@' needs escaping */
        for (const char *p = name; *p && n + 4 < sizeof label; p++)
                n += (size_t) snprintf(label + n, sizeof label - n, *p == '@' ? "%%40" : "%c", *p);
        label[n] = '\0';
        snprintf(out, SF_URI_MAX, "otpauth://totp/sked:%s?secret=%s&issuer=sked&algorithm=SHA1&digits=%d&period=%d",
                 label, secret, DIGITS, STEP);
}

/* The hash of a recovery code of user_id (normalized: 16 letters of the alphabet):
 * BLAKE2b-256 keyed with a label, over the user's id and the code.  A fast hash is
 * enough for 80 random bits (docs/internals.md "TOTP"). */
static void recovery_hash(int64_t user_id, const char *norm, char out[SF_HASH_HEX]) {
        static const unsigned char key[] = "sked recovery code v1";
        char buf[64];
        unsigned char h[32];
        int n = snprintf(buf, sizeof buf, "%lld:%s", (long long) user_id, norm);
        crypto_generichash(h, sizeof h, (const unsigned char *) buf, (size_t) n, key, sizeof key - 1);
        sodium_bin2hex(out, SF_HASH_HEX, h, sizeof h);
        sodium_memzero(buf, sizeof buf);
}

void second_factor_recovery(int64_t user_id, char codes[SF_RECOVERY_CODES][SF_RECOVERY_LEN + 1],
                            char hashes[SF_RECOVERY_CODES][SF_HASH_HEX]) {
        for (int i = 0; i < SF_RECOVERY_CODES; i++) {
                char norm[17];
                for (int k = 0; k < 16; k++)
                        norm[k] = alphabet[randombytes_uniform(32)];
                norm[16] = '\0';
                snprintf(codes[i], SF_RECOVERY_LEN + 1, "%.4s-%.4s-%.4s-%.4s", norm, norm + 4, norm + 8, norm + 12);
                recovery_hash(user_id, norm, hashes[i]);
                sodium_memzero(norm, sizeof norm);
        }
}

int second_factor_totp(const char *secret, const char *code, sked_time now, int64_t *ret_step) {
        unsigned char key[TOTP_SECRET_MAX];
        if (strlen(code) != DIGITS || strspn(code, "0123456789") != DIGITS)
                return 0;
        int n = base32_decode(secret, key, sizeof key);
        if (n <= 0)
                return 0;
        uint64_t step = 0;
        bool ok = totp_verify(TOTP_SHA1, key, (size_t) n, now / 1000000, code, DIGITS, &step);
        sodium_memzero(key, sizeof key);
        if (!ok)
                return 0;
        *ret_step = (int64_t) step;
        return 1;
}

int second_factor_check(store *s, int64_t user_id, const char *code, sked_time now, second_factor_use *ret,
                        sked_err *err) {
        totp_row t;
        int r = store_totp_get(s, user_id, &t, err);
        if (r <= 0 || !t.confirmed)
                goto done;
        int64_t step = 0;
        if (strlen(code) == DIGITS && strspn(code, "0123456789") == DIGITS) {
                r = second_factor_totp(t.secret, code, now, &step) == 1 && step > t.last_step;
                if (r == 1)
                        *ret = (second_factor_use){.step = step};
                goto done;
        }
        char norm[17];
        size_t n = 0;
        for (const char *p = code; *p; p++) {
                if (*p == '-' || *p == ' ')
                        continue;
                char c = (char) tolower((unsigned char) *p);
                if (!strchr(alphabet, c) || c == '\0' || n == 16) {
                        r = 0;
                        goto done;
                }
                norm[n++] = c;
        }
        norm[n] = '\0';
        if (n != 16) {
                r = 0;
                goto done;
        }
        second_factor_use u = {0};
        recovery_hash(user_id, norm, u.recovery);
        sodium_memzero(norm, sizeof norm);
        if ((r = store_recovery_find(s, user_id, u.recovery, err)) == 1)
                *ret = u;
done:
        sodium_memzero(&t, sizeof t);
        return r;
}
