package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var adminListening = regexp.MustCompile(`"admin listening"(?: url=|.*"url":")(http://[^"\s]+)`)

// plansBundle copies examples/plans with a fresh org name, so rate-limit
// keys in a shared Redis never collide with another run's.
func plansBundle(t *testing.T) (dir, org string) {
	dir = t.TempDir()
	copyDir(t, "../../examples/plans", dir)
	b := make([]byte, 4)
	rand.Read(b)
	org = "e2e" + hex.EncodeToString(b)
	edit(t, filepath.Join(dir, "catalog.yaml"), "org: demo", "org: "+org)
	return dir, org
}

func callWith(t *testing.T, url string, headers map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

var gold = map[string]string{"X-IBM-Client-Id": "gold-app-id", "X-IBM-Client-Secret": "gold-secret-1"}

func TestMetricsAndAnalyticsFile(t *testing.T) {
	dir, org := plansBundle(t)
	events := filepath.Join(t.TempDir(), "calls.jsonl")
	p := start(t, "gateway", "--bundle", dir, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--analytics-file", events)
	line, _ := p.waitLine(t, 0, listening)
	base := listening.FindStringSubmatch(line)[1]
	line, _ = p.waitLine(t, 0, adminListening)
	admin := adminListening.FindStringSubmatch(line)[1]
	if code, _ := get(t, admin+"/readyz"); code != 200 {
		t.Fatalf("readyz: %d", code)
	}

	url := base + "/" + org + "/sandbox/weather/current"
	for i := 0; i < 3; i++ {
		if code := callWith(t, url, gold); code != 200 {
			t.Fatalf("call %d: %d", i, code)
		}
	}
	if code := callWith(t, url, nil); code != 401 {
		t.Fatalf("no credentials: %d", code)
	}
	_, metrics := get(t, admin+"/metrics")
	for _, want := range []string{
		`portico_gateway_requests_total{api="weather",operation="/current",status_class="2xx",version="1.0.0"} 3`,
		`portico_gateway_requests_total{api="weather",operation="/current",status_class="4xx",version="1.0.0"} 1`,
		`portico_gateway_config_version 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// Stopping the gateway drains the analytics queue to the file.
	p.cmd.Process.Signal(os.Interrupt)
	<-p.done
	f, err := os.Open(events)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		lines = append(lines, ev)
	}
	if len(lines) != 4 {
		t.Fatalf("%d analytics lines, want one per call (4)", len(lines))
	}
	first := lines[0]
	for k, v := range map[string]any{"status_code": "200 OK", "api_name": "weather", "app_name": "gold-app", "plan_name": "gold",
		"product_name": "weather-product", "request_method": "GET", "org_name": org, "catalog_name": "sandbox", "client_id": "gold-app-id"} {
		if first[k] != v {
			t.Errorf("%s = %v, want %v", k, first[k], v)
		}
	}
	if _, ok := first["time_to_serve_request"]; !ok || first["transaction_id"] == "" {
		t.Errorf("missing timing or transaction id: %v", first)
	}
	if lines[3]["status_code"] != "401 Unauthorized" {
		t.Errorf("the refused call: %v", lines[3]["status_code"])
	}
	if data, _ := os.ReadFile(events); strings.Contains(string(data), "gold-secret-1") {
		t.Error("a client secret reached the analytics file")
	}
}

// Two gateway processes on one Redis enforce one plan limit between them.
func TestSharedRateLimitAcrossGateways(t *testing.T) {
	redisURL := os.Getenv("PORTICO_TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("PORTICO_TEST_REDIS_URL is not set; .ci/run sets it to the machine's Redis")
	}
	dir, org := plansBundle(t)
	var bases []string
	for i := 0; i < 2; i++ {
		p := start(t, "gateway", "--bundle", dir, "--listen", "127.0.0.1:0", "--admin-listen", "", "--redis", redisURL)
		line, _ := p.waitLine(t, 0, listening)
		bases = append(bases, listening.FindStringSubmatch(line)[1])
	}
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			switch callWith(t, bases[i%2]+"/"+org+"/sandbox/weather/current", gold) {
			case 200:
				ok.Add(1)
			case 429:
				limited.Add(1)
			}
		}(i)
	}
	wg.Wait()
	if time.Since(start) > 50*time.Second {
		t.Skip("the calls took most of the limit's minute; the count would not be exact")
	}
	// The gold plan admits 5 calls a minute, per app, across every gateway.
	if ok.Load() != 5 || limited.Load() != 25 {
		t.Fatalf("%d admitted and %d refused across two gateways, want 5 and 25", ok.Load(), limited.Load())
	}
}
