package monitor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/portico-api/portico/internal/analytics"
)

func call(api, op string, status int, d time.Duration) *analytics.Event {
	return &analytics.Event{
		APIName:       api,
		APIVersion:    "1.0.0",
		OperationPath: op,
		URIPath:       "/acme/sandbox/pets/42",
		Status:        status,
		StatusCode:    fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Duration:      d,
	}
}

// family returns the gathered metrics of one name.
func family(t *testing.T, m *GatewayMetrics, name string) []*dto.Metric {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

// labels renders a metric's labels as "k=v,k=v" for comparisons.
func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

func scrape(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestObserveCountsRequests(t *testing.T) {
	m := NewGatewayMetrics()
	m.Observe(call("pets", "/pets/{id}", 200, time.Millisecond))
	m.Observe(call("pets", "/pets/{id}", 201, time.Millisecond))
	m.Observe(call("pets", "/pets/{id}", 503, time.Millisecond))
	m.Observe(&analytics.Event{StatusCode: "404 Not Found", URIPath: "/nope", Duration: time.Millisecond})

	want := `
# HELP portico_gateway_requests_total API calls handled, by API, version, operation path template and status class.
# TYPE portico_gateway_requests_total counter
portico_gateway_requests_total{api="none",operation="unmatched",status_class="4xx",version="none"} 1
portico_gateway_requests_total{api="pets",operation="/pets/{id}",status_class="2xx",version="1.0.0"} 2
portico_gateway_requests_total{api="pets",operation="/pets/{id}",status_class="5xx",version="1.0.0"} 1
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "portico_gateway_requests_total"); err != nil {
		t.Error(err)
	}
}

func TestObserveHistograms(t *testing.T) {
	m := NewGatewayMetrics()
	e := call("pets", "/pets", 200, 30*time.Millisecond)
	e.BackendDuration = 20 * time.Millisecond
	m.Observe(e)
	m.Observe(call("pets", "/pets", 200, 2*time.Second)) // no backend call
	m.Observe(&analytics.Event{APIName: "pets", APIVersion: "1.0.0", Status: 200, TimeToServeRequest: 7})

	req := family(t, m, "portico_gateway_request_duration_seconds")
	if len(req) != 1 || req[0].GetHistogram().GetSampleCount() != 3 {
		t.Fatalf("request histogram %v, want one series with 3 samples", req)
	}
	if sum := req[0].GetHistogram().GetSampleSum(); sum < 2.036 || sum > 2.038 {
		t.Errorf("request duration sum %v, want 2.037s (30ms + 2s + 7ms)", sum)
	}
	be := family(t, m, "portico_gateway_backend_duration_seconds")
	if len(be) != 1 || be[0].GetHistogram().GetSampleCount() != 1 {
		t.Fatalf("backend histogram %v, want one sample: only calls with a backend time count", be)
	}
	if got := labels(be[0]); got != "api=pets,version=1.0.0" {
		t.Errorf("backend labels %s", got)
	}
}

func TestObserveRateLimitRejections(t *testing.T) {
	m := NewGatewayMetrics()
	e := call("pets", "/pets", 429, time.Millisecond)
	e.RateLimited, e.PlanName, e.ClientID = true, "gold", "client-123"
	m.Observe(e)
	m.Observe(e)
	if got := testutil.ToFloat64(m.rejections.WithLabelValues("pets", "1.0.0", "gold")); got != 2 {
		t.Errorf("rejections %v, want 2", got)
	}
}

func TestLabelsStayBoundedWhenPathsVary(t *testing.T) {
	m := NewGatewayMetrics()
	for i := range 500 {
		e := call("pets", "/pets/{id}", 200, time.Millisecond)
		e.URIPath = fmt.Sprintf("/acme/sandbox/pets/%d", i)
		e.ClientID = fmt.Sprintf("client-%d", i)
		m.Observe(e)
		miss := &analytics.Event{URIPath: fmt.Sprintf("/random/%d", i), Status: 404}
		m.Observe(miss)
	}
	if n := testutil.CollectAndCount(m.requests); n != 2 {
		t.Errorf("%d request series, want 2", n)
	}
	_, body := scrape(t, AdminHandler(m, func() error { return nil }), "/metrics")
	for _, leak := range []string{"/acme/sandbox/pets/1", "/random/", "client-"} {
		if strings.Contains(body, leak) {
			t.Errorf("scrape contains %q: a raw path or client id became a label", leak)
		}
	}
}

func TestObserveSurvivesInvalidUTF8(t *testing.T) {
	m := NewGatewayMetrics()
	m.Observe(call("bad\xff", "/x\xfe", 200, time.Millisecond))
	if n := testutil.CollectAndCount(m.requests); n != 1 {
		t.Errorf("%d series, want 1", n)
	}
}

func TestObserveStatusClass(t *testing.T) {
	for _, tc := range []struct {
		e    analytics.Event
		want string
	}{
		{analytics.Event{Status: 302}, "3xx"},
		{analytics.Event{StatusCode: "101 Switching Protocols"}, "1xx"},
		{analytics.Event{StatusCode: "oops"}, "unknown"},
		{analytics.Event{Status: 999}, "unknown"},
		{analytics.Event{}, "unknown"},
	} {
		if got := classLabel(statusClass(&tc.e)); got != tc.want {
			t.Errorf("%+v: class %s, want %s", tc.e, got, tc.want)
		}
	}
}

func TestObserveConcurrent(t *testing.T) {
	m := NewGatewayMetrics()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				m.Observe(call(fmt.Sprintf("api%d", (g+i)%4), "/x", 200, time.Millisecond))
			}
		})
	}
	wg.Wait()
	var total float64
	for _, mt := range family(t, m, "portico_gateway_requests_total") {
		total += mt.GetCounter().GetValue()
	}
	if total != 1600 {
		t.Errorf("counted %v calls, want 1600", total)
	}
}

func TestInFlightAndConfig(t *testing.T) {
	m := NewGatewayMetrics()
	m.InFlight().Inc()
	m.InFlight().Inc()
	m.InFlight().Dec()
	m.ConfigLoaded(3, true)
	m.ConfigLoaded(4, false)
	want := `
# HELP portico_gateway_config_last_reload_successful 1 if the last configuration load succeeded, else 0.
# TYPE portico_gateway_config_last_reload_successful gauge
portico_gateway_config_last_reload_successful 0
# HELP portico_gateway_config_reloads_total Configuration loads, by result (success or failure).
# TYPE portico_gateway_config_reloads_total counter
portico_gateway_config_reloads_total{result="failure"} 1
portico_gateway_config_reloads_total{result="success"} 1
# HELP portico_gateway_config_version Version of the configuration being served (0 before the first load).
# TYPE portico_gateway_config_version gauge
portico_gateway_config_version 3
# HELP portico_gateway_requests_in_flight API calls being served now.
# TYPE portico_gateway_requests_in_flight gauge
portico_gateway_requests_in_flight 1
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want),
		"portico_gateway_config_last_reload_successful", "portico_gateway_config_reloads_total",
		"portico_gateway_config_version", "portico_gateway_requests_in_flight"); err != nil {
		t.Error(err)
	}
}

