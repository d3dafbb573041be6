package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testRedis connects to the Redis named by PORTICO_TEST_REDIS_URL and returns
// a key prefix unique to this test, whose keys are deleted when it ends.
func testRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	url := os.Getenv("PORTICO_TEST_REDIS_URL")
	if url == "" {
		t.Skip("PORTICO_TEST_REDIS_URL is not set; .ci/run sets it")
	}
	client := newRedisClient(t, url)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := DefaultKeyPrefix + "test-" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() { deleteKeys(t, client, prefix) })
	return client, prefix
}

func newRedisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("PORTICO_TEST_REDIS_URL %q: %v", url, err)
	}
	opt.PoolSize = 64 // enough for the concurrency tests not to queue on the pool
	client := redis.NewClient(opt)
	t.Cleanup(func() { _ = client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s is not answering: %v; start redis-server or fix PORTICO_TEST_REDIS_URL", url, err)
	}
	return client
}

func deleteKeys(t testing.TB, client *redis.Client, prefix string) {
	ctx := context.Background()
	iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		client.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Logf("cleaning up %s*: %v", prefix, err)
	}
}

func TestRedisAdmitsExactlyCountThenRefuses(t *testing.T) {
	client, prefix := testRedis(t)
	r := NewRedis(client, WithKeyPrefix(prefix))
	l := mustLimit(t, "10/1minute") // one call per 6s: none comes back during the test
	for i := int64(1); i <= 10; i++ {
		res := allow(t, r, "app", l, 1)
		if !res.Allowed || res.Remaining != 10-i || res.Limit != 10 {
			t.Fatalf("call %d = %+v", i, res)
		}
	}
	res := allow(t, r, "app", l, 1)
	if res.Allowed || res.Remaining != 0 {
		t.Fatalf("call 11 = %+v, want refused", res)
	}
	if res.RetryAfter <= 5*time.Second || res.RetryAfter > 6*time.Second {
		t.Errorf("RetryAfter = %v, want just under 6s", res.RetryAfter)
	}
	if res.ResetAfter <= 55*time.Second || res.ResetAfter > time.Minute {
		t.Errorf("ResetAfter = %v, want just under 1m", res.ResetAfter)
	}
	ttl := client.PTTL(context.Background(), prefix+"rate:app").Val()
	if ttl <= 55*time.Second || ttl > time.Minute {
		t.Errorf("key TTL = %v, want the time to refill, just under 1m", ttl)
	}
}

func TestRedisStoresTATAsExactInteger(t *testing.T) {
	client, prefix := testRedis(t)
	r := NewRedis(client, WithKeyPrefix(prefix))
	before := time.Now().UnixMicro()
	allow(t, r, "k", mustLimit(t, "1/1hour"), 1)
	raw := client.Get(context.Background(), prefix+"rate:k").Val()
	tat, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		t.Fatalf("TAT %q is not an integer (Lua's %%.14g would lose microseconds): %v", raw, err)
	}
	if want := before + time.Hour.Microseconds(); tat < want-5e6 || tat > want+5e6 {
		t.Errorf("TAT = %d µs, want about now+1h = %d", tat, want)
	}
}

func TestRedisWeightsAndZeroWeight(t *testing.T) {
	client, prefix := testRedis(t)
	r := NewRedis(client, WithKeyPrefix(prefix))
	l := mustLimit(t, "10/1hour")
	if res := allow(t, r, "k", l, 0); !res.Allowed || res.Remaining != 10 {
		t.Fatalf("weight 0 on a new key = %+v", res)
	}
	if n := client.Exists(context.Background(), prefix+"rate:k").Val(); n != 0 {
		t.Fatal("weight 0 created a key")
	}
	if res := allow(t, r, "k", l, 7); !res.Allowed || res.Remaining != 3 {
		t.Fatalf("weight 7 = %+v", res)
	}
	if res := allow(t, r, "k", l, 4); res.Allowed || res.Remaining != 3 || res.RetryAfter < 5*time.Minute {
		t.Fatalf("weight 4 with 3 left = %+v, want refused for about 6m", res)
	}
	if res := allow(t, r, "k", l, 11); res.Allowed || res.RetryAfter != time.Hour {
		t.Fatalf("weight above the limit = %+v, want refused, RetryAfter 1h", res)
	}
}

func TestRedisTwoProcessesShareOneLimit(t *testing.T) {
	client, prefix := testRedis(t)
	// Two clients with their own pools stand for two gateway processes.
	second := newRedisClient(t, os.Getenv("PORTICO_TEST_REDIS_URL"))
	gateways := []*Redis{NewRedis(client, WithKeyPrefix(prefix)), NewRedis(second, WithKeyPrefix(prefix))}
	l := mustLimit(t, "100/1hour")
	var admitted, calls atomic.Int64
	var wg sync.WaitGroup
	for _, gw := range gateways {
		for range 25 {
			wg.Go(func() {
				for range 8 {
					res, err := gw.Allow(context.Background(), "shared", l, 1)
					if err != nil {
						t.Error(err)
						return
					}
					calls.Add(1)
					if res.Allowed {
						admitted.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	if admitted.Load() != 100 || calls.Load() != 400 {
		t.Fatalf("%d of %d calls admitted, want exactly 100 of 400", admitted.Load(), calls.Load())
	}
}

func TestRedisSurvivesScriptCacheFlush(t *testing.T) {
	client, prefix := testRedis(t)
	r := NewRedis(client, WithKeyPrefix(prefix))
	l := mustLimit(t, "5/1minute")
	allow(t, r, "k", l, 1)
	if err := client.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if res := allow(t, r, "k", l, 1); !res.Allowed || res.Remaining != 3 {
		t.Fatalf("after SCRIPT FLUSH = %+v, want the EVAL fallback to keep the state", res)
	}
}

func TestRedisCounter(t *testing.T) {
	client, prefix := testRedis(t)
	r := NewRedis(client, WithKeyPrefix(prefix))
	testCounter(t, r, "conc")
	if n := client.Exists(context.Background(), prefix+"count:conc").Val(); n != 0 {
		t.Error("a counter back at zero still has a key")
	}
}

func TestRedisCounterAcrossProcesses(t *testing.T) {
	client, prefix := testRedis(t)
	second := newRedisClient(t, os.Getenv("PORTICO_TEST_REDIS_URL"))
	gateways := []*Redis{NewRedis(client, WithKeyPrefix(prefix)), NewRedis(second, WithKeyPrefix(prefix))}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for _, gw := range gateways {
		for range 20 {
			wg.Go(func() {
				for range 5 {
					res, err := gw.Inc(context.Background(), "inflight", 30, 1)
					if err != nil {
						t.Error(err)
						return
					}
					if res.Allowed {
						admitted.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	if got := admitted.Load(); got != 30 {
		t.Fatalf("200 concurrent Inc against 30 admitted %d", got)
	}
	if v := client.Get(context.Background(), prefix+"count:inflight").Val(); v != "30" {
		t.Fatalf("counter = %q, want 30", v)
	}
}
