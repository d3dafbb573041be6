package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

const (
	// jwtLeeway is the clock skew allowed on exp and nbf.
	jwtLeeway = 30 * time.Second
	// jwtMaxTokenSize bounds the token text a request may hand to the parser.
	jwtMaxTokenSize = 64 << 10
)

// jwtValidator is a compiled jwt-validate.
type jwtValidator struct {
	token, output assembly.Ref
	errMsg        assembly.Ref // jwt-validate.error-message
	iss, aud      *regexp.Regexp
	jws, jwe      *jwtKeySource
	jwksURL       *assembly.Template // Portico extension
	jwks          *jwksCache
}

// JWTValidate compiles the jwt-validate policy (API Gateway 2.0.0; v5
// 1.0.0):
//
//	jwt: request.headers.authorization   variable holding the token ("Bearer " is stripped)
//	output-claims: decoded.claims        variable that receives the claims
//	iss-claim: ^https://idp\.example/    regular expression the iss claim must match
//	aud-claim: ^my-api$                  regular expression an aud value must match
//	jws-crypto / jws-jwk                 key that verifies the signature
//	jwe-crypto / jwe-jwk                 key that decrypts an encrypted token
//	jwks-url: https://idp/jwks.json      Portico extension: keys fetched and cached
//
// A token that is not valid answers 401 with an UnauthorizedError, which a
// catch clause must name (default does not take it); its reason is also in
// jwt-validate.error-message, as on API Connect.
func JWTValidate(b *assembly.Builder, n apidef.Node) assembly.Policy {
	v, ok := compileJWTValidator(b, n)
	if !ok {
		return nil
	}
	return v.run
}

func compileJWTValidator(b *assembly.Builder, n apidef.Node) (*jwtValidator, bool) {
	v := &jwtValidator{errMsg: assembly.MustRef("jwt-validate.error-message"), jwks: jwksCacheFor(b.Env)}
	ok, good := true, true
	v.token, good = jwtRefSetting(b, n, "jwt", "request.headers.authorization")
	ok = ok && good
	v.output, good = jwtOutputSetting(b, n, "output-claims", "decoded.claims")
	ok = ok && good
	v.iss, good = claimRegexSetting(b, n, "iss-claim")
	ok = ok && good
	v.aud, good = claimRegexSetting(b, n, "aud-claim")
	ok = ok && good
	v.jws, good = jwtKeySetting(b, n, "jws")
	ok = ok && good
	v.jwe, good = jwtKeySetting(b, n, "jwe")
	ok = ok && good
	v.jwksURL, good = jwksURLSetting(b, n)
	ok = ok && good
	if ok && v.jws == nil && v.jwe == nil && v.jwksURL == nil {
		b.Report(n.Warning("jwt-validate has no key: every token will be rejected when the policy runs",
			"set jws-jwk or jws-crypto (or Portico's jwks-url) to verify signatures, or jwe-jwk or jwe-crypto to decrypt"))
	}
	return v, ok
}

// jwtRefSetting reads a variable-name setting, with a default when it is
// absent or empty. A name written as $(name) is taken as name.
func jwtRefSetting(b *assembly.Builder, n apidef.Node, key, def string) (assembly.Ref, bool) {
	sn := n.Get(key)
	s := strings.TrimSpace(sn.Str())
	if s == "" {
		return assembly.MustRef(def), true
	}
	if jwtWholeRef(s) {
		// $(name): the template compiles the reference (and notes what
		// it reads).
		if refs := b.Template(sn).Refs(); len(refs) == 1 {
			return refs[0], true
		}
		return assembly.Ref{}, false
	}
	return b.Ref(sn)
}

// jwtWholeRef reports whether s is exactly one $(name) reference.
func jwtWholeRef(s string) bool {
	return strings.HasPrefix(s, "$(") && strings.HasSuffix(s, ")") && strings.Count(s, "$(") == 1
}

// jwtOutputSetting is jwtRefSetting for a variable the policy writes: it must
// not be in the read-only trees.
func jwtOutputSetting(b *assembly.Builder, n apidef.Node, key, def string) (assembly.Ref, bool) {
	r, ok := jwtRefSetting(b, n, key, def)
	if !ok {
		return r, false
	}
	switch r.Root() {
	case "request", "api", "system":
		b.Report(n.Get(key).Problem(fmt.Sprintf("%s is read-only", r.Name), "write to a variable of your own, e.g. "+def))
		return r, false
	}
	return r, true
}

// claimRegexSetting compiles iss-claim or aud-claim. API Connect takes PCRE;
// Go's syntax covers what these checks use, save look-arounds and
// back-references, which are reported.
func claimRegexSetting(b *assembly.Builder, n apidef.Node, key string) (*regexp.Regexp, bool) {
	sn := n.Get(key)
	s := sn.Str()
	if strings.TrimSpace(s) == "" {
		return nil, true
	}
	re, err := regexp.Compile(s)
	if err != nil {
		b.Report(sn.Problem(fmt.Sprintf("%s %q is not a regular expression Portico supports: %v", key, s, err),
			"Portico uses Go (RE2) syntax: rewrite look-arounds and back-references"))
		return nil, false
	}
	return re, true
}

