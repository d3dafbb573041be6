package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// Memory is an in-process Limiter and Counter: exact within one gateway
// process, and the fallback or per-gateway store when no Redis is shared.
//
// Keys live in a sharded map so that concurrent requests for different keys
// rarely share a lock. A rate key whose bucket has refilled is identical to
// an absent one, so it is evicted without changing any answer: each shard
// sweeps itself, on access, at most once per sweep interval. No goroutine
// runs, so there is nothing to Close.
type Memory struct {
	clock      func() time.Time
	epoch      time.Time
	seed       maphash.Seed
	sweepEvery int64 // ns
	shards     []shard
}

type shard struct {
	mu        sync.Mutex
	tat       map[string]int64 // rate key → theoretical arrival time, ns since epoch
	count     map[string]int64 // counter key → value, absent when zero
	lastSweep int64
	_         [64]byte // keeps neighbouring shards' locks off one cache line
}

// MemoryOption configures NewMemory.
type MemoryOption func(*memoryConfig)

type memoryConfig struct {
	clock      func() time.Time
	shards     int
	sweepEvery time.Duration
}

// WithClock replaces time.Now, so tests can step time instead of sleeping.
func WithClock(now func() time.Time) MemoryOption {
	return func(c *memoryConfig) { c.clock = now }
}

// WithShards sets the number of lock shards (rounded up to a power of two;
// default 64). More shards cut contention on many cores at a small memory cost.
func WithShards(n int) MemoryOption {
	return func(c *memoryConfig) { c.shards = n }
}

// WithSweepInterval sets how often a shard drops refilled keys (default one
// minute). Shorter bounds memory tighter; longer sweeps less often.
func WithSweepInterval(d time.Duration) MemoryOption {
	return func(c *memoryConfig) { c.sweepEvery = d }
}

// NewMemory returns an empty in-process limiter.
func NewMemory(opts ...MemoryOption) *Memory {
	cfg := memoryConfig{clock: time.Now, shards: 64, sweepEvery: time.Minute}
	for _, o := range opts {
		o(&cfg)
	}
	n := 1
	for n < cfg.shards {
		n <<= 1
	}
	m := &Memory{clock: cfg.clock, epoch: cfg.clock(), seed: maphash.MakeSeed(),
		sweepEvery: int64(cfg.sweepEvery), shards: make([]shard, n)}
	for i := range m.shards {
		m.shards[i].tat = map[string]int64{}
		m.shards[i].count = map[string]int64{}
	}
	return m
}

// now is nanoseconds since NewMemory. Subtracting the epoch keeps the
// monotonic reading of time.Now, so wall-clock steps do not skew limits.
func (m *Memory) now() int64 { return int64(m.clock().Sub(m.epoch)) }

func (m *Memory) shard(key string) *shard {
	return &m.shards[maphash.String(m.seed, key)&uint64(len(m.shards)-1)]
}

// Allow implements Limiter.
func (m *Memory) Allow(ctx context.Context, key string, l Limit, n int64) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("ratelimit: not checking key %q: %w", key, err)
	}
	if err := checkCall(l, n); err != nil {
		return Result{}, err
	}
	if r, ok := settled(l, n); ok {
		return r, nil
	}
	g := newGCRA(l, time.Nanosecond)
	now := m.now()
	s := m.shard(key)
	s.mu.Lock()
	s.sweepIfDue(now, m.sweepEvery)
	tat, ok := s.tat[key]
	if !ok {
		tat = now
	}
	next, v := g.decide(tat, now, n)
	if v.allowed && n > 0 {
		s.tat[key] = next
	}
	s.mu.Unlock()
	return v.toResult(l, n, time.Nanosecond), nil
}

// sweepIfDue drops refilled keys; the caller holds s.mu. The cost, one pass
// over the shard, is paid once per interval rather than per call.
func (s *shard) sweepIfDue(now, every int64) {
	if now-s.lastSweep < every {
		return
	}
	s.lastSweep = now
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
	}
}

// Sweep drops every refilled key now, for callers that want memory back
// sooner than the lazy sweep gives it, e.g. after a traffic spike.
func (m *Memory) Sweep() {
	now := m.now()
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.sweepIfDue(now, math.MinInt64)
		s.mu.Unlock()
	}
}

// Len is the number of rate keys held, refilled ones not yet swept
// included; for metrics and tests.
func (m *Memory) Len() int {
	total := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		total += len(s.tat)
		s.mu.Unlock()
	}
	return total
}

// Inc implements Counter.
func (m *Memory) Inc(ctx context.Context, key string, limit, n int64) (CountResult, error) {
	if r, done, err := countSettled(ctx, key, limit, n); done {
		return r, err
	}
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.count[key]
	if n > limit-c {
		return countResult(false, limit, c), nil
	}
	if c += n; c > 0 {
		s.count[key] = c
	}
	return countResult(true, limit, c), nil
}

// Dec implements Counter.
func (m *Memory) Dec(ctx context.Context, key string, n int64) (int64, error) {
	if err := countCall(ctx, key, n); err != nil {
		return 0, err
	}
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.count[key] - n
	if c <= 0 {
		delete(s.count, key)
		return 0, nil
	}
	s.count[key] = c
	return c, nil
}

func countCall(ctx context.Context, key string, n int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ratelimit: not counting key %q: %w", key, err)
	}
	return checkWeight(n)
}

// countSettled answers Inc calls no counter is needed for: bad arguments,
// a cancelled context, and unlimited counters, which are not counted so that
// they cost no memory or round trip.
func countSettled(ctx context.Context, key string, limit, n int64) (CountResult, bool, error) {
	if err := countCall(ctx, key, n); err != nil {
		return CountResult{}, true, err
	}
	if limit < 0 {
		return CountResult{Allowed: true, Limit: limit, Remaining: math.MaxInt64}, true, nil
	}
	return CountResult{}, false, nil
}

func countResult(allowed bool, limit, c int64) CountResult {
	return CountResult{Allowed: allowed, Limit: limit, Count: c, Remaining: max(0, limit-c)}
}
