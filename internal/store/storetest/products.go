package storetest

import (
	"bytes"
	"testing"

	"github.com/portico-api/portico/internal/store"
)

// yamlDoc is a document whose bytes must survive exactly (comments,
// ordering, trailing newline, non-ASCII, even a NUL).
func yamlDoc() []byte {
	return []byte("# weather API — ©\nopenapi: 3.0.0\ninfo: {title: Weather, version: 1.0.0}\n\x00binary-safe\n")
}

func testDraftAPIs(t *testing.T, f *fixture) {
	o := f.org("acme")
	d := write(f, func(tx store.Tx) (store.DraftAPI, error) {
		return tx.CreateDraftAPI(f.ctx, store.DraftAPI{OrgID: o.ID, Name: "weather", Version: "1.0.0", Title: "Weather", Document: yamlDoc()})
	})
	got := ok(f.s.GetDraftAPI(f.ctx, d.ID))
	same(t, "GetDraftAPI", got, d)
	if !bytes.Equal(got.Document, yamlDoc()) {
		t.Fatalf("document changed: %q", got.Document)
	}
	same(t, "GetDraftAPIByName", ok(f.s.GetDraftAPIByName(f.ctx, o.ID, "weather", "1.0.0")), d)
	_, err := f.s.GetDraftAPIByName(f.ctx, o.ID, "weather", "2.0.0")
	wantErr(t, err, store.ErrNotFound)

	v2 := write(f, func(tx store.Tx) (store.DraftAPI, error) {
		return tx.CreateDraftAPI(f.ctx, store.DraftAPI{OrgID: o.ID, Name: "weather", Version: "2.0.0", Document: []byte("v2")})
	})
	_, err = try(f, func(tx store.Tx) (store.DraftAPI, error) {
		return tx.CreateDraftAPI(f.ctx, store.DraftAPI{OrgID: o.ID, Name: "weather", Version: "1.0.0"})
	})
	wantErr(t, err, store.ErrConflict)
	v2.Version = "1.0.0"
	_, err = try(f, func(tx store.Tx) (store.DraftAPI, error) { return tx.UpdateDraftAPI(f.ctx, v2) })
	wantErr(t, err, store.ErrConflict)
	v2.Version, v2.Document = "2.1.0", []byte("v2.1")
	up := write(f, func(tx store.Tx) (store.DraftAPI, error) { return tx.UpdateDraftAPI(f.ctx, v2) })
	same(t, "GetDraftAPI after update", ok(f.s.GetDraftAPI(f.ctx, v2.ID)), up)

	pg := ok(f.s.ListDraftAPIs(f.ctx, o.ID, store.ListOptions{}))
	if pg.Total != 2 || pg.Items[0].Version != "1.0.0" || pg.Items[1].Version != "2.1.0" {
		t.Fatalf("ListDraftAPIs = %+v", pg)
	}
	f.tx(func(tx store.Tx) error { return tx.DeleteDraftAPI(f.ctx, d.ID) })
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.DeleteDraftAPI(f.ctx, d.ID) }), store.ErrNotFound)
}

func testDraftProducts(t *testing.T, f *fixture) {
	o := f.org("acme")
	d := write(f, func(tx store.Tx) (store.DraftProduct, error) {
		return tx.CreateDraftProduct(f.ctx, store.DraftProduct{OrgID: o.ID, Name: "weather", Version: "1.0.0", Document: yamlDoc()})
	})
	same(t, "GetDraftProduct", ok(f.s.GetDraftProduct(f.ctx, d.ID)), d)
	same(t, "GetDraftProductByName", ok(f.s.GetDraftProductByName(f.ctx, o.ID, "weather", "1.0.0")), d)
	// Draft APIs and draft products are separate name spaces.
	write(f, func(tx store.Tx) (store.DraftAPI, error) {
		return tx.CreateDraftAPI(f.ctx, store.DraftAPI{OrgID: o.ID, Name: "weather", Version: "1.0.0", Document: []byte("a")})
	})
	_, err := try(f, func(tx store.Tx) (store.DraftProduct, error) {
		return tx.CreateDraftProduct(f.ctx, store.DraftProduct{OrgID: o.ID, Name: "weather", Version: "1.0.0"})
	})
	wantErr(t, err, store.ErrConflict)
	d.Title = "Weather product"
	up := write(f, func(tx store.Tx) (store.DraftProduct, error) { return tx.UpdateDraftProduct(f.ctx, d) })
	same(t, "ListDraftProducts", ok(f.s.ListDraftProducts(f.ctx, o.ID, store.ListOptions{})),
		store.Page[store.DraftProduct]{Items: []store.DraftProduct{up}, Total: 1})
	f.tx(func(tx store.Tx) error { return tx.DeleteDraftProduct(f.ctx, d.ID) })
	_, err = f.s.GetDraftProduct(f.ctx, d.ID)
	wantErr(t, err, store.ErrNotFound)
}

