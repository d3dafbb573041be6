package bundle_test

import (
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/auth"
	"github.com/portico-api/portico/internal/bundle"
)

const wireAPI = `swagger: '2.0'
info:
  title: Hello
  x-ibm-name: hello
  version: 1.0.0
basePath: /hello
x-ibm-configuration:
  gateway: datapower-api-gateway
  properties:
    greeting:
      value: Hi
paths:
  /hi:
    get:
      operationId: sayHi
      responses:
        '200': {description: ok}
`

const wireProduct = `product: 1.0.0
info:
  name: hello-product
  title: Hello
  version: 1.0.0
apis:
  hello:
    name: hello:1.0.0
plans:
  default-plan:
    title: Default Plan
  gold:
    title: Gold
`

func testWire(t *testing.T, hash string) *bundle.Wire {
	t.Helper()
	return &bundle.Wire{
		Version: 7, Org: "acme", OrgID: "a1b2", Catalog: "prod",
		Properties: map[string]string{"region": "eu"},
		APIs:       []bundle.WireDoc{{Name: "hello", Version: "1.0.0", Document: []byte(wireAPI)}},
		Products:   []bundle.WireProduct{{Name: "hello-product", Version: "1.0.0", State: "deprecated", Document: []byte(wireProduct)}},
		Consumers: []bundle.WireConsumerOrg{{ID: "co1", Name: "devs", Title: "Developers", Apps: []bundle.WireApp{{
			ID: "app1", Name: "mobile", Title: "Mobile", State: "disabled",
			Credentials:   []bundle.WireCredential{{ClientID: "cid-1", SecretHash: hash}, {ClientID: "cid-2"}},
			Subscriptions: []bundle.WireSubscription{{Product: "hello-product:1.0.0", Plan: "gold", State: bundle.SubPending}},
		}}}},
	}
}

