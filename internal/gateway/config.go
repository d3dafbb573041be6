// Package gateway is Portico's data plane: it compiles a catalog bundle
// into an immutable configuration, routes requests to API operations, runs
// their assemblies and answers. A reload builds a new configuration and
// swaps it atomically; requests in flight finish on the one they started on.
package gateway

import (
	"fmt"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/router"
)

// Config is one or more compiled catalog bundles: what a gateway serves.
// It is never modified after it is compiled.
type Config struct {
	Version int64 // increases with every load
	// Org and Catalog name the first catalog (the only one for a folder).
	Org     string
	OrgID   string
	Catalog string
	APIs    []*API
	routes  *router.Table[*route]
}

// catalog is what the routes of one catalog share: its names and apps.
type catalog struct {
	org, orgID, name string
	access           *access
}

// API is one compiled API.
type API struct {
	Def      *apidef.API
	Info     *assembly.APIInfo
	Assembly *assembly.Assembly
	cors     *corsPolicy // nil: CORS not enabled
}

// route is what a matched operation leads to.
type route struct {
	cat   *catalog
	api   *API
	op    *assembly.OperationInfo
	sec   *security // nil: no client identification
	plans []*plan   // plans that offer the operation, in a stable order
}

// Compile turns a loaded bundle into a Config. It returns every problem
// found; a Config with problems must not be served.
func Compile(b *bundle.Bundle, reg *assembly.Registry, env *assembly.Env) (*Config, apidef.Problems) {
	return CompileAll([]*bundle.Bundle{b}, reg, env)
}

// CompileAll compiles the bundles of several catalogs into one Config;
// each catalog's APIs answer under its own /{org}/{catalog} prefix.
func CompileAll(bundles []*bundle.Bundle, reg *assembly.Registry, env *assembly.Env) (*Config, apidef.Problems) {
	cfg := &Config{}
	if len(bundles) > 0 {
		cfg.Org, cfg.OrgID, cfg.Catalog = bundles[0].Org, bundles[0].OrgID, bundles[0].Catalog
	}
	rb := router.NewBuilder[*route]()
	var ps apidef.Problems
	for _, b := range bundles {
		ps = append(ps, compileCatalog(cfg, rb, b, reg, env)...)
	}
	cfg.routes = rb.Build()
	return cfg, ps
}

// compileCatalog adds one catalog's APIs and routes.
func compileCatalog(cfg *Config, rb *router.Builder[*route], b *bundle.Bundle, reg *assembly.Registry, env *assembly.Env) apidef.Problems {
	cat := &catalog{org: b.Org, orgID: b.OrgID, name: b.Catalog, access: newAccess(b.Consumers, b.OAuth)}
	plans, ps := compilePlans(b.Products)
	for _, def := range b.APIs {
		info, ips := apiInfo(def, b)
		ps = append(ps, ips...)
		builder := assembly.NewBuilder(reg, def, env, b.Dir)
		builder.TLSProfiles = b.TLSProfiles
		builder.Info = info
		asm := assembly.Compile(builder)
		ps = append(ps, builder.Problems()...)
		api := &API{Def: def, Info: info, Assembly: asm, cors: compileCORS(def)}
		cfg.APIs = append(cfg.APIs, api)
		if !def.Enforced {
			continue
		}
		warned := false
		for _, op := range def.Operations {
			full := router.Join(b.Org, b.Catalog, def.BasePath, op.Path)
			r := &route{cat: cat, api: api, op: &assembly.OperationInfo{ID: op.ID, Path: op.Path, Method: op.Method}}
			sec, sps := compileSecurity(def, op)
			ps = append(ps, sps...)
			r.sec, r.plans = sec, plansFor(def, op, plans)
			if sec != nil && len(r.plans) == 0 && !warned {
				ps = append(ps, noPlanWarning(op, def))
				warned = true
			}
			if err := rb.Add(op.Method, full, r); err != nil {
				ps = append(ps, op.Node.Problem(fmt.Sprintf("cannot route %s %s: %v", op.Method, full, err),
					"two enforced APIs in one catalog must not serve the same path and verb"))
			}
		}
	}
	return ps
}

// apiInfo resolves the API's properties for this catalog: the API's own
// values, overridden by catalogs.<catalog>.properties, then catalog-wide
// properties for names the API does not define.
func apiInfo(def *apidef.API, b *bundle.Bundle) (*assembly.APIInfo, apidef.Problems) {
	var ps apidef.Problems
	info := &assembly.APIInfo{
		Name: def.Name, Version: def.Version, Title: def.Title, BasePath: def.BasePath,
		Org: b.Org, OrgID: b.OrgID, Catalog: b.Catalog, Properties: map[string]*assembly.Template{},
	}
	add := func(name, value string, at apidef.Node) {
		t, err := assembly.ParseTemplate(value)
		if err != nil {
			ps = append(ps, at.Problem(fmt.Sprintf("property %s: %v", name, err), "close every $( with )"))
			return
		}
		info.Properties[name] = t
	}
	for k, v := range b.Properties {
		add(k, v, apidef.Node{File: b.Dir + "/" + bundle.CatalogFile, Path: "properties." + k})
	}
	props := def.Config.Get("properties")
	for k, v := range def.Properties {
		add(k, v, props.Get(k))
	}
	over := def.Config.Get("catalogs").Get(b.Catalog).Get("properties")
	for k, v := range def.CatalogProperties[b.Catalog] {
		add(k, v, over.Get(k))
	}
	return info, ps
}
