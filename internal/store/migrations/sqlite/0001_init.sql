-- Portico manager schema, SQLite dialect. Keep in step with
-- ../postgres/0001_init.sql: same tables, columns, keys and rules.
-- Times are UTC text, 2006-01-02T15:04:05.000000Z (fixed width, so they
-- sort). IDs are UUID text. Tables are STRICT so a wrong type fails loudly.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    title         TEXT NOT NULL DEFAULT '',
    summary       TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    cloud_role    TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;

CREATE TABLE provider_orgs (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    title      TEXT NOT NULL DEFAULT '',
    summary    TEXT NOT NULL DEFAULT '',
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX provider_orgs_owner ON provider_orgs (owner_id);

CREATE TABLE org_members (
    org_id     TEXT NOT NULL REFERENCES provider_orgs (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
) STRICT;
CREATE INDEX org_members_user ON org_members (user_id);

CREATE TABLE catalogs (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES provider_orgs (id) ON DELETE RESTRICT,
    name       TEXT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    summary    TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (org_id, name)
) STRICT;

-- One row per catalog: its bundle version (see Reader.CatalogVersion).
CREATE TABLE catalog_versions (
    catalog_id TEXT PRIMARY KEY REFERENCES catalogs (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE draft_apis (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES provider_orgs (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    summary    TEXT NOT NULL DEFAULT '',
    document   BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (org_id, name, version)
) STRICT;

CREATE TABLE draft_products (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES provider_orgs (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    summary    TEXT NOT NULL DEFAULT '',
    document   BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (org_id, name, version)
) STRICT;

CREATE TABLE products (
    id         TEXT PRIMARY KEY,
    catalog_id TEXT NOT NULL REFERENCES catalogs (id) ON DELETE RESTRICT,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    summary    TEXT NOT NULL DEFAULT '',
    state      TEXT NOT NULL CHECK (state IN ('staged', 'published', 'deprecated', 'retired', 'archived')),
    document   BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (catalog_id, name, version)
) STRICT;

CREATE TABLE product_apis (
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    document   BLOB NOT NULL,
    PRIMARY KEY (product_id, name, version)
) STRICT;

CREATE TABLE consumer_orgs (
    id         TEXT PRIMARY KEY,
    catalog_id TEXT NOT NULL REFERENCES catalogs (id) ON DELETE RESTRICT,
    name       TEXT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    summary    TEXT NOT NULL DEFAULT '',
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (catalog_id, name)
) STRICT;
CREATE INDEX consumer_orgs_owner ON consumer_orgs (owner_id);

CREATE TABLE apps (
    id              TEXT PRIMARY KEY,
    consumer_org_id TEXT NOT NULL REFERENCES consumer_orgs (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    title           TEXT NOT NULL DEFAULT '',
    summary         TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL CHECK (state IN ('active', 'disabled')),
    lifecycle       TEXT NOT NULL CHECK (lifecycle IN ('development', 'production')),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (consumer_org_id, name)
) STRICT;

-- catalog_id repeats the app's catalog so that a client ID can be unique
-- per catalog; an app never changes catalog, so it cannot go stale.
CREATE TABLE credentials (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    catalog_id  TEXT NOT NULL REFERENCES catalogs (id),
    name        TEXT NOT NULL,
    title       TEXT NOT NULL DEFAULT '',
    summary     TEXT NOT NULL DEFAULT '',
    client_id   TEXT NOT NULL,
    secret_hash TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (app_id, name),
    UNIQUE (catalog_id, client_id)
) STRICT;

CREATE TABLE subscriptions (
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    product_id TEXT NOT NULL REFERENCES products (id) ON DELETE RESTRICT,
    name       TEXT NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    summary    TEXT NOT NULL DEFAULT '',
    plan       TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('enabled', 'pending', 'disabled')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (app_id, name),
    UNIQUE (app_id, product_id)
) STRICT;
CREATE INDEX subscriptions_product ON subscriptions (product_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_hash     TEXT NOT NULL UNIQUE,
    description  TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    last_used_at TEXT
) STRICT;
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_expires ON tokens (expires_at);

-- client_key_enc is AES-256-GCM sealed (see seal.go); never clear text.
CREATE TABLE gateway_services (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES provider_orgs (id) ON DELETE RESTRICT,
    name              TEXT NOT NULL,
    title             TEXT NOT NULL DEFAULT '',
    summary           TEXT NOT NULL DEFAULT '',
    endpoint_url      TEXT NOT NULL,
    api_endpoint_base TEXT NOT NULL,
    client_cert_pem   BLOB,
    client_key_enc    BLOB,
    ca_bundle_pem     BLOB,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (org_id, name)
) STRICT;

CREATE TABLE catalog_gateways (
    catalog_id         TEXT NOT NULL REFERENCES catalogs (id) ON DELETE CASCADE,
    gateway_service_id TEXT NOT NULL REFERENCES gateway_services (id) ON DELETE RESTRICT,
    created_at         TEXT NOT NULL,
    PRIMARY KEY (catalog_id, gateway_service_id)
) STRICT;
CREATE INDEX catalog_gateways_gateway ON catalog_gateways (gateway_service_id);

-- Append-only: no foreign keys (the trail outlives what it names), and
-- triggers refuse UPDATE and DELETE.
CREATE TABLE audit_entries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    user_id     TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL DEFAULT '',
    summary     TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_entries_object ON audit_entries (object_type, object_id);
CREATE INDEX audit_entries_user ON audit_entries (user_id);

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;

CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
