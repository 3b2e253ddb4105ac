/* base/totp: SHA-1 (FIPS 180-4 examples), HOTP (RFC 4226 appendix D), TOTP (RFC 6238
 * appendix B, all three hashes), the verification window, base32 (RFC 4648 §10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/totp.h"

static void sha1(void **state) {
        (void) state;
        static const struct {
                const char *in, *hex;
        } v[] = {
                {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
                {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
                {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                 "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        };
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
                unsigned char out[20];
                char hex[41];
                totp_sha1((const unsigned char *) v[i].in, strlen(v[i].in), out);
                for (int k = 0; k < 20; k++)
                        snprintf(hex + 2 * k, 3, "%02x", out[k]);
                assert_string_equal(hex, v[i].hex);
        }
        /* a million 'a' (FIPS 180-2 example 3): many blocks */
        static unsigned char a[1000000];
        memset(a, 'a', sizeof a);
        unsigned char out[20];
        char hex[41];
        totp_sha1(a, sizeof a, out);
        for (int k = 0; k < 20; k++)
                snprintf(hex + 2 * k, 3, "%02x", out[k]);
        assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void hotp_rfc4226(void **state) {
        (void) state;
        static const uint32_t want[] = {755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489};
        const unsigned char *key = (const unsigned char *) "12345678901234567890";
        for (uint64_t c = 0; c < 10; c++)
                assert_int_equal(hotp(TOTP_SHA1, key, 20, c, 6), want[c]);
}

static void totp_rfc6238(void **state) {
        (void) state;
        const unsigned char *k1 = (const unsigned char *) "12345678901234567890";
        const unsigned char *k256 = (const unsigned char *) "12345678901234567890123456789012";
        const unsigned char *k512 =
                (const unsigned char *) "1234567890123456789012345678901234567890123456789012345678901234";
        static const struct {
                int64_t t;
                uint32_t sha1, sha256, sha512;
        } v[] = {
                {59, 94287082, 46119246, 90693936},         {1111111109, 7081804, 68084774, 25091201},
                {1111111111, 14050471, 67062674, 99943326}, {1234567890, 89005924, 91819424, 93441116},
                {2000000000, 69279037, 90698825, 38618901}, {20000000000, 65353130, 77737706, 47863826},
        };
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
                assert_int_equal(totp_at(TOTP_SHA1, k1, 20, v[i].t, 30, 8), v[i].sha1);
                assert_int_equal(totp_at(TOTP_SHA256, k256, 32, v[i].t, 30, 8), v[i].sha256);
                assert_int_equal(totp_at(TOTP_SHA512, k512, 64, v[i].t, 30, 8), v[i].sha512);
        }
}

static void verify_window(void **state) {
        (void) state;
        const unsigned char *k = (const unsigned char *) "12345678901234567890";
        char code[8];
        uint64_t c = 0;
        snprintf(code, sizeof code, "%06u", totp_at(TOTP_SHA1, k, 20, 1000 * 30, 30, 6));
        assert_true(totp_verify(TOTP_SHA1, k, 20, 1000 * 30 + 5, code, 6, &c));
        assert_int_equal(c, 1000);
        assert_true(totp_verify(TOTP_SHA1, k, 20, 1001 * 30 + 29, code, 6, &c)); /* one step late */
        assert_true(totp_verify(TOTP_SHA1, k, 20, 999 * 30, code, 6, &c));       /* one step early */
        assert_false(totp_verify(TOTP_SHA1, k, 20, 1002 * 30, code, 6, &c));
        assert_false(totp_verify(TOTP_SHA1, k, 20, 1000 * 30, "12345", 6, &c));
        assert_false(totp_verify(TOTP_SHA1, k, 20, 1000 * 30, "12a456", 6, &c));
        assert_false(totp_verify(TOTP_SHA1, k, 20, 1000 * 30, NULL, 6, &c));
}

static void base32(void **state) {
        (void) state;
        static const struct {
                const char *in, *out;
        } v[] = {{"", ""},
                 {"f", "MY"},
                 {"fo", "MZXQ"},
                 {"foo", "MZXW6"},
                 {"foob", "MZXW6YQ"},
                 {"fooba", "MZXW6YTB"},
                 {"foobar", "MZXW6YTBOI"}};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
                char out[32];
                unsigned char back[32];
                base32_encode((const unsigned char *) v[i].in, strlen(v[i].in), out);
                assert_string_equal(out, v[i].out);
                int n = base32_decode(out, back, sizeof back);
                assert_int_equal(n, (int) strlen(v[i].in));
                assert_memory_equal(back, v[i].in, (size_t) n);
        }
        unsigned char b[8];
        assert_int_equal(base32_decode("mzxw 6ytb oi==", b, sizeof b), 6);
        assert_memory_equal(b, "foobar", 6);
        assert_int_equal(base32_decode("MZ1W", b, sizeof b), -1);
        assert_int_equal(base32_decode("MZXW6YTBOI", b, 3), -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(sha1),          cmocka_unit_test(hotp_rfc4226), cmocka_unit_test(totp_rfc6238),
                cmocka_unit_test(verify_window), cmocka_unit_test(base32),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
