package manager_test

import (
	"context"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/store"
)

// migrationEnv has weather:1.0.0 published with plans default-plan and
// gold, each with a subscriber, and weather:2.0.0 staged with plans basic
// and premium.
func migrationEnv(t *testing.T) (e *consumerEnv, oldP, newP store.Product, subs []string) {
	e = newConsumerEnv(t)
	oldP = e.product("weather", "1.0.0", store.ProductPublished, "  default-plan: {title: Default}\n  gold: {title: Gold}\n")
	newP = e.product("weather", "2.0.0", store.ProductStaged, "  basic: {title: Basic}\n  premium: {title: Premium}\n")
	e.must(201, "POST", "/api/catalogs/acme/sandbox/consumer-orgs", e.dv, map[string]any{"name": "devs"})
	for _, app := range []string{"app1", "app2"} {
		e.must(201, "POST", "/api/consumer-orgs/acme/sandbox/devs/apps", e.dv, map[string]any{"name": app})
	}
	subs = append(subs,
		e.must(201, "POST", "/api/apps/acme/sandbox/devs/app1/subscriptions", e.dv, map[string]any{"product": "weather:1.0.0", "plan": "default-plan"})["id"].(string),
		e.must(201, "POST", "/api/apps/acme/sandbox/devs/app2/subscriptions", e.dv, map[string]any{"product_url": "http://manager.test/products/" + oldP.ID, "plan": "gold"})["id"].(string))
	return e, oldP, newP, subs
}

