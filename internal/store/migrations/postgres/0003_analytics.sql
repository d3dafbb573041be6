-- Analytics: one row per API call a gateway reported, with API Connect's
-- event record field names. Keep in step with ../sqlite/0003_analytics.sql.
-- The columns are what queries filter and aggregate on; event holds the
-- whole record as JSON. Rows are never updated: they arrive in batches
-- (transaction_id makes a resent batch harmless) and leave by retention.

CREATE TABLE analytics_events (
    id                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    datetime              TIMESTAMPTZ NOT NULL,
    transaction_id        TEXT COLLATE "C" NOT NULL UNIQUE,
    org_id                TEXT COLLATE "C" NOT NULL DEFAULT '',
    org_name              TEXT COLLATE "C" NOT NULL DEFAULT '',
    catalog_name          TEXT COLLATE "C" NOT NULL DEFAULT '',
    api_name              TEXT COLLATE "C" NOT NULL DEFAULT '',
    api_version           TEXT COLLATE "C" NOT NULL DEFAULT '',
    product_name          TEXT COLLATE "C" NOT NULL DEFAULT '',
    product_version       TEXT COLLATE "C" NOT NULL DEFAULT '',
    plan_name             TEXT COLLATE "C" NOT NULL DEFAULT '',
    app_id                TEXT COLLATE "C" NOT NULL DEFAULT '',
    app_name              TEXT COLLATE "C" NOT NULL DEFAULT '',
    developer_org_name    TEXT COLLATE "C" NOT NULL DEFAULT '',
    client_id             TEXT COLLATE "C" NOT NULL DEFAULT '',
    request_method        TEXT COLLATE "C" NOT NULL DEFAULT '',
    uri_path              TEXT COLLATE "C" NOT NULL DEFAULT '',
    status                INTEGER NOT NULL,
    time_to_serve_request BIGINT NOT NULL,
    bytes_received        BIGINT NOT NULL DEFAULT 0,
    bytes_sent            BIGINT NOT NULL DEFAULT 0,
    error_name            TEXT COLLATE "C" NOT NULL DEFAULT '',
    event                 TEXT NOT NULL
);
-- The REST API always scopes by org (and often catalog) and a time range,
-- newest first; retention deletes by time alone.
CREATE INDEX analytics_events_org ON analytics_events (org_id, datetime);
CREATE INDEX analytics_events_catalog ON analytics_events (org_id, catalog_name, datetime);
CREATE INDEX analytics_events_datetime ON analytics_events (datetime);
