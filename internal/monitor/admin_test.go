package monitor

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestReadyzFollowsReadyFunc(t *testing.T) {
	var loaded atomic.Bool
	h := AdminHandler(NewGatewayMetrics(), func() error {
		if !loaded.Load() {
			return errors.New("no configuration loaded yet")
		}
		return nil
	})
	code, body := scrape(t, h, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no configuration loaded yet") {
		t.Errorf("before load: %d %q, want 503 with the reason", code, body)
	}
	loaded.Store(true)
	if code, body := scrape(t, h, "/readyz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("after load: %d %q, want 200 ok", code, body)
	}
}

func TestHealthz(t *testing.T) {
	h := AdminHandler(NewGatewayMetrics(), func() error { return errors.New("not yet") })
	if code, body := scrape(t, h, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q, want 200 ok even when not ready", code, body)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	m := NewGatewayMetrics()
	m.Observe(call("pets", "/pets", 200, 3*time.Millisecond))
	h := AdminHandler(m, func() error { return nil })
	code, body := scrape(t, h, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`portico_gateway_requests_total{api="pets",operation="/pets",status_class="2xx",version="1.0.0"} 1`,
		`portico_gateway_request_duration_seconds_bucket{api="pets",version="1.0.0",le="0.005"} 1`,
		`portico_gateway_request_duration_seconds_count{api="pets",version="1.0.0"} 1`,
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	// A second handler on the same metrics must not clash on the
	// handler's own instrumentation.
	if code, _ := scrape(t, AdminHandler(m, func() error { return nil }), "/metrics"); code != http.StatusOK {
		t.Errorf("second AdminHandler: /metrics %d", code)
	}
}

func TestAdminHandlerUnknownPath(t *testing.T) {
	h := AdminHandler(NewGatewayMetrics(), func() error { return nil })
	if code, _ := scrape(t, h, "/debug"); code != http.StatusNotFound {
		t.Errorf("/debug: %d, want 404", code)
	}
}
