package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var probeListening = regexp.MustCompile(`"probe listening" url=(http://\S+)`)

// fakeGraphite is a carbon stand-in: a real TCP listener that keeps every
// plaintext line it receives.
type fakeGraphite struct {
	addr  string
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func newFakeGraphite(t *testing.T) *fakeGraphite {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &fakeGraphite{addr: ln.Addr().String(), added: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			g.mu.Lock()
			conns = append(conns, c)
			g.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					g.mu.Lock()
					g.lines = append(g.lines, sc.Text())
					g.mu.Unlock()
					select {
					case g.added <- struct{}{}:
					default:
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		g.mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		g.mu.Unlock()
		wg.Wait()
	})
	return g
}

// point is one received line, split and checked against the protocol.
type point struct {
	value float64
	ts    int64
}

// waitPaths waits until every path in want has arrived and returns the
// last point of each path received so far.
func (g *fakeGraphite) waitPaths(t *testing.T, want ...string) map[string]point {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		got := map[string]point{}
		g.mu.Lock()
		lines := append([]string(nil), g.lines...)
		g.mu.Unlock()
		for _, l := range lines {
			f := strings.Split(l, " ")
			if len(f) != 3 {
				t.Fatalf("not a plaintext line (path value timestamp): %q", l)
			}
			v, err1 := strconv.ParseFloat(f[1], 64)
			ts, err2 := strconv.ParseInt(f[2], 10, 64)
			if err1 != nil || err2 != nil || strings.Contains(f[0], "..") {
				t.Fatalf("bad line %q", l)
			}
			got[f[0]] = point{v, ts}
		}
		missing := []string{}
		for _, w := range want {
			if _, ok := got[w]; !ok {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return got
		}
		select {
		case <-g.added:
		case <-deadline:
			t.Fatalf("graphite did not receive %v within 15s; it has:\n%s", missing, strings.Join(lines, "\n"))
		}
	}
}

// probeTargets are local servers answering OK, 500, too late, and over TLS
// with a certificate nobody trusts.
type probeTargets struct {
	ok, fail, slow, badTLS *httptest.Server
}

func startProbeTargets(t *testing.T, timeout time.Duration) probeTargets {
	var p probeTargets
	p.ok = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-IBM-Client-Id") != "probe-id" {
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"status":"healthy"}`)
	}))
	t.Cleanup(p.ok.Close)
	p.fail = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	t.Cleanup(p.fail.Close)
	release := make(chan struct{})
	p.slow = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		select { // well past the check's timeout; released when the test ends
		case <-release:
		case <-time.After(20 * timeout):
		}
		fmt.Fprint(w, "too late")
	}))
	t.Cleanup(p.slow.Close)
	t.Cleanup(func() { close(release) }) // cleanups run last-in first-out: before Close
	p.badTLS = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "secure") }))
	p.badTLS.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	p.badTLS.StartTLS()
	t.Cleanup(p.badTLS.Close)
	return p
}

func hostOf(s *httptest.Server) string { return s.Listener.Addr().String() }

// graphiteHost is a host:port as a Graphite path component.
func graphiteHost(s *httptest.Server) string {
	return strings.NewReplacer(".", "_", ":", "_").Replace(hostOf(s))
}

func writeProbeConfig(t *testing.T, p probeTargets) string {
	cfg := fmt.Sprintf(`interval: 1h
checks:
  - name: ok
    url: %s/health
    headers: {X-IBM-Client-Id: probe-id}
    body_match: healthy
  - name: wrong-status
    url: %s/
  - name: slow
    url: %s/
    timeout: 300ms
  - name: bad-tls
    url: %s/
`, p.ok.URL, p.fail.URL, p.slow.URL, p.badTLS.URL)
	file := filepath.Join(t.TempDir(), "probe.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestProbeOnceSummaryExitAndGraphite(t *testing.T) {
	p := startProbeTargets(t, 300*time.Millisecond)
	cfg := writeProbeConfig(t, p)
	g := newFakeGraphite(t)
	start := time.Now().Unix()
	cmd := exec.Command(binary, "probe", "--config", cfg, "--once", "--graphite", g.addr, "--graphite-prefix", "e2e.probe")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("want exit status 1 when probes fail, got %v\n%s", err, out)
	}
	summary := string(out)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^ok +ok +` + regexp.QuoteMeta(hostOf(p.ok)) + ` +200 `),
		regexp.MustCompile(`(?m)^FAIL +wrong-status +\S+ +500 .* status +status 500, want 2xx$`),
		regexp.MustCompile(`(?m)^FAIL +slow +\S+ +0 .* timeout +no complete answer within 300ms$`),
		regexp.MustCompile(`(?m)^FAIL +bad-tls +\S+ +0 .* tls +.*certificate`),
		regexp.MustCompile(`(?m)^3 of 4 probes failed$`),
	} {
		if !want.MatchString(summary) {
			t.Errorf("the summary lacks %s:\n%s", want, summary)
		}
	}

	path := func(s *httptest.Server, check, metric string) string {
		return "e2e.probe." + check + "." + graphiteHost(s) + "." + metric
	}
	want := map[string]float64{
		path(p.ok, "ok", "success"):                     1,
		path(p.ok, "ok", "status"):                      200,
		path(p.fail, "wrong-status", "success"):         0,
		path(p.fail, "wrong-status", "status"):          500,
		path(p.fail, "wrong-status", "failure.status"):  1,
		path(p.slow, "slow", "success"):                 0,
		path(p.slow, "slow", "failure.timeout"):         1,
		path(p.slow, "slow", "failure.tls"):             0,
		path(p.badTLS, "bad-tls", "success"):            0,
		path(p.badTLS, "bad-tls", "failure.tls"):        1,
		path(p.badTLS, "bad-tls", "failure.timeout"):    0,
		path(p.badTLS, "bad-tls", "cert_expiry"):        float64(p.badTLS.Certificate().NotAfter.Unix()),
		path(p.ok, "ok", "failure.body"):                0,
		path(p.fail, "wrong-status", "failure.refused"): 0,
	}
	paths := make([]string, 0, len(want))
	for k := range want {
		paths = append(paths, k)
	}
	got := g.waitPaths(t, paths...)
	end := time.Now().Unix()
	for k, v := range want {
		if got[k].value != v {
			t.Errorf("%s = %v, want %v", k, got[k].value, v)
		}
	}
	for k, pt := range got {
		if pt.ts < start || pt.ts > end {
			t.Errorf("%s has timestamp %d, outside the run [%d, %d]", k, pt.ts, start, end)
		}
	}
	if d := got[path(p.slow, "slow", "duration")].value; d < 0.3 || d > 5 {
		t.Errorf("the slow probe took %vs; it must be cut off at its 300ms timeout", d)
	}
	if _, ok := got[path(p.ok, "ok", "cert_expiry")]; ok {
		t.Error("a plain HTTP check wrote a certificate expiry")
	}

	// All good: exit status 0.
	good := filepath.Join(t.TempDir(), "good.yaml")
	os.WriteFile(good, []byte(fmt.Sprintf("checks:\n  - {name: ok, url: '%s/', headers: {X-IBM-Client-Id: probe-id}}\n", p.ok.URL)), 0o600)
	if out, err := exec.Command(binary, "probe", "--config", good, "--once").CombinedOutput(); err != nil {
		t.Fatalf("all probes succeeded, yet: %v\n%s", err, out)
	}
}

