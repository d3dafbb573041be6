package policy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// Key handling shared by jwt-validate and jwt-generate. API Connect names
// keys in two ways: a *-jwk field is the name of a runtime variable holding
// a JWK or JWK Set, and a *-crypto field is the name of a DataPower crypto
// object (shared secret, certificate or private key). Portico has no crypto
// objects; it resolves a crypto object name as an API or catalog property
// whose value is the key (PEM, JWK or JWK Set JSON, or a shared secret).
// Both fields also take the key inline, or a $(…) template.
//
// Key material is parsed once: inline keys at load time, and keys that
// come from variables or properties through a cache (in the assembly.Env)
// keyed by a digest of the material, so a key is parsed the first time it
// is seen and never again.

// jwtKeyKind says how a bare name in a key field is read.
type jwtKeyKind int

const (
	keyFromJWK    jwtKeyKind = iota // a runtime variable holding a JWK or JWK Set
	keyFromCrypto                   // a crypto object name: an API or catalog property
)

// jwtKeySource is one compiled key field (jws-jwk, jws-crypto, jwe-jwk,
// jwe-crypto). Exactly one of static, ref, tmpl and object is set.
type jwtKeySource struct {
	field  string
	kind   jwtKeyKind
	static *jwtKeyring        // inline key, parsed at load time
	ref    *assembly.Ref      // jwk: the variable holding the key
	tmpl   *assembly.Template // $(…): rendered per request, parsed once per value
	object string             // crypto: property name looked up per request
	cache  *jwtKeyCache
}

// compileJWTKeySource compiles a key field; it returns nil (and ok) when the
// field is absent or empty (API Connect writes unused key fields empty).
func compileJWTKeySource(b *assembly.Builder, n apidef.Node, field string, kind jwtKeyKind) (*jwtKeySource, bool) {
	s := strings.TrimSpace(n.Str())
	if s == "" {
		return nil, true
	}
	ks := &jwtKeySource{field: field, kind: kind, cache: jwtKeyCacheFor(b.Env)}
	switch {
	case strings.HasPrefix(s, "{") || strings.Contains(s, "-----BEGIN"):
		ring, err := parseJWTKeyMaterial([]byte(s), false)
		if err != nil {
			b.Report(n.Problem(fmt.Sprintf("%s: the inline key is unusable: %v", field, err),
				"give a JWK or JWK Set as JSON, or a PEM certificate, public key or private key"))
			return nil, false
		}
		ks.static = ring
	case strings.Contains(s, "$("):
		ks.tmpl = b.Template(n)
	case kind == keyFromJWK:
		r, ok := b.Ref(n)
		if !ok {
			return nil, false
		}
		ks.ref = &r
	default:
		ks.object = s
		if !jwtAPIHasProperty(b.API, s) {
			b.Report(n.Warning(fmt.Sprintf("%s: crypto object %q is not a property of this API; Portico looks for a catalog property of that name when the policy runs, and the call fails if there is none", field, s),
				"define a property named "+s+" (in the API or in catalog.yaml) whose value is the key: PEM, JWK or JWK Set JSON, or a shared secret"))
		}
	}
	return ks, true
}

// jwtAPIHasProperty reports whether the API defines a property (for any
// catalog) named name.
func jwtAPIHasProperty(api *apidef.API, name string) bool {
	if api == nil {
		return false
	}
	if _, ok := api.Properties[name]; ok {
		return true
	}
	for _, props := range api.CatalogProperties {
		if _, ok := props[name]; ok {
			return true
		}
	}
	return false
}

// keys returns the key ring for this request.
func (s *jwtKeySource) keys(c *assembly.Context) (*jwtKeyring, error) {
	if s.static != nil {
		return s.static, nil
	}
	data, err := s.material(c)
	if err != nil {
		return nil, err
	}
	ring, err := s.cache.parse(data, s.kind == keyFromCrypto)
	if err != nil {
		return nil, fmt.Errorf("%s: %s does not hold a usable key: %v", s.field, s.describe(), err)
	}
	return ring, nil
}

