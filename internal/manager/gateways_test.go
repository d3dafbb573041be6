package manager_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/manager"
	"github.com/portico-api/portico/internal/pki"
	"github.com/portico-api/portico/internal/policy"
	"github.com/portico-api/portico/internal/store"
)

const gatewaysPath = "/api/orgs/admin/availability-zones/availability-zone-default/gateway-services"

// tlsSet is a CA with a gateway server certificate and a manager client
// certificate.
type tlsSet struct {
	ca                    *pki.CA
	serverCert, serverKey []byte
	clientCert, clientKey []byte
}

func newTLSSet(t *testing.T) tlsSet {
	t.Helper()
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s := tlsSet{ca: ca}
	if s.serverCert, s.serverKey, err = ca.IssueServer("gateway", []string{"127.0.0.1"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if s.clientCert, s.clientKey, err = ca.IssueClient("manager", time.Hour); err != nil {
		t.Fatal(err)
	}
	return s
}

// managedGateway is an in-process managed gateway: a ManagedSource behind
// a mutual-TLS management listener on a fixed loopback port, so that it
// can be stopped and started again at the same address.
type managedGateway struct {
	t    *testing.T
	tls  tlsSet
	addr string
	dir  string
	gw   *gateway.Gateway
	src  *gateway.ManagedSource
	srv  *httptest.Server
	reg  *assembly.Registry
}

func startManagedGateway(t *testing.T, s tlsSet, reg *assembly.Registry) *managedGateway {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &managedGateway{t: t, tls: s, addr: ln.Addr().String(), dir: t.TempDir(), reg: reg}
	g.start(ln)
	return g
}

func (g *managedGateway) start(ln net.Listener) {
	g.t.Helper()
	g.gw = gateway.New(gateway.Options{})
	g.src = &gateway.ManagedSource{Data: &gateway.DataDir{Dir: g.dir}, Gateway: g.gw, Registry: g.reg,
		Env: &assembly.Env{}, Log: slog.New(slog.DiscardHandler)}
	if err := g.src.Start(context.Background()); err != nil {
		g.t.Fatal(err)
	}
	cfg, err := pki.ServerTLS(g.tls.serverCert, g.tls.serverKey, g.tls.ca.CertPEM())
	if err != nil {
		g.t.Fatal(err)
	}
	g.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: g.src.Handler()}, TLS: cfg}
	g.srv.StartTLS()
	g.t.Cleanup(g.srv.Close)
}

func (g *managedGateway) stop() { g.srv.Close() }

// restart listens again at the same address, with an empty data dir
// when fresh.
func (g *managedGateway) restart(fresh bool) {
	g.t.Helper()
	if fresh {
		g.dir = g.t.TempDir()
	}
	ln, err := net.Listen("tcp", g.addr)
	if err != nil {
		g.t.Fatal(err)
	}
	g.start(ln)
}

// served is the version of acme/sandbox the gateway serves, or -1.
func (g *managedGateway) served() int64 {
	for _, c := range g.src.Status().Catalogs {
		if c.Org == "acme" && c.Catalog == "sandbox" {
			return c.Version
		}
	}
	return -1
}

func (g *managedGateway) register(e *consumerEnv, name string) map[string]any {
	e.t.Helper()
	return e.must(201, "POST", gatewaysPath, e.admin, map[string]any{"name": name, "endpoint": "https://" + g.addr,
		"api_endpoint_base": "https://api.example.com", "client_certificate": string(g.tls.clientCert),
		"client_key": string(g.tls.clientKey), "ca_bundle": string(g.tls.ca.CertPEM())})
}

