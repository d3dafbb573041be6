package policy

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// ClientCredentials are what client-security extracted from a request. The
// secret lives only here, in memory, for the authenticator: it is never
// put in a context variable or a log.
type ClientCredentials struct {
	ID        string
	Secret    string
	HasSecret bool
}

// ClientApp is the application that credentials identify.
type ClientApp struct {
	ID   string
	Name string
	// Vars are further client.app.* variables to set, such as
	// lifecycle-state or metadata.
	Vars map[string]any
}

// ClientAuthenticator checks client credentials against the registered
// applications. It returns an error wrapping ErrInvalidClient when they do
// not identify an application (the request is then refused with 401);
// any other error is a failure of the check itself.
type ClientAuthenticator interface {
	AuthenticateClient(ctx context.Context, api *assembly.APIInfo, cred ClientCredentials, secretRequired bool) (*ClientApp, error)
}

// ErrInvalidClient is what an authenticator returns for credentials that
// identify no application.
var ErrInvalidClient = errors.New("invalid client id or secret")

// AcceptAnyClient is the authenticator used until consumer applications
// exist in Portico: it accepts any extracted client ID (and secret) as is.
type AcceptAnyClient struct{}

// AuthenticateClient accepts cred.
func (AcceptAnyClient) AuthenticateClient(_ context.Context, _ *assembly.APIInfo, cred ClientCredentials, _ bool) (*ClientApp, error) {
	return &ClientApp{ID: cred.ID}, nil
}

// ClientAuthenticatorSlot holds the authenticator client-security uses. It
// lives in the assembly.Env, so whoever owns the consumer registry sets it
// once and every configuration loaded (before or after) uses it.
type ClientAuthenticatorSlot struct {
	p atomic.Pointer[authenticatorBox]
}

type authenticatorBox struct{ a ClientAuthenticator }

// ClientAuthenticatorFor returns env's slot.
func ClientAuthenticatorFor(env *assembly.Env) *ClientAuthenticatorSlot {
	return env.Resource("policy.client-security.authenticator", func() any {
		return &ClientAuthenticatorSlot{}
	}).(*ClientAuthenticatorSlot)
}

// Set installs a; nil restores AcceptAnyClient.
func (s *ClientAuthenticatorSlot) Set(a ClientAuthenticator) {
	if a == nil {
		s.p.Store(nil)
		return
	}
	s.p.Store(&authenticatorBox{a: a})
}

// Get returns the authenticator in use.
func (s *ClientAuthenticatorSlot) Get() ClientAuthenticator {
	if b := s.p.Load(); b != nil {
		return b.a
	}
	return AcceptAnyClient{}
}

// csInvalidMessage is API Connect's answer to missing or wrong
// client credentials.
const csInvalidMessage = "Invalid client id or secret."

// clientSecurity is a compiled client-security.
type clientSecurity struct {
	stopOnError, secretRequired bool
	method                      string
	idName, secretName          string
	idRef, secretRef            *assembly.Ref // context-var
	registry                    string        // third-party: not supported yet
	thirdParty                  bool
	slot                        *ClientAuthenticatorSlot
	appID, appName              assembly.Ref
}

var csMethods = map[string]bool{"header": true, "query": true, "form": true, "cookie": true, "http": true, "context-var": true}

// ClientSecurity compiles the client-security policy (API Gateway 2.0.0):
//
//	stop-on-error: true               false: a failure lets the flow go on unidentified
//	secret-required: true             the secret must be sent too
//	extract-credential-method: header header | query | form | cookie | http | context-var
//	id-name: X-IBM-Client-Id          where the ID is (not for http)
//	secret-name: X-IBM-Client-Secret  where the secret is (not for http)
//	http-type: basic                  for http: Authorization: Basic base64(id:secret)
//	client-auth-method: native        native | third-party (user-registry: …)
//
// The ID lands in client.app.id. Checking it against registered
// applications is the ClientAuthenticator's job (see ClientAuthenticatorFor).
func ClientSecurity(b *assembly.Builder, n apidef.Node) assembly.Policy {
	cs, ok := compileClientSecurity(b, n)
	if !ok {
		return nil
	}
	return cs.run
}

func compileClientSecurity(b *assembly.Builder, n apidef.Node) (*clientSecurity, bool) {
	cs := &clientSecurity{slot: ClientAuthenticatorFor(b.Env),
		appID: assembly.MustRef("client.app.id"), appName: assembly.MustRef("client.app.name")}
	var p1, p2 *apidef.Problem
	cs.stopOnError, p1 = n.Bool("stop-on-error", true)
	cs.secretRequired, p2 = n.Bool("secret-required", true)
	ok := jwtReport(b, p1)
	ok = jwtReport(b, p2) && ok
	mn := n.Get("extract-credential-method")
	cs.method = strings.ToLower(strings.TrimSpace(jwtOr(mn.Str(), "header")))
	if !csMethods[cs.method] {
		b.Report(mn.Problem(fmt.Sprintf("extract-credential-method %q is not one of header, query, form, cookie, http, context-var", mn.Str()), ""))
		return nil, false
	}
	if cs.method == "form" {
		b.MarkRequestBodyRead() // the form is the request body
	}
	ok = cs.compileLocations(b, n) && ok
	ok = cs.compileAuthMethod(b, n) && ok
	return cs, ok
}

