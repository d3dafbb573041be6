package assembly

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// newTestContext makes a context for a request, with API properties.
func newTestContext(t testing.TB, method, target, body string, props map[string]string) *Context {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Trace-Id", "abc")
	api := &APIInfo{Name: "orders", Version: "1.0.0", BasePath: "/orders", Org: "acme", OrgID: "org-1", Catalog: "sandbox",
		Properties: map[string]*Template{}}
	for k, v := range props {
		api.Properties[k] = MustTemplate(v)
	}
	req := &Request{Method: r.Method, URL: r.URL, Host: r.Host, Scheme: "http", Headers: r.Header,
		Params: []Param{{Name: "id", Value: "42"}}, Body: StreamBody(io.NopCloser(r.Body), 0), ContentLength: r.ContentLength}
	return NewContext(context.Background(), req, api, &OperationInfo{ID: "getOrder", Path: "/{id}", Method: method})
}

func TestTemplateRender(t *testing.T) {
	c := newTestContext(t, "GET", "http://gw.example/acme/sandbox/orders/42?fields=a,b&x=1", "",
		map[string]string{"backend": "https://backend.example", "nested": "$(backend)/v2", "loop": "$(loop)x"})
	cases := []struct{ tmpl, want string }{
		{"plain", "plain"},
		{"$(backend)/orders/$(request.parameters.id)", "https://backend.example/orders/42"},
		{"$(nested)", "https://backend.example/v2"},
		{"$(api.properties.backend)", "https://backend.example"},
		{"$(request.verb) $(request.path)$(request.search)", "GET /acme/sandbox/orders/42?fields=a,b&x=1"},
		{"$(request.querystring)", "fields=a,b&x=1"},
		{"$(request.headers.x-trace-id)|$(request.headers.X-TRACE-ID)|$(request.headers['X-Trace-Id'])", "abc|abc|abc"},
		{"$(request.parameters.fields)", "a,b"},
		{"$(missing.variable)-$(request.headers.none)", "-"},
		{"$(api.name):$(api.version) $(api.operation.id) $(api.operation.path)", "orders:1.0.0 getOrder /{id}"},
		{"$(api.org.name)/$(api.org.id)/$(api.catalog.name)", "acme/org-1/sandbox"},
		{"$(api.endpoint.address)", "http://gw.example"},
		{"cost: $5 (approx)", "cost: $5 (approx)"},
		{"$(loop)", strings.Repeat("x", maxPropertyDepth)},
	}
	for _, tc := range cases {
		tpl, err := ParseTemplate(tc.tmpl)
		if err != nil {
			t.Fatalf("%q: %v", tc.tmpl, err)
		}
		if got := tpl.Render(c); got != tc.want {
			t.Errorf("Render(%q) = %q, want %q", tc.tmpl, got, tc.want)
		}
	}
}

func TestTemplateUnclosedKeepsText(t *testing.T) {
	tpl, err := ParseTemplate("$(a)$(b")
	var ue *UnclosedError
	if !errors.As(err, &ue) || ue.Column != 5 {
		t.Fatalf("err = %v, want UnclosedError at column 5", err)
	}
	c := newTestContext(t, "GET", "/", "", map[string]string{"a": "A"})
	if got := tpl.Render(c); got != "A$(b" {
		t.Fatalf("Render = %q, want %q", got, "A$(b")
	}
}

func TestTemplateValueKeepsObjects(t *testing.T) {
	c := newTestContext(t, "GET", "/", "", nil)
	obj := map[string]any{"a": 1.0}
	if err := c.Set(MustRef("my.obj"), obj); err != nil {
		t.Fatal(err)
	}
	v := MustTemplate("$(my.obj)").Value(c)
	if m, ok := v.(map[string]any); !ok || m["a"] != 1.0 {
		t.Fatalf("Value = %#v, want the object", v)
	}
	if s := MustTemplate("x $(my.obj)").Value(c); s != `x {"a":1}` {
		t.Fatalf("mixed template Value = %#v", s)
	}
}

func TestRequestBodyReadTwice(t *testing.T) {
	c := newTestContext(t, "POST", "/", `{"name":"ada"}`, nil)
	for i := 0; i < 2; i++ {
		if got := c.Get(MustRef("request.body")); got != `{"name":"ada"}` {
			t.Fatalf("read %d: request.body = %q", i, got)
		}
	}
	if got := c.Get(MustRef("message.body")); got != `{"name":"ada"}` {
		t.Fatalf("message.body = %q", got)
	}
}