func testProducts(t *testing.T, f *fixture) {
	o := f.org("acme")
	c := f.catalog(o.ID, "sandbox")
	p := write(f, func(tx store.Tx) (store.Product, error) {
		return tx.CreateProduct(f.ctx, store.Product{CatalogID: c.ID, Name: "weather", Version: "1.0.0", Document: yamlDoc(),
			APIs: []store.ProductAPI{{Name: "zeta", Version: "1.0.0", Document: []byte("z")}, {Name: "alpha", Version: "2.0.0", Document: yamlDoc()}}})
	})
	if p.State != store.ProductStaged || len(p.APIs) != 2 || p.APIs[0].Name != "alpha" {
		t.Fatalf("CreateProduct = %+v, want state staged and APIs sorted by name", p)
	}
	same(t, "GetProduct", ok(f.s.GetProduct(f.ctx, p.ID)), p)
	same(t, "GetProductByName", ok(f.s.GetProductByName(f.ctx, c.ID, "weather", "1.0.0")), p)

	_, err := try(f, func(tx store.Tx) (store.Product, error) {
		return tx.CreateProduct(f.ctx, store.Product{CatalogID: c.ID, Name: "weather", Version: "1.0.0"})
	})
	wantErr(t, err, store.ErrConflict)
	_, err = try(f, func(tx store.Tx) (store.Product, error) {
		return tx.CreateProduct(f.ctx, store.Product{CatalogID: c.ID, Name: "weather", Version: "3.0.0", State: "live"})
	})
	wantErr(t, err, store.ErrInvalid)
	_, err = try(f, func(tx store.Tx) (store.Product, error) {
		return tx.CreateProduct(f.ctx, store.Product{CatalogID: "00000000-0000-4000-8000-000000000000", Name: "x", Version: "1"})
	})
	wantErr(t, err, store.ErrNotFound)

	for _, st := range []store.ProductState{store.ProductPublished, store.ProductDeprecated, store.ProductRetired, store.ProductArchived} {
		p.State, p.Name, p.Title = st, "ignored", "Weather "+string(st)
		up := write(f, func(tx store.Tx) (store.Product, error) { return tx.UpdateProduct(f.ctx, p) })
		if up.State != st || up.Name != "weather" || len(up.APIs) != 2 {
			t.Fatalf("UpdateProduct to %s = %+v, want the state changed, the name kept and the APIs returned", st, up)
		}
		same(t, "GetProduct after update", ok(f.s.GetProduct(f.ctx, p.ID)), up)
	}
	f.product(c.ID, "weather", "2.0.0")
	f.product(c.ID, "maps", "1.0.0")
	pg := ok(f.s.ListProducts(f.ctx, c.ID, store.ListOptions{Limit: 2}))
	if pg.Total != 3 || len(pg.Items) != 2 || pg.Items[0].Name != "maps" || pg.Items[1].Version != "1.0.0" || len(pg.Items[1].APIs) != 2 {
		t.Fatalf("ListProducts = %+v", pg)
	}
}

func testProductAPIs(t *testing.T, f *fixture) {
	o := f.org("acme")
	c := f.catalog(o.ID, "sandbox")
	p := f.product(c.ID, "weather", "1.0.0")
	apis := []store.ProductAPI{{Name: "b", Version: "1", Document: []byte("b")}, {Name: "a", Version: "1", Document: yamlDoc()}}
	f.tx(func(tx store.Tx) error { return tx.SetProductAPIs(f.ctx, p.ID, apis) })
	got := ok(f.s.GetProduct(f.ctx, p.ID)).APIs
	same(t, "APIs after SetProductAPIs", got, []store.ProductAPI{apis[1], apis[0]})
	dup := append(apis, store.ProductAPI{Name: "a", Version: "1"})
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.SetProductAPIs(f.ctx, p.ID, dup) }), store.ErrInvalid)
	f.tx(func(tx store.Tx) error { return tx.SetProductAPIs(f.ctx, p.ID, nil) })
	same(t, "APIs after clearing", ok(f.s.GetProduct(f.ctx, p.ID)).APIs, []store.ProductAPI{})
	wantErr(t, f.txErr(func(tx store.Tx) error {
		return tx.SetProductAPIs(f.ctx, "00000000-0000-4000-8000-000000000000", apis)
	}), store.ErrNotFound)
}

// testProductDelete: refused while subscribed; its APIs go with it.
func testProductDelete(t *testing.T, f *fixture) {
	w := f.world()
	sub := f.subscription(w.app.ID, w.product.ID, "default-plan")
	del := func(tx store.Tx) error { return tx.DeleteProduct(f.ctx, w.product.ID) }
	wantErr(t, f.txErr(del), store.ErrConflict)
	same(t, "subscribers", ok(f.s.ListProductSubscriptions(f.ctx, w.product.ID, store.ListOptions{})).Items, []store.Subscription{sub})
	f.tx(func(tx store.Tx) error { return tx.DeleteSubscription(f.ctx, sub.ID) })
	f.tx(del)
	_, err := f.s.GetProduct(f.ctx, w.product.ID)
	wantErr(t, err, store.ErrNotFound)
	var n int
	row := f.rawDB().RawDB().QueryRowContext(f.ctx, "SELECT COUNT(*) FROM product_apis WHERE product_id = "+quoteID(t, w.product.ID))
	if err := row.Scan(&n); err != nil || n != 0 {
		t.Fatalf("product_apis rows left after delete: %d (%v)", n, err)
	}
	wantErr(t, f.txErr(del), store.ErrNotFound)
}
