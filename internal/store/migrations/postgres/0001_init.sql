-- Portico manager schema, PostgreSQL dialect. Keep in step with
-- ../sqlite/0001_init.sql: same tables, columns, keys and rules.
-- Times are timestamptz (the store writes and reads UTC, microseconds).
-- IDs are UUID text, as in SQLite, so both engines accept the same IDs.
-- Text uses the "C" collation: byte order, as SQLite sorts, whatever the
-- database's locale.

CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    name          TEXT COLLATE "C" NOT NULL UNIQUE,
    title         TEXT COLLATE "C" NOT NULL DEFAULT '',
    summary       TEXT COLLATE "C" NOT NULL DEFAULT '',
    email         TEXT COLLATE "C" NOT NULL DEFAULT '',
    password_hash TEXT COLLATE "C" NOT NULL DEFAULT '',
    cloud_role    TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE provider_orgs (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL UNIQUE,
    title      TEXT COLLATE "C" NOT NULL DEFAULT '',
    summary    TEXT COLLATE "C" NOT NULL DEFAULT '',
    owner_id   TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX provider_orgs_owner ON provider_orgs (owner_id);

CREATE TABLE org_members (
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES provider_orgs (id) ON DELETE CASCADE,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT COLLATE "C" NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

CREATE TABLE catalogs (
    id         TEXT COLLATE "C" PRIMARY KEY,
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES provider_orgs (id) ON DELETE RESTRICT,
    name       TEXT COLLATE "C" NOT NULL,
    title      TEXT COLLATE "C" NOT NULL DEFAULT '',
    summary    TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, name)
);

-- One row per catalog: its bundle version (see Reader.CatalogVersion).
CREATE TABLE catalog_versions (
    catalog_id TEXT COLLATE "C" PRIMARY KEY REFERENCES catalogs (id) ON DELETE CASCADE,
    version    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE draft_apis (
    id         TEXT COLLATE "C" PRIMARY KEY,
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES provider_orgs (id) ON DELETE CASCADE,
    name       TEXT COLLATE "C" NOT NULL,
    version    TEXT COLLATE "C" NOT NULL,
    title      TEXT COLLATE "C" NOT NULL DEFAULT '',
    summary    TEXT COLLATE "C" NOT NULL DEFAULT '',
    document   BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, name, version)
);

CREATE TABLE draft_products (
    id         TEXT COLLATE "C" PRIMARY KEY,
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES provider_orgs (id) ON DELETE CASCADE,
    name       TEXT COLLATE "C" NOT NULL,
    version    TEXT COLLATE "C" NOT NULL,
    title      TEXT COLLATE "C" NOT NULL DEFAULT '',
    summary    TEXT COLLATE "C" NOT NULL DEFAULT '',
    document   BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, name, version)
);

CREATE TABLE products (
    id         TEXT COLLATE "C" PRIMARY KEY,
    catalog_id TEXT COLLATE "C" NOT NULL REFERENCES catalogs (id) ON DELETE RESTRICT,
    name       TEXT COLLATE "C" NOT NULL,
    version    TEXT COLLATE "C" NOT NULL,
    title      TEXT COLLATE "C" NOT NULL DEFAULT '',
    summary    TEXT COLLATE "C" NOT NULL DEFAULT '',
    state      TEXT COLLATE "C" NOT NULL CHECK (state IN ('staged', 'published', 'deprecated', 'retired', 'archived')),
    document   BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (catalog_id, name, version)
);

CREATE TABLE product_apis (
    product_id TEXT COLLATE "C" NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    name       TEXT COLLATE "C" NOT NULL,
    version    TEXT COLLATE "C" NOT NULL,
    document   BYTEA NOT NULL,
    PRIMARY KEY (product_id, name, version)
);

CREATE TABLE consumer_orgs (
    id         TEXT COLLATE "C" PRIMARY KEY,
    catalog_id TEXT COLLATE "C" NOT NULL REFERENCES catalogs (id) ON DELETE RESTRICT,
    name       TEXT COLLATE "C" NOT NULL,
    title      TEXT COLLATE "C" NOT NULL DEFAULT '',
    summary    TEXT COLLATE "C" NOT NULL DEFAULT '',
    owner_id   TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (catalog_id, name)
);
CREATE INDEX consumer_orgs_owner ON consumer_orgs (owner_id);

