package policy

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/gatewaytest"
	"github.com/portico-api/portico/internal/policy/lambda"
	"github.com/portico-api/portico/internal/policy/lambda/fakeaws"
)

// End-to-end tests of aws-lambda: a bundle (catalog.yaml and an API) is
// served by the real gateway over HTTP, and the policy calls local fakes of
// STS and Lambda that verify every SigV4 signature. Nothing reaches AWS.

const (
	lambdaRegion  = "us-east-1"
	lambdaAccount = "123456789012"
	lambdaOrgID   = "ac51909e-a379-4153-a0e8-ef4a25a83405"
	gatewayKeyID  = "AKIAGATEWAY0000001"
	gatewaySecret = "gateway/Secret+Key0001"
	callerKeyID   = "AKIACALLER00000001"
	callerSecret  = "caller/Secret+Key0002"
)

// slIsolateAWS makes the SDK see only what the test gives it: the gateway's
// static keys in the environment (empty for none), no shared config files,
// no instance metadata, no endpoint overrides.
func slIsolateAWS(t *testing.T, keyID, secret string) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": keyID, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": "",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"), "AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "",
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_ROLE_ARN": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_STS": "", "AWS_ENDPOINT_URL_LAMBDA": "",
	} {
		t.Setenv(k, v)
	}
}

// lambdaWorld is a fake AWS account with the gateway's user, an API
// caller's user, a role that trusts the gateway with the org's external ID,
// and an echo function.
type lambdaWorld struct {
	acct    *fakeaws.Account
	srv     *fakeaws.Servers
	gateway fakeaws.Identity
	caller  fakeaws.Identity
	role    string
}

func newLambdaWorld(t *testing.T) *lambdaWorld {
	t.Helper()
	slIsolateAWS(t, gatewayKeyID, gatewaySecret)
	w := &lambdaWorld{acct: fakeaws.New(lambdaAccount, lambdaRegion)}
	w.gateway = w.acct.AddUser("portico-gateway", gatewayKeyID, gatewaySecret)
	w.caller = w.acct.AddUser("lambda-caller", callerKeyID, callerSecret)
	w.role = w.acct.AddRole("apic-lambda", fakeaws.Role{TrustedARNs: []string{w.gateway.ARN}, ExternalID: lambdaOrgID})
	w.acct.AddFunction("echo", fakeaws.Function{Callers: []string{w.role, w.caller.ARN}, Qualifiers: []string{"prod"}})
	w.srv = w.acct.Serve()
	t.Cleanup(w.srv.Close)
	return w
}

// catalog is the catalog.yaml that points the policy at the fakes through
// catalog properties, and holds the caller's keys.
func (w *lambdaWorld) catalog() string {
	return fmt.Sprintf(`org: acme
org-id: %s
catalog: sandbox
properties:
  sts-endpoint: %s
  lambda-endpoint: %s
  lambda-key-id: %s
  lambda-secret: %s
  role: %s
`, lambdaOrgID, w.srv.STS.URL, w.srv.Lambda.URL, callerKeyID, callerSecret, w.role)
}

