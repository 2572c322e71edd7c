-- 0008_console_sessions.sql: console sign-in sessions and one-time sign-in codes (issue 12).
--
-- Neither table holds a secret: id_hash / code_hash are SHA-256 digests of the random cookie value
-- and of the sign-in code (base/session_token.h), so a copy of the database signs nobody in. The
-- CSRF token is derived from the cookie value and is not stored. token_fp is a short fingerprint
-- of the token the user signed in with (base/users.h): when SYNKRO_ADMIN_TOKEN or a user's token in
-- SYNKRO_USERS_FILE changes, sessions made with the old one no longer match and are revoked.
-- db/session_store.c holds every statement; the janitor deletes ended rows.

CREATE TABLE console_sessions (
    id_hash      text PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
    user_name    text NOT NULL CHECK (length(user_name) BETWEEN 1 AND 63),
    token_fp     text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);

-- revoke-all-for-user and the startup revocation of rotated tokens
CREATE INDEX console_sessions_user ON console_sessions (user_name) WHERE revoked_at IS NULL;
-- the janitor's prune: ended by time (TTL or idle) or revoked
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen_at);
CREATE INDEX console_sessions_revoked ON console_sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE console_signin_codes (
    code_hash  text PRIMARY KEY CHECK (code_hash ~ '^[0-9a-f]{64}$'),
    user_name  text NOT NULL CHECK (length(user_name) BETWEEN 1 AND 63),
    token_fp   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

CREATE INDEX console_signin_codes_expires ON console_signin_codes (expires_at);
