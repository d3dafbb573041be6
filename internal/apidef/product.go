package apidef

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Product is a `product: 1.0.0` document: plans that offer APIs.
type Product struct {
	Doc     *Document
	Name    string
	Version string
	Title   string
	// APIs maps the product's keys to the APIs they name. Each is either
	// a reference by name:version or a file ($ref) relative to the product.
	APIs  map[string]ProductAPI
	Plans []*Plan
}

// Ref is the product's name:version.
func (p *Product) Ref() string { return p.Name + ":" + p.Version }

// ProductAPI is one entry of a product's apis: map.
type ProductAPI struct {
	Key  string
	Name string // name:version, when given by name
	File string // absolute or bundle-relative path, when given by $ref
	Node Node
}

// Plan is one plan of a product.
type Plan struct {
	Name     string
	Title    string
	Approval bool
	// RateLimits and BurstLimits apply to every call of the plan, counted
	// per subscribing app.
	RateLimits  []NamedLimit
	BurstLimits []NamedLimit
	// Assembly limits are used only where a ratelimit policy names them.
	AssemblyRateLimits  map[string][]NamedLimit
	AssemblyBurstLimits map[string][]NamedLimit
	AssemblyCountLimits map[string][]NamedLimit
	// APIs limits the plan to some APIs of the product (by product key),
	// and optionally to some operations of each; nil means all APIs.
	APIs map[string]*PlanAPI
	Node Node
}

// PlanAPI restricts a plan to operations of one API; Operations nil means
// every operation.
type PlanAPI struct {
	Operations []PlanOperation
}

// PlanOperation names an operation by id, or by verb and path.
type PlanOperation struct {
	ID     string
	Method string
	Path   string
}

// NamedLimit is one limit of a plan, "100/1hour".
type NamedLimit struct {
	Name      string
	Value     string
	HardLimit bool
	Node      Node
}

// LoadProduct reads a Document of KindProduct.
func LoadProduct(d *Document) (*Product, Problems) {
	r := d.Root
	var ps Problems
	info := r.Get("info")
	p := &Product{Doc: d, Name: info.String("name", ""), Version: info.String("version", ""), Title: info.String("title", ""),
		APIs: map[string]ProductAPI{}}
	if p.Name == "" || p.Version == "" {
		ps = append(ps, r.KeyNode("info").Problem("the product needs info.name and info.version", "e.g. info: {name: weather, version: 1.0.0}"))
	}
	apis := r.Get("apis")
	for _, k := range apis.Keys() {
		n := apis.Get(k)
		pa := ProductAPI{Key: k, Node: n}
		switch {
		case n.Has("$ref"):
			pa.File = filepath.Join(filepath.Dir(d.File), n.String("$ref", ""))
		case n.Has("name"):
			pa.Name = n.String("name", "")
			if !strings.Contains(pa.Name, ":") {
				ps = append(ps, n.Get("name").Problemf("API reference %q needs a version, as name:version", pa.Name))
			}
		default:
			ps = append(ps, apis.KeyNode(k).Problem("an API entry needs $ref: file or name: api:1.0.0", ""))
			continue
		}
		p.APIs[k] = pa
	}
	plans := r.Get("plans")
	for _, name := range plans.Keys() {
		plan, pps := loadPlan(name, plans.Get(name), p)
		ps = append(ps, pps...)
		p.Plans = append(p.Plans, plan)
	}
	if len(p.Plans) == 0 {
		ps = append(ps, r.Problem("the product has no plans", "add plans: {default-plan: {title: Default Plan}}"))
	}
	return p, ps
}

func loadPlan(name string, n Node, p *Product) (*Plan, Problems) {
	var ps Problems
	plan := &Plan{Name: name, Title: n.String("title", name), Node: n}
	if v, prob := n.Bool("approval", false); prob != nil {
		ps = append(ps, *prob)
	} else {
		plan.Approval = v
	}
	plan.RateLimits = limits(n.Get("rate-limits"), &ps)
	// The v5 form: one unnamed rate-limit.
	if one := n.Get("rate-limit"); !one.IsZero() {
		plan.RateLimits = append(plan.RateLimits, limit("default", one, &ps))
	}
	plan.BurstLimits = limits(n.Get("burst-limits"), &ps)
	plan.AssemblyRateLimits = namedLists(n.Get("assembly-rate-limits"), &ps)
	plan.AssemblyBurstLimits = namedLists(n.Get("assembly-burst-limits"), &ps)
	plan.AssemblyCountLimits = namedLists(n.Get("assembly-count-limits"), &ps)
	if apis := n.Get("apis"); apis.IsMap() && len(apis.Keys()) > 0 {
		plan.APIs = map[string]*PlanAPI{}
		for _, k := range apis.Keys() {
			if _, ok := p.APIs[k]; !ok {
				ps = append(ps, apis.KeyNode(k).Problem(fmt.Sprintf("plan %s names API %q, which the product's apis: does not list", name, k), "use a key of the product's apis: map"))
				continue
			}
			plan.APIs[k] = planAPI(apis.Get(k))
		}
	}
	return plan, ps
}

func planAPI(n Node) *PlanAPI {
	pa := &PlanAPI{}
	ops := n.Get("operations")
	if !ops.IsSeq() {
		return pa
	}
	pa.Operations = []PlanOperation{}
	for _, o := range ops.Items() {
		pa.Operations = append(pa.Operations, PlanOperation{
			ID:     o.String("operationId", ""),
			Method: strings.ToUpper(o.String("operation", o.String("verb", ""))),
			Path:   o.String("path", ""),
		})
	}
	return pa
}

func limits(n Node, ps *Problems) []NamedLimit {
	var out []NamedLimit
	for _, k := range n.Keys() {
		out = append(out, limit(k, n.Get(k), ps))
	}
	return out
}

func limit(name string, n Node, ps *Problems) NamedLimit {
	l := NamedLimit{Name: name, Node: n}
	if n.IsScalar() {
		l.Value = n.Str()
		l.HardLimit = true
		return l
	}
	l.Value = n.String("value", "")
	hard, p := n.Bool("hard-limit", true)
	if p != nil {
		*ps = append(*ps, *p)
	}
	l.HardLimit = hard
	if l.Value == "" {
		*ps = append(*ps, n.Problem("a limit needs a value such as 100/1hour", ""))
	}
	return l
}

func namedLists(n Node, ps *Problems) map[string][]NamedLimit {
	if !n.IsMap() {
		return nil
	}
	out := map[string][]NamedLimit{}
	for _, k := range n.Keys() {
		v := n.Get(k)
		if v.IsSeq() {
			for _, it := range v.Items() {
				out[k] = append(out[k], limit(k, it, ps))
			}
		} else {
			out[k] = append(out[k], limit(k, v, ps))
		}
	}
	return out
}
