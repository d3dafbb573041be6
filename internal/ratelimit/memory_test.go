package ratelimit

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is stepped by tests, so limits are checked without sleeping.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func mustLimit(t testing.TB, s string) Limit {
	t.Helper()
	l, err := ParseLimit(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func allow(t testing.TB, l Limiter, key string, lim Limit, n int64) Result {
	t.Helper()
	r, err := l.Allow(context.Background(), key, lim, n)
	if err != nil {
		t.Fatalf("Allow(%q, %v, %d): %v", key, lim, n, err)
	}
	return r
}

func TestMemoryAdmitsExactlyCountThenRefuses(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now))
	l := mustLimit(t, "10/1second")
	for i := int64(1); i <= 10; i++ {
		r := allow(t, m, "app", l, 1)
		want := Result{Allowed: true, Limit: 10, Remaining: 10 - i, ResetAfter: time.Duration(i) * 100 * time.Millisecond}
		if r != want {
			t.Fatalf("call %d = %+v, want %+v", i, r, want)
		}
	}
	r := allow(t, m, "app", l, 1)
	want := Result{Allowed: false, Limit: 10, Remaining: 0, RetryAfter: 100 * time.Millisecond, ResetAfter: time.Second}
	if r != want {
		t.Fatalf("call 11 = %+v, want %+v", r, want)
	}
	if r := allow(t, m, "other-app", l, 1); !r.Allowed || r.Remaining != 9 {
		t.Fatalf("another key shares the bucket: %+v", r)
	}
}

func TestMemoryRecoversOneCallPerInterval(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now))
	l := mustLimit(t, "100/1hour") // one call per 36s
	for range 100 {
		allow(t, m, "k", l, 1)
	}
	clock.Advance(35 * time.Second)
	if r := allow(t, m, "k", l, 1); r.Allowed || r.RetryAfter != time.Second {
		t.Fatalf("35s after exhaustion = %+v, want refused with RetryAfter 1s", r)
	}
	clock.Advance(time.Second)
	if r := allow(t, m, "k", l, 1); !r.Allowed || r.Remaining != 0 {
		t.Fatalf("36s after exhaustion = %+v, want one call admitted", r)
	}
	if r := allow(t, m, "k", l, 1); r.Allowed || r.RetryAfter != 36*time.Second {
		t.Fatalf("second call after refill = %+v, want refused with RetryAfter 36s", r)
	}
	clock.Advance(time.Hour)
	if r := allow(t, m, "k", l, 0); r.Remaining != 100 || r.ResetAfter != 0 {
		t.Fatalf("an hour later = %+v, want a full bucket", r)
	}
}

func TestMemoryUnevenIntervalStillAdmitsExactlyCount(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now))
	l := mustLimit(t, "3/1second") // 333333333.3ns per call
	admitted := 0
	for range 10 {
		if allow(t, m, "k", l, 1).Allowed {
			admitted++
		}
	}
	if admitted != 3 {
		t.Fatalf("admitted %d of 10, want 3", admitted)
	}
}

func TestMemoryWeights(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now))
	l := mustLimit(t, "10/1second")
	steps := []struct {
		n          int64
		allowed    bool
		remaining  int64
		retryAfter time.Duration
	}{
		{4, true, 6, 0},
		{4, true, 2, 0},
		{4, false, 2, 200 * time.Millisecond}, // needs 2 more calls' worth
		{0, true, 2, 0},                       // weight 0 reads without consuming
		{2, true, 0, 0},
		{11, false, 0, time.Second}, // heavier than the limit: never, back off a period
	}
	for i, s := range steps {
		r := allow(t, m, "k", l, s.n)
		if r.Allowed != s.allowed || r.Remaining != s.remaining || r.RetryAfter != s.retryAfter {
			t.Fatalf("step %d (weight %d) = %+v, want allowed=%v remaining=%d retryAfter=%v",
				i, s.n, r, s.allowed, s.remaining, s.retryAfter)
		}
	}
}

func TestMemoryUnlimitedAndZeroLimits(t *testing.T) {
	m := NewMemory()
	if r := allow(t, m, "k", mustLimit(t, "unlimited"), 1000); !r.Allowed || r.Limit != -1 || r.Remaining != math.MaxInt64 {
		t.Errorf("unlimited = %+v", r)
	}
	zero := mustLimit(t, "0/1minute")
	if r := allow(t, m, "k", zero, 1); r.Allowed || r.RetryAfter != time.Minute {
		t.Errorf("0/1minute weight 1 = %+v, want refused, RetryAfter 1m", r)
	}
	if r := allow(t, m, "k", zero, 0); !r.Allowed {
		t.Errorf("0/1minute weight 0 = %+v, want allowed", r)
	}
	if m.Len() != 0 {
		t.Errorf("unlimited and zero limits stored %d keys", m.Len())
	}
}

func TestMemoryHugeValuesDoNotOverflow(t *testing.T) {
	m := NewMemory()
	l := Limit{Count: math.MaxInt64, Period: MaxPeriod}
	if r := allow(t, m, "k", l, 1); !r.Allowed {
		t.Errorf("first call under a huge limit refused: %+v", r)
	}
	if r := allow(t, m, "k", l, math.MaxInt64); r.Allowed {
		t.Errorf("weight MaxInt64 admitted: %+v", r)
	}
}