func TestProbeServesMetricsAndWritesGraphite(t *testing.T) {
	p := startProbeTargets(t, 300*time.Millisecond)
	cfg := writeProbeConfig(t, p)
	g := newFakeGraphite(t)
	proc := start(t, "probe", "--config", cfg, "--listen", "127.0.0.1:0", "--graphite", g.addr)
	line, _ := proc.waitLine(t, 0, probeListening)
	base := probeListening.FindStringSubmatch(line)[1]

	series := func(name, check string, s *httptest.Server, extra ...string) string {
		labels := []string{`check="` + check + `"`, `host="` + hostOf(s) + `"`}
		return name + "{" + strings.Join(append(labels, extra...), ",") + "}"
	}
	want := map[string]float64{
		series("probe_success", "ok", p.ok):                                     1,
		series("probe_http_status_code", "ok", p.ok):                            200,
		series("probe_failed_due_to_regex", "ok", p.ok):                         0,
		series("probe_success", "wrong-status", p.fail):                         0,
		series("probe_http_status_code", "wrong-status", p.fail):                500,
		series("probe_failure", "wrong-status", p.fail, `reason="status"`):      1,
		series("probe_success", "slow", p.slow):                                 0,
		series("probe_http_status_code", "slow", p.slow):                        0,
		series("probe_failure", "slow", p.slow, `reason="timeout"`):             1,
		series("probe_failure", "slow", p.slow, `reason="tls"`):                 0,
		series("probe_success", "bad-tls", p.badTLS):                            0,
		series("probe_failure", "bad-tls", p.badTLS, `reason="tls"`):            1,
		series("probe_failure", "bad-tls", p.badTLS, `reason="timeout"`):        0,
		series("probe_failure", "bad-tls", p.badTLS, `reason="refused"`):        0,
		series("probe_ssl_earliest_cert_expiry", "bad-tls", p.badTLS):           float64(p.badTLS.Certificate().NotAfter.Unix()),
		series("probe_http_duration_seconds", "ok", p.ok, `phase="processing"`): -1, // present; any value
	}
	got := waitSeries(t, base+"/metrics", want)
	for k, v := range want {
		if v >= 0 && got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if d := got[series("probe_duration_seconds", "slow", p.slow)]; d < 0.3 || d > 5 {
		t.Errorf("probe_duration_seconds of the slow check = %v", d)
	}
	if _, ok := got[series("probe_ssl_earliest_cert_expiry", "ok", p.ok)]; ok {
		t.Error("a plain HTTP check has a certificate expiry")
	}
	g.waitPaths(t, "portico.probe.ok."+graphiteHost(p.ok)+".success", "portico.probe.bad-tls."+graphiteHost(p.badTLS)+".failure.tls")
}

// waitSeries scrapes url until every series in want is there (a round
// may still be running) and returns all series by name{labels}.
func waitSeries(t *testing.T, url string, want map[string]float64) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := seriesOf(scrape(t, url))
		missing := []string{}
		for k := range want {
			if _, ok := got[k]; !ok {
				missing = append(missing, k)
			}
		}
		if len(missing) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			t.Fatalf("%s lacks %v after 15s", url, missing)
		}
		time.Sleep(50 * time.Millisecond) // polling a scrape with a deadline
	}
}

