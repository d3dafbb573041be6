package monitor

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ObjectCount is how many objects of one type a scope holds. Type is one
// of provider_orgs, catalogs, draft_apis, draft_products, apis,
// consumer_orgs, apps, subscriptions, users, gateway_services, or
// products (with State set). Org and Catalog are names, "" where the
// type is not scoped by them.
type ObjectCount struct {
	Type, Org, Catalog, State string
	Count                     int64
}

// ObjectCounter counts the manager's objects. The manager metrics call it
// at each scrape, so it must be cheap: the store answers with one
// grouped query per type.
type ObjectCounter interface {
	CountObjects(ctx context.Context) ([]ObjectCount, error)
}

// GatewayPush is where pushing configuration to one gateway stands.
type GatewayPush struct {
	Gateway     string
	Outstanding int64     // changes not yet pushed
	LastPush    time.Time // last successful push; zero if none yet
	UpToDate    bool
}

// PushStatusSource reports the push status of every gateway.
type PushStatusSource interface {
	PushStatus(ctx context.Context) ([]GatewayPush, error)
}

// ManagerMetricsOptions configure NewManagerMetrics.
type ManagerMetricsOptions struct {
	Objects ObjectCounter    // nil: no object series
	Push    PushStatusSource // nil: no push series
	// Timeout bounds each source's work in one scrape; default 5s.
	Timeout time.Duration
	// OnError hears a source's failure ("objects" or "push_status"); the
	// scrape goes on with portico_manager_scrape_error set.
	OnError func(source string, err error)
	Now     func() time.Time // for the push age; default time.Now
}

// ManagerMetrics holds the manager's metrics in a registry of its own.
type ManagerMetrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	analytics prometheus.Counter
	// series caches the children per (method, route, code), since the
	// middleware runs on every REST call.
	series cache[httpKey, httpSeries]
}

type httpKey struct {
	method, route string
	code          int
}

type httpSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// NewManagerMetrics creates and registers the manager's metrics, with the
// Go runtime and process collectors.
func NewManagerMetrics(o ManagerMetricsOptions) *ManagerMetrics {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &ManagerMetrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_manager_http_requests_total",
		Help: "REST calls to the manager, by method, route (the path pattern, never the raw path) and status code.",
	}, []string{"method", "route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "portico_manager_http_request_duration_seconds",
		Help:    "Time to answer a REST call, by method and route.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route"})
	m.analytics = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "portico_manager_analytics_events_total",
		Help: "Analytics events the manager received.",
	})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.analytics,
		newStateCollector(o),
	)
	return m
}

// AddAnalyticsEvents counts n analytics events received.
func (m *ManagerMetrics) AddAnalyticsEvents(n int) {
	if n > 0 {
		m.analytics.Add(float64(n))
	}
}

// Gatherer is the registry of the manager's metrics, for exporters other
// than /metrics (Graphite).
func (m *ManagerMetrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the registry in Prometheus's text format.
func (m *ManagerMetrics) Handler() http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:            m.reg,
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: scrapeMaxInFlight,
		Timeout:             scrapeTimeout,
	})
	return promhttp.InstrumentMetricHandler(m.reg, h)
}

// Instrument counts and times the calls h answers. Give it the handler
// of an http.ServeMux (or one that calls one): the route label is the
// pattern the mux matched, with its method left out ("/api/orgs/{org}"),
// and "unmatched" when none did, so series stay bounded by the routes.
func (m *ManagerMetrics) Instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		// The mux sets r.Pattern on this same request before calling
		// the route's handler.
		s := m.seriesFor(httpKey{methodLabel(r.Method), routeLabel(r.Pattern), sw.code()})
		s.requests.Inc()
		s.duration.Observe(time.Since(start).Seconds())
	})
}

func (m *ManagerMetrics) seriesFor(k httpKey) httpSeries {
	return m.series.get(k, func() httpSeries {
		return httpSeries{
			requests: m.requests.WithLabelValues(k.method, k.route, strconv.Itoa(k.code)),
			duration: m.duration.WithLabelValues(k.method, k.route),
		}
	})
}

