package policy

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// jwtGenerator is a compiled jwt-generate.
type jwtGenerator struct {
	out      *assembly.Ref // nil: the Authorization header, as a Bearer token
	authz    assembly.Ref  // message.headers.authorization
	jti      bool
	iss, sub *claimSource
	aud      []*claimSource
	exp      time.Duration // 0: no exp claim
	private  *assembly.Ref
	sign     *jwsSigner
	encrypt  *jweEncrypter
}

// claimSource is where a claim value comes from: a variable (API Connect's
// meaning), a $(…) template, or literal text.
type claimSource struct {
	ref     *assembly.Ref
	tmpl    *assembly.Template
	literal string
}

type jwsSigner struct {
	alg  string // "" infers it from the key
	keys *jwtKeySource
	kid  *assembly.Template // custom-kid-value-jws (2.1.0)
}

type jweEncrypter struct {
	alg, enc string
	keys     *jwtKeySource
	kid      *assembly.Template // custom-kid-value-jwe (2.1.0)
}

// defaultJWEEnc is the content encryption used when jwe-enc is not set.
const defaultJWEEnc = "A128CBC-HS256"

// JWTGenerate compiles the jwt-generate policy (API Gateway 2.0.0, 2.1.0;
// v5 1.0.0):
//
//	jwt: generated.jwt            variable for the token; when not set, the token
//	                              goes to message.headers.authorization as a Bearer token
//	jti-claim: true               add a random jti
//	iss-claim: iss.claim          variable holding the issuer (default iss.claim)
//	sub-claim / aud-claim         variables holding the subject / audiences (comma-separated names)
//	exp-claim: 3600               seconds the token is valid for
//	private-claims: my.claims     variable holding a JSON object of more claims
//	jws-alg: RS256                with jws-jwk or jws-crypto: sign
//	jwe-alg, jwe-enc              with jwe-jwk or jwe-crypto: encrypt (nested when also signed)
func JWTGenerate(b *assembly.Builder, n apidef.Node) assembly.Policy {
	g, ok := compileJWTGenerator(b, n)
	if !ok {
		return nil
	}
	return g.run
}

func compileJWTGenerator(b *assembly.Builder, n apidef.Node) (*jwtGenerator, bool) {
	g := &jwtGenerator{authz: assembly.MustRef("message.headers.authorization")}
	ok, good := true, true
	if strings.TrimSpace(n.Get("jwt").Str()) != "" {
		var r assembly.Ref
		r, good = jwtOutputSetting(b, n, "jwt", "generated.jwt")
		g.out = &r
		ok = ok && good
	}
	jti, p := n.Bool("jti-claim", false)
	ok = jwtReport(b, p) && ok
	g.jti = jti
	g.iss, good = jwtClaim(b, n.Get("iss-claim"), "iss-claim", "iss.claim")
	ok = ok && good
	g.sub, good = jwtClaim(b, n.Get("sub-claim"), "sub-claim", "")
	ok = ok && good
	g.aud, good = jwtAudience(b, n.Get("aud-claim"))
	ok = ok && good
	g.exp, good = jwtExpSetting(b, n)
	ok = ok && good
	if strings.TrimSpace(n.Get("private-claims").Str()) != "" {
		var r assembly.Ref
		r, good = jwtRefSetting(b, n, "private-claims", "private.claims")
		g.private = &r
		ok = ok && good
	}
	g.sign, good = jwtSignerSetting(b, n)
	ok = ok && good
	g.encrypt, good = jwtEncrypterSetting(b, n)
	ok = ok && good
	if ok && g.sign == nil && g.encrypt == nil {
		b.Report(n.Warning("jwt-generate has no key: the policy fails when it runs, as Portico never issues unsigned tokens",
			"set jws-alg with jws-jwk or jws-crypto to sign, or jwe-alg with jwe-jwk or jwe-crypto to encrypt"))
	}
	return g, ok
}

// jwtReport records p (if any) and reports whether there was none.
func jwtReport(b *assembly.Builder, p *apidef.Problem) bool {
	if p != nil {
		b.Report(*p)
		return false
	}
	return true
}

// claimVarName matches text that can be a variable name. Anything else in a
// claim setting (a URL, words with spaces) can only be meant literally.
var claimVarName = regexp.MustCompile(`^[A-Za-z0-9_.\-\[\]'"]+$`)

// jwtClaim compiles iss-claim or sub-claim: the name of the variable
// holding the value, as on API Connect. A $(…) template is rendered, and
// text that cannot be a variable name is used as the value itself.
func jwtClaim(b *assembly.Builder, n apidef.Node, key, def string) (*claimSource, bool) {
	s := strings.TrimSpace(n.Str())
	if s == "" {
		if def == "" {
			return nil, true
		}
		r := assembly.MustRef(def)
		return &claimSource{ref: &r}, true
	}
	return jwtClaimFrom(b, n, key, s)
}

