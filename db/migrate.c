/* migrate.c: applies and reports numbered SQL migrations.
 *
 * Owns loaded migration files and status rows. Migration SQL is our own
 * checked-in text and runs through PQexec (it holds several statements); the
 * bookkeeping queries all use parameters. Must not touch any table but
 * schema_migrations itself. */
#include "db/migrate.h"

#include "db/locks.h"
#include "db/pool.h"
#include "base/hexenc.h"
#include "base/strbuf.h"

#include <ctype.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* pg_advisory_lock key (db/locks.h lists every key) */
#define MIGRATE_LOCK_KEY LOCK_KEY_TEXT(LOCK_KEY_MIGRATE)

static const char *const state_names[] = {"applied", "pending", "changed", "unknown"};

const char *migration_state_name(enum migration_state s)
{
    return state_names[s];
}

void migration_checksum(const char *text, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL);
    hex_encode(md, mdlen < 32 ? mdlen : 32, out);
}

/* Parses the leading version number of NNNN_name.sql; -1 when malformed. */
static long migration_version(const char *filename)
{
    const char *p = filename;
    long v = 0;
    int digits = 0;
    while (isdigit((unsigned char)*p) && digits < 9) {
        v = v * 10 + (*p - '0');
        p++;
        digits++;
    }
    if (digits == 0 || *p != '_' || p[1] == '\0')
        return -1;
    size_t len = strlen(filename);
    if (len < 5 || strcmp(filename + len - 4, ".sql") != 0)
        return -1;
    return v;
}

int migration_set_validate(const struct migration_set *set, char *err, size_t errlen)
{
    long prev = -1;
    for (size_t i = 0; i < set->count; i++) {
        long v = migration_version(set->items[i].filename);
        if (v < 0) {
            snprintf(err, errlen, "migration file name '%s' is not NNNN_name.sql",
                     set->items[i].filename);
            return -1;
        }
        if (v == prev) {
            snprintf(err, errlen, "two migrations share version %ld ('%s')", v,
                     set->items[i].filename);
            return -1;
        }
        if (v < prev) {
            snprintf(err, errlen, "migration '%s' is out of order", set->items[i].filename);
            return -1;
        }
        prev = v;
    }
    return 0;
}

void migration_set_embedded(struct migration_set *out)
{
    memset(out, 0, sizeof *out);
    out->items = (struct migration_source *)migrations_embedded;
    out->count = migrations_embedded_count;
}

void migration_set_free(struct migration_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->nowned; i++)
        free(set->owned[i]);
    free(set->owned);
    if (set->owns_items)
        free(set->items);
    memset(set, 0, sizeof *set);
}

static int cmp_source(const void *a, const void *b)
{
    const struct migration_source *x = a, *y = b;
    long vx = migration_version(x->filename), vy = migration_version(y->filename);
    if (vx != vy)
        return vx < vy ? -1 : 1;
    return strcmp(x->filename, y->filename);
}

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open migration %s", path);
        return NULL;
    }
    struct strbuf sb = STRBUF_INIT;
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        strbuf_append(&sb, buf, n);
    int bad = ferror(f) || sb.failed;
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "cannot read migration %s", path);
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

int migration_set_load_dir(const char *dir, struct migration_set *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->owns_items = true;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot open migrations directory %s", dir);
        return -1;
    }
    size_t cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0)
            continue;
        if (out->count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct migration_source *items = realloc(out->items, ncap * sizeof *items);
            char **owned = items ? realloc(out->owned, 2 * ncap * sizeof *owned) : NULL;
            if (items)
                out->items = items;
            if (!items || !owned) {
                snprintf(err, errlen, "out of memory loading migrations");
                rc = -1;
                break;
            }
            out->owned = owned;
            cap = ncap;
        }
        struct strbuf path = STRBUF_INIT;
        strbuf_printf(&path, "%s/%s", dir, e->d_name);
        char *sql = path.failed ? NULL : read_file(strbuf_str(&path), err, errlen);
        strbuf_free(&path);
        char *name = sql ? strdup(e->d_name) : NULL;
        if (!name) {
            free(sql);
            if (sql)
                snprintf(err, errlen, "out of memory loading migrations");
            rc = -1;
            break;
        }
        out->owned[out->nowned++] = name;
        out->owned[out->nowned++] = sql;
        out->items[out->count].filename = name;
        out->items[out->count].sql = sql;
        out->count++;
    }
    closedir(d);
    if (rc == 0)
        qsort(out->items, out->count, sizeof *out->items, cmp_source);
    if (rc == 0 && migration_set_validate(out, err, errlen) < 0)
        rc = -1;
    if (rc < 0)
        migration_set_free(out);
    return rc;
}

static const char create_table_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                       " version bigint PRIMARY KEY,"
                                       " name text NOT NULL,"
                                       " checksum text NOT NULL,"
                                       " applied_at timestamptz NOT NULL DEFAULT now())";

/* Loads applied (version, checksum, applied_at); NULL result when the table
 * is missing (fresh database). Returns -1 on error. */
static int load_applied(PGconn *conn, PGresult **out, char *err, size_t errlen)
{
    *out = NULL;
    PGresult *res =
        db_exec(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL, err, errlen);
    if (!res)
        return -1;
    int exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!exists)
        return 0;
    *out = db_exec(conn,
                   "SELECT version, checksum, to_char(applied_at AT TIME ZONE 'UTC',"
                   " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), name"
                   " FROM schema_migrations ORDER BY version",
                   0, NULL, err, errlen);
    return *out ? 0 : -1;
}

static int find_applied(PGresult *applied, long version)
{
    if (!applied)
        return -1;
    for (int i = 0; i < PQntuples(applied); i++)
        if (atol(PQgetvalue(applied, i, 0)) == version)
            return i;
    return -1;
}

