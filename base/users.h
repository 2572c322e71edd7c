/* users.h: who may use the admin API and the console, and by which token.
 *
 * The user "admin" holds SYNKRO_ADMIN_TOKEN. SYNKRO_USERS_FILE may name more users, one per line
 * as `name:token` (blank lines and lines starting with `#` are skipped; spaces around the name and
 * the token are trimmed). A name is 1 to 63 of A-Z a-z 0-9 . _ - @ and not "admin"; a token is 16
 * to 4096 characters without spaces; names and tokens are unique. A problem is reported with its
 * line number, never the line's text (it holds a token).
 *
 * Each user has a fingerprint of its token (16 hex digits of SHA-256("synkro-token-fp:" +
 * token)): a session remembers the fingerprint it was made with, so changing a user's token ends
 * its sessions. Looking a token up compares it with every user's in constant time.
 * Owns the set and copies of the tokens (wiped when freed). Must not: log a token. */
#ifndef SYNKRO_BASE_USERS_H
#define SYNKRO_BASE_USERS_H

#include <stdbool.h>
#include <stddef.h>

#define USER_NAME_MAX 63
#define USER_FP_HEX   16

struct user_set;

/* Builds the set from the admin token (NULL or "": no admin user) and the text of a users file
 * (NULL: none). NULL with err ("line N: ...") when the text is invalid or memory ran out. */
struct user_set *user_set_parse(const char *admin_token, const char *users_text, char *err,
                                size_t errlen);

/* Same, reading the users file at path (NULL or "": none). NULL with err naming the path. */
struct user_set *user_set_load(const char *admin_token, const char *path, char *err, size_t errlen);

void user_set_free(struct user_set *s);

/* The user holding token, or NULL. Compares with every user's token (constant time each). The
 * name is borrowed from s. */
const char *user_set_find(const struct user_set *s, const char *token);

/* Copies name's current token fingerprint into out (USER_FP_HEX + 1). False when no such user. */
bool user_set_fingerprint(const struct user_set *s, const char *name, char *out);

size_t user_set_count(const struct user_set *s);
/* The i-th user's name (borrowed), i < user_set_count. */
const char *user_set_name(const struct user_set *s, size_t i);

/* Registers every token with the logger's mask (log_add_secret). */
void user_set_register_secrets(const struct user_set *s);

/* True when name is a valid user name (see above; "admin" included). */
bool user_name_valid(const char *name);

#endif
