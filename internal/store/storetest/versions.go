package storetest

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/portico-api/portico/internal/store"
)

// testCatalogVersionBumps: every write that changes what a gateway serves
// adds one to its catalog's version, and leaves other catalogs alone.
func testCatalogVersionBumps(t *testing.T, f *fixture) {
	w := f.world()
	bystander := f.catalog(w.org.ID, "production")
	var cred store.Credential
	var sub store.Subscription
	p2 := w.product
	steps := []struct {
		name string
		fn   func(tx store.Tx) error
	}{
		{"CreateProduct", func(tx store.Tx) (err error) {
			p2, err = tx.CreateProduct(f.ctx, productValue(w.catalog.ID, "maps", "1.0.0"))
			return err
		}},
		{"UpdateProduct", func(tx store.Tx) error { _, err := tx.UpdateProduct(f.ctx, p2); return err }},
		{"SetProductAPIs", func(tx store.Tx) error { return tx.SetProductAPIs(f.ctx, p2.ID, nil) }},
		{"CreateConsumerOrg", func(tx store.Tx) error {
			_, err := tx.CreateConsumerOrg(f.ctx, store.ConsumerOrg{CatalogID: w.catalog.ID, Name: "more", OwnerID: w.corg.OwnerID})
			return err
		}},
		{"UpdateConsumerOrg", func(tx store.Tx) error { _, err := tx.UpdateConsumerOrg(f.ctx, w.corg); return err }},
		{"CreateApp", func(tx store.Tx) error {
			_, err := tx.CreateApp(f.ctx, store.App{ConsumerOrgID: w.corg.ID, Name: "web"})
			return err
		}},
		{"UpdateApp", func(tx store.Tx) error { _, err := tx.UpdateApp(f.ctx, w.app); return err }},
		{"CreateCredential", func(tx store.Tx) (err error) {
			cred, err = tx.CreateCredential(f.ctx, store.Credential{AppID: w.app.ID, Name: "main", ClientID: "c1"})
			return err
		}},
		{"UpdateCredential", func(tx store.Tx) error { _, err := tx.UpdateCredential(f.ctx, cred); return err }},
		{"CreateSubscription", func(tx store.Tx) (err error) {
			sub, err = tx.CreateSubscription(f.ctx, store.Subscription{AppID: w.app.ID, ProductID: p2.ID, Plan: "default"})
			return err
		}},
		{"UpdateSubscription", func(tx store.Tx) error { _, err := tx.UpdateSubscription(f.ctx, sub); return err }},
		{"DeleteSubscription", func(tx store.Tx) error { return tx.DeleteSubscription(f.ctx, sub.ID) }},
		{"DeleteCredential", func(tx store.Tx) error { return tx.DeleteCredential(f.ctx, cred.ID) }},
		{"DeleteProduct", func(tx store.Tx) error { return tx.DeleteProduct(f.ctx, p2.ID) }},
		{"DeleteApp", func(tx store.Tx) error { return tx.DeleteApp(f.ctx, w.app.ID) }},
		{"DeleteConsumerOrg", func(tx store.Tx) error { return tx.DeleteConsumerOrg(f.ctx, w.corg.ID) }},
		{"BumpCatalogVersion", func(tx store.Tx) error { _, err := tx.BumpCatalogVersion(f.ctx, w.catalog.ID); return err }},
	}
	for _, step := range steps {
		before := f.version(w.catalog.ID)
		if err := f.txErr(step.fn); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := f.version(w.catalog.ID); got != before+1 {
			t.Errorf("%s: version %d → %d, want +1", step.name, before, got)
		}
	}
	same(t, "the other catalog's version", f.version(bystander.ID), int64(0))
}

// testCatalogVersionOncePerTx: many changes in one transaction are one
// new version per catalog.
func testCatalogVersionOncePerTx(t *testing.T, f *fixture) {
	w := f.world()
	other := f.catalog(w.org.ID, "production")
	start := f.version(w.catalog.ID)
	f.tx(func(tx store.Tx) error {
		v1, err := tx.BumpCatalogVersion(f.ctx, w.catalog.ID)
		if err != nil {
			return err
		}
		if _, err := tx.CreateProduct(f.ctx, productValue(w.catalog.ID, "maps", "1.0.0")); err != nil {
			return err
		}
		if _, err := tx.CreateApp(f.ctx, store.App{ConsumerOrgID: w.corg.ID, Name: "web"}); err != nil {
			return err
		}
		if _, err := tx.CreateProduct(f.ctx, productValue(other.ID, "maps", "1.0.0")); err != nil {
			return err
		}
		v2, err := tx.BumpCatalogVersion(f.ctx, w.catalog.ID)
		if v1 != start+1 || v2 != v1 {
			t.Errorf("BumpCatalogVersion in one tx = %d then %d, want %d twice", v1, v2, start+1)
		}
		if seen, _ := tx.CatalogVersion(f.ctx, w.catalog.ID); seen != v1 {
			t.Errorf("CatalogVersion inside the tx = %d, want %d", seen, v1)
		}
		return err
	})
	same(t, "version after one tx of many changes", f.version(w.catalog.ID), start+1)
	same(t, "other catalog's version", f.version(other.ID), int64(1))
	wantErr(t, f.txErr(func(tx store.Tx) error {
		_, err := tx.BumpCatalogVersion(f.ctx, "00000000-0000-4000-8000-000000000000")
		return err
	}), store.ErrNotFound)
}

