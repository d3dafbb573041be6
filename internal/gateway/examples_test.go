package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/gatewaytest"
	"github.com/portico-api/portico/internal/policy"
)

// backend is a loopback back end that records what it received.
type backend struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request
	body []string
}

func newBackend(t *testing.T) *backend {
	b := &backend{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"id": r.PathValue("id"), "status": "shipped"})
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"method": r.Method, "query": r.URL.RawQuery})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("grant_type") != "client_credentials" {
			http.Error(w, "bad grant", 400)
			return
		}
		writeJSON(w, 200, map[string]any{"access_token": "t0k", "token_type": "Bearer"})
	})
	mux.HandleFunc("GET /secure", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0k" {
			http.Error(w, "no", 401)
			return
		}
		writeJSON(w, 200, map[string]any{"ok": true})
	})
	mux.HandleFunc("GET /status/{code}", func(w http.ResponseWriter, r *http.Request) {
		var code int
		json.Unmarshal([]byte(r.PathValue("code")), &code)
		w.WriteHeader(code)
	})
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(data)))
		b.mu.Lock()
		b.seen = append(b.seen, r.Clone(r.Context()))
		b.body = append(b.body, string(data))
		b.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(b.Close)
	return b
}

// last returns the last request the back end received and its body.
func (b *backend) last(t *testing.T) (*http.Request, string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.seen) == 0 {
		t.Fatal("the back end received nothing")
	}
	return b.seen[len(b.seen)-1], b.body[len(b.body)-1]
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// copyBundle copies an examples/ folder to a temp dir, replacing text in
// catalog.yaml (to point properties at test servers).
func copyBundle(t *testing.T, src string, replace map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		text := string(data)
		if rel == bundle.CatalogFile {
			for old, repl := range replace {
				text = strings.ReplaceAll(text, old, repl)
			}
		}
		os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755)
		return os.WriteFile(filepath.Join(dir, rel), []byte(text), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// serve loads dir into a gateway behind a real HTTP server.
func serve(t *testing.T, dir string) *httptest.Server {
	t.Helper()
	return gatewaytest.Serve(t, dir, policy.Builtins(), &assembly.Env{}, gateway.Options{})
}

// result is a response read in full.
type result = gatewaytest.Response

// call sends one request, headers set from a map, and checks that the
// response carries a transaction ID.
func call(t *testing.T, method, url, body string, headers map[string]string) result {
	t.Helper()
	var pairs []string
	for k, v := range headers {
		pairs = append(pairs, k, v)
	}
	r := gatewaytest.Call(t, method, url, body, pairs...)
	if r.Header.Get("X-Global-Transaction-ID") == "" {
		t.Errorf("%s %s: no X-Global-Transaction-ID", method, url)
	}
	return r
}

func TestPoliciesExample(t *testing.T) {
	be := newBackend(t)
	dir := copyBundle(t, "../../examples/policies", map[string]string{"http://127.0.0.1:9400": be.URL})
	gw := serve(t, dir)
	base := gw.URL + "/demo/sandbox"

	t.Run("invoke with header and parameter control, parse, set-variable, switch", func(t *testing.T) {
		r := call(t, "GET", base+"/orders/42?fields=a&drop=1", "", map[string]string{"X-Secret-Token": "s", "X-Trace": "on", "X-Keep": "k"})
		if r.Status != 200 || !strings.Contains(r.Body, `"status":"shipped"`) {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
		if r.Header.Get("X-Order-Status") != "shipped" || r.Header.Get("X-Traced") != "yes" {
			t.Errorf("headers from set-variable: %v", r.Header)
		}
		seen, _ := be.last(t)
		if seen.URL.Path != "/orders/42" || seen.URL.RawQuery != "fields=a" {
			t.Errorf("back end got %s?%s, want /orders/42?fields=a", seen.URL.Path, seen.URL.RawQuery)
		}
		if seen.Header.Get("X-Secret-Token") != "" || seen.Header.Get("X-Keep") != "k" {
			t.Errorf("header-control: back end headers %v", seen.Header)
		}
		if seen.Header.Get("X-Forwarded-For") == "" || seen.Header.Get("X-Forwarded-Host") == "" {
			t.Errorf("inject-proxy-headers: %v", seen.Header)
		}
	})
	t.Run("invoke POST with body and basic auth, status from set-variable", func(t *testing.T) {
		r := call(t, "POST", base+"/orders/", `{"item":"tea"}`, map[string]string{"Content-Type": "application/json"})
		if r.Status != 201 || !strings.Contains(r.Body, `"method":"POST"`) {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
		seen, body := be.last(t)
		user, pass, _ := seen.BasicAuth()
		if body != `{"item":"tea"}` || user != "svc" || pass != "s3cret" || seen.Header.Get("X-Created-By") != "portico" {
			t.Errorf("back end got body %q auth %s:%s headers %v", body, user, pass, seen.Header)
		}
	})
	t.Run("token flow: invoke output, parse input, bearer header", func(t *testing.T) {
		r := call(t, "GET", base+"/orders/token-flow", "", nil)
		if r.Status != 200 || !strings.Contains(r.Body, `"ok":true`) {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("OperationError caught", func(t *testing.T) {
		r := call(t, "GET", base+"/orders/status/500", "", nil)
		if r.Status != 502 || r.Body != `{"error":"back end failed","status":500}` {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
		if r := call(t, "GET", base+"/orders/status/204", "", nil); r.Status != 204 {
			t.Fatalf("a 2xx is not an error: got %d", r.Status)
		}
	})
	t.Run("ConnectionError caught", func(t *testing.T) {
		r := call(t, "GET", base+"/orders/unavailable", "", nil)
		if r.Status != 503 || r.Body != "the order service is unavailable" {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("custom throw caught by name", func(t *testing.T) {
		r := call(t, "GET", base+"/orders/teapot", "", nil)
		if r.Status != 418 || r.Body != "caught Teapot: short and stout" {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("uncaught throw answers in API Connect's shape", func(t *testing.T) {
		r := call(t, "PUT", base+"/orders/42/lock", "", nil)
		want := `{"httpCode":"409","httpMessage":"Conflict","moreInformation":"order 42 is locked"}`
		if r.Status != 409 || r.Body != want {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("404 and 405", func(t *testing.T) {
		r := call(t, "GET", base+"/nothing/here", "", nil)
		if r.Status != 404 || r.Body != `{"httpCode":"404","httpMessage":"Not Found","moreInformation":"No resources match requested URI"}` {
			t.Fatalf("404: got %d %s", r.Status, r.Body)
		}
		r = call(t, "DELETE", base+"/orders/42", "", nil)
		if r.Status != 405 || !strings.Contains(r.Body, `"httpCode":"405"`) || !strings.Contains(r.Header.Get("Allow"), "GET") {
			t.Fatalf("405: got %d %s allow %q", r.Status, r.Body, r.Header.Get("Allow"))
		}
	})
	t.Run("v5: if, proxy, activity-log, JavaScript conditions", func(t *testing.T) {
		r := call(t, "GET", base+"/legacy/passthrough?a=1&b=2", "", map[string]string{"Content-Type": "application/xml", "X-Anything": "kept"})
		if r.Status != 200 || !strings.Contains(r.Body, `"query":"a=1\u0026b=2"`) && !strings.Contains(r.Body, `"query":"a=1&b=2"`) {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
		seen, _ := be.last(t)
		if seen.Header.Get("X-Legacy-Format") != "xml" || seen.Header.Get("X-Anything") != "kept" {
			t.Errorf("proxy forwards every header, incl. those set by if: %v", seen.Header)
		}
		r = call(t, "POST", base+"/legacy/other", "ignored", map[string]string{"Content-Type": "text/plain"})
		if r.Status != 204 || r.Body != "" {
			t.Fatalf("otherwise branch: got %d %q", r.Status, r.Body)
		}
	})
}

func TestQuickstartExample(t *testing.T) {
	gw := serve(t, "../../examples/quickstart")
	r := call(t, "GET", gw.URL+"/local/sandbox/quickstart/hello?name=Ada", "", map[string]string{"Authorization": "Basic c2VjcmV0"})
	if r.Status != 200 || r.Body != `{"message":"Hello, Ada!","api":"quickstart"}` {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
	if r.Header.Get("Authorization") != "" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request headers must not be echoed; set ones must be sent: %v", r.Header)
	}
	r = call(t, "GET", gw.URL+"/local/sandbox/quickstart/hello", "", nil)
	if r.Body != `{"message":"Hello, world!","api":"quickstart"}` {
		t.Fatalf("default name: %s", r.Body)
	}
}
