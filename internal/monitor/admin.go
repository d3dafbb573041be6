package monitor

import (
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Limits for /metrics, so that a misbehaving scraper cannot pile up
// gathers on a busy gateway.
const (
	scrapeMaxInFlight = 4
	scrapeTimeout     = 10 * time.Second
)

// AdminHandler serves /metrics, /healthz and /readyz on the admin port.
// ready is called on each /readyz and must not block: the gateway passes a
// check that a configuration is loaded, so that a load balancer sends no
// traffic to a gateway that would answer every call with 404.
func AdminHandler(m *GatewayMetrics, ready func() error) http.Handler {
	if m == nil || ready == nil {
		panic("monitor: AdminHandler needs the GatewayMetrics and a ready func that reports whether a configuration is loaded")
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.metricsHandler())
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", readyz(ready))
	return mux
}

// metricsHandler serves the registry, counting its own scrapes and errors
// in it. A failing collector costs its own metrics, not the whole scrape.
func (m *GatewayMetrics) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:            m.reg,
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: scrapeMaxInFlight,
		Timeout:             scrapeTimeout,
	})
	return promhttp.InstrumentMetricHandler(m.reg, h)
}

// healthz answers while the process can serve HTTP at all: a liveness
// probe should restart the gateway only when it is wedged, not when it
// merely has no configuration.
func healthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

func readyz(ready func() error) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
		writeText(w, http.StatusOK, "ok")
	}
}

func writeText(w http.ResponseWriter, status int, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text+"\n")
}
