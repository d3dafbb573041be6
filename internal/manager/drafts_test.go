package manager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/auth"
	"github.com/portico-api/portico/internal/store"
	"go.yaml.in/yaml/v3"
)

const draftAPIYAML = `swagger: '2.0'
info:
  title: Weather
  x-ibm-name: weather
  version: 1.0.0
  description: Forecasts
x-ibm-configuration:
  gateway: datapower-api-gateway
  assembly:
    execute:
      - set-variable:
          version: 2.0.0
          actions:
            - set: message.body
              value: sunny
              type: string
basePath: /weather
paths:
  /today:
    get:
      responses:
        '200':
          description: ok
`

const draftProductYAML = `product: 1.0.0
info:
  name: weather-product
  title: Weather Product
  version: 1.0.0
  summary: All the weather
plans:
  default-plan:
    title: Default Plan
    rate-limits:
      default: {value: 100/1hour}
apis:
  weather1.0.0: {name: 'weather:1.0.0'}
`

// draftRaw sends body as is with the content type, and decodes a JSON
// answer.
func (e *env) draftRaw(method, path, token, contentType string, body []byte) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			e.t.Fatalf("%s %s: not JSON: %s", method, path, data)
		}
	}
	return resp.StatusCode, out
}

// draftEnv is an env with org acme (and org other), and tokens for the
// admin and for users with each role in acme.
type draftEnv struct {
	*env
	admin  string
	tokens map[string]string // by role; "" is a user with no role in acme
	acmeID string
}

