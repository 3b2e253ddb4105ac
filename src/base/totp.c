/* totp: see totp.h. */
#include "base/totp.h"

#include <sodium.h>
#include <string.h>

/* ---- SHA-1 (libsodium has none; authenticator apps use it) ---- */

static uint32_t rol(uint32_t x, int n) {
        return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const unsigned char *p) {
        uint32_t w[80];
        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16 | (uint32_t) p[4 * i + 2] << 8 |
                       p[4 * i + 3];
        for (int i = 16; i < 80; i++)
                w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
                uint32_t f, k;
                if (i < 20)
                        f = (b & c) | (~b & d), k = 0x5A827999;
                else if (i < 40)
                        f = b ^ c ^ d, k = 0x6ED9EBA1;
                else if (i < 60)
                        f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
                else
                        f = b ^ c ^ d, k = 0xCA62C1D6;
                uint32_t t = rol(a, 5) + f + e + k + w[i];
                e = d, d = c, c = rol(b, 30), b = a, a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

void totp_sha1(const unsigned char *data, size_t len, unsigned char out[20]) {
        uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
        unsigned char buf[128];
        size_t full = len / 64 * 64;
        for (size_t i = 0; i < full; i += 64)
                sha1_block(h, data + i);
        size_t rest = len - full, n = rest < 56 ? 64 : 128;
        memset(buf, 0, sizeof buf);
        memcpy(buf, data + full, rest);
        buf[rest] = 0x80;
        uint64_t bits = (uint64_t) len * 8;
        for (int i = 0; i < 8; i++)
                buf[n - 1 - i] = (unsigned char) (bits >> (8 * i));
        sha1_block(h, buf);
        if (n == 128)
                sha1_block(h, buf + 64);
        for (int i = 0; i < 5; i++)
                for (int j = 0; j < 4; j++)
                        out[4 * i + j] = (unsigned char) (h[i] >> (24 - 8 * j));
}

static void hmac_sha1(const unsigned char *key, size_t keylen, const unsigned char *msg, size_t len,
                      unsigned char out[20]) {
        unsigned char k[64] = {0}, ipad[64 + 8], opad[64 + 20], inner[20];
        if (keylen > 64)
                totp_sha1(key, keylen, k);
        else
                memcpy(k, key, keylen);
        for (int i = 0; i < 64; i++) {
                ipad[i] = k[i] ^ 0x36;
                opad[i] = k[i] ^ 0x5c;
        }
        memcpy(ipad + 64, msg, len); /* len is 8 here */
        totp_sha1(ipad, 64 + len, inner);
        memcpy(opad + 64, inner, 20);
        totp_sha1(opad, sizeof opad, out);
        sodium_memzero(k, sizeof k);
}

uint32_t hotp(enum totp_hash h, const unsigned char *key, size_t keylen, uint64_t counter, int digits) {
        unsigned char msg[8], mac[64];
        size_t maclen;
        for (int i = 0; i < 8; i++)
                msg[7 - i] = (unsigned char) (counter >> (8 * i));
        if (h == TOTP_SHA256) {
                crypto_auth_hmacsha256_state st;
                crypto_auth_hmacsha256_init(&st, key, keylen);
                crypto_auth_hmacsha256_update(&st, msg, 8);
                crypto_auth_hmacsha256_final(&st, mac);
                maclen = 32;
        } else if (h == TOTP_SHA512) {
                crypto_auth_hmacsha512_state st;
                crypto_auth_hmacsha512_init(&st, key, keylen);
                crypto_auth_hmacsha512_update(&st, msg, 8);
                crypto_auth_hmacsha512_final(&st, mac);
                maclen = 64;
        } else {
                hmac_sha1(key, keylen, msg, 8, mac);
                maclen = 20;
        }
        int off = mac[maclen - 1] & 0x0f;
        uint32_t bin = (uint32_t) (mac[off] & 0x7f) << 24 | (uint32_t) mac[off + 1] << 16 |
                       (uint32_t) mac[off + 2] << 8 | mac[off + 3];
        uint32_t mod = 1;
        for (int i = 0; i < digits; i++)
                mod *= 10;
        return bin % mod;
}

uint32_t totp_at(enum totp_hash h, const unsigned char *key, size_t keylen, int64_t t, int step, int digits) {
        return hotp(h, key, keylen, (uint64_t) (t < 0 ? 0 : t / step), digits);
}

bool totp_verify(enum totp_hash h, const unsigned char *key, size_t keylen, int64_t t, const char *code, int digits,
                 uint64_t *ret_counter) {
        if (!code || strlen(code) != (size_t) digits || strspn(code, "0123456789") != (size_t) digits)
                return false;
        uint32_t want = 0;
        for (int i = 0; i < digits; i++)
                want = want * 10 + (uint32_t) (code[i] - '0');
        uint64_t now = (uint64_t) (t < 0 ? 0 : t / 30);
        bool ok = false;
        for (int d = -1; d <= 1; d++) { /* all three, so the time taken says nothing */
                uint64_t c = now + (uint64_t) (int64_t) d;
                if (hotp(h, key, keylen, c, digits) == want && !ok) {
                        ok = true;
                        if (ret_counter)
                                *ret_counter = c;
                }
        }
        return ok;
}

/* ---- base32 ---- */

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void base32_encode(const unsigned char *in, size_t n, char *out) {
        uint32_t buf = 0;
        int bits = 0;
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
                buf = buf << 8 | in[i];
                bits += 8;
                while (bits >= 5) {
                        out[o++] = alphabet[(buf >> (bits - 5)) & 31];
                        bits -= 5;
                }
        }
        if (bits > 0)
                out[o++] = alphabet[(buf << (5 - bits)) & 31];
        out[o] = '\0';
}

int base32_decode(const char *in, unsigned char *out, size_t cap) {
        uint32_t buf = 0;
        int bits = 0;
        size_t o = 0;
        for (; *in; in++) {
                char c = *in;
                if (c == ' ' || c == '=' || c == '-')
                        continue;
                if (c >= 'a' && c <= 'z')
                        c = (char) (c - 'a' + 'A');
                const char *p = strchr(alphabet, c);
                if (!p || !c)
                        return -1;
                buf = buf << 5 | (uint32_t) (p - alphabet);
                bits += 5;
                if (bits >= 8) {
                        if (o == cap)
                                return -1;
                        out[o++] = (unsigned char) (buf >> (bits - 8));
                        bits -= 8;
                }
        }
        return (int) o;
}
