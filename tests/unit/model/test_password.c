/* model/password: the rules (length in characters, control characters, the common
 * list without case) and argon2id hashes that verify. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "model/password.h"

static void rules(void **state) {
        (void) state;
        sked_err err = {0};
        assert_int_equal(password_check("correct horse", "password", &err), 0);
        assert_int_equal(password_check("1234567", "password", &err), -EINVAL);
        assert_string_equal(err.field, "password");
        assert_non_null(strstr(err.msg, "8 to 128"));
        /* 8 characters of two bytes each: counted as 8 */
        assert_int_equal(password_check("éàüöçñøå", "password", &err), 0);
        assert_int_equal(password_check("ééé", "password", &err), -EINVAL);
        char long_pw[200];
        memset(long_pw, 'k', 128);
        long_pw[0] = 'z';
        long_pw[128] = '\0';
        assert_int_equal(password_check(long_pw, "password", &err), 0);
        long_pw[128] = 'k';
        long_pw[129] = '\0';
        assert_int_equal(password_check(long_pw, "password", &err), -EINVAL);
        assert_int_equal(password_check("tab\there ok", "password", &err), -EINVAL);
        assert_int_equal(password_check(NULL, "password", &err), -EINVAL);
        /* common ones, any case, with the usual variations */
        const char *common[] = {"password",  "Password123", "QWERTYUIOP", "12345678", "letmein2024",
                                "iloveyou!", "p@ssw0rd",    "aaaaaaaa",   "1q2w3e4r", "dragon1234"};
        for (size_t i = 0; i < sizeof common / sizeof common[0]; i++) {
                assert_true(password_is_common(common[i]));
                assert_int_equal(password_check(common[i], "password", &err), -EINVAL);
                assert_non_null(strstr(err.msg, "common"));
        }
        assert_false(password_is_common("correct horse battery staple"));
}

static void hashes(void **state) {
        (void) state;
        char h[PASSWORD_HASH_LEN], h2[PASSWORD_HASH_LEN];
        assert_int_equal(password_hash("correct horse", h), 0);
        assert_int_equal(strncmp(h, "$argon2id$", 10), 0);
        assert_int_equal(password_verify(h, "correct horse"), 0);
        assert_int_equal(password_verify(h, "correct horsf"), -EACCES);
        assert_int_equal(password_verify(NULL, "x"), -EACCES);
        assert_int_equal(password_verify("plain", "plain"), -EACCES);
        assert_int_equal(password_hash("correct horse", h2), 0);
        assert_string_not_equal(h, h2); /* a salt of its own */
        char r1[25], r2[25];
        password_random(r1, sizeof r1);
        password_random(r2, sizeof r2);
        assert_int_equal(strlen(r1), 24);
        assert_string_not_equal(r1, r2);
        assert_int_equal(password_check(r1, "password", NULL), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(rules),
                cmocka_unit_test(hashes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