// material fetches the key text for this request.
func (s *jwtKeySource) material(c *assembly.Context) ([]byte, error) {
	var v any
	switch {
	case s.tmpl != nil:
		v = s.tmpl.Value(c)
	case s.ref != nil:
		var ok bool
		if v, ok = c.Lookup(*s.ref); !ok {
			return nil, fmt.Errorf("%s: variable %s is not set", s.field, s.ref.Name)
		}
	default:
		t, ok := jwtProperty(c, s.object)
		if !ok {
			return nil, fmt.Errorf("%s: crypto object %q is not defined: define an API or catalog property of that name holding the key", s.field, s.object)
		}
		v = t.Render(c)
	}
	data, err := keyMaterialBytes(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %v", s.field, s.describe(), err)
	}
	return data, nil
}

func (s *jwtKeySource) describe() string {
	switch {
	case s.tmpl != nil:
		return fmt.Sprintf("%q", s.tmpl.Source())
	case s.ref != nil:
		return "variable " + s.ref.Name
	}
	return fmt.Sprintf("crypto object %q", s.object)
}

func jwtProperty(c *assembly.Context, name string) (*assembly.Template, bool) {
	if c.API == nil {
		return nil, false
	}
	t, ok := c.API.Properties[name]
	return t, ok
}

// keyMaterialBytes turns a variable's value into key text: a string, the body
// of a message (an invoke's output), or a parsed JSON object.
func keyMaterialBytes(v any) ([]byte, error) {
	var data []byte
	switch t := v.(type) {
	case nil:
		return nil, errors.New("it is empty")
	case string:
		data = []byte(t)
	case []byte:
		data = t
	case *assembly.Message:
		b, err := t.Body.Bytes()
		if err != nil {
			return nil, err
		}
		data = b
	case map[string]any, []any:
		b, err := json.Marshal(t)
		if err != nil {
			return nil, errors.New("it is not JSON")
		}
		data = b
	default:
		return nil, fmt.Errorf("it holds a %T, not a key", v)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("it is empty")
	}
	return data, nil
}

// jwtKey is one usable key, converted once from its JWK or PEM form.
type jwtKey struct {
	kid, alg, use string
	family        string // oct, RSA, EC-P-256, EC-P-384, EC-P-521, or another key type
	public        any    // verifies and encrypts: *rsa.PublicKey, *ecdsa.PublicKey, []byte, jwk.Key
	private       any    // signs and decrypts; nil for a public key
}

// jwtKeyring is a parsed key set.
type jwtKeyring struct{ keys []*jwtKey }

// parseJWTKeyMaterial parses a JWK, a JWK Set, or PEM blocks (certificates,
// public and private keys). With allowSecret, anything else is a shared
// secret, as a DataPower shared secret key object holds.
func parseJWTKeyMaterial(data []byte, allowSecret bool) (*jwtKeyring, error) {
	t := bytes.TrimSpace(data)
	switch {
	case len(t) == 0:
		return nil, errors.New("it is empty")
	case t[0] == '{':
		set, err := jwk.Parse(t)
		if err != nil {
			// The parser's message may quote the input: say only what failed.
			return nil, errors.New("it is not a valid JWK or JWK Set")
		}
		return ringFromSet(set)
	case bytes.Contains(t, []byte("-----BEGIN")):
		return ringFromPEM(t)
	case allowSecret:
		return ringFromRaw(append([]byte(nil), t...))
	}
	return nil, errors.New("it is not a JWK or JWK Set (JSON)")
}

func ringFromSet(set jwk.Set) (*jwtKeyring, error) {
	r := &jwtKeyring{}
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		rk, err := jwtKeyOf(k)
		if err != nil {
			return nil, err
		}
		r.keys = append(r.keys, rk)
	}
	if len(r.keys) == 0 {
		return nil, errors.New("the JWK Set has no keys")
	}
	return r, nil
}

// ringFromPEM reads every key and certificate in PEM text.
func ringFromPEM(data []byte) (*jwtKeyring, error) {
	r := &jwtKeyring{}
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		data = rest
		raw, err := jwtPEMKey(block)
		if err != nil {
			return nil, err
		}
		if raw == nil {
			continue // EC PARAMETERS and the like
		}
		k, err := ringFromRaw(raw)
		if err != nil {
			return nil, err
		}
		r.keys = append(r.keys, k.keys...)
	}
	if len(r.keys) == 0 {
		return nil, errors.New("the PEM text holds no certificate or key")
	}
	return r, nil
}

