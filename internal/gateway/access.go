package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"sync"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/ratelimit"
)

// API Connect's answers when client identification fails.
const (
	msgInvalidClient = "Invalid client id or secret."
	msgNotSubscribed = "Client id not subscribed to a plan that includes this operation."
	msgAppDisabled   = "The application is disabled or not active."
	msgRateLimited   = "Rate Limit exceeded"
)

// client is an identified credential with the app it belongs to.
type client struct {
	app  *bundle.App
	cred *bundle.Credential
	// subs holds the app's enabled subscriptions by plan key.
	subs map[string]bool
}

// plan is a compiled plan of a product, with its limits parsed.
type plan struct {
	key     string // product:version:plan, API Connect's plan_id
	product *bundle.BundleProduct
	def     *apidef.Plan
	rates   []limit // rate-limits: per app, shared by all operations of the plan
	bursts  []limit // burst-limits: always hard
	named   namedLimits
}

type limit struct {
	name string
	lim  ratelimit.Limit
	hard bool
}

// access is the per-Config identification state: credentials by client id
// and the cache of verified secrets.
type access struct {
	clients map[string]*client
	// verified remembers, per client id, the SHA-256 of the last secret
	// that passed argon2id, so that only the first call of a client pays
	// for the slow hash. It lives as long as the Config.
	verified sync.Map
	// slow bounds concurrent argon2id checks, so that a flood of wrong
	// secrets cannot take every CPU.
	slow chan struct{}
	// bearer checks OAuth bearer tokens; nil when the catalog has no oauth.
	bearer *bearerVerifier
}

func newAccess(orgs []*bundle.ConsumerOrg, o *bundle.OAuth) *access {
	a := &access{clients: map[string]*client{}, slow: make(chan struct{}, 2), bearer: newBearerVerifier(o)}
	for _, org := range orgs {
		for _, app := range org.Apps {
			subs := map[string]bool{}
			for _, s := range app.Subscriptions {
				if s.State == bundle.SubEnabled {
					subs[s.Product+":"+s.Plan] = true
				}
			}
			for _, cred := range app.Credentials {
				a.clients[cred.ClientID] = &client{app: app, cred: cred, subs: subs}
			}
		}
	}
	return a
}

// checkSecret verifies a client's secret, cheaply when it was verified before.
func (a *access) checkSecret(c *client, secret string) bool {
	if c.cred.Secret == nil {
		return false
	}
	sum := sha256.Sum256([]byte(secret))
	if prev, ok := a.verified.Load(c.cred.ClientID); ok {
		if subtle.ConstantTimeCompare(prev.([]byte), sum[:]) == 1 {
			return true
		}
	}
	a.slow <- struct{}{}
	ok := c.cred.Secret.Verify(secret)
	<-a.slow
	if ok {
		a.verified.Store(c.cred.ClientID, sum[:])
	}
	return ok
}

// credentials are what a request presented.
type credentials struct {
	id, secret       string
	hasID, hasSecret bool
	bearer           bool   // the id came from a verified bearer token
	secretParam      scheme // where the secret came from, to strip it before the back end
}

// identify applies the route's security requirement: the first alternative
// whose schemes the request satisfies wins. It returns the client, or the
// status and message to answer with.
func (a *access) identify(sec *security, r *http.Request) (*client, *credentials, int, string) {
	var lastStatus = http.StatusUnauthorized
	for _, alt := range sec.alternatives {
		cr := a.gather(alt, r)
		c, status := a.check(alt, cr)
		if status == 0 {
			return c, cr, 0, ""
		}
		lastStatus = status
	}
	if lastStatus == http.StatusForbidden {
		return nil, nil, lastStatus, msgAppDisabled
	}
	return nil, nil, http.StatusUnauthorized, msgInvalidClient
}

func (a *access) gather(alt []scheme, r *http.Request) *credentials {
	cr := &credentials{}
	for _, s := range alt {
		switch s.kind {
		case schemeBearer:
			if tok := bearerToken(r); tok != "" && a.bearer != nil {
				if id, err := a.bearer.clientID(r.Context(), tok); err == nil {
					cr.id, cr.hasID, cr.bearer = id, true, true
				}
			}
		case schemeClientID:
			cr.id, cr.hasID = lookupKey(s, r)
		case schemeClientSecret:
			cr.secret, cr.hasSecret = lookupKey(s, r)
			cr.secretParam = s
		case schemeBasic:
			if id, secret, ok := r.BasicAuth(); ok {
				cr.id, cr.secret, cr.hasID, cr.hasSecret = id, secret, true, true
			}
		}
	}
	return cr
}

func lookupKey(s scheme, r *http.Request) (string, bool) {
	var v string
	if s.in == "query" {
		v = r.URL.Query().Get(s.param)
	} else {
		v = r.Header.Get(s.param)
	}
	return v, v != ""
}

// check decides one alternative: 0 when it passes.
func (a *access) check(alt []scheme, cr *credentials) (*client, int) {
	needSecret := false
	for _, s := range alt {
		switch s.kind {
		case schemeClientSecret, schemeBasic:
			needSecret = true
		case schemeBearer:
			if !cr.bearer {
				return nil, http.StatusUnauthorized
			}
		}
	}
	if !cr.hasID {
		return nil, http.StatusUnauthorized
	}
	c := a.clients[cr.id]
	if c == nil {
		return nil, http.StatusUnauthorized
	}
	if needSecret && (!cr.hasSecret || !a.checkSecret(c, cr.secret)) {
		return nil, http.StatusUnauthorized
	}
	if c.app.State != "active" {
		return nil, http.StatusForbidden
	}
	return c, 0
}

// choosePlan returns the first of the route's plans the client subscribes to.
func choosePlan(c *client, plans []*plan) *plan {
	for _, p := range plans {
		if c.subs[p.product.Ref()+":"+p.def.Name] {
			return p
		}
	}
	return nil
}

// Authenticate implements assembly.Clients for the client-security policy,
// with the same checks and secret cache as identification.
func (a *access) Authenticate(_ context.Context, id, secret string, secretRequired bool) (assembly.ClientApp, bool) {
	c := a.clients[id]
	if c == nil || c.app.State != "active" {
		return assembly.ClientApp{}, false
	}
	if (secretRequired || secret != "") && !a.checkSecret(c, secret) {
		return assembly.ClientApp{}, false
	}
	return assembly.ClientApp{ID: c.cred.ClientID, Name: c.app.Name, OrgID: c.app.Org.ID, Org: c.app.Org.Name}, true
}
