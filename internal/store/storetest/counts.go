package storetest

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/store"
)

// testObjectCounts builds two orgs, one with two catalogs, and checks
// every count by scope, zeros included.
func testObjectCounts(t *testing.T, f *fixture) {
	counter, isCounter := f.s.(store.ObjectCounter)
	if !isCounter {
		t.Fatal("the store does not implement store.ObjectCounter")
	}
	empty := ok(counter.CountObjects(f.ctx))
	same(t, "counts of an empty store", render(empty), "provider_orgs//=0 users//=0")

	acme := f.org("acme")
	sandbox := f.catalog(acme.ID, "sandbox")
	prod := f.catalog(acme.ID, "prod")
	beta := f.org("beta")
	f.catalog(beta.ID, "sandbox")
	f.user("ada")

	weather := f.product(sandbox.ID, "weather", "1.0.0")
	p2 := productValue(sandbox.ID, "weather", "2.0.0")
	p2.State = store.ProductDeprecated
	p2.APIs = append(p2.APIs, store.ProductAPI{Name: "maps", Version: "1.0.0", Document: []byte("openapi: 3.0.0\n")})
	write(f, func(tx store.Tx) (store.Product, error) { return tx.CreateProduct(f.ctx, p2) })
	// Another product with an API already counted: APIs count once.
	p3 := productValue(sandbox.ID, "bundle", "1.0.0")
	p3.State = store.ProductStaged
	p3.APIs = []store.ProductAPI{{Name: "maps", Version: "1.0.0", Document: []byte("openapi: 3.0.0\n")}}
	write(f, func(tx store.Tx) (store.Product, error) { return tx.CreateProduct(f.ctx, p3) })
	f.product(prod.ID, "weather", "1.0.0")

	devs := f.consumerOrg(sandbox.ID, "devs")
	f.consumerOrg(sandbox.ID, "partners")
	mobile := f.app(devs.ID, "mobile")
	web := f.app(devs.ID, "web")
	f.subscription(mobile.ID, weather.ID, "gold")
	f.subscription(web.ID, weather.ID, "silver")
	f.credential(mobile.ID, "main", "client-1")

	f.tx(func(tx store.Tx) error {
		for _, name := range []string{"a", "b"} {
			if _, err := tx.CreateDraftAPI(f.ctx, store.DraftAPI{OrgID: acme.ID, Name: name, Version: "1.0.0", Document: []byte("x")}); err != nil {
				return err
			}
		}
		if _, err := tx.CreateDraftProduct(f.ctx, store.DraftProduct{OrgID: beta.ID, Name: "p", Version: "1.0.0", Document: []byte("x")}); err != nil {
			return err
		}
		_, err := tx.CreateGatewayService(f.ctx, gatewayValue(acme.ID, "gw1"))
		return err
	})

	got := ok(counter.CountObjects(f.ctx))
	want := []string{
		// Users: the owners the fixture made for acme, beta, devs and partners, and ada.
		"users//=5", "provider_orgs//=2",
		"catalogs/acme/=2", "catalogs/beta/=1",
		"draft_apis/acme/=2", "draft_apis/beta/=0",
		"draft_products/acme/=0", "draft_products/beta/=1",
		"gateway_services/acme/=1", "gateway_services/beta/=0",
		"consumer_orgs/acme/prod=0", "consumer_orgs/acme/sandbox=2", "consumer_orgs/beta/sandbox=0",
		"apps/acme/prod=0", "apps/acme/sandbox=2", "apps/beta/sandbox=0",
		"subscriptions/acme/prod=0", "subscriptions/acme/sandbox=2", "subscriptions/beta/sandbox=0",
		// weather-api 1.0.0 and 2.0.0, maps 1.0.0 (in two products).
		"apis/acme/prod=1", "apis/acme/sandbox=3", "apis/beta/sandbox=0",
	}
	for _, cat := range []string{"acme/prod", "acme/sandbox", "beta/sandbox"} {
		states := map[string]int{}
		switch cat {
		case "acme/sandbox":
			states = map[string]int{"published": 1, "deprecated": 1, "staged": 1}
		case "acme/prod":
			states = map[string]int{"published": 1}
		}
		for _, s := range []string{"archived", "deprecated", "published", "retired", "staged"} {
			want = append(want, fmt.Sprintf("products/%s/%s=%d", cat, s, states[s]))
		}
	}
	sort.Strings(want)
	same(t, "counts", render(got), strings.Join(want, " "))
}

// render writes counts as sorted "type/org/catalog[/state]=n" words.
func render(counts []store.ObjectCount) string {
	words := make([]string, 0, len(counts))
	for _, c := range counts {
		key := c.Type + "/" + c.Org + "/" + c.Catalog
		if c.State != "" {
			key += "/" + c.State
		}
		words = append(words, fmt.Sprintf("%s=%d", key, c.Count))
	}
	sort.Strings(words)
	return strings.Join(words, " ")
}