func TestMemoryRejectsInvalidCalls(t *testing.T) {
	m := NewMemory()
	for _, c := range []struct {
		l Limit
		n int64
	}{
		{mustLimit(t, "1/1second"), -1},
		{Limit{Count: 1}, 1},
		{Limit{Count: 1, Period: -time.Second}, 1},
		{Limit{Count: 1, Period: MaxPeriod + 1}, 1},
	} {
		if _, err := m.Allow(context.Background(), "k", c.l, c.n); !errors.Is(err, ErrInvalid) {
			t.Errorf("Allow(%+v, %d) error = %v, want ErrInvalid", c.l, c.n, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Allow(ctx, "k", mustLimit(t, "1/1second"), 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Allow error = %v", err)
	}
}

func TestMemoryConcurrentAllowAdmitsExactlyCount(t *testing.T) {
	m := NewMemory(WithClock(newFakeClock().Now))
	l := mustLimit(t, "100/1hour")
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 10 {
				r, err := m.Allow(context.Background(), "shared", l, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if r.Allowed {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := admitted.Load(); got != 100 {
		t.Fatalf("50 goroutines × 10 calls admitted %d, want 100", got)
	}
}

func TestMemoryEvictsRefilledKeys(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now), WithShards(1), WithSweepInterval(time.Second))
	short, long := mustLimit(t, "10/1second"), mustLimit(t, "10/1hour")
	for i := range 100 {
		allow(t, m, "short-"+strconv.Itoa(i), short, 1)
	}
	allow(t, m, "long", long, 1)
	if n := m.Len(); n != 101 {
		t.Fatalf("Len = %d, want 101", n)
	}
	clock.Advance(time.Second)
	allow(t, m, "probe", short, 0) // any access sweeps a due shard
	if n := m.Len(); n != 1 {
		t.Fatalf("after refill Len = %d, want 1 (the key still refilling)", n)
	}
	if r := allow(t, m, "short-0", short, 0); r.Remaining != 10 {
		t.Fatalf("an evicted key is not a full bucket: %+v", r)
	}
}

func TestMemorySweepAllShards(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(WithClock(clock.Now))
	l := mustLimit(t, "5/1minute")
	for i := range 1000 {
		allow(t, m, strconv.Itoa(i), l, 1)
	}
	clock.Advance(11 * time.Second) // one call's worth is 12s: nothing has refilled
	m.Sweep()
	if n := m.Len(); n != 1000 {
		t.Fatalf("Sweep dropped keys still refilling: Len = %d", n)
	}
	clock.Advance(time.Second)
	m.Sweep()
	if n := m.Len(); n != 0 {
		t.Fatalf("Sweep left %d refilled keys", n)
	}
}

func TestMemoryCounter(t *testing.T) {
	testCounter(t, NewMemory(), "conc")
}

// testCounter checks a Counter's inc/dec semantics; key must be unused.
func testCounter(t *testing.T, c Counter, key string) {
	ctx := context.Background()
	for i := int64(1); i <= 3; i++ {
		r, err := c.Inc(ctx, key, 3, 1)
		if err != nil || r != (CountResult{Allowed: true, Limit: 3, Count: i, Remaining: 3 - i}) {
			t.Fatalf("Inc %d = %+v, %v", i, r, err)
		}
	}
	if r, err := c.Inc(ctx, key, 3, 1); err != nil || r != (CountResult{Allowed: false, Limit: 3, Count: 3}) {
		t.Fatalf("Inc over the limit = %+v, %v", r, err)
	}
	if v, err := c.Dec(ctx, key, 2); err != nil || v != 1 {
		t.Fatalf("Dec 2 = %d, %v; want 1", v, err)
	}
	if r, err := c.Inc(ctx, key, 3, 2); err != nil || !r.Allowed || r.Count != 3 {
		t.Fatalf("Inc 2 after Dec = %+v, %v", r, err)
	}
	if v, err := c.Dec(ctx, key, 10); err != nil || v != 0 {
		t.Fatalf("Dec below zero = %d, %v; want 0", v, err)
	}
	if r, err := c.Inc(ctx, key, -1, 5); err != nil || !r.Allowed || r.Limit != -1 {
		t.Fatalf("unlimited Inc = %+v, %v", r, err)
	}
	if v, err := c.Dec(ctx, key, 5); err != nil || v != 0 {
		t.Fatalf("unlimited Inc must not count: Dec = %d, %v", v, err)
	}
	if _, err := c.Inc(ctx, key, 3, -1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Inc weight -1 error = %v, want ErrInvalid", err)
	}
	if _, err := c.Dec(ctx, key, -1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Dec weight -1 error = %v, want ErrInvalid", err)
	}
}

func TestMemoryCounterFreesZeroKeys(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	for i := range 100 {
		k := strconv.Itoa(i)
		if _, err := m.Inc(ctx, k, 10, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Dec(ctx, k, 1); err != nil {
			t.Fatal(err)
		}
	}
	for i := range m.shards {
		if n := len(m.shards[i].count); n != 0 {
			t.Fatalf("shard %d keeps %d zero counters", i, n)
		}
	}
}
