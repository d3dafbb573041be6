package gateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/pki"
	"github.com/portico-api/portico/internal/policy"
)

const mgmtProduct = `product: 1.0.0
info:
  name: greet-product
  title: Greet
  version: 1.0.0
apis:
  greet:
    name: greet:1.0.0
plans:
  default-plan:
    title: Default Plan
`

func mgmtWire(version int64, greeting string) *bundle.Wire {
	return &bundle.Wire{Version: version, Org: "acme", Catalog: "prod",
		APIs: []bundle.WireDoc{{Name: "greet", Version: "1.0.0",
			Document: []byte(strings.Replace(greetAPI, "GREETING", greeting, 1))}},
		Products: []bundle.WireProduct{{Name: "greet-product", Version: "1.0.0", State: "published", Document: []byte(mgmtProduct)}},
	}
}

// mgmtEnv is a managed gateway whose management endpoint listens with
// mutual TLS on loopback, and a client the CA vouches for.
type mgmtEnv struct {
	dir    string
	gw     *gateway.Gateway
	src    *gateway.ManagedSource
	srv    *httptest.Server
	client *http.Client
	ca     *pki.CA
	logs   *syncBuffer
}

func newManaged(t *testing.T, dir string) (*gateway.Gateway, *gateway.ManagedSource, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	gw := gateway.New(gateway.Options{})
	src := &gateway.ManagedSource{Data: &gateway.DataDir{Dir: dir}, Gateway: gw, Registry: policy.Builtins(),
		Env: &assembly.Env{}, Log: slog.New(slog.NewTextHandler(logs, nil))}
	if err := src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return gw, src, logs
}

func startMgmt(t *testing.T) *mgmtEnv {
	t.Helper()
	ca, err := pki.NewCA("test manager CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, err := ca.IssueServer("gateway", []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pki.ServerTLS(srvCert, srvKey, ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gw, src, logs := newManaged(t, dir)
	srv := httptest.NewUnstartedServer(src.Handler())
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &mgmtEnv{dir: dir, gw: gw, src: src, srv: srv, ca: ca, logs: logs, client: clientOf(t, ca, ca)}
}

// clientOf is an HTTPS client with a certificate issued by issuer that
// trusts servers of serverCA.
func clientOf(t *testing.T, issuer, serverCA *pki.CA) *http.Client {
	t.Helper()
	cert, key, err := issuer.IssueClient("manager", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pki.ClientTLS(cert, key, serverCA.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

func (e *mgmtEnv) do(t *testing.T, method, path string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *mgmtEnv) push(t *testing.T, w *bundle.Wire) (int, string) {
	t.Helper()
	data, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, "PUT", "/v1/catalogs/"+w.Org+"/"+w.Catalog, data)
}

// greet calls the pushed API through the gateway's handler.
func greet(t *testing.T, gw *gateway.Gateway) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, httptest.NewRequest("GET", "/acme/prod/greet/", nil))
	return rec.Code, rec.Body.String()
}

func TestManagedPushServesAndRestarts(t *testing.T) {
	e := startMgmt(t)
	if code, body := e.push(t, mgmtWire(3, "hello")); code != 200 || !strings.Contains(body, `"version":3`) {
		t.Fatalf("push: %d %s", code, body)
	}
	if code, body := greet(t, e.gw); code != 200 || body != "hello" {
		t.Fatalf("after the push: %d %q", code, body)
	}

	code, body := e.do(t, "GET", "/v1/status", nil)
	if code != 200 {
		t.Fatalf("status: %d %s", code, body)
	}
	var st gateway.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Catalogs) != 1 || st.Catalogs[0] != (gateway.CatalogStatus{Org: "acme", Catalog: "prod", Version: 3}) || st.ConfigVersion != 1 {
		t.Fatalf("status: %s", body)
	}

	// A restart serves the saved catalog without a push.
	gw2, src2, logs := newManaged(t, e.dir)
	if code, body := greet(t, gw2); code != 200 || body != "hello" {
		t.Fatalf("after the restart: %d %q", code, body)
	}
	if !strings.Contains(logs.String(), "serving 1 catalogs from the data dir") {
		t.Fatalf("logs: %s", logs)
	}
	if st := src2.Status(); len(st.Catalogs) != 1 || st.Catalogs[0].Version != 3 {
		t.Fatalf("status after the restart: %+v", st)
	}
}

func TestManagedPushOlderVersionConflicts(t *testing.T) {
	e := startMgmt(t)
	if code, body := e.push(t, mgmtWire(5, "newer")); code != 200 {
		t.Fatalf("push: %d %s", code, body)
	}
	code, body := e.push(t, mgmtWire(4, "older"))
	if code != http.StatusConflict || !strings.Contains(body, "older") || !strings.Contains(body, "version 5") {
		t.Fatalf("older push: %d %s", code, body)
	}
	if code, body := greet(t, e.gw); code != 200 || body != "newer" {
		t.Fatalf("after the older push: %d %q", code, body)
	}
	// The same version is accepted again.
	if code, body := e.push(t, mgmtWire(5, "again")); code != 200 {
		t.Fatalf("same version: %d %s", code, body)
	}
	if _, body := greet(t, e.gw); body != "again" {
		t.Fatalf("after the same version: %q", body)
	}
}

