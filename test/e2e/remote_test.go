package e2e

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/manager/analyticstest"
	"github.com/portico-api/portico/internal/pki"
	"github.com/portico-api/portico/internal/store/storetest"
)

var mgmtListening = regexp.MustCompile(`"management listening"(?: url=|.*"url":")(https://[^"\s]+)`)

// remoteGateway is a `portico gateway` process in managed mode that can be
// stopped and started again at the same addresses with the same data dir.
type remoteGateway struct {
	t            *testing.T
	certs, data  string
	mgmt, api    string // host:port
	extra        []string
	proc         *proc
	mgmtURL, url string
}

func startRemoteGateway(t *testing.T, certs string, extra ...string) *remoteGateway {
	g := &remoteGateway{t: t, certs: certs, data: t.TempDir(), mgmt: "127.0.0.1:0", api: "127.0.0.1:0", extra: extra}
	g.start()
	// Come back at the same ports after a restart: the manager knows the
	// management URL, clients the API URL.
	g.mgmt, g.api = strings.TrimPrefix(g.mgmtURL, "https://"), strings.TrimPrefix(g.url, "http://")
	return g
}

func (g *remoteGateway) start() {
	g.t.Helper()
	c := func(name string) string { return filepath.Join(g.certs, name) }
	args := append([]string{"gateway", "--management-listen", g.mgmt, "--management-cert", c("gateway.pem"),
		"--management-key", c("gateway-key.pem"), "--management-client-ca", c("ca.pem"), "--data-dir", g.data,
		"--listen", g.api, "--admin-listen", ""}, g.extra...)
	g.proc = start(g.t, args...)
	line, _ := g.proc.waitLine(g.t, 0, mgmtListening)
	g.mgmtURL = mgmtListening.FindStringSubmatch(line)[1]
	line, _ = g.proc.waitLine(g.t, 0, gatewayListening)
	g.url = gatewayListening.FindStringSubmatch(line)[1]
}

// stop interrupts the process and waits for it to exit.
func stop(t *testing.T, p *proc) {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("portico did not stop within 10s of an interrupt")
	}
	p.cmd.Wait()
}

// manager is a `portico manager` process and a token for its admin.
type managerProc struct {
	proc  *proc
	home  string
	url   string
	token string
}

func startManager(t *testing.T, home, listen string, extra ...string) *managerProc {
	t.Helper()
	p := start(t, append([]string{"manager", "--home", home, "--listen", listen, "--push-max-backoff", "500ms"}, extra...)...)
	line, _ := p.waitLine(t, 0, managerListening)
	m := &managerProc{proc: p, home: home, url: managerListening.FindStringSubmatch(line)[1]}
	key, err := os.ReadFile(filepath.Join(home, "admin.apikey"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"grant_type": "api_key", "api_key": strings.TrimSpace(string(key))})
	code, out := rest(t, "POST", m.url+"/api/token", "", "application/json", body)
	if code != 200 {
		t.Fatalf("token: %d %v", code, out)
	}
	m.token = out["access_token"].(string)
	return m
}

func (m *managerProc) must(t *testing.T, want int, method, path string, body any) map[string]any {
	t.Helper()
	var data []byte
	if body != nil {
		data, _ = json.Marshal(body)
	}
	code, out := rest(t, method, m.url+path, m.token, "application/json", data)
	if code != want {
		t.Fatalf("%s %s: %d %v, want %d", method, path, code, out, want)
	}
	return out
}

// configured reads what the manager says of the sandbox on a gateway.
func (m *managerProc) configured(t *testing.T, gateway string) map[string]any {
	return m.must(t, 200, "GET", "/api/catalogs/acme/sandbox/configured-gateway-services/"+gateway, nil)
}

// waitState polls the manager until the gateway's delivery is in state.
func (m *managerProc) waitState(t *testing.T, gateway, state string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := m.configured(t, gateway)
		if st["state"] == state {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach state %s within 15s: %v", gateway, state, st)
		}
		time.Sleep(20 * time.Millisecond) // polling the manager's view
	}
}

func (m *managerProc) publish(t *testing.T, product, api string) {
	t.Helper()
	ct, form := publishForm(t, product, api)
	if code, out := rest(t, "POST", m.url+"/api/catalogs/acme/sandbox/publish", m.token, ct, form); code != 201 {
		t.Fatalf("publish: %d %v", code, out)
	}
}