// jwtKeySetting compiles the <prefix>-crypto and <prefix>-jwk pair. As on
// API Connect, the crypto object wins when both are set.
func jwtKeySetting(b *assembly.Builder, n apidef.Node, prefix string) (*jwtKeySource, bool) {
	crypto, ok1 := compileJWTKeySource(b, n.Get(prefix+"-crypto"), prefix+"-crypto", keyFromCrypto)
	jwkSrc, ok2 := compileJWTKeySource(b, n.Get(prefix+"-jwk"), prefix+"-jwk", keyFromJWK)
	if crypto != nil {
		return crypto, ok1 && ok2
	}
	return jwkSrc, ok1 && ok2
}

func jwksURLSetting(b *assembly.Builder, n apidef.Node) (*assembly.Template, bool) {
	un := n.Get("jwks-url")
	if strings.TrimSpace(un.Str()) == "" {
		return nil, true
	}
	t := b.Template(un)
	if t.IsConst() {
		if u, err := url.Parse(t.Source()); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			b.Report(un.Problem(fmt.Sprintf("jwks-url %q is not an http or https URL", t.Source()),
				"write the full URL of the identity provider's key set, e.g. https://idp.example.com/.well-known/jwks.json"))
			return nil, false
		}
	}
	return t, true
}

func (v *jwtValidator) run(c *assembly.Context) error {
	claims, err := v.validate(c)
	if err != nil {
		e := assembly.AsError(err)
		// Catch flows read the reason here, as on API Connect.
		_ = c.Set(v.errMsg, e.Message)
		return e
	}
	return c.Set(v.output, claims)
}

// jwtReject is the error of a token that is not acceptable.
func jwtReject(format string, args ...any) *assembly.Error {
	return &assembly.Error{Name: assembly.UnauthorizedError, Status: 401, Message: fmt.Sprintf(format, args...)}
}

// jwtMisconfigured is the error of a policy that cannot do its work whatever
// the token: a key that is missing or unusable.
func jwtMisconfigured(policy string, err error) *assembly.Error {
	return &assembly.Error{Name: assembly.RuntimeError, Message: policy + ": " + err.Error(), Cause: err}
}

func (v *jwtValidator) validate(c *assembly.Context) (map[string]any, error) {
	raw, err := v.tokenText(c)
	if err != nil {
		return nil, err
	}
	var payload []byte
	switch strings.Count(raw, ".") {
	case 2:
		payload, err = v.verify(c, raw)
	case 4:
		payload, err = v.decrypt(c, raw)
	default:
		return nil, jwtReject("the JWT is malformed: it is neither a signed (JWS) nor an encrypted (JWE) token in compact form")
	}
	if err != nil {
		return nil, err
	}
	claims, err := jwtDecodeClaims(payload)
	if err != nil {
		return nil, err
	}
	if err := jwtCheckTimes(claims, time.Now()); err != nil {
		return nil, err
	}
	return claims, v.checkClaims(claims)
}

// tokenText reads the token from its variable, without a Bearer prefix.
func (v *jwtValidator) tokenText(c *assembly.Context) (string, error) {
	val, _ := c.Lookup(v.token)
	raw := strings.TrimSpace(assembly.Stringify(val))
	if len(raw) > 7 && strings.EqualFold(raw[:7], "bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	switch {
	case raw == "":
		return "", jwtReject("no JWT was found in %s", v.token.Name)
	case len(raw) > jwtMaxTokenSize:
		return "", jwtReject("the JWT is larger than %d bytes", jwtMaxTokenSize)
	}
	return raw, nil
}

// decrypt opens a JWE. A nested signed token is then verified; a plain
// one is accepted only when no signature key is configured.
func (v *jwtValidator) decrypt(c *assembly.Context, raw string) ([]byte, error) {
	if v.jwe == nil {
		return nil, jwtReject("the JWT is encrypted, and jwt-validate has no jwe-crypto or jwe-jwk to decrypt it")
	}
	h, err := jwtHeader(raw)
	if err != nil {
		return nil, jwtReject("the JWT is malformed: %v", err)
	}
	alg, ok := jweKeyAlgorithm(h.Alg)
	if !ok {
		return nil, jwtReject("the JWT's key management algorithm %.40q is not accepted", h.Alg)
	}
	ring, err := v.jwe.keys(c)
	if err != nil {
		return nil, jwtMisconfigured("jwt-validate", err)
	}
	cands, _ := ring.candidates(h.Alg, h.Kid, false, true)
	var plain []byte
	for _, k := range cands {
		if plain, err = jwe.Decrypt([]byte(raw), jwe.WithKey(alg, k.private)); err == nil {
			break
		}
	}
	if plain == nil {
		return nil, jwtReject("the JWT could not be decrypted with the configured key")
	}
	inner := strings.TrimSpace(string(plain))
	if strings.Count(inner, ".") == 2 && !strings.HasPrefix(inner, "{") {
		return v.verify(c, inner)
	}
	if v.jws != nil || v.jwksURL != nil {
		return nil, jwtReject("the encrypted JWT holds no signed token, and jwt-validate requires a signature")
	}
	return plain, nil
}

