package monitor

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portico-api/portico/internal/analytics"
)

func accessEvent() *analytics.Event {
	return &analytics.Event{
		Datetime: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), TransactionID: "ab12-1f", GlobalTransactionID: "ab12-1f",
		OrgName: "acme", CatalogName: "sandbox", APIName: "weather", APIVersion: "1.0.0", APIRef: "weather:1.0.0",
		OperationPath: "/current", RequestMethod: "GET", URIPath: "/acme/sandbox/weather/current",
		QueryString: "city=Paris&client_id=the-id&client_secret=the-secret", RequestProto: "HTTP/1.1",
		ClientIP: "127.0.0.1", UserAgent: "curl/8.5", ClientID: "the-id", AppName: "mobile", DevOrgName: "partners",
		ProductName: "weather-product", ProductVersion: "1.0.0", PlanName: "gold",
		Status: 200, StatusCode: "200 OK", Duration: 2500 * time.Microsecond, BytesReceived: 0, BytesSent: 42,
		BackendURL: "https://backend.example/v1?key=backend-key", BackendStatusCode: 200, BackendDuration: time.Millisecond,
	}
}

func TestAccessLogLine(t *testing.T) {
	var buf bytes.Buffer
	a := NewAccessLog(NewECSHandler(&buf, ECSOptions{Dataset: DatasetAccess}))
	a.Observe(accessEvent())
	a.Observe(nil)

	got := lines(t, &buf)
	if len(got) != 1 {
		t.Fatalf("%d lines:\n%s", len(got), buf.String())
	}
	want := map[string]any{
		"@timestamp": "2026-05-01T10:00:00.0025Z", "log.level": "info", "message": "GET /acme/sandbox/weather/current 200",
		"ecs.version": ECSVersion, "event.dataset": DatasetAccess,
		"transaction.id": "ab12-1f", "http.request.method": "GET", "url.path": "/acme/sandbox/weather/current",
		"url.query":                 "city=Paris&client_id=" + Redacted + "&client_secret=" + Redacted,
		"http.response.status_code": 200.0, "event.duration": 2.5e6, "event.outcome": "success",
		"http.version": "1.1", "client.ip": "127.0.0.1", "user_agent.original": "curl/8.5",
		"portico.org": "acme", "portico.catalog": "sandbox", "portico.api": "weather:1.0.0", "portico.operation": "/current",
		"portico.app": "mobile", "portico.consumer_org": "partners", "portico.product": "weather-product:1.0.0", "portico.plan": "gold",
		"http.response.body.bytes": 42.0, "portico.backend.status_code": 200.0, "portico.backend.duration": 1e6,
	}
	for k, v := range want {
		if got[0][k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[0][k], v)
		}
	}
	for _, leak := range []string{"the-id", "the-secret", "backend-key"} {
		if strings.Contains(buf.String(), leak) {
			t.Errorf("the line holds %q: %s", leak, buf.String())
		}
	}
}

func TestAccessLogFailure(t *testing.T) {
	var buf bytes.Buffer
	a := NewAccessLog(NewECSHandler(&buf, ECSOptions{Dataset: DatasetAccess}))
	a.Observe(&analytics.Event{GlobalTransactionID: "t2", RequestMethod: "GET", URIPath: "/x", StatusCode: "401 Unauthorized",
		ErrorName: "UnauthorizedError", ErrorMessage: "Invalid client id or secret."})
	got := lines(t, &buf)[0]
	if got["http.response.status_code"] != 401.0 || got["event.outcome"] != "failure" || got["error.type"] != "UnauthorizedError" ||
		got["url.query"] != nil || got["portico.api"] != nil {
		t.Errorf("line: %v", got)
	}
	if _, err := time.Parse(time.RFC3339Nano, got["@timestamp"].(string)); err != nil {
		t.Errorf("an event without a datetime gets the time of logging: %v", err)
	}
}

