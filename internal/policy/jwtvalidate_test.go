package policy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gatewaytest"
)

// hsValidate is an assembly that validates with an HS256 JWK held in a
// variable (API Connect's way: set it, then name it in jws-jwk) and copies
// the subject to a header.
func hsValidate(t *testing.T, extra string) string {
	return `
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: hs-key
      value: '` + testJWK(t, secKeys().hsSecret, "hs1", "") + `'
      type: string
- jwt-validate:
    version: 2.0.0
    jws-jwk: hs-key
    iss-claim: ^https://idp\.example\.com/$
    aud-claim: ^my-api$` + extra + `
- set-variable:
    version: 2.0.0
    actions:
    - set: message.headers.x-sub
      value: $(decoded.claims.sub)
`
}

func TestJWTValidateHS256(t *testing.T) {
	k := secKeys()
	tok := mintJWT(t, "HS256", k.hsSecret, "hs1", testClaims(map[string]any{"scope": "read write"}))
	c, err := secRunDoc(t, secDoc(hsValidate(t, "")), "GET", "/sec/things", "", "Authorization", "Bearer "+tok)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Message.Headers.Get("X-Sub"); got != "alice" {
		t.Errorf("x-sub = %q", got)
	}
	claims := varOf(t, c, "decoded.claims").(map[string]any)
	if claims["scope"] != "read write" || claims["iss"] != "https://idp.example.com/" {
		t.Errorf("claims = %v", claims)
	}
	if _, ok := c.Var("jwt-validate.error-message"); ok {
		t.Error("error-message set on success")
	}
}

// Every supported algorithm family verifies, with the key given in each
// form the policy takes.
func TestJWTValidateAlgorithms(t *testing.T) {
	k := secKeys()
	cases := []struct {
		alg     string
		signKey any
		setting string // key settings of the policy
		props   map[string]string
	}{
		{"HS384", k.hsSecret, "jws-jwk: '" + testJWK(t, k.hsSecret, "", "") + "'", nil},
		{"HS512", k.hsSecret, "jws-crypto: hs-secret", map[string]string{"hs-secret": string(k.hsSecret)}},
		{"RS256", k.rsa, "jws-crypto: rsa-cert", map[string]string{"rsa-cert": testPEM(t, k.rsa, true)}},
		{"RS512", k.rsa, "jws-jwk: '" + testJWKS(testJWK(t, &k.rsa2.PublicKey, "other", ""), testJWK(t, &k.rsa.PublicKey, "", "")) + "'", nil},
		{"PS256", k.rsa, "jws-jwk: jwks-prop", map[string]string{"jwks-prop": testJWKS(testJWK(t, &k.rsa.PublicKey, "", ""))}},
		{"ES256", k.ec256, "jws-crypto: $(es-pem)", map[string]string{"es-pem": testPEM(t, k.ec256, true)}},
		// An inline PEM public key in the policy itself.
		{"ES384", k.ec384, "jws-crypto: |\n" + secIndent(testPEMPublic(t, &k.ec384.PublicKey), "      "), nil},
	}
	for _, tc := range cases {
		t.Run(tc.alg, func(t *testing.T) {
			doc := secWithProps(secDoc(`
execute:
- jwt-validate:
    version: 2.0.0
    `+tc.setting+`
`), tc.props)
			tok := mintJWT(t, tc.alg, tc.signKey, "", testClaims(nil))
			c, err := secRunDoc(t, doc, "GET", "/sec/things", "", "Authorization", "bearer "+tok)
			if err != nil {
				t.Fatalf("%v\n%s", err, doc)
			}
			if varOf(t, c, "decoded.claims.sub") != "alice" {
				t.Error("claims not output")
			}
		})
	}
}

func secIndent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return pre + strings.Join(lines, "\n"+pre) + "\n"
}

