package ratelimit

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
)

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "app-" + strconv.Itoa(i)
	}
	return keys
}

// benchAllow runs Allow from parallel goroutines over many keys, each
// goroutine starting at its own place so that they do not march in step.
func benchAllow(b *testing.B, l Limiter, keys []string) {
	lim := mustLimit(b, "1000/1second")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(keys))
		for pb.Next() {
			if _, err := l.Allow(ctx, keys[i%len(keys)], lim, 1); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkMemoryAllow(b *testing.B) {
	benchAllow(b, NewMemory(), benchKeys(100_000))
}

func BenchmarkMemoryAllowOneKey(b *testing.B) {
	benchAllow(b, NewMemory(), benchKeys(1))
}

func BenchmarkRedisAllow(b *testing.B) {
	client, prefix := testRedis(b)
	b.SetParallelism(8) // round trips wait on the network, not the CPU
	benchAllow(b, NewRedis(client, WithKeyPrefix(prefix)), benchKeys(10_000))
}
