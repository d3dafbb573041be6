-- Gateway services that every new catalog publishes to.
ALTER TABLE gateway_services ADD COLUMN catalog_default INTEGER NOT NULL DEFAULT 0;

-- What the manager has delivered to each gateway: one row per gateway
-- service and catalog once a push was tried. catalog_id is not a foreign
-- key on purpose: when a catalog is deleted or unconfigured the row stays
-- until the gateway has been told to stop serving it.
CREATE TABLE gateway_deliveries (
    gateway_service_id TEXT NOT NULL REFERENCES gateway_services (id) ON DELETE CASCADE,
    catalog_id         TEXT NOT NULL,
    org_name           TEXT NOT NULL,
    catalog_name       TEXT NOT NULL,
    pushed_version     INTEGER NOT NULL DEFAULT -1,
    failed_version     INTEGER NOT NULL DEFAULT -1,
    failures           INTEGER NOT NULL DEFAULT 0,
    refused            INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT NOT NULL DEFAULT '',
    last_attempt_at    TEXT,
    last_success_at    TEXT,
    PRIMARY KEY (gateway_service_id, catalog_id)
) STRICT;