/* Every applied version must be known and unchanged. */
static int check_applied(PGresult *applied, const struct migration_set *set, char *err,
                         size_t errlen)
{
    for (int i = 0; applied && i < PQntuples(applied); i++) {
        long v = atol(PQgetvalue(applied, i, 0));
        const struct migration_source *m = NULL;
        for (size_t j = 0; j < set->count && !m; j++)
            if (migration_version(set->items[j].filename) == v)
                m = &set->items[j];
        if (!m) {
            snprintf(err, errlen,
                     "the database has migration %ld (%s) that this synkro does not know: it was "
                     "migrated by a newer version",
                     v, PQgetvalue(applied, i, 3));
            return -1;
        }
        char sum[65];
        migration_checksum(m->sql, sum);
        if (strcmp(sum, PQgetvalue(applied, i, 1)) != 0) {
            snprintf(err, errlen,
                     "migration %s was changed after it was applied (checksum %.12s…, database "
                     "has %.12s…); restore the file and put the change in a new migration",
                     m->filename, sum, PQgetvalue(applied, i, 1));
            return -1;
        }
    }
    return 0;
}

static int apply_one(PGconn *conn, const struct migration_source *m, char *err, size_t errlen)
{
    if (db_exec_command(conn, "BEGIN", err, errlen) < 0)
        return -1;
    PGresult *res = PQexec(conn, m->sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    /* a file of comments only is an empty query: nothing to do, not an error */
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
        snprintf(err, errlen, "migration %s failed: %s", m->filename, msg);
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
        PQclear(res);
        PQclear(PQexec(conn, "ROLLBACK"));
        return -1;
    }
    PQclear(res);
    char version[24], sum[65];
    snprintf(version, sizeof version, "%ld", migration_version(m->filename));
    migration_checksum(m->sql, sum);
    const char *params[] = {version, m->filename, sum};
    res = db_exec(conn, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1,$2,$3)",
                  3, params, err, errlen);
    if (!res) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return -1;
    }
    PQclear(res);
    if (db_exec_command(conn, "COMMIT", err, errlen) < 0)
        return -1;
    return 0;
}

int migrate_apply(PGconn *conn, const struct migration_set *set, FILE *progress, char *err,
                  size_t errlen)
{
    if (migration_set_validate(set, err, errlen) < 0)
        return -1;
    const char *lock_params[] = {MIGRATE_LOCK_KEY};
    PGresult *res =
        db_exec(conn, "SELECT pg_advisory_lock($1::bigint)", 1, lock_params, err, errlen);
    if (!res)
        return -1;
    PQclear(res);
    int applied_count = 0;
    PGresult *applied = NULL;
    int rc = db_exec_command(conn, create_table_sql, err, errlen);
    if (rc == 0)
        rc = load_applied(conn, &applied, err, errlen);
    if (rc == 0)
        rc = check_applied(applied, set, err, errlen);
    for (size_t i = 0; rc == 0 && i < set->count; i++) {
        const struct migration_source *m = &set->items[i];
        if (find_applied(applied, migration_version(m->filename)) >= 0)
            continue;
        rc = apply_one(conn, m, err, errlen);
        if (rc == 0) {
            applied_count++;
            if (progress)
                fprintf(progress, "applied %s\n", m->filename);
        }
    }
    PQclear(applied);
    char unlock_err[256];
    res = db_exec(conn, "SELECT pg_advisory_unlock($1::bigint)", 1, lock_params, unlock_err,
                  sizeof unlock_err);
    PQclear(res);
    return rc < 0 ? -1 : applied_count;
}

int migrate_status(PGconn *conn, const struct migration_set *set, struct migration_status *out,
                   char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    PGresult *applied = NULL;
    if (load_applied(conn, &applied, err, errlen) < 0)
        return -1;
    size_t extra = applied ? (size_t)PQntuples(applied) : 0;
    out->rows = calloc(set->count + extra + 1, sizeof *out->rows);
    if (!out->rows) {
        PQclear(applied);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < set->count; i++) {
        struct migration_status_row *r = &out->rows[out->count++];
        r->version = migration_version(set->items[i].filename);
        snprintf(r->name, sizeof r->name, "%s", set->items[i].filename);
        int row = find_applied(applied, r->version);
        if (row < 0) {
            r->state = MIGRATION_PENDING;
            out->pending++;
            continue;
        }
        char sum[65];
        migration_checksum(set->items[i].sql, sum);
        r->state =
            strcmp(sum, PQgetvalue(applied, row, 1)) == 0 ? MIGRATION_APPLIED : MIGRATION_CHANGED;
        if (r->state == MIGRATION_CHANGED)
            out->changed++;
        snprintf(r->applied_at, sizeof r->applied_at, "%s", PQgetvalue(applied, row, 2));
    }
    for (size_t i = 0; i < extra; i++) {
        long v = atol(PQgetvalue(applied, (int)i, 0));
        int known = 0;
        for (size_t j = 0; j < set->count && !known; j++)
            known = migration_version(set->items[j].filename) == v;
        if (known)
            continue;
        struct migration_status_row *r = &out->rows[out->count++];
        r->version = v;
        snprintf(r->name, sizeof r->name, "%s", PQgetvalue(applied, (int)i, 3));
        r->state = MIGRATION_UNKNOWN;
        snprintf(r->applied_at, sizeof r->applied_at, "%s", PQgetvalue(applied, (int)i, 2));
        out->unknown++;
    }
    PQclear(applied);
    return 0;
}

void migration_status_free(struct migration_status *st)
{
    if (!st)
        return;
    free(st->rows);
    memset(st, 0, sizeof *st);
}