// verify checks a JWS signature with the configured keys, then with the
// JWKS URL's keys (fetched again once when the token's kid is unknown).
func (v *jwtValidator) verify(c *assembly.Context, raw string) ([]byte, error) {
	h, err := jwtHeader(raw)
	if err != nil {
		return nil, jwtReject("the JWT is malformed: %v", err)
	}
	if h.Alg == "" || strings.EqualFold(h.Alg, "none") {
		return nil, jwtReject("unsigned JWTs (alg none) are not accepted")
	}
	alg, ok := jwsAlgorithm(h.Alg)
	if !ok {
		return nil, jwtReject("the JWT's signature algorithm %.40q is not accepted", h.Alg)
	}
	if v.jws == nil && v.jwksURL == nil {
		return nil, jwtMisconfigured("jwt-validate", fmt.Errorf("no key to verify the JWT's signature: set jws-crypto, jws-jwk or jwks-url"))
	}
	if v.jws != nil {
		ring, err := v.jws.keys(c)
		if err != nil {
			return nil, jwtMisconfigured("jwt-validate", err)
		}
		if payload, ok, _ := jwtTryVerify(ring, raw, h, alg); ok {
			return payload, nil
		}
	}
	if v.jwksURL != nil {
		return v.verifyJWKS(c, raw, h, alg)
	}
	return nil, jwtReject("the JWT's signature does not verify")
}

func (v *jwtValidator) verifyJWKS(c *assembly.Context, raw string, h jwtCompactHeader, alg jwa.SignatureAlgorithm) ([]byte, error) {
	u := v.jwksURL.Render(c)
	for _, refresh := range []bool{false, true} {
		ring, stale, err := v.jwks.ring(c.Ctx, u, refresh)
		if err != nil {
			return nil, &assembly.Error{Name: assembly.RuntimeError, Message: "jwt-validate: " + err.Error(), Cause: err}
		}
		if stale != nil && c.Log != nil {
			c.Log.WarnContext(c.Ctx, "jwt-validate: the JWKS could not be refreshed; using the keys fetched before",
				"transaction_id", c.TransactionID, "error", stale)
		}
		payload, ok, kidKnown := jwtTryVerify(ring, raw, h, alg)
		if ok {
			return payload, nil
		}
		if kidKnown {
			break
		}
	}
	return nil, jwtReject("the JWT's signature does not verify")
}

// jwtTryVerify tries the ring's keys that fit the token's alg and kid.
func jwtTryVerify(ring *jwtKeyring, raw string, h jwtCompactHeader, alg jwa.SignatureAlgorithm) ([]byte, bool, bool) {
	cands, kidKnown := ring.candidates(h.Alg, h.Kid, true, false)
	for _, k := range cands {
		if payload, err := jws.Verify([]byte(raw), jws.WithKey(alg, k.public)); err == nil {
			return payload, true, kidKnown
		}
	}
	return nil, false, kidKnown
}

func jwtDecodeClaims(payload []byte) (map[string]any, error) {
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, jwtReject("the JWT's claims are not a JSON object")
	}
	return claims, nil
}

// jwtCheckTimes enforces exp and nbf, allowing jwtLeeway of clock skew.
func jwtCheckTimes(claims map[string]any, now time.Time) error {
	if exp, ok, err := jwtNumericDate(claims, "exp"); err != nil {
		return err
	} else if ok && now.After(exp.Add(jwtLeeway)) {
		return jwtReject("the JWT has expired")
	}
	if nbf, ok, err := jwtNumericDate(claims, "nbf"); err != nil {
		return err
	} else if ok && now.Add(jwtLeeway).Before(nbf) {
		return jwtReject("the JWT is not valid yet (nbf)")
	}
	return nil
}

func jwtNumericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	f, isNum := v.(float64)
	if !isNum || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, false, jwtReject("the JWT's %s claim is not a number", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// checkClaims applies iss-claim and aud-claim. aud may be one string or a
// list; one matching value is enough.
func (v *jwtValidator) checkClaims(claims map[string]any) error {
	if v.iss != nil {
		iss, isString := claims["iss"].(string)
		if !isString || !v.iss.MatchString(iss) {
			return jwtReject("the JWT's issuer (iss) does not match iss-claim")
		}
	}
	if v.aud != nil && !jwtAnyMatch(v.aud, claims["aud"]) {
		return jwtReject("the JWT's audience (aud) does not match aud-claim")
	}
	return nil
}

func jwtAnyMatch(re *regexp.Regexp, v any) bool {
	switch t := v.(type) {
	case string:
		return re.MatchString(t)
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok && re.MatchString(s) {
				return true
			}
		}
	}
	return false
}
