// Package storetest is the conformance suite every store engine passes:
// the same calls must give the same results and the same errors on
// SQLite and PostgreSQL, so that the manager never depends on which one
// runs underneath.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/store"
)

// Run runs the suite. open must return a new, empty, migrated store for
// each call (each subtest calls it once) and close it when t ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f *fixture)
	}{
		{"SchemaVersion", testSchemaVersion},
		{"Users", testUsers},
		{"UserRefusals", testUserRefusals},
		{"ProviderOrgs", testProviderOrgs},
		{"ProviderOrgDelete", testProviderOrgDelete},
		{"Memberships", testMemberships},
		{"Catalogs", testCatalogs},
		{"CatalogDelete", testCatalogDelete},
		{"DraftAPIs", testDraftAPIs},
		{"DraftProducts", testDraftProducts},
		{"Products", testProducts},
		{"ProductAPIs", testProductAPIs},
		{"ProductDelete", testProductDelete},
		{"ConsumerOrgs", testConsumerOrgs},
		{"ConsumerOrgCascade", testConsumerOrgCascade},
		{"Apps", testApps},
		{"Credentials", testCredentials},
		{"Subscriptions", testSubscriptions},
		{"CatalogConsumers", testCatalogConsumers},
		{"APIKeys", testAPIKeys},
		{"Tokens", testTokens},
		{"ConsumeToken", testConsumeToken},
		{"GatewayServices", testGatewayServices},
		{"GatewayClientKeyEncrypted", testGatewayClientKeyEncrypted},
		{"CatalogGateways", testCatalogGateways},
		{"Deliveries", testDeliveries},
		{"Audit", testAudit},
		{"AuditAppendOnly", testAuditAppendOnly},
		{"Paging", testPaging},
		{"Names", testNames},
		{"TxRollback", testTxRollback},
		{"TxAbortedAfterFailedWrite", testTxAborted},
		{"TxPanic", testTxPanic},
		{"CatalogVersionBumps", testCatalogVersionBumps},
		{"CatalogVersionOncePerTx", testCatalogVersionOncePerTx},
		{"CatalogVersionRollback", testCatalogVersionRollback},
		{"CatalogVersionUnrelatedWrites", testCatalogVersionUnrelated},
		{"ConcurrentPublish", testConcurrentPublish},
		{"Analytics", testAnalytics},
		{"ObjectCounts", testObjectCounts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer report(t)
			tc.fn(t, &fixture{t: t, s: open(t), ctx: t.Context()})
		})
	}
}

// fixture is one test's store with helpers that create objects or fail.
type fixture struct {
	t   *testing.T
	s   store.Store
	ctx context.Context
}

// tx runs fn in a transaction and fails the test on error.
func (f *fixture) tx(fn func(tx store.Tx) error) {
	f.t.Helper()
	if err := f.s.Tx(f.ctx, fn); err != nil {
		f.t.Fatal(err)
	}
}

// txErr runs fn in a transaction and returns its error.
func (f *fixture) txErr(fn func(tx store.Tx) error) error {
	return f.s.Tx(f.ctx, fn)
}

// write runs one write in its own transaction and fails the test on error.
func write[T any](f *fixture, fn func(tx store.Tx) (T, error)) T {
	f.t.Helper()
	var v T
	f.tx(func(tx store.Tx) (err error) {
		v, err = fn(tx)
		return err
	})
	return v
}

// ok returns v, or fails the test when err is set. It takes no
// *testing.T so that it can wrap a call's two results, ok(s.GetUser(…));
// the failure travels as a panic to the subtest, which reports it. Call
// it only on the subtest's goroutine.
func ok[T any](v T, err error) T {
	if err != nil {
		_, file, line, _ := runtime.Caller(1)
		panic(failure{err: err, at: fmt.Sprintf("%s:%d", filepath.Base(file), line)})
	}
	return v
}

// failure is an error ok hands to report.
type failure struct {
	err error
	at  string
}

// report turns ok's panic into a test failure; other panics go on.
func report(t *testing.T) {
	if p := recover(); p != nil {
		if f, isFailure := p.(failure); isFailure {
			t.Fatalf("%s: %v", f.at, f.err)
		}
		panic(p)
	}
}

// wantErr checks that err wraps target and that its message says
// something (the object and what to do) beyond the sentinel.
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want one wrapping %q", err, target)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "store: ") || len(msg) < len(target.Error())+20 {
		t.Errorf("error %q does not explain itself", msg)
	}
}

// same fails when got and want differ.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// Fixed values the tests use.
const (
	argonHash  = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
	argonHash2 = "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0MTIz$b3RoZXJoYXNob3RoZXJoYXNob3RoZXJoYXNo"
)

// keyHash is a valid API key hash distinct per n.
func keyHash(n int) string { return fmt.Sprintf("%064x", n+1) }

