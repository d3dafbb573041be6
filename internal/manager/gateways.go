package manager

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portico-api/portico/internal/pki"
	"github.com/portico-api/portico/internal/store"
)

// AdminOrg is the cloud-scope org that owns gateway services, as API
// Connect's "admin" org does. Bootstrap creates it; no provider org may
// take its name.
const AdminOrg = "admin"

// gatewaysPath is where API Connect keeps gateway services: the default
// availability zone of the admin org.
const gatewaysPath = "/api/orgs/admin/availability-zones/availability-zone-default/gateway-services"

func (m *Manager) gatewayRoutes(mux *http.ServeMux) {
	mux.Handle("GET "+gatewaysPath, m.authed(cloudAdmin, m.listGateways))
	mux.Handle("POST "+gatewaysPath, m.authed(cloudAdmin, m.createGateway))
	mux.Handle("GET "+gatewaysPath+"/{gs}", m.authed(cloudAdmin, m.getGateway))
	mux.Handle("PATCH "+gatewaysPath+"/{gs}", m.authed(cloudAdmin, m.updateGateway))
	mux.Handle("DELETE "+gatewaysPath+"/{gs}", m.authed(cloudAdmin, m.deleteGateway))
	configured := "/api/catalogs/{org}/{catalog}/configured-gateway-services"
	mux.Handle("GET "+configured, m.authed(orgRole(RoleViewer), m.listConfigured))
	mux.Handle("POST "+configured, m.authed(orgRole(RoleAdmin), m.configureGateway))
	mux.Handle("GET "+configured+"/{gs}", m.authed(orgRole(RoleViewer), m.getConfigured))
	mux.Handle("DELETE "+configured+"/{gs}", m.authed(orgRole(RoleAdmin), m.unconfigureGateway))
}

// ensureAdminOrg creates the admin org, owned by owner, when it is missing.
func ensureAdminOrg(ctx context.Context, tx store.Tx, ownerID string) (store.ProviderOrg, error) {
	o, err := tx.GetProviderOrgByName(ctx, AdminOrg)
	if !errors.Is(err, store.ErrNotFound) {
		return o, err
	}
	return tx.CreateProviderOrg(ctx, store.ProviderOrg{Name: AdminOrg, Title: "Cloud administration", OwnerID: ownerID,
		Summary: "Holds the gateway services of the cloud"})
}

func (m *Manager) adminOrg(ctx context.Context) (store.ProviderOrg, error) {
	o, err := m.st.GetProviderOrgByName(ctx, AdminOrg)
	if errors.Is(err, store.ErrNotFound) {
		return o, fmt.Errorf("the admin org is missing; restart the manager to recreate it: %w", err)
	}
	return o, err
}

func (m *Manager) gatewayURL(g store.GatewayService) string {
	return m.opts.BaseURL + gatewaysPath + "/" + g.ID
}

// gateway finds a gateway service by name, ID or URL.
func (m *Manager) gateway(ctx context.Context, ref string) (store.GatewayService, error) {
	o, err := m.adminOrg(ctx)
	if err != nil {
		return store.GatewayService{}, err
	}
	if i := strings.LastIndex(ref, gatewaysPath+"/"); i >= 0 {
		ref = ref[i+len(gatewaysPath)+1:]
	}
	byName := func(ctx context.Context, name string) (store.GatewayService, error) {
		return m.st.GetGatewayServiceByName(ctx, o.ID, name)
	}
	return byNameOrID(ctx, "gateway service", ref, byName, m.st.GetGatewayService)
}

// gatewayObject never carries the client key.
func (m *Manager) gatewayObject(g store.GatewayService, ds []store.Delivery) map[string]any {
	return map[string]any{"type": "gateway_service", "api_version": apiVersion, "id": g.ID, "name": g.Name,
		"title": g.Title, "summary": g.Summary, "endpoint": g.EndpointURL, "api_endpoint_base": g.APIEndpointBase,
		"catalog_default": g.CatalogDefault, "client_certificate": string(g.ClientCertPEM), "ca_bundle": string(g.CABundlePEM),
		"push_status": summarize(ds).object(), "created_at": g.CreatedAt, "updated_at": g.UpdatedAt, "url": m.gatewayURL(g)}
}

