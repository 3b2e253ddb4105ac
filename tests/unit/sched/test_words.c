/* schedule_words: the schedule in words, and its own text for what it does not say. */
#include "testutil.h"

#include "sched/words.h"

static void says(const char *spec, const char *tz, const char *want) {
        char buf[256];
        schedule_words(spec, tz, buf, sizeof buf);
        if (strcmp(buf, want) != 0)
                fail_msg("schedule_words(\"%s\", \"%s\"):\n  got  \"%s\"\n  want \"%s\"", spec, tz ? tz : "(null)", buf,
                         want);
}

/* Each of specs[0..n) is given as its own text. */
static void says_itself(const char *const *specs, size_t n) {
        for (size_t i = 0; i < n; i++)
                says(specs[i], "UTC", specs[i]);
}

static void rrules(void **state) {
        (void) state;
        says("RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0", "Europe/Berlin", "Every day at 09:00, Europe/Berlin");
        says("RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=2;BYMINUTE=30", "Europe/Paris",
             "Every weekday at 02:30, Europe/Paris");
        says("FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0;BYSECOND=0", "UTC", "Every Friday at 16:00, UTC");
        says("RRULE:FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=8,20;BYMINUTE=15", "UTC", "On weekends at 08:15 and 20:15, UTC");
        says("RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=6,12,18;BYMINUTE=5", "UTC",
             "On Monday, Wednesday and Friday at 06:05, 12:05 and 18:05, UTC");
        says("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=7;BYMINUTE=0", "UTC",
             "Every 2 weeks on Tuesday at 07:00, UTC");
        says("RRULE:FREQ=DAILY;INTERVAL=3;BYHOUR=23;BYMINUTE=59", "UTC", "Every 3 days at 23:59, UTC");
        says("RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=1;BYMINUTE=0", "UTC", "Every day at 01:00, UTC");
        says("RRULE:FREQ=MONTHLY;BYMONTHDAY=15;BYHOUR=12;BYMINUTE=0", "UTC", "Monthly on day 15 at 12:00, UTC");
        says("RRULE:FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=22;BYMINUTE=0", "UTC", "Monthly on the last day at 22:00, UTC");
        says("RRULE:FREQ=MONTHLY;BYDAY=2TU;BYHOUR=10;BYMINUTE=0", "UTC", "Monthly on the second Tuesday at 10:00, UTC");
        says("RRULE:FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=10;BYMINUTE=0", "UTC", "Monthly on the last Friday at 10:00, UTC");
        says("RRULE:FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1;BYHOUR=0;BYMINUTE=0", "UTC",
             "Every 3 months on day 1 at 00:00, UTC");
        says("RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1;BYHOUR=6;BYMINUTE=0", "UTC",
             "Every year on 1 March at 06:00, UTC");
        says("RRULE:FREQ=HOURLY;INTERVAL=6", "UTC", "Every 6 hours, UTC");
        says("RRULE:FREQ=MINUTELY", "UTC", "Every minute, UTC");
        says("RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0;COUNT=10", "UTC", "Every day at 09:00, 10 times, UTC");
        says("RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0;UNTIL=20270401T000000Z", "UTC",
             "Every day at 09:00, until 2027-04-01, UTC");
        says("RRULE:FREQ=DAILY", "UTC", "Every day, UTC");
}

/* What the words would get wrong or cannot say is the rule's own text. */
static void rrules_left_as_text(void **state) {
        (void) state;
        const char *const same[] = {
                "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;BYHOUR=9;BYMINUTE=0",
                "RRULE:FREQ=DAILY;BYHOUR=9",               /* the minute is DTSTART's */
                "RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0,30", /* several minutes */
                "RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=30",
                "RRULE:FREQ=DAILY;BYHOUR=1,2,3,4,5;BYMINUTE=0", /* more than four times */
                "RRULE:FREQ=YEARLY;BYWEEKNO=20",
                "RRULE:FREQ=MONTHLY;BYDAY=MO",
                "RRULE:FREQ=SECONDLY",
                "RRULE:FREQ=HOURLY;BYMINUTE=5",
                "RRULE:FREQ=DAILY;BYDAY=1MO",
                "RRULE:BYHOUR=9;BYMINUTE=0",
                "RRULE:FREQ=MONTHLY;BYDAY=5MO",
                "RRULE:FREQ=DAILY;INTERVAL=0",
        };
        says_itself(same, sizeof same / sizeof same[0]);
}

static void crons(void **state) {
        (void) state;
        says("cron:30 7 * * 1-5", "Europe/Berlin", "Every weekday at 07:30, Europe/Berlin");
        says("cron:0 3 * * *", "UTC", "Every day at 03:00, UTC");
        says("cron:*/5 * * * *", "UTC", "Every 5 minutes, UTC");
        says("cron:* * * * *", "UTC", "Every minute, UTC");
        says("cron:15 * * * *", "UTC", "Every hour at minute 15, UTC");
        says("cron:0 9,17 * * MON,THU", "UTC", "On Monday and Thursday at 09:00 and 17:00, UTC");
        says("cron:0 0 * * 0", "UTC", "Every Sunday at 00:00, UTC");
        says("cron:0 0 * * 7", "UTC", "Every Sunday at 00:00, UTC");
        says("cron:0 0 * * 6,0", "UTC", "On weekends at 00:00, UTC");
        says("cron:0 22 L * *", "UTC", "Monthly on the last day at 22:00, UTC");
        says("cron:0 6 1 * *", "UTC", "Monthly on day 1 at 06:00, UTC");
        says("cron:0 30 7 * * *", "UTC", "Every day at 07:30, UTC");
        says("@daily", "UTC", "Every day at 00:00, UTC");
        says("cron:@weekly", "UTC", "Every Sunday at 00:00, UTC");
        says("0 12 * * *", "UTC", "Every day at 12:00, UTC");
        const char *const same[] = {"cron:0 0 1 * 1",    "cron:0 0 * 1 *",  "cron:15 30 7 * * *",
                                    "cron:0-30 * * * *", "cron:61 * * * *", "cron:0 */2 * * *"};
        says_itself(same, sizeof same / sizeof same[0]);
}

static void intervals(void **state) {
        (void) state;
        says("every 15s", "UTC", "Every 15 seconds");
        says("every:20s", "Europe/Berlin", "Every 20 seconds");
        says("every 1m", "UTC", "Every minute");
        says("every 90m", "UTC", "Every 90 minutes");
        says("every 1h30m", "UTC", "Every 90 minutes");
        says("every 2h", "UTC", "Every 2 hours");
        says("every 1d", "UTC", "Every 24 hours");
        says("every 0s", "UTC", "every 0s");
        says("nonsense", "UTC", "nonsense");
}

static void bounded(void **state) {
        (void) state;
        char small[12];
        schedule_words("RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0", "Europe/Berlin", small, sizeof small);
        assert_string_equal(small, "RRULE:FREQ="); /* its own text, cut at the buffer */
        char big[2048];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        memcpy(big, "RRULE:", 6);
        char buf[64];
        schedule_words(big, "UTC", buf, sizeof buf);
        assert_int_equal(strlen(buf), 63);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(rrules),  cmocka_unit_test(rrules_left_as_text),
                cmocka_unit_test(crons),   cmocka_unit_test(intervals),
                cmocka_unit_test(bounded),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
