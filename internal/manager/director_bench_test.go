package manager_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/manager"
	"github.com/portico-api/portico/internal/store"
)

// BenchmarkCatalogWire measures what the director does once per catalog
// version: read a catalog of 20 products (one API each) and 50 apps from
// SQLite and encode its bundle.
func BenchmarkCatalogWire(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"), bytes.Repeat([]byte{7}, store.SecretKeySize))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var org store.ProviderOrg
	var cat store.Catalog
	err = st.Tx(ctx, func(tx store.Tx) error {
		u, err := tx.CreateUser(ctx, store.User{Name: "ada"})
		if err != nil {
			return err
		}
		if org, err = tx.CreateProviderOrg(ctx, store.ProviderOrg{Name: "acme", OwnerID: u.ID}); err != nil {
			return err
		}
		if cat, err = tx.CreateCatalog(ctx, store.Catalog{OrgID: org.ID, Name: "sandbox"}); err != nil {
			return err
		}
		return fill(ctx, tx, cat.ID, u.ID)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	size := 0
	for b.Loop() {
		w, err := manager.CatalogWire(ctx, st, org, cat, 1)
		if err != nil {
			b.Fatal(err)
		}
		data, err := bundle.Encode(w)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(size), "bytes/bundle")
}

// fill adds 20 published products with an API each, and a consumer org
// with 50 apps subscribed to the first product.
func fill(ctx context.Context, tx store.Tx, catalogID, ownerID string) error {
	var first store.Product
	for i := range 20 {
		api := strings.Replace(greetAPI, "x-ibm-name: greet", fmt.Sprintf("x-ibm-name: greet%d", i), 1)
		doc := fmt.Sprintf("product: 1.0.0\ninfo: {name: p%d, version: 1.0.0, title: P}\napis: {a: {name: 'greet%d:1.0.0'}}\nplans: {default-plan: {title: Default}}\n", i, i)
		p, err := tx.CreateProduct(ctx, store.Product{CatalogID: catalogID, Name: fmt.Sprintf("p%d", i), Version: "1.0.0",
			State: store.ProductPublished, Document: []byte(doc),
			APIs: []store.ProductAPI{{Name: fmt.Sprintf("greet%d", i), Version: "1.0.0", Document: []byte(api)}}})
		if err != nil {
			return err
		}
		if i == 0 {
			first = p
		}
	}
	co, err := tx.CreateConsumerOrg(ctx, store.ConsumerOrg{CatalogID: catalogID, Name: "partners", OwnerID: ownerID})
	if err != nil {
		return err
	}
	for i := range 50 {
		a, err := tx.CreateApp(ctx, store.App{ConsumerOrgID: co.ID, Name: fmt.Sprintf("app%d", i)})
		if err != nil {
			return err
		}
		if _, err := tx.CreateCredential(ctx, store.Credential{AppID: a.ID, Name: "main", ClientID: fmt.Sprintf("client-%d", i)}); err != nil {
			return err
		}
		if _, err := tx.CreateSubscription(ctx, store.Subscription{AppID: a.ID, ProductID: first.ID, Plan: "default-plan"}); err != nil {
			return err
		}
	}
	return nil
}
