package probe

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// servers are real local HTTP(S) servers answering in the ways a probe
// must tell apart.
type servers struct {
	ok, fail, slow, tls *httptest.Server
	refused             string // host:port where nothing listens
	caFile              string // PEM of the TLS server's certificate

	mu    sync.Mutex
	hosts []string // Host headers the ok server saw
}

func newServers(t *testing.T) *servers {
	s := &servers{}
	s.ok = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hosts = append(s.hosts, r.Host)
		s.mu.Unlock()
		if r.Header.Get("X-Probe") != "yes" {
			http.Error(w, "no X-Probe header", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, `{"status":"healthy"}`)
	}))
	t.Cleanup(s.ok.Close)
	s.fail = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	t.Cleanup(s.fail.Close)
	release := make(chan struct{})
	s.slow = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		select { // answers only after the probe has given up
		case <-release:
		case <-time.After(30 * time.Second):
		}
	}))
	t.Cleanup(s.slow.Close)
	t.Cleanup(func() { close(release) }) // runs before the Close above
	s.tls = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "secure") }))
	s.tls.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	s.tls.StartTLS()
	t.Cleanup(s.tls.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.refused = ln.Addr().String()
	ln.Close()
	s.caFile = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(s.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.tls.Certificate().Raw}), 0o600)
	return s
}

