package manager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/auth"
	"github.com/portico-api/portico/internal/manager"
	"github.com/portico-api/portico/internal/store"
)

type env struct {
	t    *testing.T
	srv  *httptest.Server
	st   store.Store
	home string
	logs *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	home := t.TempDir()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(home, "portico.db"), bytes.Repeat([]byte{7}, store.SecretKeySize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &bytes.Buffer{}
	m := manager.New(st, manager.Options{BaseURL: "http://manager.test", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if _, err := m.Bootstrap(context.Background(), home); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, st: st, home: home, logs: logs}
}

// do calls the API and decodes a JSON answer.
func (e *env) do(method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (e *env) token(body map[string]any) string {
	e.t.Helper()
	code, out := e.do("POST", "/api/token", "", body)
	if code != 200 || out["token_type"] != "Bearer" || out["expires_in"].(float64) != 28800 {
		e.t.Fatalf("POST /api/token: %d %v", code, out)
	}
	return out["access_token"].(string)
}

func (e *env) adminKey() string {
	data, err := os.ReadFile(filepath.Join(e.home, manager.AdminKeyFile))
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// The seed's flow: a token from an API key, then GET /api/orgs.
func TestTokenWithAPIKeyThenOrgs(t *testing.T) {
	e := newEnv(t)
	info, err := os.Stat(filepath.Join(e.home, manager.AdminKeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("admin key file: %v, mode %v", err, info.Mode())
	}
	key := e.adminKey()
	tok := e.token(map[string]any{"grant_type": "api_key", "api_key": key, "client_id": "portico-cli", "client_secret": "x"})

	code, out := e.do("POST", "/api/orgs", tok, map[string]any{"name": "acme", "title": "ACME"})
	if code != 201 || out["type"] != "org" || out["org_type"] != "provider" || out["name"] != "acme" {
		t.Fatalf("create org: %d %v", code, out)
	}
	code, out = e.do("GET", "/api/orgs", tok, nil)
	// A cloud admin also sees the admin org, which holds gateway services.
	if code != 200 || out["total_results"].(float64) != 2 {
		t.Fatalf("GET /api/orgs: %d %v", code, out)
	}
	if admin := out["results"].([]any)[1].(map[string]any); admin["name"] != "admin" || admin["org_type"] != "admin" {
		t.Fatalf("the admin org: %v", admin)
	}
	org := out["results"].([]any)[0].(map[string]any)
	for k, v := range map[string]any{"type": "org", "org_type": "provider", "api_version": "2.0.0", "name": "acme", "state": "enabled"} {
		if org[k] != v {
			t.Errorf("%s = %v, want %v", k, org[k], v)
		}
	}
	if !strings.HasPrefix(org["url"].(string), "http://manager.test/api/orgs/") || org["id"] == "" || org["created_at"] == nil {
		t.Errorf("org object: %v", org)
	}
	code, out = e.do("GET", "/api/orgs/acme/catalogs", tok, nil)
	if code != 200 || out["total_results"].(float64) != 1 || out["results"].([]any)[0].(map[string]any)["name"] != "sandbox" {
		t.Fatalf("catalogs of a new org: %d %v", code, out)
	}
	sandbox := out["results"].([]any)[0].(map[string]any)
	for _, ref := range []string{"sandbox", sandbox["id"].(string)} {
		if code, got := e.do("GET", "/api/catalogs/acme/"+ref, tok, nil); code != 200 || got["id"] != sandbox["id"] || got["type"] != "catalog" {
			t.Fatalf("GET /api/catalogs/acme/%s: %d %v", ref, code, got)
		}
	}
	if code, _ := e.do("GET", "/api/catalogs/acme/nope", tok, nil); code != 404 {
		t.Fatalf("a missing catalog: %d, want 404", code)
	}
	code, out = e.do("GET", "/api/me", tok, nil)
	if code != 200 || out["name"] != "admin" {
		t.Fatalf("me: %d %v", code, out)
	}
	if strings.Contains(e.logs.String(), key) || strings.Contains(e.logs.String(), tok) {
		t.Error("a key or token reached the log")
	}
}

func TestUnauthenticatedAndForbidden(t *testing.T) {
	e := newEnv(t)
	admin := e.token(map[string]any{"grant_type": "api_key", "api_key": e.adminKey()})
	e.do("POST", "/api/orgs", admin, map[string]any{"name": "acme"})

	hash, _ := auth.HashSecret("dev-password")
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		_, err := tx.CreateUser(context.Background(), store.User{Name: "dev", PasswordHash: hash})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dev := e.token(map[string]any{"grant_type": "password", "username": "dev", "password": "dev-password", "realm": "provider/default-idp-2"})

	endpoints := []struct{ method, path string }{
		{"GET", "/api/me"}, {"DELETE", "/api/token"}, {"GET", "/api/orgs"}, {"POST", "/api/orgs"},
		{"GET", "/api/orgs/acme"}, {"GET", "/api/orgs/acme/catalogs"}, {"POST", "/api/orgs/acme/catalogs"},
		{"GET", "/api/catalogs/acme/sandbox"},
	}
	for _, ep := range endpoints {
		code, out := e.do(ep.method, ep.path, "", map[string]any{"name": "x"})
		msgs, _ := out["message"].([]any)
		if code != 401 || out["status"].(float64) != 401 || len(msgs) != 1 {
			t.Errorf("%s %s without a token: %d %v", ep.method, ep.path, code, out)
		}
	}
	// A user with no role in acme and no cloud role.
	for _, ep := range endpoints[3:] {
		if code, out := e.do(ep.method, ep.path, dev, map[string]any{"name": "x"}); code != 403 || out["status"].(float64) != 403 {
			t.Errorf("%s %s as a user without the role: %d %v", ep.method, ep.path, code, out)
		}
	}
	if code, out := e.do("GET", "/api/orgs", dev, nil); code != 200 || out["total_results"].(float64) != 0 {
		t.Errorf("a user sees only the orgs they belong to: %d %v", code, out)
	}
	if code, _ := e.do("POST", "/api/token", "", map[string]any{"grant_type": "password", "username": "dev", "password": "nope"}); code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	if code, _ := e.do("POST", "/api/token", "", map[string]any{"grant_type": "api_key", "api_key": "not-a-key"}); code != 401 {
		t.Errorf("wrong API key: %d", code)
	}
	// Logout revokes the token.
	if code, _ := e.do("DELETE", "/api/token", dev, nil); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := e.do("GET", "/api/me", dev, nil); code != 401 {
		t.Errorf("a revoked token still works: %d", code)
	}
}

func TestBootstrapOnlyOnce(t *testing.T) {
	e := newEnv(t)
	before := e.adminKey()
	m := manager.New(e.st, manager.Options{})
	if _, err := m.Bootstrap(context.Background(), e.home); err != nil {
		t.Fatal(err)
	}
	if e.adminKey() != before {
		t.Fatal("a second start must not replace the admin key")
	}
}

func TestMissingOrgIs404(t *testing.T) {
	e := newEnv(t)
	tok := e.token(map[string]any{"grant_type": "api_key", "api_key": e.adminKey()})
	for _, path := range []string{"/api/orgs/nope", "/api/orgs/nope/catalogs", "/api/catalogs/nope/sandbox/products"} {
		if code, out := e.do("GET", path, tok, nil); code != 404 || out["status"].(float64) != 404 {
			t.Errorf("GET %s: %d %v", path, code, out)
		}
	}
}

// The product endpoints need a token, and a role in the org.
func TestProductEndpointsAuthorised(t *testing.T) {
	e := newEnv(t)
	admin := e.token(map[string]any{"grant_type": "api_key", "api_key": e.adminKey()})
	e.do("POST", "/api/orgs", admin, map[string]any{"name": "acme"})
	org, err := e.st.GetProviderOrgByName(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := auth.HashSecret("pw")
	err = e.st.Tx(context.Background(), func(tx store.Tx) error {
		for name, role := range map[string]string{"outsider": "", "viewer": manager.RoleViewer} {
			u, err := tx.CreateUser(context.Background(), store.User{Name: name, PasswordHash: hash})
			if err != nil {
				return err
			}
			if role != "" {
				if _, err := tx.SetMembership(context.Background(), store.Membership{OrgID: org.ID, UserID: u.ID, Role: role}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	outsider := e.token(map[string]any{"grant_type": "password", "username": "outsider", "password": "pw"})
	viewer := e.token(map[string]any{"grant_type": "password", "username": "viewer", "password": "pw"})
	cases := []struct {
		method, path string
		denied       string // a token whose role is too low
	}{
		{"GET", "/api/catalogs/acme/sandbox/products", outsider},
		{"GET", "/api/catalogs/acme/sandbox/products/p:1.0.0", outsider},
		{"POST", "/api/catalogs/acme/sandbox/publish", viewer},
		{"PATCH", "/api/catalogs/acme/sandbox/products/p:1.0.0", viewer},
		{"DELETE", "/api/catalogs/acme/sandbox/products/p:1.0.0", viewer},
	}
	for _, c := range cases {
		if code, _ := e.do(c.method, c.path, "", map[string]any{}); code != 401 {
			t.Errorf("%s %s without a token: %d", c.method, c.path, code)
		}
		if code, out := e.do(c.method, c.path, c.denied, map[string]any{}); code != 403 {
			t.Errorf("%s %s with too low a role: %d %v", c.method, c.path, code, out)
		}
	}
	if code, out := e.do("GET", "/api/catalogs/acme/sandbox/products", viewer, nil); code != 200 || out["total_results"].(float64) != 0 {
		t.Errorf("a viewer lists products: %d %v", code, out)
	}
}

func TestFieldsAndClientCredentials(t *testing.T) {
	e := newEnv(t)
	admin := e.token(map[string]any{"grant_type": "api_key", "api_key": e.adminKey()})
	e.do("POST", "/api/orgs", admin, map[string]any{"name": "acme", "title": "ACME"})
	code, out := e.do("GET", "/api/orgs?fields=name,title", admin, nil)
	org := out["results"].([]any)[0].(map[string]any)
	if code != 200 || len(org) != 2 || org["name"] != "acme" || org["title"] != "ACME" || out["total_results"].(float64) != 2 {
		t.Fatalf("?fields=name,title: %d %v", code, out)
	}
	if _, out := e.do("GET", "/api/orgs/acme?fields=name", admin, nil); len(out) != 1 || out["name"] != "acme" {
		t.Fatalf("?fields on an object: %v", out)
	}
	if _, out := e.do("GET", "/api/orgs/acme?fields=add(owner_url)", admin, nil); out["owner_url"] == nil || out["type"] != "org" {
		t.Fatalf("?fields=add(…) keeps everything: %v", out)
	}

	// client_credentials: the client is an API key (its ID and the key).
	code, key := e.do("POST", "/api/me/api-keys", admin, map[string]any{"description": "ci"})
	if code != 201 {
		t.Fatalf("make an API key: %d %v", code, key)
	}
	e.token(map[string]any{"grant_type": "client_credentials", "client_id": key["id"], "client_secret": key["api_key"]})
	if code, _ := e.do("POST", "/api/token", "", map[string]any{"grant_type": "client_credentials", "client_id": key["id"], "client_secret": "wrong"}); code != 401 {
		t.Errorf("client_credentials with a wrong secret: %d", code)
	}
}

// A consumer org's owner manages its apps without a provider-org role;
// other users without a role may not.
func TestConsumerOrgOwnerManagesItsApps(t *testing.T) {
	e := newEnv(t)
	admin := e.token(map[string]any{"grant_type": "api_key", "api_key": e.adminKey()})
	e.do("POST", "/api/orgs", admin, map[string]any{"name": "acme"})
	hash, _ := auth.HashSecret("pw")
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		for _, name := range []string{"carol", "dave"} {
			if _, err := tx.CreateUser(context.Background(), store.User{Name: name, PasswordHash: hash}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, out := e.do("POST", "/api/catalogs/acme/sandbox/consumer-orgs", admin, map[string]any{"name": "partners", "owner": "carol"}); code != 201 {
		t.Fatalf("consumer org with an owner: %d %v", code, out)
	}
	carol := e.token(map[string]any{"grant_type": "password", "username": "carol", "password": "pw"})
	dave := e.token(map[string]any{"grant_type": "password", "username": "dave", "password": "pw"})
	if code, _ := e.do("GET", "/api/consumer-orgs/acme/sandbox/partners", carol, nil); code != 200 {
		t.Errorf("the owner reads the consumer org: %d", code)
	}
	if code, out := e.do("POST", "/api/consumer-orgs/acme/sandbox/partners/apps", carol, map[string]any{"name": "mobile"}); code != 201 || out["client_secret"] == nil {
		t.Errorf("the owner creates an app: %d %v", code, out)
	}
	for _, c := range []struct{ method, path, tok string }{
		{"GET", "/api/consumer-orgs/acme/sandbox/partners", dave},
		{"POST", "/api/consumer-orgs/acme/sandbox/partners/apps", dave},
		{"GET", "/api/catalogs/acme/sandbox/consumer-orgs", carol},
		{"POST", "/api/catalogs/acme/sandbox/consumer-orgs", carol},
	} {
		if code, _ := e.do(c.method, c.path, c.tok, map[string]any{"name": "x"}); code != 403 {
			t.Errorf("%s %s: %d, want 403", c.method, c.path, code)
		}
	}
}

func TestProductsExpandAPIs(t *testing.T) {
	e := newEnv(t)
	admin := e.token(map[string]any{"grant_type": "api_key", "api_key": e.adminKey()})
	e.do("POST", "/api/orgs", admin, map[string]any{"name": "acme"})
	api := "swagger: '2.0'\ninfo: {title: Weather, x-ibm-name: weather, version: 1.0.0}\nbasePath: /weather\npaths: {}\n"
	product := "product: 1.0.0\ninfo: {name: wp, version: 1.0.0}\napis: {weather: {$ref: weather.yaml}}\nplans: {default-plan: {title: Default}}\n"
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	pw, _ := mw.CreateFormFile("product", "wp.yaml")
	pw.Write([]byte(product))
	aw, _ := mw.CreateFormFile("openapi", "weather.yaml")
	aw.Write([]byte(api))
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/catalogs/acme/sandbox/publish", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("publish: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	_, out := e.do("GET", "/api/catalogs/acme/sandbox/products/wp:1.0.0", admin, nil)
	if apis := out["apis"].([]any); len(apis) != 1 || apis[0] != "weather:1.0.0" {
		t.Fatalf("apis by reference: %v", out["apis"])
	}
	_, out = e.do("GET", "/api/catalogs/acme/sandbox/products/wp:1.0.0?expand=apis", admin, nil)
	api0 := out["apis"].([]any)[0].(map[string]any)
	if api0["name"] != "weather" || api0["title"] != "Weather" || api0["base_path"] != "/weather" {
		t.Fatalf("expanded apis: %v", out["apis"])
	}
}
