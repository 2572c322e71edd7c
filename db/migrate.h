/* migrate.h: the schema migration runner.
 *
 * Migrations are numbered SQL files (`0001_init.sql`): the number is the
 * version, applied in ascending order, each in its own transaction, recorded
 * in schema_migrations with the SHA-256 of its text. A file whose text
 * changed after it was applied is refused, as is a database that holds a
 * version this binary does not know. A session-level advisory lock makes
 * concurrent runs (several synkro processes starting at once) safe: the
 * second waits, then finds nothing left to do.
 *
 * The binary embeds migrations/ at build time (migrations_embedded); tests
 * and `SYNKRO_MIGRATIONS_DIR` can load a directory instead. */
#ifndef SYNKRO_DB_MIGRATE_H
#define SYNKRO_DB_MIGRATE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct migration_source {
    const char *filename; /* NNNN_name.sql */
    const char *sql;
};

extern const struct migration_source migrations_embedded[];
extern const size_t migrations_embedded_count;

struct migration_set {
    struct migration_source *items;
    size_t count;
    bool owns_items; /* items and owned[] were allocated by load_dir */
    char **owned;    /* file names and texts, when loaded from a directory */
    size_t nowned;
};

/* Loads every *.sql of dir, sorted by version. Caller frees with
 * migration_set_free(). -1 with err on unreadable files or bad names. */
int migration_set_load_dir(const char *dir, struct migration_set *out, char *err, size_t errlen);
/* A set viewing the embedded migrations (nothing owned). */
void migration_set_embedded(struct migration_set *out);
void migration_set_free(struct migration_set *set);

/* Checks names (NNNN_name.sql), ordering and duplicate versions. */
int migration_set_validate(const struct migration_set *set, char *err, size_t errlen);

enum migration_state { MIGRATION_APPLIED, MIGRATION_PENDING, MIGRATION_CHANGED, MIGRATION_UNKNOWN };

struct migration_status_row {
    long version;
    char name[128];
    enum migration_state state;
    char applied_at[40];
};

struct migration_status {
    struct migration_status_row *rows;
    size_t count;
    size_t pending, changed, unknown;
};

/* Applies every pending migration. Returns the number applied (>= 0), or -1
 * with err. progress (may be NULL) gets one line per applied file. */
int migrate_apply(PGconn *conn, const struct migration_set *set, FILE *progress, char *err,
                  size_t errlen);

/* Compares the set with schema_migrations (which need not exist yet).
 * Caller frees with migration_status_free(). */
int migrate_status(PGconn *conn, const struct migration_set *set, struct migration_status *out,
                   char *err, size_t errlen);
void migration_status_free(struct migration_status *st);
const char *migration_state_name(enum migration_state s);

/* Hex SHA-256 of text (65 bytes with NUL). */
void migration_checksum(const char *text, char out[65]);

#endif
