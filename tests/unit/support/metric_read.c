/* metric_read.c: one series' value from this process's /metrics text (see metric_read.h). */
#include "metric_read.h"

#include "base/metrics.h"
#include "base/strbuf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

double metric_read(const char *series, double missing)
{
    struct strbuf sb = STRBUF_INIT;
    assert_int_equal(metrics_render(&sb), 0);
    struct strbuf key = STRBUF_INIT;
    strbuf_printf(&key, "%s ", series);
    const char *text = strbuf_str(&sb);
    const char *at = NULL;
    /* the series at the start of a line only */
    for (const char *p = strstr(text, strbuf_str(&key)); p && !at;
         p = strstr(p + 1, strbuf_str(&key)))
        if (p == text || p[-1] == '\n')
            at = p;
    double v = at ? strtod(at + strlen(strbuf_str(&key)), NULL) : missing;
    strbuf_free(&key);
    strbuf_free(&sb);
    return v;
}