func TestRegisterAnalyticsQueue(t *testing.T) {
	m := NewGatewayMetrics()
	q := analytics.NewQueue(1, 1, time.Second, nopSink{}, nil)
	if err := m.RegisterAnalyticsQueue(q); err != nil {
		t.Fatal(err)
	}
	q.Observe(&analytics.Event{})
	q.Observe(&analytics.Event{}) // the queue holds one: dropped
	_, body := scrape(t, AdminHandler(m, func() error { return nil }), "/metrics")
	for _, line := range []string{
		"portico_gateway_analytics_dropped_total 1",
		"portico_gateway_analytics_sent_total 0",
		"portico_gateway_analytics_pending_events 1",
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("scrape lacks %q", line)
		}
	}
	if err := m.RegisterAnalyticsQueue(q); err == nil {
		t.Error("registering twice: no error")
	}
	if err := m.RegisterAnalyticsQueue(nil); err == nil {
		t.Error("registering nil: no error")
	}
}

type nopSink struct{}

func (nopSink) Write(context.Context, []*analytics.Event) error { return nil }

func TestRegisterRateLimitStoreErrors(t *testing.T) {
	m := NewGatewayMetrics()
	if err := m.RegisterRateLimitStoreErrors(func() uint64 { return 5 }); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP portico_gateway_ratelimit_store_errors_total Rate limit store operations that failed.
# TYPE portico_gateway_ratelimit_store_errors_total counter
portico_gateway_ratelimit_store_errors_total 5
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "portico_gateway_ratelimit_store_errors_total"); err != nil {
		t.Error(err)
	}
	if err := m.RegisterRateLimitStoreErrors(nil); err == nil {
		t.Error("registering nil: no error")
	}
}

func TestRegistryIsPrivate(t *testing.T) {
	a, b := NewGatewayMetrics(), NewGatewayMetrics() // would panic on a shared registry
	a.Observe(call("pets", "/pets", 200, time.Millisecond))
	if n := testutil.CollectAndCount(b.requests); n != 0 {
		t.Errorf("second GatewayMetrics sees %d series of the first", n)
	}
	if _, err := a.reg.Gather(); err != nil {
		t.Errorf("gather with Go and process collectors: %v", err)
	}
}
