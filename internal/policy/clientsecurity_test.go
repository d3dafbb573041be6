package policy

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"mime/multipart"
	"strings"
	"sync"
	"testing"

	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/gatewaytest"
)

// clientAsm is a client-security policy with settings, then a
// set-variable copying client.app.id to a header.
func clientAsm(settings string) string {
	return `
execute:
- client-security:
    version: 2.0.0
    ` + settings + `
- set-variable:
    version: 2.0.0
    actions:
    - set: message.headers.x-app
      value: $(client.app.id)
`
}

func secMultipart(t *testing.T, fields map[string]string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	fw, _ := w.CreateFormFile("upload", "client_id.txt")
	fw.Write([]byte("not this one"))
	w.Close()
	return buf.String(), w.FormDataContentType()
}

func secBasic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

func TestClientSecurityExtract(t *testing.T) {
	mpBody, mpType := secMultipart(t, map[string]string{"client_id": "app-1", "client_secret": "s3cret"})
	cases := []struct {
		name, settings, method, target, body string
		headers                              []string
	}{
		{"header", "id-name: X-IBM-Client-Id\n    secret-name: X-IBM-Client-Secret", "GET", "/sec/things", "",
			[]string{"X-IBM-Client-Id", "app-1", "X-IBM-Client-Secret", "s3cret"}},
		{"header is the default", "id-name: X-Id\n    secret-name: X-Secret", "GET", "/sec/things", "",
			[]string{"x-id", "app-1", "x-secret", "s3cret"}},
		{"query", "extract-credential-method: query\n    id-name: client_id\n    secret-name: client_secret", "GET",
			"/sec/things?client_id=app-1&client_secret=s3cret", "", nil},
		{"form", "extract-credential-method: form\n    id-name: client_id\n    secret-name: client_secret", "POST",
			"/sec/things", "grant_type=x&client_id=app-1&client_secret=s3cret", []string{"Content-Type", "application/x-www-form-urlencoded"}},
		{"multipart form", "extract-credential-method: form\n    id-name: client_id\n    secret-name: client_secret", "POST",
			"/sec/things", mpBody, []string{"Content-Type", mpType}},
		{"cookie", "extract-credential-method: cookie\n    id-name: cid\n    secret-name: csec", "GET", "/sec/things", "",
			[]string{"Cookie", "theme=dark; cid=app-1", "Cookie", "csec=s3cret"}},
		{"http basic", "extract-credential-method: http\n    http-type: basic", "GET", "/sec/things", "",
			[]string{"Authorization", secBasic("app-1", "s3cret")}},
		{"context-var", "extract-credential-method: context-var\n    id-name: my.creds.id\n    secret-name: my.creds.secret", "GET", "/sec/things", "",
			[]string{"X-Creds", "app-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			asm := clientAsm(tc.settings)
			if tc.name == "context-var" {
				asm = strings.Replace(asm, "execute:\n", `execute:
- set-variable:
    version: 2.0.0
    actions:
    - set: my.creds.id
      value: $(request.headers.x-creds)
    - set: my.creds.secret
      value: s3cret
`, 1)
			}
			c, err := secRunDoc(t, secDoc(asm), tc.method, tc.target, tc.body, tc.headers...)
			if err != nil {
				t.Fatal(err)
			}
			if got := varOf(t, c, "client.app.id"); got != "app-1" {
				t.Errorf("client.app.id = %v", got)
			}
			if c.Message.Headers.Get("X-App") != "app-1" {
				t.Errorf("x-app = %q", c.Message.Headers.Get("X-App"))
			}
			if tc.name != "context-var" && strings.Contains(assembly.Stringify(c.Root()["client"]), "s3cret") {
				t.Error("the secret was stored in a context variable")
			}
			if tc.method == "POST" {
				// The body is still there for later policies.
				if data, _ := c.Request.Body.Bytes(); string(data) != tc.body {
					t.Errorf("body consumed: %q", data)
				}
			}
		})
	}
}

func TestClientSecurityRefuses(t *testing.T) {
	header := "id-name: X-Id\n    secret-name: X-Secret"
	cases := []struct {
		name, settings string
		headers        []string
	}{
		{"no id", header, []string{"X-Secret", "s"}},
		{"no secret", header, []string{"X-Id", "app-1"}},
		{"empty secret", header, []string{"X-Id", "app-1", "X-Secret", ""}},
		{"empty id", header, []string{"X-Id", " ", "X-Secret", "s"}},
		{"basic without secret", "extract-credential-method: http", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("app-1"))}},
		{"bearer, not basic", "extract-credential-method: http", []string{"Authorization", "Bearer abc"}},
		{"basic not base64", "extract-credential-method: http", []string{"Authorization", "Basic %%%"}},
		{"form without form", "extract-credential-method: form\n    id-name: id\n    secret-name: s", []string{"Content-Type", "application/json"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := secRunDoc(t, secDoc(clientAsm(tc.settings)), "GET", "/sec/things", `{"id":"x"}`, tc.headers...)
			wantUnauthorizedErr(t, err, "Invalid client id or secret.")
			if e := asmError(t, err); e.Message != "Invalid client id or secret." || e.Policy != "client-security" {
				t.Errorf("error = %+v", e)
			}
			if _, ok := c.Var("client.app.id"); ok {
				t.Error("client.app.id set")
			}
		})
	}
}