// deliveriesOf returns the deliveries of one gateway service (all when
// id is "").
func (m *Manager) deliveriesOf(ctx context.Context, id string) ([]store.Delivery, error) {
	all, err := m.st.ListDeliveries(ctx)
	if err != nil || id == "" {
		return all, err
	}
	return filterDeliveries(all, id), nil
}

// Push states, as the REST API and metrics show them.
const (
	StateUpToDate    = "up_to_date"
	StateOutstanding = "outstanding"
	StateError       = "error"
)

// deliveryState is up to date when the gateway has every change; error
// when it refused the catalog's bundle, which retrying will not mend;
// else outstanding, being retried (last_error says why it has not yet
// arrived, a gateway that cannot be reached, say).
func deliveryState(d store.Delivery) string {
	switch {
	case d.Outstanding() == 0:
		return StateUpToDate
	case d.Refused:
		return StateError
	}
	return StateOutstanding
}

func deliveryObject(d store.Delivery) map[string]any {
	return map[string]any{"org": d.OrgName, "catalog": d.CatalogName, "configured": d.Configured,
		"catalog_version": d.CatalogVersion, "pushed_version": d.PushedVersion, "outstanding_changes": d.Outstanding(),
		"state": deliveryState(d), "last_error": d.LastError, "failures": d.Failures, "refused": d.Refused,
		"last_attempt": timeOrNil(d.LastAttemptAt), "last_push": timeOrNil(d.LastSuccessAt)}
}

// pushSummary sums a gateway service's deliveries: error when the
// gateway refused a catalog, else outstanding when any change is waiting.
type pushSummary struct {
	State       string
	Outstanding int64
	LastError   string // the first outstanding catalog's, named
	LastPush    time.Time
	Catalogs    []map[string]any
}

func summarize(ds []store.Delivery) pushSummary {
	p := pushSummary{State: StateUpToDate, Catalogs: make([]map[string]any, 0, len(ds))}
	for _, d := range ds {
		p.Outstanding += d.Outstanding()
		if d.LastSuccessAt.After(p.LastPush) {
			p.LastPush = d.LastSuccessAt
		}
		switch s := deliveryState(d); {
		case s == StateError:
			p.State = StateError
		case s == StateOutstanding && p.State == StateUpToDate:
			p.State = StateOutstanding
		}
		if d.Outstanding() > 0 && d.LastError != "" && p.LastError == "" {
			p.LastError = d.OrgName + "/" + d.CatalogName + ": " + d.LastError
		}
		p.Catalogs = append(p.Catalogs, deliveryObject(d))
	}
	return p
}