// blockingWriter holds every Write until released, like a pipe nobody
// reads.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func TestLineWriterNeverBlocks(t *testing.T) {
	bw := &blockingWriter{release: make(chan struct{})}
	lw := NewLineWriter(bw, 2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { lw.Run(ctx); close(done) }()

	// The writer is stuck: Run holds the lines it took (one batch), the
	// queue two more, and the rest are dropped, without Write waiting.
	finished := make(chan struct{})
	go func() {
		for i := range 10 {
			lw.Write([]byte("line " + string(rune('0'+i)) + "\n"))
		}
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("Write blocked behind a stuck writer")
	}
	if d := lw.Dropped(); d < 5 || d > 8 {
		t.Errorf("dropped %d lines, want 5 to 8 (10 less 2 queued and what Run holds)", d)
	}
	close(bw.release)
	cancel()
	<-done
	bw.mu.Lock()
	defer bw.mu.Unlock()
	if n := strings.Count(bw.buf.String(), "\n"); uint64(n)+lw.Dropped() != 10 {
		t.Errorf("wrote %d lines and dropped %d of 10:\n%s", n, lw.Dropped(), bw.buf.String())
	}
	if !strings.HasPrefix(bw.buf.String(), "line 0\n") {
		t.Errorf("lines out of order: %q", bw.buf.String())
	}
}

func TestLineWriterDrainsOnStopInBatches(t *testing.T) {
	cw := &countingWriter{}
	lw := NewLineWriter(cw, 2000)
	line := []byte(strings.Repeat("x", 99) + "\n")
	for range 1000 {
		lw.Write(line)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	lw.Run(ctx) // stopped already: writes what is queued, then returns
	if n := strings.Count(cw.buf.String(), "\n"); n != 1000 || lw.Dropped() != 0 {
		t.Fatalf("wrote %d of 1000 lines, dropped %d", n, lw.Dropped())
	}
	// 100 kB in writes of up to 64 kB (and a line).
	if cw.writes != 2 {
		t.Errorf("%d writes for 1000 queued lines, want 2", cw.writes)
	}
}

type countingWriter struct {
	buf    bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.buf.Write(p)
}

func TestRegisterAccessLogDrops(t *testing.T) {
	m := NewGatewayMetrics()
	lw := NewLineWriter(&bytes.Buffer{}, 1)
	lw.Write([]byte("a\n"))
	lw.Write([]byte("b\n")) // the queue holds one: dropped
	if err := m.RegisterAccessLogDrops(lw.Dropped); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterAccessLogDrops(lw.Dropped); err == nil {
		t.Error("registering twice must fail")
	}
	if err := m.RegisterAccessLogDrops(nil); err == nil {
		t.Error("a nil func must be refused")
	}
	want := "# HELP portico_gateway_access_log_dropped_total Access log lines dropped because the log writer was behind.\n" +
		"# TYPE portico_gateway_access_log_dropped_total counter\nportico_gateway_access_log_dropped_total 1\n"
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "portico_gateway_access_log_dropped_total"); err != nil {
		t.Error(err)
	}
}

// BenchmarkAccessLog is what a call pays for its access line: the
// formatting and the hand-off to the LineWriter.
func BenchmarkAccessLog(b *testing.B) {
	lw := NewLineWriter(discard{}, 1<<16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go lw.Run(ctx)
	a := NewAccessLog(NewECSHandler(lw, ECSOptions{Dataset: DatasetAccess}))
	e := accessEvent()
	b.ReportAllocs()
	for b.Loop() {
		a.Observe(e)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkAccessLogDirect(b *testing.B) {
	a := NewAccessLog(NewECSHandler(discard{}, ECSOptions{Dataset: DatasetAccess}))
	e := accessEvent()
	b.ReportAllocs()
	for b.Loop() {
		a.Observe(e)
	}
}

// opaque hides that a handler is an ECSHandler, so that AccessLog takes
// its slog path.
type opaque struct{ slog.Handler }

// The direct JSON path writes exactly the line the slog path writes
// through the same handler.
func TestAccessLogDirectMatchesSlog(t *testing.T) {
	for _, e := range []*analytics.Event{accessEvent(), {RequestMethod: "POST", URIPath: "/x", StatusCode: "429 Too Many Requests",
		RateLimited: true, ErrorName: "RateLimitError", ErrorMessage: "Rate limit \"exceeded\"\n", Datetime: time.Unix(1, 0)}} {
		var direct, viaSlog bytes.Buffer
		NewAccessLog(NewECSHandler(&direct, ECSOptions{Dataset: DatasetAccess})).Observe(e)
		NewAccessLog(opaque{NewECSHandler(&viaSlog, ECSOptions{Dataset: DatasetAccess})}).Observe(e)
		if direct.Len() == 0 || direct.String() != viaSlog.String() {
			t.Fatalf("direct:\n%s\nthrough slog:\n%s", direct.String(), viaSlog.String())
		}
		lines(t, &direct) // parses as JSON
	}
}
