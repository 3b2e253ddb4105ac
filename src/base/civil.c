#include "base/civil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Howard Hinnant's days_from_civil / civil_from_days: exact for any int year. */
int64_t civil_days_from_date(int year, int month, int day) {
        int64_t y = (int64_t) year - (month <= 2);
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t mp = (month + 9) % 12;
        int64_t doy = (153 * mp + 2) / 5 + day - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

void civil_date_from_days(int64_t z, int *ret_year, int *ret_month, int *ret_day) {
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t y = yoe + era * 400;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        int64_t d = doy - (153 * mp + 2) / 5 + 1;
        int64_t m = mp < 10 ? mp + 3 : mp - 9;
        *ret_year = (int) (y + (m <= 2));
        *ret_month = (int) m;
        *ret_day = (int) d;
}

int civil_weekday(int64_t days) {
        int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
        return (int) (w < 0 ? w + 7 : w);
}

bool civil_is_leap(int y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int civil_days_in_month(int y, int m) {
        static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (m < 1 || m > 12)
                return 0;
        return m == 2 && civil_is_leap(y) ? 29 : dim[m - 1];
}

int64_t civil_to_seconds(const civil *c) {
        return civil_days_from_date(c->year, c->month, c->day) * 86400 + c->hour * 3600 + c->minute * 60 + c->second;
}

void civil_from_seconds(int64_t s, civil *ret) {
        int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
        int64_t rem = s - days * 86400;
        civil_date_from_days(days, &ret->year, &ret->month, &ret->day);
        ret->hour = (int) (rem / 3600);
        ret->minute = (int) (rem % 3600 / 60);
        ret->second = (int) (rem % 60);
}

bool civil_valid(const civil *c) {
        return c->year >= 1 && c->year <= 9999 && c->month >= 1 && c->month <= 12 && c->day >= 1 &&
               c->day <= civil_days_in_month(c->year, c->month) && c->hour >= 0 && c->hour <= 23 && c->minute >= 0 &&
               c->minute <= 59 && c->second >= 0 && c->second <= 59;
}

static int digits(const char *s, int n, int *ret) {
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (s[i] - '0');
        }
        *ret = v;
        return 0;
}

int civil_parse(const char *s, bool allow_z, bool need_z, civil *ret) {
        civil c;
        if (!s || strlen(s) < 19)
                return -EINVAL;
        if (digits(s, 4, &c.year) < 0 || s[4] != '-' || digits(s + 5, 2, &c.month) < 0 || s[7] != '-' ||
            digits(s + 8, 2, &c.day) < 0 || (s[10] != 'T' && s[10] != ' ') || digits(s + 11, 2, &c.hour) < 0 ||
            s[13] != ':' || digits(s + 14, 2, &c.minute) < 0 || s[16] != ':' || digits(s + 17, 2, &c.second) < 0)
                return -EINVAL;
        const char *rest = s + 19;
        if (*rest == 'Z' && allow_z)
                rest++;
        else if (need_z)
                return -EINVAL;
        if (*rest)
                return -EINVAL;
        if (!civil_valid(&c))
                return -EINVAL;
        *ret = c;
        return 0;
}

void civil_format(const civil *c, char *buf, size_t len) {
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d", c->year, c->month, c->day, c->hour, c->minute, c->second);
}

static char *put_u(char *p, uint64_t v, int width) {
        char tmp[24];
        int n = 0;
        do {
                tmp[n++] = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        while (n < width)
                tmp[n++] = '0';
        while (n)
                *p++ = tmp[--n];
        return p;
}

char *civil_put_wall(char *p, int64_t secs, bool basic) {
        civil c;
        civil_from_seconds(secs, &c);
        p = put_u(p, (uint64_t) (c.year < 0 ? 0 : c.year), 4);
        if (!basic)
                *p++ = '-';
        p = put_u(p, (uint64_t) c.month, 2);
        if (!basic)
                *p++ = '-';
        p = put_u(p, (uint64_t) c.day, 2);
        *p++ = 'T';
        p = put_u(p, (uint64_t) c.hour, 2);
        if (!basic)
                *p++ = ':';
        p = put_u(p, (uint64_t) c.minute, 2);
        if (!basic)
                *p++ = ':';
        return put_u(p, (uint64_t) c.second, 2);
}

void time_format_utc(sked_time t, char *buf, size_t len) {
        civil c;
        civil_from_seconds(time_seconds(t), &c);
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour, c.minute, c.second);
}

void time_format_utc_us(sked_time t, char *buf, size_t len) {
        time_format_utc(t, buf, len);
        if (t % SKED_USEC && len > 19)
                snprintf(buf + 19, len - 19, ".%06lldZ", (long long) (t - time_seconds(t) * SKED_USEC));
}

int time_parse_utc(const char *s, sked_time *ret) {
        char head[20];
        civil c;
        size_t n = s ? strlen(s) : 0;
        if (n < 20 || s[n - 1] != 'Z')
                return -EINVAL;
        memcpy(head, s, 19);
        head[19] = '\0';
        if (civil_parse(head, false, false, &c) < 0)
                return -EINVAL;
        int64_t usec = 0;
        const char *p = s + 19;
        if (*p == '.') {
                int nd = 0;
                p++;
                while (*p >= '0' && *p <= '9') {
                        if (nd < 6) {
                                usec = usec * 10 + (*p - '0');
                                nd++;
                        }
                        p++;
                }
                if (nd == 0)
                        return -EINVAL;
                while (nd++ < 6)
                        usec *= 10;
        }
        if (p[0] != 'Z' || p[1])
                return -EINVAL;
        *ret = civil_to_seconds(&c) * SKED_USEC + usec;
        return 0;
}

sked_time time_now_real(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (sked_time) ts.tv_sec * SKED_USEC + ts.tv_nsec / 1000;
}

int64_t time_mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * SKED_USEC + ts.tv_nsec / 1000;
}