func (e *consumerEnv) productState(id string) store.ProductState {
	e.t.Helper()
	p, err := e.st.GetProduct(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.State
}

func (e *consumerEnv) sub(id string) store.Subscription {
	e.t.Helper()
	s, err := e.st.GetSubscription(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func TestReplaceMovesSubscriptions(t *testing.T) {
	e, oldP, newP, subs := migrationEnv(t)
	const path = "/api/catalogs/acme/sandbox/products/weather:2.0.0/replace"
	full := map[string]any{"product_url": "http://manager.test/api/catalogs/acme/sandbox/products/" + oldP.ID,
		"plans": []map[string]string{{"source": "default-plan", "target": "basic"}, {"source": "gold", "target": "premium"}}}

	if code, _ := e.do("POST", path, "", full); code != 401 {
		t.Errorf("without a token: %d", code)
	}
	for _, tok := range []string{e.none, e.viewer} {
		if code, _ := e.do("POST", path, tok, full); code != 403 {
			t.Errorf("with too low a role: %d", code)
		}
	}

	// A subscribed plan without a mapping: 400 naming it, nothing changes.
	out := e.must(400, "POST", path, e.dv, map[string]any{"product_url": "weather:1.0.0",
		"plans": []map[string]string{{"source": "default-plan", "target": "basic"}}})
	if msg := strings.Join(messages(out), " "); !strings.Contains(msg, `"gold"`) {
		t.Errorf("the message should name plan gold: %s", msg)
	}
	// A target plan the new product lacks: 400.
	out = e.must(400, "POST", path, e.dv, map[string]any{"product_url": "weather:1.0.0",
		"plans": []map[string]string{{"source": "default-plan", "target": "basic"}, {"source": "gold", "target": "platinum"}}})
	if msg := strings.Join(messages(out), " "); !strings.Contains(msg, `"platinum"`) {
		t.Errorf("the message should name plan platinum: %s", msg)
	}
	e.must(400, "POST", path, e.dv, map[string]any{"plans": []any{}})
	e.must(404, "POST", path, e.dv, map[string]any{"product_url": "weather:9.9.9"})
	if e.productState(oldP.ID) != store.ProductPublished || e.productState(newP.ID) != store.ProductStaged {
		t.Fatal("a refused replace changed a product's state")
	}
	if s := e.sub(subs[0]); s.ProductID != oldP.ID || s.Plan != "default-plan" {
		t.Fatalf("a refused replace moved a subscription: %+v", s)
	}

	out = e.must(200, "POST", path, e.dv, full)
	if out["type"] != "product" || out["id"] != newP.ID || out["state"] != "published" {
		t.Fatalf("replace: %v", out)
	}
	if st := e.productState(oldP.ID); st != store.ProductRetired {
		t.Errorf("the old product is %s, want retired", st)
	}
	for i, want := range []string{"basic", "premium"} {
		if s := e.sub(subs[i]); s.ProductID != newP.ID || s.Plan != want {
			t.Errorf("subscription %d: product %s plan %s, want %s plan %s", i, s.ProductID, s.Plan, newP.ID, want)
		}
	}
	got := e.must(200, "GET", "/api/apps/acme/sandbox/devs/app1/subscriptions/"+subs[0], e.viewer, nil)
	if got["plan"] != "basic" || !strings.HasSuffix(got["product_url"].(string), "/products/"+newP.ID) {
		t.Errorf("the subscription object: %v", got)
	}
	if e.audits("product", newP.ID) != 1 || e.audits("product", oldP.ID) != 1 {
		t.Errorf("audits: new %d, old %d", e.audits("product", newP.ID), e.audits("product", oldP.ID))
	}
	// The old product is retired now: it cannot be replaced again.
	e.must(400, "POST", path, e.dv, full)
}

func TestSupersedeDeprecatesTheOldProduct(t *testing.T) {
	e, oldP, newP, subs := migrationEnv(t)
	const path = "/api/catalogs/acme/sandbox/products/weather:2.0.0/supersede"
	body := map[string]any{"product_url": oldP.ID,
		"plans": []map[string]string{{"source": "default-plan", "target": "premium"}, {"source": "gold", "target": "premium"}}}
	if code, _ := e.do("POST", path, "", body); code != 401 {
		t.Errorf("without a token: %d", code)
	}
	if code, _ := e.do("POST", path, e.viewer, body); code != 403 {
		t.Errorf("as a viewer: %d", code)
	}
	out := e.must(200, "POST", "/api/catalogs/acme/sandbox/products/"+newP.ID+"/supersede", e.dv, body)
	if out["state"] != "published" || out["name"] != "weather" || out["version"] != "2.0.0" {
		t.Fatalf("supersede: %v", out)
	}
	if st := e.productState(oldP.ID); st != store.ProductDeprecated {
		t.Errorf("the old product is %s, want deprecated", st)
	}
	for _, id := range subs {
		if s := e.sub(id); s.ProductID != newP.ID || s.Plan != "premium" || s.State != store.SubscriptionState("enabled") {
			t.Errorf("subscription: %+v", s)
		}
	}
	e.must(400, "POST", path, e.dv, map[string]any{"product_url": "weather:2.0.0"}) // itself
}

func TestPublishDraftProduct(t *testing.T) {
	e := newDraftEnv(t)
	dev := e.tokens["developer"]
	if code, out := e.draftRaw("POST", "/api/orgs/acme/drafts/draft-apis", dev, "application/yaml", []byte(draftAPIYAML)); code != 201 {
		t.Fatalf("draft API: %d %v", code, out)
	}
	if code, out := e.draftRaw("POST", "/api/orgs/acme/drafts/draft-products", dev, "application/yaml", []byte(draftProductYAML)); code != 201 {
		t.Fatalf("draft product: %d %v", code, out)
	}
	byRef := strings.Replace(strings.Replace(draftProductYAML, "version: 1.0.0", "version: 2.0.0", 1),
		"{name: 'weather:1.0.0'}", "{$ref: weather_1.0.0.yaml}", 1)
	if code, out := e.draftRaw("POST", "/api/orgs/acme/drafts/draft-products", dev, "application/yaml", []byte(byRef)); code != 201 {
		t.Fatalf("draft product by $ref: %d %v", code, out)
	}
	missing := strings.Replace(strings.Replace(draftProductYAML, "version: 1.0.0", "version: 3.0.0", 1), "weather:1.0.0", "weather:7.0.0", 1)
	if code, out := e.draftRaw("POST", "/api/orgs/acme/drafts/draft-products", dev, "application/yaml", []byte(missing)); code != 201 {
		t.Fatalf("draft product naming a missing API: %d %v", code, out)
	}

	const path = "/api/orgs/acme/drafts/draft-products/weather-product:1.0.0/publish"
	if code, _ := e.do("POST", path, "", map[string]any{"catalog": "sandbox"}); code != 401 {
		t.Errorf("without a token: %d", code)
	}
	for _, role := range []string{"", "viewer"} {
		if code, _ := e.do("POST", path, e.tokens[role], map[string]any{"catalog": "sandbox"}); code != 403 {
			t.Errorf("as %q: %d", role, code)
		}
	}
	if code, _ := e.do("POST", path, dev, map[string]any{}); code != 400 {
		t.Errorf("without a catalog: %d", code)
	}
	if code, _ := e.do("POST", path, dev, map[string]any{"catalog": "nope"}); code != 404 {
		t.Errorf("an unknown catalog: %d", code)
	}

	code, out := e.do("POST", path, dev, map[string]any{"catalog": "sandbox"})
	if code != 201 || out["type"] != "product" || out["state"] != "published" || out["name"] != "weather-product" {
		t.Fatalf("publish: %d %v", code, out)
	}
	if apis, _ := out["apis"].([]any); len(apis) != 1 || apis[0] != "weather:1.0.0" {
		t.Errorf("apis: %v", out["apis"])
	}
	code, out = e.do("GET", "/api/catalogs/acme/sandbox/products/weather-product:1.0.0", e.tokens["viewer"], nil)
	if code != 200 || out["state"] != "published" {
		t.Fatalf("the published product: %d %v", code, out)
	}
	ctx := context.Background()
	cat, err := e.st.GetCatalogByName(ctx, e.acmeID, "sandbox")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.st.GetProductByName(ctx, cat.ID, "weather-product", "1.0.0")
	if err != nil || len(p.APIs) != 1 || p.APIs[0].Document == nil {
		t.Fatalf("stored product: %v %+v", err, p)
	}
	if page, _ := e.st.ListAudit(ctx, store.AuditFilter{ObjectType: "product", ObjectID: p.ID}, store.ListOptions{}); page.Total != 1 {
		t.Errorf("audits: %d", page.Total)
	}
	if code, _ := e.do("POST", path, dev, map[string]any{"catalog": "sandbox"}); code != 409 {
		t.Errorf("publishing twice: %d", code)
	}

	// A $ref by apic's file name, staged, with ?catalog=.
	code, out = e.do("POST", "/api/orgs/acme/drafts/draft-products/weather-product:2.0.0/publish?catalog=sandbox&stage=true", dev, nil)
	if code != 201 || out["state"] != "staged" || len(out["apis"].([]any)) != 1 {
		t.Fatalf("publish by $ref: %d %v", code, out)
	}
	p, err = e.st.GetProductByName(ctx, cat.ID, "weather-product", "2.0.0")
	if err != nil || !strings.Contains(string(p.Document), "weather:1.0.0") || strings.Contains(string(p.Document), "$ref") {
		t.Errorf("the stored product should name its API: %v %s", err, p.Document)
	}

	// A draft API that does not exist: 400 naming it, nothing published.
	code, out = e.do("POST", "/api/orgs/acme/drafts/draft-products/weather-product:3.0.0/publish", dev, map[string]any{"catalog": "sandbox"})
	if code != 400 || !strings.Contains(strings.Join(messages(out), " "), "weather:7.0.0") {
		t.Errorf("a missing draft API: %d %v", code, out)
	}
	if _, err := e.st.GetProductByName(ctx, cat.ID, "weather-product", "3.0.0"); err == nil {
		t.Error("a refused publish stored the product")
	}
	if code, _ := e.do("POST", "/api/orgs/acme/drafts/draft-products/nope:1.0.0/publish", dev, map[string]any{"catalog": "sandbox"}); code != 404 {
		t.Errorf("an unknown draft product: %d", code)
	}
}

// A product is deleted only when consumers cannot call it and no
// subscription is left.
func TestDeleteProduct(t *testing.T) {
	e := newConsumerEnv(t)
	path := "/api/catalogs/acme/sandbox/products/"
	live := e.product("live", "1.0.0", store.ProductPublished, "  gold: {title: Gold}\n")
	e.must(409, "DELETE", path+"live:1.0.0", e.dv, nil)
	e.product("staged", "1.0.0", store.ProductStaged, "  gold: {title: Gold}\n")
	if out := e.must(200, "DELETE", path+"staged:1.0.0", e.dv, nil); out["deleted"] != "staged:1.0.0" {
		t.Fatalf("delete answer: %v", out)
	}
	e.must(404, "GET", path+"staged:1.0.0", e.viewer, nil)
	e.must(404, "DELETE", path+"staged:1.0.0", e.dv, nil)

	// Retired, but still subscribed to: the subscriptions must go first.
	e.must(201, "POST", "/api/catalogs/acme/sandbox/consumer-orgs", e.dv, map[string]any{"name": "devs"})
	e.must(201, "POST", "/api/consumer-orgs/acme/sandbox/devs/apps", e.dv, map[string]any{"name": "mobile"})
	e.must(201, "POST", "/api/apps/acme/sandbox/devs/mobile/subscriptions", e.dv, map[string]any{"product": "live:1.0.0", "plan": "gold"})
	e.must(200, "PATCH", path+"live:1.0.0", e.dv, map[string]any{"state": "retired"})
	if out := e.must(409, "DELETE", path+"live:1.0.0", e.dv, nil); !strings.Contains(strings.Join(messages(out), " "), "subscriptions") {
		t.Fatalf("delete with subscriptions: %v", out)
	}
	if got := e.must(200, "GET", path+"live:1.0.0", e.viewer, nil); got["id"] != live.ID || got["state"] != "retired" {
		t.Fatalf("after the refused delete: %v", got)
	}
}