func TestClientSecurityOptions(t *testing.T) {
	// secret-required: false needs the ID only.
	c, err := secRunDoc(t, secDoc(clientAsm("secret-required: false\n    id-name: X-Id")), "GET", "/sec/things", "", "X-Id", "app-2")
	if err != nil || varOf(t, c, "client.app.id") != "app-2" {
		t.Fatalf("secret-required false: %v", err)
	}
	// stop-on-error: false lets the flow go on, unidentified.
	c, err = secRunDoc(t, secDoc(clientAsm("stop-on-error: false\n    id-name: X-Id\n    secret-name: X-Secret")), "GET", "/sec/things", "")
	if err != nil {
		t.Fatalf("stop-on-error false: %v", err)
	}
	if _, ok := c.Var("client.app.id"); ok {
		t.Error("client.app.id set")
	}
	// A catch clause names the error.
	c, err = secRunDoc(t, secDoc(clientAsm("id-name: X-Id\n    secret-name: X-Secret")+`
catch:
- errors: [UnauthorizedError]
  execute:
  - set-variable:
      version: 2.0.0
      actions:
      - set: message.body
        value: 'caught $(error.message)'
`), "GET", "/sec/things", "")
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := c.Message.Body.Bytes(); string(body) != "caught Invalid client id or secret." {
		t.Errorf("body = %q", body)
	}
}

// fakeAuthenticator stands for the consumer registry of a later issue.
type fakeAuthenticator struct {
	mu   sync.Mutex
	seen []ClientCredentials
}

func (f *fakeAuthenticator) AuthenticateClient(_ context.Context, api *assembly.APIInfo, cred ClientCredentials, secretRequired bool) (*ClientApp, error) {
	f.mu.Lock()
	f.seen = append(f.seen, cred)
	f.mu.Unlock()
	switch {
	case cred.ID == "broken":
		return nil, errors.New("registry down")
	case cred.ID != "app-1" || (secretRequired && cred.Secret != "right"):
		return nil, ErrInvalidClient
	}
	return &ClientApp{ID: "app-1", Name: "App One", Vars: map[string]any{"lifecycle-state": "PRODUCTION"}}, nil
}

func TestClientSecurityAuthenticator(t *testing.T) {
	env := &assembly.Env{}
	fake := &fakeAuthenticator{}
	ClientAuthenticatorFor(env).Set(fake)
	a, api, _ := secCompileDoc(t, secDoc(clientAsm("extract-credential-method: http")), env)
	call := func(id, secret string) (*assembly.Context, error) {
		c := secContext(t, api, "GET", "/sec/things", "", "Authorization", secBasic(id, secret))
		return c, a.Run(c)
	}
	c, err := call("app-1", "right")
	if err != nil {
		t.Fatal(err)
	}
	if varOf(t, c, "client.app.name") != "App One" || varOf(t, c, "client.app.lifecycle-state") != "PRODUCTION" {
		t.Errorf("client.app = %v", c.Root()["client"])
	}
	if fake.seen[0].Secret != "right" || !fake.seen[0].HasSecret {
		t.Errorf("credentials = %+v", fake.seen[0])
	}
	_, err = call("app-1", "wrong")
	wantUnauthorizedErr(t, err, "Invalid client id or secret.")
	_, err = call("broken", "x")
	if e := asmError(t, err); e.Name != assembly.RuntimeError || e.Message != "client-security: checking the client credentials failed" {
		t.Errorf("error = %s %q", e.Name, e.Message)
	}

	// Installed after the load, a new authenticator is used at once.
	ClientAuthenticatorFor(env).Set(nil)
	if _, err := call("anyone", "anything"); err != nil {
		t.Errorf("AcceptAnyClient: %v", err)
	}
}

