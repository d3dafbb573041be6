package manager_test

import (
	"context"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/store"
)

// adminToken is a cloud admin's token.
func (e *env) adminToken() string {
	e.t.Helper()
	return e.token(map[string]any{"grant_type": "api_key", "api_key": e.adminKey()})
}

// newUser creates a user through the API and logs them in.
func (e *env) newUser(admin, name, password string) string {
	e.t.Helper()
	code, out := e.do("POST", "/api/user-registries/admin/users", admin, map[string]any{"username": name, "password": password, "email": name + "@example.com"})
	if code != 201 {
		e.t.Fatalf("create user %s: %d %v", name, code, out)
	}
	return e.token(map[string]any{"grant_type": "password", "username": name, "password": password, "realm": "provider/default-idp-2"})
}

func TestUsers(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	code, out := e.do("POST", "/api/user-registries/admin/users", admin, map[string]any{"username": "jo", "password": "s3cret-pw", "email": "jo@example.com", "title": "Jo"})
	if code != 201 {
		t.Fatalf("create user: %d %v", code, out)
	}
	for k, v := range map[string]any{"type": "user", "name": "jo", "title": "Jo", "email": "jo@example.com", "state": "enabled", "api_version": "2.0.0"} {
		if out[k] != v {
			t.Errorf("%s = %v, want %v", k, out[k], v)
		}
	}
	id := out["id"].(string)
	if out["url"] != "http://manager.test/api/user-registries/admin/users/"+id {
		t.Errorf("url = %v", out["url"])
	}
	for k := range out {
		if strings.Contains(k, "password") {
			t.Errorf("the answer has %s", k)
		}
	}
	u, err := e.st.GetUserByName(context.Background(), "jo")
	if err != nil || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Errorf("stored password hash: %q %v", u.PasswordHash, err)
	}
	// "name" works as well as "username"; a taken name conflicts.
	if code, out := e.do("POST", "/api/user-registries/admin/users", admin, map[string]any{"name": "kim", "password": "pw"}); code != 201 || out["name"] != "kim" {
		t.Errorf("create with name: %d %v", code, out)
	}
	if code, _ := e.do("POST", "/api/user-registries/admin/users", admin, map[string]any{"name": "kim", "password": "pw"}); code != 409 {
		t.Errorf("a taken name: %d", code)
	}
	if code, _ := e.do("POST", "/api/user-registries/admin/users", admin, map[string]any{"name": "nopw"}); code != 400 {
		t.Errorf("no password: %d", code)
	}

	jo := e.token(map[string]any{"grant_type": "password", "username": "jo", "password": "s3cret-pw"})
	if code, out := e.do("GET", "/api/me", jo, nil); code != 200 || out["name"] != "jo" {
		t.Errorf("me as jo: %d %v", code, out)
	}

	code, out = e.do("GET", "/api/user-registries/admin/users", admin, nil)
	if code != 200 || out["total_results"].(float64) != 3 {
		t.Fatalf("list users: %d %v", code, out)
	}
	for _, path := range []string{"jo", id} {
		if code, out := e.do("GET", "/api/user-registries/admin/users/"+path, admin, nil); code != 200 || out["id"] != id {
			t.Errorf("get user %s: %d %v", path, code, out)
		}
	}
	if code, _ := e.do("GET", "/api/user-registries/admin/users/nobody", admin, nil); code != 404 {
		t.Errorf("missing user: %d", code)
	}

	// Roles: 401 without a token, 403 for a user without the cloud role.
	for _, ep := range []struct{ method, path string }{
		{"GET", "/api/user-registries/admin/users"}, {"POST", "/api/user-registries/admin/users"},
		{"GET", "/api/user-registries/admin/users/kim"}, {"DELETE", "/api/user-registries/admin/users/kim"},
	} {
		if code, _ := e.do(ep.method, ep.path, "", map[string]any{"name": "x", "password": "y"}); code != 401 {
			t.Errorf("%s %s without a token: %d", ep.method, ep.path, code)
		}
		if code, _ := e.do(ep.method, ep.path, jo, map[string]any{"name": "x", "password": "y"}); code != 403 {
			t.Errorf("%s %s as a plain user: %d", ep.method, ep.path, code)
		}
	}

	if code, _ := e.do("DELETE", "/api/user-registries/admin/users/jo", admin, nil); code != 204 {
		t.Fatalf("delete user: %d", code)
	}
	if code, _ := e.do("GET", "/api/me", jo, nil); code != 401 {
		t.Errorf("a deleted user's token still works: %d", code)
	}
	if code, _ := e.do("DELETE", "/api/user-registries/admin/users/jo", admin, nil); code != 404 {
		t.Errorf("delete again: %d", code)
	}
	if code, _ := e.do("DELETE", "/api/user-registries/admin/users/admin", admin, nil); code != 409 {
		t.Errorf("deleting yourself: %d", code)
	}
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	jo := e.newUser(admin, "jo", "pw")
	for _, ep := range []struct{ method, path string }{{"GET", "/api/me/api-keys"}, {"POST", "/api/me/api-keys"}, {"DELETE", "/api/me/api-keys/x"}} {
		if code, _ := e.do(ep.method, ep.path, "", nil); code != 401 {
			t.Errorf("%s %s without a token: %d", ep.method, ep.path, code)
		}
	}

	code, out := e.do("POST", "/api/me/api-keys", jo, map[string]any{"description": "CI"})
	key, _ := out["api_key"].(string)
	if code != 201 || len(key) != 64 || out["description"] != "CI" || out["type"] != "api_key" {
		t.Fatalf("create API key: %d %v", code, out)
	}
	keyID := out["id"].(string)
	stored, err := e.st.GetAPIKey(context.Background(), keyID)
	if err != nil || stored.KeyHash == key || len(stored.KeyHash) != 64 {
		t.Errorf("stored key: %+v %v", stored, err)
	}
	// The key logs in as jo.
	tok := e.token(map[string]any{"grant_type": "api_key", "api_key": key})
	if code, out := e.do("GET", "/api/me", tok, nil); code != 200 || out["name"] != "jo" {
		t.Errorf("me with the key's token: %d %v", code, out)
	}
	// An empty body makes a key too.
	if code, out := e.do("POST", "/api/me/api-keys", jo, nil); code != 201 || out["api_key"] == nil {
		t.Errorf("create with no body: %d %v", code, out)
	}
	// Listed without the key, and only the caller's.
	code, out = e.do("GET", "/api/me/api-keys", jo, nil)
	if code != 200 || out["total_results"].(float64) != 2 {
		t.Fatalf("list keys: %d %v", code, out)
	}
	for _, k := range out["results"].([]any) {
		if _, ok := k.(map[string]any)["api_key"]; ok {
			t.Error("a listed key shows the key")
		}
	}
	if code, out := e.do("GET", "/api/me/api-keys", admin, nil); code != 200 || out["total_results"].(float64) != 1 {
		t.Errorf("the admin's keys: %d %v", code, out)
	}
	// Another user cannot delete jo's key.
	if code, _ := e.do("DELETE", "/api/me/api-keys/"+keyID, admin, nil); code != 404 {
		t.Errorf("deleting another user's key: %d", code)
	}
	if code, _ := e.do("DELETE", "/api/me/api-keys/"+keyID, jo, nil); code != 204 {
		t.Fatalf("delete key: %d", code)
	}
	if code, _ := e.do("POST", "/api/token", "", map[string]any{"grant_type": "api_key", "api_key": key}); code != 401 {
		t.Errorf("a deleted key still logs in: %d", code)
	}
	if strings.Contains(e.logs.String(), key) {
		t.Error("the key reached the log")
	}
}

