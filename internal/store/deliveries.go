package store

import "context"

// flag stores a bool as 0 or 1, which both engines read back into a bool.
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// deliveryQuery lists configured pairs (with their delivery, if any) and
// then the deliveries whose pair is gone. Unconfigured rows report the
// names they were pushed under.
const deliveryQuery = `
SELECT cg.gateway_service_id, cg.catalog_id, o.name, c.name, 1, v.version,
       COALESCE(d.org_name, ''), COALESCE(d.catalog_name, ''),
       COALESCE(d.pushed_version, -1), COALESCE(d.failed_version, -1), COALESCE(d.failures, 0), COALESCE(d.refused, 0),
       COALESCE(d.last_error, ''), d.last_attempt_at, d.last_success_at
  FROM catalog_gateways cg
  JOIN catalogs c ON c.id = cg.catalog_id
  JOIN provider_orgs o ON o.id = c.org_id
  JOIN catalog_versions v ON v.catalog_id = c.id
  LEFT JOIN gateway_deliveries d ON d.gateway_service_id = cg.gateway_service_id AND d.catalog_id = cg.catalog_id
UNION ALL
SELECT d.gateway_service_id, d.catalog_id, d.org_name, d.catalog_name, 0, -1,
       d.org_name, d.catalog_name,
       d.pushed_version, d.failed_version, d.failures, d.refused,
       d.last_error, d.last_attempt_at, d.last_success_at
  FROM gateway_deliveries d
 WHERE NOT EXISTS (SELECT 1 FROM catalog_gateways cg
                    WHERE cg.gateway_service_id = d.gateway_service_id AND cg.catalog_id = d.catalog_id)
ORDER BY 1, 2`

func scanDelivery(s scanner) (Delivery, error) {
	var d Delivery
	err := s.Scan(&d.GatewayServiceID, &d.CatalogID, &d.OrgName, &d.CatalogName, &d.Configured, &d.CatalogVersion,
		&d.PushedOrg, &d.PushedCatalog, &d.PushedVersion, &d.FailedVersion, &d.Failures, &d.Refused,
		&d.LastError, tsp(&d.LastAttemptAt), tsp(&d.LastSuccessAt))
	return d, err
}

func (q *queries) ListDeliveries(ctx context.Context) ([]Delivery, error) {
	ds, err := all(ctx, q, scanDelivery, deliveryQuery)
	if err != nil {
		return nil, opErr("gateway delivery", "list", err)
	}
	return ds, nil
}

func (t *tx) RecordDelivery(ctx context.Context, d Delivery) error {
	if err := firstErr(required("gateway delivery", "gateway service ID", d.GatewayServiceID),
		required("gateway delivery", "catalog ID", d.CatalogID)); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO gateway_deliveries (gateway_service_id, catalog_id, org_name, catalog_name,
		    pushed_version, failed_version, failures, refused, last_error, last_attempt_at, last_success_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (gateway_service_id, catalog_id) DO UPDATE SET
		    org_name = excluded.org_name, catalog_name = excluded.catalog_name,
		    pushed_version = excluded.pushed_version, failed_version = excluded.failed_version,
		    failures = excluded.failures, refused = excluded.refused, last_error = excluded.last_error,
		    last_attempt_at = excluded.last_attempt_at, last_success_at = excluded.last_success_at`,
		d.GatewayServiceID, d.CatalogID, d.PushedOrg, d.PushedCatalog,
		d.PushedVersion, d.FailedVersion, d.Failures, flag(d.Refused), d.LastError, ts(d.LastAttemptAt), ts(d.LastSuccessAt))
	if err != nil {
		return opErr("gateway delivery", d.CatalogID, err)
	}
	return nil
}

func (t *tx) DeleteDelivery(ctx context.Context, gatewayServiceID, catalogID string) error {
	_, err := t.exec(ctx, "DELETE FROM gateway_deliveries WHERE gateway_service_id = ? AND catalog_id = ?", gatewayServiceID, catalogID)
	if err != nil {
		return opErr("gateway delivery", catalogID, err)
	}
	return nil
}
