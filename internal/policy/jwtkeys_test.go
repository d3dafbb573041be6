package policy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/gatewaytest"
)

// Helpers shared by the tests of jwt-validate, jwt-generate and
// client-security: test keys, token minting, and a gateway behind a real
// HTTP server.

// secDocHead is the API the unit tests run their assembly in.
const secDocHead = `swagger: "2.0"
info:
  title: Security Test
  x-ibm-name: security-test
  version: 1.0.0
basePath: /sec
paths:
  /things:
    get:
      operationId: getThings
      responses: {"200": {description: ok}}
    post:
      operationId: postThings
      responses: {"200": {description: ok}}
x-ibm-configuration:
  gateway: datapower-api-gateway
  properties:
    greeting:
      value: hello
  assembly:
`

// secDoc returns an API document whose assembly is asm, written from
// column 0 (execute: …).
func secDoc(asm string) string {
	return gatewaytest.WithAssembly(secDocHead, asm)
}

// secCompileDoc loads doc and compiles its assembly with the built-in
// policies, in env (nil: a fresh one).
func secCompileDoc(t testing.TB, doc string, env *assembly.Env) (*assembly.Assembly, *apidef.API, apidef.Problems) {
	t.Helper()
	return gatewaytest.CompileDoc(t, doc, Builtins(), env, "")
}

// secContext makes the context of a request to api; headers are name,
// value pairs.
func secContext(t testing.TB, api *apidef.API, method, target, body string, headers ...string) *assembly.Context {
	t.Helper()
	req := gatewaytest.Request(method, target, body, headers...)
	info := &assembly.APIInfo{Name: api.Name, Version: api.Version, BasePath: api.BasePath,
		Properties: map[string]*assembly.Template{}}
	for k, v := range api.Properties {
		info.Properties[k] = assembly.MustTemplate(v)
	}
	op := &assembly.OperationInfo{ID: "getThings", Path: "/things", Method: method}
	return assembly.NewContext(context.Background(), req, info, op)
}

// secProblems compiles asm and returns its problems (errors and warnings).
func secProblems(t testing.TB, asm string) (string, apidef.Problems) {
	t.Helper()
	doc := secDoc(asm)
	_, _, ps := secCompileDoc(t, doc, nil)
	return doc, ps
}

// secWantProblem asserts ps holds one problem (warn says which kind), on
// the line of doc containing at, whose message contains msg.
func secWantProblem(t testing.TB, doc string, ps apidef.Problems, warn bool, at, msg string) {
	t.Helper()
	if len(ps) != 1 {
		t.Fatalf("want 1 problem, got %d:\n%v", len(ps), ps)
	}
	p := ps[0]
	if p.Warn != warn {
		t.Errorf("warning = %t, want %t: %v", p.Warn, warn, p)
	}
	line := 0
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, at) {
			line = i + 1
			break
		}
	}
	if p.Line != line {
		t.Errorf("problem on line %d, want %d (%q): %v", p.Line, line, at, p)
	}
	if !strings.Contains(p.Msg, msg) {
		t.Errorf("problem %q does not mention %q", p.Msg, msg)
	}
}

// secTestKeys are generated once per test binary: RSA generation is slow
// under the race detector.
type secTestKeys struct {
	hsSecret []byte
	rsa      *rsa.PrivateKey
	rsa2     *rsa.PrivateKey // a second RSA key, for rotation and wrong-key cases
	ec256    *ecdsa.PrivateKey
	ec384    *ecdsa.PrivateKey
}

var secKeys = sync.OnceValue(func() *secTestKeys {
	k := &secTestKeys{hsSecret: []byte("0123456789abcdef0123456789abcdef")}
	k.rsa, _ = rsa.GenerateKey(rand.Reader, 2048)
	k.rsa2, _ = rsa.GenerateKey(rand.Reader, 2048)
	k.ec256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k.ec384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	return k
})