func TestClientSecurityProblems(t *testing.T) {
	cases := []struct {
		name, settings, at, msg string
		warn                    bool
	}{
		{"method", "extract-credential-method: ldap", "extract-credential-method:", `"ldap" is not one of`, false},
		{"no id-name", "secret-name: X-Secret", "version: 2.0.0", "needs id-name: the header", false},
		{"no secret-name", "extract-credential-method: query\n    id-name: id", "version: 2.0.0", "needs secret-name", false},
		{"http-type", "extract-credential-method: http\n    http-type: digest", "http-type:", `http-type "digest" is not supported`, false},
		{"auth method", "id-name: a\n    secret-name: b\n    client-auth-method: oauth", "client-auth-method:", `"oauth" is not one of`, false},
		{"stop-on-error", "id-name: a\n    secret-name: b\n    stop-on-error: sometimes", "stop-on-error:", "true or false", false},
		{"third-party", "extract-credential-method: http\n    client-auth-method: third-party\n    user-registry: corp-ldap", "client-auth-method:", "third-party is not supported", true},
		{"context-var name", "extract-credential-method: context-var\n    id-name: a..b\n    secret-required: false", "id-name:", "empty part", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, ps := secProblems(t, `
execute:
- client-security:
    version: 2.0.0
    `+tc.settings+`
`)
			secWantProblem(t, doc, ps, tc.warn, tc.at, tc.msg)
		})
	}
	// third-party fails when it runs.
	_, err := secRunDoc(t, secDoc(clientAsm("extract-credential-method: http\n    client-auth-method: third-party\n    user-registry: corp-ldap")),
		"GET", "/sec/things", "", "Authorization", secBasic("a", "b"))
	if e := asmError(t, err); e.Name != assembly.RuntimeError || !strings.Contains(e.Message, `user-registry "corp-ldap"`) {
		t.Errorf("error = %s %q", e.Name, e.Message)
	}
}

func TestClientSecurityHTTP(t *testing.T) {
	echo := `
- set-variable:
    version: 2.0.0
    actions:
    - set: message.headers.x-app
      value: $(client.app.id)
    - set: message.body
      value: hello $(client.app.id)
`
	api := securityAPI(map[string]string{
		"hdr": `
- client-security:
    version: 2.0.0
    id-name: X-IBM-Client-Id
    secret-name: X-IBM-Client-Secret
` + echo,
		"basic": `
- client-security:
    version: 2.0.0
    extract-credential-method: http
    http-type: basic
` + echo,
		"query": `
- client-security:
    version: 2.0.0
    extract-credential-method: query
    secret-required: false
    id-name: client_id
` + echo,
	}, "")
	// The app the credentials name is registered in consumers.yaml (its
	// secret, "s", stored as a hash): client-security checks against it.
	consumers := "consumer-orgs:\n  - name: org9\n    apps:\n      - name: app9\n        credentials:\n          - client-id: app-9\n            client-secret-hash: '$argon2id$v=19$m=19456,t=2,p=1$dwVBoqIIogS5uXaNSeRnQA$SQR8Gr2pHePIFcXnj5ifeKVJxMw36dBVYEL7q9xxFiI'\n"
	srv := secGateway(t, &assembly.Env{}, map[string]string{"jwt.yaml": api, "consumers.yaml": consumers})
	base := srv.URL + "/local/sandbox/jwt/"
	ok := []struct {
		path    string
		headers []string
	}{
		{"hdr", []string{"X-IBM-Client-Id", "app-9", "X-IBM-Client-Secret", "s"}},
		{"basic", []string{"Authorization", secBasic("app-9", "s")}},
		{"query?client_id=app-9", nil},
	}
	for _, tc := range ok {
		r := gatewaytest.Call(t, "GET", base+tc.path, "", tc.headers...)
		if r.Status != 200 || r.Body != "hello app-9" || r.Header.Get("X-App") != "app-9" {
			t.Errorf("%s: %d %q", tc.path, r.Status, r.Body)
		}
		if r.Header.Get("X-IBM-Client-Secret") != "" || r.Header.Get("Authorization") != "" {
			t.Errorf("%s: credentials echoed to the client", tc.path)
		}
	}
	// An unregistered app is refused.
	if r := gatewaytest.Call(t, "GET", base+"hdr", "", "X-IBM-Client-Id", "app-10", "X-IBM-Client-Secret", "s"); r.Status != 401 {
		t.Errorf("unregistered app: %d %q", r.Status, r.Body)
	}
	// The ID alone: hdr lacks the secret, basic and query the ID itself.
	for _, path := range []string{"hdr", "basic", "query"} {
		r := gatewaytest.Call(t, "GET", base+path, "", "X-IBM-Client-Id", "app-9")
		e := errorBody(t, r)
		if r.Status != 401 || e["httpCode"] != "401" || e["httpMessage"] != "Unauthorized" || e["moreInformation"] != "Invalid client id or secret." {
			t.Errorf("%s: %d %q", path, r.Status, r.Body)
		}
	}
}