CREATE TABLE apps (
    id              TEXT COLLATE "C" PRIMARY KEY,
    consumer_org_id TEXT COLLATE "C" NOT NULL REFERENCES consumer_orgs (id) ON DELETE CASCADE,
    name            TEXT COLLATE "C" NOT NULL,
    title           TEXT COLLATE "C" NOT NULL DEFAULT '',
    summary         TEXT COLLATE "C" NOT NULL DEFAULT '',
    state           TEXT COLLATE "C" NOT NULL CHECK (state IN ('active', 'disabled')),
    lifecycle       TEXT COLLATE "C" NOT NULL CHECK (lifecycle IN ('development', 'production')),
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (consumer_org_id, name)
);

-- catalog_id repeats the app's catalog so that a client ID can be unique
-- per catalog; an app never changes catalog, so it cannot go stale.
CREATE TABLE credentials (
    id          TEXT COLLATE "C" PRIMARY KEY,
    app_id      TEXT COLLATE "C" NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    catalog_id  TEXT COLLATE "C" NOT NULL REFERENCES catalogs (id),
    name        TEXT COLLATE "C" NOT NULL,
    title       TEXT COLLATE "C" NOT NULL DEFAULT '',
    summary     TEXT COLLATE "C" NOT NULL DEFAULT '',
    client_id   TEXT COLLATE "C" NOT NULL,
    secret_hash TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (app_id, name),
    UNIQUE (catalog_id, client_id)
);

CREATE TABLE subscriptions (
    id         TEXT COLLATE "C" PRIMARY KEY,
    app_id     TEXT COLLATE "C" NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    product_id TEXT COLLATE "C" NOT NULL REFERENCES products (id) ON DELETE RESTRICT,
    name       TEXT COLLATE "C" NOT NULL,
    title      TEXT COLLATE "C" NOT NULL DEFAULT '',
    summary    TEXT COLLATE "C" NOT NULL DEFAULT '',
    plan       TEXT COLLATE "C" NOT NULL,
    state      TEXT COLLATE "C" NOT NULL CHECK (state IN ('enabled', 'pending', 'disabled')),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (app_id, name),
    UNIQUE (app_id, product_id)
);
CREATE INDEX subscriptions_product ON subscriptions (product_id);

CREATE TABLE api_keys (
    id           TEXT COLLATE "C" PRIMARY KEY,
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_hash     TEXT COLLATE "C" NOT NULL UNIQUE,
    description  TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE tokens (
    id         TEXT COLLATE "C" PRIMARY KEY,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_expires ON tokens (expires_at);

-- client_key_enc is AES-256-GCM sealed (see seal.go); never clear text.
CREATE TABLE gateway_services (
    id                TEXT COLLATE "C" PRIMARY KEY,
    org_id            TEXT COLLATE "C" NOT NULL REFERENCES provider_orgs (id) ON DELETE RESTRICT,
    name              TEXT COLLATE "C" NOT NULL,
    title             TEXT COLLATE "C" NOT NULL DEFAULT '',
    summary           TEXT COLLATE "C" NOT NULL DEFAULT '',
    endpoint_url      TEXT COLLATE "C" NOT NULL,
    api_endpoint_base TEXT COLLATE "C" NOT NULL,
    client_cert_pem   BYTEA,
    client_key_enc    BYTEA,
    ca_bundle_pem     BYTEA,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE catalog_gateways (
    catalog_id         TEXT COLLATE "C" NOT NULL REFERENCES catalogs (id) ON DELETE CASCADE,
    gateway_service_id TEXT COLLATE "C" NOT NULL REFERENCES gateway_services (id) ON DELETE RESTRICT,
    created_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (catalog_id, gateway_service_id)
);
CREATE INDEX catalog_gateways_gateway ON catalog_gateways (gateway_service_id);

-- Append-only: no foreign keys (the trail outlives what it names), and
-- triggers refuse UPDATE and DELETE.
CREATE TABLE audit_entries (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    user_id     TEXT COLLATE "C" NOT NULL DEFAULT '',
    action      TEXT COLLATE "C" NOT NULL,
    object_type TEXT COLLATE "C" NOT NULL,
    object_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
    summary     TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX audit_entries_object ON audit_entries (object_type, object_id);
CREATE INDEX audit_entries_user ON audit_entries (user_id);

CREATE FUNCTION audit_entries_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$;

CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries
FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();

CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only();
