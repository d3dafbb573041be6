package policy

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// limitUse is one entry of rate-limit, burst-limit or count-limit.
type limitUse struct {
	kind, name, op string
	weight         int64
}

// RateLimit compiles the ratelimit policy (2.0.0–2.4.0): it uses the
// identified plan's limits by name, for limits that apply to some steps
// of an assembly only.
//
//	source: plan-named            plan-named (assembly-*-limits) or plan-default (rate-limits, burst-limits)
//	rate-limit:  [{name, operation: consume|replenish, weight}]
//	burst-limit: [{name, operation: consume|replenish, weight}]
//	count-limit: [{name, operation: inc|dec, weight}]
//
// A call over a hard limit raises AssemblyRateLimitError (429). A call
// that was not identified (no plan) is not limited.
func RateLimit(b *assembly.Builder, n apidef.Node) assembly.Policy {
	source := n.String("source", "plan-default")
	switch source {
	case "plan-named", "plan-default":
	case "catalog-named", "gateway-named":
		b.Report(n.Get("source").Warning(fmt.Sprintf("source %s is not supported yet: this policy will not limit", source),
			"use plan-named limits from the product's assembly-rate-limits"))
		return func(*assembly.Context) error { return nil }
	default:
		b.Reportf(n.Get("source"), "source %q is not plan-named, plan-default, catalog-named or gateway-named", source)
		return nil
	}
	var uses []limitUse
	for _, kind := range []struct{ field, kind, defOp string }{{"rate-limit", "rate", "consume"}, {"burst-limit", "burst", "consume"}, {"count-limit", "count", "inc"}} {
		for _, it := range n.Get(kind.field).Items() {
			u := limitUse{kind: kind.kind, name: it.String("name", ""), op: it.String("operation", kind.defOp), weight: 1}
			if w := it.String("weight", ""); w != "" {
				v, err := strconv.ParseInt(w, 10, 64)
				if err != nil || v < 0 {
					b.Reportf(it.Get("weight"), "weight %q must be a whole number, 0 or more", w)
					continue
				}
				u.weight = v
			}
			if !validOp(kind.kind, u.op) {
				b.Reportf(it.Get("operation"), "operation %q is not valid for %s", u.op, kind.field)
				continue
			}
			uses = append(uses, u)
		}
	}
	return func(c *assembly.Context) error {
		if c.Limits == nil {
			return nil
		}
		for _, u := range uses {
			r, err := c.Limits.Apply(c.Ctx, source, u.kind, u.name, u.op, u.weight)
			if err != nil {
				if c.Log != nil {
					c.Log.Warn("assembly rate limit store failed; the call is allowed", "limit", u.name, "error", err)
				}
				continue
			}
			if r.Known && !r.Allowed && r.HardLimit {
				h := http.Header{
					"X-RateLimit-Limit":     {"name=" + u.name + "," + strconv.FormatInt(r.Limit, 10) + ";"},
					"X-RateLimit-Remaining": {"name=" + u.name + "," + strconv.FormatInt(r.Remaining, 10) + ";"},
				}
				return &assembly.Error{Name: assembly.AssemblyRateLimitError, Status: http.StatusTooManyRequests,
					Message: "Assembly rate limit exceeded", Headers: h}
			}
		}
		return nil
	}
}

func validOp(kind, op string) bool {
	if kind == "count" {
		return op == "inc" || op == "dec"
	}
	return op == "consume" || op == "replenish"
}