func TestJWTValidateRejects(t *testing.T) {
	k := secKeys()
	now := time.Now().Unix()
	hs := func(claims map[string]any) string { return mintJWT(t, "HS256", k.hsSecret, "hs1", claims) }
	cases := []struct {
		name, token, msg string
	}{
		{"expired", hs(testClaims(map[string]any{"exp": now - 3600})), "the JWT has expired"},
		{"not yet valid", hs(testClaims(map[string]any{"nbf": now + 3600})), "not valid yet"},
		{"exp not a number", hs(testClaims(map[string]any{"exp": "tomorrow"})), "exp claim is not a number"},
		{"bad signature", mintJWT(t, "HS256", []byte("another secret, 32 bytes long..."), "hs1", testClaims(nil)), "signature does not verify"},
		{"tampered", tamperJWT(hs(testClaims(nil))), "signature does not verify"},
		{"wrong iss", hs(testClaims(map[string]any{"iss": "https://evil.example.com/"})), "issuer (iss) does not match"},
		{"no iss", hs(testClaims(map[string]any{"iss": nil})), "issuer (iss) does not match"},
		{"iss not a string", hs(testClaims(map[string]any{"iss": 42})), "issuer (iss) does not match"},
		{"wrong aud", hs(testClaims(map[string]any{"aud": "other-api"})), "audience (aud) does not match"},
		{"wrong aud list", hs(testClaims(map[string]any{"aud": []any{"a", "b"}})), "audience (aud) does not match"},
		{"alg none", unsignedJWT(testClaims(nil)), "alg none"},
		{"alg NONE", strings.Replace(unsignedJWT(testClaims(nil)), secB64([]byte(`{"alg":"none","typ":"JWT"}`)), secB64([]byte(`{"alg":"NONE"}`)), 1), "alg none"},
		{"unknown alg", secB64([]byte(`{"alg":"HS1"}`)) + ".e30.c2ln", "algorithm \"HS1\" is not accepted"},
		{"RS token, HS key", mintJWT(t, "RS256", k.rsa, "", testClaims(nil)), "signature does not verify"},
		{"malformed", "not-a-jwt", "malformed"},
		{"bad header", "!!!.e30.c2ln", "malformed"},
		{"claims not an object", mintJWT(t, "HS256", k.hsSecret, "", nil), "not a JSON object"},
		{"encrypted, no key", strings.Repeat("a.", 4) + "a", "encrypted"},
	}
	a, api, _ := secMustCompile(t, secDoc(hsValidate(t, "")))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := secContext(t, api, "GET", "/sec/things", "", "Authorization", "Bearer "+tc.token)
			err := a.Run(c)
			wantUnauthorizedErr(t, err, tc.msg)
			if got := varOf(t, c, "jwt-validate.error-message"); got != asmError(t, err).Message {
				t.Errorf("jwt-validate.error-message = %q", got)
			}
			if strings.Contains(asmError(t, err).Message, tc.token) && len(tc.token) > 10 {
				t.Error("the message echoes the token")
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		c := secContext(t, api, "GET", "/sec/things", "")
		wantUnauthorizedErr(t, a.Run(c), "no JWT was found in request.headers.authorization")
	})
	t.Run("within leeway", func(t *testing.T) {
		tok := hs(testClaims(map[string]any{"exp": now - 5, "aud": []any{"x", "my-api"}}))
		c := secContext(t, api, "GET", "/sec/things", "", "Authorization", "Bearer "+tok)
		if err := a.Run(c); err != nil {
			t.Fatal(err)
		}
	})
}

// tamperJWT changes the payload of a JWS, keeping its signature.
func tamperJWT(tok string) string {
	parts := strings.Split(tok, ".")
	parts[1] = secB64([]byte(`{"sub":"mallory","iss":"https://idp.example.com/","aud":"my-api"}`))
	return strings.Join(parts, ".")
}