func jwtPEMKey(block *pem.Block) (any, error) {
	var raw any
	var err error
	switch block.Type {
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			raw = cert.PublicKey
		}
	case "PUBLIC KEY":
		raw, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		raw, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "RSA PRIVATE KEY":
		raw, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		raw, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		raw, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("encrypted private keys are not supported: give the key unencrypted")
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the PEM %s block does not parse", block.Type)
	}
	return raw, nil
}

func ringFromRaw(raw any) (*jwtKeyring, error) {
	k, err := jwk.Import(raw)
	if err != nil {
		return nil, errors.New("the key is not of a supported type")
	}
	rk, err := jwtKeyOf(k)
	if err != nil {
		return nil, err
	}
	return &jwtKeyring{keys: []*jwtKey{rk}}, nil
}

// jwtKeyOf converts a JWK into the raw keys the signing code uses.
func jwtKeyOf(k jwk.Key) (*jwtKey, error) {
	rk := &jwtKey{}
	rk.kid, _ = k.KeyID()
	if a, ok := k.Algorithm(); ok {
		rk.alg = a.String()
	}
	rk.use, _ = k.KeyUsage()
	var raw any
	if err := jwk.Export(k, &raw); err != nil {
		return nil, errors.New("a key cannot be used")
	}
	switch t := raw.(type) {
	case []byte:
		rk.family, rk.public, rk.private = "oct", t, t
	case *rsa.PrivateKey:
		rk.family, rk.public, rk.private = "RSA", &t.PublicKey, t
	case *rsa.PublicKey:
		rk.family, rk.public = "RSA", t
	case *ecdsa.PrivateKey:
		rk.family, rk.public, rk.private = "EC-"+t.Curve.Params().Name, &t.PublicKey, t
	case *ecdsa.PublicKey:
		rk.family, rk.public = "EC-"+t.Curve.Params().Name, t
	default:
		// Other key types (OKP) are handed to jwx as JWKs.
		rk.family = k.KeyType().String()
		rk.public = k
		if priv, _ := jwk.IsPrivateKey(k); priv {
			rk.private = k
			if pub, err := k.PublicKey(); err == nil {
				rk.public = pub
			}
		}
	}
	return rk, nil
}

// jwsFamilies maps the signature algorithms Portico accepts (API Connect's
// list) to the key family each needs.
var jwsFamilies = map[string]string{
	"HS256": "oct", "HS384": "oct", "HS512": "oct",
	"RS256": "RSA", "RS384": "RSA", "RS512": "RSA",
	"PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
	"ES256": "EC-P-256", "ES384": "EC-P-384", "ES512": "EC-P-521",
}

// jwsAlgorithm returns the jwa algorithm for an accepted signature
// algorithm name.
func jwsAlgorithm(name string) (jwa.SignatureAlgorithm, bool) {
	if _, ok := jwsFamilies[name]; !ok {
		return jwa.SignatureAlgorithm{}, false
	}
	return jwa.LookupSignatureAlgorithm(name)
}

// jwtDefaultSigAlg is the algorithm a key signs with when jws-alg is not set.
func jwtDefaultSigAlg(k *jwtKey) string {
	if k.alg != "" {
		return k.alg
	}
	switch k.family {
	case "oct":
		return "HS256"
	case "RSA":
		return "RS256"
	case "EC-P-256":
		return "ES256"
	case "EC-P-384":
		return "ES384"
	case "EC-P-521":
		return "ES512"
	}
	return ""
}

// jweFamilies maps the key management algorithms Portico accepts to the
// key family each needs ("" means any family jwx accepts for it).
var jweFamilies = map[string]string{
	"RSA1_5": "RSA", "RSA-OAEP": "RSA", "RSA-OAEP-256": "RSA",
	"A128KW": "oct", "A192KW": "oct", "A256KW": "oct",
	"A128GCMKW": "oct", "A192GCMKW": "oct", "A256GCMKW": "oct", "dir": "oct",
	"ECDH-ES": "", "ECDH-ES+A128KW": "", "ECDH-ES+A192KW": "", "ECDH-ES+A256KW": "",
}