func mustParse(t *testing.T, file, data string) *apidef.Document {
	t.Helper()
	d, err := apidef.Parse(file, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestWireRoundTrip(t *testing.T) {
	hash, err := auth.HashSecret("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	data, err := bundle.Encode(testWire(t, hash))
	if err != nil {
		t.Fatal(err)
	}
	w, err := bundle.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	got, ps := w.Bundle()
	if errs := ps.Errors(); len(errs) > 0 {
		t.Fatalf("problems: %v", errs)
	}

	// The same bundle built directly from the documents.
	api, aps := apidef.LoadAPI(mustParse(t, "hello_1.0.0.yaml", wireAPI))
	prod, pps := apidef.LoadProduct(mustParse(t, "hello-product_1.0.0.yaml", wireProduct))
	if len(aps.Errors())+len(pps.Errors()) > 0 {
		t.Fatal(aps, pps)
	}
	h, _ := auth.ParseHash(hash)
	org := &bundle.ConsumerOrg{ID: "co1", Name: "devs", Title: "Developers"}
	org.Apps = []*bundle.App{{ID: "app1", Name: "mobile", Title: "Mobile", State: "disabled", Org: org,
		Credentials:   []*bundle.Credential{{ClientID: "cid-1", Secret: h}, {ClientID: "cid-2"}},
		Subscriptions: []*bundle.Subscription{{Product: "hello-product:1.0.0", Plan: "gold", State: bundle.SubPending}}}}
	want, ps := bundle.FromDocuments(bundle.Catalog{Org: "acme", OrgID: "a1b2", Name: "prod", Properties: map[string]string{"region": "eu"}},
		[]*apidef.API{api}, []bundle.ProductState{{Product: prod, State: "deprecated"}}, []*bundle.ConsumerOrg{org})
	if len(ps.Errors()) > 0 {
		t.Fatal(ps)
	}

	if got.Org != want.Org || got.OrgID != want.OrgID || got.Catalog != want.Catalog || got.Properties["region"] != "eu" || w.Version != 7 {
		t.Errorf("catalog: got %s/%s/%s %v", got.Org, got.OrgID, got.Catalog, got.Properties)
	}
	if len(got.APIs) != 1 || got.APIs[0].Ref() != want.APIs[0].Ref() || got.APIs[0].BasePath != want.APIs[0].BasePath ||
		len(got.APIs[0].Operations) != len(want.APIs[0].Operations) || got.APIs[0].Properties["greeting"] != "Hi" {
		t.Errorf("APIs: got %+v", got.APIs)
	}
	if len(got.Products) != 1 {
		t.Fatalf("products: %d", len(got.Products))
	}
	gp, wp := got.Products[0], want.Products[0]
	if gp.Ref() != wp.Ref() || gp.State != "deprecated" || gp.APIRefs["hello"] != "hello:1.0.0" || len(gp.Plans) != len(wp.Plans) {
		t.Errorf("product: got %s %s %v, %d plans", gp.Ref(), gp.State, gp.APIRefs, len(gp.Plans))
	}
	if len(got.Consumers) != 1 || len(got.Consumers[0].Apps) != 1 {
		t.Fatalf("consumers: %+v", got.Consumers)
	}
	gc, wc := got.Consumers[0], want.Consumers[0]
	if gc.ID != wc.ID || gc.Name != wc.Name || gc.Title != wc.Title {
		t.Errorf("consumer org: %+v", gc)
	}
	ga, wa := gc.Apps[0], wc.Apps[0]
	if ga.ID != wa.ID || ga.Name != wa.Name || ga.Title != wa.Title || ga.State != wa.State || ga.Org != gc {
		t.Errorf("app: %+v", ga)
	}
	if len(ga.Credentials) != 2 || ga.Credentials[0].ClientID != "cid-1" || ga.Credentials[1].Secret != nil {
		t.Fatalf("credentials: %+v", ga.Credentials)
	}
	if !ga.Credentials[0].Secret.Verify("s3cret") || ga.Credentials[0].Secret.Verify("wrong") {
		t.Error("the secret hash did not survive the round trip")
	}
	if len(ga.Subscriptions) != 1 || *ga.Subscriptions[0] != *wa.Subscriptions[0] {
		t.Errorf("subscriptions: %+v", ga.Subscriptions)
	}
}

func TestWireBrokenDocument(t *testing.T) {
	w := testWire(t, "")
	w.APIs = append(w.APIs, bundle.WireDoc{Name: "broken", Version: "2.0.0", Document: []byte("swagger: '2.0'\ninfo: [unclosed\n")})
	_, ps := w.Bundle()
	errs := ps.Errors()
	if len(errs) == 0 {
		t.Fatal("no problem for a broken API document")
	}
	if errs[0].File != "broken_2.0.0.yaml" || !strings.Contains(errs[0].Error(), "broken_2.0.0.yaml") {
		t.Errorf("problem does not name the document: %v", errs)
	}

	// A document that is not the API the wire says it is.
	w = testWire(t, "")
	w.APIs[0].Version = "9.9.9"
	_, ps = w.Bundle()
	if !strings.Contains(ps.Errors().Error(), "hello_9.9.9.yaml") {
		t.Errorf("mismatch not named: %v", ps)
	}

	// A bad secret hash names its field.
	w = testWire(t, "$argon2id$nonsense")
	_, ps = w.Bundle()
	if !strings.Contains(ps.Errors().Error(), "consumers[0].apps[0].credentials[0].secret_hash") || !strings.Contains(ps.Errors().Error(), "cid-1") {
		t.Errorf("bad hash not named: %v", ps)
	}
}

func TestWireDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"syntax", "{\n  \"version\": 3,\n  \"org\": }", "line 3"},
		{"type", `{"version": "three", "org": "a", "catalog": "b"}`, "field version"},
		{"nested type", `{"version": 1, "org": "a", "catalog": "b", "apis": [{"name": 5}]}`, "field apis.name"},
		{"missing org", `{"version": 1, "catalog": "b"}`, "field org"},
		{"path org", `{"version": 1, "org": "..", "catalog": "b"}`, "field org"},
		{"bad state", `{"version": 1, "org": "a", "catalog": "b", "products": [{"name": "p", "version": "1", "state": "odd", "document": "eDog"}]}`, "field products[0].state"},
		{"empty api", `{"version": 1, "org": "a", "catalog": "b", "apis": [{"name": "x", "version": "1"}]}`, "field apis[0].document"},
		{"base64", `{"version": 1, "org": "a", "catalog": "b", "apis": [{"name": "x", "version": "1", "document": "!!"}]}`, "base64"},
		{"empty", ``, "empty"},
		{"trailing", `{"version": 1, "org": "a", "catalog": "b"} {}`, "after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bundle.Decode([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode: %v, want an error with %q", err, tc.want)
			}
		})
	}
	if _, err := bundle.Encode(&bundle.Wire{Org: "a b", Catalog: "c"}); err == nil {
		t.Error("Encode accepted an org unusable in a path")
	}
}
