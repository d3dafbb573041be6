package analytics

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// HTTPSinkConfig says where and how an HTTPSink posts events.
type HTTPSinkConfig struct {
	// URL receives the POSTs; http or https.
	URL string
	// Token, when set, is sent as "Authorization: Bearer <Token>".
	Token string
	// TLS, when set, is used for https URLs: private CAs, or a client
	// certificate for mutual TLS.
	TLS *tls.Config
	// Timeout bounds one attempt (default 10s).
	Timeout time.Duration
	// Retries is how many times a failed POST is tried again (default 3;
	// negative means none). Only connection errors, 408, 429 and 5xx
	// responses are retried: other statuses will not get better.
	Retries int
	// Backoff is the wait before the first retry (default 500ms). It
	// doubles on each retry up to 10s, with jitter so that gateways
	// restarted together do not retry in step.
	Backoff time.Duration
}

const (
	defaultHTTPTimeout = 10 * time.Second
	defaultRetries     = 3
	defaultBackoff     = 500 * time.Millisecond
	maxBackoff         = 10 * time.Second
	// errorBodyLimit bounds how much of a failed response goes into the error.
	errorBodyLimit = 512
)

// HTTPSink posts each batch as a JSON array of events, the form the Portico
// manager's analytics ingestion takes.
type HTTPSink struct {
	url     string
	shown   string // url with any password hidden, for errors
	token   string
	timeout time.Duration
	retries int
	backoff time.Duration
	client  *http.Client
}

// NewHTTPSink checks cfg and returns a sink with its own connection pool.
func NewHTTPSink(cfg HTTPSinkConfig) (*HTTPSink, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("analytics: sink URL %q is not usable; give an absolute http:// or https:// URL", cfg.URL)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.TLS != nil {
		t.TLSClientConfig = cfg.TLS.Clone()
	}
	s := &HTTPSink{
		url:     u.String(),
		shown:   u.Redacted(),
		token:   cfg.Token,
		timeout: orDefault(cfg.Timeout, defaultHTTPTimeout),
		retries: cfg.Retries,
		backoff: orDefault(cfg.Backoff, defaultBackoff),
		client:  &http.Client{Transport: t},
	}
	if s.retries == 0 {
		s.retries = defaultRetries
	}
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Close releases idle connections.
func (s *HTTPSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// Write implements Sink. It retries transient failures with backoff while
// ctx lasts and returns the last error when it gives up.
func (s *HTTPSink) Write(ctx context.Context, batch []*Event) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return fmt.Errorf("analytics: encode batch: %w", err)
	}
	for attempt := 0; ; attempt++ {
		err = s.post(ctx, body)
		var perm *permanentError
		if err == nil || errors.As(err, &perm) {
			return err
		}
		if attempt >= s.retries {
			return fmt.Errorf("%w (gave up after %d attempts; check that the analytics endpoint is up)", err, attempt+1)
		}
		if werr := wait(ctx, s.delay(attempt)); werr != nil {
			return fmt.Errorf("%w (stopped retrying: %w)", err, werr)
		}
	}
}

// delay is the wait before retry number attempt+1: exponential, capped,
// with the upper half jittered.
func (s *HTTPSink) delay(attempt int) time.Duration {
	d := s.backoff << min(attempt, 20)
	if d <= 0 || d > maxBackoff {
		d = maxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// wait sleeps for d or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// permanentError marks a response that retrying will not fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// post makes one attempt, bounded by the sink's timeout.
func (s *HTTPSink) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return &permanentError{fmt.Errorf("analytics: build request for %s: %w", s.shown, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("analytics: POST to the analytics endpoint: %w", err)
	}
	defer resp.Body.Close()
	return s.checkStatus(resp)
}

// checkStatus turns a non-2xx response into an error that says what to
// check, with the start of the body, which usually explains the refusal.
func (s *HTTPSink) checkStatus(resp *http.Response) error {
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err := fmt.Errorf("analytics: POST %s: %s: %q", s.shown, resp.Status, bytes.TrimSpace(snippet))
	switch {
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests:
		return err
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		return &permanentError{fmt.Errorf("%w; check the analytics token and client certificate", err)}
	default:
		return &permanentError{fmt.Errorf("%w; the endpoint refused the events, check the sink URL", err)}
	}
}