// The error is UnauthorizedError: a catch clause naming it handles it, and
// default does not (as on API Connect).
func TestJWTValidateCatch(t *testing.T) {
	expired := mintJWT(t, "HS256", secKeys().hsSecret, "", testClaims(map[string]any{"exp": time.Now().Unix() - 3600}))
	c, err := secRunDoc(t, secDoc(hsValidate(t, "")+`
catch:
- errors: [UnauthorizedError]
  execute:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: 'caught $(error.name) $(error.status.code): $(jwt-validate.error-message)'
`), "GET", "/sec/things", "", "Authorization", "Bearer "+expired)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := c.Message.Body.Bytes()
	if string(body) != "caught UnauthorizedError 401: the JWT has expired" || c.Message.StatusCode() != 401 {
		t.Errorf("body %q status %d", body, c.Message.StatusCode())
	}

	_, err = secRunDoc(t, secDoc(hsValidate(t, "")+`
catch:
- default:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: caught
`), "GET", "/sec/things", "", "Authorization", "Bearer "+expired)
	wantUnauthorizedErr(t, err, "expired")
}

// A policy that cannot get its key fails with a RuntimeError (500): the
// fault is the configuration's, not the token's.
func TestJWTValidateKeyUnavailable(t *testing.T) {
	tok := mintJWT(t, "HS256", secKeys().hsSecret, "", testClaims(nil))
	cases := []struct{ name, setting, msg string }{
		{"unset variable", "jws-jwk: no-such-var", "variable no-such-var is not set"},
		{"variable not a key", "jws-jwk: greeting", "does not hold a usable key"},
		{"unknown crypto object", "jws-crypto: my-crypto-object", `crypto object "my-crypto-object" is not defined`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := secRunDoc(t, secDoc(`
execute:
- jwt-validate:
    version: 2.0.0
    `+tc.setting+`
`), "GET", "/sec/things", "", "Authorization", "Bearer "+tok)
			e := asmError(t, err)
			if e.Name != assembly.RuntimeError || e.StatusCode() != 500 || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("error = %s %d %q", e.Name, e.StatusCode(), e.Message)
			}
		})
	}
}

func TestJWTValidateEncrypted(t *testing.T) {
	k := secKeys()
	signed := mintJWT(t, "RS256", k.rsa, "", testClaims(nil))
	nested := jweFor(t, signed, "RSA-OAEP-256", &k.rsa2.PublicKey, true)
	props := map[string]string{"dec-key": testPEM(t, k.rsa2, false)}
	both := secWithProps(secDoc(`
execute:
- jwt-validate:
    version: 2.0.0
    jwe-crypto: dec-key
    jws-jwk: '`+testJWK(t, &k.rsa.PublicKey, "", "")+`'
`), props)
	c, err := secRunDoc(t, both, "GET", "/sec/things", "", "Authorization", "Bearer "+nested)
	if err != nil {
		t.Fatal(err)
	}
	if varOf(t, c, "decoded.claims.sub") != "alice" {
		t.Error("claims not output")
	}

	// Plain claims inside a JWE: accepted when only a decryption key is set,
	// refused when a signature is required too.
	secret := []byte("0123456789abcdef0123456789abcdef")
	claims, _ := json.Marshal(testClaims(nil))
	plain := jweFor(t, string(claims), "A256KW", secret, false)
	onlyJWE := secDoc(`
execute:
- jwt-validate:
    version: 2.0.0
    jwe-jwk: '` + testJWK(t, secret, "", "") + `'
`)
	if _, err := secRunDoc(t, onlyJWE, "GET", "/sec/things", "", "Authorization", "Bearer "+plain); err != nil {
		t.Fatal(err)
	}
	_, err = secRunDoc(t, both, "GET", "/sec/things", "", "Authorization", "Bearer "+plain)
	wantUnauthorizedErr(t, err, "could not be decrypted") // A256KW does not fit an RSA key

	// Encrypted for another key.
	other := jweFor(t, signed, "RSA-OAEP-256", &k.rsa.PublicKey, true)
	_, err = secRunDoc(t, both, "GET", "/sec/things", "", "Authorization", "Bearer "+other)
	wantUnauthorizedErr(t, err, "could not be decrypted")
}