// testCatalogVersionRollback: a rolled-back change leaves the version as
// it was.
func testCatalogVersionRollback(t *testing.T, f *fixture) {
	w := f.world()
	start := f.version(w.catalog.ID)
	errBoom := errors.New("boom")
	err := f.txErr(func(tx store.Tx) error {
		if _, err := tx.CreateProduct(f.ctx, productValue(w.catalog.ID, "maps", "1.0.0")); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Tx = %v", err)
	}
	same(t, "version after rollback", f.version(w.catalog.ID), start)
	_, err = f.s.GetProductByName(f.ctx, w.catalog.ID, "maps", "1.0.0")
	wantErr(t, err, store.ErrNotFound)
	// A publish that fails on a conflict rolls its bump back too.
	_, err = try(f, func(tx store.Tx) (store.Product, error) {
		return tx.CreateProduct(f.ctx, productValue(w.catalog.ID, w.product.Name, w.product.Version))
	})
	wantErr(t, err, store.ErrConflict)
	same(t, "version after a conflict", f.version(w.catalog.ID), start)
}

// testCatalogVersionUnrelated: changes a gateway does not serve leave the
// version alone.
func testCatalogVersionUnrelated(t *testing.T, f *fixture) {
	w := f.world()
	start := f.version(w.catalog.ID)
	c := w.catalog
	c.Title = "Renamed"
	write(f, func(tx store.Tx) (store.Catalog, error) { return tx.UpdateCatalog(f.ctx, c) })
	write(f, func(tx store.Tx) (store.DraftAPI, error) {
		return tx.CreateDraftAPI(f.ctx, store.DraftAPI{OrgID: w.org.ID, Name: "x", Version: "1", Document: []byte("x")})
	})
	g := write(f, func(tx store.Tx) (store.GatewayService, error) {
		return tx.CreateGatewayService(f.ctx, gatewayValue(w.org.ID, "gw"))
	})
	f.tx(func(tx store.Tx) error { return tx.AddCatalogGateway(f.ctx, c.ID, g.ID) })
	write(f, func(tx store.Tx) (store.AuditEntry, error) {
		return tx.AppendAudit(f.ctx, store.AuditEntry{Action: "update", ObjectType: "catalog", ObjectID: c.ID})
	})
	same(t, "version after unrelated writes", f.version(c.ID), start)
}

// testConcurrentPublish: 8 publishers race to publish the same 10
// products into one catalog, each publish a transaction that creates the
// product, bumps the version and audits. Every product must exist exactly
// once, and the version must count exactly the successful publishes: no
// bump lost to a race, none kept from a failed publish.
func testConcurrentPublish(t *testing.T, f *fixture) {
	const publishers, products = 8, 10
	o := f.org("acme")
	c := f.catalog(o.ID, "sandbox")
	var (
		mu       sync.Mutex
		versions []int64
		wg       sync.WaitGroup
	)
	for g := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range products {
				name := fmt.Sprintf("p%d", (i+g)%products) // each starts elsewhere
				v, err := publish(f, c.ID, name)
				switch {
				case err == nil:
					mu.Lock()
					versions = append(versions, v)
					mu.Unlock()
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("publish %s: %v", name, err)
				}
			}
		}()
	}
	wg.Wait()
	pg := ok(f.s.ListProducts(f.ctx, c.ID, store.ListOptions{}))
	seen := map[string]int{}
	for _, p := range pg.Items {
		seen[p.Name]++
	}
	if pg.Total != products || len(seen) != products {
		t.Fatalf("%d products (%d names) after the race, want %d: %v", pg.Total, len(seen), products, seen)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
	for i, v := range versions {
		if v != int64(i+1) {
			t.Fatalf("versions the successful publishes saw = %v, want 1…%d once each", versions, products)
		}
	}
	same(t, "successful publishes", len(versions), products)
	same(t, "final version", f.version(c.ID), int64(products))
	same(t, "audit entries", ok(f.s.ListAudit(f.ctx, store.AuditFilter{ObjectType: "product"}, store.ListOptions{})).Total, products)
}

// publish is one publisher's transaction; it returns the version it
// committed.
func publish(f *fixture, catalogID, name string) (int64, error) {
	var v int64
	err := f.s.Tx(f.ctx, func(tx store.Tx) error {
		p, err := tx.CreateProduct(f.ctx, productValue(catalogID, name, "1.0.0"))
		if err != nil {
			return err
		}
		if v, err = tx.BumpCatalogVersion(f.ctx, catalogID); err != nil {
			return err
		}
		_, err = tx.AppendAudit(f.ctx, store.AuditEntry{Action: "publish", ObjectType: "product", ObjectID: p.ID})
		return err
	})
	return v, err
}