func TestSetAddClear(t *testing.T) {
	c := newTestContext(t, "GET", "/", "", nil)
	steps := []struct {
		op   string
		name string
		val  any
	}{
		{"set", "message.headers.x-one", "1"},
		{"add", "message.headers.x-one", "2"},
		{"set", "message.status.code", 201},
		{"set", "message.status.reason", "Made"},
		{"set", "a.b.c", "deep"},
		{"add", "list", "x"},
		{"add", "list", "y"},
		{"set", "gone", "soon"},
		{"clear", "gone", nil},
		{"clear", "message.headers.x-trace-id", nil},
	}
	for _, s := range steps {
		var err error
		switch s.op {
		case "set":
			err = c.Set(MustRef(s.name), s.val)
		case "add":
			err = c.Add(MustRef(s.name), s.val)
		case "clear":
			err = c.Clear(MustRef(s.name))
		}
		if err != nil {
			t.Fatalf("%s %s: %v", s.op, s.name, err)
		}
	}
	if got := c.Message.Headers.Values("X-One"); len(got) != 2 || got[1] != "2" {
		t.Errorf("x-one = %v", got)
	}
	if c.Message.StatusCode() != 201 || c.Message.StatusReason() != "Made" {
		t.Errorf("status = %d %s", c.Message.StatusCode(), c.Message.StatusReason())
	}
	if got := c.Get(MustRef("a.b.c")); got != "deep" {
		t.Errorf("a.b.c = %q", got)
	}
	if got := c.Get(MustRef("list")); got != `["x","y"]` {
		t.Errorf("list = %q", got)
	}
	if _, ok := c.Var("gone"); ok {
		t.Error("gone is still set")
	}
	if c.Message.Headers.Get("X-Trace-Id") != "" || c.Request.Headers.Get("X-Trace-Id") != "abc" {
		t.Error("clearing a message header must not touch the request")
	}
}

func TestReadOnlyAndBadStatus(t *testing.T) {
	c := newTestContext(t, "GET", "/", "", nil)
	for _, name := range []string{"request.verb", "api.name", "system.datetime"} {
		var e *Error
		if err := c.Set(MustRef(name), "x"); !errors.As(err, &e) || e.Name != PropertyError {
			t.Errorf("Set(%s) = %v, want PropertyError", name, err)
		}
	}
	var e *Error
	if err := c.Set(MustRef("message.status.code"), "abc"); !errors.As(err, &e) || e.Name != PropertyError {
		t.Errorf("bad status: %v", err)
	}
}

func TestMessageVariableFromOutput(t *testing.T) {
	c := newTestContext(t, "GET", "/", "", nil)
	m := &Message{Headers: http.Header{"X-A": {"b"}}, Body: ValueBody(map[string]any{"access_token": "t0k"}), Status: 200}
	c.SetVar("iam", m)
	if got := c.Get(MustRef("iam.body.access_token")); got != "t0k" {
		t.Errorf("iam.body.access_token = %q", got)
	}
	if got := c.Get(MustRef("iam.headers.x-a")); got != "b" {
		t.Errorf("iam.headers.x-a = %q", got)
	}
	if err := c.Set(MustRef("iam.headers.x-c"), "d"); err != nil || m.Headers.Get("X-C") != "d" {
		t.Errorf("setting a header of a message variable: %v", err)
	}
	if got := c.Get(MustRef("iam.status.code")); got != "200" {
		t.Errorf("iam.status.code = %q", got)
	}
}

func TestRootDocument(t *testing.T) {
	c := newTestContext(t, "POST", "/x?q=1", `{"a":1}`, map[string]string{"p": "v"})
	c.SetVar("myApi", "summary")
	doc := c.Root()
	if doc["myApi"] != "summary" {
		t.Errorf("user variable missing: %v", doc["myApi"])
	}
	req := doc["request"].(map[string]any)
	if req["verb"] != "POST" || req["headers"].(map[string]any)["x-trace-id"] != "abc" {
		t.Errorf("request doc = %v", req)
	}
	if doc["api"].(map[string]any)["properties"].(map[string]any)["p"] != "v" {
		t.Errorf("api doc = %v", doc["api"])
	}
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"", "$(a)", "x$(a.b)y$(c)", "$(", "$()", "$(a['b'])", "$$(a)", "$(a[)", "))$((", "$(a.)"} {
		f.Add(s)
	}
	c := newTestContext(f, "GET", "/", "", nil)
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := ParseTemplate(s)
		if tpl == nil {
			if err == nil {
				t.Fatal("nil template without an error")
			}
			return
		}
		// Any template that parsed, even with an unclosed $(, renders.
		tpl.Render(c)
		tpl.Value(c)
		if err == nil && len(tpl.Refs()) == 0 && tpl.Render(c) != s {
			t.Fatalf("a constant template must render as written: %q -> %q", s, tpl.Render(c))
		}
	})
}