func TestOrgMembers(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	if code, out := e.do("POST", "/api/orgs", admin, map[string]any{"name": "acme"}); code != 201 {
		t.Fatalf("create org: %d %v", code, out)
	}
	dev := e.newUser(admin, "dev", "pw")
	boss := e.newUser(admin, "boss", "pw")

	// Not a member yet.
	if code, _ := e.do("GET", "/api/orgs/acme/catalogs", dev, nil); code != 403 {
		t.Errorf("catalogs before joining: %d", code)
	}
	if code, out := e.do("PUT", "/api/orgs/acme/members/dev", admin, map[string]any{"role": "developer"}); code != 200 || out["role"] != "developer" || out["name"] != "dev" {
		t.Fatalf("add dev: %d %v", code, out)
	}
	if code, out := e.do("GET", "/api/orgs/acme/catalogs", dev, nil); code != 200 || out["total_results"].(float64) != 1 {
		t.Errorf("catalogs as a developer: %d %v", code, out)
	}
	if code, _ := e.do("POST", "/api/orgs/acme/drafts/draft-apis", dev, nil); code == 401 || code == 403 {
		t.Errorf("a developer endpoint as a developer: %d", code)
	}
	code, out := e.do("GET", "/api/orgs/acme/members", dev, nil)
	if code != 200 || out["total_results"].(float64) != 2 {
		t.Fatalf("list members: %d %v", code, out)
	}
	roles := map[string]any{}
	for _, r := range out["results"].([]any) {
		roles[r.(map[string]any)["name"].(string)] = r.(map[string]any)["role"]
	}
	if roles["admin"] != "owner" || roles["dev"] != "developer" {
		t.Errorf("members: %v", roles)
	}

	// Only owners change members.
	for _, ep := range []struct{ method, path string }{
		{"GET", "/api/orgs/acme/members"}, {"PUT", "/api/orgs/acme/members/boss"}, {"DELETE", "/api/orgs/acme/members/dev"},
	} {
		if code, _ := e.do(ep.method, ep.path, "", map[string]any{"role": "owner"}); code != 401 {
			t.Errorf("%s %s without a token: %d", ep.method, ep.path, code)
		}
	}
	if code, _ := e.do("GET", "/api/orgs/acme/members", boss, nil); code != 403 {
		t.Errorf("members as an outsider: %d", code)
	}
	if code, _ := e.do("PUT", "/api/orgs/acme/members/boss", dev, map[string]any{"role": "owner"}); code != 403 {
		t.Errorf("a developer adds an owner: %d", code)
	}
	if code, _ := e.do("DELETE", "/api/orgs/acme/members/dev", dev, nil); code != 403 {
		t.Errorf("a developer removes a member: %d", code)
	}
	if code, _ := e.do("PUT", "/api/orgs/acme/members/boss", admin, map[string]any{"role": "owner"}); code != 200 {
		t.Fatalf("add an owner: %d", code)
	}
	// An org owner (not a cloud admin) manages members.
	if code, _ := e.do("PUT", "/api/orgs/acme/members/dev", boss, map[string]any{"role": "viewer"}); code != 200 {
		t.Errorf("an owner changes a role: %d", code)
	}
	if code, _ := e.do("POST", "/api/orgs/acme/catalogs", dev, map[string]any{"name": "prod"}); code != 403 {
		t.Errorf("a viewer creates a catalog: %d", code)
	}
	if code, _ := e.do("PUT", "/api/orgs/acme/members/dev", boss, map[string]any{"role": "emperor"}); code != 400 {
		t.Errorf("a bad role: %d", code)
	}
	if code, _ := e.do("PUT", "/api/orgs/acme/members/nobody", boss, map[string]any{"role": "viewer"}); code != 404 {
		t.Errorf("a missing user: %d", code)
	}
	if code, _ := e.do("DELETE", "/api/orgs/acme/members/admin", boss, nil); code != 409 {
		t.Errorf("removing the org's owner: %d", code)
	}
	if code, _ := e.do("DELETE", "/api/orgs/acme/members/dev", boss, nil); code != 204 {
		t.Fatalf("remove dev: %d", code)
	}
	if code, _ := e.do("GET", "/api/orgs/acme/catalogs", dev, nil); code != 403 {
		t.Errorf("catalogs after leaving: %d", code)
	}
	if code, _ := e.do("DELETE", "/api/orgs/acme/members/dev", boss, nil); code != 404 {
		t.Errorf("remove again: %d", code)
	}
}

