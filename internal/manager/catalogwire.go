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
	consumers, err := catalogConsumers(ctx, st, cat.ID, refs)
	if err != nil {
		return nil, err
	}
	w.Consumers = consumers
	return w, nil
}

// catalogConsumers reads a catalog's consumer orgs with their apps,
// credentials (secrets as their hashes) and subscriptions to products
// that admit calls: four queries, however many apps.
func catalogConsumers(ctx context.Context, st store.Reader, catalogID string, products map[string]string) ([]bundle.WireConsumerOrg, error) {
	corgs, err := st.ListConsumerOrgs(ctx, catalogID, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	apps, err := st.ListCatalogApps(ctx, catalogID)
	if err != nil {
		return nil, err
	}
	creds, err := st.ListCatalogCredentials(ctx, catalogID)
	if err != nil {
		return nil, err
	}
	subs, err := st.ListCatalogSubscriptions(ctx, catalogID)
	if err != nil {
		return nil, err
	}
	credsOf := map[string][]bundle.WireCredential{}
	for _, c := range creds {
		credsOf[c.AppID] = append(credsOf[c.AppID], bundle.WireCredential{ClientID: c.ClientID, SecretHash: c.SecretHash})
	}
	subsOf := map[string][]bundle.WireSubscription{}
	for _, s := range subs {
		if ref, ok := products[s.ProductID]; ok {
			subsOf[s.AppID] = append(subsOf[s.AppID], bundle.WireSubscription{Product: ref, Plan: s.Plan, State: string(s.State)})
		}
	}
	appsOf := map[string][]bundle.WireApp{}
	for _, a := range apps {
		appsOf[a.ConsumerOrgID] = append(appsOf[a.ConsumerOrgID], bundle.WireApp{ID: a.ID, Name: a.Name, Title: a.Title,
			State: string(a.State), Credentials: credsOf[a.ID], Subscriptions: subsOf[a.ID]})
	}
	out := make([]bundle.WireConsumerOrg, 0, len(corgs.Items))
	for _, co := range corgs.Items {
		out = append(out, bundle.WireConsumerOrg{ID: co.ID, Name: co.Name, Title: co.Title, Apps: appsOf[co.ID]})
	}
	return out, nil
}