func jwtClaimFrom(b *assembly.Builder, n apidef.Node, key, s string) (*claimSource, bool) {
	switch {
	case strings.Contains(s, "$("):
		t, err := assembly.ParseTemplate(s)
		if err != nil {
			b.Report(n.Problem(fmt.Sprintf("%s: %v", key, err), "write references as $(name)"))
			return nil, false
		}
		jwtMarkBody(b, t.Refs()...)
		return &claimSource{tmpl: t}, true
	case claimVarName.MatchString(s):
		r, err := assembly.ParseRef(s)
		if err != nil {
			b.Report(n.Problem(fmt.Sprintf("%s: %v", key, err), "name the variable that holds the claim"))
			return nil, false
		}
		jwtMarkBody(b, r)
		return &claimSource{ref: &r}, true
	}
	b.Report(n.Warning(fmt.Sprintf("%s names the variable holding the claim on API Connect; %q cannot be a variable name, so Portico uses it as the value", key, s),
		"set a variable (or property) to the value and name it here, to stay portable"))
	return &claimSource{literal: s}, true
}

// jwtMarkBody tells the builder when a claim reads the request body, so
// that the body is kept for it (a comma-separated aud-claim is parsed here,
// not by the builder).
func jwtMarkBody(b *assembly.Builder, refs ...assembly.Ref) {
	for _, r := range refs {
		if r.Name == "request" || strings.HasPrefix(r.Name, "request.body") {
			b.MarkRequestBodyRead()
		}
	}
}

// jwtAudience compiles aud-claim: comma-separated variable names.
func jwtAudience(b *assembly.Builder, n apidef.Node) ([]*claimSource, bool) {
	var out []*claimSource
	for _, part := range strings.Split(n.Str(), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		cs, ok := jwtClaimFrom(b, n, "aud-claim", part)
		if !ok {
			return nil, false
		}
		out = append(out, cs)
	}
	return out, true
}