// compileLocations reads where the ID and secret are.
func (cs *clientSecurity) compileLocations(b *assembly.Builder, n apidef.Node) bool {
	if cs.method == "http" {
		tn := n.Get("http-type")
		if t := strings.ToLower(strings.TrimSpace(jwtOr(tn.Str(), "basic"))); t != "basic" {
			b.Report(tn.Problem(fmt.Sprintf("http-type %q is not supported", tn.Str()), "the only type is basic"))
			return false
		}
		return true
	}
	cs.idName = strings.TrimSpace(n.Get("id-name").Str())
	cs.secretName = strings.TrimSpace(n.Get("secret-name").Str())
	ok := true
	if cs.idName == "" {
		b.Report(csMissing(n, "id-name", fmt.Sprintf("client-security needs id-name: the %s that holds the client ID", cs.locationWord()),
			"write e.g. `id-name: X-IBM-Client-Id`"))
		ok = false
	}
	if cs.secretRequired && cs.secretName == "" {
		b.Report(csMissing(n, "secret-name", fmt.Sprintf("client-security needs secret-name (secret-required is true): the %s that holds the client secret", cs.locationWord()),
			"write e.g. `secret-name: X-IBM-Client-Secret`, or set secret-required: false"))
		ok = false
	}
	if ok && cs.method == "context-var" {
		ok = cs.compileVarRefs(b, n)
	}
	return ok
}

func (cs *clientSecurity) compileVarRefs(b *assembly.Builder, n apidef.Node) bool {
	r, ok := b.Ref(n.Get("id-name"))
	if !ok {
		return false
	}
	cs.idRef = &r
	if cs.secretName == "" {
		return true
	}
	s, ok := b.Ref(n.Get("secret-name"))
	cs.secretRef = &s
	return ok
}

func (cs *clientSecurity) locationWord() string {
	switch cs.method {
	case "query":
		return "query parameter"
	case "form":
		return "form field"
	case "cookie":
		return "cookie"
	case "context-var":
		return "context variable"
	}
	return "header"
}

// compileAuthMethod reads client-auth-method. third-party (a user
// registry) is not supported yet: a warning now, an error when it runs.
func (cs *clientSecurity) compileAuthMethod(b *assembly.Builder, n apidef.Node) bool {
	an := n.Get("client-auth-method")
	switch m := strings.ToLower(strings.TrimSpace(jwtOr(an.Str(), "native"))); m {
	case "native":
		return true
	case "third-party":
		cs.thirdParty = true
		cs.registry = strings.TrimSpace(n.Get("user-registry").Str())
		b.Report(an.Warning("client-auth-method third-party is not supported by Portico yet: the policy fails with a RuntimeError when it runs",
			"use client-auth-method: native"))
		return true
	default:
		b.Report(an.Problem(fmt.Sprintf("client-auth-method %q is not one of native, third-party", an.Str()), ""))
		return false
	}
}

func (cs *clientSecurity) run(c *assembly.Context) error {
	if cs.thirdParty {
		return &assembly.Error{Name: assembly.RuntimeError,
			Message: fmt.Sprintf("client-security: client-auth-method third-party (user-registry %q) is not supported by Portico yet", cs.registry)}
	}
	cred, err := cs.extract(c)
	if err != nil {
		return err
	}
	if cred.ID == "" || (cs.secretRequired && (!cred.HasSecret || cred.Secret == "")) {
		return cs.fail()
	}
	auth := cs.slot.Get()
	if c.Clients != nil {
		auth = catalogApps{c.Clients}
	}
	app, err := auth.AuthenticateClient(c.Ctx, c.API, cred, cs.secretRequired)
	switch {
	case errors.Is(err, ErrInvalidClient):
		return cs.fail()
	case err != nil:
		return &assembly.Error{Name: assembly.RuntimeError, Message: "client-security: checking the client credentials failed", Cause: err}
	}
	return cs.identify(c, cred, app)
}

// fail refuses the request, or with stop-on-error: false lets it go on.
func (cs *clientSecurity) fail() error {
	if !cs.stopOnError {
		return nil
	}
	return &assembly.Error{Name: assembly.UnauthorizedError, Status: http.StatusUnauthorized, Message: csInvalidMessage}
}

// identify sets client.app.* for the application found.
func (cs *clientSecurity) identify(c *assembly.Context, cred ClientCredentials, app *ClientApp) error {
	id := cred.ID
	if app != nil && app.ID != "" {
		id = app.ID
	}
	if err := c.Set(cs.appID, id); err != nil {
		return err
	}
	if app == nil {
		return nil
	}
	if app.Name != "" {
		if err := c.Set(cs.appName, app.Name); err != nil {
			return err
		}
	}
	for k, v := range app.Vars {
		r, err := assembly.ParseRef("client.app." + k)
		if err != nil {
			continue
		}
		if err := c.Set(r, v); err != nil {
			return err
		}
	}
	return nil
}

