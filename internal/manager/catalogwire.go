package manager

import (
	"context"
	"slices"

	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/store"
)

// callable are the product states whose plans admit calls.
var callable = []store.ProductState{store.ProductPublished, store.ProductDeprecated}

// CatalogWire reads one catalog from the store as the bundle gateways are
// pushed: the APIs of its published and deprecated products, those
// products, and its consumer orgs and apps, labelled with version. Read
// the version before calling, so that the content is never older than its
// label: a gateway may then skip a version, never miss a change.
func CatalogWire(ctx context.Context, st store.Reader, org store.ProviderOrg, cat store.Catalog, version int64) (*bundle.Wire, error) {
	prods, err := st.ListProducts(ctx, cat.ID, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	w := &bundle.Wire{Version: version, Org: org.Name, OrgID: org.ID, Catalog: cat.Name,
		APIs: []bundle.WireDoc{}, Products: []bundle.WireProduct{}, Consumers: []bundle.WireConsumerOrg{}}
	seen := map[string]bool{}
	refs := map[string]string{} // product ID → name:version, for subscriptions
	for _, p := range prods.Items {
		if !slices.Contains(callable, p.State) {
			continue
		}
		refs[p.ID] = p.Name + ":" + p.Version
		w.Products = append(w.Products, bundle.WireProduct{Name: p.Name, Version: p.Version, State: string(p.State), Document: p.Document})
		for _, a := range p.APIs {
			if ref := a.Name + ":" + a.Version; !seen[ref] {
				seen[ref] = true
				w.APIs = append(w.APIs, bundle.WireDoc{Name: a.Name, Version: a.Version, Document: a.Document})
			}
		}
	}
	corgs, err := st.ListConsumerOrgs(ctx, cat.ID, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, co := range corgs.Items {
		wo := bundle.WireConsumerOrg{ID: co.ID, Name: co.Name, Title: co.Title}
		apps, err := st.ListApps(ctx, co.ID, store.ListOptions{})
		if err != nil {
			return nil, err
		}
		for _, a := range apps.Items {
			app, err := wireApp(ctx, st, a, refs)
			if err != nil {
				return nil, err
			}
			wo.Apps = append(wo.Apps, app)
		}
		w.Consumers = append(w.Consumers, wo)
	}
	return w, nil
}

// wireApp is an app with its credentials (secrets as their hashes) and
// its subscriptions to products that admit calls.
func wireApp(ctx context.Context, st store.Reader, a store.App, products map[string]string) (bundle.WireApp, error) {
	app := bundle.WireApp{ID: a.ID, Name: a.Name, Title: a.Title, State: string(a.State)}
	creds, err := st.ListCredentials(ctx, a.ID, store.ListOptions{})
	if err != nil {
		return app, err
	}
	for _, c := range creds.Items {
		app.Credentials = append(app.Credentials, bundle.WireCredential{ClientID: c.ClientID, SecretHash: c.SecretHash})
	}
	subs, err := st.ListSubscriptions(ctx, a.ID, store.ListOptions{})
	if err != nil {
		return app, err
	}
	for _, s := range subs.Items {
		if ref, ok := products[s.ProductID]; ok {
			app.Subscriptions = append(app.Subscriptions, bundle.WireSubscription{Product: ref, Plan: s.Plan, State: string(s.State)})
		}
	}
	return app, nil
}
