package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/policy"
)

// events collects analytics events.
type events struct {
	mu  sync.Mutex
	all []*analytics.Event
}

func (e *events) Observe(ev *analytics.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) snapshot() []*analytics.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*analytics.Event(nil), e.all...)
}

func servePlans(t *testing.T, obs analytics.Observer) *httptest.Server {
	t.Helper()
	b, ps := bundle.Load("../../examples/plans")
	if errs := ps.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	cfg, ps := gateway.Compile(b, policy.Builtins(), &assembly.Env{})
	if errs := ps.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	g := gateway.New(gateway.Options{Observer: obs})
	g.Store(cfg)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

func creds(id, secret string) map[string]string {
	h := map[string]string{}
	if id != "" {
		h["X-IBM-Client-Id"] = id
	}
	if secret != "" {
		h["X-IBM-Client-Secret"] = secret
	}
	return h
}

func TestClientIdentification(t *testing.T) {
	srv := servePlans(t, nil)
	url := srv.URL + "/demo/sandbox/weather/current"
	invalid := `{"httpCode":"401","httpMessage":"Unauthorized","moreInformation":"Invalid client id or secret."}`
	cases := []struct {
		name       string
		headers    map[string]string
		wantStatus int
		wantBody   string
	}{
		{"no credentials", nil, 401, invalid},
		{"unknown client id", creds("nobody", "x"), 401, invalid},
		{"client id without the secret", creds("gold-app-id", ""), 401, invalid},
		{"wrong secret", creds("gold-app-id", "gold-secret-2"), 401, invalid},
		{"app without a subscription", creds("unsubscribed-app-id", "unsub-secret-3"), 401,
			`{"httpCode":"401","httpMessage":"Unauthorized","moreInformation":"Client id not subscribed to a plan that includes this operation."}`},
		{"disabled app", creds("disabled-app-id", "disabled-secret-4"), 403,
			`{"httpCode":"403","httpMessage":"Forbidden","moreInformation":"The application is disabled or not active."}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, "GET", url, "", tc.headers)
			if r.Status != tc.wantStatus || r.Body != tc.wantBody {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	t.Run("subscribed app", func(t *testing.T) {
		r := call(t, "GET", url, "", creds("gold-app-id", "gold-secret-1"))
		var got map[string]string
		if err := json.Unmarshal([]byte(r.Body), &got); err != nil || r.Status != 200 {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
		want := map[string]string{"forecast": "sunny", "app": "gold-app", "org": "acme", "plan": "gold", "product": "weather-product", "secret": ""}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q (the secret must not reach the assembly)", k, got[k], v)
			}
		}
	})
	t.Run("operation without security", func(t *testing.T) {
		if r := call(t, "GET", srv.URL+"/demo/sandbox/weather/public", "", nil); r.Status != 200 {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
}

func TestPlanRateLimit(t *testing.T) {
	srv := servePlans(t, nil)
	url := srv.URL + "/demo/sandbox/weather/current"
	gold := creds("gold-app-id", "gold-secret-1")
	for i := 1; i <= 5; i++ {
		r := call(t, "GET", url, "", gold)
		if r.Status != 200 {
			t.Fatalf("call %d: %d %s", i, r.Status, r.Body)
		}
		if got, want := r.Header.Get("X-RateLimit-Remaining"), "name=default,"+strconv.Itoa(5-i)+";"; got != want {
			t.Errorf("call %d: X-RateLimit-Remaining %q, want %q", i, got, want)
		}
		if got := r.Header.Get("X-RateLimit-Limit"); got != "name=default,5;" {
			t.Errorf("X-RateLimit-Limit = %q", got)
		}
	}
	r := call(t, "GET", url, "", gold)
	if r.Status != 429 || r.Body != `{"httpCode":"429","httpMessage":"Too Many Requests","moreInformation":"Rate Limit exceeded"}` {
		t.Fatalf("call 6: %d %s", r.Status, r.Body)
	}
	if r.Header.Get("X-RateLimit-Remaining") != "name=default,0;" || r.Header.Get("Retry-After") == "" {
		t.Errorf("429 headers: %v", r.Header)
	}
	// A soft limit reports but does not refuse.
	free := creds("free-app-id", "free-secret-2")
	for i := 1; i <= 4; i++ {
		r := call(t, "GET", url, "", free)
		if r.Status != 200 {
			t.Fatalf("soft limit, call %d: %d", i, r.Status)
		}
		if i > 2 && r.Header.Get("X-RateLimit-Remaining") != "name=default,0;" {
			t.Errorf("soft limit, call %d: remaining %q", i, r.Header.Get("X-RateLimit-Remaining"))
		}
	}
}

func TestAnalyticsEventPerCall(t *testing.T) {
	obs := &events{}
	srv := servePlans(t, obs)
	call(t, "GET", srv.URL+"/demo/sandbox/weather/current?x=1", "", creds("gold-app-id", "gold-secret-1"))
	call(t, "GET", srv.URL+"/demo/sandbox/weather/current", "", nil)
	call(t, "POST", srv.URL+"/demo/sandbox/nothing", "abc", nil)
	evs := obs.snapshot()
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	ok := evs[0]
	if ok.StatusCode != "200 OK" || ok.APIName != "weather" || ok.APIVersion != "1.0.0" || ok.OperationPath != "/current" ||
		ok.AppName != "gold-app" || ok.ClientID != "gold-app-id" || ok.PlanName != "gold" || ok.ProductName != "weather-product" ||
		ok.OrgName != "demo" || ok.CatalogName != "sandbox" || ok.QueryString != "x=1" || ok.BytesSent == 0 || ok.TransactionID == "" {
		t.Errorf("event of a good call: %+v", ok)
	}
	if evs[1].StatusCode != "401 Unauthorized" || evs[1].AppName != "" {
		t.Errorf("event of a refused call: %+v", evs[1])
	}
	if evs[2].StatusCode != "404 Not Found" || evs[2].APIName != "" || evs[2].BytesReceived != 3 {
		t.Errorf("event of an unrouted call: %+v", evs[2])
	}
}

func TestCORS(t *testing.T) {
	srv := servePlans(t, nil)
	url := srv.URL + "/demo/sandbox/weather/current"
	r := call(t, "OPTIONS", url, "", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "GET",
		"Access-Control-Request-Headers": "X-IBM-Client-Id, X-IBM-Client-Secret"})
	if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		r.Header.Get("Access-Control-Allow-Methods") != "GET, HEAD" ||
		r.Header.Get("Access-Control-Allow-Headers") != "X-IBM-Client-Id, X-IBM-Client-Secret" {
		t.Fatalf("preflight (no credentials needed): %d %v", r.Status, r.Header)
	}
	h := creds("gold-app-id", "gold-secret-1")
	h["Origin"] = "https://app.example"
	r = call(t, "GET", url, "", h)
	if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		r.Header.Get("Access-Control-Expose-Headers") == "" {
		t.Fatalf("actual request: %d %v", r.Status, r.Header)
	}
	// An API without CORS gets no preflight answer: OPTIONS is not one of its verbs.
	gw := serve(t, "../../examples/quickstart")
	r = call(t, "OPTIONS", gw.URL+"/local/sandbox/quickstart/hello", "", map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
	if r.Status != 405 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("no CORS: %d %v", r.Status, r.Header)
	}
}

func TestAssemblyRateLimitPolicy(t *testing.T) {
	srv := servePlans(t, nil)
	url := srv.URL + "/demo/sandbox/weather/forecast"
	gold := creds("gold-app-id", "gold-secret-1")
	for i := 1; i <= 2; i++ {
		if r := call(t, "GET", url, "", gold); r.Status != 200 {
			t.Fatalf("call %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := call(t, "GET", url, "", gold)
	if r.Status != 429 || r.Body != `{"httpCode":"429","httpMessage":"Too Many Requests","moreInformation":"Assembly rate limit exceeded"}` {
		t.Fatalf("call 3: %d %s", r.Status, r.Body)
	}
	if r.Header.Get("X-RateLimit-Remaining") != "name=forecast,0;" {
		t.Errorf("headers: %v", r.Header)
	}
	// The plan-wide limit (5/minute) still has room for another operation.
	if r := call(t, "GET", srv.URL+"/demo/sandbox/weather/current", "", gold); r.Status != 200 {
		t.Fatalf("other operation: %d %s", r.Status, r.Body)
	}
}

// client-security checks credentials against the catalog's apps.
func TestClientSecurityPolicyUsesConsumerApps(t *testing.T) {
	dir := copyBundle(t, "../../examples/plans", nil)
	os.WriteFile(filepath.Join(dir, "cs.yaml"), []byte(`swagger: '2.0'
info: {title: CS, x-ibm-name: cs, version: 1.0.0}
basePath: /cs
x-ibm-configuration:
  gateway: datapower-api-gateway
  assembly:
    execute:
      - client-security:
          version: 2.0.0
          extract-credential-method: header
          id-name: X-Client-Id
          secret-name: X-Client-Secret
          secret-required: true
      - set-variable:
          version: 2.0.0
          actions: [{set: message.body, value: 'app $(client.app.name)', type: string}]
paths:
  /:
    get:
      responses: {'200': {description: ok}}
`), 0o644)
	gw := serve(t, dir)
	url := gw.URL + "/demo/sandbox/cs/"
	r := call(t, "GET", url, "", map[string]string{"X-Client-Id": "free-app-id", "X-Client-Secret": "free-secret-2"})
	if r.Status != 200 || r.Body != "app free-app" {
		t.Fatalf("registered app: %d %s", r.Status, r.Body)
	}
	for name, h := range map[string]map[string]string{
		"unknown client": {"X-Client-Id": "nobody", "X-Client-Secret": "x"},
		"wrong secret":   {"X-Client-Id": "free-app-id", "X-Client-Secret": "nope"},
		"disabled app":   {"X-Client-Id": "disabled-app-id", "X-Client-Secret": "disabled-secret-4"},
	} {
		if r := call(t, "GET", url, "", h); r.Status != 401 {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
}

// The client id may come in a query parameter, and id and secret as HTTP
// basic credentials, when the security definitions say so.
func TestClientIdentificationByQueryAndBasic(t *testing.T) {
	dir := copyBundle(t, "../../examples/plans", nil)
	os.WriteFile(filepath.Join(dir, "weather_1.0.0.yaml"), []byte(strings.NewReplacer(
		"    in: header\n    name: X-IBM-Client-Id", "    in: query\n    name: client_id",
	).Replace(readFile(t, "../../examples/plans/weather_1.0.0.yaml"))+`
  /basic:
    get:
      security: [{basicAuth: []}]
      responses:
        '200': {description: HTTP basic}
`), 0o644)
	edit := readFile(t, filepath.Join(dir, "weather_1.0.0.yaml"))
	edit = strings.Replace(edit, "securityDefinitions:\n", "securityDefinitions:\n  basicAuth:\n    type: basic\n", 1)
	os.WriteFile(filepath.Join(dir, "weather_1.0.0.yaml"), []byte(edit), 0o644)
	srv := serve(t, dir)
	base := srv.URL + "/demo/sandbox/weather"

	r := call(t, "GET", base+"/current?client_id=gold-app-id", "", map[string]string{"X-IBM-Client-Secret": "gold-secret-1"})
	if r.Status != 200 || !strings.Contains(r.Body, `"app":"gold-app"`) {
		t.Fatalf("client id in the query: %d %s", r.Status, r.Body)
	}
	if r := call(t, "GET", base+"/current", "", map[string]string{"X-IBM-Client-Id": "gold-app-id", "X-IBM-Client-Secret": "gold-secret-1"}); r.Status != 401 {
		t.Fatalf("the id in a header where the API wants the query: %d", r.Status)
	}
	req, _ := http.NewRequest("GET", base+"/basic", nil)
	req.SetBasicAuth("free-app-id", "free-secret-2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP basic: %d", resp.StatusCode)
	}
	req.SetBasicAuth("free-app-id", "wrong")
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Fatalf("HTTP basic with a wrong secret: %d", resp.StatusCode)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
