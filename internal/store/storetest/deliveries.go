package storetest

import (
	"testing"
	"time"

	"github.com/portico-api/portico/internal/store"
)

// testDeliveries follows one catalog through a gateway's life: configured
// and never pushed, pushed, changed, failed, renamed, unconfigured.
func testDeliveries(t *testing.T, f *fixture) {
	o := f.org("acme")
	c := f.catalog(o.ID, "sandbox")
	in := gatewayValue(o.ID, "gw1")
	in.CatalogDefault = true
	g := write(f, func(tx store.Tx) (store.GatewayService, error) { return tx.CreateGatewayService(f.ctx, in) })
	same(t, "CatalogDefault read back", ok(f.s.GetGatewayService(f.ctx, g.ID)).CatalogDefault, true)
	same(t, "no deliveries before configuring", len(ok(f.s.ListDeliveries(f.ctx))), 0)

	f.tx(func(tx store.Tx) error { return tx.AddCatalogGateway(f.ctx, c.ID, g.ID) })
	d := only(t, ok(f.s.ListDeliveries(f.ctx)))
	want := store.Delivery{GatewayServiceID: g.ID, CatalogID: c.ID, OrgName: "acme", CatalogName: "sandbox",
		Configured: true, CatalogVersion: 0, PushedVersion: -1, FailedVersion: -1}
	same(t, "configured, never pushed", d, want)
	same(t, "outstanding before the first push", d.Outstanding(), int64(1))

	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	d.PushedOrg, d.PushedCatalog, d.PushedVersion, d.LastAttemptAt, d.LastSuccessAt = "acme", "sandbox", 0, at, at
	f.tx(func(tx store.Tx) error { return tx.RecordDelivery(f.ctx, d) })
	same(t, "pushed", only(t, ok(f.s.ListDeliveries(f.ctx))), d)
	same(t, "outstanding after the push", d.Outstanding(), int64(0))

	f.product(c.ID, "p", "1.0.0")
	f.consumerOrg(c.ID, "co")
	d = only(t, ok(f.s.ListDeliveries(f.ctx)))
	same(t, "catalog version after two changes", d.CatalogVersion, int64(2))
	same(t, "outstanding after two changes", d.Outstanding(), int64(2))

	d.FailedVersion, d.Failures, d.Refused, d.LastError, d.LastAttemptAt = 2, 3, true, "the gateway answered 422", at.Add(time.Minute)
	f.tx(func(tx store.Tx) error { return tx.RecordDelivery(f.ctx, d) })
	same(t, "failed", only(t, ok(f.s.ListDeliveries(f.ctx))), d)

	c.Name = "test"
	write(f, func(tx store.Tx) (store.Catalog, error) { return tx.UpdateCatalog(f.ctx, c) })
	d = only(t, ok(f.s.ListDeliveries(f.ctx)))
	if d.CatalogName != "test" || d.PushedCatalog != "sandbox" {
		t.Fatalf("after a rename: catalog %q pushed as %q, want test and sandbox", d.CatalogName, d.PushedCatalog)
	}

	f.tx(func(tx store.Tx) error { return tx.RemoveCatalogGateway(f.ctx, c.ID, g.ID) })
	d = only(t, ok(f.s.ListDeliveries(f.ctx)))
	if d.Configured || d.CatalogVersion != -1 || d.OrgName != "acme" || d.CatalogName != "sandbox" || d.PushedVersion != 0 {
		t.Fatalf("unconfigured delivery = %+v, want the pushed names, version -1, not configured", d)
	}
	same(t, "outstanding removal", d.Outstanding(), int64(1))
	f.tx(func(tx store.Tx) error { return tx.DeleteDelivery(f.ctx, g.ID, c.ID) })
	same(t, "deliveries after the removal", len(ok(f.s.ListDeliveries(f.ctx))), 0)
	wantErr(t, f.txErr(func(tx store.Tx) error { return tx.RecordDelivery(f.ctx, store.Delivery{CatalogID: c.ID}) }), store.ErrInvalid)
}

func only[T any](t *testing.T, items []T) T {
	t.Helper()
	if len(items) != 1 {
		t.Fatalf("got %d items, want 1: %+v", len(items), items)
	}
	return items[0]
}