// jwksClock is a settable clock for the JWKS cache.
type jwksClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *jwksClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *jwksClock) advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// The JWKS is fetched once and cached; an unknown kid refreshes it, at most
// once per jwksMinRefresh; the TTL refreshes it too.
func TestJWTValidateJWKSCache(t *testing.T) {
	k := secKeys()
	srv := newJWKSServer(t, testJWKS(testJWK(t, &k.rsa.PublicKey, "k1", "RS256")))
	env := &assembly.Env{}
	clock := &jwksClock{t: time.Now()}
	jwksCacheFor(env).now = clock.now
	a, api, _ := secCompileDoc(t, secDoc(`
execute:
- jwt-validate:
    version: 2.0.0
    jwks-url: `+srv.URL+`/jwks.json
`), env)
	call := func(key any, kid string) error {
		tok := mintJWT(t, "RS256", key, kid, testClaims(nil))
		return a.Run(secContext(t, api, "GET", "/sec/things", "", "Authorization", "Bearer "+tok))
	}
	hits := func(want int32, step string) {
		t.Helper()
		if got := srv.hits.Load(); got != want {
			t.Fatalf("%s: %d fetches, want %d", step, got, want)
		}
	}
	for i := 0; i < 3; i++ {
		if err := call(k.rsa, "k1"); err != nil {
			t.Fatal(err)
		}
	}
	hits(1, "cached")

	clock.advance(time.Minute)
	wantUnauthorizedErr(t, call(k.rsa2, "k2"), "does not verify")
	hits(2, "unknown kid refreshes")
	wantUnauthorizedErr(t, call(k.rsa2, "k2"), "does not verify")
	hits(2, "refresh is rate-limited")

	srv.serve(testJWKS(testJWK(t, &k.rsa.PublicKey, "k1", ""), testJWK(t, &k.rsa2.PublicKey, "k2", "")))
	clock.advance(time.Minute)
	if err := call(k.rsa2, "k2"); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	hits(3, "rotation picked up")
	if err := call(k.rsa, "k1"); err != nil {
		t.Fatal(err)
	}
	hits(3, "known kid")

	clock.advance(jwksTTL + time.Second)
	if err := call(k.rsa, "k1"); err != nil {
		t.Fatal(err)
	}
	hits(4, "ttl")

	// A known kid with a wrong signature does not refresh.
	wantUnauthorizedErr(t, call(k.rsa2, "k1"), "does not verify")
	hits(4, "known kid, bad signature")

	// The identity provider fails: the keys fetched before are kept.
	srv.serve("")
	clock.advance(jwksTTL + time.Second)
	if err := call(k.rsa, "k1"); err != nil {
		t.Fatalf("stale keys not used: %v", err)
	}
	hits(5, "failed refresh")
}

func TestJWTValidateJWKSUnavailable(t *testing.T) {
	srv := newJWKSServer(t, "not json")
	tok := mintJWT(t, "RS256", secKeys().rsa, "k1", testClaims(nil))
	_, err := secRunDoc(t, secDoc(`
execute:
- jwt-validate:
    version: 2.0.0
    jwks-url: `+srv.URL+`/jwks.json?token=s3cret
`), "GET", "/sec/things", "", "Authorization", "Bearer "+tok)
	e := asmError(t, err)
	if e.Name != assembly.RuntimeError || !strings.Contains(e.Message, "JWKS") || strings.Contains(e.Message, "s3cret") {
		t.Errorf("error = %s %q", e.Name, e.Message)
	}
}