func newDraftEnv(t *testing.T) *draftEnv {
	e := newEnv(t)
	d := &draftEnv{env: e, tokens: map[string]string{}}
	d.admin = e.token(map[string]any{"grant_type": "api_key", "api_key": e.adminKey()})
	for _, org := range []string{"acme", "other"} {
		code, out := e.do("POST", "/api/orgs", d.admin, map[string]any{"name": org})
		if code != 201 {
			t.Fatalf("create org %s: %d %v", org, code, out)
		}
		if org == "acme" {
			d.acmeID = out["id"].(string)
		}
	}
	for _, role := range []string{"", "viewer", "developer"} {
		name := "user-" + role
		if role == "" {
			name = "outsider"
		}
		hash, _ := auth.HashSecret("pw-" + name)
		err := e.st.Tx(context.Background(), func(tx store.Tx) error {
			u, err := tx.CreateUser(context.Background(), store.User{Name: name, PasswordHash: hash})
			if err != nil || role == "" {
				return err
			}
			_, err = tx.SetMembership(context.Background(), store.Membership{OrgID: d.acmeID, UserID: u.ID, Role: role})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		d.tokens[role] = e.token(map[string]any{"grant_type": "password", "username": name, "password": "pw-" + name})
	}
	return d
}

func messages(out map[string]any) []string {
	var msgs []string
	for _, m := range out["message"].([]any) {
		msgs = append(msgs, m.(string))
	}
	return msgs
}

func TestDraftsUnauthenticatedAndForbidden(t *testing.T) {
	e := newDraftEnv(t)
	for _, kind := range []struct{ path, doc string }{{"draft-apis", draftAPIYAML}, {"draft-products", draftProductYAML}} {
		coll := "/api/orgs/acme/drafts/" + kind.path
		code, out := e.draftRaw("POST", coll, e.tokens["developer"], "application/yaml", []byte(kind.doc))
		if code != 201 {
			t.Fatalf("POST %s as a developer: %d %v", coll, code, out)
		}
		one := coll + "/" + out["id"].(string)
		endpoints := []struct {
			method, path string
			least        string // the least role allowed
		}{
			{"GET", coll, "viewer"}, {"GET", one, "viewer"},
			{"POST", coll, "developer"}, {"PATCH", one, "developer"}, {"DELETE", one, "developer"},
		}
		for _, ep := range endpoints {
			code, out := e.draftRaw(ep.method, ep.path, "", "application/yaml", []byte(kind.doc))
			if code != 401 || out["status"].(float64) != 401 || len(messages(out)) != 1 {
				t.Errorf("%s %s without a token: %d %v", ep.method, ep.path, code, out)
			}
			below := map[string]string{"viewer": "", "developer": "viewer"}[ep.least]
			code, out = e.draftRaw(ep.method, ep.path, e.tokens[below], "application/yaml", []byte(kind.doc))
			if code != 403 || out["status"].(float64) != 403 {
				t.Errorf("%s %s as %q: %d %v", ep.method, ep.path, below, code, out)
			}
		}
		// A viewer reads; nothing above changed the draft.
		if code, out := e.do("GET", one, e.tokens["viewer"], nil); code != 200 || out["version"] != "1.0.0" {
			t.Errorf("GET %s as a viewer: %d %v", one, code, out)
		}
		if code, out := e.do("GET", coll, e.tokens["viewer"], nil); code != 200 || out["total_results"].(float64) != 1 {
			t.Errorf("GET %s as a viewer: %d %v", coll, code, out)
		}
		// A developer of acme is nobody in other.
		if code, _ := e.do("GET", "/api/orgs/other/drafts/"+kind.path, e.tokens["developer"], nil); code != 403 {
			t.Errorf("a member of acme lists other's drafts: %d", code)
		}
	}
}

func TestDraftAPILifecycle(t *testing.T) {
	e := newDraftEnv(t)
	dev := e.tokens["developer"]
	coll := "/api/orgs/acme/drafts/draft-apis"

	// A YAML file uploaded as is.
	code, out := e.draftRaw("POST", coll, dev, "application/yaml", []byte(draftAPIYAML))
	if code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	id := out["id"].(string)
	want := map[string]any{"type": "draft_api", "api_version": "2.0.0", "name": "weather", "version": "1.0.0",
		"title": "Weather", "summary": "Forecasts", "org_url": "http://manager.test/api/orgs/" + e.acmeID,
		"url": "http://manager.test/api/orgs/" + e.acmeID + "/drafts/draft-apis/" + id}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("%s = %v, want %v", k, out[k], v)
		}
	}
	if _, ok := out["draft_api"]; ok || out["created_at"] == nil {
		t.Errorf("create answers the object without its document: %v", out)
	}
	stored, err := e.st.GetDraftAPI(context.Background(), id)
	if err != nil || string(stored.Document) != draftAPIYAML {
		t.Fatalf("the stored document is not the YAML as uploaded: %v %q", err, stored.Document)
	}

	// Get by ID and by name:version: the document comes as JSON.
	for _, ref := range []string{id, "weather:1.0.0"} {
		code, out = e.do("GET", coll+"/"+ref, dev, nil)
		doc, _ := out["draft_api"].(map[string]any)
		if code != 200 || out["id"] != id || doc["swagger"] != "2.0" || doc["info"].(map[string]any)["x-ibm-name"] != "weather" {
			t.Fatalf("GET %s: %d %v", ref, code, out)
		}
	}
	for _, ref := range []string{"weather:9.9.9", "no-such-id"} {
		if code, out := e.do("GET", coll+"/"+ref, dev, nil); code != 404 || out["status"].(float64) != 404 {
			t.Errorf("GET %s: %d %v", ref, code, out)
		}
	}
	// Another org does not see acme's draft, even by ID.
	if code, _ := e.do("GET", "/api/orgs/other/drafts/draft-apis/"+id, e.admin, nil); code != 404 {
		t.Errorf("a draft of acme found through other: %d", code)
	}

	// The same name and version again.
	code, out = e.draftRaw("POST", coll, dev, "text/yaml", []byte(draftAPIYAML))
	if code != 409 || out["status"].(float64) != 409 {
		t.Errorf("a second weather:1.0.0: %d %v", code, out)
	}

	// API Connect's body: {"draft_api": {…}}; the inner document is stored.
	v2 := strings.Replace(draftAPIYAML, "version: 1.0.0", "version: 2.0.0", 1)
	var docV2 any
	if err := yamlToJSON(v2, &docV2); err != nil {
		t.Fatal(err)
	}
	code, out = e.do("POST", coll+"?fields=add(draft_api)", dev, map[string]any{"draft_api": docV2})
	if code != 201 || out["version"] != "2.0.0" || out["draft_api"] == nil {
		t.Fatalf("create with API Connect's body: %d %v", code, out)
	}
	id2 := out["id"].(string)
	stored, _ = e.st.GetDraftAPI(context.Background(), id2)
	if !json.Valid(stored.Document) || bytes.Contains(stored.Document, []byte(`"draft_api"`)) {
		t.Errorf("stored document of a wrapped create: %s", stored.Document)
	}

	// The list, with and without the documents, paged.
	code, out = e.do("GET", coll, dev, nil)
	if code != 200 || out["total_results"].(float64) != 2 {
		t.Fatalf("list: %d %v", code, out)
	}
	for _, r := range out["results"].([]any) {
		if _, ok := r.(map[string]any)["draft_api"]; ok {
			t.Errorf("a list without fields=add(draft_api) has the document")
		}
	}
	code, out = e.do("GET", coll+"?fields=add(wsdl,draft_api)&limit=1&offset=1", dev, nil)
	results, _ := out["results"].([]any)
	if code != 200 || out["total_results"].(float64) != 2 || len(results) != 1 {
		t.Fatalf("list page: %d %v", code, out)
	}
	if r := results[0].(map[string]any); r["version"] != "2.0.0" || r["draft_api"].(map[string]any)["swagger"] != "2.0" {
		t.Errorf("second page: %v", r)
	}
	if code, _ := e.do("GET", coll+"?limit=-1", dev, nil); code != 400 {
		t.Errorf("limit=-1: %d", code)
	}

	// PATCH replaces the document; name and version follow it.
	v3 := strings.Replace(draftAPIYAML, "version: 1.0.0", "version: 3.0.0", 1)
	code, out = e.draftRaw("PATCH", coll+"/weather:1.0.0", dev, "application/yaml", []byte(v3))
	if code != 200 || out["id"] != id || out["version"] != "3.0.0" {
		t.Fatalf("update: %d %v", code, out)
	}
	if stored, _ = e.st.GetDraftAPI(context.Background(), id); string(stored.Document) != v3 {
		t.Errorf("stored after update: %s", stored.Document)
	}
	// …and may not take another draft's.
	code, out = e.do("PATCH", coll+"/"+id, dev, map[string]any{"draft_api": docV2})
	if code != 409 {
		t.Errorf("update onto weather:2.0.0: %d %v", code, out)
	}
	if code, _ := e.draftRaw("PATCH", coll+"/weather:1.0.0", dev, "application/yaml", []byte(v3)); code != 404 {
		t.Errorf("update of a name:version that moved: %d", code)
	}
	code, out = e.draftRaw("PATCH", coll+"/"+id, dev, "application/yaml", []byte("swagger: '2.0'\ninfo: {title: x}\npaths: {}\n"))
	if code != 400 {
		t.Errorf("update with a broken document: %d %v", code, out)
	}
	if stored, _ = e.st.GetDraftAPI(context.Background(), id); string(stored.Document) != v3 {
		t.Errorf("a refused update changed the draft: %s", stored.Document)
	}

	// DELETE.
	if code, out := e.do("DELETE", coll+"/weather:3.0.0", dev, nil); code != 204 {
		t.Fatalf("delete: %d %v", code, out)
	}
	if code, _ := e.do("GET", coll+"/"+id, dev, nil); code != 404 {
		t.Errorf("GET after delete: %d", code)
	}
	if code, _ := e.do("DELETE", coll+"/"+id, dev, nil); code != 404 {
		t.Errorf("delete twice: %d", code)
	}

	// Every write left an audit entry: two creates, an update, a delete.
	page, err := e.st.ListAudit(context.Background(), store.AuditFilter{ObjectType: "draft_api"}, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range page.Items {
		actions = append(actions, a.Action)
	}
	if strings.Join(actions, ",") != "delete,update,create,create" {
		t.Errorf("audit: %v", actions)
	}
}

// yamlToJSON decodes a YAML test document into a value to send as JSON.
func yamlToJSON(text string, v any) error { return yaml.Unmarshal([]byte(text), v) }

func TestDraftAPIProblems(t *testing.T) {
	e := newDraftEnv(t)
	dev := e.tokens["developer"]
	coll := "/api/orgs/acme/drafts/draft-apis"

	broken := `swagger: '2.0'
info:
  title: Broken
  x-ibm-name: broken
x-ibm-configuration:
  assembly:
    execute:
      - no-such-policy: {}
paths: {}
`
	code, out := e.draftRaw("POST", coll, dev, "application/yaml", []byte(broken))
	if code != 400 || out["status"].(float64) != 400 {
		t.Fatalf("a broken API: %d %v", code, out)
	}
	msgs := messages(out)
	joined := strings.Join(msgs, "\n")
	t.Logf("problems:\n%s", joined)
	if len(msgs) < 2 || !strings.Contains(joined, "the API has no version (set info.version") ||
		!strings.Contains(joined, `policy "no-such-policy"`) || !strings.Contains(joined, "draft_api.yaml:8:") {
		t.Errorf("problems: %q", msgs)
	}
	if len(out["errors"].([]any)) != len(msgs) {
		t.Errorf("errors and message differ: %v", out)
	}

	// Wrapped in {"draft_api": …}, problems point into the body as sent.
	body := "{\n  \"draft_api\": {\n    \"swagger\": \"2.0\",\n    \"info\": {\"title\": \"T\", \"x-ibm-name\": \"t\", \"version\": \"1.0.0\"},\n" +
		"    \"x-ibm-configuration\": {\"assembly\": {\"execute\": [{\"nope\": {}}]}},\n    \"paths\": {}\n  }\n}\n"
	code, out = e.draftRaw("POST", coll, dev, "application/json", []byte(body))
	if code != 400 || !strings.HasPrefix(messages(out)[0], "draft_api.json:5:") {
		t.Errorf("a broken wrapped API: %d %v", code, out)
	}

	for _, c := range []struct{ name, ct, body string }{
		{"not YAML", "application/yaml", "swagger: '2.0'\ninfo: [\n"},
		{"empty", "application/yaml", ""},
		{"a list", "application/json", "[1, 2]"},
		{"a product", "application/yaml", draftProductYAML},
		{"a bad name", "application/yaml", strings.Replace(draftAPIYAML, "x-ibm-name: weather", "x-ibm-name: 'we/ather'", 1)},
	} {
		code, out := e.draftRaw("POST", coll, dev, c.ct, []byte(c.body))
		if code != 400 || len(messages(out)) == 0 {
			t.Errorf("%s: %d %v", c.name, code, out)
		}
	}
	if code, _ := e.draftRaw("POST", coll, dev, "text/plain", []byte(draftAPIYAML)); code != 415 {
		t.Errorf("text/plain: %d", code)
	}
	// Nothing was stored.
	if code, out := e.do("GET", coll, dev, nil); code != 200 || out["total_results"].(float64) != 0 {
		t.Errorf("refused documents were stored: %d %v", code, out)
	}
	// Warnings do not stop a document: the API is stored.
	if code, out := e.draftRaw("POST", coll, dev, "application/yaml", []byte(draftAPIYAML)); code != 201 {
		t.Errorf("a good API after the bad ones: %d %v", code, out)
	}
}

func TestDraftProducts(t *testing.T) {
	e := newDraftEnv(t)
	dev := e.tokens["developer"]
	coll := "/api/orgs/acme/drafts/draft-products"

	code, out := e.draftRaw("POST", coll, dev, "application/yaml", []byte(draftProductYAML))
	if code != 201 || out["type"] != "draft_product" || out["name"] != "weather-product" || out["version"] != "1.0.0" ||
		out["title"] != "Weather Product" || out["summary"] != "All the weather" {
		t.Fatalf("create: %d %v", code, out)
	}
	id := out["id"].(string)
	if !strings.HasSuffix(out["url"].(string), "/drafts/draft-products/"+id) {
		t.Errorf("url: %v", out["url"])
	}
	code, out = e.do("GET", coll+"/weather-product:1.0.0", e.tokens["viewer"], nil)
	doc, _ := out["draft_product"].(map[string]any)
	if code != 200 || out["id"] != id || doc["product"] != "1.0.0" {
		t.Fatalf("get: %d %v", code, out)
	}
	if code, _ := e.draftRaw("POST", coll, dev, "application/yaml", []byte(draftProductYAML)); code != 409 {
		t.Errorf("a second weather-product:1.0.0: %d", code)
	}

	// API Connect's body, with a JSON document kept as sent.
	var v2 any
	if err := yamlToJSON(strings.Replace(draftProductYAML, "version: 1.0.0", "version: 2.0.0", 1), &v2); err != nil {
		t.Fatal(err)
	}
	code, out = e.do("POST", coll, dev, map[string]any{"draft_product": v2})
	if code != 201 || out["version"] != "2.0.0" {
		t.Fatalf("create with API Connect's body: %d %v", code, out)
	}

	// The document may also come as its YAML text in a JSON string.
	v4 := strings.Replace(draftProductYAML, "version: 1.0.0", "version: 4.0.0", 1)
	code, out = e.do("POST", coll, dev, map[string]any{"draft_product": v4})
	if code != 201 || out["version"] != "4.0.0" {
		t.Fatalf("create with the YAML text: %d %v", code, out)
	}
	if stored, _ := e.st.GetDraftProduct(context.Background(), out["id"].(string)); string(stored.Document) != v4 {
		t.Errorf("stored YAML text: %q", stored.Document)
	}

	// Problems: an API is not a product; a product needs plans and
	// versioned API references.
	code, out = e.draftRaw("POST", coll, dev, "application/yaml", []byte(draftAPIYAML))
	if code != 400 || !strings.Contains(messages(out)[0], "not a product") {
		t.Errorf("an API as a product: %d %v", code, out)
	}
	bad := "product: 1.0.0\ninfo: {name: p, version: 1.0.0}\napis:\n  a: {name: weather}\n"
	code, out = e.draftRaw("POST", coll, dev, "application/yaml", []byte(bad))
	if code != 400 || len(messages(out)) != 2 || !strings.HasPrefix(messages(out)[0], "draft_product.yaml:") {
		t.Errorf("a broken product: %d %v", code, out)
	}

	v3 := strings.Replace(draftProductYAML, "title: Weather Product", "title: Weather Product v3", 1)
	code, out = e.draftRaw("PATCH", coll+"/"+id, dev, "application/yaml", []byte(v3))
	if code != 200 || out["title"] != "Weather Product v3" {
		t.Errorf("update: %d %v", code, out)
	}
	if code, _ := e.do("DELETE", coll+"/weather-product:1.0.0", dev, nil); code != 204 {
		t.Errorf("delete: %d", code)
	}
	if code, out := e.do("GET", coll, dev, nil); code != 200 || out["total_results"].(float64) != 2 {
		t.Errorf("list after delete: %d %v", code, out)
	}
	page, _ := e.st.ListAudit(context.Background(), store.AuditFilter{ObjectType: "draft_product"}, store.ListOptions{})
	if page.Total != 5 {
		t.Errorf("audit entries: %d", page.Total)
	}
}

// A real API Connect file, uploaded as is.
func TestDraftsFromTheCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "apic")
	api, err := os.ReadFile(filepath.Join(dir, "ibm-apiconnect__quick-check__templates__set-variable.yaml"))
	if err != nil {
		t.Skip("the API Connect corpus is not here:", err)
	}
	product, err := os.ReadFile(filepath.Join(dir, "ibm-apiconnect__sample-orders-api__product.yaml"))
	if err != nil {
		t.Skip("the API Connect corpus is not here:", err)
	}
	e := newDraftEnv(t)
	dev := e.tokens["developer"]
	code, out := e.draftRaw("POST", "/api/orgs/acme/drafts/draft-apis", dev, "application/yaml", api)
	if code != 201 || out["name"] != "publish-test" || out["version"] != "1.0.1" || out["title"] != "Set Variable" {
		t.Fatalf("upload set-variable.yaml: %d %v", code, out)
	}
	code, out = e.do("GET", "/api/orgs/acme/drafts/draft-apis/publish-test:1.0.1", dev, nil)
	doc, _ := out["draft_api"].(map[string]any)
	if code != 200 || doc["basePath"] != "/publish-test" {
		t.Fatalf("get: %d %v", code, out)
	}
	stored, _ := e.st.GetDraftAPI(context.Background(), out["id"].(string))
	if !bytes.Equal(stored.Document, api) {
		t.Error("the stored document differs from the file")
	}
	code, out = e.draftRaw("POST", "/api/orgs/acme/drafts/draft-products", dev, "application/yaml", product)
	if code != 201 || out["name"] != "ordering-and-fulfillment" || out["version"] != "1.0.0" {
		t.Fatalf("upload the sample orders product: %d %v", code, out)
	}
}