// register makes g a gateway service of the manager, used by
// acme/sandbox, with the CLI as an operator would (PORTICO_TOKEN, no file).
func (m *managerProc) register(t *testing.T, name, certs string, g *remoteGateway) {
	t.Helper()
	c := func(f string) string { return filepath.Join(certs, f) }
	for _, args := range [][]string{
		{"gateway-services:create", "--name", name, "--endpoint", g.mgmtURL, "--api-endpoint-base", g.url,
			"--client-cert", c("manager.pem"), "--client-key", c("manager-key.pem"), "--ca-bundle", c("ca.pem")},
		{"gateway-services:configure", name, "--org", "acme", "--catalog", "sandbox"},
	} {
		cmd := exec.Command(binary, append(args, "--server", m.url)...)
		cmd.Env = append(os.Environ(), "PORTICO_TOKEN="+m.token, "PORTICO_CONFIG_DIR="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("portico %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestRemoteGateways plays issue 6: one manager, two gateway processes,
// registration over mutual TLS, pushes, serving through a manager outage,
// restarts from the data dir, catch-up, and a refused bundle.
func TestRemoteGateways(t *testing.T) {
	certs := filepath.Join(t.TempDir(), "certs")
	if out, err := exec.Command(binary, "certs", "init", certs).CombinedOutput(); err != nil {
		t.Fatalf("certs init: %v\n%s", err, out)
	}
	a := startRemoteGateway(t, certs)
	b := startRemoteGateway(t, certs, "--disable-policy", "gatewayscript")
	home := t.TempDir()
	m := startManager(t, home, "127.0.0.1:0")
	mgrAddr := strings.TrimPrefix(m.url, "http://")
	m.must(t, 201, "POST", "/api/orgs", map[string]any{"name": "acme"})
	m.register(t, "gw-a", certs, a)
	m.register(t, "gw-b", certs, b)

	// A publish is served by both within 2 seconds.
	m.publish(t, upProduct, upAPI)
	for _, g := range []*remoteGateway{a, b} {
		took := waitStatus(t, g.url+"/acme/sandbox/hello/", 200)
		t.Logf("published to served on %s in %v", g.url, took)
		if took > 2*time.Second {
			t.Errorf("%s served the publish after %v, more than 2s", g.url, took)
		}
	}
	m.waitState(t, "gw-a", "up_to_date")
	m.waitState(t, "gw-b", "up_to_date")
	calls := 2 // of version 1.0.0: the two waits above ended on one 200 each
	call := func(g *remoteGateway, want int) {
		t.Helper()
		if code, body := get(t, g.url+"/acme/sandbox/hello/"); code != want {
			t.Fatalf("%s: %d %s, want %d", g.url, code, body, want)
		}
		calls++
	}
	call(a, 200)
	call(b, 200)

	// Without the manager both keep serving, and a gateway restarted
	// meanwhile serves from its data dir.
	stop(t, m.proc)
	call(a, 200)
	call(b, 200)
	stop(t, a.proc)
	a.start()
	call(a, 200)

	// A gateway that is down during a publish catches up when it returns,
	// and the manager shows it outstanding, then up to date.
	m = startManager(t, home, mgrAddr)
	stop(t, b.proc)
	m.publish(t, strings.Replace(upProduct, "version: 1.0.0", "version: 2.0.0", 1),
		strings.NewReplacer("version: 1.0.0", "version: 2.0.0", "/hello", "/hello2").Replace(upAPI))
	waitStatus(t, a.url+"/acme/sandbox/hello2/", 200)
	st := m.waitState(t, "gw-b", "outstanding")
	if st["outstanding_changes"].(float64) < 1 || st["last_error"] == "" {
		t.Fatalf("gw-b while down: %v", st)
	}
	b.start()
	waitStatus(t, b.url+"/acme/sandbox/hello2/", 200)
	m.waitState(t, "gw-b", "up_to_date")
	call(b, 200)

	// A bundle that gw-b refuses (it runs with gatewayscript disabled)
	// leaves it serving the previous version, and the manager shows why.
	script := strings.Replace(upAPI, `      - set-variable:
          version: 2.0.0
          actions:
            - {set: message.body, value: 'hello from $(api.org.name)/$(api.catalog.name)', type: string}`,
		`      - gatewayscript:
          version: 2.0.0
          source: "context.message.body.write('scripted')"`, 1)
	m.publish(t, strings.NewReplacer("hello-product", "script-product", "hello:", "scripted:").Replace(upProduct),
		strings.NewReplacer("x-ibm-name: hello", "x-ibm-name: scripted", "/hello", "/scripted").Replace(script))
	waitStatus(t, a.url+"/acme/sandbox/scripted/", 200)
	st = m.waitState(t, "gw-b", "error")
	if msg := st["last_error"].(string); !strings.Contains(msg, "gatewayscript policy is disabled on this gateway") {
		t.Fatalf("gw-b's error: %q", msg)
	}
	call(b, 200) // the previous version still serves
	if code, _ := get(t, b.url+"/acme/sandbox/scripted/"); code != 404 {
		t.Fatalf("gw-b serves the refused API: %d", code)
	}

	// The events of every call, also those made while the manager was
	// down, reach the manager's analytics.
	c := analyticstest.Client{Base: m.url + "/api/analytics/analytics-service/catalogs/acme/sandbox", Token: m.token}
	v1 := url.Values{"api_name": {"hello"}, "api_version": {"1.0.0"}}
	deadline := time.Now().Add(15 * time.Second)
	for len(c.Events(t, v1)) < calls && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // polling the manager's view
	}
	c.Check(t, v1, calls, nil)
}

// TestManagementEndpointRefusesStrangers: the management endpoint of a
// real gateway process refuses a client without a certificate and one
// whose certificate another CA issued, in the TLS handshake.
func TestManagementEndpointRefusesStrangers(t *testing.T) {
	certs := filepath.Join(t.TempDir(), "certs")
	if out, err := exec.Command(binary, "certs", "init", certs).CombinedOutput(); err != nil {
		t.Fatalf("certs init: %v\n%s", err, out)
	}
	g := startRemoteGateway(t, certs)
	caPEM, err := os.ReadFile(filepath.Join(certs, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("another CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherCert, otherKey, err := other.IssueClient("intruder", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	withOther, err := pki.ClientTLS(otherCert, otherKey, caPEM)
	if err != nil {
		t.Fatal(err)
	}
	noCert := &tls.Config{RootCAs: withOther.RootCAs} // trusts the gateway, shows no certificate
	mgrCert, err := tls.LoadX509KeyPair(filepath.Join(certs, "manager.pem"), filepath.Join(certs, "manager-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	trusted := &tls.Config{RootCAs: withOther.RootCAs, Certificates: []tls.Certificate{mgrCert}}
	for name, cfg := range map[string]*tls.Config{"no certificate": noCert, "another CA": withOther} {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := client.Get(g.mgmtURL + "/v1/status")
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: the management endpoint answered %d, want a refused handshake", name, resp.StatusCode)
		}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: trusted}}
	resp, err := client.Get(g.mgmtURL + "/v1/status")
	if err != nil {
		t.Fatalf("the manager's certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the manager's certificate: %d", resp.StatusCode)
	}
}

// TestRemoteGatewayWithPostgres: the same push path with the manager on
// PostgreSQL (in a schema of its own), as several manager replicas run.
func TestRemoteGatewayWithPostgres(t *testing.T) {
	dsn := os.Getenv("PORTICO_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("PORTICO_TEST_POSTGRES_DSN is not set; .ci/run sets it")
	}
	certs := filepath.Join(t.TempDir(), "certs")
	if out, err := exec.Command(binary, "certs", "init", certs).CombinedOutput(); err != nil {
		t.Fatalf("certs init: %v\n%s", err, out)
	}
	g := startRemoteGateway(t, certs)
	m := startManager(t, t.TempDir(), "127.0.0.1:0", "--db", storetest.PostgresSchema(t, dsn))
	m.must(t, 201, "POST", "/api/orgs", map[string]any{"name": "acme"})
	m.register(t, "gw-pg", certs, g)
	m.publish(t, upProduct, upAPI)
	waitStatus(t, g.url+"/acme/sandbox/hello/", 200)
	m.waitState(t, "gw-pg", "up_to_date")
	if code, body := get(t, g.url+"/acme/sandbox/hello/"); code != 200 || body != "hello from acme/sandbox" {
		t.Fatalf("call: %d %q", code, body)
	}
}
