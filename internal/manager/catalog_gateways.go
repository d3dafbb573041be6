package manager

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/portico-api/portico/internal/store"
)

// Which catalogs publish to which gateway services: API Connect's
// configured gateway services of a catalog.

func (m *Manager) configuredObject(o store.ProviderOrg, c store.Catalog, g store.GatewayService, d *store.Delivery) map[string]any {
	out := map[string]any{"type": "configured_gateway_service", "api_version": apiVersion, "id": g.ID,
		"name": g.Name, "title": g.Title, "gateway_service_url": m.gatewayURL(g), "endpoint": g.EndpointURL,
		"api_endpoint_base": g.APIEndpointBase, "catalog_url": m.opts.BaseURL + "/api/catalogs/" + o.ID + "/" + c.ID,
		"url": m.opts.BaseURL + "/api/catalogs/" + o.ID + "/" + c.ID + "/configured-gateway-services/" + g.ID}
	if d == nil { // configured in this request: nothing pushed yet
		d = &store.Delivery{Configured: true, PushedVersion: -1, FailedVersion: -1}
	}
	for k, v := range deliveryObject(*d) {
		if k != "org" && k != "catalog" && k != "configured" {
			out[k] = v
		}
	}
	return out
}

// delivery finds the delivery of catalog c to gateway g.
func (m *Manager) delivery(r *http.Request, c store.Catalog, g store.GatewayService) (*store.Delivery, error) {
	ds, err := m.deliveriesOf(r.Context(), g.ID)
	if err != nil {
		return nil, err
	}
	return catalogDelivery(ds, c.ID), nil
}

func (m *Manager) listConfigured(w http.ResponseWriter, r *http.Request) {
	o, c, err := m.catalogIn(r.Context(), r.PathValue("org"), r.PathValue("catalog"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	list := func(ctx context.Context, opts store.ListOptions) (store.Page[store.GatewayService], error) {
		return m.st.ListCatalogGateways(ctx, c.ID, opts)
	}
	m.writeGateways(w, r, list, func(g store.GatewayService, ds []store.Delivery) map[string]any {
		return m.configuredObject(o, c, g, catalogDelivery(ds, c.ID))
	})
}

// catalogDelivery picks the delivery of one catalog, or nil.
func catalogDelivery(ds []store.Delivery, catalogID string) *store.Delivery {
	for i := range ds {
		if ds[i].CatalogID == catalogID {
			return &ds[i]
		}
	}
	return nil
}

func (m *Manager) configureGateway(w http.ResponseWriter, r *http.Request) {
	var req struct {
		GatewayServiceURL string `json:"gateway_service_url"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil || req.GatewayServiceURL == "" {
		writeError(w, http.StatusBadRequest, `the body must be JSON naming the gateway service: {"gateway_service_url": "<its url, name or ID>"}`)
		return
	}
	o, c, err := m.catalogIn(r.Context(), r.PathValue("org"), r.PathValue("catalog"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	g, err := m.gateway(r.Context(), req.GatewayServiceURL)
	if err != nil {
		m.storeError(w, err)
		return
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		if err := tx.AddCatalogGateway(r.Context(), c.ID, g.ID); err != nil {
			return err
		}
		return m.audit(r, tx, "configure", "catalog", c.ID, "catalog "+o.Name+"/"+c.Name+" publishes to gateway service "+g.Name)
	}) {
		return
	}
	writeJSON(w, http.StatusCreated, m.configuredObject(o, c, g, nil))
}

// configuredIn resolves the path's catalog and one of its gateway
// services; a gateway service the catalog does not use is not found.
func (m *Manager) configuredIn(w http.ResponseWriter, r *http.Request) (store.ProviderOrg, store.Catalog, store.GatewayService, bool) {
	o, c, err := m.catalogIn(r.Context(), r.PathValue("org"), r.PathValue("catalog"))
	if err != nil {
		m.storeError(w, err)
		return o, c, store.GatewayService{}, false
	}
	g, err := m.gateway(r.Context(), r.PathValue("gs"))
	if err != nil {
		m.storeError(w, err)
		return o, c, g, false
	}
	d, err := m.delivery(r, c, g)
	if err != nil {
		m.storeError(w, err)
		return o, c, g, false
	}
	if d == nil || !d.Configured {
		writeError(w, http.StatusNotFound, "catalog "+o.Name+"/"+c.Name+" does not publish to gateway service "+g.Name)
		return o, c, g, false
	}
	return o, c, g, true
}

func (m *Manager) getConfigured(w http.ResponseWriter, r *http.Request) {
	o, c, g, ok := m.configuredIn(w, r)
	if !ok {
		return
	}
	d, err := m.delivery(r, c, g)
	if err != nil {
		m.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m.configuredObject(o, c, g, d))
}

// unconfigureGateway stops the catalog publishing to the gateway service;
// the director then tells the gateway to stop serving the catalog.
func (m *Manager) unconfigureGateway(w http.ResponseWriter, r *http.Request) {
	o, c, g, ok := m.configuredIn(w, r)
	if !ok {
		return
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		if err := tx.RemoveCatalogGateway(r.Context(), c.ID, g.ID); err != nil {
			return err
		}
		return m.audit(r, tx, "unconfigure", "catalog", c.ID, "catalog "+o.Name+"/"+c.Name+" no longer publishes to gateway service "+g.Name)
	}) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": g.Name})
}
