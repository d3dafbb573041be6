-- Analytics: one row per API call a gateway reported, with API Connect's
-- event record field names. Keep in step with ../postgres/0003_analytics.sql.
-- The columns are what queries filter and aggregate on; event holds the
-- whole record as JSON. Rows are never updated: they arrive in batches
-- (transaction_id makes a resent batch harmless) and leave by retention.

CREATE TABLE analytics_events (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    datetime              TEXT NOT NULL,
    transaction_id        TEXT NOT NULL UNIQUE,
    org_id                TEXT NOT NULL DEFAULT '',
    org_name              TEXT NOT NULL DEFAULT '',
    catalog_name          TEXT NOT NULL DEFAULT '',
    api_name              TEXT NOT NULL DEFAULT '',
    api_version           TEXT NOT NULL DEFAULT '',
    product_name          TEXT NOT NULL DEFAULT '',
    product_version       TEXT NOT NULL DEFAULT '',
    plan_name             TEXT NOT NULL DEFAULT '',
    app_id                TEXT NOT NULL DEFAULT '',
    app_name              TEXT NOT NULL DEFAULT '',
    developer_org_name    TEXT NOT NULL DEFAULT '',
    client_id             TEXT NOT NULL DEFAULT '',
    request_method        TEXT NOT NULL DEFAULT '',
    uri_path              TEXT NOT NULL DEFAULT '',
    status                INTEGER NOT NULL,
    time_to_serve_request INTEGER NOT NULL,
    bytes_received        INTEGER NOT NULL DEFAULT 0,
    bytes_sent            INTEGER NOT NULL DEFAULT 0,
    error_name            TEXT NOT NULL DEFAULT '',
    event                 TEXT NOT NULL
) STRICT;
-- The REST API always scopes by org (and often catalog) and a time range,
-- newest first; retention deletes by time alone.
CREATE INDEX analytics_events_org ON analytics_events (org_id, datetime);
CREATE INDEX analytics_events_catalog ON analytics_events (org_id, catalog_name, datetime);
CREATE INDEX analytics_events_datetime ON analytics_events (datetime);
