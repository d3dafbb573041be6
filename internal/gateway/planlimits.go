package gateway

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/ratelimit"
)

// namedLimits are a plan's assembly limits by kind and name.
type namedLimits map[string]map[string][]limit

func compileNamed(def *apidef.Plan, ps *apidef.Problems) namedLimits {
	n := namedLimits{"rate": {}, "burst": {}, "count": {}}
	for name, ls := range def.AssemblyRateLimits {
		n["rate"][name] = parseLimits(ls, false, ps)
	}
	for name, ls := range def.AssemblyBurstLimits {
		n["burst"][name] = parseLimits(ls, true, ps)
	}
	for name, ls := range def.AssemblyCountLimits {
		for _, nl := range ls {
			max, err := strconv.ParseInt(strings.TrimSpace(nl.Value), 10, 64)
			if err != nil {
				*ps = append(*ps, nl.Node.Problem(fmt.Sprintf("count limit %q must be a whole number", nl.Value), "e.g. value: 5"))
				continue
			}
			n["count"][name] = append(n["count"][name], limit{name: name, lim: ratelimit.Limit{Count: max}, hard: nl.HardLimit})
		}
	}
	return n
}

// planLimits is assembly.Limits for one identified call.
type planLimits struct {
	g    *Gateway
	cat  *catalog
	plan *plan
	cl   *client
}

func (pl *planLimits) Apply(ctx context.Context, source, kind, name, op string, weight int64) (assembly.LimitResult, error) {
	ls := pl.lookup(source, kind, name)
	if len(ls) == 0 {
		return assembly.LimitResult{}, nil
	}
	out := assembly.LimitResult{Known: true, Allowed: true, Remaining: -1}
	for _, l := range ls {
		key := pl.cat.org + "/" + pl.cat.name + "/" + pl.plan.key + "/" + pl.cl.app.ID + "/" + kind + ":" + l.name
		allowed, lim, remaining, err := pl.apply(ctx, key, kind, op, l, weight)
		if err != nil {
			return out, err
		}
		if !allowed && l.hard {
			out.Allowed, out.HardLimit = false, true
		}
		if out.Remaining < 0 || remaining < out.Remaining {
			out.Limit, out.Remaining = lim, remaining
		}
	}
	return out, nil
}

func (pl *planLimits) lookup(source, kind, name string) []limit {
	if source == "plan-named" {
		return pl.plan.named[kind][name]
	}
	var group []limit
	switch kind {
	case "rate":
		group = pl.plan.rates
	case "burst":
		group = pl.plan.bursts
	}
	if name == "" {
		return group
	}
	var out []limit
	for _, l := range group {
		if l.name == name {
			out = append(out, l)
		}
	}
	return out
}

func (pl *planLimits) apply(ctx context.Context, key, kind, op string, l limit, weight int64) (bool, int64, int64, error) {
	if kind == "count" {
		if op == "dec" {
			n, err := pl.g.counter.Dec(ctx, key, weight)
			return true, l.lim.Count, l.lim.Count - n, err
		}
		r, err := pl.g.counter.Inc(ctx, key, l.lim.Count, weight)
		return r.Allowed, r.Limit, r.Remaining, err
	}
	if op == "replenish" {
		// GCRA gives capacity back with time only; a replenish reports
		// the state without consuming.
		weight = 0
	}
	r, err := pl.g.limiter.Allow(ctx, key, l.lim, weight)
	return r.Allowed, r.Limit, r.Remaining, err
}