// ManagerHandler serves the manager's listener: GET /metrics, outside the
// REST API and without authentication (like the gateway's admin
// listener), and everything else from api, instrumented.
func ManagerHandler(m *ManagerMetrics, api http.Handler) http.Handler {
	if m == nil || api == nil {
		panic("monitor: ManagerHandler needs the ManagerMetrics and the manager's REST handler")
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("/", api)
	return m.Instrument(mux)
}

// methodLabel keeps the method label to the standard methods.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// routeLabel is the path of a ServeMux pattern ("GET /api/orgs/{org}" →
// "/api/orgs/{org}").
func routeLabel(pattern string) string {
	if pattern == "" {
		return unmatchedLabel
	}
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		pattern = strings.TrimLeft(pattern[i:], " \t")
	}
	return validLabel(pattern)
}

// statusWriter notes the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// stateCollector reads the object counts and push status at scrape time.
type stateCollector struct {
	o ManagerMetricsOptions

	objects, products                  *prometheus.Desc
	outstanding, lastPushAge, upToDate *prometheus.Desc
	scrapeError                        *prometheus.Desc
}

func newStateCollector(o ManagerMetricsOptions) *stateCollector {
	return &stateCollector{
		o: o,
		objects: prometheus.NewDesc("portico_manager_objects",
			"Objects in the manager, by type; org and catalog are empty where the type is not scoped by them.",
			[]string{"type", "org", "catalog"}, nil),
		products: prometheus.NewDesc("portico_manager_products",
			"Products in a catalog, by lifecycle state.", []string{"org", "catalog", "state"}, nil),
		outstanding: prometheus.NewDesc("portico_manager_gateway_outstanding_changes",
			"Changes not yet pushed to the gateway.", []string{"gateway"}, nil),
		lastPushAge: prometheus.NewDesc("portico_manager_gateway_last_push_age_seconds",
			"Seconds since the last successful push to the gateway (absent before the first).", []string{"gateway"}, nil),
		upToDate: prometheus.NewDesc("portico_manager_gateway_up_to_date",
			"1 if the gateway serves the current configuration, else 0.", []string{"gateway"}, nil),
		scrapeError: prometheus.NewDesc("portico_manager_scrape_error",
			"1 if reading the source (objects, push_status) failed in this scrape, else 0.", []string{"source"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.objects, c.products, c.outstanding, c.lastPushAge, c.upToDate, c.scrapeError} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. The sources are read at the
// same time, each within the timeout; a failing one costs its own series
// and sets its scrape error, not the scrape.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	if c.o.Objects != nil {
		wg.Go(func() { c.collectObjects(ch) })
	}
	if c.o.Push != nil {
		wg.Go(func() { c.collectPush(ch) })
	}
	wg.Wait()
}

func (c *stateCollector) collectObjects(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.Timeout)
	defer cancel()
	counts, err := c.o.Objects.CountObjects(ctx)
	if c.failed(ch, "objects", err) {
		return
	}
	for _, n := range counts {
		if n.Type == "products" {
			ch <- prometheus.MustNewConstMetric(c.products, prometheus.GaugeValue, float64(n.Count),
				validLabel(n.Org), validLabel(n.Catalog), validLabel(n.State))
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.objects, prometheus.GaugeValue, float64(n.Count),
			validLabel(n.Type), validLabel(n.Org), validLabel(n.Catalog))
	}
}

func (c *stateCollector) collectPush(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.Timeout)
	defer cancel()
	status, err := c.o.Push.PushStatus(ctx)
	if c.failed(ch, "push_status", err) {
		return
	}
	now := c.o.Now()
	for _, g := range status {
		name := validLabel(g.Gateway)
		ch <- prometheus.MustNewConstMetric(c.outstanding, prometheus.GaugeValue, float64(g.Outstanding), name)
		ch <- prometheus.MustNewConstMetric(c.upToDate, prometheus.GaugeValue, boolValue(g.UpToDate), name)
		if !g.LastPush.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.lastPushAge, prometheus.GaugeValue, max(0, now.Sub(g.LastPush).Seconds()), name)
		}
	}
}

// failed reports the source's scrape error gauge, and err to OnError.
func (c *stateCollector) failed(ch chan<- prometheus.Metric, source string, err error) bool {
	ch <- prometheus.MustNewConstMetric(c.scrapeError, prometheus.GaugeValue, boolValue(err != nil), source)
	if err != nil && c.o.OnError != nil {
		c.o.OnError(source, err)
	}
	return err != nil
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
