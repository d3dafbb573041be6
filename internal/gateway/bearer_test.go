package gateway_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

const oauthAPI = `swagger: '2.0'
info: {title: Orders, x-ibm-name: orders, version: 1.0.0}
basePath: /orders
securityDefinitions:
  oauth:
    type: oauth2
    flow: application
    tokenUrl: https://idp.example/token
    scopes: {}
security:
  - oauth: []
x-ibm-configuration:
  gateway: datapower-api-gateway
  assembly:
    execute:
      - set-variable:
          version: 2.0.0
          actions:
            - {set: message.body, value: 'hello $(client.app.name)', type: string}
paths:
  /:
    get:
      responses: {'200': {description: ok}}
`

const oauthProduct = `product: 1.0.0
info: {name: orders-product, version: 1.0.0}
apis: {orders: {$ref: orders.yaml}}
plans: {default-plan: {title: Default}}
`

const oauthConsumers = `consumer-orgs:
  - name: partners
    apps:
      - name: partner-app
        credentials: [{client-id: partner-client}]
        subscriptions: [{product: orders-product:1.0.0, plan: default-plan}]
`

type signer struct {
	key jwk.Key
	pub jwk.Set
	kid string
}

func newSigner(t *testing.T, kid string) *signer {
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	key.Set(jwk.KeyIDKey, kid)
	key.Set(jwk.AlgorithmKey, jwa.RS256())
	pub, err := key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	set.AddKey(pub)
	return &signer{key: key, pub: set, kid: kid}
}

func (s *signer) token(t *testing.T, claims map[string]any) string {
	b := jwt.NewBuilder().Expiration(time.Now().Add(time.Hour)).Issuer("https://idp.example").Audience([]string{"orders-api"})
	for k, v := range claims {
		b = b.Claim(k, v)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), s.key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func oauthBundle(t *testing.T, catalog string) string {
	dir := t.TempDir()
	for name, body := range map[string]string{"catalog.yaml": catalog, "orders.yaml": oauthAPI, "product.yaml": oauthProduct, "consumers.yaml": oauthConsumers} {
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	return dir
}

func TestBearerTokenIdentifiesTheApp(t *testing.T) {
	good, other := newSigner(t, "k1"), newSigner(t, "k2")
	dir := oauthBundle(t, "oauth:\n  jwks-file: jwks.json\n  issuer: https://idp.example\n  audience: orders-api\n")
	data, _ := json.Marshal(good.pub)
	os.WriteFile(filepath.Join(dir, "jwks.json"), data, 0o644)
	gw := serve(t, dir)
	url := gw.URL + "/local/sandbox/orders/"
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	r := call(t, "GET", url, "", bearer(good.token(t, map[string]any{"client_id": "partner-client"})))
	if r.Status != 200 || r.Body != "hello partner-app" {
		t.Fatalf("valid token: %d %s", r.Status, r.Body)
	}
	for name, tok := range map[string]string{
		"signed by another key": other.token(t, map[string]any{"client_id": "partner-client"}),
		"unknown client":        good.token(t, map[string]any{"client_id": "stranger"}),
		"expired":               good.token(t, map[string]any{"client_id": "partner-client", "exp": time.Now().Add(-time.Hour).Unix()}),
		"wrong issuer":          good.token(t, map[string]any{"client_id": "partner-client", "iss": "https://evil.example"}),
		"wrong audience":        good.token(t, map[string]any{"client_id": "partner-client", "aud": "other-api"}),
		"not a JWT":             "abc.def.ghi",
	} {
		if r := call(t, "GET", url, "", bearer(tok)); r.Status != 401 || !strings.Contains(r.Body, "Invalid client id or secret.") {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := call(t, "GET", url, "", nil); r.Status != 401 {
		t.Errorf("no token: %d", r.Status)
	}
}

func TestBearerJWKSFromURLIsCached(t *testing.T) {
	s := newSigner(t, "k1")
	var fetches atomic.Int64
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		json.NewEncoder(w).Encode(s.pub)
	}))
	defer idp.Close()
	gw := serve(t, oauthBundle(t, "oauth:\n  jwks-url: "+idp.URL+"\n"))
	tok := s.token(t, map[string]any{"azp": "partner-client"})
	for i := 0; i < 5; i++ {
		if r := call(t, "GET", gw.URL+"/local/sandbox/orders/", "", map[string]string{"Authorization": "Bearer " + tok}); r.Status != 200 {
			t.Fatalf("call %d: %d %s", i, r.Status, r.Body)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("the JWKS was fetched %d times for 5 calls, want once", n)
	}
}
