package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/portico-api/portico/internal/bundle"
)

// bearerVerifier checks OAuth 2 bearer JWTs against the catalog's JWKS and
// names the app by the token's client id claim.
type bearerVerifier struct {
	cfg  bundle.OAuth
	keys keySource
}

// keySource gives the current key set.
type keySource interface {
	keys(ctx context.Context, refresh bool) (jwk.Set, error)
}

func newBearerVerifier(o *bundle.OAuth) *bearerVerifier {
	if o == nil {
		return nil
	}
	v := &bearerVerifier{cfg: *o}
	if o.JWKS != nil {
		v.keys = staticKeys{o.JWKS}
	} else {
		v.keys = &remoteKeys{url: o.JWKSURL, ttl: 10 * time.Minute, client: &http.Client{Timeout: 10 * time.Second}}
	}
	return v
}

// clientID validates the token and returns the client id it was issued to.
func (v *bearerVerifier) clientID(ctx context.Context, token string) (string, error) {
	set, err := v.keys.keys(ctx, false)
	if err != nil {
		return "", err
	}
	tok, err := v.parse(token, set)
	if err != nil && errors.Is(err, errNoKey) {
		// A key rotated at the provider: fetch the set again once.
		if set, err = v.keys.keys(ctx, true); err == nil {
			tok, err = v.parse(token, set)
		}
	}
	if err != nil {
		return "", err
	}
	for _, claim := range []string{v.cfg.ClientIDClaim, "client_id", "azp", "cid"} {
		var id string
		if claim != "" && tok.Get(claim, &id) == nil && id != "" {
			return id, nil
		}
	}
	return "", errors.New("the token names no client (client_id, azp or cid claim)")
}

var errNoKey = errors.New("no key of the set verifies the token")

func (v *bearerVerifier) parse(token string, set jwk.Set) (jwt.Token, error) {
	opts := []jwt.ParseOption{
		jwt.WithKeySet(set, jws.WithInferAlgorithmFromKey(true), jws.WithRequireKid(false)),
		jwt.WithValidate(true),
		jwt.WithAcceptableSkew(30 * time.Second),
	}
	if v.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.cfg.Issuer))
	}
	if v.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(v.cfg.Audience))
	}
	tok, err := jwt.Parse([]byte(token), opts...)
	if err != nil && strings.Contains(err.Error(), "failed to find") {
		return nil, errNoKey
	}
	return tok, err
}

// bearerToken returns the token of an "Authorization: Bearer …" header.
func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

type staticKeys struct{ set jwk.Set }

func (s staticKeys) keys(context.Context, bool) (jwk.Set, error) { return s.set, nil }

// remoteKeys fetches a JWKS URL, keeps it for ttl, and refetches on demand
// at most once every few seconds, so unknown tokens cannot make the gateway
// hammer the provider.
type remoteKeys struct {
	url    string
	ttl    time.Duration
	client *http.Client

	mu      sync.Mutex
	set     jwk.Set
	fetched time.Time
}

const minRefetch = 5 * time.Second

func (r *remoteKeys) keys(ctx context.Context, refresh bool) (jwk.Set, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	age := time.Since(r.fetched)
	if r.set != nil && age < r.ttl && (!refresh || age < minRefetch) {
		return r.set, nil
	}
	set, err := jwk.Fetch(ctx, r.url, jwk.WithHTTPClient(r.client))
	if err != nil {
		if r.set != nil {
			return r.set, nil // keep serving with the keys we have
		}
		return nil, err
	}
	r.set, r.fetched = set, time.Now()
	return set, nil
}
