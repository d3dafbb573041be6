package probe

import (
	"context"
	"net"
	"sync"
	"time"
)

// Runner runs checks: each on its own interval (Run), or all once (Once).
type Runner struct {
	Checks   []*Check
	Resolver Resolver // nil: net.DefaultResolver
	// Report, if set, receives each round's results for one check, from
	// that check's goroutine; calls for different checks may overlap.
	Report func(c *Check, rs []Result)
}

// Run starts a round of every check at once, then one per interval, until
// ctx ends. A round that outlasts the interval delays the next rather
// than overlapping it.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, c := range r.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(ctx, c)
		}()
	}
	wg.Wait()
}

func (r *Runner) loop(ctx context.Context, c *Check) {
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		r.report(c, r.Round(ctx, c))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once runs every check once, all at the same time, and returns the
// results in the order of the checks (and of hosts within a check).
func (r *Runner) Once(ctx context.Context) []Result {
	rounds := make([][]Result, len(r.Checks))
	var wg sync.WaitGroup
	for i, c := range r.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rounds[i] = r.Round(ctx, c)
			r.report(c, rounds[i])
		}()
	}
	wg.Wait()
	var all []Result
	for _, rs := range rounds {
		all = append(all, rs...)
	}
	return all
}

func (r *Runner) report(c *Check, rs []Result) {
	if r.Report != nil && len(rs) > 0 {
		r.Report(c, rs)
	}
}

// Round probes every target of c once, concurrently. A dns check whose
// name does not resolve gives one failed result, under the name.
func (r *Runner) Round(ctx context.Context, c *Check) []Result {
	if ctx.Err() != nil {
		return nil
	}
	res := r.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	start := time.Now()
	lookupCtx, cancel := context.WithTimeout(ctx, c.Timeout)
	targets, lookup, err := c.targets(lookupCtx, res)
	cancel()
	if err != nil {
		return []Result{{Check: c.Name, Host: c.DNS, Time: start, Reason: ReasonDNS, Detail: err.Error(),
			Duration: time.Since(start), DNSLookup: lookup, Phases: map[string]time.Duration{}}}
	}
	out := make([]Result, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = c.probe(ctx, t)
			if c.DNS != "" {
				out[i].DNSLookup = lookup
			}
		}()
	}
	wg.Wait()
	return out
}
