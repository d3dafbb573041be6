package monitor

import (
	"testing"
	"time"

	"github.com/portico-api/portico/internal/analytics"
)

// benchEvents is a small mix of what a gateway sees: several APIs and
// operations, a backend call, an error and a miss.
func benchEvents() []*analytics.Event {
	es := []*analytics.Event{
		call("pets", "/pets", 200, 2*time.Millisecond),
		call("pets", "/pets/{id}", 200, 3*time.Millisecond),
		call("orders", "/orders", 201, 12*time.Millisecond),
		call("orders", "/orders/{id}", 503, 40*time.Millisecond),
		{URIPath: "/nope", Status: 404, Duration: 100 * time.Microsecond},
	}
	for _, e := range es[:4] {
		e.BackendDuration = e.Duration / 2
	}
	return es
}

// BenchmarkObserve is the metrics cost added to every API call.
func BenchmarkObserve(b *testing.B) {
	m := NewGatewayMetrics()
	es := benchEvents()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Observe(es[i%len(es)])
		i++
	}
}

// BenchmarkObserveParallel shows how the shared caches and counters
// behave when all cores serve calls.
func BenchmarkObserveParallel(b *testing.B) {
	m := NewGatewayMetrics()
	es := benchEvents()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Observe(es[i%len(es)])
			i++
		}
	})
}
