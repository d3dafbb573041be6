package ratelimit

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Result is a Limiter's answer, with what the X-RateLimit headers and a 429's
// Retry-After need.
type Result struct {
	Allowed bool
	// Limit is the limit's Count; negative when the limit is unlimited.
	Limit int64
	// Remaining is how many unit-weight calls would be admitted now; never
	// negative. It is math.MaxInt64 for an unlimited limit, whose headers
	// callers should omit.
	Remaining int64
	// RetryAfter, when the call is refused, is how long until the same call
	// (same weight) would be admitted. A call heavier than the whole limit is
	// never admitted; it gets the full Period as a conservative back-off.
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again.
	ResetAfter time.Duration
	// Degraded is set by Guarded when the backend failed and the answer is the
	// fail-open or fail-closed policy's, not a count.
	Degraded bool
}

// Limiter admits calls against a Limit using GCRA with the burst equal to
// Count: Count calls in a row are admitted, the next one inside the period is
// refused, and capacity comes back at one call per Period/Count.
//
// n is the call's weight (API Connect's `weight`, usually 1). A weight of 0
// consumes nothing and reports the current state. Keys are the caller's
// choice; a key used with a different Limit keeps its state, measured in
// time, so a plan change takes effect without a reset.
type Limiter interface {
	Allow(ctx context.Context, key string, l Limit, n int64) (Result, error)
}

// CountResult is a Counter's answer to Inc.
type CountResult struct {
	Allowed bool
	// Limit is the maximum; negative when unlimited (then nothing is counted).
	Limit int64
	// Count is the counter's value after the call.
	Count int64
	// Remaining is how much more the counter may rise; never negative.
	Remaining int64
}

// Counter keeps API Connect count limits (assembly-count-limits): absolute
// counters that inc raises against a maximum and dec lowers, e.g. calls in
// flight. A counter at zero takes no memory, so idle keys need no eviction.
type Counter interface {
	// Inc adds n if the result stays within limit and otherwise leaves the
	// counter unchanged and refuses. A negative limit is unlimited.
	Inc(ctx context.Context, key string, limit, n int64) (CountResult, error)
	// Dec subtracts n, stopping at zero, and returns the new value.
	Dec(ctx context.Context, key string, n int64) (int64, error)
}

// checkCall rejects arguments no backend can answer. It names the fix
// because these come from plan YAML or policy code, not from clients.
func checkCall(l Limit, n int64) error {
	if n < 0 {
		return fmt.Errorf("%w: weight %d is negative; pass the call's cost, usually 1", ErrInvalid, n)
	}
	if l.IsUnlimited() {
		return nil
	}
	if l.Period < time.Microsecond || l.Period > MaxPeriod {
		return fmt.Errorf("%w: limit %d per %s needs a period between 1µs and 100 years; build it with ParseLimit", ErrInvalid, l.Count, l.Period)
	}
	return nil
}

func checkWeight(n int64) error {
	if n < 0 {
		return fmt.Errorf("%w: weight %d is negative; pass the amount to add or remove, usually 1", ErrInvalid, n)
	}
	return nil
}

// settled answers calls that the limit alone decides, so no backend (and no
// Redis round trip) is involved: unlimited limits and zero limits.
func settled(l Limit, n int64) (Result, bool) {
	switch {
	case l.IsUnlimited():
		return Result{Allowed: true, Limit: l.Count, Remaining: math.MaxInt64}, true
	case l.Count == 0:
		r := Result{Allowed: n == 0, Limit: 0}
		if n > 0 {
			r.RetryAfter = l.Period
		}
		return r, true
	}
	return Result{}, false
}

// gcra holds a limit in ticks of some clock unit: the emission interval T
// (one call's worth of time) and the tolerance Count*T (a full bucket). The
// state of a key is its theoretical arrival time (TAT): the bucket is full
// when TAT <= now and empty when TAT >= now + tolerance.
type gcra struct {
	interval, tolerance int64
}

// newGCRA quantises l (Count > 0) to tick. Using Count*T rather than Period
// as the tolerance keeps "exactly Count in a row" exact when Period/Count
// does not divide; refill is then faster by under one tick per call. A limit
// of more than one call per tick saturates at one per tick, which keeps every
// sum below Period+T and so free of overflow.
func newGCRA(l Limit, tick time.Duration) gcra {
	ticks := int64(l.Period / tick)
	if l.Count >= ticks {
		return gcra{interval: 1, tolerance: ticks}
	}
	interval := ticks / l.Count
	return gcra{interval: interval, tolerance: interval * l.Count}
}

// cost is the time n calls take. Weights above the whole bucket are capped
// at one call more than it: the call is refused either way, and the product
// cannot overflow.
func (g gcra) cost(n int64) int64 {
	return min(n, g.tolerance/g.interval+1) * g.interval
}

// decide applies one call of weight n at now to a key whose stored TAT is
// tat. It returns the TAT to store (unchanged when refused) and the answer in
// ticks; toResult converts it.
func (g gcra) decide(tat, now, n int64) (newTAT int64, v verdict) {
	tat = max(tat, now)
	next := tat + g.cost(n)
	if allowAt := next - g.tolerance; now < allowAt {
		return tat, verdict{remaining: g.remaining(tat, now), retryAfter: allowAt - now, resetAfter: tat - now}
	}
	return next, verdict{allowed: true, remaining: g.remaining(next, now), resetAfter: next - now}
}

func (g gcra) remaining(tat, now int64) int64 {
	return max(0, (g.tolerance-(tat-now))/g.interval)
}

// verdict is a decision in ticks, as both backends compute it.
type verdict struct {
	allowed                           bool
	remaining, retryAfter, resetAfter int64
}

// toResult converts v to durations. A refused call heavier than the whole
// limit can never pass, so its RetryAfter is the Period, not a wait that
// would only end in another refusal.
func (v verdict) toResult(l Limit, n int64, tick time.Duration) Result {
	r := Result{
		Allowed:    v.allowed,
		Limit:      l.Count,
		Remaining:  max(0, v.remaining),
		RetryAfter: time.Duration(v.retryAfter) * tick,
		ResetAfter: time.Duration(max(0, v.resetAfter)) * tick,
	}
	if !r.Allowed && n > l.Count {
		r.RetryAfter = l.Period
	}
	return r
}
