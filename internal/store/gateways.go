package store

import (
	"context"
	"fmt"
	"strings"
)

const gatewayCols = "id, org_id, name, title, summary, endpoint_url, api_endpoint_base, client_cert_pem, client_key_enc, ca_bundle_pem, catalog_default, created_at, updated_at"

// clientKeyAAD binds a sealed client key to its row.
func clientKeyAAD(id string) string { return "gateway_services.client_key_enc:" + id }

// scanGateway reads a gateway service and decrypts its client key.
func (q *queries) scanGateway(s scanner) (GatewayService, error) {
	var g GatewayService
	var sealed []byte
	err := s.Scan(&g.ID, &g.OrgID, &g.Name, &g.Title, &g.Summary, &g.EndpointURL, &g.APIEndpointBase,
		&g.ClientCertPEM, &sealed, &g.CABundlePEM, &g.CatalogDefault, tsp(&g.CreatedAt), tsp(&g.UpdatedAt))
	if err != nil {
		return g, err
	}
	if g.ClientKeyPEM, err = q.seal.open(sealed, clientKeyAAD(g.ID)); err != nil {
		return g, fmt.Errorf("client key of gateway service %s: %w", g.Name, err)
	}
	return g, nil
}

func checkGateway(g GatewayService) error {
	return firstErr(checkName("gateway service", "name", g.Name),
		checkURL("gateway service", "endpoint URL", g.EndpointURL),
		checkURL("gateway service", "API endpoint base", g.APIEndpointBase))
}

func gatewaySubject(g GatewayService) subject {
	return subject{kind: "gateway service", key: g.Name, parent: "provider org " + g.OrgID,
		taken: map[string]string{"": "the org has a gateway service with this name; choose another name"}}
}

func (q *queries) GetGatewayService(ctx context.Context, id string) (GatewayService, error) {
	return get(ctx, q, "gateway service", id, q.scanGateway, "SELECT "+gatewayCols+" FROM gateway_services WHERE id = ?", id)
}

func (q *queries) GetGatewayServiceByName(ctx context.Context, orgID, name string) (GatewayService, error) {
	return get(ctx, q, "gateway service", "named "+name+" in org "+orgID, q.scanGateway,
		"SELECT "+gatewayCols+" FROM gateway_services WHERE org_id = ? AND name = ?", orgID, name)
}

func (q *queries) ListGatewayServices(ctx context.Context, orgID string, opts ListOptions) (Page[GatewayService], error) {
	l := listing{kind: "gateway service", cols: gatewayCols, from: "FROM gateway_services WHERE org_id = ?", order: "ORDER BY name"}
	return page(ctx, q, l, q.scanGateway, opts, orgID)
}

func (t *tx) CreateGatewayService(ctx context.Context, g GatewayService) (GatewayService, error) {
	if err := firstErr(required("gateway service", "org ID", g.OrgID), checkGateway(g)); err != nil {
		return GatewayService{}, err
	}
	g.ID, g.CreatedAt = newID(), now()
	g.UpdatedAt = g.CreatedAt
	_, err := t.exec(ctx, "INSERT INTO gateway_services ("+gatewayCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		g.ID, g.OrgID, g.Name, g.Title, g.Summary, g.EndpointURL, g.APIEndpointBase,
		g.ClientCertPEM, t.seal.seal(g.ClientKeyPEM, clientKeyAAD(g.ID)), g.CABundlePEM, flag(g.CatalogDefault), ts(g.CreatedAt), ts(g.UpdatedAt))
	return g, gatewaySubject(g).writeErr(t.eng, err)
}

func (t *tx) UpdateGatewayService(ctx context.Context, g GatewayService) (GatewayService, error) {
	if err := checkGateway(g); err != nil {
		return GatewayService{}, err
	}
	return update(ctx, t, gatewaySubject(g), g.ID, t.scanGateway,
		"UPDATE gateway_services SET name = ?, title = ?, summary = ?, endpoint_url = ?, api_endpoint_base = ?, "+
			"client_cert_pem = ?, client_key_enc = ?, ca_bundle_pem = ?, catalog_default = ?, updated_at = ? WHERE id = ? RETURNING "+gatewayCols,
		g.Name, g.Title, g.Summary, g.EndpointURL, g.APIEndpointBase,
		g.ClientCertPEM, t.seal.seal(g.ClientKeyPEM, clientKeyAAD(g.ID)), g.CABundlePEM, flag(g.CatalogDefault), ts(now()), g.ID)
}

func (t *tx) DeleteGatewayService(ctx context.Context, id string) error {
	err := t.refuseChildren(ctx, "gateway service", id,
		childCheck{"SELECT COUNT(*) FROM catalog_gateways WHERE gateway_service_id = ?", "catalogs using it", "remove it from those catalogs first"})
	if err != nil {
		return err
	}
	return t.deleteByID(ctx, "gateway service", "gateway_services", id)
}

func (q *queries) ListCatalogGateways(ctx context.Context, catalogID string, opts ListOptions) (Page[GatewayService], error) {
	l := listing{kind: "gateway service", cols: prefixCols("g", gatewayCols),
		from:  "FROM catalog_gateways cg JOIN gateway_services g ON g.id = cg.gateway_service_id WHERE cg.catalog_id = ?",
		order: "ORDER BY g.name, g.id"}
	return page(ctx, q, l, q.scanGateway, opts, catalogID)
}

func (q *queries) ListGatewayCatalogs(ctx context.Context, gatewayServiceID string, opts ListOptions) (Page[Catalog], error) {
	l := listing{kind: "catalog", cols: prefixCols("c", catalogCols),
		from:  "FROM catalog_gateways cg JOIN catalogs c ON c.id = cg.catalog_id WHERE cg.gateway_service_id = ?",
		order: "ORDER BY c.name, c.id"}
	return page(ctx, q, l, scanCatalog, opts, gatewayServiceID)
}

// AddCatalogGateway does not bump the catalog's version: the bundle is
// unchanged, and the director pushes the current one to a new gateway.
func (t *tx) AddCatalogGateway(ctx context.Context, catalogID, gatewayServiceID string) error {
	_, err := t.exec(ctx, "INSERT INTO catalog_gateways (catalog_id, gateway_service_id, created_at) VALUES (?, ?, ?)",
		catalogID, gatewayServiceID, ts(now()))
	sub := subject{kind: "catalog gateway", key: gatewayServiceID, parent: "catalog " + catalogID + " or gateway service " + gatewayServiceID,
		taken: map[string]string{"": "the catalog already uses this gateway service"}}
	return sub.writeErr(t.eng, err)
}

func (t *tx) RemoveCatalogGateway(ctx context.Context, catalogID, gatewayServiceID string) error {
	return t.updateOne(ctx, "catalog gateway", gatewayServiceID+" of catalog "+catalogID,
		"DELETE FROM catalog_gateways WHERE catalog_id = ? AND gateway_service_id = ?", catalogID, gatewayServiceID)
}

// prefixCols qualifies a column list with a table alias.
func prefixCols(alias, cols string) string {
	return alias + "." + strings.ReplaceAll(cols, ", ", ", "+alias+".")
}