func TestManagedPushWithProblemsKeepsServing(t *testing.T) {
	e := startMgmt(t)
	if code, body := e.push(t, mgmtWire(1, "hello")); code != 200 {
		t.Fatalf("push: %d %s", code, body)
	}
	bad := mgmtWire(2, "hello")
	bad.APIs[0].Document = []byte(strings.Replace(string(bad.APIs[0].Document), "set-variable:", "no-such-policy:", 1))
	code, body := e.push(t, bad)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "greet_1.0.0.yaml") {
		t.Fatalf("broken push: %d %s", code, body)
	}
	if code, body := greet(t, e.gw); code != 200 || body != "hello" {
		t.Fatalf("after the broken push: %d %q", code, body)
	}
	if st := e.src.Status(); st.Catalogs[0].Version != 1 {
		t.Fatalf("status: %+v", st)
	}
	// Nothing of the broken push was saved.
	_, src2, _ := newManaged(t, e.dir)
	if st := src2.Status(); st.Catalogs[0].Version != 1 {
		t.Fatalf("saved: %+v", st)
	}
}

func TestManagedPathMustMatchBundle(t *testing.T) {
	e := startMgmt(t)
	data, _ := json.Marshal(mgmtWire(1, "hello"))
	if code, body := e.do(t, "PUT", "/v1/catalogs/acme/other", data); code != http.StatusBadRequest {
		t.Fatalf("mismatched path: %d %s", code, body)
	}
	if e.gw.Config() != nil {
		t.Fatal("a configuration was installed")
	}
}

func TestManagedDelete(t *testing.T) {
	e := startMgmt(t)
	if code, body := e.push(t, mgmtWire(1, "hello")); code != 200 {
		t.Fatalf("push: %d %s", code, body)
	}
	if code, body := e.do(t, "DELETE", "/v1/catalogs/acme/prod", nil); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ := greet(t, e.gw); code == 200 {
		t.Fatal("the deleted catalog is still served")
	}
	if code, _ := e.do(t, "DELETE", "/v1/catalogs/acme/prod", nil); code != http.StatusNotFound {
		t.Fatalf("second delete: %d", code)
	}
	_, src2, _ := newManaged(t, e.dir)
	if st := src2.Status(); len(st.Catalogs) != 0 {
		t.Fatalf("after the restart: %+v", st)
	}
}

func TestManagedRefusesClientsWithoutTrustedCert(t *testing.T) {
	e := startMgmt(t)
	other, err := pki.NewCA("another CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: e.client.Transport.(*http.Transport).TLSClientConfig.RootCAs}}}
	for name, c := range map[string]*http.Client{"no certificate": noCert, "another CA": clientOf(t, other, e.ca)} {
		resp, err := c.Get(e.srv.URL + "/v1/status")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: got %d, want a handshake error", name, resp.StatusCode)
		}
		// The handshake itself fails, before any request is read.
		conn, err := tls.Dial("tcp", e.srv.Listener.Addr().String(), c.Transport.(*http.Transport).TLSClientConfig.Clone())
		if err == nil {
			// TLS 1.3 reports the server's refusal on the first read.
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = conn.Read(make([]byte, 1))
			conn.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("%s: handshake error %v, want a certificate error", name, err)
		}
	}
}

func TestManagedAnalyticsCollected(t *testing.T) {
	e := startMgmt(t)
	if code, _ := e.do(t, "GET", "/v1/analytics", nil); code != http.StatusNotFound {
		t.Fatalf("without a buffer: %d, want 404", code)
	}
	e.src.Analytics = analytics.NewBuffer(100)
	for _, id := range []string{"t1", "t2", "t3"} {
		e.src.Analytics.Observe(&analytics.Event{TransactionID: id})
	}
	var batch analytics.Batch
	get := func(query string) {
		t.Helper()
		code, body := e.do(t, "GET", "/v1/analytics"+query, nil)
		if code != 200 {
			t.Fatalf("GET /v1/analytics%s: %d %s", query, code, body)
		}
		batch = analytics.Batch{}
		if err := json.Unmarshal([]byte(body), &batch); err != nil {
			t.Fatal(err)
		}
	}
	get("?limit=2")
	if len(batch.Events) != 2 || batch.Events[1].Event.TransactionID != "t2" || batch.Pending != 3 {
		t.Fatalf("first batch = %+v", batch)
	}
	get("?boot=" + batch.Boot + "&after=2")
	if len(batch.Events) != 1 || batch.Events[0].Seq != 3 || batch.Pending != 1 {
		t.Fatalf("second batch = %+v", batch)
	}
	if code, _ := e.do(t, "GET", "/v1/analytics?after=x", nil); code != http.StatusBadRequest {
		t.Fatalf("after=x: %d, want 400", code)
	}
}

func TestManagedDisabledPolicyRefused(t *testing.T) {
	e := startMgmt(t)
	if code, body := e.push(t, mgmtWire(1, "hello")); code != 200 {
		t.Fatalf("first push: %d %s", code, body)
	}
	reg, err := policy.Builtins().Without("set-variable")
	if err != nil {
		t.Fatal(err)
	}
	e.src.Registry = reg
	code, body := e.push(t, mgmtWire(2, "changed"))
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "set-variable policy is disabled on this gateway") {
		t.Fatalf("push with a disabled policy: %d %s", code, body)
	}
	if code, body := greet(t, e.gw); code != 200 || !strings.Contains(body, "hello") {
		t.Fatalf("after the refused push: %d %s, want the first version still served", code, body)
	}
	if _, err := policy.Builtins().Without("no-such-policy"); err == nil || !strings.Contains(err.Error(), "no-such-policy") {
		t.Fatalf("Without(unknown) = %v", err)
	}
}
