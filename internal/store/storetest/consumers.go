package storetest

import (
	"testing"

	"github.com/portico-api/portico/internal/store"
)

func testConsumerOrgs(t *testing.T, f *fixture) {
	o := f.org("acme")
	c := f.catalog(o.ID, "sandbox")
	c2 := f.catalog(o.ID, "production")
	co := f.consumerOrg(c.ID, "devs")
	same(t, "GetConsumerOrg", ok(f.s.GetConsumerOrg(f.ctx, co.ID)), co)
	same(t, "GetConsumerOrgByName", ok(f.s.GetConsumerOrgByName(f.ctx, c.ID, "devs")), co)
	f.consumerOrg(c2.ID, "devs") // another catalog: fine
	_, err := try(f, func(tx store.Tx) (store.ConsumerOrg, error) {
		return tx.CreateConsumerOrg(f.ctx, store.ConsumerOrg{CatalogID: c.ID, Name: "devs", OwnerID: co.OwnerID})
	})
	wantErr(t, err, store.ErrConflict)
	_, err = try(f, func(tx store.Tx) (store.ConsumerOrg, error) {
		return tx.CreateConsumerOrg(f.ctx, store.ConsumerOrg{CatalogID: c.ID, Name: "x", OwnerID: "00000000-0000-4000-8000-000000000000"})
	})
	wantErr(t, err, store.ErrNotFound)
	co.Title, co.CatalogID = "Developers", c2.ID // the catalog cannot change
	up := write(f, func(tx store.Tx) (store.ConsumerOrg, error) { return tx.UpdateConsumerOrg(f.ctx, co) })
	if up.Title != "Developers" || up.CatalogID != c.ID {
		t.Fatalf("UpdateConsumerOrg = %+v", up)
	}
	same(t, "ListConsumerOrgs", ok(f.s.ListConsumerOrgs(f.ctx, c.ID, store.ListOptions{})).Items, []store.ConsumerOrg{up})
}

// testConsumerOrgCascade: deleting a consumer org deletes its apps, their
// credentials and subscriptions.
func testConsumerOrgCascade(t *testing.T, f *fixture) {
	w := f.world()
	cred := f.credential(w.app.ID, "main", "client-1")
	sub := f.subscription(w.app.ID, w.product.ID, "default-plan")
	f.tx(func(tx store.Tx) error { return tx.DeleteConsumerOrg(f.ctx, w.corg.ID) })
	_, err := f.s.GetApp(f.ctx, w.app.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetCredential(f.ctx, cred.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetSubscription(f.ctx, sub.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetCredentialByClientID(f.ctx, w.catalog.ID, "client-1")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.DeleteConsumerOrg(f.ctx, w.corg.ID) }), store.ErrNotFound)
}

