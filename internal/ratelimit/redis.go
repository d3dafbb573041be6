package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix starts every key Redis holds for Portico's limits; rate
// state lives under DefaultKeyPrefix+"rate:", counters under
// DefaultKeyPrefix+"count:", so a rate key and a counter never collide.
const DefaultKeyPrefix = "portico:rl:"

// gcraScript runs one GCRA decision atomically. Time comes from Redis's own
// clock (TIME), so gateway processes with skewed clocks still share one
// timeline. Times are integer microseconds since the Unix epoch: below 2^53,
// so exact in Lua's doubles; the TAT is written with %d because Lua's
// default number format keeps only 14 digits. The key expires when the
// bucket has refilled, since a missing key means a full bucket.
//
// KEYS[1] TAT key; ARGV interval µs, tolerance µs, cost µs.
// Returns {allowed, remaining, retry_after µs, reset_after µs}.
const gcraScript = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local nxt = tat + cost
local allow_at = nxt - tolerance
if now < allow_at then
  return {0, math.floor((tolerance - (tat - now)) / interval), allow_at - now, tat - now}
end
if cost > 0 then
  redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.ceil((nxt - now) / 1000))
end
return {1, math.floor((tolerance - (nxt - now)) / interval), 0, nxt - now}
`

// incScript adds ARGV[2] to the counter if it stays within ARGV[1].
// Returns {allowed, count}.
const incScript = `
local c = tonumber(redis.call('GET', KEYS[1])) or 0
local n = tonumber(ARGV[2])
if c + n > tonumber(ARGV[1]) then return {0, c} end
if n > 0 then c = redis.call('INCRBY', KEYS[1], n) end
return {1, c}
`

// decScript subtracts ARGV[1], deleting the key at zero so idle counters
// take no memory. Returns the new count.
const decScript = `
local c = (tonumber(redis.call('GET', KEYS[1])) or 0) - tonumber(ARGV[1])
if c <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
return redis.call('DECRBY', KEYS[1], ARGV[1])
`

// Redis is a Limiter and Counter shared by every gateway process that uses
// the same Redis: each call is one script round trip (EVALSHA, falling back
// to EVAL when the script cache is empty), so the answer is exact across
// processes. It works with a single node, Sentinel or Cluster client, since
// every script touches one key.
type Redis struct {
	client         redis.UniversalClient
	prefix         string
	gcra, inc, dec *redis.Script
}

// RedisOption configures NewRedis.
type RedisOption func(*Redis)

// WithKeyPrefix replaces DefaultKeyPrefix, e.g. to keep two Portico
// deployments, or test runs, apart on one Redis.
func WithKeyPrefix(prefix string) RedisOption {
	return func(r *Redis) { r.prefix = prefix }
}

// NewRedis returns a limiter backed by client. A limiter call blocks for as
// long as the client takes to give up, so size its options to what a request
// can afford to wait: go-redis's defaults (DialerRetries 5 with 100ms
// backoff, DialTimeout 5s, MaxRetries 3) make each call wait 400ms or more
// while Redis is down; DialerRetries 1, MaxRetries -1 and timeouts of tens
// of milliseconds make it fail fast, which NewFailOpen then absorbs.
func NewRedis(client redis.UniversalClient, opts ...RedisOption) *Redis {
	r := &Redis{client: client, prefix: DefaultKeyPrefix, gcra: redis.NewScript(gcraScript),
		inc: redis.NewScript(incScript), dec: redis.NewScript(decScript)}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, l Limit, n int64) (Result, error) {
	if err := checkCall(l, n); err != nil {
		return Result{}, err
	}
	if res, ok := settled(l, n); ok {
		return res, nil
	}
	g := newGCRA(l, time.Microsecond)
	vals, err := r.gcra.Run(ctx, r.client, []string{r.prefix + "rate:" + key},
		g.interval, g.tolerance, g.cost(n)).Int64Slice()
	if err == nil && len(vals) != 4 {
		err = fmt.Errorf("script returned %d values, want 4", len(vals))
	}
	if err != nil {
		return Result{}, redisError("rate", key, err)
	}
	v := verdict{allowed: vals[0] == 1, remaining: vals[1], retryAfter: vals[2], resetAfter: vals[3]}
	return v.toResult(l, n, time.Microsecond), nil
}

// Inc implements Counter.
func (r *Redis) Inc(ctx context.Context, key string, limit, n int64) (CountResult, error) {
	if res, done, err := countSettled(ctx, key, limit, n); done {
		return res, err
	}
	vals, err := r.inc.Run(ctx, r.client, []string{r.prefix + "count:" + key}, limit, n).Int64Slice()
	if err == nil && len(vals) != 2 {
		err = fmt.Errorf("script returned %d values, want 2", len(vals))
	}
	if err != nil {
		return CountResult{}, redisError("count", key, err)
	}
	return countResult(vals[0] == 1, limit, vals[1]), nil
}

// Dec implements Counter.
func (r *Redis) Dec(ctx context.Context, key string, n int64) (int64, error) {
	if err := checkWeight(n); err != nil {
		return 0, err
	}
	c, err := r.dec.Run(ctx, r.client, []string{r.prefix + "count:" + key}, n).Int64()
	if err != nil {
		return 0, redisError("count", key, err)
	}
	return c, nil
}

func redisError(kind, key string, err error) error {
	return fmt.Errorf("ratelimit: redis %s check for key %q failed: %w; check that Redis is reachable, "+
		"or wrap the limiter with NewFailOpen to decide what happens meanwhile", kind, key, err)
}