// jweContentEncs are the content encryption algorithms (jwe-enc) accepted.
var jweContentEncs = map[string]bool{
	"A128CBC-HS256": true, "A192CBC-HS384": true, "A256CBC-HS512": true,
	"A128GCM": true, "A192GCM": true, "A256GCM": true,
}

func jweKeyAlgorithm(name string) (jwa.KeyEncryptionAlgorithm, bool) {
	if _, ok := jweFamilies[name]; !ok {
		return jwa.KeyEncryptionAlgorithm{}, false
	}
	return jwa.LookupKeyEncryptionAlgorithm(name)
}

// fits reports whether k may be used with alg: its family matches, its own
// alg (when it has one) is alg, and its use (when set) is the right one.
func (k *jwtKey) fits(alg string, sig bool) bool {
	family, use := jwsFamilies[alg], "sig"
	if !sig {
		family, use = jweFamilies[alg], "enc"
		if family == "" {
			family = k.family
			if k.family == "oct" || k.family == "RSA" {
				return false // ECDH-ES needs an EC or OKP key
			}
		}
	}
	if k.family != family {
		return false
	}
	if k.alg != "" && k.alg != alg {
		return false
	}
	return k.use == "" || k.use == use
}

// candidates returns the keys that may verify (or decrypt) a token with
// alg and kid. A key whose kid equals the token's is preferred; otherwise
// keys without a kid are tried. kidKnown reports whether a key carried the
// token's kid, so a JWKS can be refreshed when it did not.
func (r *jwtKeyring) candidates(alg, kid string, sig, private bool) (out []*jwtKey, kidKnown bool) {
	var unnamed []*jwtKey
	for _, k := range r.keys {
		if !k.fits(alg, sig) || (private && k.private == nil) {
			continue
		}
		switch {
		case kid == "":
			out = append(out, k)
		case k.kid == kid:
			out = append(out, k)
			kidKnown = true
		case k.kid == "":
			unnamed = append(unnamed, k)
		}
	}
	if kid == "" {
		return out, true
	}
	if len(out) > 0 {
		return out, true
	}
	return unnamed, false
}

// first returns the first key that fits alg (for signing or encrypting).
func (r *jwtKeyring) first(alg string, sig, private bool) *jwtKey {
	for _, k := range r.keys {
		if k.fits(alg, sig) && (!private || k.private != nil) {
			return k
		}
	}
	return nil
}

// jwtKeyCache holds key rings parsed from variables and properties, keyed by
// a digest of their text. It lives in the assembly.Env so that it survives
// reloads; it is bounded and forgets its oldest entries first.
type jwtKeyCache struct {
	mu    sync.Mutex
	rings map[[sha256.Size]byte]jwtKeyCacheEntry
	order [][sha256.Size]byte
}

type jwtKeyCacheEntry struct {
	ring *jwtKeyring
	err  error
}

const jwtKeyCacheSize = 256

func jwtKeyCacheFor(env *assembly.Env) *jwtKeyCache {
	return env.Resource("policy.jwt.keys", func() any {
		return &jwtKeyCache{rings: map[[sha256.Size]byte]jwtKeyCacheEntry{}}
	}).(*jwtKeyCache)
}

// parse returns the ring for data, parsing it the first time it is seen.
// A failure is remembered too, so bad material is not parsed again.
func (kc *jwtKeyCache) parse(data []byte, allowSecret bool) (*jwtKeyring, error) {
	h := sha256.New()
	if allowSecret {
		h.Write([]byte{1})
	} else {
		h.Write([]byte{0})
	}
	h.Write(data)
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	kc.mu.Lock()
	e, ok := kc.rings[sum]
	kc.mu.Unlock()
	if ok {
		return e.ring, e.err
	}
	ring, err := parseJWTKeyMaterial(data, allowSecret)
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if _, ok := kc.rings[sum]; !ok {
		if len(kc.order) >= jwtKeyCacheSize {
			delete(kc.rings, kc.order[0])
			kc.order = kc.order[1:]
		}
		kc.rings[sum] = jwtKeyCacheEntry{ring: ring, err: err}
		kc.order = append(kc.order, sum)
	}
	return ring, err
}