func (p pushSummary) object() map[string]any {
	return map[string]any{"state": p.State, "outstanding_changes": p.Outstanding, "last_error": p.LastError,
		"last_push": timeOrNil(p.LastPush), "catalogs": p.Catalogs}
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func (m *Manager) listGateways(w http.ResponseWriter, r *http.Request) {
	o, err := m.adminOrg(r.Context())
	if err != nil {
		m.storeError(w, err)
		return
	}
	list := func(ctx context.Context, opts store.ListOptions) (store.Page[store.GatewayService], error) {
		return m.st.ListGatewayServices(ctx, o.ID, opts)
	}
	m.writeGateways(w, r, list, func(g store.GatewayService, ds []store.Delivery) map[string]any {
		return m.gatewayObject(g, ds)
	})
}

// writeGateways answers a page of gateway services, each rendered with
// its deliveries.
func (m *Manager) writeGateways(w http.ResponseWriter, r *http.Request,
	list func(context.Context, store.ListOptions) (store.Page[store.GatewayService], error),
	render func(store.GatewayService, []store.Delivery) map[string]any) {
	opts, err := listOptions(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := list(r.Context(), opts)
	if err != nil {
		m.storeError(w, err)
		return
	}
	ds, err := m.deliveriesOf(r.Context(), "")
	if err != nil {
		m.storeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(page.Items))
	for _, g := range page.Items {
		out = append(out, render(g, filterDeliveries(ds, g.ID)))
	}
	writeJSON(w, http.StatusOK, collection(out, page.Total))
}

func filterDeliveries(ds []store.Delivery, gatewayID string) []store.Delivery {
	var out []store.Delivery
	for _, d := range ds {
		if d.GatewayServiceID == gatewayID {
			out = append(out, d)
		}
	}
	return out
}

// gatewayRequest is the body of POST and PATCH; PATCH changes the fields
// that are present.
type gatewayRequest struct {
	Name              *string `json:"name"`
	Title             *string `json:"title"`
	Summary           *string `json:"summary"`
	Endpoint          *string `json:"endpoint"`
	APIEndpointBase   *string `json:"api_endpoint_base"`
	ClientCertificate *string `json:"client_certificate"`
	ClientKey         *string `json:"client_key"`
	CABundle          *string `json:"ca_bundle"`
	CatalogDefault    *bool   `json:"catalog_default"`
}

// apply copies the fields present onto g.
func (req gatewayRequest) apply(g *store.GatewayService) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	setPEM := func(dst *[]byte, v *string) {
		if v != nil {
			*dst = []byte(strings.TrimSpace(*v) + "\n")
			if strings.TrimSpace(*v) == "" {
				*dst = nil
			}
		}
	}
	set(&g.Name, req.Name)
	set(&g.Title, req.Title)
	set(&g.Summary, req.Summary)
	set(&g.EndpointURL, req.Endpoint)
	set(&g.APIEndpointBase, req.APIEndpointBase)
	setPEM(&g.ClientCertPEM, req.ClientCertificate)
	setPEM(&g.ClientKeyPEM, req.ClientKey)
	setPEM(&g.CABundlePEM, req.CABundle)
	if req.CatalogDefault != nil {
		g.CatalogDefault = *req.CatalogDefault
	}
}

// checkGatewayTLS makes sure the manager can open mutual TLS to the
// gateway with what it was given, naming the field that is wrong.
func checkGatewayTLS(g store.GatewayService) error {
	u, err := url.Parse(g.EndpointURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return errors.New("endpoint must be the gateway's management URL over HTTPS, e.g. https://gw1.example.com:9443 (the management endpoint requires mutual TLS)")
	}
	if u, err := url.Parse(g.APIEndpointBase); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("api_endpoint_base must be the URL consumers call APIs at, e.g. https://api.example.com")
	}
	if len(g.ClientCertPEM) == 0 || len(g.ClientKeyPEM) == 0 || len(g.CABundlePEM) == 0 {
		return errors.New("client_certificate, client_key and ca_bundle are required (PEM): the manager's certificate and key for mutual TLS, and the CA that issued the gateway's certificate; portico certs init makes a set")
	}
	if _, err := tls.X509KeyPair(g.ClientCertPEM, g.ClientKeyPEM); err != nil {
		return fmt.Errorf("client_certificate and client_key: %v", err)
	}
	if _, err := pki.ClientTLS(g.ClientCertPEM, g.ClientKeyPEM, g.CABundlePEM); err != nil {
		return fmt.Errorf("ca_bundle: %v", err)
	}
	return nil
}

func decodeGateway(w http.ResponseWriter, r *http.Request) (gatewayRequest, bool) {
	var req gatewayRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "the body must be a JSON gateway service: "+err.Error()+
			`; fields: name, title, summary, endpoint, api_endpoint_base, client_certificate, client_key, ca_bundle, catalog_default`)
		return req, false
	}
	return req, true
}

func (m *Manager) createGateway(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeGateway(w, r)
	if !ok {
		return
	}
	o, err := m.adminOrg(r.Context())
	if err != nil {
		m.storeError(w, err)
		return
	}
	g := store.GatewayService{OrgID: o.ID}
	req.apply(&g)
	if g.Title == "" {
		g.Title = g.Name
	}
	if err := checkGatewayTLS(g); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		if g, err = tx.CreateGatewayService(r.Context(), g); err != nil {
			return err
		}
		return m.audit(r, tx, "create", "gateway_service", g.ID, "registered gateway service "+g.Name+" at "+g.EndpointURL)
	}) {
		return
	}
	writeJSON(w, http.StatusCreated, m.gatewayObject(g, nil))
}

