package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// Reason says why a probe failed. The reasons are told apart because they
// call for different people: a TLS failure for whoever owns certificates,
// a refused connection for whoever runs the service, and so on.
type Reason string

// The reasons, in the order metrics list them.
const (
	ReasonDNS     Reason = "dns"     // the name did not resolve
	ReasonRefused Reason = "refused" // nothing listens at the address
	ReasonTimeout Reason = "timeout" // no complete answer within the check's timeout
	ReasonTLS     Reason = "tls"     // handshake or certificate verification failed
	ReasonStatus  Reason = "status"  // an answer with a status not in expect_status
	ReasonBody    Reason = "body"    // body_match did not match, or body_not_match did
	ReasonOther   Reason = "other"   // anything else: connection reset, bad response ...
)

// Reasons lists every reason.
var Reasons = []Reason{ReasonDNS, ReasonRefused, ReasonTimeout, ReasonTLS, ReasonStatus, ReasonBody, ReasonOther}

// Phases of an HTTP probe, as blackbox_exporter names them.
const (
	PhaseResolve    = "resolve"
	PhaseConnect    = "connect"
	PhaseTLS        = "tls"
	PhaseProcessing = "processing" // request written to first response byte
	PhaseTransfer   = "transfer"   // first byte to the end of the body
)

// Phases lists every phase.
var Phases = []string{PhaseResolve, PhaseConnect, PhaseTLS, PhaseProcessing, PhaseTransfer}

// Result is the outcome of probing one target once.
type Result struct {
	Check, Host string
	Time        time.Time // when the probe started
	Success     bool
	Reason      Reason // "" on success
	Detail      string // what went wrong, for people
	Duration    time.Duration
	StatusCode  int // 0 without an answer
	// DNSLookup is the time resolving took: the dns check's lookup, or
	// the request's own.
	DNSLookup   time.Duration
	Phases      map[string]time.Duration
	FailedRegex bool
	CertExpiry  time.Time // earliest NotAfter of the peer's certificates; zero without TLS
}

// classify names the reason of a failed request. A TLS handshake that
// ran out of time counts as a timeout: the certificate was never judged.
func classify(err error, tlsErr error) Reason {
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		return ReasonDNS
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case tlsErr != nil, isTLS(err):
		return ReasonTLS
	}
	return ReasonOther
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isTLS(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		alert    tls.AlertError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &record) || errors.As(err, &alert) ||
		errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

// earliestExpiry is the first NotAfter among certs; zero for none.
func earliestExpiry(certs []*x509.Certificate) time.Time {
	var t time.Time
	for _, c := range certs {
		if t.IsZero() || c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}