func TestJWTValidateProblems(t *testing.T) {
	cases := []struct {
		name, asm, at, msg string
		warn               bool
	}{
		{"look-behind", "iss-claim: (?<=a)b", "iss-claim:", "not a regular expression Portico supports", false},
		{"read-only output", "jws-jwk: k\n    output-claims: request.claims", "output-claims:", "request.claims is read-only", false},
		{"jwks-url scheme", "jwks-url: ftp://idp/jwks", "jwks-url:", "not an http or https URL", false},
		{"bad inline jwk", `jws-jwk: '{"kty": "oct"'`, "jws-jwk:", "inline key is unusable", false},
		{"no key", "jwt: my.token", "- jwt-validate:", "has no key", true},
		{"crypto object", "jws-crypto: my-dp-cert", "jws-crypto:", `crypto object "my-dp-cert" is not a property`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, ps := secProblems(t, `
execute:
- jwt-validate:
    version: 2.0.0
    `+tc.asm+`
`)
			at := tc.at
			if at == "- jwt-validate:" {
				at = "version: 2.0.0" // located at the settings
			}
			secWantProblem(t, doc, ps, tc.warn, at, tc.msg)
		})
	}
}

// Both ways of naming the token variable work, and a variable that holds
// the token without a Bearer prefix too.
func TestJWTValidateTokenVariable(t *testing.T) {
	tok := mintJWT(t, "HS256", secKeys().hsSecret, "", testClaims(nil))
	for _, name := range []string{"my.token", "$(my.token)"} {
		c, err := secRunDoc(t, secDoc(`
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: my.token
      value: $(request.headers.x-token)
- jwt-validate:
    version: 2.0.0
    jwt: '`+name+`'
    output-claims: message.body
    jws-jwk: '`+testJWK(t, secKeys().hsSecret, "", "")+`'
`), "GET", "/sec/things", "", "X-Token", tok)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v, _ := c.Message.Body.Value(); v.(map[string]any)["sub"] != "alice" {
			t.Errorf("%s: body = %v", name, v)
		}
	}
}

// securityAPI is an API file for the end-to-end tests: each operation runs
// its own branch of an operation-switch.
func securityAPI(branches map[string]string, catch string) string {
	var paths, cases strings.Builder
	for op, asm := range branches {
		fmt.Fprintf(&paths, "  /%s:\n    get:\n      operationId: %s\n      responses: {\"200\": {description: ok}}\n", op, op)
		fmt.Fprintf(&cases, "        - operations: [%s]\n          execute:\n%s", op, secIndent(strings.Trim(asm, "\n"), "          "))
	}
	return `swagger: "2.0"
info:
  title: JWT
  x-ibm-name: jwt
  version: 1.0.0
basePath: /jwt
paths:
` + paths.String() + `x-ibm-configuration:
  gateway: datapower-api-gateway
  assembly:
    execute:
    - operation-switch:
        version: 2.0.0
        case:
` + cases.String() + catch
}