// JWKS URLs (Portico's jwks-url extension) are fetched through a cache that
// lives in the assembly.Env, so keys survive reloads. A set is reused for
// jwksTTL; a token whose kid no key carries triggers a refresh, at most
// once per jwksMinRefresh, so random kids cannot make the gateway hammer
// the identity provider.
const (
	jwksTTL        = 10 * time.Minute
	jwksMinRefresh = 30 * time.Second
	jwksTimeout    = 10 * time.Second
	jwksMaxSize    = 1 << 20
	jwksMaxURLs    = 64
)

type jwksCache struct {
	mu      sync.Mutex
	entries map[string]*jwksEntry
	client  *http.Client
	// now is the clock; tests move it forward.
	now func() time.Time
}

// jwksEntry is one URL's key set. Its mutex is held while fetching, so
// concurrent requests wait for one fetch instead of each making their own.
type jwksEntry struct {
	mu       sync.Mutex
	ring     *jwtKeyring
	fetched  time.Time
	err      error
	failedAt time.Time
}

func jwksCacheFor(env *assembly.Env) *jwksCache {
	return env.Resource("policy.jwt.jwks", func() any {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 4
		return &jwksCache{
			entries: map[string]*jwksEntry{},
			client:  &http.Client{Transport: t},
			now:     time.Now,
		}
	}).(*jwksCache)
}

func (jc *jwksCache) entry(u string) *jwksEntry {
	jc.mu.Lock()
	defer jc.mu.Unlock()
	e, ok := jc.entries[u]
	if !ok {
		// A jwks-url template could name many URLs: keep the cache bounded.
		if len(jc.entries) >= jwksMaxURLs {
			for old := range jc.entries {
				delete(jc.entries, old)
				break
			}
		}
		e = &jwksEntry{}
		jc.entries[u] = e
	}
	return e
}

// ring returns the keys at u: cached while fresh, fetched otherwise. With
// refresh (a kid was not found) the set is fetched again unless it was
// fetched very recently. When a fetch fails, keys fetched before are still
// used, and the failure is returned as stale for the caller to log; without
// any keys, the failure is the error (and is remembered for a while).
func (jc *jwksCache) ring(ctx context.Context, u string, refresh bool) (ring *jwtKeyring, stale, err error) {
	e := jc.entry(u)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := jc.now()
	if e.ring != nil {
		age := now.Sub(e.fetched)
		if age < jwksMinRefresh || (!refresh && age < jwksTTL) {
			return e.ring, nil, nil
		}
	} else if e.err != nil && now.Sub(e.failedAt) < jwksMinRefresh {
		return nil, nil, e.err
	}
	fresh, err := jc.fetch(ctx, u)
	if err != nil {
		e.err, e.failedAt = err, now
		if e.ring != nil {
			return e.ring, err, nil
		}
		return nil, nil, err
	}
	e.ring, e.fetched, e.err = fresh, now, nil
	return fresh, nil, nil
}

func (jc *jwksCache) fetch(ctx context.Context, u string) (*jwtKeyring, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS URL %s is not usable", jwksSafeURL(u))
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := jc.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole URL, query included
		}
		return nil, fmt.Errorf("fetching the JWKS from %s failed: %v", jwksSafeURL(u), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the JWKS from %s failed: status %d", jwksSafeURL(u), resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxSize+1))
	if err != nil || len(data) > jwksMaxSize {
		return nil, fmt.Errorf("reading the JWKS from %s failed", jwksSafeURL(u))
	}
	ring, err := parseJWTKeyMaterial(data, false)
	if err != nil {
		return nil, fmt.Errorf("the JWKS from %s is unusable: %v", jwksSafeURL(u), err)
	}
	return ring, nil
}

// jwksSafeURL drops the query and credentials of a URL for messages.
func jwksSafeURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Scheme + "://" + p.Host + p.Path
}

// jwtCompactHeader decodes the protected header of a compact JWS or JWE.
type jwtCompactHeader struct {
	Alg string `json:"alg"`
	Enc string `json:"enc"`
	Kid string `json:"kid"`
	Cty string `json:"cty"`
}

func jwtHeader(token string) (jwtCompactHeader, error) {
	var h jwtCompactHeader
	seg, _, _ := strings.Cut(token, ".")
	data, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return h, errors.New("its header is not base64url")
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return h, errors.New("its header is not a JSON object")
	}
	return h, nil
}
