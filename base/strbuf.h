/* strbuf.h: a growable, always NUL-terminated byte buffer.
 *
 * Owns its heap block; strbuf_free() releases it, strbuf_detach() hands it to
 * the caller. Appends report allocation failure by returning -1 and leave the
 * buffer unchanged, so callers can check once at the end with strbuf_failed().
 * Not thread-safe: one owner at a time. */
#ifndef SYNKRO_SERVER_STRBUF_H
#define SYNKRO_SERVER_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
    char *data;
    size_t len;
    size_t cap;
    int failed; /* set once an append could not allocate */
};

#define STRBUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

int strbuf_reserve(struct strbuf *sb, size_t extra);
int strbuf_append(struct strbuf *sb, const char *data, size_t len);
int strbuf_puts(struct strbuf *sb, const char *s);
int strbuf_putc(struct strbuf *sb, char c);
int strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Appends s as the inside of a JSON string (no surrounding quotes). */
int strbuf_json_escape(struct strbuf *sb, const char *s, size_t len);
void strbuf_reset(struct strbuf *sb);
/* Returns the buffer (caller frees with free()) and empties sb. Never NULL
 * unless allocation failed. */
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_free(struct strbuf *sb);
const char *strbuf_str(const struct strbuf *sb);

#endif