func TestJWTValidateHTTP(t *testing.T) {
	k := secKeys()
	copySub := `
- set-variable:
    version: 2.0.0
    actions:
    - set: message.headers.x-sub
      value: $(decoded.claims.sub)
    - set: message.body
      value: ok
`
	api := securityAPI(map[string]string{
		"hs": `
- set-variable:
    version: 2.0.0
    actions:
    - set: hs-key
      value: '` + testJWK(t, k.hsSecret, "", "") + `'
- jwt-validate:
    version: 2.0.0
    jws-jwk: hs-key
    iss-claim: ^https://idp\.example\.com/$
` + copySub,
		"rs": `
- jwt-validate:
    version: 2.0.0
    jws-crypto: rsa-cert
    aud-claim: ^my-api$
` + copySub,
		"es": `
- jwt-validate:
    version: 2.0.0
    jws-jwk: $(es-jwks)
` + copySub,
		"caught": `
- jwt-validate:
    version: 2.0.0
    jws-crypto: rsa-cert
    title: caught
`,
	}, `    catch:
    - errors: [UnauthorizedError]
      execute:
      - set-variable:
          version: 2.0.0
          actions:
          - set: message.status.code
            value: 403
            type: number
          - set: message.body
            value: 'denied: $(jwt-validate.error-message)'
`)
	// The catch clause is the API's: it catches for every operation, so the
	// uncaught shape is checked with a second API without one.
	bare := strings.Replace(strings.Split(api, "    catch:")[0], "x-ibm-name: jwt", "x-ibm-name: jwt-bare", 1)
	bare = strings.Replace(bare, "basePath: /jwt", "basePath: /bare", 1)
	certPEM := testPEM(t, k.rsa, true)
	catalog := "org: acme\ncatalog: prod\nproperties:\n  rsa-cert: |\n" + secIndent(certPEM, "    ") +
		"  es-jwks: '" + testJWKS(testJWK(t, &k.ec256.PublicKey, "e1", "ES256")) + "'\n"
	srv := secGateway(t, &assembly.Env{}, map[string]string{"catalog.yaml": catalog, "jwt.yaml": api, "bare.yaml": bare})

	ok := []struct{ path, token string }{
		{"/acme/prod/bare/hs", mintJWT(t, "HS256", k.hsSecret, "", testClaims(nil))},
		{"/acme/prod/bare/rs", mintJWT(t, "RS256", k.rsa, "", testClaims(nil))},
		{"/acme/prod/bare/es", mintJWT(t, "ES256", k.ec256, "e1", testClaims(nil))},
	}
	for _, tc := range ok {
		r := gatewaytest.Call(t, "GET", srv.URL+tc.path, "", "Authorization", "Bearer "+tc.token)
		if r.Status != 200 || r.Header.Get("X-Sub") != "alice" || r.Body != "ok" {
			t.Errorf("%s: %d %q x-sub %q", tc.path, r.Status, r.Body, r.Header.Get("X-Sub"))
		}
	}

	now := time.Now().Unix()
	bad := []struct{ name, path, token, msg string }{
		{"expired", "/acme/prod/bare/rs", mintJWT(t, "RS256", k.rsa, "", testClaims(map[string]any{"exp": now - 600})), "the JWT has expired"},
		{"bad signature", "/acme/prod/bare/rs", mintJWT(t, "RS256", k.rsa2, "", testClaims(nil)), "the JWT's signature does not verify"},
		{"wrong iss", "/acme/prod/bare/hs", mintJWT(t, "HS256", k.hsSecret, "", testClaims(map[string]any{"iss": "x"})), "the JWT's issuer (iss) does not match iss-claim"},
		{"wrong aud", "/acme/prod/bare/rs", mintJWT(t, "RS256", k.rsa, "", testClaims(map[string]any{"aud": "x"})), "the JWT's audience (aud) does not match aud-claim"},
		{"alg none", "/acme/prod/bare/hs", unsignedJWT(testClaims(nil)), "unsigned JWTs (alg none) are not accepted"},
		{"wrong kid", "/acme/prod/bare/es", mintJWT(t, "ES256", k.ec256, "e2", testClaims(nil)), "the JWT's signature does not verify"},
		// The classic confusion: HS256 keyed with the public certificate's text.
		{"alg confusion", "/acme/prod/bare/rs", mintJWT(t, "HS256", []byte(certPEM), "", testClaims(nil)), "the JWT's signature does not verify"},
	}
	for _, tc := range bad {
		r := gatewaytest.Call(t, "GET", srv.URL+tc.path, "", "Authorization", "Bearer "+tc.token)
		e := errorBody(t, r)
		if r.Status != 401 || e["httpCode"] != "401" || e["httpMessage"] != "Unauthorized" || e["moreInformation"] != tc.msg {
			t.Errorf("%s: %d %q", tc.name, r.Status, r.Body)
		}
		if r.Header.Get("X-Sub") != "" {
			t.Errorf("%s: the flow went on", tc.name)
		}
	}

	expired := mintJWT(t, "RS256", k.rsa, "", testClaims(map[string]any{"exp": now - 600}))
	r := gatewaytest.Call(t, "GET", srv.URL+"/acme/prod/jwt/caught", "", "Authorization", "Bearer "+expired)
	if r.Status != 403 || r.Body != "denied: the JWT has expired" {
		t.Errorf("caught: %d %q", r.Status, r.Body)
	}
}

