package ratelimit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"
)

// deadRedis points at a closed loopback port, standing for Redis being down.
func deadRedis(t *testing.T) *Redis {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = client.Close() })
	return NewRedis(client)
}

func TestFailOpenAllowsWhenRedisIsDown(t *testing.T) {
	var mu sync.Mutex
	var reported []error
	g := NewFailOpen(deadRedis(t), false, func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err)
	})
	l := mustLimit(t, "1/1hour")
	for range 3 {
		r := allow(t, g, "k", l, 1)
		if !r.Allowed || !r.Degraded || r.Limit != 1 {
			t.Fatalf("fail-open = %+v, want allowed and degraded", r)
		}
	}
	if g.Errors() != 3 || len(reported) != 3 {
		t.Fatalf("Errors() = %d, reported %d; want 3 each", g.Errors(), len(reported))
	}
	if msg := reported[0].Error(); !strings.Contains(msg, "Redis is reachable") {
		t.Errorf("error %q does not say what to do", msg)
	}
}

func TestFailClosedRefusesWhenRedisIsDown(t *testing.T) {
	g := NewFailOpen(deadRedis(t), true, nil)
	r := allow(t, g, "k", mustLimit(t, "10/1minute"), 1)
	if r.Allowed || !r.Degraded || r.RetryAfter != 6*time.Second {
		t.Fatalf("fail-closed = %+v, want refused, degraded, RetryAfter 6s", r)
	}
	if g.Errors() != 1 {
		t.Fatalf("Errors() = %d, want 1", g.Errors())
	}
}

func TestGuardedPassesThroughWhatThePolicyCannotFix(t *testing.T) {
	g := NewFailOpen(deadRedis(t), false, func(err error) { t.Errorf("reported %v", err) })
	if _, err := g.Allow(context.Background(), "k", mustLimit(t, "1/1hour"), -1); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative weight error = %v, want ErrInvalid", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Allow(ctx, "k", mustLimit(t, "1/1hour"), 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call error = %v, want context.Canceled", err)
	}
	if r := allow(t, g, "k", mustLimit(t, "unlimited"), 1); !r.Allowed || r.Degraded {
		t.Errorf("unlimited needs no Redis: %+v", r)
	}
	if g.Errors() != 0 {
		t.Errorf("Errors() = %d, want 0", g.Errors())
	}
}

func TestGuardedIsTransparentWhenHealthy(t *testing.T) {
	g := NewFailOpen(NewMemory(), true, nil)
	l := mustLimit(t, "2/1hour")
	got := []bool{allow(t, g, "k", l, 1).Allowed, allow(t, g, "k", l, 1).Allowed, allow(t, g, "k", l, 1).Allowed}
	if !got[0] || !got[1] || got[2] {
		t.Fatalf("admitted %v, want [true true false]", got)
	}
}

func TestReportEveryThrottles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var dropped []uint64
		report := ReportEvery(time.Minute, func(_ error, n uint64) { dropped = append(dropped, n) })
		boom := errors.New("boom")
		report(boom)
		report(boom)
		report(boom)
		time.Sleep(time.Minute)
		report(boom)
		if len(dropped) != 2 || dropped[0] != 0 || dropped[1] != 2 {
			t.Fatalf("reports carried dropped counts %v, want [0 2]", dropped)
		}
	})
}
