-- 0003_crm_tokens.sql: CRM OAuth tokens at rest, encrypted by sync/token_store.c.
-- One row per (crm, kind): the Salesforce refresh token, rotated on every refresh, is replaced
-- in one statement. Values are AES-256-GCM ciphertexts under a key derived from
-- SYNKRO_SECRET_KEY (HKDF-SHA256), with a fresh 12-byte nonce per write and "crm/kind" bound
-- as additional authenticated data; key_id identifies the key (an HKDF output, not the key).
CREATE TABLE crm_tokens (
    crm          text        NOT NULL CHECK (crm IN ('salesforce', 'hubspot')),
    kind         text        NOT NULL CHECK (kind IN ('refresh', 'access')),
    nonce        bytea       NOT NULL CHECK (octet_length(nonce) = 12),
    ciphertext   bytea       NOT NULL,
    tag          bytea       NOT NULL CHECK (octet_length(tag) = 16),
    key_id       text        NOT NULL,
    expires_at   timestamptz,
    instance_url text,
    version      bigint      NOT NULL DEFAULT 1,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (crm, kind)
);