// testJWK renders a raw key as JWK JSON, with optional kid and alg.
func testJWK(t testing.TB, raw any, kid, alg string) string {
	t.Helper()
	k, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	if kid != "" {
		k.Set(jwk.KeyIDKey, kid)
	}
	if alg != "" {
		k.Set(jwk.AlgorithmKey, alg)
	}
	data, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// testJWKS wraps JWK JSON texts into a JWK Set.
func testJWKS(keys ...string) string {
	return `{"keys":[` + strings.Join(keys, ",") + `]}`
}

// testPEM encodes a key: a certificate for public keys (as a DataPower crypto
// certificate would be), PKCS#8 for private keys.
func testPEM(t testing.TB, key any, asCert bool) string {
	t.Helper()
	if asCert {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jwt test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		var pub any
		var signer any = key
		switch k := key.(type) {
		case *rsa.PrivateKey:
			pub = &k.PublicKey
		case *ecdsa.PrivateKey:
			pub = &k.PublicKey
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// testPEMPublic encodes a public key as PEM (PKIX).
func testPEMPublic(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// testClaims is a claim set valid for an hour.
func testClaims(extra map[string]any) map[string]any {
	now := time.Now().Unix()
	c := map[string]any{"iss": "https://idp.example.com/", "sub": "alice", "aud": "my-api", "iat": now, "exp": now + 3600}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// mintJWT signs claims with alg and key; kid goes in the header when set.
func mintJWT(t testing.TB, alg string, key any, kid string, claims map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
	a, ok := jwa.LookupSignatureAlgorithm(alg)
	if !ok {
		t.Fatalf("unknown alg %s", alg)
	}
	hdr := jws.NewHeaders()
	hdr.Set(jws.TypeKey, "JWT")
	if kid != "" {
		hdr.Set(jws.KeyIDKey, kid)
	}
	tok, err := jws.Sign(payload, jws.WithKey(a, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

// unsignedJWT makes an alg "none" token by hand.
func unsignedJWT(claims map[string]any) string {
	hdr := secB64([]byte(`{"alg":"none","typ":"JWT"}`))
	payload, _ := json.Marshal(claims)
	return hdr + "." + secB64(payload) + "."
}

func secB64(data []byte) string { return base64.RawURLEncoding.EncodeToString(data) }

// jweFor wraps a token (or claims) into a JWE for key.
func jweFor(t testing.TB, payload string, alg string, key any, nested bool) string {
	t.Helper()
	a, _ := jwa.LookupKeyEncryptionAlgorithm(alg)
	hdr := jwe.NewHeaders()
	if nested {
		hdr.Set(jwe.ContentTypeKey, "JWT")
	}
	tok, err := jwe.Encrypt([]byte(payload), jwe.WithKey(a, key), jwe.WithContentEncryption(jwa.A128CBC_HS256()),
		jwe.WithProtectedHeaders(hdr), jwe.WithCompact())
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

// secWithProps returns doc with more API properties;
// values may span lines (PEM), written as block scalars.
func secWithProps(doc string, props map[string]string) string {
	var b strings.Builder
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		b.WriteString("    " + k + ":\n      value: |-\n")
		for _, line := range strings.Split(strings.TrimRight(props[k], "\n"), "\n") {
			b.WriteString("        " + line + "\n")
		}
	}
	return strings.Replace(doc, "  properties:\n", "  properties:\n"+b.String(), 1)
}

// secMustCompile compiles a whole document that must have no errors; its
// warnings are returned.
func secMustCompile(t *testing.T, doc string) (*assembly.Assembly, *apidef.API, apidef.Problems) {
	t.Helper()
	a, api, ps := secCompileDoc(t, doc, nil)
	if errs := ps.Errors(); len(errs) > 0 {
		t.Fatalf("unexpected problems:\n%v", errs)
	}
	return a, api, ps.Warnings()
}

// secRunDoc compiles doc and runs one request through it.
func secRunDoc(t *testing.T, doc, method, target, body string, headers ...string) (*assembly.Context, error) {
	t.Helper()
	a, api, _ := secMustCompile(t, doc)
	c := secContext(t, api, method, target, body, headers...)
	return c, a.Run(c)
}

// wantUnauthorizedErr asserts err is an UnauthorizedError (401) whose message
// contains msg.
func wantUnauthorizedErr(t *testing.T, err error, msg string) {
	t.Helper()
	e := asmError(t, err)
	if e.Name != assembly.UnauthorizedError || e.StatusCode() != 401 {
		t.Fatalf("want UnauthorizedError 401, got %s %d: %s", e.Name, e.StatusCode(), e.Message)
	}
	if !strings.Contains(e.Message, msg) {
		t.Errorf("message %q does not mention %q", e.Message, msg)
	}
}

// secGateway serves a bundle directory made of files (name → content)
// through a real HTTP server. env may be shared between servers.
func secGateway(t *testing.T, env *assembly.Env, files map[string]string) *httptest.Server {
	t.Helper()
	return gatewaytest.ServeFiles(t, files, Builtins(), env, gateway.Options{})
}

// jwksServer serves a JWK Set that tests can change (empty: it fails),
// counting fetches.
type jwksServer struct {
	*httptest.Server
	mu   sync.Mutex
	set  string
	hits atomic.Int32
}

func newJWKSServer(t *testing.T, set string) *jwksServer {
	s := &jwksServer{set: set}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.set == "" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		io.WriteString(w, s.set)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(set string) {
	s.mu.Lock()
	s.set = set
	s.mu.Unlock()
}

// securityPolicies are the policies of these files.
var securityPolicies = map[string]bool{"jwt-validate": true, "jwt-generate": true, "client-security": true}

func usesSecurityPolicy(data []byte) bool {
	for name := range securityPolicies {
		if bytes.Contains(data, []byte(name)) {
			return true
		}
	}
	return false
}

// TestSecurityCorpus loads every real API Connect file of the shared corpus
// that uses jwt-validate, jwt-generate or client-security: none may have an
// error in them. Warnings (crypto objects Portico cannot resolve, v5
// policies without keys) are expected and logged.
func TestSecurityCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "apic")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("corpus not found at %s (it lives beside the repository, in shared/corpus/apic): %v", dir, err)
	}
	reg := Builtins()
	used := 0
	for _, e := range entries {
		if !apidef.IsDocumentFile(e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || !usesSecurityPolicy(data) {
			continue
		}
		d, err := apidef.Parse(filepath.Join(dir, e.Name()), data)
		if err != nil || d.Kind != apidef.KindAPI {
			continue
		}
		used++
		api, _ := apidef.LoadAPI(d)
		_, ps := assembly.CompileAPI(reg, api, nil, dir)
		for _, p := range ps {
			if !securityPolicies[problemPolicy(p.Field)] {
				continue
			}
			if p.Warn {
				t.Logf("%s: warning: %s", e.Name(), p.Msg)
			} else {
				t.Errorf("%s: unexpected problem: %v", e.Name(), p)
			}
		}
	}
	if used == 0 {
		t.Fatalf("no corpus file in %s uses jwt-validate, jwt-generate or client-security", dir)
	}
	t.Logf("checked %d APIs", used)
}

func TestKeyMaterialForms(t *testing.T) {
	k := secKeys()
	cases := []struct {
		name, text  string
		allowSecret bool
		want        string // family of the first key, or "" for an error
		private     bool
	}{
		{"jwk oct", testJWK(t, k.hsSecret, "a", "HS256"), false, "oct", true},
		{"jwks", testJWKS(testJWK(t, &k.rsa.PublicKey, "r", ""), testJWK(t, &k.ec256.PublicKey, "e", "")), false, "RSA", false},
		{"private jwk", testJWK(t, k.ec384, "", ""), false, "EC-P-384", true},
		{"certificate", testPEM(t, k.rsa, true), false, "RSA", false},
		{"pkcs8", testPEM(t, k.ec256, false), false, "EC-P-256", true},
		{"secret", "a shared secret", true, "oct", true},
		{"secret not allowed", "a shared secret", false, "", false},
		{"bad json", `{"kty":`, false, "", false},
		{"empty", "  ", true, "", false},
		{"no pem key", "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n", false, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ring, err := parseJWTKeyMaterial([]byte(tc.text), tc.allowSecret)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("want an error")
				}
				if strings.Contains(err.Error(), "shared secret") || strings.Contains(err.Error(), "AAAA") {
					t.Errorf("error echoes the material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ring.keys[0]; got.family != tc.want || (got.private != nil) != tc.private {
				t.Errorf("family %s private %t, want %s %t", got.family, got.private != nil, tc.want, tc.private)
			}
		})
	}
}

// A key is parsed once: the cache hands back the same ring.
func TestKeyCacheParsesOnce(t *testing.T) {
	env := &assembly.Env{}
	kc := jwtKeyCacheFor(env)
	text := []byte(testJWK(t, secKeys().hsSecret, "a", ""))
	r1, err := kc.parse(text, false)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := kc.parse(append([]byte(nil), text...), false)
	if r1 != r2 {
		t.Error("the same material was parsed twice")
	}
	if jwtKeyCacheFor(env) != kc {
		t.Error("the cache does not live in the Env")
	}
	for i := 0; i < jwtKeyCacheSize+10; i++ {
		kc.parse([]byte(strings.Repeat("x", i+1)), true)
	}
	if len(kc.rings) > jwtKeyCacheSize || len(kc.order) != len(kc.rings) {
		t.Errorf("cache holds %d entries (order %d), limit %d", len(kc.rings), len(kc.order), jwtKeyCacheSize)
	}
}
