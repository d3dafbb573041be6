// Command loadgen sends GET requests to a URL from a fixed number of
// connections for a fixed time and prints throughput and latency. It is
// bounded in count and time and meant for loopback targets.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	url := flag.String("url", "", "URL to GET")
	conns := flag.Int("c", 32, "concurrent connections")
	dur := flag.Duration("d", 10*time.Second, "how long to send")
	max := flag.Int("n", 2_000_000, "stop after this many requests")
	var headers headerFlags
	flag.Var(&headers, "H", "header 'Name: value' (repeatable)")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "usage: loadgen -url URL [-c 32] [-d 10s] [-H 'Name: value']")
		os.Exit(2)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}
	client := &http.Client{Transport: tr}
	deadline := time.Now().Add(*dur)
	var mu sync.Mutex
	var lat []time.Duration
	codes := map[int]int{}
	var sent sync.WaitGroup
	var budget = make(chan struct{}, *max)
	for i := 0; i < *max; i++ {
		budget <- struct{}{}
	}
	close(budget)
	start := time.Now()
	for i := 0; i < *conns; i++ {
		sent.Add(1)
		go func() {
			defer sent.Done()
			var mine []time.Duration
			local := map[int]int{}
			for range budget {
				if time.Now().After(deadline) {
					break
				}
				req, _ := http.NewRequest("GET", *url, nil)
				for _, h := range headers {
					k, v, _ := strings.Cut(h, ":")
					req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					local[0]++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t0))
				local[resp.StatusCode]++
			}
			mu.Lock()
			lat = append(lat, mine...)
			for k, v := range local {
				codes[k] += v
			}
			mu.Unlock()
		}()
	}
	sent.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(float64(len(lat)-1)*p)]
	}
	fmt.Printf("requests %d in %.1fs: %.0f req/s; latency p50 %v p99 %v; status %v\n",
		len(lat), elapsed.Seconds(), float64(len(lat))/elapsed.Seconds(), pct(0.50), pct(0.99), codes)
}
