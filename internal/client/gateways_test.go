package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/portico-api/portico/internal/client"
)

// contractServer follows the gateway-services REST contract
// (notes/gateway-services-api.md) in memory, until the manager serves it:
// cloud admin token "admin", org viewer token "viewer".
type contractServer struct {
	mu         sync.Mutex
	services   map[string]map[string]any // by name
	configured map[string]bool           // gateway service names the catalog acme/sandbox uses
	bodies     []map[string]any          // request bodies, to check what the client sends
	srv        *httptest.Server
}

func newContractServer(t *testing.T) *contractServer {
	cs := &contractServer{services: map[string]map[string]any{}, configured: map[string]bool{}}
	const gsPath = "/api/orgs/admin/availability-zones/availability-zone-default/gateway-services"
	const cfgPath = "/api/catalogs/acme/sandbox/configured-gateway-services"
	mux := http.NewServeMux()
	authed := func(admin bool, h func(w http.ResponseWriter, r *http.Request, body map[string]any)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if tok != "admin" && tok != "viewer" {
				w.Header().Set("WWW-Authenticate", "Bearer")
				writeErr(w, 401, "a valid bearer token is required")
				return
			}
			if admin && tok != "admin" {
				writeErr(w, 403, "your role does not allow this")
				return
			}
			var body map[string]any
			json.NewDecoder(r.Body).Decode(&body)
			cs.mu.Lock()
			defer cs.mu.Unlock()
			if body != nil {
				cs.bodies = append(cs.bodies, body)
			}
			h(w, r, body)
		}
	}
	find := func(w http.ResponseWriter, ref string) map[string]any {
		for _, g := range cs.services {
			if g["name"] == ref || g["id"] == ref || g["url"] == ref {
				return g
			}
		}
		writeErr(w, 404, "gateway service "+ref+" not found")
		return nil
	}
	mux.HandleFunc("GET "+gsPath, authed(false, func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
		var out []any
		for _, g := range cs.services {
			out = append(out, g)
		}
		writeJSONOut(w, 200, map[string]any{"total_results": len(out), "results": out})
	}))
	mux.HandleFunc("POST "+gsPath, authed(true, func(w http.ResponseWriter, _ *http.Request, b map[string]any) {
		name, _ := b["name"].(string)
		g := map[string]any{"type": "gateway_service", "api_version": "2.0.0", "id": "id-" + name, "name": name, "title": b["title"],
			"endpoint": b["endpoint"], "api_endpoint_base": b["api_endpoint_base"], "catalog_default": b["catalog_default"],
			"client_certificate": b["client_certificate"], "ca_bundle": b["ca_bundle"], "url": cs.srv.URL + gsPath + "/id-" + name,
			"created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z",
			"push_status": map[string]any{"state": "outstanding", "outstanding_changes": 2, "last_error": "", "last_push": nil}}
		cs.services[name] = g
		writeJSONOut(w, 201, g)
	}))
	mux.HandleFunc("GET "+gsPath+"/{gs}", authed(false, func(w http.ResponseWriter, r *http.Request, _ map[string]any) {
		if g := find(w, r.PathValue("gs")); g != nil {
			writeJSONOut(w, 200, g)
		}
	}))
	mux.HandleFunc("PATCH "+gsPath+"/{gs}", authed(true, func(w http.ResponseWriter, r *http.Request, b map[string]any) {
		if g := find(w, r.PathValue("gs")); g != nil {
			for k, v := range b {
				if k != "client_key" {
					g[k] = v
				}
			}
			writeJSONOut(w, 200, g)
		}
	}))
	mux.HandleFunc("DELETE "+gsPath+"/{gs}", authed(true, func(w http.ResponseWriter, r *http.Request, _ map[string]any) {
		if g := find(w, r.PathValue("gs")); g != nil {
			if cs.configured[g["name"].(string)] {
				writeErr(w, 409, "gateway service "+g["name"].(string)+" is used by catalog acme/sandbox")
				return
			}
			delete(cs.services, g["name"].(string))
			w.WriteHeader(200)
		}
	}))
	cfgObject := func(g map[string]any) map[string]any {
		return map[string]any{"type": "configured_gateway_service", "id": g["id"], "name": g["name"], "title": g["title"],
			"gateway_service_url": g["url"], "endpoint": g["endpoint"], "api_endpoint_base": g["api_endpoint_base"],
			"catalog_version": 3, "pushed_version": 2, "outstanding_changes": 1, "state": "outstanding", "last_error": "",
			"last_push": "2026-01-02T03:04:05Z", "url": cs.srv.URL + cfgPath + "/" + g["id"].(string)}
	}
	mux.HandleFunc("GET "+cfgPath, authed(false, func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
		out := []any{}
		for name := range cs.configured {
			out = append(out, cfgObject(cs.services[name]))
		}
		writeJSONOut(w, 200, map[string]any{"total_results": len(out), "results": out})
	}))
	mux.HandleFunc("POST "+cfgPath, authed(true, func(w http.ResponseWriter, _ *http.Request, b map[string]any) {
		ref, _ := b["gateway_service_url"].(string)
		if g := find(w, ref); g != nil {
			cs.configured[g["name"].(string)] = true
			writeJSONOut(w, 201, cfgObject(g))
		}
	}))
	mux.HandleFunc("GET "+cfgPath+"/{gs}", authed(false, func(w http.ResponseWriter, r *http.Request, _ map[string]any) {
		if g := find(w, r.PathValue("gs")); g != nil && cs.configured[g["name"].(string)] {
			writeJSONOut(w, 200, cfgObject(g))
		} else if g != nil {
			writeErr(w, 404, "not configured")
		}
	}))
	mux.HandleFunc("DELETE "+cfgPath+"/{gs}", authed(true, func(w http.ResponseWriter, r *http.Request, _ map[string]any) {
		if g := find(w, r.PathValue("gs")); g != nil {
			delete(cs.configured, g["name"].(string))
			w.WriteHeader(200)
		}
	}))
	cs.srv = httptest.NewServer(mux)
	t.Cleanup(cs.srv.Close)
	return cs
}