func (m *Manager) getGateway(w http.ResponseWriter, r *http.Request) {
	g, err := m.gateway(r.Context(), r.PathValue("gs"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	ds, err := m.deliveriesOf(r.Context(), g.ID)
	if err != nil {
		m.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m.gatewayObject(g, ds))
}

func (m *Manager) updateGateway(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeGateway(w, r)
	if !ok {
		return
	}
	g, err := m.gateway(r.Context(), r.PathValue("gs"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	req.apply(&g)
	if err := checkGatewayTLS(g); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		if g, err = tx.UpdateGatewayService(r.Context(), g); err != nil {
			return err
		}
		return m.audit(r, tx, "update", "gateway_service", g.ID, "updated gateway service "+g.Name)
	}) {
		return
	}
	m.getGateway(w, r)
}

func (m *Manager) deleteGateway(w http.ResponseWriter, r *http.Request) {
	g, err := m.gateway(r.Context(), r.PathValue("gs"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		if err := tx.DeleteGatewayService(r.Context(), g.ID); err != nil {
			return err
		}
		return m.audit(r, tx, "delete", "gateway_service", g.ID, "deleted gateway service "+g.Name)
	}) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": g.Name})
}

// audit appends an entry for the caller of r.
func (m *Manager) audit(r *http.Request, tx store.Tx, action, objectType, id, summary string) error {
	_, err := tx.AppendAudit(r.Context(), store.AuditEntry{UserID: callerOf(r).user.ID, Action: action,
		ObjectType: objectType, ObjectID: id, Summary: summary})
	return err
}

// addDefaultGateways makes a new catalog publish to the catalog-default
// gateway services, as API Connect's "default gateway services" setting.
func addDefaultGateways(ctx context.Context, tx store.Tx, catalogID string) error {
	o, err := tx.GetProviderOrgByName(ctx, AdminOrg)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	gs, err := tx.ListGatewayServices(ctx, o.ID, store.ListOptions{})
	if err != nil {
		return err
	}
	for _, g := range gs.Items {
		if g.CatalogDefault {
			if err := tx.AddCatalogGateway(ctx, catalogID, g.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// EnsureGatewayService registers g (by name) or brings its endpoints and
// certificates up to date. A gateway service registered here for the
// first time with CatalogDefault serves every existing catalog too: this
// is how portico up attaches its own gateway, whose management port and
// certificates may change between starts.
func (m *Manager) EnsureGatewayService(ctx context.Context, g store.GatewayService) (store.GatewayService, error) {
	if err := checkGatewayTLS(g); err != nil {
		return g, fmt.Errorf("gateway service %s: %w", g.Name, err)
	}
	err := m.st.Tx(ctx, func(tx store.Tx) error {
		admin, err := tx.GetProviderOrgByName(ctx, AdminOrg)
		if err != nil {
			return err
		}
		g.OrgID = admin.ID
		old, err := tx.GetGatewayServiceByName(ctx, admin.ID, g.Name)
		if err == nil {
			g.ID = old.ID
			g, err = tx.UpdateGatewayService(ctx, g)
			return err
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if g, err = tx.CreateGatewayService(ctx, g); err != nil || !g.CatalogDefault {
			return err
		}
		return addToAllCatalogs(ctx, tx, g.ID)
	})
	return g, err
}

func addToAllCatalogs(ctx context.Context, tx store.Tx, gatewayID string) error {
	orgs, err := tx.ListProviderOrgs(ctx, store.ListOptions{})
	if err != nil {
		return err
	}
	for _, o := range orgs.Items {
		cats, err := tx.ListCatalogs(ctx, o.ID, store.ListOptions{})
		if err != nil {
			return err
		}
		for _, c := range cats.Items {
			if err := tx.AddCatalogGateway(ctx, c.ID, gatewayID); err != nil {
				return err
			}
		}
	}
	return nil
}

// GatewayPush sums what one gateway service is owed.
type GatewayPush struct {
	Gateway     string
	Outstanding int64     // catalog changes not yet delivered
	LastPush    time.Time // last successful delivery; zero before the first
	State       string    // StateUpToDate, StateOutstanding or StateError
}

// PushStatus reports every gateway service, those with no catalogs too.
func (m *Manager) PushStatus(ctx context.Context) ([]GatewayPush, error) {
	admin, err := m.st.GetProviderOrgByName(ctx, AdminOrg)
	if err != nil {
		return nil, err
	}
	gs, err := m.st.ListGatewayServices(ctx, admin.ID, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	ds, err := m.st.ListDeliveries(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]GatewayPush, 0, len(gs.Items))
	for _, g := range gs.Items {
		p := summarize(filterDeliveries(ds, g.ID))
		out = append(out, GatewayPush{Gateway: g.Name, Outstanding: p.Outstanding, LastPush: p.LastPush, State: p.State})
	}
	return out, nil
}
