package analytics

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// collector is a fake analytics endpoint: it answers with the statuses in
// order (200 once they run out) and keeps what each request carried.
type collector struct {
	statuses []int
	calls    atomic.Int32
	requests chan *http.Request
	bodies   chan []map[string]any
}

func newCollector(statuses ...int) *collector {
	return &collector{statuses: statuses, requests: make(chan *http.Request, 10), bodies: make(chan []map[string]any, 10)}
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(c.calls.Add(1)) - 1
	var body []map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "body is not a JSON array: "+err.Error(), http.StatusBadRequest)
		return
	}
	c.requests <- r
	c.bodies <- body
	status := http.StatusOK
	if n < len(c.statuses) {
		status = c.statuses[n]
	}
	http.Error(w, http.StatusText(status), status)
}

func newTestSink(t *testing.T, url string, cfg HTTPSinkConfig) *HTTPSink {
	t.Helper()
	cfg.URL = url
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond // keep retries quick
	}
	s, err := NewHTTPSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestHTTPSinkPostsJSONArrayWithBearer(t *testing.T) {
	c := newCollector()
	srv := httptest.NewServer(c)
	defer srv.Close()
	s := newTestSink(t, srv.URL+"/ingest", HTTPSinkConfig{Token: "s3cret"})
	if err := s.Write(t.Context(), []*Event{sampleEvent("t1"), sampleEvent("t2")}); err != nil {
		t.Fatal(err)
	}
	r := <-c.requests
	if r.Method != http.MethodPost || r.URL.Path != "/ingest" {
		t.Errorf("got %s %s, want POST /ingest", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer s3cret" {
		t.Errorf("Authorization = %q, want Bearer s3cret", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	body := <-c.bodies
	if len(body) != 2 || body[0]["transaction_id"] != "t1" || body[1]["status_code"] != "200 OK" {
		t.Errorf("body = %v, want the two events with API Connect names", body)
	}
}

func TestHTTPSinkNoTokenNoAuthorization(t *testing.T) {
	c := newCollector()
	srv := httptest.NewServer(c)
	defer srv.Close()
	s := newTestSink(t, srv.URL, HTTPSinkConfig{})
	if err := s.Write(t.Context(), []*Event{sampleEvent("t1")}); err != nil {
		t.Fatal(err)
	}
	if got := (<-c.requests).Header.Get("Authorization"); got != "" {
		t.Errorf("Authorization = %q, want none", got)
	}
}

func TestHTTPSinkRetries503ThenSucceeds(t *testing.T) {
	c := newCollector(http.StatusServiceUnavailable, http.StatusServiceUnavailable)
	srv := httptest.NewServer(c)
	defer srv.Close()
	s := newTestSink(t, srv.URL, HTTPSinkConfig{Retries: 3})
	if err := s.Write(t.Context(), []*Event{sampleEvent("t1")}); err != nil {
		t.Fatalf("Write after two 503s: %v", err)
	}
	if n := c.calls.Load(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestHTTPSinkGivesUp(t *testing.T) {
	c := newCollector(503, 503, 503, 503, 503)
	srv := httptest.NewServer(c)
	defer srv.Close()
	s := newTestSink(t, srv.URL, HTTPSinkConfig{Retries: 2})
	err := s.Write(t.Context(), []*Event{sampleEvent("t1")})
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("err = %v, want a 503 error after 3 attempts", err)
	}
	if n := c.calls.Load(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestHTTPSinkDoesNotRetryClientErrors(t *testing.T) {
	c := newCollector(http.StatusUnauthorized)
	srv := httptest.NewServer(c)
	defer srv.Close()
	s := newTestSink(t, srv.URL, HTTPSinkConfig{Token: "wrong"})
	err := s.Write(t.Context(), []*Event{sampleEvent("t1")})
	if err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("err = %v, want a 401 that points at the token", err)
	}
	if n := c.calls.Load(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestHTTPSinkRetriesConnectionErrorsWithinContext(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	s := newTestSink(t, url, HTTPSinkConfig{Retries: 100, Backoff: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Write(ctx, []*Event{sampleEvent("t1")})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to stop on the ended context", err)
	}
}

func TestHTTPSinkRetriesConnectionErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepts atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			conn.Close() // hang up before any response
		}
	}()
	s := newTestSink(t, "http://"+ln.Addr().String(), HTTPSinkConfig{Retries: 2})
	err = s.Write(t.Context(), []*Event{sampleEvent("t1")})
	if err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("err = %v, want a connection error after 3 attempts", err)
	}
	if n := accepts.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

func TestHTTPSinkUsesTLSConfig(t *testing.T) {
	c := newCollector()
	srv := httptest.NewTLSServer(c)
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	s := newTestSink(t, srv.URL, HTTPSinkConfig{TLS: &tls.Config{RootCAs: pool}})
	if err := s.Write(t.Context(), []*Event{sampleEvent("t1")}); err != nil {
		t.Fatalf("Write over TLS with the server's CA: %v", err)
	}
	untrusted := newTestSink(t, srv.URL, HTTPSinkConfig{Retries: -1})
	if err := untrusted.Write(t.Context(), []*Event{sampleEvent("t1")}); err == nil {
		t.Error("Write to a server with an unknown CA: no error")
	}
}

func TestNewHTTPSinkRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x/y", "/relative", "http://"} {
		if _, err := NewHTTPSink(HTTPSinkConfig{URL: u}); err == nil {
			t.Errorf("NewHTTPSink(%q): no error", u)
		}
	}
}

func TestHTTPSinkWithQueue(t *testing.T) {
	c := newCollector()
	srv := httptest.NewServer(c)
	defer srv.Close()
	q := NewQueue(10, 2, time.Hour, newTestSink(t, srv.URL, HTTPSinkConfig{}), nil)
	stop := start(q)
	q.Observe(sampleEvent("a"))
	q.Observe(sampleEvent("b"))
	if body := <-c.bodies; len(body) != 2 {
		t.Errorf("batch of %d, want 2", len(body))
	}
	stop()
	if q.Sent() != 2 {
		t.Errorf("Sent() = %d, want 2", q.Sent())
	}
}

var _ io.Closer = (*HTTPSink)(nil)
