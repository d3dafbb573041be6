package lambda

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/portico-api/portico/internal/assembly"
)

func testTarget() *target {
	return &target{function: "echo", qualifier: "prod", region: "eu-west-1",
		key: clientKey{roleARN: "arn:aws:iam::123456789012:role/r", externalID: "org-1"}}
}

func TestInvokeErrorNames(t *testing.T) {
	for _, tc := range []struct {
		code, name string
		status     int
	}{
		{"ResourceNotFoundException", NotFoundError, 500},
		{"TooManyRequestsException", ThrottledError, 429},
		{"AccessDeniedException", AccessDeniedError, 500},
		{"UnrecognizedClientException", AccessDeniedError, 500},
		{"RequestTooLargeException", InvokeError, 413},
		{"ServiceException", InvokeError, 502},
	} {
		err := &smithy.OperationError{ServiceID: "Lambda", OperationName: "Invoke",
			Err: &smithy.GenericAPIError{Code: tc.code, Message: "details"}}
		e := invokeError(testTarget(), err, time.Second)
		if e.Name != tc.name || e.StatusCode() != tc.status || !strings.Contains(e.Message, "echo:prod") {
			t.Errorf("%s: got %s %d %q", tc.code, e.Name, e.StatusCode(), e.Message)
		}
	}
}

func TestConnectionErrors(t *testing.T) {
	send := &smithy.OperationError{Err: &smithyhttp.RequestSendError{Err: errors.New("dial tcp: connection refused")}}
	if e := invokeError(testTarget(), send, time.Second); e.Name != assembly.ConnectionError || e.StatusCode() != 500 {
		t.Errorf("send error: %v", e)
	}
	late := &smithy.OperationError{Err: &smithy.CanceledError{Err: context.DeadlineExceeded}}
	if e := assumeRoleError(testTarget(), late, 3*time.Second); e.Name != assembly.ConnectionError || e.StatusCode() != 504 ||
		!strings.Contains(e.Message, "STS") || !strings.Contains(e.Message, "3s") {
		t.Errorf("timeout: %v", e)
	}
}

func TestAssumeRoleErrorSaysWhy(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: sts:AssumeRole"}
	e := assumeRoleError(testTarget(), denied, time.Second)
	for _, s := range []string{"arn:aws:iam::123456789012:role/r", "trust policy", "sts:ExternalId", `"org-1"`} {
		if !strings.Contains(e.Message, s) {
			t.Errorf("%q does not say %q", e.Message, s)
		}
	}
	bad := &smithy.GenericAPIError{Code: "InvalidClientTokenId", Message: "invalid"}
	if e := assumeRoleError(testTarget(), bad, time.Second); !strings.Contains(e.Message, "gateway's own AWS credentials") {
		t.Errorf("invalid gateway key: %q", e.Message)
	}
}

func TestFunctionFailure(t *testing.T) {
	e := functionFailure(testTarget(), "Handled", []byte(`{"errorType":"ValueError","errorMessage":"bad id"}`))
	if e.Name != FunctionError || e.StatusCode() != 502 || !strings.Contains(e.Message, "ValueError: bad id") {
		t.Errorf("got %v", e)
	}
	long := functionFailure(testTarget(), "Unhandled", []byte(strings.Repeat("x", 5000)))
	if len(long.Message) > maxDetail+200 {
		t.Errorf("a long error document is not clipped: %d bytes", len(long.Message))
	}
}

func body(t *testing.T, s string) *assembly.Message {
	t.Helper()
	return &assembly.Message{Headers: http.Header{}, Body: assembly.BytesBody([]byte(s))}
}