func jwtExpSetting(b *assembly.Builder, n apidef.Node) (time.Duration, bool) {
	secs, p := n.Int("exp-claim", 3600)
	if !jwtReport(b, p) {
		return 0, false
	}
	if secs < 0 {
		b.Report(n.Get("exp-claim").Problem(fmt.Sprintf("exp-claim %d is negative", secs),
			"give the number of seconds the token is valid for, e.g. 3600"))
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

func jwtSignerSetting(b *assembly.Builder, n apidef.Node) (*jwsSigner, bool) {
	keys, ok := jwtKeySetting(b, n, "jws")
	if !ok {
		return nil, false
	}
	an := n.Get("jws-alg")
	alg := strings.TrimSpace(an.Str())
	if alg != "" {
		if _, known := jwsAlgorithm(alg); !known {
			b.Report(an.Problem(fmt.Sprintf("jws-alg %q is not supported", alg),
				"use HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384 or PS512"))
			return nil, false
		}
	}
	if keys == nil {
		if alg != "" {
			b.Report(an.Warning("jws-alg is set, but neither jws-jwk nor jws-crypto: the token is not signed",
				"name the signing key in jws-jwk or jws-crypto"))
		}
		return nil, true
	}
	if keys.static != nil && keys.static.signingKey(alg) == nil {
		b.Report(n.Problem(fmt.Sprintf("the jws key holds no private key that signs with %s", jwtOr(alg, "its algorithm")),
			"give a private key (or shared secret) of the type jws-alg needs: HS* an oct key, RS*/PS* RSA, ES* EC"))
		return nil, false
	}
	return &jwsSigner{alg: alg, keys: keys, kid: kidTemplate(b, n.Get("custom-kid-value-jws"))}, true
}

func jwtEncrypterSetting(b *assembly.Builder, n apidef.Node) (*jweEncrypter, bool) {
	keys, ok := jwtKeySetting(b, n, "jwe")
	if !ok {
		return nil, false
	}
	e := &jweEncrypter{keys: keys, enc: defaultJWEEnc}
	if an := n.Get("jwe-alg"); strings.TrimSpace(an.Str()) != "" {
		e.alg = strings.TrimSpace(an.Str())
		if _, known := jweKeyAlgorithm(e.alg); !known {
			b.Report(an.Problem(fmt.Sprintf("jwe-alg %q is not supported", e.alg),
				"use RSA-OAEP, RSA-OAEP-256, RSA1_5, A128KW, A192KW, A256KW, A128GCMKW, A192GCMKW, A256GCMKW, dir or ECDH-ES[+A128KW|+A192KW|+A256KW]"))
			return nil, false
		}
	}
	if en := n.Get("jwe-enc"); strings.TrimSpace(en.Str()) != "" {
		e.enc = strings.TrimSpace(en.Str())
		if !jweContentEncs[e.enc] {
			b.Report(en.Problem(fmt.Sprintf("jwe-enc %q is not supported", e.enc),
				"use A128CBC-HS256, A192CBC-HS384, A256CBC-HS512, A128GCM, A192GCM or A256GCM"))
			return nil, false
		}
	}
	if keys == nil {
		return nil, true
	}
	e.kid = kidTemplate(b, n.Get("custom-kid-value-jwe"))
	return e, true
}

func kidTemplate(b *assembly.Builder, n apidef.Node) *assembly.Template {
	if strings.TrimSpace(n.Str()) == "" {
		return nil
	}
	return b.Template(n)
}

func jwtOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// signingKey returns the key that signs with alg; with no alg, the first
// private key whose type implies one.
func (r *jwtKeyring) signingKey(alg string) *jwtKey {
	if alg != "" {
		return r.first(alg, true, true)
	}
	for _, k := range r.keys {
		if a := jwtDefaultSigAlg(k); k.private != nil && a != "" && k.fits(a, true) {
			return k
		}
	}
	return nil
}

// encryptionKey returns the key that encrypts with alg; with no alg, the
// first key whose type implies one.
func (r *jwtKeyring) encryptionKey(alg string) (*jwtKey, string) {
	if alg != "" {
		return r.first(alg, false, false), alg
	}
	for _, k := range r.keys {
		if a := jwtDefaultKeyAlg(k); a != "" && k.fits(a, false) {
			return k, a
		}
	}
	return nil, ""
}

// jwtDefaultKeyAlg is the key management algorithm used when jwe-alg is not
// set: the key's own alg, else one that suits its type.
func jwtDefaultKeyAlg(k *jwtKey) string {
	if k.alg != "" {
		return k.alg
	}
	switch {
	case k.family == "RSA":
		return "RSA-OAEP"
	case k.family == "oct":
		return "A256KW"
	case strings.HasPrefix(k.family, "EC-"):
		return "ECDH-ES"
	}
	return ""
}

func (g *jwtGenerator) run(c *assembly.Context) error {
	claims, err := g.claims(c)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return jwtMisconfigured("jwt-generate", fmt.Errorf("the claims cannot be encoded: %v", err))
	}
	token, err := g.protect(c, payload)
	if err != nil {
		return err
	}
	if g.out == nil {
		return c.Set(g.authz, "Bearer "+string(token))
	}
	return c.Set(*g.out, string(token))
}

// claims builds the claim set: private claims first, then the registered
// claims the policy sets, which win over private ones of the same name.
func (g *jwtGenerator) claims(c *assembly.Context) (map[string]any, error) {
	claims, err := g.privateClaims(c)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	claims["iat"] = now.Unix()
	if g.exp > 0 {
		claims["exp"] = now.Add(g.exp).Unix()
	}
	if v, ok := g.iss.value(c); ok {
		claims["iss"] = v
	}
	if v, ok := g.sub.value(c); ok {
		claims["sub"] = v
	}
	if aud := g.audience(c); len(aud) == 1 {
		claims["aud"] = aud[0]
	} else if len(aud) > 1 {
		claims["aud"] = aud
	}
	if g.jti {
		claims["jti"] = newJTI()
	}
	return claims, nil
}

func (g *jwtGenerator) privateClaims(c *assembly.Context) (map[string]any, error) {
	claims := map[string]any{}
	if g.private == nil {
		return claims, nil
	}
	v, ok := c.Lookup(*g.private)
	if !ok || v == nil {
		return claims, nil
	}
	obj, err := jwtJSONObject(v)
	if err != nil {
		return nil, jwtMisconfigured("jwt-generate", fmt.Errorf("private-claims: variable %s %v", g.private.Name, err))
	}
	for k, e := range obj {
		claims[k] = e // only read, to be encoded
	}
	return claims, nil
}

// jwtJSONObject reads a JSON object held as a parsed value, text, or a
// message body.
func jwtJSONObject(v any) (map[string]any, error) {
	if m, ok := v.(map[string]any); ok {
		return m, nil
	}
	data, err := keyMaterialBytes(v)
	if err != nil {
		return nil, fmt.Errorf("is unusable: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, fmt.Errorf("does not hold a JSON object")
	}
	return m, nil
}

// value returns a claim's value; ok is false when its variable is unset
// (the claim is then left out).
func (cs *claimSource) value(c *assembly.Context) (string, bool) {
	switch {
	case cs == nil:
		return "", false
	case cs.tmpl != nil:
		return cs.tmpl.Render(c), true
	case cs.ref != nil:
		v, ok := c.Lookup(*cs.ref)
		if !ok || v == nil {
			return "", false
		}
		return assembly.Stringify(v), true
	}
	return cs.literal, true
}

// audience collects aud values; a variable holding a list gives several.
func (g *jwtGenerator) audience(c *assembly.Context) []string {
	var out []string
	for _, cs := range g.aud {
		if cs.ref != nil {
			if list, ok := jwtLookupList(c, *cs.ref); ok {
				out = append(out, list...)
				continue
			}
		}
		if v, ok := cs.value(c); ok && v != "" {
			out = append(out, v)
		}
	}
	return out
}

func jwtLookupList(c *assembly.Context, r assembly.Ref) ([]string, bool) {
	v, _ := c.Lookup(r)
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, assembly.Stringify(e))
	}
	return out, true
}