// waitFor polls cond until it holds or 15 seconds pass (the race
// detector makes the pure-Go SQLite slow on a loaded machine).
func waitFor(t *testing.T, what string, cond func() bool, last ...func() any) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			if len(last) > 0 {
				t.Fatalf("timed out waiting for %s; last seen: %v", what, last[0]())
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestGatewayServiceEndpointsAuthorised(t *testing.T) {
	e := newConsumerEnv(t)
	gw := startManagedGateway(t, newTLSSet(t), policy.Builtins())
	gw.register(e, "gw1")
	configured := "/api/catalogs/acme/sandbox/configured-gateway-services"
	for _, c := range []struct {
		method, path string
		body         any
		allowed      string // the weakest token allowed
	}{
		{"GET", gatewaysPath, nil, "admin"},
		{"POST", gatewaysPath, map[string]any{"name": "x"}, "admin"},
		{"GET", gatewaysPath + "/gw1", nil, "admin"},
		{"PATCH", gatewaysPath + "/gw1", map[string]any{"title": "x"}, "admin"},
		{"DELETE", gatewaysPath + "/gw1", nil, "admin"},
		{"GET", configured, nil, "viewer"},
		{"POST", configured, map[string]any{"gateway_service_url": "gw1"}, "admin"},
		{"GET", configured + "/gw1", nil, "viewer"},
		{"DELETE", configured + "/gw1", nil, "admin"},
	} {
		if code, _ := e.do(c.method, c.path, "", c.body); code != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d, want 401", c.method, c.path, code)
		}
		refused := []string{e.none, e.viewer, e.dv}
		if c.allowed == "viewer" {
			refused = []string{e.none}
		}
		for _, tok := range refused {
			if code, out := e.do(c.method, c.path, tok, c.body); code != http.StatusForbidden {
				t.Errorf("%s %s with a weaker role: %d %v, want 403", c.method, c.path, code, out)
			}
		}
	}
}

