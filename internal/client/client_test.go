package client_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/portico-api/portico/internal/auth"
	"github.com/portico-api/portico/internal/client"
	"github.com/portico-api/portico/internal/manager"
	"github.com/portico-api/portico/internal/store"
)

const apiYAML = `swagger: '2.0'
info:
  title: Weather
  x-ibm-name: weather
  version: 1.0.0
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

const productYAML = `product: 1.0.0
info:
  name: weather-product
  title: Weather Product
  version: 1.0.0
plans:
  default-plan:
    title: Default Plan
    rate-limits:
      default: {value: 100/1hour}
apis:
  weather1.0.0: {$ref: weather.yaml}
`

type env struct {
	srv  *httptest.Server
	st   store.Store
	key  string
	home string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	home := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(home, "portico.db"), bytes.Repeat([]byte{7}, store.SecretKeySize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := manager.New(st, manager.Options{BaseURL: "http://manager.test", Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	if _, err := m.Bootstrap(ctx, home); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	key, err := os.ReadFile(filepath.Join(home, manager.AdminKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, st: st, key: strings.TrimSpace(string(key)), home: home}
}

func (e *env) admin(t *testing.T) *client.Client {
	t.Helper()
	c := client.New(e.srv.URL + "/")
	if err := c.LoginAPIKey(context.Background(), e.key); err != nil {
		t.Fatal(err)
	}
	return c
}

// member makes a user with a password and a role in org ("" for none).
func (e *env) member(t *testing.T, org, name, role string) *client.Client {
	t.Helper()
	ctx := context.Background()
	hash, err := auth.HashSecret(name + "-pw")
	if err != nil {
		t.Fatal(err)
	}
	o, err := e.st.GetProviderOrgByName(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	err = e.st.Tx(ctx, func(tx store.Tx) error {
		u, err := tx.CreateUser(ctx, store.User{Name: name, PasswordHash: hash})
		if err != nil || role == "" {
			return err
		}
		_, err = tx.SetMembership(ctx, store.Membership{OrgID: o.ID, UserID: u.ID, Role: role})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(e.srv.URL)
	if err := c.LoginPassword(ctx, name, name+"-pw"); err != nil {
		t.Fatal(err)
	}
	return c
}

// wantError checks err is an *Error with status and a message holding text.
func wantError(t *testing.T, err error, status int, text string) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T): want *client.Error %d", err, err, status)
	}
	if e.Status != status || client.StatusOf(err) != status {
		t.Fatalf("status %d, want %d: %v", e.Status, status, err)
	}
	if !strings.Contains(strings.Join(e.Messages, "\n"), text) || !strings.Contains(e.Error(), text) {
		t.Fatalf("messages %q: want %q", e.Messages, text)
	}
	return e
}

func TestFlow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.admin(t)
	if c.CurrentToken() == "" {
		t.Fatal("no token after LoginAPIKey")
	}
	me, err := c.Me(ctx)
	if err != nil || me.Name == "" || me.Type != "user" || me.CreatedAt.IsZero() {
		t.Fatalf("Me: %+v %v", me, err)
	}

	// Orgs and catalogs.
	org, err := c.CreateOrg(ctx, client.CreateRequest{Name: "acme", Title: "ACME"})
	if err != nil || org.Name != "acme" || org.OrgType != "provider" || org.ID == "" || org.CreatedAt.IsZero() ||
		!strings.HasPrefix(org.URL, "http://manager.test/api/orgs/") {
		t.Fatalf("CreateOrg: %+v %v", org, err)
	}
	_, err = c.CreateOrg(ctx, client.CreateRequest{Name: "acme"})
	if !client.IsConflict(err) {
		t.Fatalf("second acme: %v", err)
	}
	orgs, total, err := c.Orgs(ctx, client.ListOptions{})
	if err != nil || total != 2 || len(orgs) != 2 || orgs[0].ID != org.ID || orgs[1].OrgType != "admin" { // and the admin org
		t.Fatalf("Orgs: %+v %d %v", orgs, total, err)
	}
	if got, err := c.Org(ctx, org.ID); err != nil || got.Name != "acme" {
		t.Fatalf("Org by ID: %+v %v", got, err)
	}
	cats, total, err := c.Catalogs(ctx, "acme", client.ListOptions{})
	if err != nil || total != 1 || cats[0].Name != "sandbox" || cats[0].OrgURL != org.URL {
		t.Fatalf("Catalogs: %+v %d %v", cats, total, err)
	}
	if cat, err := c.CreateCatalog(ctx, "acme", client.CreateRequest{Name: "prod"}); err != nil || cat.Title != "prod" {
		t.Fatalf("CreateCatalog: %+v %v", cat, err)
	}
	if _, total, err := c.Catalogs(ctx, "acme", client.ListOptions{Limit: 1}); err != nil || total != 2 {
		t.Fatalf("Catalogs limit 1: %d %v", total, err)
	}

	// Drafts from bytes.
	d, err := c.CreateDraftAPI(ctx, "acme", []byte(apiYAML))
	if err != nil || d.Name != "weather" || d.Version != "1.0.0" || d.Type != "draft_api" || d.Ref() != "weather:1.0.0" {
		t.Fatalf("CreateDraftAPI: %+v %v", d, err)
	}
	got, err := c.DraftAPI(ctx, "acme", "weather:1.0.0")
	if err != nil || got.ID != d.ID || !bytes.Contains(got.Document, []byte(`"x-ibm-name":"weather"`)) {
		t.Fatalf("DraftAPI: %+v %s %v", got, got.Document, err)
	}
	v2 := strings.Replace(apiYAML, "version: 1.0.0", "version: 2.0.0", 1)
	if up, err := c.UpdateDraftAPI(ctx, "acme", d.ID, []byte(v2)); err != nil || up.Version != "2.0.0" || up.ID != d.ID {
		t.Fatalf("UpdateDraftAPI: %+v %v", up, err)
	}
	drafts, total, err := c.DraftAPIs(ctx, "acme", client.ListOptions{})
	if err != nil || total != 1 || drafts[0].Version != "2.0.0" {
		t.Fatalf("DraftAPIs: %+v %v", drafts, err)
	}
	_, err = c.CreateDraftAPI(ctx, "acme", []byte(strings.Replace(apiYAML, "set-variable", "no-such-policy", 1)))
	wantError(t, err, 400, "no-such-policy")
	dp, err := c.CreateDraftProduct(ctx, "acme", []byte(strings.Replace(productYAML, "{$ref: weather.yaml}", "{name: 'weather:1.0.0'}", 1)))
	if err != nil || dp.Name != "weather-product" || dp.Type != "draft_product" || len(dp.Document) == 0 {
		t.Fatalf("CreateDraftProduct: %+v %v", dp, err)
	}
	if ps, total, err := c.DraftProducts(ctx, "acme", client.ListOptions{}); err != nil || total != 1 || ps[0].ID != dp.ID {
		t.Fatalf("DraftProducts: %+v %v", ps, err)
	}
	if got, err := c.DraftProduct(ctx, "acme", dp.ID); err != nil || got.Name != "weather-product" {
		t.Fatalf("DraftProduct: %+v %v", got, err)
	}
	if err := c.DeleteDraftProduct(ctx, "acme", "weather-product:1.0.0"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteDraftAPI(ctx, "acme", d.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.DraftAPI(ctx, "acme", d.ID)
	wantError(t, err, 404, "not found")

	// Publish.
	prod, err := c.Publish(ctx, "acme", "sandbox", client.File{Name: "product.yaml", Data: []byte(productYAML)},
		client.File{Name: "weather.yaml", Data: []byte(apiYAML)})
	if err != nil || prod.Name != "weather-product" || prod.State != client.ProductPublished ||
		len(prod.APIs) != 1 || prod.APIs[0] != "weather:1.0.0" || prod.Ref() != "weather-product:1.0.0" {
		t.Fatalf("Publish: %+v %v", prod, err)
	}
	_, err = c.Publish(ctx, "acme", "sandbox", client.File{Name: "product.yaml", Data: []byte(strings.Replace(productYAML, "1.0.0\nplans", "2.0.0\nplans", 1))})
	wantError(t, err, 400, "was not uploaded")
	staged, err := c.Stage(ctx, "acme", "prod", client.File{Data: []byte(productYAML)}, client.File{Name: "weather.yaml", Data: []byte(apiYAML)})
	if err != nil || staged.State != client.ProductStaged {
		t.Fatalf("Stage: %+v %v", staged, err)
	}
	prods, total, err := c.Products(ctx, "acme", "sandbox", client.ListOptions{})
	if err != nil || total != 1 || prods[0].ID != prod.ID {
		t.Fatalf("Products: %+v %v", prods, err)
	}
	if p, err := c.Product(ctx, "acme", "sandbox", "weather-product:1.0.0"); err != nil || p.ID != prod.ID {
		t.Fatalf("Product: %+v %v", p, err)
	}

	// Consumers.
	corg, err := c.CreateConsumerOrg(ctx, "acme", "sandbox", client.CreateRequest{Name: "devs", Title: "Developers"})
	if err != nil || corg.Name != "devs" || corg.CatalogURL == "" {
		t.Fatalf("CreateConsumerOrg: %+v %v", corg, err)
	}
	if cs, total, err := c.ConsumerOrgs(ctx, "acme", "sandbox", client.ListOptions{}); err != nil || total != 1 || cs[0].ID != corg.ID {
		t.Fatalf("ConsumerOrgs: %+v %v", cs, err)
	}
	if got, err := c.ConsumerOrg(ctx, "acme", "sandbox", corg.ID); err != nil || got.Name != "devs" {
		t.Fatalf("ConsumerOrg: %+v %v", got, err)
	}
	app, err := c.CreateApp(ctx, "acme", "sandbox", "devs", client.CreateRequest{Name: "app1"})
	if err != nil || app.Name != "app1" || len(app.ClientID) != 32 || app.ClientSecret == "" ||
		len(app.Credentials) != 1 || app.Credentials[0].ClientID != app.ClientID {
		t.Fatalf("CreateApp: %+v %v", app, err)
	}
	ref := client.AppRef{Org: "acme", Catalog: "sandbox", ConsumerOrg: "devs", App: "app1"}
	if got, err := c.App(ctx, ref); err != nil || got.ID != app.ID || got.ClientSecret != "" {
		t.Fatalf("App: %+v %v", got, err)
	}
	if apps, total, err := c.Apps(ctx, "acme", "sandbox", "devs", client.ListOptions{}); err != nil || total != 1 || apps[0].ID != app.ID {
		t.Fatalf("Apps: %+v %v", apps, err)
	}
	disabled := client.AppDisabled
	if got, err := c.UpdateApp(ctx, ref, client.AppUpdate{State: &disabled}); err != nil || got.State != "disabled" {
		t.Fatalf("UpdateApp: %+v %v", got, err)
	}

	// Credentials.
	credID := app.Credentials[0].ID
	if ok, err := c.VerifyCredential(ctx, ref, credID, app.ClientID, app.ClientSecret); err != nil || !ok {
		t.Fatalf("verify the first secret: %v %v", ok, err)
	}
	if ok, err := c.VerifyCredential(ctx, ref, credID, "", "wrong"); err != nil || ok {
		t.Fatalf("verify a wrong secret: %v %v", ok, err)
	}
	reset, err := c.ResetCredential(ctx, ref, credID)
	if err != nil || reset.ClientID != app.ClientID || reset.ClientSecret == "" || reset.ClientSecret == app.ClientSecret {
		t.Fatalf("ResetCredential: %+v %v", reset, err)
	}
	if ok, _ := c.VerifyCredential(ctx, ref, credID, "", app.ClientSecret); ok {
		t.Fatal("the old secret still verifies")
	}
	if ok, err := c.VerifyCredential(ctx, ref, credID, "", reset.ClientSecret); err != nil || !ok {
		t.Fatalf("verify the new secret: %v %v", ok, err)
	}
	cred2, err := c.CreateCredential(ctx, ref, client.CreateRequest{})
	if err != nil || cred2.ClientSecret == "" || !strings.HasPrefix(cred2.Name, "credential-") {
		t.Fatalf("CreateCredential: %+v %v", cred2, err)
	}
	if got, err := c.Credential(ctx, ref, cred2.Name); err != nil || got.ID != cred2.ID || got.ClientSecret != "" {
		t.Fatalf("Credential: %+v %v", got, err)
	}
	if creds, total, err := c.Credentials(ctx, ref, client.ListOptions{}); err != nil || total != 2 || len(creds) != 2 {
		t.Fatalf("Credentials: %+v %v", creds, err)
	}
	if err := c.DeleteCredential(ctx, ref, cred2.ID); err != nil {
		t.Fatal(err)
	}

	// Subscriptions.
	sub, err := c.Subscribe(ctx, ref, "weather-product:1.0.0", "default-plan")
	if err != nil || sub.Plan != "default-plan" || sub.State != "enabled" || !strings.HasSuffix(sub.ProductURL, "/products/"+prod.ID) {
		t.Fatalf("Subscribe: %+v %v", sub, err)
	}
	_, err = c.Subscribe(ctx, ref, "weather-product:1.0.0", "platinum")
	wantError(t, err, 400, `no plan "platinum"`)
	if subs, total, err := c.Subscriptions(ctx, ref, client.ListOptions{}); err != nil || total != 1 || subs[0].ID != sub.ID {
		t.Fatalf("Subscriptions: %+v %v", subs, err)
	}
	if got, err := c.Subscription(ctx, ref, sub.ID); err != nil || got.Plan != "default-plan" {
		t.Fatalf("Subscription: %+v %v", got, err)
	}
	if err := c.DeleteSubscription(ctx, ref, sub.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.Subscription(ctx, ref, sub.ID)
	wantError(t, err, 404, "not found")

	// Lifecycle.
	dep, err := c.SetProductState(ctx, "acme", "sandbox", prod.ID, client.ProductDeprecated)
	if err != nil || dep.State != client.ProductDeprecated {
		t.Fatalf("SetProductState: %+v %v", dep, err)
	}
	_, err = c.Subscribe(ctx, ref, "weather-product:1.0.0", "default-plan")
	wantError(t, err, 400, "is deprecated")
	_, err = c.SetProductState(ctx, "acme", "sandbox", prod.ID, client.ProductStaged)
	wantError(t, err, 400, "cannot become staged")
	title := "Weather, renamed"
	if p, err := c.UpdateProduct(ctx, "acme", "sandbox", prod.ID, client.ProductUpdate{Title: &title}); err != nil || p.Title != title || p.State != client.ProductDeprecated {
		t.Fatalf("UpdateProduct: %+v %v", p, err)
	}

	// Deleting.
	if err := c.DeleteApp(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteConsumerOrg(ctx, "acme", "sandbox", "devs"); err != nil {
		t.Fatal(err)
	}
	_, err = c.ConsumerOrg(ctx, "acme", "sandbox", "devs")
	wantError(t, err, 404, "consumer org devs not found")

	// Logout revokes the token.
	tok := c.CurrentToken()
	if err := c.Logout(ctx); err != nil || c.CurrentToken() != "" {
		t.Fatalf("Logout: %v", err)
	}
	_, err = client.New(e.srv.URL, client.WithToken(tok)).Me(ctx)
	wantError(t, err, 401, "a valid bearer token is required")
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// A bad API key: 401 with the server's text; the token stays unset.
	c := client.New(e.srv.URL)
	err := c.LoginAPIKey(ctx, "not-a-key")
	if !client.IsUnauthorized(err) {
		t.Fatalf("bad key: %v", err)
	}
	wantError(t, err, 401, "invalid credentials")
	if c.CurrentToken() != "" {
		t.Fatal("a failed login set a token")
	}
	_, err = c.Token(ctx, client.TokenRequest{GrantType: "magic"})
	wantError(t, err, 401, `grant_type must be "api_key", "password"`)
	_, _, err = c.Orgs(ctx, client.ListOptions{})
	wantError(t, err, 401, "bearer token")

	admin := e.admin(t)
	if _, err := admin.CreateOrg(ctx, client.CreateRequest{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	tok, err := admin.Token(ctx, client.TokenRequest{APIKey: e.key})
	if err != nil || tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.ExpiresIn <= 0 {
		t.Fatalf("Token: %+v %v", tok, err)
	}

	// 403: roles.
	viewer := e.member(t, "acme", "vera", "viewer")
	stranger := e.member(t, "acme", "sam", "")
	_, err = viewer.CreateOrg(ctx, client.CreateRequest{Name: "mine"})
	wantError(t, err, 403, "your role does not allow this")
	_, err = viewer.CreateDraftAPI(ctx, "acme", []byte(apiYAML))
	if !client.IsForbidden(err) {
		t.Fatalf("viewer creates a draft: %v", err)
	}
	if _, total, err := viewer.DraftAPIs(ctx, "acme", client.ListOptions{}); err != nil || total != 0 {
		t.Fatalf("viewer lists drafts: %d %v", total, err)
	}
	_, _, err = stranger.Catalogs(ctx, "acme", client.ListOptions{})
	wantError(t, err, 403, "your role does not allow this")
	if orgs, total, err := stranger.Orgs(ctx, client.ListOptions{}); err != nil || total != 0 || len(orgs) != 0 {
		t.Fatalf("stranger's orgs: %+v %v", orgs, err)
	}

	// 404s carry the server's text.
	_, err = admin.Org(ctx, "nope")
	wantError(t, err, 404, "provider org nope")
	if !client.IsNotFound(err) {
		t.Fatal("IsNotFound")
	}
	_, err = admin.Product(ctx, "acme", "sandbox", "nope:1.0.0")
	wantError(t, err, 404, "")
	_, err = admin.App(ctx, client.AppRef{Org: "acme", Catalog: "sandbox", ConsumerOrg: "ghosts", App: "a"})
	wantError(t, err, 404, "consumer org ghosts not found in catalog sandbox")
	_, _, err = admin.Catalogs(ctx, "a/b c", client.ListOptions{})
	if client.StatusOf(err) != 404 {
		t.Fatalf("escaped org name: %v", err)
	}
	// Not the manager's error shape: the text is the message.
	_, err = client.New(e.srv.URL+"/nothing-here", client.WithHTTPClient(e.srv.Client())).Me(ctx)
	wantError(t, err, 404, "page not found")
}

// The client is safe for concurrent use: logins and calls at once.
func TestConcurrent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.admin(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 10 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := c.Me(ctx); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				if err := c.LoginAPIKey(ctx, e.key); err != nil {
					errs <- err
				}
				return
			}
			if _, _, err := c.Orgs(ctx, client.ListOptions{Limit: 5}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
