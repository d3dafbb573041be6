package graphite

import (
	"bufio"
	"context"
	"errors"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// carbon is a fake Graphite listener: a real TCP server that records lines
// and counts connections.
type carbon struct {
	ln    net.Listener
	lines chan string
	conns chan net.Conn
}

func newCarbon(t *testing.T) *carbon {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &carbon{ln: ln, lines: make(chan string, 1000), conns: make(chan net.Conn, 10)}
	var wg sync.WaitGroup
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.conns <- conn
			wg.Add(1)
			go func() {
				defer wg.Done()
				sc := bufio.NewScanner(conn)
				for sc.Scan() {
					c.lines <- sc.Text()
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for len(c.conns) > 0 {
			(<-c.conns).Close()
		}
		wg.Wait()
	})
	return c
}

func (c *carbon) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-c.lines:
		return l
	case <-time.After(5 * time.Second):
		t.Fatal("no line reached carbon within 5s")
		return ""
	}
}

func (c *carbon) accept(t *testing.T) net.Conn {
	t.Helper()
	select {
	case conn := <-c.conns:
		return conn
	case <-time.After(5 * time.Second):
		t.Fatal("the writer did not connect within 5s")
		return nil
	}
}

func run(t *testing.T, w *Writer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

var ts = time.Unix(1700000000, 0)

func TestWriterSendsPlaintextLines(t *testing.T) {
	c := newCarbon(t)
	w := NewWriter(c.ln.Addr().String(), Options{})
	run(t, w)
	w.Write(Point{"apim.gw1.requests", 42, ts}, Point{"apim.gw1.latency", 0.25, ts})
	for _, want := range []string{"apim.gw1.requests 42 1700000000", "apim.gw1.latency 0.25 1700000000"} {
		if got := c.next(t); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	waitFor(t, func() bool { return w.Sent() == 2 }, "Sent() == 2")
	if w.Dropped() != 0 {
		t.Errorf("dropped %d", w.Dropped())
	}
}

// When carbon closes the connection, the writer notices at once and
// reconnects, so the next datapoint is not lost on the dead connection.
func TestWriterReconnectsWhenCarbonCloses(t *testing.T) {
	c := newCarbon(t)
	var errs []error
	var mu sync.Mutex
	w := NewWriter(c.ln.Addr().String(), Options{MinBackoff: time.Millisecond, OnError: func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}})
	run(t, w)
	w.Write(Point{"a.first", 1, ts})
	first := c.accept(t)
	if got := c.next(t); got != "a.first 1 1700000000" {
		t.Fatal(got)
	}
	first.Close()
	c.accept(t) // the writer came back without being given anything to write
	w.Write(Point{"a.second", 2, ts})
	if got := c.next(t); got != "a.second 2 1700000000" {
		t.Fatal(got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) == 0 || !strings.Contains(errs[0].Error(), "closed the connection") {
		t.Errorf("the lost connection was not reported: %v", errs)
	}
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestWriterDropsWhenFullWithoutBlocking(t *testing.T) {
	w := NewWriter(closedAddr(t), Options{QueueSize: 10})
	done := make(chan struct{})
	go func() {
		for i := 0; i < 15; i++ {
			w.Write(Point{"a.b", float64(i), ts})
		}
		w.Write(Point{"a.nan", math.NaN(), ts}, Point{"a.inf", math.Inf(1), ts})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Write blocked on a full queue")
	}
	if w.Pending() != 10 || w.Dropped() != 7 {
		t.Fatalf("pending %d dropped %d, want 10 and 7 (5 over the bound, NaN, Inf)", w.Pending(), w.Dropped())
	}
}

func TestWriterReportsRefusedAndBacksOff(t *testing.T) {
	errs := make(chan error, 100)
	w := NewWriter(closedAddr(t), Options{MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
		FlushTimeout: 100 * time.Millisecond, OnError: func(err error) { errs <- err }})
	stop := run(t, w)
	w.Write(Point{"a.b", 1, ts})
	for i := 0; i < 3; i++ { // several attempts: it keeps retrying
		select {
		case err := <-errs:
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("attempt %d: %v, want connection refused", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no reconnection attempt within 5s")
		}
	}
	stop()
	if w.Dropped() != 1 || w.Pending() != 0 {
		t.Errorf("after stopping: dropped %d pending %d; the undeliverable point must count as dropped", w.Dropped(), w.Pending())
	}
}

// What is queued when Run's context ends is still written: a one-shot
// command queues its datapoints, stops the writer and exits.
func TestWriterFlushesOnStop(t *testing.T) {
	c := newCarbon(t)
	w := NewWriter(c.ln.Addr().String(), Options{})
	w.Write(Point{"x.a", 1, ts}, Point{"x.b", 2, ts}, Point{"x.c", 3, ts})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w.Run(ctx)
	for _, want := range []string{"x.a 1 1700000000", "x.b 2 1700000000", "x.c 3 1700000000"} {
		if got := c.next(t); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if w.Sent() != 3 {
		t.Errorf("sent %d", w.Sent())
	}
}

func TestComponentAndPrefix(t *testing.T) {
	for in, want := range map[string]string{"api.example.com": "api_example_com", "1.0.0": "1_0_0", "/current": "_current",
		"": "none", "::1": "__1", "a b": "a_b", "ok-_9": "ok-_9", "é": "_"} {
		if got := Component(in); got != want {
			t.Errorf("Component(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Path("apim.gw1", "a.b", "c"); got != "apim.gw1.a_b.c" {
		t.Errorf("Path = %q", got)
	}
	for _, ok := range []string{"", "portico", "portico.gw-1", "a_b.c"} {
		if err := CheckPrefix(ok); err != nil {
			t.Errorf("CheckPrefix(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{".a", "a.", "a..b", "a b", "a/b"} {
		if err := CheckPrefix(bad); err == nil {
			t.Errorf("CheckPrefix(%q) accepted", bad)
		}
	}
}

func testRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "req_total", Help: "h"}, []string{"version", "api"})
	c.WithLabelValues("1.0.0", "weather").Add(3)
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ns:in_flight", Help: "h"})
	g.Set(2)
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dur_seconds", Help: "h", Buckets: []float64{0.1, 1}}, []string{"api"})
	h.WithLabelValues("").Observe(0.5)
	s := prometheus.NewSummary(prometheus.SummaryOpts{Name: "sz", Help: "h", Objectives: map[float64]float64{0.5: 0.05}})
	s.Observe(7)
	reg.MustRegister(c, g, h, s)
	return reg
}

var wantLines = []string{
	"p.dur_seconds_bucket.none.0_1 0 1700000000",
	"p.dur_seconds_bucket.none.1 1 1700000000",
	"p.dur_seconds_bucket.none.inf 1 1700000000",
	"p.dur_seconds_count.none 1 1700000000",
	"p.dur_seconds_sum.none 0.5 1700000000",
	"p.ns_in_flight 2 1700000000",
	"p.req_total.weather.1_0_0 3 1700000000", // api before version: ordered by label name
	"p.sz.0_5 7 1700000000",
	"p.sz_count 1 1700000000",
	"p.sz_sum 7 1700000000",
}

func lines(ps []Point) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	slices.Sort(out)
	return out
}

func TestPoints(t *testing.T) {
	mfs, err := testRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(Points("p", mfs, ts)); !slices.Equal(got, wantLines) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantLines, "\n"))
	}
}

func TestExporterExport(t *testing.T) {
	c := newCarbon(t)
	w := NewWriter(c.ln.Addr().String(), Options{})
	run(t, w)
	e := &Exporter{Gatherer: testRegistry(), Writer: w, Prefix: "p"}
	if err := e.Export(ts); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range wantLines {
		got = append(got, c.next(t))
	}
	slices.Sort(got)
	if !slices.Equal(got, wantLines) {
		t.Fatalf("carbon received\n%s", strings.Join(got, "\n"))
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s not reached within 5s", what)
		}
		time.Sleep(time.Millisecond) // polling a counter with a deadline
	}
}