// lambdaAPI is an API at /lambda whose operations run asm (written from
// column 0, starting with `execute:`).
func lambdaAPI(asm string) string {
	var b strings.Builder
	b.WriteString(`swagger: "2.0"
info: {title: Lambda, x-ibm-name: lambda, version: 1.0.0}
basePath: /lambda
paths:
  /echo:
    post: {responses: {"200": {description: ok}}}
  /items/{id}:
    post:
      parameters: [{name: id, in: path, required: true, type: string}]
      responses: {"200": {description: ok}}
x-ibm-configuration:
  gateway: datapower-api-gateway
  assembly:
`)
	for _, line := range strings.Split(strings.Trim(asm, "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

// slServeBundle writes files to a temp folder and serves it with a fresh
// Env (so a fresh client pool that sees the test's environment).
func slServeBundle(t *testing.T, files map[string]string) *httptest.Server {
	t.Helper()
	return slServeDir(t, gatewaytest.WriteFiles(t, files), &assembly.Env{})
}

// slServeDir loads a bundle folder into the gateway behind an HTTP server.
func slServeDir(t *testing.T, dir string, env *assembly.Env) *httptest.Server {
	t.Helper()
	return gatewaytest.Serve(t, dir, Builtins(), env, quietGateway)
}

const slRoleAssembly = `execute:
  - aws-lambda:
      version: 1.0.0
      title: lambda
      function_name: echo
      aws_region: us-east-1
      aws_assume_role_arn: $(role)
      aws_sts_endpoint: $(sts-endpoint)
      aws_lambda_endpoint: $(lambda-endpoint)
`

func TestAWSLambdaAssumeRole(t *testing.T) {
	w := newLambdaWorld(t)
	gw := slServeBundle(t, map[string]string{"catalog.yaml": w.catalog(), "api.yaml": lambdaAPI(slRoleAssembly)})
	url := gw.URL + "/acme/sandbox/lambda/echo"
	for i := range 3 {
		body := fmt.Sprintf(`{"n":%d}`, i)
		r := gatewaytest.Call(t, "POST", url, body, "Content-Type", "application/json")
		if r.Status != 200 || r.Body != body || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("call %d: got %d %q %v (rejections %v)", i, r.Status, r.Body, r.Header, w.acct.Rejections())
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := gatewaytest.Call(t, "POST", url, `{}`); r.Status != 200 {
				t.Errorf("concurrent call: %d %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()

	calls := w.acct.AssumeRoleCalls()
	if len(calls) != 1 {
		t.Fatalf("want 1 AssumeRole for 11 calls (credentials cached and shared), got %d", len(calls))
	}
	c := calls[0]
	if c.ExternalID != lambdaOrgID || c.RoleARN != w.role || c.Caller.ARN != w.gateway.ARN ||
		c.SessionName != "portico-"+lambdaOrgID || c.DurationSeconds != "900" {
		t.Errorf("AssumeRole call: %+v", c)
	}
	invs := w.acct.Invocations()
	if len(invs) != 11 {
		t.Fatalf("want 11 invocations, got %d", len(invs))
	}
	for _, inv := range invs {
		if inv.Caller.RoleARN != w.role || !w.acct.Issued(inv.Caller.SessionToken) ||
			inv.Caller.SessionToken != invs[0].Caller.SessionToken || inv.InvocationType != "RequestResponse" {
			t.Fatalf("invocation not signed with the STS session: %+v", inv.Caller)
		}
	}
}

// TestAWSLambdaRefreshesCredentials: credentials that expire within the
// refresh window are fetched anew; each call then signs with the newest.
func TestAWSLambdaRefreshesCredentials(t *testing.T) {
	w := newLambdaWorld(t)
	w.acct.TokenTTL = 30 * time.Second // inside the one-minute refresh window
	gw := slServeBundle(t, map[string]string{"catalog.yaml": w.catalog(), "api.yaml": lambdaAPI(slRoleAssembly)})
	for range 3 {
		if r := gatewaytest.Call(t, "POST", gw.URL+"/acme/sandbox/lambda/echo", `{}`); r.Status != 200 {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	}
	if n := len(w.acct.AssumeRoleCalls()); n != 3 {
		t.Fatalf("want a refresh per call for credentials about to expire, got %d AssumeRole calls", n)
	}
	invs := w.acct.Invocations()
	if invs[0].Caller.SessionToken == invs[2].Caller.SessionToken {
		t.Errorf("the refreshed session was not used")
	}
}

func TestAWSLambdaAccessKeys(t *testing.T) {
	w := newLambdaWorld(t)
	asm := `execute:
  - aws-lambda:
      version: 1.0.0
      function_name: echo
      qualifier: prod
      aws_region: us-east-1
      aws_access_key_id: $(lambda-key-id)
      aws_secret_access_key: $(lambda-secret)
      aws_sts_endpoint: $(sts-endpoint)
      aws_lambda_endpoint: $(lambda-endpoint)
`
	gw := slServeBundle(t, map[string]string{"catalog.yaml": w.catalog(), "api.yaml": lambdaAPI(asm)})
	r := gatewaytest.Call(t, "POST", gw.URL+"/acme/sandbox/lambda/echo", "plain text")
	if r.Status != 200 || r.Body != `"plain text"` {
		t.Fatalf("got %d %q (a text body goes as a JSON string)", r.Status, r.Body)
	}
	if n := len(w.acct.AssumeRoleCalls()); n != 0 {
		t.Errorf("access keys need no STS, got %d AssumeRole calls", n)
	}
	inv := w.acct.Invocations()[0]
	if inv.Caller.ARN != w.caller.ARN || inv.Caller.SessionToken != "" || inv.Qualifier != "prod" {
		t.Errorf("invocation: caller %+v qualifier %q", inv.Caller, inv.Qualifier)
	}
	if strings.Contains(r.Body, callerSecret) {
		t.Error("the secret was echoed")
	}
}

// TestAWSLambdaGatewayCredentials: with neither a role nor keys, the
// gateway's own credentials (here from the environment) call Lambda.
func TestAWSLambdaGatewayCredentials(t *testing.T) {
	w := newLambdaWorld(t)
	w.acct.AddFunction("open", fakeaws.Function{})
	asm := `execute:
  - aws-lambda:
      version: 1.0.0
      function_name: open
      aws_region: us-east-1
      aws_lambda_endpoint: $(lambda-endpoint)
`
	gw := slServeBundle(t, map[string]string{"catalog.yaml": w.catalog(), "api.yaml": lambdaAPI(asm)})
	if r := gatewaytest.Call(t, "POST", gw.URL+"/acme/sandbox/lambda/echo", `[1,2]`); r.Status != 200 || r.Body != `[1,2]` {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
	if inv := w.acct.Invocations()[0]; inv.Caller.ARN != w.gateway.ARN {
		t.Errorf("caller %s, want the gateway's own identity", inv.Caller.ARN)
	}
}

// TestAWSLambdaEndpointsFromEnvironment: without endpoint settings in the
// policy, the SDK's standard variables point it at the fakes.
func TestAWSLambdaEndpointsFromEnvironment(t *testing.T) {
	w := newLambdaWorld(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", w.srv.STS.URL)
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", w.srv.Lambda.URL)
	asm := `execute:
  - aws-lambda:
      version: 1.0.0
      function_name: echo
      aws_region: us-east-1
      aws_assume_role_arn: $(role)
`
	gw := slServeBundle(t, map[string]string{"catalog.yaml": w.catalog(), "api.yaml": lambdaAPI(asm)})
	if r := gatewaytest.Call(t, "POST", gw.URL+"/acme/sandbox/lambda/echo", `{"env":true}`); r.Status != 200 || r.Body != `{"env":true}` {
		t.Fatalf("got %d %s (rejections %v)", r.Status, r.Body, w.acct.Rejections())
	}
	if len(w.acct.AssumeRoleCalls()) != 1 || len(w.acct.Invocations()) != 1 {
		t.Errorf("the fakes were not called through the environment's endpoints")
	}
}

func TestAWSLambdaInvocationTypes(t *testing.T) {
	w := newLambdaWorld(t)
	asm := `execute:
  - aws-lambda:
      version: 1.0.0
      function_name: echo
      aws_region: us-east-1
      aws_assume_role_arn: $(role)
      invocation_type: $(request.headers.x-type)
      aws_sts_endpoint: $(sts-endpoint)
      aws_lambda_endpoint: $(lambda-endpoint)
`
	// invocation_type is fixed at load time: check each type in its own API.
	for _, tc := range []struct {
		typ    string
		status int
	}{{"Event", 202}, {"DryRun", 204}, {"request-response", 200}} {
		gw := slServeBundle(t, map[string]string{"catalog.yaml": w.catalog(),
			"api.yaml": lambdaAPI(strings.Replace(asm, "$(request.headers.x-type)", tc.typ, 1))})
		r := gatewaytest.Call(t, "POST", gw.URL+"/acme/sandbox/lambda/echo", `{"x":1}`)
		if r.Status != tc.status {
			t.Errorf("%s: got %d %s", tc.typ, r.Status, r.Body)
		}
		invs := w.acct.Invocations()
		if got := invs[len(invs)-1].InvocationType; !strings.EqualFold(strings.ReplaceAll(tc.typ, "-", ""), got) {
			t.Errorf("%s: Lambda saw X-Amz-Invocation-Type %q", tc.typ, got)
		}
	}
}

// slProxyEvent is the part of the proxy event the test function checks.
type slProxyEvent struct {
	Resource              string              `json:"resource"`
	Path                  string              `json:"path"`
	HTTPMethod            string              `json:"httpMethod"`
	Headers               map[string]string   `json:"headers"`
	MultiValueHeaders     map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters map[string]string   `json:"queryStringParameters"`
	PathParameters        map[string]string   `json:"pathParameters"`
	StageVariables        map[string]string   `json:"stageVariables"`
	Body                  *string             `json:"body"`
	IsBase64Encoded       bool                `json:"isBase64Encoded"`
	RequestContext        struct {
		Stage        string `json:"stage"`
		Path         string `json:"path"`
		ResourcePath string `json:"resourcePath"`
		HTTPMethod   string `json:"httpMethod"`
		RequestID    string `json:"requestId"`
		Identity     struct {
			SourceIP string `json:"sourceIp"`
		} `json:"identity"`
	} `json:"requestContext"`
}

// slProxyFunction answers as an API Gateway proxy function, and records
// the events it got.
func slProxyFunction(events *[]slProxyEvent, mu *sync.Mutex) func(fakeaws.Invocation) ([]byte, *fakeaws.Failure) {
	return func(inv fakeaws.Invocation) ([]byte, *fakeaws.Failure) {
		var ev slProxyEvent
		if err := json.Unmarshal(inv.Payload, &ev); err != nil {
			return nil, &fakeaws.Failure{Type: "SyntaxError", Message: err.Error()}
		}
		mu.Lock()
		*events = append(*events, ev)
		mu.Unlock()
		switch ev.QueryStringParameters["answer"] {
		case "binary":
			return []byte(`{"statusCode": 200, "headers": {"Content-Type": "image/png"}, "isBase64Encoded": true, "body": "` +
				base64.StdEncoding.EncodeToString([]byte{0x89, 'P', 'N', 'G'}) + `"}`), nil
		case "malformed":
			return []byte(`{"hello": "world"}`), nil
		}
		return []byte(`{"statusCode": 201, "headers": {"X-Fn": "yes", "Set-Cookie": "lost=1"},
			"multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": "created ` + ev.PathParameters["id"] + `"}`), nil
	}
}

func TestAWSLambdaProxyPayload(t *testing.T) {
	w := newLambdaWorld(t)
	var events []slProxyEvent
	var mu sync.Mutex
	w.acct.AddFunction("proxy", fakeaws.Function{Handler: slProxyFunction(&events, &mu), Callers: []string{w.role}})
	asm := strings.Replace(slRoleAssembly, "function_name: echo", "function_name: proxy\n      payload: apigw-proxy", 1)
	gw := slServeBundle(t, map[string]string{"catalog.yaml": w.catalog(), "api.yaml": lambdaAPI(asm)})
	base := gw.URL + "/acme/sandbox/lambda"

	r := gatewaytest.Call(t, "POST", base+"/items/42?q=x&q=y", `{"item":"tea"}`, "X-Test", "one", "Content-Type", "application/json")
	if r.Status != 201 || r.Body != "created 42" || r.Header.Get("X-Fn") != "yes" ||
		strings.Join(r.Header.Values("Set-Cookie"), ",") != "a=1,b=2" || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("proxy answer mapped to %d %q %v", r.Status, r.Body, r.Header)
	}
	ev := events[0]
	if ev.HTTPMethod != "POST" || ev.Path != "/items/42" || ev.Resource != "/items/{id}" || ev.PathParameters["id"] != "42" ||
		ev.QueryStringParameters["q"] != "y" || ev.Headers["X-Test"] != "one" || ev.Headers["Host"] == "" ||
		ev.Body == nil || *ev.Body != `{"item":"tea"}` || ev.IsBase64Encoded || ev.StageVariables != nil {
		t.Errorf("event: %+v", ev)
	}
	rc := ev.RequestContext
	if rc.Stage != "sandbox" || rc.Path != "/acme/sandbox/lambda/items/42" || rc.ResourcePath != "/items/{id}" ||
		rc.HTTPMethod != "POST" || rc.RequestID == "" || rc.Identity.SourceIP != "127.0.0.1" {
		t.Errorf("requestContext: %+v", rc)
	}

	r = gatewaytest.Call(t, "POST", base+"/items/7?answer=binary", "\xff\xfe")
	if r.Status != 200 || r.Body != "\x89PNG" || r.Header.Get("Content-Type") != "image/png" {
		t.Errorf("base64 answer mapped to %d %q %v", r.Status, r.Body, r.Header)
	}
	if ev := events[1]; !ev.IsBase64Encoded || ev.Body == nil || *ev.Body != base64.StdEncoding.EncodeToString([]byte("\xff\xfe")) {
		t.Errorf("a binary body must go base64: %+v", ev)
	}

	r = gatewaytest.Call(t, "POST", base+"/items/7?answer=malformed", "")
	if r.Status != 502 || !strings.Contains(r.Body, "statusCode") {
		t.Errorf("malformed proxy answer: got %d %s", r.Status, r.Body)
	}
}

// slErrorAssembly picks the function and role by request header, and
// catches each error by name, answering with its name and message.
const slErrorAssembly = `execute:
  - aws-lambda:
      version: 1.0.0
      function_name: $(request.headers.x-function)
      aws_region: us-east-1
      aws_assume_role_arn: $(request.headers.x-role)
      aws_sts_endpoint: $(sts-endpoint)
      aws_lambda_endpoint: $(request.headers.x-lambda)
catch:
  - errors: [LambdaFunctionError, LambdaNotFoundError, LambdaThrottledError, LambdaAccessDeniedError,
      LambdaAssumeRoleError, LambdaCredentialsError, ConnectionError]
    execute:
      - set-variable:
          version: 2.0.0
          actions:
            - set: message.headers.x-error
              value: $(error.name)
              type: string
            - set: message.body
              value: $(error.message)
              type: string
`

func TestAWSLambdaErrors(t *testing.T) {
	w := newLambdaWorld(t)
	w.acct.AddFunction("boom", fakeaws.Function{Callers: []string{w.role}, Handler: func(fakeaws.Invocation) ([]byte, *fakeaws.Failure) {
		return nil, &fakeaws.Failure{Type: "Error", Message: "boom: the disk is full", Unhandled: true}
	}})
	w.acct.AddFunction("busy", fakeaws.Function{Callers: []string{w.role}, Throttled: true})
	w.acct.AddFunction("private", fakeaws.Function{Callers: []string{w.caller.ARN}})
	otherRole := w.acct.AddRole("other-org", fakeaws.Role{TrustedARNs: []string{w.gateway.ARN}, ExternalID: "another-org-id"})
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	gw := slServeBundle(t, map[string]string{"catalog.yaml": w.catalog(), "api.yaml": lambdaAPI(slErrorAssembly)})
	for _, tc := range []struct {
		name, function, role, lambda string
		status                       int
		errName                      string
		says                         []string
	}{
		{"function error", "boom", w.role, "", 502, "LambdaFunctionError", []string{"boom", "Unhandled", "the disk is full"}},
		{"not found", "nope", w.role, "", 500, "LambdaNotFoundError", []string{"nope", "not found", "us-east-1"}},
		{"bad qualifier", "echo:staging", w.role, "", 500, "LambdaNotFoundError", []string{"echo:staging"}},
		{"throttled", "busy", w.role, "", 429, "LambdaThrottledError", []string{"throttled", "busy"}},
		{"access denied", "private", w.role, "", 500, "LambdaAccessDeniedError", []string{"AccessDeniedException", "lambda:InvokeFunction"}},
		{"STS refuses the role", "echo", otherRole, "", 500, "LambdaAssumeRoleError",
			[]string{otherRole, "trust policy", "sts:ExternalId", lambdaOrgID, "AccessDenied"}},
		{"Lambda unreachable", "echo", w.role, closed.URL, 500, "ConnectionError", []string{"could not connect", "Lambda"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lam := tc.lambda
			if lam == "" {
				lam = w.srv.Lambda.URL
			}
			r := gatewaytest.Call(t, "POST", gw.URL+"/acme/sandbox/lambda/echo", `{}`, "X-Function", tc.function, "X-Role", tc.role, "X-Lambda", lam)
			if r.Status != tc.status || r.Header.Get("X-Error") != tc.errName {
				t.Fatalf("got %d %q %q, want %d %s", r.Status, r.Header.Get("X-Error"), r.Body, tc.status, tc.errName)
			}
			for _, s := range tc.says {
				if !strings.Contains(r.Body, s) {
					t.Errorf("message %q does not say %q", r.Body, s)
				}
			}
			for _, secret := range []string{gatewaySecret, callerSecret, "session-"} {
				if strings.Contains(r.Body, secret) {
					t.Errorf("message %q gives away a secret", r.Body)
				}
			}
		})
	}
	// STS is not asked again at once after refusing.
	before := len(w.acct.AssumeRoleCalls())
	gatewaytest.Call(t, "POST", gw.URL+"/acme/sandbox/lambda/echo", `{}`, "X-Function", "echo", "X-Role", otherRole, "X-Lambda", w.srv.Lambda.URL)
	if after := len(w.acct.AssumeRoleCalls()); after != before {
		t.Errorf("a refusal was not remembered: %d more AssumeRole calls", after-before)
	}
}

// TestAWSLambdaUncaughtFunctionError: left uncaught, a function error is a
// 502 in API Connect's error shape.
func TestAWSLambdaUncaughtFunctionError(t *testing.T) {
	w := newLambdaWorld(t)
	w.acct.AddFunction("boom", fakeaws.Function{Callers: []string{w.role}, Handler: func(fakeaws.Invocation) ([]byte, *fakeaws.Failure) {
		return nil, &fakeaws.Failure{Type: "TypeError", Message: "x is undefined"}
	}})
	asm := strings.Replace(slRoleAssembly, "function_name: echo", "function_name: boom", 1)
	gw := slServeBundle(t, map[string]string{"catalog.yaml": w.catalog(), "api.yaml": lambdaAPI(asm)})
	r := gatewaytest.Call(t, "POST", gw.URL+"/acme/sandbox/lambda/echo", `{}`)
	var shape struct{ HTTPCode, HTTPMessage, MoreInformation string }
	json.Unmarshal([]byte(r.Body), &shape)
	if r.Status != 502 || shape.HTTPCode != "502" || !strings.Contains(shape.MoreInformation, "TypeError: x is undefined") ||
		!strings.Contains(shape.MoreInformation, "Handled") {
		t.Errorf("got %d %s", r.Status, r.Body)
	}
}

// TestAWSLambdaNoGatewayCredentials: a role with no gateway credentials to
// assume it with is a LambdaCredentialsError that says where they come from.
func TestAWSLambdaNoGatewayCredentials(t *testing.T) {
	w := newLambdaWorld(t)
	slIsolateAWS(t, "", "")
	gw := slServeBundle(t, map[string]string{"catalog.yaml": w.catalog(), "api.yaml": lambdaAPI(slErrorAssembly)})
	r := gatewaytest.Call(t, "POST", gw.URL+"/acme/sandbox/lambda/echo", `{}`, "X-Function", "echo", "X-Role", w.role, "X-Lambda", w.srv.Lambda.URL)
	if r.Status != 500 || r.Header.Get("X-Error") != "LambdaCredentialsError" || !strings.Contains(r.Body, "AWS_ACCESS_KEY_ID") {
		t.Fatalf("got %d %q %s", r.Status, r.Header.Get("X-Error"), r.Body)
	}
	if len(w.acct.AssumeRoleCalls()) != 0 {
		t.Error("STS was called without credentials")
	}
}

// TestAWSLambdaSharedAcrossReloads: a reload with the same Env reuses the
// client and its cached credentials.
func TestAWSLambdaSharedAcrossReloads(t *testing.T) {
	w := newLambdaWorld(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "catalog.yaml"), []byte(w.catalog()), 0o644)
	os.WriteFile(filepath.Join(dir, "api.yaml"), []byte(lambdaAPI(slRoleAssembly)), 0o644)
	env := &assembly.Env{}
	for range 2 {
		gw := slServeDir(t, dir, env)
		if r := gatewaytest.Call(t, "POST", gw.URL+"/acme/sandbox/lambda/echo", `{}`); r.Status != 200 {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	}
	if n := len(w.acct.AssumeRoleCalls()); n != 1 {
		t.Errorf("want the reloaded configuration to reuse the credentials, got %d AssumeRole calls", n)
	}
}

// lambdaProblems compiles an API whose assembly is asm and returns the
// problems found.
func lambdaProblems(t *testing.T, asm string) apidef.Problems {
	t.Helper()
	d, err := apidef.Parse("lambda.yaml", []byte(lambdaAPI(asm)))
	if err != nil {
		t.Fatal(err)
	}
	api, ps := apidef.LoadAPI(d)
	if len(ps.Errors()) > 0 {
		t.Fatalf("load: %v", ps)
	}
	env := &assembly.Env{}
	env.Resource(lambda.PoolKey, func() any { return lambda.NewPool(lambda.Options{}) })
	_, ps = assembly.CompileAPI(Builtins(), api, env, "")
	return ps
}

func TestAWSLambdaSettings(t *testing.T) {
	for _, tc := range []struct {
		name, settings string
		errs, warns    []string
	}{
		{"minimal", "function_name: echo\naws_region: us-east-1", nil, nil},
		{"missing function", "aws_region: us-east-1", []string{"needs function_name"}, nil},
		{"missing region", "function_name: echo", []string{"needs aws_region"}, nil},
		{"bad role", "function_name: echo\naws_region: us-east-1\naws_assume_role_arn: my-role", []string{"aws_assume_role_arn"}, nil},
		{"bad function", "function_name: 'no spaces please'\naws_region: us-east-1", []string{"function_name"}, nil},
		{"half a key pair", "function_name: echo\naws_region: us-east-1\naws_access_key_id: AKIAAAAAAAAAAAAAAAAA", []string{"both"}, nil},
		{"inline secret", "function_name: echo\naws_region: us-east-1\naws_access_key_id: AKIAAAAAAAAAAAAAAAAA\naws_secret_access_key: abc",
			nil, []string{"secret access key is written in the API"}},
		{"bad invocation type", "function_name: echo\naws_region: us-east-1\ninvocation_type: later", []string{"invocation_type"}, nil},
		{"bad payload", "function_name: echo\naws_region: us-east-1\npayload: xml", []string{"payload"}, nil},
		{"bad endpoint", "function_name: echo\naws_region: us-east-1\naws_lambda_endpoint: localhost:4566", []string{"aws_lambda_endpoint"}, nil},
		{"unknown setting", "function_name: echo\naws_region: us-east-1\naws_role: x", nil, []string{`no setting "aws_role"`}},
		{"templates", "function_name: $(fn)\naws_region: $(region)\naws_assume_role_arn: $(role)\nqualifier: $(q)\ntimeout: 5", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var settings strings.Builder
			for _, line := range strings.Split(tc.settings, "\n") {
				settings.WriteString("      " + line + "\n")
			}
			ps := lambdaProblems(t, "execute:\n  - aws-lambda:\n      version: 1.0.0\n"+settings.String())
			slCheckProblems(t, "error", ps.Errors(), tc.errs)
			slCheckProblems(t, "warning", ps.Warnings(), tc.warns)
			for _, p := range ps {
				if p.File != "lambda.yaml" || p.Line == 0 {
					t.Errorf("problem not located: %v", p)
				}
			}
		})
	}
}

func slCheckProblems(t *testing.T, kind string, got apidef.Problems, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("want %d %ss %q, got %v", len(want), kind, want, got)
	}
	for i, w := range want {
		if !strings.Contains(got[i].Msg, w) {
			t.Errorf("%s %q does not mention %q", kind, got[i].Msg, w)
		}
	}
}

// TestAWSLambdaCorpus: the real API Connect Lambda API of the shared corpus
// validates with no problem, as `portico validate` sees it.
func TestAWSLambdaCorpus(t *testing.T) {
	file := filepath.Join("..", "..", "..", "shared", "corpus", "apic", "ibm-apiconnect__quick-check__templates__lambda.yaml")
	if _, err := os.Stat(file); err != nil {
		t.Skipf("corpus not found (it lives beside the repository, in shared/corpus/apic): %v", err)
	}
	r := bundle.CheckFile(file, Builtins())
	if r.Kind != apidef.KindAPI || len(r.Problems) > 0 {
		t.Fatalf("kind %v, problems:\n%v", r.Kind, r.Problems)
	}
}

// TestAWSLambdaCorpusRuns serves the corpus's Lambda API as it is, against
// fakes of its AWS account reached through the SDK's endpoint variables.
func TestAWSLambdaCorpusRuns(t *testing.T) {
	src := filepath.Join("..", "..", "..", "shared", "corpus", "apic", "ibm-apiconnect__quick-check__templates__lambda.yaml")
	api, err := os.ReadFile(src)
	if err != nil {
		t.Skipf("corpus not found (it lives beside the repository, in shared/corpus/apic): %v", err)
	}
	slIsolateAWS(t, gatewayKeyID, gatewaySecret)
	acct := fakeaws.New("258263412479", "us-east-1")
	gw := acct.AddUser("portico-gateway", gatewayKeyID, gatewaySecret)
	role := acct.AddRole("APIC-Cloud-lambda", fakeaws.Role{TrustedARNs: []string{gw.ARN}, ExternalID: lambdaOrgID})
	acct.AddFunction("echo", fakeaws.Function{Callers: []string{role}})
	srv := acct.Serve()
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL", srv.STS.URL) // both services: the fakes share one account
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", srv.Lambda.URL)
	g := slServeBundle(t, map[string]string{"api.yaml": string(api),
		"catalog.yaml": "org: acme\norg-id: " + lambdaOrgID + "\ncatalog: sandbox\n"})
	r := gatewaytest.Call(t, "GET", g.URL+"/acme/sandbox/publish-test/", "")
	if r.Status != 200 || r.Body != `"RESPONSE"` {
		t.Fatalf("got %d %s (rejections %v)", r.Status, r.Body, acct.Rejections())
	}
	if calls := acct.AssumeRoleCalls(); len(calls) != 1 || calls[0].RoleARN != role || calls[0].ExternalID != lambdaOrgID {
		t.Errorf("AssumeRole calls: %+v", calls)
	}
}

// TestAWSLambdaTimeout: a function slower than timeout is a ConnectionError
// answering 504, as invoke's timeouts are.
func TestAWSLambdaTimeout(t *testing.T) {
	w := newLambdaWorld(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the fake servers close
	w.acct.AddFunction("slow", fakeaws.Function{Callers: []string{w.role}, Handler: func(inv fakeaws.Invocation) ([]byte, *fakeaws.Failure) {
		<-release
		return inv.Payload, nil
	}})
	asm := strings.Replace(slRoleAssembly, "function_name: echo", "function_name: slow\n      timeout: 1", 1)
	gw := slServeBundle(t, map[string]string{"catalog.yaml": w.catalog(), "api.yaml": lambdaAPI(asm)})
	r := gatewaytest.Call(t, "POST", gw.URL+"/acme/sandbox/lambda/echo", `{}`)
	if r.Status != 504 || !strings.Contains(r.Body, "did not answer within 1s") {
		t.Errorf("got %d %s", r.Status, r.Body)
	}
}