// scrape reads a /metrics endpoint as metric families; a non-200 answer
// gives none.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return mfs
}

// seriesOf flattens families to name{label="value",...} (labels sorted)
// → value, for counters, gauges and untyped metrics.
func seriesOf(mfs map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			sort.Strings(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Untyped != nil:
				out[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

// The example configuration runs as its comments say, against the
// quickstart gateway.
func TestProbeExampleConfig(t *testing.T) {
	gw := start(t, "gateway", "--bundle", "../../examples/quickstart", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	line, _ := gw.waitLine(t, 0, listening)
	base := listening.FindStringSubmatch(line)[1]
	line, _ = gw.waitLine(t, 0, adminListening)
	admin := adminListening.FindStringSubmatch(line)[1]
	example, err := os.ReadFile("../../examples/probe/probe.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("http://127.0.0.1:8081", base, "http://127.0.0.1:8082", admin).Replace(string(example))
	if text == string(example) {
		t.Fatal("the example no longer probes the default gateway ports")
	}
	cfg := filepath.Join(t.TempDir(), "probe.yaml")
	os.WriteFile(cfg, []byte(text), 0o600)
	out, err := exec.Command(binary, "probe", "--config", cfg, "--once").CombinedOutput()
	if err != nil {
		t.Fatalf("the example's checks must pass against the quickstart: %v\n%s", err, out)
	}
	for _, want := range []string{`(?m)^ok +quickstart `, `(?m)^ok +gateway-ready `, `(?m)^0 of 2 probes failed$`} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("the summary lacks %q:\n%s", want, out)
		}
	}
}