func (f *fixture) user(name string) store.User {
	f.t.Helper()
	return write(f, func(tx store.Tx) (store.User, error) {
		return tx.CreateUser(f.ctx, store.User{Name: name, Title: strings.ToUpper(name), Email: name + "@example.com"})
	})
}

// owner returns the user "<name>-owner", creating it when needed.
func (f *fixture) owner(name string) store.User {
	f.t.Helper()
	if u, err := f.s.GetUserByName(f.ctx, name+"-owner"); err == nil {
		return u
	}
	return f.user(name + "-owner")
}

// org creates a provider org owned by the user "<name>-owner".
func (f *fixture) org(name string) store.ProviderOrg {
	f.t.Helper()
	owner := f.owner(name)
	return write(f, func(tx store.Tx) (store.ProviderOrg, error) {
		return tx.CreateProviderOrg(f.ctx, store.ProviderOrg{Name: name, Title: "Org " + name, OwnerID: owner.ID})
	})
}

func (f *fixture) catalog(orgID, name string) store.Catalog {
	f.t.Helper()
	return write(f, func(tx store.Tx) (store.Catalog, error) {
		return tx.CreateCatalog(f.ctx, store.Catalog{OrgID: orgID, Name: name, Title: "Catalog " + name})
	})
}

func (f *fixture) product(catalogID, name, version string) store.Product {
	f.t.Helper()
	return write(f, func(tx store.Tx) (store.Product, error) {
		return tx.CreateProduct(f.ctx, productValue(catalogID, name, version))
	})
}

func productValue(catalogID, name, version string) store.Product {
	return store.Product{CatalogID: catalogID, Name: name, Version: version, Title: name,
		State: store.ProductPublished, Document: []byte("product: 1.0.0\ninfo: {name: " + name + "}\n"),
		APIs: []store.ProductAPI{{Name: name + "-api", Version: version, Document: []byte("openapi: 3.0.0\n")}}}
}

func (f *fixture) consumerOrg(catalogID, name string) store.ConsumerOrg {
	f.t.Helper()
	owner := f.owner(name)
	return write(f, func(tx store.Tx) (store.ConsumerOrg, error) {
		return tx.CreateConsumerOrg(f.ctx, store.ConsumerOrg{CatalogID: catalogID, Name: name, OwnerID: owner.ID})
	})
}

func (f *fixture) app(consumerOrgID, name string) store.App {
	f.t.Helper()
	return write(f, func(tx store.Tx) (store.App, error) {
		return tx.CreateApp(f.ctx, store.App{ConsumerOrgID: consumerOrgID, Name: name, Title: "App " + name})
	})
}

func (f *fixture) credential(appID, name, clientID string) store.Credential {
	f.t.Helper()
	return write(f, func(tx store.Tx) (store.Credential, error) {
		return tx.CreateCredential(f.ctx, store.Credential{AppID: appID, Name: name, ClientID: clientID, SecretHash: argonHash})
	})
}

func (f *fixture) subscription(appID, productID, plan string) store.Subscription {
	f.t.Helper()
	return write(f, func(tx store.Tx) (store.Subscription, error) {
		return tx.CreateSubscription(f.ctx, store.Subscription{AppID: appID, ProductID: productID, Plan: plan})
	})
}

// world is one of everything, linked: the usual starting point.
type world struct {
	org     store.ProviderOrg
	catalog store.Catalog
	product store.Product
	corg    store.ConsumerOrg
	app     store.App
}

func (f *fixture) world() world {
	f.t.Helper()
	var w world
	w.org = f.org("acme")
	w.catalog = f.catalog(w.org.ID, "sandbox")
	w.product = f.product(w.catalog.ID, "weather", "1.0.0")
	w.corg = f.consumerOrg(w.catalog.ID, "devs")
	w.app = f.app(w.corg.ID, "mobile")
	return w
}

// version reads a catalog's version.
func (f *fixture) version(catalogID string) int64 {
	f.t.Helper()
	return ok(f.s.CatalogVersion(f.ctx, catalogID))
}

// rawDB returns the engine's database handle for checks the API cannot
// make; the test fails if the store does not offer one.
func (f *fixture) rawDB() store.RawDB {
	f.t.Helper()
	raw, isRaw := f.s.(store.RawDB)
	if !isRaw {
		f.t.Fatal("the store does not implement store.RawDB")
	}
	return raw
}

// quoteID makes an ID a SQL literal for raw queries, which cannot use
// placeholders portably; IDs are UUIDs, checked here.
func quoteID(t *testing.T, id string) string {
	t.Helper()
	if len(id) != 36 || strings.Trim(id, "0123456789abcdef-") != "" {
		t.Fatalf("%q is not a UUID", id)
	}
	return "'" + id + "'"
}

func testSchemaVersion(t *testing.T, f *fixture) {
	v := ok(f.s.SchemaVersion(f.ctx))
	if want := store.LatestSchemaVersion(); v != want || want < 1 {
		t.Fatalf("SchemaVersion = %d, want LatestSchemaVersion %d (≥ 1)", v, want)
	}
}