// protect signs, encrypts, or signs then encrypts (a nested JWT).
func (g *jwtGenerator) protect(c *assembly.Context, payload []byte) ([]byte, error) {
	if g.sign == nil && g.encrypt == nil {
		return nil, jwtMisconfigured("jwt-generate", fmt.Errorf("no key to sign or encrypt the token: set jws-jwk or jws-crypto, or jwe-jwk or jwe-crypto"))
	}
	token := payload
	if g.sign != nil {
		signed, err := g.sign.sign(c, payload)
		if err != nil {
			return nil, err
		}
		token = signed
	}
	if g.encrypt != nil {
		return g.encrypt.encrypt(c, token, g.sign != nil)
	}
	return token, nil
}

func (s *jwsSigner) sign(c *assembly.Context, payload []byte) ([]byte, error) {
	ring, err := s.keys.keys(c)
	if err != nil {
		return nil, jwtMisconfigured("jwt-generate", err)
	}
	k := ring.signingKey(s.alg)
	if k == nil {
		return nil, jwtMisconfigured("jwt-generate", fmt.Errorf("%s holds no private key that signs with %s", s.keys.field, jwtOr(s.alg, "a supported algorithm")))
	}
	alg := jwtOr(s.alg, jwtDefaultSigAlg(k))
	a, _ := jwsAlgorithm(alg)
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.TypeKey, "JWT")
	if kid := jwtKid(c, s.kid, k); kid != "" {
		_ = hdr.Set(jws.KeyIDKey, kid)
	}
	token, err := jws.Sign(payload, jws.WithKey(a, k.private, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return nil, jwtMisconfigured("jwt-generate", fmt.Errorf("signing with %s failed: %v", alg, err))
	}
	return token, nil
}

func (e *jweEncrypter) encrypt(c *assembly.Context, payload []byte, nested bool) ([]byte, error) {
	ring, err := e.keys.keys(c)
	if err != nil {
		return nil, jwtMisconfigured("jwt-generate", err)
	}
	k, alg := ring.encryptionKey(e.alg)
	if k == nil {
		return nil, jwtMisconfigured("jwt-generate", fmt.Errorf("%s holds no key that encrypts with %s", e.keys.field, jwtOr(e.alg, "a supported algorithm")))
	}
	a, _ := jweKeyAlgorithm(alg)
	enc, _ := jwa.LookupContentEncryptionAlgorithm(e.enc)
	hdr := jwe.NewHeaders()
	_ = hdr.Set(jwe.TypeKey, "JWT")
	if nested {
		_ = hdr.Set(jwe.ContentTypeKey, "JWT")
	}
	if kid := jwtKid(c, e.kid, k); kid != "" {
		_ = hdr.Set(jwe.KeyIDKey, kid)
	}
	token, err := jwe.Encrypt(payload, jwe.WithKey(a, k.public), jwe.WithContentEncryption(enc),
		jwe.WithProtectedHeaders(hdr), jwe.WithCompact())
	if err != nil {
		return nil, jwtMisconfigured("jwt-generate", fmt.Errorf("encrypting with %s and %s failed: %v", alg, e.enc, err))
	}
	return token, nil
}

// jwtKid is the kid header: custom-kid-value-* when set, else the key's.
func jwtKid(c *assembly.Context, custom *assembly.Template, k *jwtKey) string {
	if custom != nil {
		return custom.Render(c)
	}
	return k.kid
}

// newJTI makes a random (version 4) UUID for jti.
func newJTI() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}