func TestGatewayServicesREST(t *testing.T) {
	e := newConsumerEnv(t)
	s := newTLSSet(t)
	gw := startManagedGateway(t, s, policy.Builtins())
	out := gw.register(e, "gw1")
	if out["type"] != "gateway_service" || out["endpoint"] != "https://"+gw.addr || out["client_key"] != nil ||
		!strings.Contains(out["client_certificate"].(string), "BEGIN CERTIFICATE") || out["catalog_default"] != false {
		t.Fatalf("created gateway service: %v", out)
	}
	body := func(change map[string]any) map[string]any {
		b := map[string]any{"name": "gw2", "endpoint": "https://127.0.0.1:1", "api_endpoint_base": "https://api.example.com",
			"client_certificate": string(s.clientCert), "client_key": string(s.clientKey), "ca_bundle": string(s.ca.CertPEM())}
		for k, v := range change {
			b[k] = v
		}
		return b
	}
	for field, change := range map[string]map[string]any{
		"endpoint":           {"endpoint": "http://127.0.0.1:1"},
		"api_endpoint_base":  {"api_endpoint_base": "api.example.com"},
		"client_certificate": {"client_certificate": "not a certificate"},
		"ca_bundle":          {"ca_bundle": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"},
		"client_secret":      {"client_secret": "an unknown field"},
	} {
		code, out := e.do("POST", gatewaysPath, e.admin, body(change))
		if code != http.StatusBadRequest || !strings.Contains(strings.Join(messages(out), " "), field) {
			t.Errorf("bad %s: %d %v, want 400 naming the field", field, code, out)
		}
	}
	e.must(409, "POST", gatewaysPath, e.admin, body(map[string]any{"name": "gw1"}))
	e.must(201, "POST", gatewaysPath, e.admin, body(map[string]any{"catalog_default": true}))
	if list := e.must(200, "GET", gatewaysPath, e.admin, nil); list["total_results"].(float64) != 2 {
		t.Fatalf("list: %v", list)
	}
	if got := e.must(200, "PATCH", gatewaysPath+"/gw1", e.admin, map[string]any{"title": "Gateway one"}); got["title"] != "Gateway one" || got["endpoint"] != "https://"+gw.addr {
		t.Fatalf("patched: %v", got)
	}

	// A catalog-default gateway service serves every catalog made later.
	e.must(201, "POST", "/api/orgs/acme/catalogs", e.admin, map[string]any{"name": "prod"})
	if list := e.must(200, "GET", "/api/catalogs/acme/prod/configured-gateway-services", e.viewer, nil); len(results(list)) != 1 || results(list)[0]["name"] != "gw2" {
		t.Fatalf("configured services of a new catalog: %v", list)
	}
	configured := "/api/catalogs/acme/sandbox/configured-gateway-services"
	url := out["url"].(string)
	cfg := e.must(201, "POST", configured, e.admin, map[string]any{"gateway_service_url": url})
	if cfg["type"] != "configured_gateway_service" || cfg["name"] != "gw1" || cfg["gateway_service_url"] != url || cfg["state"] != "outstanding" {
		t.Fatalf("configured: %v", cfg)
	}
	e.must(409, "POST", configured, e.admin, map[string]any{"gateway_service_url": "gw1"})
	e.must(404, "POST", configured, e.admin, map[string]any{"gateway_service_url": "no-such-gateway"})
	e.must(200, "GET", configured+"/gw1", e.viewer, nil)
	e.must(409, "DELETE", gatewaysPath+"/gw1", e.admin, nil)
	e.must(200, "DELETE", configured+"/gw1", e.admin, nil)
	e.must(404, "GET", configured+"/gw1", e.viewer, nil)
	e.must(200, "DELETE", gatewaysPath+"/gw1", e.admin, nil)
	e.must(404, "GET", gatewaysPath+"/gw1", e.admin, nil)

	e.must(409, "POST", "/api/orgs", e.admin, map[string]any{"name": "admin"})
	e.must(400, "POST", "/api/orgs/admin/catalogs", e.admin, map[string]any{"name": "x"})
	if e.audits("gateway_service", out["id"].(string)) != 3 {
		t.Errorf("audit entries for gw1 = %d, want create, update, delete", e.audits("gateway_service", out["id"].(string)))
	}
}

// greetAPI answers with a set-variable policy, so that a gateway with
// set-variable disabled refuses it.
const greetAPI = `swagger: "2.0"
info: {title: Greet, version: 1.0.0, x-ibm-name: greet}
basePath: /greet
paths:
  /:
    get:
      responses: {"200": {description: ok}}
x-ibm-configuration:
  assembly:
    execute:
      - set-variable:
          actions:
            - set: message.body
              value: hello
`

// publish puts a published product (with the greet API when withAPI)
// into acme/sandbox.
func (e *consumerEnv) publish(name string, withAPI bool) {
	e.t.Helper()
	apis, refs := []store.ProductAPI(nil), "{}"
	if withAPI {
		apis, refs = []store.ProductAPI{{Name: "greet", Version: "1.0.0", Document: []byte(greetAPI)}}, "{greet: {name: 'greet:1.0.0'}}"
	}
	doc := "product: 1.0.0\ninfo: {name: " + name + ", version: 1.0.0, title: " + name + "}\napis: " + refs + "\nplans: {default-plan: {title: Default}}\n"
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		_, err := tx.CreateProduct(context.Background(), store.Product{CatalogID: e.sandbox.ID, Name: name, Version: "1.0.0",
			Title: name, State: store.ProductPublished, Document: []byte(doc), APIs: apis})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *consumerEnv) version() int64 {
	e.t.Helper()
	v, err := e.st.CatalogVersion(context.Background(), e.sandbox.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// configuredState reads the sandbox's delivery to gateway service name.
func (e *consumerEnv) configuredState(name string) map[string]any {
	return e.must(200, "GET", "/api/catalogs/acme/sandbox/configured-gateway-services/"+name, e.admin, nil)
}

func runDirector(t *testing.T, st store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d := &manager.Director{Store: st, Log: slog.New(slog.DiscardHandler), Interval: 20 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond, StatusEvery: 50 * time.Millisecond}
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestDirectorDeliversToEveryGateway(t *testing.T) {
	e := newConsumerEnv(t)
	s := newTLSSet(t)
	a, b := startManagedGateway(t, s, policy.Builtins()), startManagedGateway(t, s, policy.Builtins())
	a.register(e, "gw-a")
	b.register(e, "gw-b")
	for _, name := range []string{"gw-a", "gw-b"} {
		e.must(201, "POST", "/api/catalogs/acme/sandbox/configured-gateway-services", e.admin, map[string]any{"gateway_service_url": name})
	}
	runDirector(t, e.st)
	e.publish("p1", true)
	v := e.version()
	waitFor(t, "both gateways to serve the publish", func() bool { return a.served() == v && b.served() == v })
	// The gateway serves a push before the director records it.
	for _, name := range []string{"gw-a", "gw-b"} {
		var st map[string]any
		waitFor(t, name+" to be recorded up to date", func() bool {
			st = e.configuredState(name)
			return st["state"] == "up_to_date"
		}, func() any { return st })
		if st["outstanding_changes"].(float64) != 0 || st["pushed_version"].(float64) != float64(v) || st["last_push"] == nil {
			t.Fatalf("%s after the push: %v", name, st)
		}
	}

	// b goes down; two changes wait for it, then it returns and catches up.
	b.stop()
	e.publish("p2", false)
	e.publish("p3", false)
	v = e.version()
	waitFor(t, "a to serve the change", func() bool { return a.served() == v })
	var last map[string]any
	waitFor(t, "gw-b to show the failed push", func() bool {
		last = e.configuredState("gw-b")
		return last["state"] == "outstanding" && last["outstanding_changes"].(float64) == 2 && last["last_error"] != ""
	}, func() any { return last })
	gs := e.must(200, "GET", gatewaysPath+"/gw-b", e.admin, nil)["push_status"].(map[string]any)
	if gs["state"] != "outstanding" || gs["outstanding_changes"].(float64) != 2 || !strings.Contains(gs["last_error"].(string), "acme/sandbox") {
		t.Fatalf("gw-b push status while down: %v", gs)
	}
	b.restart(false)
	waitFor(t, "b to catch up", func() bool { return b.served() == v })
	waitFor(t, "gw-b to be up to date", func() bool { return e.configuredState("gw-b")["state"] == "up_to_date" })

	// A gateway that lost its data (a new replica at the same address) is
	// found by its status and sent the catalog again.
	b.stop()
	b.restart(true)
	waitFor(t, "the emptied gateway to be sent the catalog again", func() bool { return b.served() == v })

	// Unconfiguring the catalog removes it from the gateway.
	e.must(200, "DELETE", "/api/catalogs/acme/sandbox/configured-gateway-services/gw-b", e.admin, nil)
	waitFor(t, "b to stop serving the catalog", func() bool { return b.served() == -1 })
	if a.served() != v {
		t.Fatalf("a serves version %d, want %d", a.served(), v)
	}
}

func TestDirectorShowsGatewayRefusal(t *testing.T) {
	e := newConsumerEnv(t)
	s := newTLSSet(t)
	strict, err := policy.Builtins().Without("set-variable")
	if err != nil {
		t.Fatal(err)
	}
	gw := startManagedGateway(t, s, strict)
	gw.register(e, "strict")
	e.must(201, "POST", "/api/catalogs/acme/sandbox/configured-gateway-services", e.admin, map[string]any{"gateway_service_url": "strict"})
	runDirector(t, e.st)
	e.publish("plain", false)
	first := e.version()
	waitFor(t, "the first version", func() bool { return gw.served() == first })

	e.publish("greet", true)
	waitFor(t, "the refusal to show", func() bool { return e.configuredState("strict")["state"] == "error" })
	st := e.configuredState("strict")
	if msg := st["last_error"].(string); !strings.Contains(msg, "422") || !strings.Contains(msg, "set-variable policy is disabled") {
		t.Fatalf("last_error = %q", msg)
	}
	if gw.served() != first || st["pushed_version"].(float64) != float64(first) {
		t.Fatalf("the gateway serves %d (manager says %v), want the previous version %d", gw.served(), st["pushed_version"], first)
	}
}
