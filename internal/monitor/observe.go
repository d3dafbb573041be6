package monitor

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-api/portico/internal/analytics"
)

// seriesKey names the children one API call updates. The status class is
// a number (statusClass) so the key holds no computed strings.
type seriesKey struct {
	api, version, operation string
	class                   int
}

// series is the children for one seriesKey, looked up once and kept, so a
// call costs one map lookup instead of three label hashes in the vectors.
type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
	backend  prometheus.Observer
}

type planKey struct{ api, version, plan string }

// Observe implements analytics.Observer: it counts the call and records
// its durations. It is safe for concurrent use and does not allocate once
// a combination of labels has been seen.
func (m *GatewayMetrics) Observe(e *analytics.Event) {
	if e == nil {
		return
	}
	api, version := orNone(e.APIName), orNone(e.APIVersion)
	s := m.seriesFor(seriesKey{api, version, operation(e), statusClass(e)})
	s.requests.Inc()
	s.duration.Observe(duration(e).Seconds())
	if e.BackendDuration > 0 {
		s.backend.Observe(e.BackendDuration.Seconds())
	}
	if e.RateLimited {
		m.rejectionFor(planKey{api, version, orNone(e.PlanName)}).Inc()
	}
}

func (m *GatewayMetrics) seriesFor(k seriesKey) *series {
	return m.series.get(k, func() *series {
		api, version := validLabel(k.api), validLabel(k.version)
		return &series{
			requests: m.requests.WithLabelValues(api, version, validLabel(k.operation), classLabel(k.class)),
			duration: m.duration.WithLabelValues(api, version),
			backend:  m.backend.WithLabelValues(api, version),
		}
	})
}

func (m *GatewayMetrics) rejectionFor(k planKey) prometheus.Counter {
	return m.plans.get(k, func() prometheus.Counter {
		return m.rejections.WithLabelValues(validLabel(k.api), validLabel(k.version), validLabel(k.plan))
	})
}

func orNone(s string) string {
	if s == "" {
		return noneLabel
	}
	return s
}

// operation is the matched path template. Never the request's own path:
// that would make a series per URL.
func operation(e *analytics.Event) string {
	if e.OperationPath == "" || e.APIName == "" {
		return unmatchedLabel
	}
	return e.OperationPath
}

// statusClass is the hundreds digit of the status (0 when unknown), from
// Status or else from the "200 OK" form of StatusCode.
func statusClass(e *analytics.Event) int {
	code := e.Status
	if code == 0 && len(e.StatusCode) >= 3 {
		for _, c := range e.StatusCode[:3] {
			if c < '0' || c > '9' {
				return 0
			}
			code = code*10 + int(c-'0')
		}
	}
	if code < 100 || code > 599 {
		return 0
	}
	return code / 100
}

func classLabel(class int) string {
	switch class {
	case 1:
		return "1xx"
	case 2:
		return "2xx"
	case 3:
		return "3xx"
	case 4:
		return "4xx"
	case 5:
		return "5xx"
	}
	return "unknown"
}

// duration prefers the exact Duration and falls back to the millisecond
// field for events built elsewhere (a replay, a test).
func duration(e *analytics.Event) time.Duration {
	if e.Duration > 0 {
		return e.Duration
	}
	return time.Duration(e.TimeToServeRequest) * time.Millisecond
}

// cache keeps metric children by key. Reads take a shared lock, which
// stays cheap because misses are rare: keys come from the configuration,
// not from requests.
type cache[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

func (c *cache[K, V]) get(k K, create func() V) V {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[k]; ok {
		return v
	}
	if c.m == nil {
		c.m = make(map[K]V)
	}
	v = create()
	c.m[k] = v
	return v
}
