// Package monitor exposes the gateway's Prometheus metrics and its admin
// endpoints (/metrics, /healthz, /readyz), the manager's metrics, and the
// logs: ECS JSON lines, the redaction guard and the access log.
//
// Names follow Prometheus conventions (base units, _total counters,
// _seconds histograms) under the portico_gateway_ and portico_manager_
// prefixes. Where IBM's apiconnect-trawler has an equivalent, label values
// match it: the status_class label takes the "2xx" form trawler uses for
// API calls.
package monitor

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/portico-api/portico/internal/analytics"
)

// Label values used when an event has nothing better. They keep series
// bounded: a request that matched no API or operation is counted under
// these rather than under anything taken from the request itself.
const (
	noneLabel      = "none"
	unmatchedLabel = "unmatched"
)

// GatewayMetrics holds the gateway's metrics in a registry of its own, so
// that tests and several gateways in one process do not collide.
type GatewayMetrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	backend       *prometheus.HistogramVec
	rejections    *prometheus.CounterVec
	inFlight      prometheus.Gauge
	configVersion prometheus.Gauge
	configOK      prometheus.Gauge
	reloads       *prometheus.CounterVec
	reloadsOK     prometheus.Counter
	reloadsFailed prometheus.Counter

	series cache[seriesKey, *series]
	plans  cache[planKey, prometheus.Counter]
}

// NewGatewayMetrics creates and registers the gateway's metrics, with the
// Go runtime and process collectors.
func NewGatewayMetrics() *GatewayMetrics {
	m := &GatewayMetrics{reg: prometheus.NewRegistry()}
	m.newRequestMetrics()
	m.newStateMetrics()
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.backend, m.rejections,
		m.inFlight, m.configVersion, m.configOK, m.reloads,
	)
	return m
}

// latencyBuckets spans 1ms to 30s: a gateway adds well under a millisecond
// of its own, and backends are cut off by invoke timeouts (60s default in
// API Connect, usually set lower).
func latencyBuckets() []float64 {
	return []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
}

func (m *GatewayMetrics) newRequestMetrics() {
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_gateway_requests_total",
		Help: "API calls handled, by API, version, operation path template and status class.",
	}, []string{"api", "version", "operation", "status_class"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "portico_gateway_request_duration_seconds",
		Help:    "Time to serve an API call, from request to response, as time_to_serve_request.",
		Buckets: latencyBuckets(),
	}, []string{"api", "version"})
	m.backend = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "portico_gateway_backend_duration_seconds",
		Help:    "Time the backend took for invoked calls, as backend_time_to_serve_request.",
		Buckets: latencyBuckets(),
	}, []string{"api", "version"})
	m.rejections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_gateway_ratelimit_rejections_total",
		Help: "API calls rejected by a rate limit, by API, version and plan.",
	}, []string{"api", "version", "plan"})
}

func (m *GatewayMetrics) newStateMetrics() {
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "portico_gateway_requests_in_flight",
		Help: "API calls being served now.",
	})
	m.configVersion = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "portico_gateway_config_version",
		Help: "Version of the configuration being served (0 before the first load).",
	})
	m.configOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "portico_gateway_config_last_reload_successful",
		Help: "1 if the last configuration load succeeded, else 0.",
	})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_gateway_config_reloads_total",
		Help: "Configuration loads, by result (success or failure).",
	}, []string{"result"})
	// Both results exist from the start, so an alert on failures has a
	// series to watch before the first failure.
	m.reloadsOK = m.reloads.WithLabelValues("success")
	m.reloadsFailed = m.reloads.WithLabelValues("failure")
}

// InFlight is the gauge of calls being served: the gateway calls Inc when
// a request arrives and Dec when it is done.
func (m *GatewayMetrics) InFlight() prometheus.Gauge { return m.inFlight }

// ConfigLoaded records a configuration load. On failure the version gauge
// keeps the version still being served.
func (m *GatewayMetrics) ConfigLoaded(version int64, ok bool) {
	if !ok {
		m.reloadsFailed.Inc()
		m.configOK.Set(0)
		return
	}
	m.reloadsOK.Inc()
	m.configOK.Set(1)
	m.configVersion.Set(float64(version))
}

// AnalyticsStats is what an analytics.Queue reports about itself.
type AnalyticsStats interface {
	Sent() uint64
	Dropped() uint64
	Pending() int
}

// RegisterAnalyticsQueue exposes the queue's counts, read at scrape time so
// the queue needs no knowledge of Prometheus. The names parallel trawler's
// datapower_analytics_events_{success,dropped,pending}.
func (m *GatewayMetrics) RegisterAnalyticsQueue(q AnalyticsStats) error {
	if q == nil {
		return errors.New("monitor: RegisterAnalyticsQueue needs a queue; pass the gateway's *analytics.Queue")
	}
	return m.register("analytics queue",
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "portico_gateway_analytics_sent_total",
			Help: "Analytics events the sink accepted.",
		}, func() float64 { return float64(q.Sent()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "portico_gateway_analytics_dropped_total",
			Help: "Analytics events lost: queue full, sink failure or shutdown.",
		}, func() float64 { return float64(q.Dropped()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "portico_gateway_analytics_pending_events",
			Help: "Analytics events waiting in the queue.",
		}, func() float64 { return float64(q.Pending()) }),
	)
}

// RegisterRateLimitStoreErrors exposes the rate limiter's count of failed
// store operations (errors is read at scrape time and must not block).
func (m *GatewayMetrics) RegisterRateLimitStoreErrors(errorCount func() uint64) error {
	if errorCount == nil {
		return errors.New("monitor: RegisterRateLimitStoreErrors needs a count func; pass the rate limiter's error counter")
	}
	return m.register("rate limit store errors", prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "portico_gateway_ratelimit_store_errors_total",
		Help: "Rate limit store operations that failed.",
	}, func() float64 { return float64(errorCount()) }))
}

// register adds cs, or none of them when one cannot be added.
func (m *GatewayMetrics) register(what string, cs ...prometheus.Collector) error {
	for i, c := range cs {
		if err := m.reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				m.reg.Unregister(done)
			}
			return fmt.Errorf("monitor: register %s metrics: %w; register them once per GatewayMetrics", what, err)
		}
	}
	return nil
}

// validLabel makes s safe as a label value: client_golang panics on
// invalid UTF-8, and a metrics call must never take a request down.
func validLabel(s string) string {
	return strings.ToValidUTF8(s, "\uFFFD")
}

var _ analytics.Observer = (*GatewayMetrics)(nil)

// Gatherer is the registry of the gateway's metrics, for exporters other
// than /metrics (Graphite).
func (m *GatewayMetrics) Gatherer() prometheus.Gatherer { return m.reg }
