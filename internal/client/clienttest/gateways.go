// Package clienttest has test servers for parts of the manager's REST API
// that clients are written against before the manager serves them.
package clienttest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// The bearer tokens GatewayServer accepts.
const (
	AdminToken  = "admin"
	ViewerToken = "viewer"
)

// GatewayServer follows the manager's gateway-services REST contract in
// memory, for tests of the client and the CLI until the manager serves it.
// It knows two bearer tokens: AdminToken (cloud administrator) and
// ViewerToken (may read); the catalog acme/sandbox is the one that can be
// configured.
type GatewayServer struct {
	mu         sync.Mutex
	services   map[string]map[string]any // by name
	configured map[string]bool           // gateway service names the catalog acme/sandbox uses
	bodies     []map[string]any          // request bodies, to check what the client sends
	Server     *httptest.Server
}

// NewGatewayServer starts a GatewayServer, closed when the test ends.
func NewGatewayServer(t testing.TB) *GatewayServer {
	cs := &GatewayServer{services: map[string]map[string]any{}, configured: map[string]bool{}}
	const gsPath = "/api/orgs/admin/availability-zones/availability-zone-default/gateway-services"
	const cfgPath = "/api/catalogs/acme/sandbox/configured-gateway-services"
	mux := http.NewServeMux()
	authed := func(admin bool, h func(w http.ResponseWriter, r *http.Request, body map[string]any)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if tok != AdminToken && tok != ViewerToken {
				w.Header().Set("WWW-Authenticate", "Bearer")
				writeErr(w, 401, "a valid bearer token is required")
				return
			}
			if admin && tok != AdminToken {
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
			"client_certificate": b["client_certificate"], "ca_bundle": b["ca_bundle"], "url": cs.Server.URL + gsPath + "/id-" + name,
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
			"last_push": "2026-01-02T03:04:05Z", "url": cs.Server.URL + cfgPath + "/" + g["id"].(string)}
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
	cs.Server = httptest.NewServer(mux)
	t.Cleanup(cs.Server.Close)
	return cs
}

// Bodies returns the JSON bodies of the requests so far.
func (cs *GatewayServer) Bodies() []map[string]any {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]map[string]any(nil), cs.bodies...)
}

func writeJSONOut(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	writeJSONOut(w, status, map[string]any{"status": status, "message": []string{msg}, "errors": []string{msg}})
}
