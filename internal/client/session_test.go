package client_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/portico-api/portico/internal/client"
)

// A refused token is refreshed once, even when many calls are refused at
// the same time, and the calls then go through.
func TestRefreshOnRefusedToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok, err := client.New(e.srv.URL).Token(ctx, client.TokenRequest{APIKey: e.key})
	if err != nil || tok.RefreshToken == "" || tok.RefreshExpiresIn <= 0 {
		t.Fatalf("Token: %+v %v", tok, err)
	}
	// Revoke the access token: the manager now refuses it, as an expired one.
	if err := client.New(e.srv.URL, client.WithToken(tok.AccessToken)).Logout(ctx); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	saved := tok.RefreshToken
	var refreshes atomic.Int32
	c := client.New(e.srv.URL, client.WithToken(tok.AccessToken), client.WithRefresh(func(ctx context.Context) (string, error) {
		refreshes.Add(1)
		mu.Lock()
		defer mu.Unlock()
		nt, err := client.New(e.srv.URL).Refresh(ctx, saved)
		if err != nil {
			return "", err
		}
		saved = nt.RefreshToken
		return nt.AccessToken, nil
	}))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Me(ctx); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := refreshes.Load(); n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	if c.CurrentToken() == tok.AccessToken {
		t.Fatal("the client kept the refused token")
	}

	// LogoutAll revokes the refresh token too.
	mu.Lock()
	last := saved
	mu.Unlock()
	if err := c.LogoutAll(ctx, last); err != nil || c.CurrentToken() != "" {
		t.Fatalf("LogoutAll: %v", err)
	}
	_, err = client.New(e.srv.URL).Refresh(ctx, last)
	wantError(t, err, 401, "invalid credentials")
}

// When the refresh fails, the call's own 401 comes back; a 401 that is
// not about the token (a credential's secret not matching) refreshes
// nothing.
func TestRefreshFails(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var refreshes atomic.Int32
	c := client.New(e.srv.URL, client.WithToken("expired-or-made-up"), client.WithRefresh(func(context.Context) (string, error) {
		refreshes.Add(1)
		return "", errors.New("the refresh token expired too")
	}))
	_, err := c.Me(ctx)
	wantError(t, err, 401, "a valid bearer token is required")
	if refreshes.Load() != 1 {
		t.Fatalf("refreshes: %d", refreshes.Load())
	}

	admin := e.admin(t)
	if _, err := admin.CreateOrg(ctx, client.CreateRequest{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateConsumerOrg(ctx, "acme", "sandbox", client.CreateRequest{Name: "devs"}); err != nil {
		t.Fatal(err)
	}
	app, err := admin.CreateApp(ctx, "acme", "sandbox", "devs", client.CreateRequest{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	refreshes.Store(0)
	withRefresh := client.New(e.srv.URL, client.WithToken(admin.CurrentToken()), client.WithRefresh(func(context.Context) (string, error) {
		refreshes.Add(1)
		return "", errors.New("must not be called")
	}))
	ref := client.AppRef{Org: "acme", Catalog: "sandbox", ConsumerOrg: "devs", App: "a"}
	if ok, err := withRefresh.VerifyCredential(ctx, ref, app.Credentials[0].ID, "", "wrong"); ok || err != nil || refreshes.Load() != 0 {
		t.Fatalf("a wrong secret: %v %v, %d refreshes", ok, err, refreshes.Load())
	}
}

func TestLifecycleAndCatalogAPIs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.admin(t)
	if _, err := c.CreateOrg(ctx, client.CreateRequest{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	me, _ := c.Me(ctx)
	members, total, err := c.Members(ctx, "acme", client.ListOptions{})
	if err != nil || total != 1 || members[0].ID != me.ID || members[0].Role != "owner" {
		t.Fatalf("Members: %+v %v", members, err)
	}

	// A draft product published with its draft API.
	if _, err := c.CreateDraftAPI(ctx, "acme", []byte(apiYAML)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDraftProduct(ctx, "acme", []byte(productYAML)); err != nil {
		t.Fatal(err)
	}
	p, err := c.PublishDraftProduct(ctx, "acme", "weather-product:1.0.0", "sandbox", false)
	if err != nil || p.State != client.ProductPublished || p.APIs[0] != "weather:1.0.0" {
		t.Fatalf("PublishDraftProduct: %+v %v", p, err)
	}
	_, err = c.PublishDraftProduct(ctx, "acme", "weather-product:1.0.0", "nowhere", false)
	wantError(t, err, 404, "nowhere")

	apis, err := c.CatalogAPIs(ctx, "acme", "sandbox")
	if err != nil || len(apis) != 1 || apis[0].Ref() != "weather:1.0.0" || apis[0].State != "online" ||
		apis[0].BasePath != "/weather" || apis[0].Products[0] != "weather-product:1.0.0" {
		t.Fatalf("CatalogAPIs: %+v %v", apis, err)
	}
	if a, err := c.CatalogAPI(ctx, "acme", "sandbox", "weather"); err != nil || a.Version != "1.0.0" {
		t.Fatalf("CatalogAPI by name: %+v %v", a, err)
	}
	_, err = c.CatalogAPI(ctx, "acme", "sandbox", "rain:1.0.0")
	wantError(t, err, 404, "API rain:1.0.0 not found")

	// Supersede with a mapping: the old product is deprecated and its
	// subscription moves.
	corg, _ := c.CreateConsumerOrg(ctx, "acme", "sandbox", client.CreateRequest{Name: "devs"})
	ref := client.AppRef{Org: "acme", Catalog: "sandbox", ConsumerOrg: corg.Name, App: "a"}
	if _, err := c.CreateApp(ctx, "acme", "sandbox", "devs", client.CreateRequest{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, ref, "weather-product:1.0.0", "default-plan"); err != nil {
		t.Fatal(err)
	}
	v2 := []byte(strings.Replace(productYAML, "version: 1.0.0\nplans", "version: 2.0.0\nplans", 1))
	if _, err := c.Stage(ctx, "acme", "sandbox", client.File{Data: v2}, client.File{Name: "weather.yaml", Data: []byte(apiYAML)}); err != nil {
		t.Fatal(err)
	}
	mapping := client.PlanMapping{ProductURL: "weather-product:1.0.0", Plans: []client.PlanMap{{Source: "default-plan", Target: "default-plan"}}}
	np, err := c.SupersedeProduct(ctx, "acme", "sandbox", "weather-product:2.0.0", mapping)
	if err != nil || np.State != client.ProductPublished {
		t.Fatalf("SupersedeProduct: %+v %v", np, err)
	}
	if old, _ := c.Product(ctx, "acme", "sandbox", "weather-product:1.0.0"); old.State != client.ProductDeprecated {
		t.Fatalf("the old product: %s", old.State)
	}
	subs, _, _ := c.Subscriptions(ctx, ref, client.ListOptions{})
	if len(subs) != 1 || subs[0].ProductURL != np.URL {
		t.Fatalf("the subscription did not move: %+v", subs)
	}
	_, err = c.ReplaceProduct(ctx, "acme", "sandbox", "weather-product:2.0.0", client.PlanMapping{ProductURL: "weather-product:2.0.0"})
	wantError(t, err, 400, "cannot replace itself")
}
