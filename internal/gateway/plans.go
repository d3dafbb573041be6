package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/ratelimit"
)

// compilePlans parses every plan's limits once.
func compilePlans(products []*bundle.BundleProduct) ([]*plan, apidef.Problems) {
	var out []*plan
	var ps apidef.Problems
	for _, prod := range products {
		for _, def := range prod.Plans {
			p := &plan{key: prod.Ref() + ":" + def.Name, product: prod, def: def}
			p.rates = parseLimits(def.RateLimits, false, &ps)
			p.bursts = parseLimits(def.BurstLimits, true, &ps)
			p.named = compileNamed(def, &ps)
			out = append(out, p)
		}
	}
	return out, ps
}

func parseLimits(in []apidef.NamedLimit, alwaysHard bool, ps *apidef.Problems) []limit {
	var out []limit
	for _, nl := range in {
		l, err := ratelimit.ParseLimit(nl.Value)
		if err != nil {
			*ps = append(*ps, nl.Node.Problem(err.Error(), "write a limit as 100/1hour, 10/1second or unlimited"))
			continue
		}
		if l.IsUnlimited() {
			continue
		}
		out = append(out, limit{name: nl.Name, lim: l, hard: nl.HardLimit || alwaysHard})
	}
	return out
}

// plansFor lists, in a stable order, the plans of callable products that
// offer the operation.
func plansFor(def *apidef.API, op apidef.Operation, plans []*plan) []*plan {
	var out []*plan
	for _, p := range plans {
		if !p.product.Callable() {
			continue
		}
		for key, ref := range p.product.APIRefs {
			if ref == def.Ref() && planOffers(p.def, key, op) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func planOffers(def *apidef.Plan, key string, op apidef.Operation) bool {
	if def.APIs == nil {
		return true
	}
	pa, ok := def.APIs[key]
	if !ok {
		return false
	}
	if pa.Operations == nil {
		return true
	}
	for _, o := range pa.Operations {
		if (o.ID != "" && o.ID == op.ID) || (strings.EqualFold(o.Method, op.Method) && o.Path == op.Path) {
			return true
		}
	}
	return false
}

// enforce checks the plan's burst and rate limits for the app and writes
// the X-RateLimit headers. It returns false when a hard limit refused the
// call (the 429 has been written).
func (g *Gateway) enforce(ctx context.Context, w http.ResponseWriter, cat *catalog, p *plan, c *client) bool {
	if len(p.rates) == 0 && len(p.bursts) == 0 {
		return true
	}
	var limitHdr, remainHdr strings.Builder
	refused := false
	var retry int64
	for _, group := range [][]limit{p.bursts, p.rates} {
		for _, l := range group {
			key := cat.org + "/" + cat.name + "/" + p.key + "/" + c.app.ID + "/" + l.name
			res, err := g.limiter.Allow(ctx, key, l.lim, 1)
			if err != nil {
				g.log.Warn("rate limit store failed; the call is allowed", "error", err)
				continue
			}
			if res.Degraded {
				// The store is down: the fail-open or fail-closed policy
				// answered, and there is no count to report.
				if !res.Allowed && l.hard {
					refused = true
				}
				continue
			}
			limitHdr.WriteString(ratelimit.HeaderValue(l.name, res.Limit))
			remainHdr.WriteString(ratelimit.HeaderValue(l.name, res.Remaining))
			if !res.Allowed && l.hard {
				refused = true
				if s := int64(res.RetryAfter.Seconds() + 0.999); s > retry {
					retry = s
				}
			}
		}
	}
	h := w.Header()
	if limitHdr.Len() > 0 {
		// Set directly so the names keep API Connect's spelling.
		h["X-RateLimit-Limit"] = []string{limitHdr.String()}
		h["X-RateLimit-Remaining"] = []string{remainHdr.String()}
	}
	if refused {
		h.Set("Retry-After", strconv.FormatInt(retry, 10))
		writeAPIError(w, http.StatusTooManyRequests, "", msgRateLimited)
		return false
	}
	return true
}

// identity tells the assembly who is calling (client.app.*, client.org.*,
// plan.*, product.*).
func identity(cl *client, p *plan) *assembly.Identity {
	app := cl.app
	id := &assembly.Identity{ClientID: cl.cred.ClientID, AppName: app.Name, AppTitle: app.Title,
		OrgID: app.Org.ID, OrgName: app.Org.Name, OrgTitle: app.Org.Title}
	if p != nil {
		id.PlanID, id.PlanName, id.PlanTitle = p.key, p.def.Name, p.def.Title
		id.ProductName, id.ProductVersion, id.ProductTitle = p.product.Name, p.product.Version, p.product.Title
	}
	return id
}

// noPlanWarning explains an operation no one can call.
func noPlanWarning(op apidef.Operation, def *apidef.API) apidef.Problem {
	return op.Node.Warning(fmt.Sprintf("%s %s of %s requires client identification, but no plan of a product in the bundle offers it: every call will answer 401",
		op.Method, op.Path, def.Ref()), "add a product whose plan includes this API, and a subscription in consumers.yaml")
}
