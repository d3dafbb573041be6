package gateway

import (
	"net/http"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/router"
)

// corsPolicy is an API's x-ibm-configuration.cors, compiled.
type corsPolicy struct {
	// origins allowed; nil allows any origin (API Connect's default when
	// cors.enabled has no policy).
	origins map[string]bool
}

// noMethod is never a route's method.
const noMethod = "-"

// exposed are the gateway's own headers a browser script may read.
const exposedHeaders = "X-Global-Transaction-ID, X-RateLimit-Limit, X-RateLimit-Remaining"

func compileCORS(def *apidef.API) *corsPolicy {
	if !def.CORS {
		return nil
	}
	p := &corsPolicy{}
	for _, rule := range def.Config.Get("cors").Get("policy").Items() {
		for _, o := range rule.Strings("allow-origin") {
			if o == "*" {
				return &corsPolicy{}
			}
			if p.origins == nil {
				p.origins = map[string]bool{}
			}
			p.origins[o] = true
		}
	}
	return p
}

func (p *corsPolicy) allows(origin string) bool {
	return p.origins == nil || p.origins[origin]
}

// preflight answers a CORS preflight (OPTIONS with Origin and
// Access-Control-Request-Method) for an API with CORS enabled. It reports
// whether it answered.
func (g *Gateway) preflight(w http.ResponseWriter, r *http.Request, cfg *Config) bool {
	origin, method := r.Header.Get("Origin"), r.Header.Get("Access-Control-Request-Method")
	if r.Method != http.MethodOptions || origin == "" || method == "" {
		return false
	}
	m := cfg.routes.Match(method, r.URL.Path, nil)
	if m.Status != router.Found || m.Value.api.cors == nil {
		return false
	}
	if !m.Value.api.cors.allows(origin) {
		writeAPIError(w, http.StatusForbidden, "", "The origin is not allowed by the API's CORS policy.")
		return true
	}
	// Asking for a method no route has makes the router list the path's
	// methods.
	methods := []string{method}
	if all := cfg.routes.Match(noMethod, r.URL.Path, nil); all.Status == router.MethodNotAllowed {
		methods = all.Allowed
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	h.Set("Access-Control-Max-Age", "600")
	h.Add("Vary", "Origin")
	w.WriteHeader(http.StatusOK)
	return true
}

// corsHeaders adds CORS headers to an actual response of a CORS-enabled API.
func corsHeaders(w http.ResponseWriter, r *http.Request, p *corsPolicy) {
	origin := r.Header.Get("Origin")
	if p == nil || origin == "" || !p.allows(origin) {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Expose-Headers", exposedHeaders)
	h.Add("Vary", "Origin")
}