func writeJSONOut(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	writeJSONOut(w, status, map[string]any{"status": status, "message": []string{msg}, "errors": []string{msg}})
}

func TestGatewayServices(t *testing.T) {
	cs := newContractServer(t)
	ctx := context.Background()
	admin := client.New(cs.srv.URL, client.WithToken("admin"))
	viewer := client.New(cs.srv.URL, client.WithToken("viewer"))

	gs, err := admin.CreateGatewayService(ctx, client.GatewayServiceRequest{Name: "gw1", Title: "Gateway 1",
		Endpoint: "https://gw1.internal:3000", APIEndpointBase: "https://api.example.com",
		ClientCertificate: "-----BEGIN CERTIFICATE-----\n", ClientKey: "-----BEGIN PRIVATE KEY-----\n", CABundle: "ca"})
	if err != nil || gs.Name != "gw1" || gs.Type != "gateway_service" || gs.Endpoint != "https://gw1.internal:3000" ||
		gs.APIEndpointBase != "https://api.example.com" || gs.PushStatus.State != "outstanding" || gs.PushStatus.OutstandingChanges != 2 ||
		gs.PushStatus.LastPush != nil || gs.CreatedAt.IsZero() {
		t.Fatalf("CreateGatewayService: %+v %v", gs, err)
	}
	if b := cs.bodies[0]; b["client_key"] != "-----BEGIN PRIVATE KEY-----\n" || b["catalog_default"] != false || b["name"] != "gw1" {
		t.Fatalf("the create body: %v", b)
	}
	_, err = viewer.CreateGatewayService(ctx, client.GatewayServiceRequest{Name: "gw2"})
	wantError(t, err, 403, "your role does not allow this")
	_, _, err = client.New(cs.srv.URL).GatewayServices(ctx, client.ListOptions{})
	wantError(t, err, 401, "bearer token")

	list, total, err := viewer.GatewayServices(ctx, client.ListOptions{})
	if err != nil || total != 1 || list[0].ID != "id-gw1" {
		t.Fatalf("GatewayServices: %+v %v", list, err)
	}
	if got, err := viewer.GatewayService(ctx, "gw1"); err != nil || got.URL != gs.URL {
		t.Fatalf("GatewayService: %+v %v", got, err)
	}
	yes, title := true, "Renamed"
	up, err := admin.UpdateGatewayService(ctx, "gw1", client.GatewayServiceUpdate{Title: &title, CatalogDefault: &yes})
	if err != nil || up.Title != "Renamed" || !up.CatalogDefault || up.Endpoint != gs.Endpoint {
		t.Fatalf("UpdateGatewayService: %+v %v", up, err)
	}
	if b := cs.bodies[len(cs.bodies)-1]; len(b) != 2 {
		t.Fatalf("a PATCH sends only the changed fields: %v", b)
	}

	cfg, err := admin.ConfigureGatewayService(ctx, "acme", "sandbox", gs.URL)
	if err != nil || cfg.Type != "configured_gateway_service" || cfg.GatewayServiceURL != gs.URL || cfg.CatalogVersion != 3 ||
		cfg.PushedVersion != 2 || cfg.State != "outstanding" || cfg.LastPush == nil {
		t.Fatalf("ConfigureGatewayService: %+v %v", cfg, err)
	}
	if cl, total, err := viewer.ConfiguredGatewayServices(ctx, "acme", "sandbox", client.ListOptions{}); err != nil || total != 1 || cl[0].Name != "gw1" {
		t.Fatalf("ConfiguredGatewayServices: %+v %v", cl, err)
	}
	if one, err := viewer.ConfiguredGatewayService(ctx, "acme", "sandbox", "gw1"); err != nil || one.OutstandingChanges != 1 {
		t.Fatalf("ConfiguredGatewayService: %+v %v", one, err)
	}
	err = admin.DeleteGatewayService(ctx, "gw1")
	if !client.IsConflict(err) {
		t.Fatalf("deleting a used gateway service: %v", err)
	}
	if err := admin.UnconfigureGatewayService(ctx, "acme", "sandbox", "gw1"); err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteGatewayService(ctx, "gw1"); err != nil {
		t.Fatal(err)
	}
	_, err = viewer.GatewayService(ctx, "gw1")
	wantError(t, err, 404, "gateway service gw1 not found")
}