func testApps(t *testing.T, f *fixture) {
	w := f.world()
	if w.app.State != store.AppActive || w.app.Lifecycle != store.AppDevelopment {
		t.Fatalf("new app = %+v, want active and development", w.app)
	}
	same(t, "GetApp", ok(f.s.GetApp(f.ctx, w.app.ID)), w.app)
	same(t, "GetAppByName", ok(f.s.GetAppByName(f.ctx, w.corg.ID, "mobile")), w.app)
	_, err := try(f, func(tx store.Tx) (store.App, error) {
		return tx.CreateApp(f.ctx, store.App{ConsumerOrgID: w.corg.ID, Name: "mobile"})
	})
	wantErr(t, err, store.ErrConflict)
	_, err = try(f, func(tx store.Tx) (store.App, error) {
		return tx.CreateApp(f.ctx, store.App{ConsumerOrgID: w.corg.ID, Name: "web", Lifecycle: "beta"})
	})
	wantErr(t, err, store.ErrInvalid)
	_, err = try(f, func(tx store.Tx) (store.App, error) {
		return tx.CreateApp(f.ctx, store.App{ConsumerOrgID: "00000000-0000-4000-8000-000000000000", Name: "web"})
	})
	wantErr(t, err, store.ErrNotFound)

	a := w.app
	a.State, a.Lifecycle, a.Summary = store.AppDisabled, store.AppProduction, "paused"
	up := write(f, func(tx store.Tx) (store.App, error) { return tx.UpdateApp(f.ctx, a) })
	same(t, "GetApp after update", ok(f.s.GetApp(f.ctx, a.ID)), up)
	a.State = ""
	_, err = try(f, func(tx store.Tx) (store.App, error) { return tx.UpdateApp(f.ctx, a) })
	wantErr(t, err, store.ErrInvalid)

	cred := f.credential(a.ID, "main", "client-1")
	sub := f.subscription(a.ID, w.product.ID, "default-plan")
	f.tx(func(tx store.Tx) error { return tx.DeleteApp(f.ctx, a.ID) }) // cascades
	_, err = f.s.GetCredential(f.ctx, cred.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = f.s.GetSubscription(f.ctx, sub.ID)
	wantErr(t, err, store.ErrNotFound)
	same(t, "ListApps total", ok(f.s.ListApps(f.ctx, w.corg.ID, store.ListOptions{})).Total, 0)
}

func testCredentials(t *testing.T, f *fixture) {
	w := f.world()
	cr := f.credential(w.app.ID, "main", "client-1")
	if cr.CatalogID != w.catalog.ID {
		t.Fatalf("credential CatalogID = %q, want the app's catalog %q", cr.CatalogID, w.catalog.ID)
	}
	same(t, "GetCredential", ok(f.s.GetCredential(f.ctx, cr.ID)), cr)
	same(t, "GetCredentialByClientID", ok(f.s.GetCredentialByClientID(f.ctx, w.catalog.ID, "client-1")), cr)

	// The client ID is unique per catalog, also across apps.
	other := f.app(w.corg.ID, "web")
	_, err := try(f, func(tx store.Tx) (store.Credential, error) {
		return tx.CreateCredential(f.ctx, store.Credential{AppID: other.ID, Name: "main", ClientID: "client-1"})
	})
	wantErr(t, err, store.ErrConflict)
	_, err = try(f, func(tx store.Tx) (store.Credential, error) {
		return tx.CreateCredential(f.ctx, store.Credential{AppID: w.app.ID, Name: "main", ClientID: "client-2"})
	})
	wantErr(t, err, store.ErrConflict)
	// Another catalog may use the same client ID.
	c2 := f.catalog(w.org.ID, "production")
	app2 := f.app(f.consumerOrg(c2.ID, "devs2").ID, "mobile")
	f.credential(app2.ID, "main", "client-1")

	_, err = try(f, func(tx store.Tx) (store.Credential, error) {
		return tx.CreateCredential(f.ctx, store.Credential{AppID: w.app.ID, Name: "clear", ClientID: "client-3", SecretHash: "s3cret"})
	})
	wantErr(t, err, store.ErrInvalid)
	noSecret := write(f, func(tx store.Tx) (store.Credential, error) {
		return tx.CreateCredential(f.ctx, store.Credential{AppID: w.app.ID, Name: "public", ClientID: "client-4"})
	})
	same(t, "credential without secret", noSecret.SecretHash, "")

	cr.SecretHash, cr.ClientID, cr.Title = argonHash2, "changed", "Main" // the client ID cannot change
	up := write(f, func(tx store.Tx) (store.Credential, error) { return tx.UpdateCredential(f.ctx, cr) })
	if up.SecretHash != argonHash2 || up.ClientID != "client-1" || up.Title != "Main" {
		t.Fatalf("UpdateCredential = %+v", up)
	}
	same(t, "ListCredentials total", ok(f.s.ListCredentials(f.ctx, w.app.ID, store.ListOptions{})).Total, 2)
	f.tx(func(tx store.Tx) error { return tx.DeleteCredential(f.ctx, cr.ID) })
	_, err = f.s.GetCredentialByClientID(f.ctx, w.catalog.ID, "client-1")
	wantErr(t, err, store.ErrNotFound)
}

func testSubscriptions(t *testing.T, f *fixture) {
	w := f.world()
	s := f.subscription(w.app.ID, w.product.ID, "default-plan")
	if s.State != store.SubscriptionEnabled || s.Name != s.ID {
		t.Fatalf("new subscription = %+v, want enabled and named by its ID", s)
	}
	same(t, "GetSubscription", ok(f.s.GetSubscription(f.ctx, s.ID)), s)
	_, err := try(f, func(tx store.Tx) (store.Subscription, error) {
		return tx.CreateSubscription(f.ctx, store.Subscription{AppID: w.app.ID, ProductID: w.product.ID, Plan: "gold"})
	})
	wantErr(t, err, store.ErrConflict)

	other := f.product(f.catalog(w.org.ID, "production").ID, "weather", "1.0.0")
	_, err = try(f, func(tx store.Tx) (store.Subscription, error) {
		return tx.CreateSubscription(f.ctx, store.Subscription{AppID: w.app.ID, ProductID: other.ID, Plan: "gold"})
	})
	wantErr(t, err, store.ErrInvalid)
	_, err = try(f, func(tx store.Tx) (store.Subscription, error) {
		return tx.CreateSubscription(f.ctx, store.Subscription{AppID: w.app.ID, ProductID: w.product.ID})
	})
	wantErr(t, err, store.ErrInvalid)

	moved := s
	moved.ProductID = other.ID // another catalog
	_, err = try(f, func(tx store.Tx) (store.Subscription, error) { return tx.UpdateSubscription(f.ctx, moved) })
	wantErr(t, err, store.ErrInvalid)
	v2 := f.product(w.catalog.ID, "weather", "2.0.0")
	s.ProductID, s.Plan, s.State = v2.ID, "gold", store.SubscriptionPending // migrate to v2
	up := write(f, func(tx store.Tx) (store.Subscription, error) { return tx.UpdateSubscription(f.ctx, s) })
	if up.ProductID != v2.ID || up.Plan != "gold" {
		t.Fatalf("UpdateSubscription = %+v, want it moved to product %s, plan gold", up, v2.ID)
	}
	same(t, "old product's subscribers", ok(f.s.ListProductSubscriptions(f.ctx, w.product.ID, store.ListOptions{})).Total, 0)
	same(t, "GetSubscription after update", ok(f.s.GetSubscription(f.ctx, s.ID)), up)
	same(t, "ListSubscriptions", ok(f.s.ListSubscriptions(f.ctx, w.app.ID, store.ListOptions{})).Items, []store.Subscription{up})
	f.tx(func(tx store.Tx) error { return tx.DeleteSubscription(f.ctx, s.ID) })
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.DeleteSubscription(f.ctx, s.ID) }), store.ErrNotFound)
}