// The JWKS cache lives in the Env: a reload (a new configuration compiled
// in the same Env) keeps the keys, so the identity provider is not asked
// again.
func TestJWTValidateJWKSHTTP(t *testing.T) {
	k := secKeys()
	jwks := newJWKSServer(t, testJWKS(testJWK(t, &k.rsa.PublicKey, "k1", "")))
	api := securityAPI(map[string]string{"jwks": `
- jwt-validate:
    version: 2.0.0
    jwks-url: $(idp)/keys
- set-variable:
    version: 2.0.0
    actions:
    - set: message.body
      value: $(decoded.claims.sub)
`}, "")
	env := &assembly.Env{}
	files := map[string]string{"catalog.yaml": "properties:\n  idp: " + jwks.URL + "\n", "jwt.yaml": api}
	tok := mintJWT(t, "RS256", k.rsa, "k1", testClaims(nil))
	for reload := 0; reload < 2; reload++ {
		srv := secGateway(t, env, files)
		for i := 0; i < 3; i++ {
			r := gatewaytest.Call(t, "GET", srv.URL+"/local/sandbox/jwt/jwks", "", "Authorization", "Bearer "+tok)
			if r.Status != http.StatusOK || r.Body != "alice" {
				t.Fatalf("%d %q", r.Status, r.Body)
			}
		}
	}
	if got := jwks.hits.Load(); got != 1 {
		t.Errorf("the JWKS was fetched %d times, want 1", got)
	}
}

// Concurrent requests share the cached keys safely.
func TestJWTValidateConcurrent(t *testing.T) {
	k := secKeys()
	a, api, _ := secMustCompile(t, secDoc(`
execute:
- jwt-validate:
    version: 2.0.0
    jws-jwk: $(request.headers.x-jwk)
`))
	jwkText := testJWK(t, k.hsSecret, "", "")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tok := mintJWT(t, "HS256", k.hsSecret, "", testClaims(map[string]any{"sub": fmt.Sprint(i)}))
			c := secContext(t, api, "GET", "/sec/things", "", "Authorization", "Bearer "+tok, "X-Jwk", jwkText)
			if err := a.Run(c); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
}

// FuzzJWTValidate feeds arbitrary tokens to jwt-validate: it must never
// panic, and anything but a valid token is an UnauthorizedError.
func FuzzJWTValidate(f *testing.F) {
	k := secKeys()
	f.Add(mintJWT(f, "HS256", k.hsSecret, "", testClaims(nil)))
	f.Add(unsignedJWT(testClaims(nil)))
	f.Add("a.b.c")
	f.Add("a.b.c.d.e")
	f.Add(secB64([]byte(`{"alg":"HS256","crit":["x"]}`)) + ".e30.")
	f.Add(secB64([]byte(`{"alg":"RSA-OAEP","enc":"A128GCM"}`)) + "....")
	jwkText := testJWK(f, k.hsSecret, "", "")
	a, api, _ := secCompileDoc(f, secDoc(`
execute:
- jwt-validate:
    version: 2.0.0
    jws-jwk: '`+jwkText+`'
    jwe-jwk: '`+jwkText+`'
`), nil)
	f.Fuzz(func(t *testing.T, tok string) {
		c := secContext(t, api, "GET", "/sec/things", "")
		c.Request.Headers.Set("Authorization", "Bearer "+tok)
		err := a.Run(c)
		if err != nil && asmError(t, err).Name != assembly.UnauthorizedError {
			t.Errorf("%q: %v", tok, err)
		}
	})
}

// FuzzKeyMaterial parses arbitrary key text: it must never panic.
func FuzzKeyMaterial(f *testing.F) {
	k := secKeys()
	f.Add(testJWK(f, k.ec256, "a", ""), true)
	f.Add(testPEM(f, k.rsa, true), false)
	f.Add(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`, false)
	f.Fuzz(func(t *testing.T, text string, secret bool) {
		_, _ = parseJWTKeyMaterial([]byte(text), secret)
	})
}