// extract reads the credentials from where the policy says.
func (cs *clientSecurity) extract(c *assembly.Context) (ClientCredentials, error) {
	var cred ClientCredentials
	var get func(name string) (string, bool)
	switch cs.method {
	case "http":
		return csBasic(c.Request.Headers.Get("Authorization")), nil
	case "context-var":
		return cs.fromVariables(c), nil
	case "header":
		get = func(name string) (string, bool) {
			vs := c.Request.Headers.Values(name)
			return csFirst(vs)
		}
	case "query":
		get = func(name string) (string, bool) { return csFirst(c.Request.Query()[name]) }
	case "cookie":
		get = func(name string) (string, bool) { return csCookie(c.Request.Headers, name) }
	case "form":
		form, err := csForm(c.Request)
		if err != nil {
			return cred, err
		}
		get = func(name string) (string, bool) { return csFirst(form[name]) }
	}
	cred.ID, _ = get(cs.idName)
	if cs.secretName != "" {
		cred.Secret, cred.HasSecret = get(cs.secretName)
	}
	return cred, nil
}

func csFirst(vs []string) (string, bool) {
	if len(vs) == 0 {
		return "", false
	}
	return strings.TrimSpace(vs[0]), true
}

func (cs *clientSecurity) fromVariables(c *assembly.Context) ClientCredentials {
	var cred ClientCredentials
	if v, ok := c.Lookup(*cs.idRef); ok && v != nil {
		cred.ID = strings.TrimSpace(assembly.Stringify(v))
	}
	if cs.secretRef != nil {
		if v, ok := c.Lookup(*cs.secretRef); ok && v != nil {
			cred.Secret, cred.HasSecret = assembly.Stringify(v), true
		}
	}
	return cred
}

// csBasic reads Authorization: Basic base64(id:secret).
func csBasic(h string) ClientCredentials {
	var cred ClientCredentials
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "basic") {
		return cred
	}
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return cred
	}
	id, secret, found := strings.Cut(string(data), ":")
	cred.ID = id
	cred.Secret, cred.HasSecret = secret, found
	return cred
}

func csCookie(h http.Header, name string) (string, bool) {
	for _, line := range h.Values("Cookie") {
		cookies, err := http.ParseCookie(line)
		if err != nil {
			continue
		}
		for _, ck := range cookies {
			if ck.Name == name {
				return ck.Value, true
			}
		}
	}
	return "", false
}

// csMaxFormField bounds one multipart form field read for credentials.
const csMaxFormField = 64 << 10

// csForm parses the request body as a form: URL-encoded or multipart
// (file parts are skipped). The body stays readable for later policies.
func csForm(req *assembly.Request) (url.Values, error) {
	mt, params, err := mime.ParseMediaType(req.Headers.Get("Content-Type"))
	if err != nil || (mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data") {
		return url.Values{}, nil
	}
	data, err := req.Body.Bytes()
	if err != nil {
		return nil, assembly.AsError(err)
	}
	if mt == "application/x-www-form-urlencoded" {
		form, _ := url.ParseQuery(string(data))
		return form, nil
	}
	return csMultipart(data, params["boundary"]), nil
}

func csMultipart(data []byte, boundary string) url.Values {
	form := url.Values{}
	if boundary == "" {
		return form
	}
	r := multipart.NewReader(bytes.NewReader(data), boundary)
	for {
		part, err := r.NextPart()
		if err != nil {
			return form
		}
		if part.FileName() == "" && part.FormName() != "" {
			v, _ := io.ReadAll(io.LimitReader(part, csMaxFormField))
			form.Add(part.FormName(), string(v))
		}
		part.Close()
	}
}

// csMissing is the problem of a required setting that is absent: located
// at the policy's settings, since the field itself has no line.
func csMissing(n apidef.Node, key, msg, hint string) apidef.Problem {
	p := n.Get(key).Problem(msg, hint)
	if p.Line == 0 && n.Y != nil {
		p.Line, p.Column = n.Y.Line, n.Y.Column
	}
	return p
}

// catalogApps authenticates against the apps of the configuration the call
// runs on (consumers.yaml or the manager's apps).
type catalogApps struct{ clients assembly.Clients }

func (a catalogApps) AuthenticateClient(ctx context.Context, _ *assembly.APIInfo, cred ClientCredentials, secretRequired bool) (*ClientApp, error) {
	app, ok := a.clients.Authenticate(ctx, cred.ID, cred.Secret, secretRequired)
	if !ok {
		return nil, ErrInvalidClient
	}
	return &ClientApp{ID: app.ID, Name: app.Name, Vars: map[string]any{"org": map[string]any{"id": app.OrgID, "name": app.Org}}}, nil
}
