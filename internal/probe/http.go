package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxBody bounds how much of a body is read and matched: a probe checks an
// endpoint, it does not download it.
const maxBody = 4 << 20

// probe runs the check once against t. It never returns an error: every
// failure is a Result with its reason.
func (c *Check) probe(ctx context.Context, t Target) Result {
	r := Result{Check: c.Name, Host: t.Host, Time: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	tm := &timings{starts: map[string]time.Time{}, phases: map[string]time.Duration{}}
	req, err := c.request(httptrace.WithClientTrace(ctx, tm.trace()), t.URL)
	if err != nil { // the configuration was validated; a resolved name may still be bad
		return r.fail(ReasonOther, err.Error(), tm)
	}
	tr := c.transport(t)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		r.CertExpiry = certExpiryFrom(err, tm)
		reason := classify(err, tm.tlsError())
		return r.fail(reason, describe(reason, err, c.Timeout), tm)
	}
	defer resp.Body.Close()
	r.StatusCode = resp.StatusCode
	if resp.TLS != nil {
		r.CertExpiry = earliestExpiry(resp.TLS.PeerCertificates)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	tm.end(PhaseTransfer)
	if err != nil {
		reason := classify(err, nil)
		return r.fail(reason, "reading the body: "+describe(reason, err, c.Timeout), tm)
	}
	if reason, detail := c.judge(resp.StatusCode, body); reason != "" {
		r.FailedRegex = reason == ReasonBody
		return r.fail(reason, detail, tm)
	}
	r.Success = true
	return r.finish(tm)
}

// request builds the check's request for url.
func (c *Check) request(ctx context.Context, url string) (*http.Request, error) {
	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, url, body)
	if err != nil {
		return nil, err
	}
	req.Header = c.Header.Clone()
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "portico-probe")
	}
	if c.Host != "" {
		req.Host = c.Host
	}
	return req, nil
}

// judge says why an answer is a failure, or "" when it is a success.
func (c *Check) judge(status int, body []byte) (Reason, string) {
	switch {
	case !c.Expect.Has(status):
		return ReasonStatus, fmt.Sprintf("status %d, want %s", status, c.Expect)
	case c.Match != nil && !c.Match.Match(body):
		return ReasonBody, fmt.Sprintf("the body does not match %q", c.Match)
	case c.NoMatch != nil && c.NoMatch.Match(body):
		return ReasonBody, fmt.Sprintf("the body matches %q", c.NoMatch)
	}
	return "", ""
}

func (r Result) fail(reason Reason, detail string, tm *timings) Result {
	r.Reason, r.Detail = reason, detail
	return r.finish(tm)
}

func (r Result) finish(tm *timings) Result {
	r.Duration = time.Since(r.Time)
	r.Phases, r.DNSLookup = tm.snapshot()
	return r
}

// describe says what happened in words a person on call understands.
func describe(reason Reason, err error, timeout time.Duration) string {
	if reason == ReasonTimeout {
		return fmt.Sprintf("no complete answer within %v", timeout)
	}
	// A url.Error repeats the method and URL the summary already shows.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// transport is a fresh transport per probe: each probe pays for its own
// connection and handshake, as a new client would, and the TLS phase and
// certificate are seen every time. Proxies from the environment are not
// used: the probe judges the endpoint, not a proxy.
func (c *Check) transport(t Target) *http.Transport {
	d := &net.Dialer{}
	dial := d.DialContext
	if t.Dial != "" {
		port := c.Port
		if port == "" {
			port = defaultPort(c.Scheme)
		}
		authority := net.JoinHostPort(c.DNS, port) // as the transport asks to dial it
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == authority { // not a redirect elsewhere
				addr = t.Dial
			}
			return d.DialContext(ctx, network, addr)
		}
	}
	return &http.Transport{
		DialContext:       dial,
		TLSClientConfig:   c.TLS.Config(),
		DisableKeepAlives: true,
		ForceAttemptHTTP2: true,
	}
}

// certExpiryFrom finds the peer's certificates of a failed request: a
// certificate that does not verify still has an expiry worth reporting.
func certExpiryFrom(err error, tm *timings) time.Time {
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) {
		return earliestExpiry(verify.UnverifiedCertificates)
	}
	return tm.certExpiry()
}

// timings records the phases of one probe from httptrace callbacks, which
// may come from several goroutines.
type timings struct {
	mu     sync.Mutex
	starts map[string]time.Time
	phases map[string]time.Duration
	tlsErr error
	expiry time.Time
}

func (tm *timings) begin(phase string) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.starts[phase] = time.Now()
}

func (tm *timings) end(phase string) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if s, ok := tm.starts[phase]; ok {
		tm.phases[phase] += time.Since(s) // summed over redirects
		delete(tm.starts, phase)
	}
}

func (tm *timings) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { tm.begin(PhaseResolve) },
		DNSDone:           func(httptrace.DNSDoneInfo) { tm.end(PhaseResolve) },
		ConnectStart:      func(string, string) { tm.begin(PhaseConnect) },
		ConnectDone:       func(string, string, error) { tm.end(PhaseConnect) },
		TLSHandshakeStart: func() { tm.begin(PhaseTLS) },
		TLSHandshakeDone: func(st tls.ConnectionState, err error) {
			tm.end(PhaseTLS)
			tm.mu.Lock()
			defer tm.mu.Unlock()
			if err != nil {
				tm.tlsErr = err
			}
			if e := earliestExpiry(st.PeerCertificates); !e.IsZero() {
				tm.expiry = e
			}
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { tm.begin(PhaseProcessing) },
		GotFirstResponseByte: func() {
			tm.end(PhaseProcessing)
			tm.begin(PhaseTransfer)
		},
	}
}

func (tm *timings) tlsError() error {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.tlsErr
}

func (tm *timings) certExpiry() time.Time {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.expiry
}

func (tm *timings) snapshot() (map[string]time.Duration, time.Duration) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	out := make(map[string]time.Duration, len(Phases))
	for _, p := range Phases {
		out[p] = tm.phases[p]
	}
	return out, tm.phases[PhaseResolve]
}