func TestBodyEvent(t *testing.T) {
	for in, want := range map[string]string{`{"a":1}`: `{"a":1}`, " [1] ": "[1]", "": "", "hello": `"hello"`, `"quoted"`: `"quoted"`} {
		got, err := bodyEvent(body(t, in))
		if err != nil || string(got) != want {
			t.Errorf("bodyEvent(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestProxyResult(t *testing.T) {
	ok := []struct{ in, body, ctype string }{
		{`{"statusCode": 200, "body": "hi", "headers": {"Content-Type": "text/plain"}}`, "hi", "text/plain"},
		{`{"statusCode": "404", "body": "{}"}`, "{}", "application/json"},
		{`{"statusCode": 204}`, "", ""},
		{`{"statusCode": 200, "body": "aGk=", "isBase64Encoded": true, "headers": {"X-N": 3}}`, "hi", "application/json"},
	}
	for _, tc := range ok {
		m, err := proxyResult(testTarget(), []byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		data, _ := m.Body.Bytes()
		if string(data) != tc.body || m.Headers.Get("Content-Type") != tc.ctype {
			t.Errorf("%s: body %q content type %q", tc.in, data, m.Headers.Get("Content-Type"))
		}
	}
	for _, in := range []string{`"just a string"`, `{"body": "no status"}`, `{"statusCode": 200, "body": {"an": "object"}}`,
		`{"statusCode": 99}`, `{"statusCode": 200, "body": "%%", "isBase64Encoded": true}`} {
		_, err := proxyResult(testTarget(), []byte(in))
		var e *assembly.Error
		if !errors.As(err, &e) || e.Name != ResponseError || e.StatusCode() != 502 {
			t.Errorf("%s: want a ResponseError, got %v", in, err)
		}
	}
}

func TestProxyEventPath(t *testing.T) {
	req := httptest.NewRequest("GET", "/acme/sandbox/shop/v1/items/9?x=1", nil)
	c := assembly.NewContext(context.Background(), &assembly.Request{Method: "GET", URL: req.URL, Host: "gw", Headers: http.Header{},
		Body: assembly.BytesBody(nil)}, &assembly.APIInfo{Org: "acme", Catalog: "sandbox", BasePath: "/shop/v1/"}, nil)
	if got := apiPath(c); got != "/items/9" {
		t.Errorf("apiPath = %q", got)
	}
	c.API.BasePath = "/shop"
	if got := apiPath(c); got != "/v1/items/9" {
		t.Errorf("apiPath = %q", got)
	}
	c.API.BasePath = "/sh" // not a whole segment: leave the path whole
	if got := apiPath(c); got != "/acme/sandbox/shop/v1/items/9" {
		t.Errorf("apiPath = %q", got)
	}
}

func TestSessionName(t *testing.T) {
	if got := sessionName("ac51909e a/b"); got != "portico-ac51909e-a-b" {
		t.Errorf("got %q", got)
	}
	if got := sessionName(strings.Repeat("x", 100)); len(got) != 64 {
		t.Errorf("not cut to 64: %d", len(got))
	}
	if got := sessionName(""); got != "portico-gateway" {
		t.Errorf("got %q", got)
	}
}

type countingProvider struct {
	calls int
	err   error
}

func (p *countingProvider) Retrieve(context.Context) (aws.Credentials, error) {
	p.calls++
	return aws.Credentials{AccessKeyID: "A", SecretAccessKey: "S"}, p.err
}

func TestFailureMemo(t *testing.T) {
	p := &countingProvider{err: errors.New("refused")}
	m := &failureMemo{provider: p, ttl: time.Hour}
	for range 3 {
		if _, err := m.Retrieve(context.Background()); err == nil {
			t.Fatal("want the error")
		}
	}
	if p.calls != 1 {
		t.Errorf("a failure was not remembered: %d calls", p.calls)
	}
	m.at = time.Now().Add(-2 * time.Hour)
	p.err = nil
	if _, err := m.Retrieve(context.Background()); err != nil || p.calls != 2 {
		t.Errorf("after the TTL: %v, %d calls", err, p.calls)
	}
}

// TestPoolSharesClients: one client per key, a bounded pool, and no
// network needed to build one.
func TestPoolSharesClients(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	noFiles := []func(*config.LoadOptions) error{config.WithSharedConfigFiles(nil), config.WithSharedCredentialsFiles(nil)}
	p := NewPool(Options{MaxClients: 2, LoadOptions: noFiles})
	ctx := context.Background()
	k1 := clientKey{region: "us-east-1", roleARN: "arn:aws:iam::123456789012:role/a", externalID: "o"}
	a, _ := p.get(ctx, k1, "")
	b, _ := p.get(ctx, k1, "")
	if a == nil || a != b {
		t.Fatal("the same key must give the same client")
	}
	k2 := k1
	k2.externalID = "other"
	if c, _ := p.get(ctx, k2, ""); c == a {
		t.Error("another external ID must give another client")
	}
	p.get(ctx, clientKey{region: "eu-west-1"}, "")
	if len(p.clients) > 2 {
		t.Errorf("pool grew past MaxClients: %d", len(p.clients))
	}
}

// TestInputForEmptyBody: a GET with no body sends no payload.
func TestInputForEmptyBody(t *testing.T) {
	req := httptest.NewRequest("GET", "/x", nil)
	c := assembly.NewContext(context.Background(), &assembly.Request{Method: "GET", URL: req.URL, Headers: http.Header{},
		Body: assembly.StreamBody(io.NopCloser(strings.NewReader("")), 0)}, &assembly.APIInfo{}, nil)
	p := &policy{spec: Spec{InvocationType: "RequestResponse"}}
	in, err := p.input(c, testTarget())
	if err != nil || len(in.Payload) != 0 || aws.ToString(in.Qualifier) != "prod" || aws.ToString(in.FunctionName) != "echo" {
		t.Errorf("input %+v, %v", in, err)
	}
}
