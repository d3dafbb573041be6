package manager

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/auth"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/store"
)

// Director keeps a gateway serving what the store holds: every catalog's
// published products, their APIs, and the catalog's apps. It rebuilds when
// a catalog's version changes (the store bumps it with every change a
// gateway serves). portico up runs it against its own gateway; remote
// gateways receive the same bundles over mutual TLS (a later issue).
type Director struct {
	Store    store.Store
	Gateway  *gateway.Gateway
	Registry *assembly.Registry
	Env      *assembly.Env
	Log      *slog.Logger

	versions map[string]int64
}

// Run syncs now and then every interval until ctx ends.
func (d *Director) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := d.Sync(ctx); err != nil && ctx.Err() == nil {
			d.Log.Error("gateway configuration not updated", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sync rebuilds the gateway's configuration if any catalog changed. A
// configuration with errors is not installed; the gateway keeps the last.
func (d *Director) Sync(ctx context.Context) error {
	cats, versions, err := d.catalogs(ctx)
	if err != nil {
		return err
	}
	if d.versions != nil && sameVersions(d.versions, versions) {
		return nil
	}
	var bundles []*bundle.Bundle
	var ps apidef.Problems
	for _, c := range cats {
		b, bps, err := CatalogBundle(ctx, d.Store, c.org, c.cat)
		if err != nil {
			return err
		}
		ps = append(ps, bps...)
		bundles = append(bundles, b)
	}
	cfg, cps := gateway.CompileAll(bundles, d.Registry, d.Env)
	ps = append(ps, cps...)
	if errs := ps.Errors(); len(errs) > 0 {
		return fmt.Errorf("%d problem(s), the first: %v", len(errs), errs[0])
	}
	d.versions = versions
	var total int64
	for _, v := range versions {
		total += v
	}
	cfg.Version = total
	d.Gateway.Store(cfg)
	d.Log.Info("gateway configuration updated", "catalogs", len(bundles), "apis", len(cfg.APIs))
	return nil
}

type orgCatalog struct {
	org store.ProviderOrg
	cat store.Catalog
}

func (d *Director) catalogs(ctx context.Context) ([]orgCatalog, map[string]int64, error) {
	orgs, err := d.Store.ListProviderOrgs(ctx, store.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	var out []orgCatalog
	versions := map[string]int64{}
	for _, o := range orgs.Items {
		cats, err := d.Store.ListCatalogs(ctx, o.ID, store.ListOptions{})
		if err != nil {
			return nil, nil, err
		}
		for _, c := range cats.Items {
			v, err := d.Store.CatalogVersion(ctx, c.ID)
			if err != nil {
				return nil, nil, err
			}
			versions[c.ID] = v
			out = append(out, orgCatalog{o, c})
		}
	}
	return out, versions, nil
}

func sameVersions(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// callable are the product states whose plans admit calls.
var callable = []store.ProductState{"published", "deprecated"}

// CatalogBundle builds one catalog's bundle from the store: the APIs of its
// published and deprecated products, those products, and its apps.
func CatalogBundle(ctx context.Context, st store.Reader, org store.ProviderOrg, cat store.Catalog) (*bundle.Bundle, apidef.Problems, error) {
	prods, err := st.ListProducts(ctx, cat.ID, store.ListOptions{})
	if err != nil {
		return nil, nil, err
	}
	var ps apidef.Problems
	var apis []*apidef.API
	var products []bundle.ProductState
	seen := map[string]bool{}
	// Subscriptions count only for products that admit calls.
	refs := map[string]string{} // product ID → name:version
	for _, p := range prods.Items {
		if !slices.Contains(callable, p.State) {
			continue
		}
		refs[p.ID] = p.Name + ":" + p.Version
		def, lps := loadProduct(p)
		ps = append(ps, lps...)
		if def == nil {
			continue
		}
		products = append(products, bundle.ProductState{Product: def, State: string(p.State)})
		for _, pa := range p.APIs {
			if seen[pa.Name+":"+pa.Version] {
				continue
			}
			seen[pa.Name+":"+pa.Version] = true
			api, aps := loadAPI(pa.Name+"_"+pa.Version+".yaml", pa.Document)
			ps = append(ps, aps...)
			if api != nil {
				apis = append(apis, api)
			}
		}
	}
	consumers, err := catalogConsumers(ctx, st, cat.ID, refs)
	if err != nil {
		return nil, nil, err
	}
	b, bps := bundle.FromDocuments(bundle.Catalog{Org: org.Name, OrgID: org.ID, Name: cat.Name}, apis, products, consumers)
	return b, append(ps, bps...), nil
}

func loadProduct(p store.Product) (*apidef.Product, apidef.Problems) {
	doc, err := apidef.Parse(p.Name+"_"+p.Version+".yaml", p.Document)
	if err != nil {
		return nil, asProblems(err)
	}
	return apidef.LoadProduct(doc)
}

func loadAPI(name string, data []byte) (*apidef.API, apidef.Problems) {
	doc, err := apidef.Parse(name, data)
	if err != nil {
		return nil, asProblems(err)
	}
	return apidef.LoadAPI(doc)
}

func asProblems(err error) apidef.Problems {
	if ps, ok := err.(apidef.Problems); ok {
		return ps
	}
	return apidef.Problems{{Msg: err.Error()}}
}

// catalogConsumers reads the catalog's consumer orgs, apps, credentials
// and subscriptions into the bundle's form.
func catalogConsumers(ctx context.Context, st store.Reader, catalogID string, products map[string]string) ([]*bundle.ConsumerOrg, error) {
	corgs, err := st.ListConsumerOrgs(ctx, catalogID, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []*bundle.ConsumerOrg
	for _, co := range corgs.Items {
		org := &bundle.ConsumerOrg{ID: co.ID, Name: co.Name, Title: co.Title}
		apps, err := st.ListApps(ctx, co.ID, store.ListOptions{})
		if err != nil {
			return nil, err
		}
		for _, a := range apps.Items {
			app, err := bundleApp(ctx, st, org, a, products)
			if err != nil {
				return nil, err
			}
			org.Apps = append(org.Apps, app)
		}
		out = append(out, org)
	}
	return out, nil
}

func bundleApp(ctx context.Context, st store.Reader, org *bundle.ConsumerOrg, a store.App, products map[string]string) (*bundle.App, error) {
	app := &bundle.App{ID: a.ID, Name: a.Name, Title: a.Title, State: string(a.State), Org: org}
	if app.State == "" {
		app.State = "active"
	}
	creds, err := st.ListCredentials(ctx, a.ID, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, c := range creds.Items {
		cred := &bundle.Credential{ClientID: c.ClientID}
		if c.SecretHash != "" {
			if cred.Secret, err = auth.ParseHash(c.SecretHash); err != nil {
				return nil, fmt.Errorf("credential %s: %w", c.ClientID, err)
			}
		}
		app.Credentials = append(app.Credentials, cred)
	}
	subs, err := st.ListSubscriptions(ctx, a.ID, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, s := range subs.Items {
		ref, ok := products[s.ProductID]
		if !ok {
			continue
		}
		state := string(s.State)
		if state == "" {
			state = bundle.SubEnabled
		}
		app.Subscriptions = append(app.Subscriptions, &bundle.Subscription{Product: ref, Plan: s.Plan, State: state})
	}
	return app, nil
}
