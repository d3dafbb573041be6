package apidef

import (
	"errors"
	"strings"
	"testing"
)

func mustAPI(t *testing.T, src string) (*API, Problems) {
	t.Helper()
	d, err := Parse("api.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if d.Kind != KindAPI {
		t.Fatalf("kind = %v, want api", d.Kind)
	}
	return LoadAPI(d)
}

func TestLoadSwagger2(t *testing.T) {
	a, ps := mustAPI(t, `swagger: '2.0'
info: {title: Weather Provider API, x-ibm-name: weather, version: 1.0.0}
basePath: /v1/weather/
x-ibm-configuration:
  gateway: datapower-api-gateway
  enforced: true
  cors: {enabled: true}
  properties:
    target-url: {value: 'http://example.com/op', encoded: false}
  catalogs:
    production:
      properties: {target-url: 'https://prod.example.com'}
paths:
  /current:
    parameters:
      - {name: zipcode, in: query, required: true, type: string}
    get:
      operationId: current
      responses: {'200': {description: ok}}
    post:
      parameters:
        - {name: zipcode, in: query, type: integer}
      responses: {'200': {description: ok}}
`)
	if len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	if a.Name != "weather" || a.Version != "1.0.0" || a.BasePath != "/v1/weather" || a.Ref() != "weather:1.0.0" {
		t.Errorf("identity = %q %q %q", a.Name, a.Version, a.BasePath)
	}
	if !a.CORS || !a.Enforced || a.Gateway != GatewayAPI {
		t.Errorf("flags: cors %v enforced %v gateway %q", a.CORS, a.Enforced, a.Gateway)
	}
	if a.Properties["target-url"] != "http://example.com/op" || a.CatalogProperties["production"]["target-url"] != "https://prod.example.com" {
		t.Errorf("properties = %v / %v", a.Properties, a.CatalogProperties)
	}
	if len(a.Operations) != 2 {
		t.Fatalf("operations = %+v", a.Operations)
	}
	get, post := a.Operations[0], a.Operations[1]
	if get.Method != "GET" || get.ID != "current" || len(get.Params) != 1 || !get.Params[0].Required {
		t.Errorf("GET = %+v", get)
	}
	if post.Method != "POST" || len(post.Params) != 1 || post.Params[0].Required {
		t.Errorf("POST overrides the shared parameter: %+v", post)
	}
}

func TestLoadOpenAPI3BasePathFromServers(t *testing.T) {
	for url, want := range map[string]string{
		"https://api.example.com/banking/v1": "/banking/v1",
		"/api/v3":                            "/api/v3",
		"/":                                  "",
	} {
		a, ps := mustAPI(t, "openapi: 3.0.3\ninfo: {title: Bank, version: '2.0'}\nservers:\n  - url: "+url+"\npaths: {}\n")
		if len(ps) > 0 {
			t.Fatalf("problems: %v", ps)
		}
		if a.BasePath != want {
			t.Errorf("servers %q: base path %q, want %q", url, a.BasePath, want)
		}
		if a.Name != "bank" {
			t.Errorf("name from title = %q", a.Name)
		}
	}
}

func TestLoadProblemsAreLocated(t *testing.T) {
	_, ps := mustAPI(t, `swagger: '2.0'
info:
  title: ''
x-ibm-configuration:
  enforced: maybe
paths:
  items: {}
`)
	want := map[string]int{"the API has no name": 2, "the API has no version": 2, "expected true or false": 5, "does not start with /": 7}
	for frag, line := range want {
		found := false
		for _, p := range ps {
			if strings.Contains(p.Msg, frag) {
				found = true
				if p.Line != line || p.File != "api.yaml" {
					t.Errorf("%q at %s:%d, want line %d", frag, p.File, p.Line, line)
				}
			}
		}
		if !found {
			t.Errorf("no problem %q in %v", frag, ps)
		}
	}
}

func TestParseSyntaxErrorHasLine(t *testing.T) {
	_, err := Parse("bad.yaml", []byte("swagger: '2.0'\ninfo:\n  title: [unclosed\n  version: 1\n"))
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 {
		t.Fatalf("err = %v", err)
	}
	if ps[0].Line == 0 || !strings.HasPrefix(ps[0].Error(), "bad.yaml:") {
		t.Errorf("problem = %q, want a located one", ps[0].Error())
	}
}

func TestParseKinds(t *testing.T) {
	cases := map[string]Kind{
		`{"swagger":"2.0","info":{"title":"t","version":"1"}}`: KindAPI,
		"product: 1.0.0\ninfo: {name: p, version: 1.0.0}\n":    KindProduct,
		"org: acme\n": KindOther,
	}
	for src, want := range cases {
		d, err := Parse("f", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if d.Kind != want {
			t.Errorf("%q: kind %v, want %v", src, d.Kind, want)
		}
	}
	for _, src := range []string{"", "- a\n- b\n"} {
		if _, err := Parse("f", []byte(src)); err == nil {
			t.Errorf("%q: want an error", src)
		}
	}
}

func TestMissingFieldLocatedAtParent(t *testing.T) {
	d, err := Parse("f.yaml", []byte("a:\n  b:\n    c: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := d.Root.Get("a").Get("b").Get("missing").Problem("x", "")
	if p.Line != 3 || p.Field != "a.b.missing" {
		t.Errorf("problem at line %d field %q, want line 3 a.b.missing", p.Line, p.Field)
	}
}

func TestWarningsAreNotErrors(t *testing.T) {
	ps := Problems{{Msg: "bad"}, {Msg: "odd", Warn: true}}
	if len(ps.Errors()) != 1 || len(ps.Warnings()) != 1 || ps.Err() == nil {
		t.Fatalf("errors %v warnings %v", ps.Errors(), ps.Warnings())
	}
	if (Problems{{Msg: "odd", Warn: true}}).Err() != nil {
		t.Fatal("warnings alone are not an error")
	}
	if got := ps[1].Error(); !strings.Contains(got, "warning: ") {
		t.Errorf("warning text = %q", got)
	}
}
