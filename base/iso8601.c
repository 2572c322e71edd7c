/* iso8601.c: ISO-8601 instants ("2024-05-01T12:00:00.123Z", "+02:00" offsets, or a plain date)
 * to epoch milliseconds.
 *
 * Must not: depend on the local time zone or locale (timegm, explicit digits). */
#include "base/iso8601.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

int64_t iso8601_parse_ms(const char *s)
{
    if (!s)
        return -1;
    const char *p = s;
    int y, mo, d, h, mi, sec, ms = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return -1;
    if (*p == '\0') {
        h = mi = sec = 0;
    } else {
        if (*p++ != 'T' || digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
            digits(&p, 2, &sec))
            return -1;
        if (*p == '.') {
            p++;
            int scale = 100, nd = 0;
            while (isdigit((unsigned char)*p)) {
                if (nd < 3)
                    ms += (*p - '0') * scale;
                scale /= 10;
                nd++;
                p++;
            }
            if (nd == 0)
                return -1;
        }
        int offset_min = 0;
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om;
            p++;
            if (digits(&p, 2, &oh))
                return -1;
            if (*p == ':')
                p++;
            if (digits(&p, 2, &om))
                return -1;
            offset_min = sign * (oh * 60 + om);
        }
        if (*p != '\0')
            return -1;
        mi -= offset_min;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || sec > 60)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    return (int64_t)t * 1000 + ms;
}
