package storetest

import (
	"testing"

	"github.com/portico-api/portico/internal/store"
)

// testCatalogConsumers: the catalog-wide lists hold exactly what the
// per-app lists hold, for this catalog and no other.
func testCatalogConsumers(t *testing.T, f *fixture) {
	w := f.world()
	other := f.catalog(w.org.ID, "production")
	otherApp := f.app(f.consumerOrg(other.ID, "elsewhere").ID, "stray")
	f.credential(otherApp.ID, "main", "stray-id")

	second := f.app(w.corg.ID, "desktop")
	third := f.app(f.consumerOrg(w.catalog.ID, "partners").ID, "batch")
	for i, a := range []store.App{w.app, second, third} {
		f.credential(a.ID, "main", "client-"+a.Name)
		if i < 2 {
			f.subscription(a.ID, w.product.ID, "gold")
		}
	}
	f.credential(w.app.ID, "backup", "client-mobile-2")

	var apps []store.App
	var creds []store.Credential
	var subs []store.Subscription
	for _, co := range ok(f.s.ListConsumerOrgs(f.ctx, w.catalog.ID, store.ListOptions{})).Items {
		for _, a := range ok(f.s.ListApps(f.ctx, co.ID, store.ListOptions{})).Items {
			apps = append(apps, a)
			creds = append(creds, ok(f.s.ListCredentials(f.ctx, a.ID, store.ListOptions{})).Items...)
			subs = append(subs, ok(f.s.ListSubscriptions(f.ctx, a.ID, store.ListOptions{})).Items...)
		}
	}
	same(t, "ListCatalogApps", byID(ok(f.s.ListCatalogApps(f.ctx, w.catalog.ID)), func(a store.App) string { return a.ID }),
		byID(apps, func(a store.App) string { return a.ID }))
	same(t, "ListCatalogCredentials", byID(ok(f.s.ListCatalogCredentials(f.ctx, w.catalog.ID)), func(c store.Credential) string { return c.ID }),
		byID(creds, func(c store.Credential) string { return c.ID }))
	same(t, "ListCatalogSubscriptions", byID(ok(f.s.ListCatalogSubscriptions(f.ctx, w.catalog.ID)), func(s store.Subscription) string { return s.ID }),
		byID(subs, func(s store.Subscription) string { return s.ID }))
	same(t, "apps counted", len(apps), 3)
	same(t, "credentials counted", len(creds), 4)
	same(t, "subscriptions counted", len(subs), 2)
	same(t, "an empty catalog's apps", len(ok(f.s.ListCatalogApps(f.ctx, f.catalog(w.org.ID, "empty").ID))), 0)
}

// byID indexes items by their ID, so that lists in different orders
// compare equal.
func byID[T any](items []T, id func(T) string) map[string]T {
	out := make(map[string]T, len(items))
	for _, it := range items {
		out[id(it)] = it
	}
	return out
}
