package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// callTx makes a GET with headers and returns the status and the
// X-Global-Transaction-ID the gateway answered with.
func callTx(t *testing.T, url string, headers map[string]string) (int, string) {
	t.Helper()
	code, _, h := getFull(t, url, headers)
	tx := h.Get("X-Global-Transaction-ID")
	if tx == "" {
		t.Fatalf("GET %s: no X-Global-Transaction-ID", url)
	}
	return code, tx
}

var ecsVersion = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

// TestLogsAreECSAndHoldNoSecret runs a whole publish-and-call flow on a
// real `portico up` with its default (JSON) logs, then reads every line
// it wrote: each is an ECS object, each API call has its access line with
// the transaction id the caller saw, and no credential appears anywhere.
func TestLogsAreECSAndHoldNoSecret(t *testing.T) {
	u := startUp(t)
	p, mgr, gw, apiKey, tok := u.proc, u.mgr, u.gw, u.apiKey, u.token
	u.must("POST", "/api/orgs", "application/json", []byte(`{"name":"acme"}`), 201)
	id, secret := u.weatherApp()

	// The calls: right credentials, a wrong secret, and credentials in a
	// query string (to an operation that needs none).
	url := gw + "/acme/sandbox/weather/current"
	creds := map[string]string{"X-IBM-Client-Id": id, "X-IBM-Client-Secret": secret}
	waitCall(t, url, creds, 200)
	calls := map[string]int{} // transaction id → status
	for _, c := range []struct {
		url     string
		headers map[string]string
		want    int
	}{
		{url, creds, 200},
		{url, map[string]string{"X-IBM-Client-Id": id, "X-IBM-Client-Secret": "wrong-" + secret}, 401},
		{gw + "/acme/sandbox/weather/public?client_id=" + id + "&client_secret=" + secret + "&city=Paris", nil, 200},
	} {
		code, tx := callTx(t, c.url, c.headers)
		if code != c.want {
			t.Fatalf("GET %s: %d, want %d", c.url, code, c.want)
		}
		calls[tx] = code
	}

	// The manager's /metrics lists its families, with the counts of what
	// was just made.
	code, metrics := get(t, mgr+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d", code)
	}
	for _, want := range []string{
		`portico_manager_objects{catalog="sandbox",org="acme",type="apps"} 1`,
		`portico_manager_objects{catalog="sandbox",org="acme",type="subscriptions"} 1`,
		`portico_manager_objects{catalog="",org="",type="provider_orgs"} 1`,
		`portico_manager_products{catalog="sandbox",org="acme",state="published"} 1`,
		`portico_manager_http_requests_total{code="201",method="POST",route="/api/orgs"} 1`,
		`portico_manager_scrape_error{source="objects"} 0`,
		"# TYPE portico_manager_http_request_duration_seconds histogram",
		"# TYPE portico_manager_analytics_events_total counter",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("the manager's /metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, "/api/orgs/acme") {
		t.Error("a raw path is a route label")
	}

	// Every call gets its access line; wait for them (they are written
	// off the request path), then stop portico so that the log is whole.
	for tx := range calls {
		p.waitLine(t, 0, regexp.MustCompile(`"transaction.id":"`+regexp.QuoteMeta(tx)+`"`))
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatal("portico did not stop within 15s of SIGINT")
	}

	lines := p.snapshot()
	secrets := map[string]string{
		"the admin API key": apiKey, "the access token": tok, "the client secret": secret,
		"the client id and secret": id + ":" + secret,
		"the basic credentials":    base64.StdEncoding.EncodeToString([]byte(id + ":" + secret)),
	}
	seen := map[string]bool{}
	for i, l := range lines {
		for what, s := range secrets {
			if strings.Contains(l, s) {
				t.Errorf("line %d holds %s: %s", i+1, what, l)
			}
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("line %d is not a JSON object (%v): %s", i+1, err, l)
			continue
		}
		ts, _ := rec["@timestamp"].(string)
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") {
			t.Errorf("line %d: @timestamp %q is not RFC 3339 UTC: %s", i+1, ts, l)
		}
		level, _ := rec["log.level"].(string)
		msg, _ := rec["message"].(string)
		version, _ := rec["ecs.version"].(string)
		if level == "" || msg == "" || !ecsVersion.MatchString(version) || rec["service.name"] != "portico" {
			t.Errorf("line %d lacks an ECS field: %s", i+1, l)
		}
		if rec["event.dataset"] != "portico.access" {
			continue
		}
		tx, _ := rec["transaction.id"].(string)
		status, _ := rec["http.response.status_code"].(float64)
		if want, isCall := calls[tx]; isCall {
			seen[tx] = true
			if int(status) != want || rec["http.request.method"] != "GET" || rec["client.ip"] != "127.0.0.1" ||
				!strings.HasPrefix(rec["url.path"].(string), "/acme/sandbox/weather/") || rec["event.duration"] == nil {
				t.Errorf("access line of %s (status %d): %s", tx, want, l)
			}
		}
	}
	if len(seen) != len(calls) {
		t.Errorf("access lines for %d of the %d calls %v", len(seen), len(calls), calls)
	}
	t.Logf("%d log lines checked", len(lines))
}
