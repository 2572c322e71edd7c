/* users.c: the user set (admin token + SYNKRO_USERS_FILE), constant-time lookup by token and
 * token fingerprints (design in users.h). Must not log or print a token. */
#include "base/users.h"

#include "base/hexenc.h"
#include "base/log.h"
#include "base/secret.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_TOKEN_MIN 16
#define USER_TOKEN_MAX 4096

struct user {
    char name[USER_NAME_MAX + 1];
    char *token; /* heap, wiped on free */
    char fp[USER_FP_HEX + 1];
};

struct user_set {
    struct user *users;
    size_t n, cap;
};

bool user_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > USER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '@'))
            return false;
    }
    return true;
}

static void fingerprint(const char *token, char out[USER_FP_HEX + 1])
{
    static const char prefix[] = "synkro-token-fp:";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, prefix, sizeof prefix - 1) == 1 &&
              EVP_DigestUpdate(ctx, token, strlen(token)) == 1 &&
              EVP_DigestFinal_ex(ctx, md, &len) == 1 && len >= USER_FP_HEX / 2;
    EVP_MD_CTX_free(ctx);
    if (ok)
        hex_encode(md, USER_FP_HEX / 2, out);
    else
        snprintf(out, USER_FP_HEX + 1, "%s", "unusable");
}

static int user_add(struct user_set *s, const char *name, const char *token, size_t token_len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct user *u = realloc(s->users, cap * sizeof *u);
        if (!u)
            return -1;
        s->users = u;
        s->cap = cap;
    }
    struct user *u = &s->users[s->n];
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%s", name);
    u->token = strndup(token, token_len);
    if (!u->token)
        return -1;
    fingerprint(u->token, u->fp);
    s->n++;
    return 0;
}

static void trim(const char **p, size_t *len)
{
    while (*len > 0 && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*len)--;
    }
    while (*len > 0 && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t' || (*p)[*len - 1] == '\r'))
        (*len)--;
}

static bool has_space(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f)
            return true;
    return false;
}

/* Checks the name and token of one line against the set so far; the problem into err. */
static int check_entry(const struct user_set *s, const char *name, const char *token,
                       size_t token_len, size_t line, char *err, size_t errlen)
{
    if (!user_name_valid(name)) {
        snprintf(err, errlen,
                 "line %zu: the user name must be 1 to %d of A-Z a-z 0-9 . _ - @ before the ':'",
                 line, USER_NAME_MAX);
        return -1;
    }
    if (strcmp(name, "admin") == 0) {
        snprintf(err, errlen, "line %zu: 'admin' is reserved for SYNKRO_ADMIN_TOKEN", line);
        return -1;
    }
    if (token_len < USER_TOKEN_MIN || token_len > USER_TOKEN_MAX || has_space(token, token_len)) {
        snprintf(err, errlen, "line %zu: the token must be %d to %d characters without spaces",
                 line, USER_TOKEN_MIN, USER_TOKEN_MAX);
        return -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->users[i].name, name) == 0) {
            snprintf(err, errlen, "line %zu: user '%s' is named twice", line, name);
            return -1;
        }
        if (strlen(s->users[i].token) == token_len &&
            memcmp(s->users[i].token, token, token_len) == 0) {
            snprintf(err, errlen, "line %zu: the token of '%s' is also another user's", line, name);
            return -1;
        }
    }
    return 0;
}

static int parse_line(struct user_set *s, const char *p, size_t len, size_t line, char *err,
                      size_t errlen)
{
    trim(&p, &len);
    if (len == 0 || *p == '#')
        return 0;
    const char *colon = memchr(p, ':', len);
    if (!colon) {
        snprintf(err, errlen, "line %zu: expected name:token", line);
        return -1;
    }
    const char *n = p, *t = colon + 1;
    size_t nlen = (size_t)(colon - p), tlen = len - nlen - 1;
    trim(&n, &nlen);
    trim(&t, &tlen);
    char name[USER_NAME_MAX + 2];
    snprintf(name, sizeof name, "%.*s", (int)(nlen < sizeof name - 1 ? nlen : sizeof name - 1), n);
    if (nlen > USER_NAME_MAX)
        name[0] = '\0';
    if (check_entry(s, name, t, tlen, line, err, errlen) < 0)
        return -1;
    if (user_add(s, name, t, tlen) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

struct user_set *user_set_parse(const char *admin_token, const char *users_text, char *err,
                                size_t errlen)
{
    struct user_set *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (admin_token && *admin_token && user_add(s, "admin", admin_token, strlen(admin_token)) < 0) {
        snprintf(err, errlen, "out of memory");
        user_set_free(s);
        return NULL;
    }
    size_t line = 0;
    for (const char *p = users_text; p && *p;) {
        size_t len = strcspn(p, "\n");
        line++;
        if (parse_line(s, p, len, line, err, errlen) < 0) {
            user_set_free(s);
            return NULL;
        }
        p += len;
        if (*p == '\n')
            p++;
    }
    return s;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && len < (1u << 20)) {
        char *nb = realloc(buf, len + got + 1);
        if (!nb) {
            secret_wipe_free(buf);
            fclose(f);
            return NULL;
        }
        buf = nb;
        memcpy(buf + len, chunk, got);
        len += got;
        buf[len] = '\0';
    }
    fclose(f);
    return buf ? buf : calloc(1, 1);
}

struct user_set *user_set_load(const char *admin_token, const char *path, char *err, size_t errlen)
{
    if (!path || !*path)
        return user_set_parse(admin_token, NULL, err, errlen);
    char *text = read_all(path);
    if (!text) {
        snprintf(err, errlen, "SYNKRO_USERS_FILE %s cannot be read", path);
        return NULL;
    }
    char inner[256];
    struct user_set *s = user_set_parse(admin_token, text, inner, sizeof inner);
    secret_wipe_free(text);
    if (!s)
        snprintf(err, errlen, "SYNKRO_USERS_FILE %s: %s", path, inner);
    return s;
}

void user_set_free(struct user_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        secret_wipe_free(s->users[i].token);
    free(s->users);
    free(s);
}

const char *user_set_find(const struct user_set *s, const char *token)
{
    const char *found = NULL;
    if (!s || !token)
        return NULL;
    for (size_t i = 0; i < s->n; i++) /* no early exit: every token is compared */
        if (secret_equal(token, s->users[i].token))
            found = s->users[i].name;
    return found;
}

bool user_set_fingerprint(const struct user_set *s, const char *name, char *out)
{
    for (size_t i = 0; s && name && i < s->n; i++) {
        if (strcmp(s->users[i].name, name) == 0) {
            memcpy(out, s->users[i].fp, USER_FP_HEX + 1);
            return true;
        }
    }
    return false;
}

size_t user_set_count(const struct user_set *s)
{
    return s ? s->n : 0;
}

const char *user_set_name(const struct user_set *s, size_t i)
{
    return s->users[i].name;
}

void user_set_register_secrets(const struct user_set *s)
{
    for (size_t i = 0; s && i < s->n; i++)
        log_add_secret(s->users[i].token);
}
