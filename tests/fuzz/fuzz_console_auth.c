/* fuzz_console_auth.c: libFuzzer target for what the console's sign-in reads from a client.
 *
 * Splits the input at the first 0x01 byte into a Cookie header and a users file (the users file
 * an operator writes, read with a known admin token), then checks: session_cookie_find() either
 * finds nothing, or finds a well-formed id that is literally the value of the first
 * synkro_session cookie (compared with a reference parser of another shape), or reports a
 * malformed one with "" out; the CSRF token and the digest of a found id are 64 hex digits, stable
 * and different from each other and from the id; a users file either is refused with an error
 * (never showing the admin token unless the file itself holds its text), or every user it defines
 * has a valid name and a fingerprint, and the admin token still means "admin"; auth_decide()
 * answers within its enum and never allows a wrong bearer token or a cookie without CSRF on a
 * write. Must not: write files or keep state between inputs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/session_token.h"
#include "base/users.h"
#include "handlers/session_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ADMIN "fuzz-admin-token-0123456789"

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "invariant violated: %s\n", what);
        abort();
    }
}

/* Reference: split on ';', trim blanks, compare the name; the first synkro_session value (or
 * NULL) into *val and *len. */
static int reference_find(const char *h, const char **val, size_t *len)
{
    const char *p = h;
    while (*p) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *s = p, *e = p + n;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (eq) {
            const char *ne = eq;
            while (ne > s && (ne[-1] == ' ' || ne[-1] == '\t'))
                ne--;
            if ((size_t)(ne - s) == strlen(SESSION_COOKIE_NAME) &&
                strncmp(s, SESSION_COOKIE_NAME, (size_t)(ne - s)) == 0) {
                const char *v = eq + 1, *ve = e;
                while (v < ve && (*v == ' ' || *v == '\t'))
                    v++;
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                    ve--;
                *val = v;
                *len = (size_t)(ve - v);
                return 1;
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

static void fuzz_cookie(const char *header)
{
    char id[SESSION_ID_HEX + 1];
    int got = session_cookie_find(header, id);
    const char *val = NULL;
    size_t len = 0;
    int ref = reference_find(header, &val, &len);
    if (!ref) {
        check(got == 0, "no synkro_session cookie, yet one was found");
        check(id[0] == '\0', "nothing found, yet out is not empty");
        return;
    }
    char copy[SESSION_ID_HEX + 1] = "";
    bool ref_ok = len == SESSION_ID_HEX;
    if (ref_ok) {
        memcpy(copy, val, len);
        copy[len] = '\0';
        ref_ok = session_token_well_formed(copy, SESSION_ID_HEX);
    }
    check(got == (ref_ok ? 1 : -1), "found/malformed differs from the reference");
    if (got != 1) {
        check(id[0] == '\0', "a malformed cookie left a value in out");
        return;
    }
    check(strcmp(id, copy) == 0, "the found id is not the cookie's value");
    char d[SESSION_DIGEST_HEX + 1], c[SESSION_DIGEST_HEX + 1], c2[SESSION_DIGEST_HEX + 1];
    session_token_digest(id, d);
    session_csrf_token(id, c);
    session_csrf_token(id, c2);
    check(session_token_well_formed(d, SESSION_DIGEST_HEX), "digest is not 64 hex digits");
    check(session_token_well_formed(c, SESSION_DIGEST_HEX), "csrf is not 64 hex digits");
    check(strcmp(c, c2) == 0, "csrf is not stable");
    check(strcmp(c, d) != 0 && strcmp(c, id) != 0 && strcmp(d, id) != 0,
          "csrf, digest and id must differ");
}

static void fuzz_users(const char *text)
{
    char err[256] = "";
    struct user_set *s = user_set_parse(ADMIN, text, err, sizeof err);
    if (!s) {
        check(err[0] != '\0', "refused without an error");
        /* a name may quote anything (names are not secret); the admin token is never quoted */
        if (!strstr(text, ADMIN))
            check(strstr(err, ADMIN) == NULL, "the error shows the admin token");
        return;
    }
    check(user_set_count(s) >= 1, "the admin is missing");
    check(strcmp(user_set_find(s, ADMIN), "admin") == 0, "the admin token is not admin's");
    char fp[USER_FP_HEX + 1];
    for (size_t i = 0; i < user_set_count(s); i++) {
        const char *name = user_set_name(s, i);
        check(user_name_valid(name), "an invalid name was accepted");
        check(user_set_fingerprint(s, name, fp), "a user without a fingerprint");
        check(strlen(fp) == USER_FP_HEX, "a fingerprint of the wrong length");
    }
    check(user_set_find(s, "") == NULL, "the empty token found a user");
    user_set_free(s);
}

static void fuzz_decision(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    uint8_t b = data[0];
    struct auth_facts f = {.bearer_present = b & 1,
                           .bearer_valid = b & 2,
                           .session = (enum auth_session)((b >> 2) & 3),
                           .safe_method = b & 16,
                           .csrf_valid = b & 32};
    enum auth_outcome o = auth_decide(&f);
    check(o >= AUTH_ALLOW_BEARER && o <= AUTH_UNAVAILABLE, "outcome out of range");
    if (f.bearer_present && !f.bearer_valid)
        check(o == AUTH_UNAUTHORIZED, "a wrong bearer token got in");
    if (o == AUTH_ALLOW_SESSION)
        check(f.session == AUTH_SESSION_VALID && (f.safe_method || f.csrf_valid),
              "a session got in without CSRF on a write");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *sep = memchr(buf, 0x01, size);
    const char *users = "";
    if (sep) {
        *sep = '\0';
        users = sep + 1;
    }
    fuzz_cookie(buf); /* up to the first NUL, as a header would be */
    fuzz_users(users);
    fuzz_decision(data, size);
    free(buf);
    return 0;
}