func TestTopologyAndAudit(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	plain := e.newUser(admin, "plain", "pw")
	for _, path := range []string{"/api/cloud/topology", "/api/cloud/audit"} {
		if code, _ := e.do("GET", path, "", nil); code != 401 {
			t.Errorf("GET %s without a token: %d", path, code)
		}
		if code, _ := e.do("GET", path, plain, nil); code != 403 {
			t.Errorf("GET %s as a plain user: %d", path, code)
		}
	}

	code, out := e.do("GET", "/api/cloud/topology", admin, nil)
	if code != 200 {
		t.Fatalf("topology: %d %v", code, out)
	}
	c := out["counts"].(map[string]any)
	if c["provider_orgs"].(float64) != 0 || c["users"].(float64) != 2 || c["catalogs"].(float64) != 0 {
		t.Errorf("empty cloud counts: %v", c)
	}

	e.do("POST", "/api/orgs", admin, map[string]any{"name": "acme"})
	e.do("POST", "/api/orgs/acme/catalogs", admin, map[string]any{"name": "prod"})
	org, err := e.st.GetProviderOrgByName(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	err = e.st.Tx(context.Background(), func(tx store.Tx) error {
		_, err := tx.CreateDraftAPI(context.Background(), store.DraftAPI{OrgID: org.ID, Name: "pets", Version: "1.0.0", Title: "Pets", Document: []byte("openapi: 3.0.0\ninfo: {title: Pets, version: 1.0.0}\npaths: {}\n")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	code, out = e.do("GET", "/api/cloud/topology", admin, nil)
	if code != 200 {
		t.Fatalf("topology: %d %v", code, out)
	}
	c = out["counts"].(map[string]any)
	want := map[string]float64{"provider_orgs": 1, "catalogs": 2, "draft_apis": 1, "draft_products": 0, "products": 0,
		"consumer_orgs": 0, "apps": 0, "subscriptions": 0, "users": 2}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("cloud counts[%s] = %v, want %v", k, c[k], v)
		}
	}
	orgs := out["orgs"].(map[string]any)["results"].([]any)
	if len(orgs) != 1 {
		t.Fatalf("orgs: %v", orgs)
	}
	o := orgs[0].(map[string]any)
	oc := o["counts"].(map[string]any)
	if o["name"] != "acme" || oc["catalogs"].(float64) != 2 || oc["draft_apis"].(float64) != 1 || oc["members"].(float64) != 1 {
		t.Errorf("org topology: %v", o)
	}
	cats := o["catalogs"].(map[string]any)["results"].([]any)
	if len(cats) != 2 {
		t.Fatalf("catalogs: %v", cats)
	}
	for _, cat := range cats {
		cc := cat.(map[string]any)["counts"].(map[string]any)
		for _, k := range []string{"products", "consumer_orgs", "apps", "subscriptions"} {
			if cc[k] != float64(0) {
				t.Errorf("catalog %v counts[%s] = %v", cat.(map[string]any)["name"], k, cc[k])
			}
		}
	}

	// The audit log, newest first.
	code, out = e.do("GET", "/api/cloud/audit", admin, nil)
	if code != 200 || out["total_results"].(float64) != 3 {
		t.Fatalf("audit: %d %v", code, out)
	}
	entries := out["results"].([]any)
	first := entries[0].(map[string]any)
	if first["user"] != "admin" || first["action"] != "create" || first["object_type"] != "catalog" || first["time"] == nil ||
		!strings.Contains(first["summary"].(string), "prod") {
		t.Errorf("newest entry: %v", first)
	}
	second := entries[1].(map[string]any)
	if second["object_type"] != "org" || second["object_id"] != org.ID || second["summary"] != "created provider org acme" {
		t.Errorf("org creation entry: %v", second)
	}
	if entries[2].(map[string]any)["object_type"] != "user" {
		t.Errorf("oldest entry: %v", entries[2])
	}
	code, out = e.do("GET", "/api/cloud/audit?limit=1&offset=1", admin, nil)
	if code != 200 || out["total_results"].(float64) != 3 || len(out["results"].([]any)) != 1 ||
		out["results"].([]any)[0].(map[string]any)["object_type"] != "org" {
		t.Errorf("audit page: %d %v", code, out)
	}
	if code, _ := e.do("GET", "/api/cloud/audit?limit=x", admin, nil); code != 400 {
		t.Errorf("a bad limit: %d", code)
	}
}