func load(t *testing.T, text string) *Config {
	t.Helper()
	cfg, err := Parse(filepath.Join(t.TempDir(), "probe.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func byCheck(rs []Result) map[string]Result {
	out := map[string]Result{}
	for _, r := range rs {
		out[r.Check] = r
	}
	return out
}

func TestProbeTellsFailuresApart(t *testing.T) {
	s := newServers(t)
	_, okPort, _ := net.SplitHostPort(s.ok.Listener.Addr().String())
	cfg := load(t, fmt.Sprintf(`
timeout: 500ms
checks:
  - {name: ok, url: '%[1]s/health', headers: {X-Probe: 'yes'}, body_match: healthy}
  - {name: no-header, url: '%[1]s/health'}
  - {name: accepts-400, url: '%[1]s/health', expect_status: [2xx, 400]}
  - {name: wrong-status, url: '%[2]s/'}
  - {name: slow, url: '%[3]s/'}
  - {name: untrusted, url: '%[4]s/'}
  - {name: insecure, url: '%[4]s/', tls: {insecure_skip_verify: true}}
  - {name: trusted-ca, url: '%[4]s/', tls: {ca_file: '%[5]s'}}
  - {name: refused, url: 'http://%[6]s/'}
  - {name: https-to-http, url: 'https://%[7]s/'}
  - {name: regex, url: '%[1]s/', headers: {X-Probe: 'yes'}, body_match: 'sick'}
  - {name: not-regex, url: '%[1]s/', headers: {X-Probe: 'yes'}, body_not_match: 'health'}
  - {name: by-dns, scheme: http, dns: localhost, port: %[8]s, path: /health, headers: {X-Probe: 'yes'}}
`, s.ok.URL, s.fail.URL, s.slow.URL, s.tls.URL, s.caFile, s.refused, s.ok.Listener.Addr(), okPort))
	start := time.Now()
	rs := byCheck((&Runner{Checks: cfg.Checks}).Once(t.Context()))
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a round took %v; the slow check must be cut off at its 500ms timeout", took)
	}
	want := map[string]struct {
		ok     bool
		reason Reason
		status int
		detail string
	}{
		"ok":            {true, "", 200, ""},
		"no-header":     {false, ReasonStatus, 400, "status 400, want 2xx"},
		"accepts-400":   {true, "", 400, ""},
		"wrong-status":  {false, ReasonStatus, 500, "status 500, want 2xx"},
		"slow":          {false, ReasonTimeout, 0, "no complete answer within 500ms"},
		"untrusted":     {false, ReasonTLS, 0, "certificate signed by unknown authority"},
		"insecure":      {true, "", 200, ""},
		"trusted-ca":    {true, "", 200, ""},
		"refused":       {false, ReasonRefused, 0, "connection refused"},
		"https-to-http": {false, ReasonTLS, 0, "HTTP response to HTTPS client"},
		"regex":         {false, ReasonBody, 200, `does not match "sick"`},
		"not-regex":     {false, ReasonBody, 200, `matches "health"`},
		"by-dns":        {true, "", 200, ""},
	}
	for name, w := range want {
		r, ok := rs[name]
		if !ok {
			t.Errorf("%s: no result", name)
			continue
		}
		if r.Success != w.ok || r.Reason != w.reason || r.StatusCode != w.status || !strings.Contains(r.Detail, w.detail) {
			t.Errorf("%s: success=%v reason=%q status=%d detail=%q; want %v %q %d %q", name, r.Success, r.Reason, r.StatusCode, r.Detail,
				w.ok, w.reason, w.status, w.detail)
		}
		if r.Duration <= 0 || r.Time.Before(start) {
			t.Errorf("%s: duration %v, time %v", name, r.Duration, r.Time)
		}
	}
	expiry := s.tls.Certificate().NotAfter
	for _, name := range []string{"untrusted", "insecure", "trusted-ca"} {
		if !rs[name].CertExpiry.Equal(expiry) {
			t.Errorf("%s: cert expiry %v, want %v (known even when the certificate does not verify)", name, rs[name].CertExpiry, expiry)
		}
	}
	if !rs["ok"].CertExpiry.IsZero() {
		t.Error("a plain HTTP probe reported a certificate")
	}
	if !rs["regex"].FailedRegex || !rs["not-regex"].FailedRegex || rs["ok"].FailedRegex {
		t.Error("FailedRegex is wrong")
	}
	if rs["insecure"].Phases[PhaseTLS] <= 0 || rs["ok"].Phases[PhaseConnect] <= 0 || rs["ok"].Phases[PhaseProcessing] <= 0 {
		t.Errorf("phases: %v %v", rs["insecure"].Phases, rs["ok"].Phases)
	}
	if d := rs["by-dns"]; d.Host != "127.0.0.1" || d.DNSLookup <= 0 {
		t.Errorf("by-dns: host %q lookup %v; want the resolved address and the lookup's time", d.Host, d.DNSLookup)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !contains(s.hosts, "localhost:"+okPort) {
		t.Errorf("the dns check must keep the name as Host; the server saw %v", s.hosts)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// noSuchName is a resolver for a name that does not exist: the real DNS
// servers are off this machine.
type noSuchName struct{}

func (noSuchName) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestDNSFailureIsOneResultUnderTheName(t *testing.T) {
	cfg := load(t, "checks:\n  - {name: gone, dns: gone.example.com, path: /}\n")
	rs := (&Runner{Checks: cfg.Checks, Resolver: noSuchName{}}).Once(t.Context())
	if len(rs) != 1 || rs[0].Host != "gone.example.com" || rs[0].Reason != ReasonDNS || !strings.Contains(rs[0].Detail, "no such host") {
		t.Fatalf("%+v", rs)
	}
}

func TestMetricsAndPoints(t *testing.T) {
	at := time.Unix(1700000000, 0)
	rs := []Result{
		{Check: "api", Host: "a.example.com", Time: at, Success: true, Duration: 250 * time.Millisecond, StatusCode: 200,
			CertExpiry: at.Add(48 * time.Hour), Phases: map[string]time.Duration{PhaseTLS: 100 * time.Millisecond}},
		{Check: "api", Host: "10.0.0.7", Time: at, Reason: ReasonTimeout, Duration: time.Second},
	}
	m := NewMetrics()
	m.Set("api", rs)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	want := `
# HELP probe_success 1 if the last probe succeeded, else 0.
# TYPE probe_success gauge
probe_success{check="api",host="10.0.0.7"} 0
probe_success{check="api",host="a.example.com"} 1
# HELP probe_ssl_earliest_cert_expiry Earliest expiry of the certificates the server presented, as Unix seconds, whether or not they verified.
# TYPE probe_ssl_earliest_cert_expiry gauge
probe_ssl_earliest_cert_expiry{check="api",host="a.example.com"} 1.7001728e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "probe_success", "probe_ssl_earliest_cert_expiry"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m, "probe_failure"); n != 2*len(Reasons) {
		t.Errorf("%d probe_failure series, want one per reason and host", n)
	}
	if v := gaugeOf(t, reg, "probe_failure", "10.0.0.7", "timeout"); v != 1 {
		t.Errorf("probe_failure{reason=timeout} = %v", v)
	}
	// A round without the address removes its series.
	m.Set("api", rs[:1])
	if n := testutil.CollectAndCount(m, "probe_success"); n != 1 {
		t.Errorf("%d probe_success series after the address left", n)
	}

	lines := map[string]bool{}
	for _, p := range Points("hem", rs) {
		lines[p.String()] = true
	}
	for _, l := range []string{
		"hem.api.a_example_com.success 1 1700000000",
		"hem.api.a_example_com.duration 0.25 1700000000",
		"hem.api.a_example_com.status 200 1700000000",
		"hem.api.a_example_com.cert_expiry_days 2 1700000000",
		"hem.api.a_example_com.failure.timeout 0 1700000000",
		"hem.api.10_0_0_7.success 0 1700000000",
		"hem.api.10_0_0_7.failure.timeout 1 1700000000",
		"hem.api.10_0_0_7.status 0 1700000000",
	} {
		if !lines[l] {
			t.Errorf("no line %q", l)
		}
	}
	if lines["hem.api.10_0_0_7.cert_expiry_days 0 1700000000"] {
		t.Error("a probe without TLS wrote a certificate expiry")
	}
}

// gaugeOf finds one probe_failure series by host and reason.
func gaugeOf(t *testing.T, reg *prometheus.Registry, name, host, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["host"] == host && l["reason"] == reason {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no %s{host=%q,reason=%q}", name, host, reason)
	return 0
}
