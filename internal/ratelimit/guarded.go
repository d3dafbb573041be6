package ratelimit

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Guarded decides what a call gets when its Limiter fails, typically
// because Redis is down: by default it is allowed, so an outage of the
// limit store does not become an outage of every API (API Connect's peered
// gateways likewise keep serving when peering breaks); with failClosed it is
// refused, for limits that protect a backend or a bill.
type Guarded struct {
	limiter    Limiter
	failClosed bool
	onError    func(error)
	errors     atomic.Uint64
}

// NewFailOpen wraps l. onError, which may be nil, is called with every
// failure, from the calling goroutine; wrap a logger with ReportEvery so an
// outage logs a line per interval rather than per request.
func NewFailOpen(l Limiter, failClosed bool, onError func(error)) *Guarded {
	return &Guarded{limiter: l, failClosed: failClosed, onError: onError}
}

// Allow implements Limiter. A failure is counted, reported and answered by
// the policy with Degraded set and a nil error. Two errors pass through
// unchanged and uncounted, because the policy cannot help with them:
// ErrInvalid (a bad plan or weight) and the caller's own cancellation (the
// client has gone). A deadline that expires is treated as an outage, since
// it means the store answered too slowly.
func (g *Guarded) Allow(ctx context.Context, key string, l Limit, n int64) (Result, error) {
	r, err := g.limiter.Allow(ctx, key, l, n)
	if err == nil || errors.Is(err, ErrInvalid) || errors.Is(ctx.Err(), context.Canceled) {
		return r, err
	}
	g.errors.Add(1)
	if g.onError != nil {
		g.onError(err)
	}
	return g.fallback(l), nil
}

// fallback is the policy's answer. Remaining is unknown, so it is 0: callers
// should leave the X-RateLimit headers out when Degraded is set. A refused
// call is told to retry after one call's worth of the limit.
func (g *Guarded) fallback(l Limit) Result {
	r := Result{Allowed: !g.failClosed, Limit: l.Count, Degraded: true}
	if g.failClosed {
		r.RetryAfter = l.Period
		if l.Count > 0 {
			r.RetryAfter = l.Period / time.Duration(l.Count)
		}
	}
	return r
}

// Errors is how many calls the wrapped Limiter failed since NewFailOpen,
// for a metric or a health check.
func (g *Guarded) Errors() uint64 { return g.errors.Load() }

// ReportEvery returns an onError callback for NewFailOpen that passes at most
// one error per interval to report, with the number of errors dropped since
// the previous report, so that a Redis outage during heavy traffic logs one
// line per interval instead of one per request.
func ReportEvery(interval time.Duration, report func(err error, dropped uint64)) func(error) {
	var next atomic.Int64 // UnixNano before which errors are dropped
	var dropped atomic.Uint64
	return func(err error) {
		now := time.Now().UnixNano()
		due := next.Load()
		if now < due || !next.CompareAndSwap(due, now+int64(interval)) {
			dropped.Add(1)
			return
		}
		report(err, dropped.Swap(0))
	}
}
