package policy

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gatewaytest"
)

// jwtRoundTrip generates a token with gen's settings, then validates it with
// val's, in one assembly, and returns the context.
func jwtRoundTrip(t *testing.T, props map[string]string, gen, val string, headers ...string) *assembly.Context {
	t.Helper()
	doc := secWithProps(secDoc(`
execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: iss.claim
      value: https://portico.example/
    - set: my.sub
      value: $(request.headers.x-user)
    - set: aud.one
      value: api-1
    - set: aud.two
      value: api-2
    - set: my.claims
      value: '{"scope": "read", "tenant": {"id": 7}, "iss": "ignored"}'
- jwt-generate:
    version: 2.0.0
    jwt: my.jwt
    jti-claim: true
    sub-claim: my.sub
    aud-claim: aud.one, aud.two
    exp-claim: 600
    private-claims: my.claims
    `+gen+`
- jwt-validate:
    version: 2.0.0
    jwt: my.jwt
    iss-claim: ^https://portico\.example/$
    aud-claim: ^api-2$
    `+val+`
`), props)
	c, err := secRunDoc(t, doc, "GET", "/sec/things", "", append([]string{"X-User", "bob"}, headers...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return c
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestJWTGenerateRoundTrip(t *testing.T) {
	k := secKeys()
	hsJWK := testJWK(t, k.hsSecret, "hs-kid", "")
	cases := []struct {
		name, gen, val string
		props          map[string]string
		header         string // the token's header must contain this
	}{
		{"HS256 jwk", "jws-alg: HS256\n    jws-jwk: '" + hsJWK + "'", "jws-jwk: '" + hsJWK + "'", nil, `"kid":"hs-kid"`},
		{"RS256 crypto", "jws-alg: RS256\n    jws-crypto: signer", "jws-crypto: verifier",
			map[string]string{"signer": testPEM(t, k.rsa, false), "verifier": testPEM(t, k.rsa, true)}, `"alg":"RS256"`},
		{"PS384 inferred key", "jws-alg: PS384\n    jws-jwk: signer", "jws-jwk: verifier",
			map[string]string{"signer": testJWK(t, k.rsa, "r1", ""), "verifier": testJWKS(testJWK(t, &k.rsa.PublicKey, "r1", ""))}, `"kid":"r1"`},
		{"ES256 alg from key", "jws-crypto: $(signer)", "jws-crypto: $(verifier)",
			map[string]string{"signer": testPEM(t, k.ec256, false), "verifier": testPEMPublic(t, &k.ec256.PublicKey)}, `"alg":"ES256"`},
		{"custom kid", "jws-alg: HS512\n    jws-jwk: '" + hsJWK + "'\n    custom-kid-value-jws: kid-$(request.headers.x-user)", "jws-jwk: '" + testJWK(t, k.hsSecret, "kid-bob", "") + "'", nil, `"kid":"kid-bob"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := jwtRoundTrip(t, tc.props, tc.gen, tc.val)
			tok := varOf(t, c, "my.jwt").(string)
			hdr, _ := jwtHeader(tok)
			raw, _ := json.Marshal(hdr)
			seg, _, _ := strings.Cut(tok, ".")
			if !strings.Contains(string(secB64Decode(t, seg)), tc.header) {
				t.Errorf("header %s lacks %s", raw, tc.header)
			}
			claims := varOf(t, c, "decoded.claims").(map[string]any)
			checkGenerated(t, claims)
		})
	}
}

func secB64Decode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%q is not base64url", s)
	}
	return b
}

// checkGenerated checks the claims jwtRoundTrip's generator sets.
func checkGenerated(t *testing.T, claims map[string]any) {
	t.Helper()
	if claims["iss"] != "https://portico.example/" || claims["sub"] != "bob" || claims["scope"] != "read" {
		t.Errorf("claims = %v", claims)
	}
	if aud, _ := claims["aud"].([]any); len(aud) != 2 || aud[0] != "api-1" || aud[1] != "api-2" {
		t.Errorf("aud = %v", claims["aud"])
	}
	if tenant, _ := claims["tenant"].(map[string]any); tenant["id"] != float64(7) {
		t.Errorf("tenant = %v", claims["tenant"])
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if now := float64(time.Now().Unix()); iat < now-60 || iat > now+1 || exp != iat+600 {
		t.Errorf("iat %v exp %v", claims["iat"], claims["exp"])
	}
	if jti, _ := claims["jti"].(string); !uuidV4.MatchString(jti) {
		t.Errorf("jti = %v", claims["jti"])
	}
}

func TestJWTGenerateEncrypted(t *testing.T) {
	k := secKeys()
	props := map[string]string{
		"signer": testPEM(t, k.rsa, false), "verifier": testPEM(t, k.rsa, true),
		"enc-pub": testPEM(t, k.rsa2, true), "enc-priv": testPEM(t, k.rsa2, false),
	}
	// Signed, then encrypted: a nested JWT.
	c := jwtRoundTrip(t, props,
		"jws-alg: RS256\n    jws-crypto: signer\n    jwe-alg: RSA-OAEP-256\n    jwe-enc: A256GCM\n    jwe-crypto: enc-pub",
		"jws-crypto: verifier\n    jwe-crypto: enc-priv")
	tok := varOf(t, c, "my.jwt").(string)
	if strings.Count(tok, ".") != 4 {
		t.Fatalf("not a JWE: %d parts", strings.Count(tok, ".")+1)
	}
	hdr, _ := jwtHeader(tok)
	if hdr.Alg != "RSA-OAEP-256" || hdr.Enc != "A256GCM" || hdr.Cty != "JWT" {
		t.Errorf("header = %+v", hdr)
	}
	checkGenerated(t, varOf(t, c, "decoded.claims").(map[string]any))

	// Encrypted only, with a shared key and the default enc.
	secret := testJWK(t, []byte("0123456789abcdef0123456789abcdef"), "", "")
	c = jwtRoundTrip(t, nil, "jwe-alg: A256KW\n    jwe-jwk: '"+secret+"'", "jwe-jwk: '"+secret+"'")
	hdr, _ = jwtHeader(varOf(t, c, "my.jwt").(string))
	if hdr.Enc != defaultJWEEnc || hdr.Cty != "" {
		t.Errorf("header = %+v", hdr)
	}
}

// Without jwt, the token goes to the Authorization header, as on API
// Connect; a corpus file writes `jwt: ”` for that.
func TestJWTGenerateAuthorizationHeader(t *testing.T) {
	for _, setting := range []string{"", "jwt: ''"} {
		c, err := secRunDoc(t, secDoc(`
execute:
- jwt-generate:
    version: 2.0.0
    `+setting+`
    iss-claim: request.headers.x-iss
    jws-alg: HS256
    jws-jwk: '`+testJWK(t, secKeys().hsSecret, "", "")+`'
- jwt-validate:
    version: 2.0.0
    jwt: message.headers.authorization
    iss-claim: ^me$
    jws-jwk: '`+testJWK(t, secKeys().hsSecret, "", "")+`'
`), "GET", "/sec/things", "", "X-Iss", "me")
		if err != nil {
			t.Fatalf("%q: %v", setting, err)
		}
		if h := c.Message.Headers.Get("Authorization"); !strings.HasPrefix(h, "Bearer ey") {
			t.Errorf("%q: authorization = %q", setting, h)
		}
		if _, ok := c.Var("generated.jwt"); ok {
			t.Errorf("%q: generated.jwt set", setting)
		}
	}
}

// Claim settings name variables; text that cannot be a variable name is a
// literal value (with a warning); an unset variable leaves the claim out.
func TestJWTGenerateClaimSources(t *testing.T) {
	a, api, warns := secMustCompile(t, secDoc(`
execute:
- jwt-generate:
    version: 2.0.0
    jwt: generated.jwt
    iss-claim: https://issuer.example
    sub-claim: $(request.headers.x-user)@example
    aud-claim: no.such.var, my-audience-list
    exp-claim: 0
    jws-jwk: '`+testJWK(t, secKeys().hsSecret, "", "HS384")+`'
`))
	if len(warns) != 1 || !strings.Contains(warns[0].Msg, `"https://issuer.example" cannot be a variable name`) {
		t.Errorf("warnings = %v", warns)
	}
	c := secContext(t, api, "GET", "/sec/things", "", "X-User", "carol")
	c.SetVar("my-audience-list", []any{"x", "y"})
	if err := a.Run(c); err != nil {
		t.Fatal(err)
	}
	tok := varOf(t, c, "generated.jwt").(string)
	hdr, _ := jwtHeader(tok)
	parts := strings.Split(tok, ".")
	var claims map[string]any
	json.Unmarshal(secB64Decode(t, parts[1]), &claims)
	if hdr.Alg != "HS384" || claims["iss"] != "https://issuer.example" || claims["sub"] != "carol@example" {
		t.Errorf("alg %s claims %v", hdr.Alg, claims)
	}
	if aud, _ := claims["aud"].([]any); len(aud) != 2 || aud[0] != "x" {
		t.Errorf("aud = %v", claims["aud"])
	}
	if _, ok := claims["exp"]; ok {
		t.Error("exp-claim: 0 still set exp")
	}
	if _, ok := claims["jti"]; ok {
		t.Error("jti set without jti-claim")
	}
}

func TestJWTGenerateRuntimeErrors(t *testing.T) {
	cases := []struct{ name, settings, msg string }{
		{"no key", "iss-claim: iss.claim", "no key to sign or encrypt"},
		{"unknown crypto object", "jws-alg: RS256\n    jws-crypto: dp-key", `crypto object "dp-key" is not defined`},
		{"public key cannot sign", "jws-alg: RS256\n    jws-jwk: $(request.headers.x-key)", "holds no private key that signs with RS256"},
		{"private claims not an object", "private-claims: greeting\n    jws-jwk: '" + testJWK(t, secKeys().hsSecret, "", "") + "'", "private-claims: variable greeting does not hold a JSON object"},
	}
	pub := testJWK(t, &secKeys().rsa.PublicKey, "", "")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := secRunDoc(t, secDoc(`
execute:
- jwt-generate:
    version: 2.0.0
    `+tc.settings+`
`), "GET", "/sec/things", "", "X-Key", pub)
			e := asmError(t, err)
			if e.Name != assembly.RuntimeError || e.StatusCode() != 500 || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("error = %s %d %q", e.Name, e.StatusCode(), e.Message)
			}
		})
	}
}

func TestJWTGenerateProblems(t *testing.T) {
	hs := testJWK(t, secKeys().hsSecret, "", "")
	pub := testJWK(t, &secKeys().rsa.PublicKey, "", "")
	cases := []struct {
		name, settings, at, msg string
		warn                    bool
	}{
		{"alg none", "jws-alg: none\n    jws-jwk: k", "jws-alg:", `jws-alg "none" is not supported`, false},
		{"public key", "jws-alg: RS256\n    jws-jwk: '" + pub + "'", "- jwt-generate:", "no private key that signs with RS256", false},
		{"key type", "jws-alg: ES256\n    jws-jwk: '" + hs + "'", "- jwt-generate:", "no private key that signs with ES256", false},
		{"negative exp", "exp-claim: -5\n    jws-jwk: k", "exp-claim:", "negative", false},
		{"exp not a number", "exp-claim: soon\n    jws-jwk: k", "exp-claim:", "whole number", false},
		{"jti not a boolean", "jti-claim: yes please\n    jws-jwk: k", "jti-claim:", "true or false", false},
		{"jwe-enc", "jwe-enc: A1GCM\n    jwe-jwk: k", "jwe-enc:", `jwe-enc "A1GCM" is not supported`, false},
		{"jwe-alg", "jwe-alg: PBES2-HS256+A128KW\n    jwe-jwk: k", "jwe-alg:", "is not supported", false},
		{"alg without key", "jws-alg: HS256\n    jwe-jwk: k", "jws-alg:", "the token is not signed", true},
		{"read-only output", "jwt: request.headers.x\n    jws-jwk: k", "jwt:", "read-only", false},
		{"no key", "iss-claim: iss.claim", "- jwt-generate:", "has no key", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, ps := secProblems(t, `
execute:
- jwt-generate:
    version: 2.0.0
    `+tc.settings+`
`)
			at := tc.at
			if at == "- jwt-generate:" {
				at = "version: 2.0.0"
			}
			secWantProblem(t, doc, ps, tc.warn, at, tc.msg)
		})
	}
}

// Generate on one operation, validate on another, through HTTP: the
// client carries the token between them.
func TestJWTGenerateValidateHTTP(t *testing.T) {
	k := secKeys()
	api := securityAPI(map[string]string{
		"gen": `
- set-variable:
    version: 2.0.0
    actions:
    - set: issuer
      value: https://gw.example/
- jwt-generate:
    version: 2.0.0
    jwt: generated.jwt
    iss-claim: issuer
    sub-claim: request.parameters.user
    aud-claim: request.headers.x-aud
    jws-alg: RS256
    jws-crypto: signing-key
- set-variable:
    version: 2.0.0
    actions:
    - set: message.body
      value: $(generated.jwt)
`,
		"val": `
- jwt-validate:
    version: 2.0.0
    iss-claim: ^https://gw\.example/$
    aud-claim: ^partner$
    jws-crypto: signing-cert
- set-variable:
    version: 2.0.0
    actions:
    - set: message.body
      value: $(decoded.claims)
`,
	}, "")
	catalog := "properties:\n  signing-key: |\n" + secIndent(testPEM(t, k.rsa, false), "    ") +
		"  signing-cert: |\n" + secIndent(testPEM(t, k.rsa, true), "    ")
	srv := secGateway(t, &assembly.Env{}, map[string]string{"catalog.yaml": catalog, "jwt.yaml": api})

	gen := gatewaytest.Call(t, "GET", srv.URL+"/local/sandbox/jwt/gen?user=dave", "", "X-Aud", "partner")
	if gen.Status != 200 || strings.Count(gen.Body, ".") != 2 {
		t.Fatalf("gen: %d %q", gen.Status, gen.Body)
	}
	val := gatewaytest.Call(t, "GET", srv.URL+"/local/sandbox/jwt/val", "", "Authorization", "Bearer "+gen.Body)
	var claims map[string]any
	if err := json.Unmarshal([]byte(val.Body), &claims); err != nil || val.Status != 200 {
		t.Fatalf("val: %d %q", val.Status, val.Body)
	}
	if claims["sub"] != "dave" || claims["aud"] != "partner" || claims["iss"] != "https://gw.example/" {
		t.Errorf("claims = %v", claims)
	}

	other := gatewaytest.Call(t, "GET", srv.URL+"/local/sandbox/jwt/gen?user=dave", "", "X-Aud", "someone-else")
	val = gatewaytest.Call(t, "GET", srv.URL+"/local/sandbox/jwt/val", "", "Authorization", "Bearer "+other.Body)
	if e := errorBody(t, val); val.Status != 401 || e["moreInformation"] != "the JWT's audience (aud) does not match aud-claim" {
		t.Errorf("wrong audience: %d %q", val.Status, val.Body)
	}
}
