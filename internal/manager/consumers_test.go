package manager_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/auth"
	"github.com/portico-api/portico/internal/store"
)

// consumerEnv is an env with org acme, a second org other, and tokens for
// the cloud admin and for users with each role in acme.
type consumerEnv struct {
	*env
	admin            string
	org              store.ProviderOrg
	sandbox          store.Catalog
	none, viewer, dv string // no role in acme, viewer, developer
}

func newConsumerEnv(t *testing.T) *consumerEnv {
	t.Helper()
	e := &consumerEnv{env: newEnv(t)}
	e.admin = e.token(map[string]any{"grant_type": "api_key", "api_key": e.adminKey()})
	for _, name := range []string{"acme", "other"} {
		if code, out := e.do("POST", "/api/orgs", e.admin, map[string]any{"name": name}); code != 201 {
			t.Fatalf("create org %s: %d %v", name, code, out)
		}
	}
	ctx := context.Background()
	var err error
	if e.org, err = e.st.GetProviderOrgByName(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if e.sandbox, err = e.st.GetCatalogByName(ctx, e.org.ID, "sandbox"); err != nil {
		t.Fatal(err)
	}
	e.none = e.member("stranger", "")
	e.viewer = e.member("vera", "viewer")
	e.dv = e.member("dave", "developer")
	return e
}

// member makes a user with a password and role in acme ("" for none) and
// returns a token got with grant_type password.
func (e *consumerEnv) member(name, role string) string {
	e.t.Helper()
	hash, err := auth.HashSecret(name + "-password")
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.st.Tx(context.Background(), func(tx store.Tx) error {
		u, err := tx.CreateUser(context.Background(), store.User{Name: name, PasswordHash: hash})
		if err != nil || role == "" {
			return err
		}
		_, err = tx.SetMembership(context.Background(), store.Membership{OrgID: e.org.ID, UserID: u.ID, Role: role})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.token(map[string]any{"grant_type": "password", "username": name, "password": name + "-password", "realm": "provider/default-idp-2"})
}

// must calls the API and fails the test unless the answer has status want.
func (e *consumerEnv) must(want int, method, path, token string, body any) map[string]any {
	e.t.Helper()
	code, out := e.do(method, path, token, body)
	if code != want {
		e.t.Fatalf("%s %s: %d %v, want %d", method, path, code, out, want)
	}
	return out
}

// product publishes a product document straight into the store.
func (e *consumerEnv) product(name, version string, state store.ProductState, plans string) store.Product {
	e.t.Helper()
	doc := fmt.Sprintf("product: 1.0.0\ninfo: {name: %s, version: %s, title: %s}\napis: {}\nplans:\n%s", name, version, name, plans)
	var p store.Product
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		var err error
		p, err = tx.CreateProduct(context.Background(), store.Product{CatalogID: e.sandbox.ID, Name: name, Version: version,
			Title: name, State: state, Document: []byte(doc)})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *consumerEnv) audits(kind, id string) int {
	e.t.Helper()
	page, err := e.st.ListAudit(context.Background(), store.AuditFilter{ObjectType: kind, ObjectID: id}, store.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return page.Total
}

func results(out map[string]any) []map[string]any {
	var items []map[string]any
	for _, it := range out["results"].([]any) {
		items = append(items, it.(map[string]any))
	}
	return items
}

func TestConsumerEndpointsNeedTokenAndRole(t *testing.T) {
	e := newConsumerEnv(t)
	e.product("weather", "1.0.0", store.ProductPublished, "  default-plan: {title: Default}\n")
	e.must(201, "POST", "/api/catalogs/acme/sandbox/consumer-orgs", e.dv, map[string]any{"name": "devs"})
	app := e.must(201, "POST", "/api/consumer-orgs/acme/sandbox/devs/apps", e.dv, map[string]any{"name": "app1"})
	cred := app["app_credentials"].([]any)[0].(map[string]any)["id"].(string)
	sub := e.must(201, "POST", "/api/apps/acme/sandbox/devs/app1/subscriptions", e.dv, map[string]any{"product": "weather:1.0.0", "plan": "default-plan"})["id"].(string)

	const a = "/api/apps/acme/sandbox/devs/app1"
	endpoints := []struct {
		method, path string
		role         string // the least role allowed
	}{
		{"GET", "/api/catalogs/acme/sandbox/consumer-orgs", "viewer"},
		{"POST", "/api/catalogs/acme/sandbox/consumer-orgs", "developer"},
		{"GET", "/api/consumer-orgs/acme/sandbox/devs", "viewer"},
		{"DELETE", "/api/consumer-orgs/acme/sandbox/devs", "developer"},
		{"GET", "/api/consumer-orgs/acme/sandbox/devs/apps", "viewer"},
		{"POST", "/api/consumer-orgs/acme/sandbox/devs/apps", "developer"},
		{"GET", a, "viewer"},
		{"PATCH", a, "developer"},
		{"DELETE", a, "developer"},
		{"GET", a + "/credentials", "viewer"},
		{"POST", a + "/credentials", "developer"},
		{"GET", a + "/credentials/" + cred, "viewer"},
		{"DELETE", a + "/credentials/" + cred, "developer"},
		{"POST", a + "/credentials/" + cred + "/reset", "developer"},
		{"POST", a + "/credentials/" + cred + "/verify", "developer"},
		{"GET", a + "/subscriptions", "viewer"},
		{"POST", a + "/subscriptions", "developer"},
		{"GET", a + "/subscriptions/" + sub, "viewer"},
		{"DELETE", a + "/subscriptions/" + sub, "developer"},
	}
	body := map[string]any{"name": "x", "title": "T", "client_secret": "s", "product": "weather:1.0.0", "plan": "default-plan"}
	for _, ep := range endpoints {
		code, out := e.do(ep.method, ep.path, "", body)
		if msgs, _ := out["message"].([]any); code != 401 || len(msgs) != 1 {
			t.Errorf("%s %s without a token: %d %v", ep.method, ep.path, code, out)
		}
		lower := e.none // nobody is below a viewer but a non-member
		if ep.role == "developer" {
			lower = e.viewer
		}
		if code, out := e.do(ep.method, ep.path, lower, body); code != 403 || out["status"].(float64) != 403 {
			t.Errorf("%s %s below %s: %d %v", ep.method, ep.path, ep.role, code, out)
		}
		if ep.method == "GET" {
			e.must(200, ep.method, ep.path, e.viewer, nil)
		}
	}
	// Nothing changed behind the refusals.
	e.must(200, "GET", a+"/credentials/"+cred, e.dv, nil)
	e.must(200, "GET", a+"/subscriptions/"+sub, e.dv, nil)
}

func TestConsumerOrgs(t *testing.T) {
	e := newConsumerEnv(t)
	const list = "/api/catalogs/acme/sandbox/consumer-orgs"
	out := e.must(201, "POST", list, e.dv, map[string]any{"name": "bravo", "title": "Bravo Ltd", "summary": "b"})
	for k, v := range map[string]any{"type": "consumer_org", "api_version": "2.0.0", "name": "bravo", "title": "Bravo Ltd",
		"summary": "b", "state": "enabled", "org_url": "http://manager.test/api/orgs/" + e.org.ID,
		"catalog_url": "http://manager.test/api/catalogs/" + e.org.ID + "/" + e.sandbox.ID} {
		if out[k] != v {
			t.Errorf("%s = %v, want %v", k, out[k], v)
		}
	}
	id := out["id"].(string)
	if out["url"] != "http://manager.test/api/consumer-orgs/"+e.org.ID+"/"+e.sandbox.ID+"/"+id || out["created_at"] == nil || out["updated_at"] == nil {
		t.Errorf("consumer org object: %v", out)
	}
	if e.audits("consumer_org", id) != 1 {
		t.Error("no audit entry for the create")
	}
	e.must(201, "POST", list, e.admin, map[string]any{"name": "alpha"})
	e.must(201, "POST", list, e.dv, map[string]any{"name": "charlie"})
	e.must(409, "POST", list, e.dv, map[string]any{"name": "bravo"})
	e.must(400, "POST", list, e.dv, map[string]any{"title": "no name"})
	e.must(400, "POST", list, e.dv, map[string]any{"name": "not a name"})

	// Lists page, by name; the catalog is found by name or ID.
	out = e.must(200, "GET", list+"?limit=1&offset=1", e.viewer, nil)
	if items := results(out); out["total_results"].(float64) != 3 || len(items) != 1 || items[0]["name"] != "bravo" {
		t.Errorf("page 2 of 1: %v", out)
	}
	out = e.must(200, "GET", "/api/catalogs/"+e.org.ID+"/"+e.sandbox.ID+"/consumer-orgs", e.viewer, nil)
	if out["total_results"].(float64) != 3 {
		t.Errorf("by IDs: %v", out)
	}
	e.must(400, "GET", list+"?limit=-1", e.viewer, nil)
	e.must(404, "GET", "/api/catalogs/acme/nope/consumer-orgs", e.viewer, nil)

	// By name or ID, but never through another org's path.
	if out := e.must(200, "GET", "/api/consumer-orgs/acme/sandbox/"+id, e.viewer, nil); out["name"] != "bravo" {
		t.Errorf("by ID: %v", out)
	}
	e.must(404, "GET", "/api/consumer-orgs/acme/sandbox/zulu", e.viewer, nil)
	e.must(404, "GET", "/api/consumer-orgs/other/sandbox/"+id, e.admin, nil)
	e.must(404, "GET", "/api/consumer-orgs/other/"+e.sandbox.ID+"/"+id, e.admin, nil)

	e.must(204, "DELETE", "/api/consumer-orgs/acme/sandbox/bravo", e.dv, nil)
	e.must(404, "GET", "/api/consumer-orgs/acme/sandbox/bravo", e.viewer, nil)
	e.must(404, "DELETE", "/api/consumer-orgs/acme/sandbox/bravo", e.dv, nil)
	if e.audits("consumer_org", id) != 2 {
		t.Error("no audit entry for the delete")
	}
}

func TestAppsAndCredentials(t *testing.T) {
	e := newConsumerEnv(t)
	ctx := context.Background()
	e.must(201, "POST", "/api/catalogs/acme/sandbox/consumer-orgs", e.dv, map[string]any{"name": "devs"})
	before, _ := e.st.CatalogVersion(ctx, e.sandbox.ID)

	app := e.must(201, "POST", "/api/consumer-orgs/acme/sandbox/devs/apps", e.dv, map[string]any{"name": "mobile", "title": "Mobile", "summary": "s"})
	for k, v := range map[string]any{"type": "app", "api_version": "2.0.0", "name": "mobile", "title": "Mobile", "summary": "s",
		"state": "active", "lifecycle_state": "development"} {
		if app[k] != v {
			t.Errorf("%s = %v, want %v", k, app[k], v)
		}
	}
	appID := app["id"].(string)
	appURL := "http://manager.test/api/apps/" + e.org.ID + "/" + e.sandbox.ID + "/" + app["consumer_org_url"].(string)[strings.LastIndex(app["consumer_org_url"].(string), "/")+1:] + "/" + appID
	if app["url"] != appURL {
		t.Errorf("url %v, want %v", app["url"], appURL)
	}
	clientID, secret := app["client_id"].(string), app["client_secret"].(string)
	if b, err := hex.DecodeString(clientID); err != nil || len(b) != 16 {
		t.Errorf("client_id %q: want 32 hex digits", clientID)
	}
	if b, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(b) != 32 {
		t.Errorf("client_secret %q: want 32 bytes base64url", secret)
	}
	creds := app["app_credentials"].([]any)
	first := creds[0].(map[string]any)
	if len(creds) != 1 || first["type"] != "credential" || first["client_id"] != clientID || first["client_secret"] != secret ||
		first["app_url"] != appURL || first["url"] != appURL+"/credentials/"+first["id"].(string) {
		t.Errorf("app_credentials: %v", creds)
	}
	credID := first["id"].(string)
	if after, _ := e.st.CatalogVersion(ctx, e.sandbox.ID); after != before+1 {
		t.Errorf("catalog version %d → %d: the app and its credential are one change", before, after)
	}
	if e.audits("app", appID) != 1 || e.audits("credential", credID) != 1 {
		t.Error("missing audit entries for the app and its credential")
	}
	stored, err := e.st.GetCredential(ctx, credID)
	if err != nil || !strings.HasPrefix(stored.SecretHash, "$argon2id$") || strings.Contains(stored.SecretHash, secret) {
		t.Errorf("stored credential: %v %+v", err, stored)
	}

	const a = "/api/apps/acme/sandbox/devs/mobile"
	e.must(409, "POST", "/api/consumer-orgs/acme/sandbox/devs/apps", e.dv, map[string]any{"name": "mobile"})
	e.must(404, "POST", "/api/consumer-orgs/acme/sandbox/nobody/apps", e.dv, map[string]any{"name": "x"})
	e.must(201, "POST", "/api/consumer-orgs/acme/sandbox/devs/apps", e.dv, map[string]any{"name": "web"})
	if out := e.must(200, "GET", "/api/consumer-orgs/acme/sandbox/devs/apps?limit=1", e.viewer, nil); out["total_results"].(float64) != 2 || len(results(out)) != 1 {
		t.Errorf("apps: %v", out)
	}
	if out := e.must(200, "GET", "/api/apps/acme/sandbox/devs/"+appID, e.viewer, nil); out["name"] != "mobile" {
		t.Errorf("app by ID: %v", out)
	}

	// Verify answers whether the secret matches.
	if out := e.must(200, "POST", a+"/credentials/"+credID+"/verify", e.dv, map[string]any{"client_secret": secret}); out["verified"] != true {
		t.Errorf("verify: %v", out)
	}
	e.must(200, "POST", a+"/credentials/"+credID+"/verify", e.dv, map[string]any{"client_id": clientID, "client_secret": secret})
	e.must(401, "POST", a+"/credentials/"+credID+"/verify", e.dv, map[string]any{"client_id": "someone-else", "client_secret": secret})
	e.must(401, "POST", a+"/credentials/"+credID+"/verify", e.dv, map[string]any{"client_secret": secret + "x"})
	e.must(400, "POST", a+"/credentials/"+credID+"/verify", e.dv, map[string]any{})
	e.must(404, "POST", a+"/credentials/nope/verify", e.dv, map[string]any{"client_secret": secret})

	// Reset: a new secret, the client ID stays, the old secret stops working.
	reset := e.must(200, "POST", a+"/credentials/"+credID+"/reset", e.dv, nil)
	secret2 := reset["client_secret"].(string)
	if reset["client_id"] != clientID || secret2 == "" || secret2 == secret || e.audits("credential", credID) != 2 {
		t.Errorf("reset: %v", reset)
	}
	e.must(401, "POST", a+"/credentials/"+credID+"/verify", e.dv, map[string]any{"client_secret": secret})
	e.must(200, "POST", a+"/credentials/"+credID+"/verify", e.dv, map[string]any{"client_secret": secret2})

	// A second credential, by name; then by its name in the path.
	cred2 := e.must(201, "POST", a+"/credentials", e.dv, map[string]any{"name": "ci", "title": "CI"})
	secret3 := cred2["client_secret"].(string)
	if cred2["name"] != "ci" || cred2["client_id"] == clientID || secret3 == "" {
		t.Errorf("second credential: %v", cred2)
	}
	e.must(200, "POST", a+"/credentials/ci/verify", e.dv, map[string]any{"client_secret": secret3})
	e.must(409, "POST", a+"/credentials", e.dv, map[string]any{"name": "ci"})
	e.must(201, "POST", a+"/credentials", e.dv, nil) // no body: a generated name
	out := e.must(200, "GET", a+"/credentials", e.viewer, nil)
	if out["total_results"].(float64) != 3 {
		t.Errorf("credentials: %v", out)
	}
	e.must(204, "DELETE", a+"/credentials/ci", e.dv, nil)
	e.must(404, "GET", a+"/credentials/ci", e.viewer, nil)

	// A credential of one app is not reachable through another.
	e.must(404, "GET", "/api/apps/acme/sandbox/devs/web/credentials/"+credID, e.viewer, nil)

	// PATCH changes title, summary and state only.
	out = e.must(200, "PATCH", a, e.dv, map[string]any{"title": "Mobile app", "state": "disabled", "name": "ignored"})
	if out["title"] != "Mobile app" || out["summary"] != "s" || out["state"] != "disabled" || out["name"] != "mobile" {
		t.Errorf("patch: %v", out)
	}
	e.must(400, "PATCH", a, e.dv, map[string]any{"state": "enabled"})
	out = e.must(200, "PATCH", a, e.dv, map[string]any{"state": "active", "summary": ""})
	if out["state"] != "active" || out["summary"] != "" || out["title"] != "Mobile app" {
		t.Errorf("patch back: %v", out)
	}
	if e.audits("app", appID) != 3 {
		t.Error("missing audit entries for the patches")
	}

	// The secrets were answered once: in no later answer, in no log line.
	for _, path := range []string{a, a + "/credentials", a + "/credentials/" + credID, "/api/consumer-orgs/acme/sandbox/devs/apps"} {
		_, out := e.do("GET", path, e.admin, nil)
		text := fmt.Sprint(out)
		for _, s := range []string{secret, secret2, secret3} {
			if strings.Contains(text, s) {
				t.Errorf("GET %s shows a secret: %s", path, text)
			}
		}
		if strings.Contains(text, "client_secret") || strings.Contains(text, "argon2") {
			t.Errorf("GET %s shows a secret field: %s", path, text)
		}
	}
	for _, s := range []string{secret, secret2, secret3} {
		if strings.Contains(e.logs.String(), s) {
			t.Error("a client secret reached the log")
		}
	}
	page, _ := e.st.ListAudit(ctx, store.AuditFilter{}, store.ListOptions{})
	for _, en := range page.Items {
		for _, s := range []string{secret, secret2, secret3} {
			if strings.Contains(en.Summary, s) {
				t.Errorf("a client secret reached the audit trail: %+v", en)
			}
		}
	}

	// Deleting the app takes its credentials; deleting the org its apps.
	e.must(204, "DELETE", a, e.dv, nil)
	e.must(404, "GET", a, e.viewer, nil)
	if _, err := e.st.GetCredential(ctx, credID); err == nil {
		t.Error("the app's credential outlived it")
	}
	e.must(204, "DELETE", "/api/consumer-orgs/acme/sandbox/devs", e.dv, nil)
	e.must(404, "GET", "/api/apps/acme/sandbox/devs/web", e.viewer, nil)
}

func TestSubscriptions(t *testing.T) {
	e := newConsumerEnv(t)
	weather := e.product("weather", "1.0.0", store.ProductPublished, "  default-plan: {title: Default}\n  gold: {title: Gold, approval: true}\n")
	e.product("maps", "2.0.0", store.ProductPublished, "  gold: {title: Gold, approval: true}\n")
	e.product("beta", "0.1.0", store.ProductStaged, "  default-plan: {}\n")
	e.must(201, "POST", "/api/catalogs/acme/sandbox/consumer-orgs", e.dv, map[string]any{"name": "devs"})
	e.must(201, "POST", "/api/consumer-orgs/acme/sandbox/devs/apps", e.dv, map[string]any{"name": "app1"})
	const subs = "/api/apps/acme/sandbox/devs/app1/subscriptions"

	out := e.must(201, "POST", subs, e.dv, map[string]any{"product": "weather:1.0.0", "plan": "default-plan"})
	productURL := "http://manager.test/api/catalogs/" + e.org.ID + "/" + e.sandbox.ID + "/products/" + weather.ID
	for k, v := range map[string]any{"type": "subscription", "api_version": "2.0.0", "state": "enabled", "plan": "default-plan",
		"product_url": productURL} {
		if out[k] != v {
			t.Errorf("%s = %v, want %v", k, out[k], v)
		}
	}
	subID := out["id"].(string)
	app := e.must(200, "GET", "/api/apps/acme/sandbox/devs/app1", e.viewer, nil)
	if out["app_url"] != app["url"] || out["consumer_org_url"] != app["consumer_org_url"] || out["catalog_url"] != app["catalog_url"] ||
		out["url"] != app["url"].(string)+"/subscriptions/"+subID {
		t.Errorf("subscription links: %v", out)
	}
	if e.audits("subscription", subID) != 1 {
		t.Error("no audit entry for the subscription")
	}
	// A plan with approval: pending; the product named by its URL.
	maps := e.must(201, "POST", subs, e.dv, map[string]any{"product_url": strings.Replace(productURL, weather.ID, "maps:2.0.0", 1), "plan": "gold"})
	if maps["state"] != "pending" {
		t.Errorf("approval plan: %v", maps)
	}
	e.must(409, "POST", subs, e.dv, map[string]any{"product_url": productURL, "plan": "gold"}) // one subscription per product
	e.must(400, "POST", subs, e.dv, map[string]any{"product": "weather:1.0.0", "plan": "platinum"})
	e.must(400, "POST", subs, e.dv, map[string]any{"product": "beta:0.1.0", "plan": "default-plan"}) // staged
	e.must(404, "POST", subs, e.dv, map[string]any{"product": "nope:1.0.0", "plan": "default-plan"})
	e.must(404, "POST", subs, e.dv, map[string]any{"product_url": "http://manager.test/api/catalogs/x/y/products/00000000-0000-0000-0000-000000000000", "plan": "gold"})
	e.must(400, "POST", subs, e.dv, map[string]any{"product": "weather", "plan": "gold"})
	e.must(400, "POST", subs, e.dv, map[string]any{"plan": "gold"})

	out = e.must(200, "GET", subs, e.viewer, nil)
	if out["total_results"].(float64) != 2 {
		t.Errorf("subscriptions: %v", out)
	}
	if out := e.must(200, "GET", subs+"/"+subID, e.viewer, nil); out["plan"] != "default-plan" {
		t.Errorf("subscription: %v", out)
	}
	e.must(204, "DELETE", subs+"/"+subID, e.dv, nil)
	e.must(404, "GET", subs+"/"+subID, e.viewer, nil)
	if out := e.must(200, "GET", subs, e.viewer, nil); out["total_results"].(float64) != 1 || e.audits("subscription", subID) != 2 {
		t.Errorf("after delete: %v", out)
	}
}
