package router

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// build registers "METHOD template" lines, each route's value being the line.
func build(t testing.TB, routes ...string) *Table[string] {
	t.Helper()
	b := NewBuilder[string]()
	for _, r := range routes {
		method, template, _ := strings.Cut(r, " ")
		if err := b.Add(method, template, r); err != nil {
			t.Fatal(err)
		}
	}
	return b.Build()
}

type want struct {
	status   Status
	template string
	params   string   // "name=value,..." for Found
	allowed  []string // for MethodNotAllowed
}

func check(t *testing.T, tab *Table[string], method, path string, w want) {
	t.Helper()
	m := tab.Match(method, path, nil)
	var got []string
	for _, p := range m.Params {
		got = append(got, p.Name+"="+p.Value)
	}
	params := strings.Join(got, ",")
	if m.Status != w.status || m.Template != w.template || params != w.params || !slices.Equal(m.Allowed, w.allowed) {
		t.Errorf("%s %q = %v %q [%s] allowed %v; want %v %q [%s] allowed %v",
			method, path, m.Status, m.Template, params, m.Allowed, w.status, w.template, w.params, w.allowed)
	}
	if m.Status == Found && m.Value != method+" "+m.Template && !(method == "HEAD" && m.Value == "GET "+m.Template) {
		t.Errorf("%s %q: value %q does not belong to template %q", method, path, m.Value, m.Template)
	}
}

func found(template, params string) want {
	return want{status: Found, template: template, params: params}
}
func notAllowed(methods ...string) want { return want{status: MethodNotAllowed, allowed: methods} }

var notFound = want{status: NotFound}

type matchCase struct {
	method, path string
	want         want
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name   string
		routes []string
		cases  []matchCase
	}{
		{"static beats parameter, with backtracking",
			[]string{"GET /items/new", "GET /items/{id}", "GET /items/{id}/x"},
			[]matchCase{
				{"GET", "/items/new", found("/items/new", "")},
				{"GET", "/items/42", found("/items/{id}", "id=42")},
				{"GET", "/items/new/x", found("/items/{id}/x", "id=new")},
				{"GET", "/items/new/y", notFound},
			}},
		{"a less specific template serves a method the more specific lacks",
			[]string{"GET /items/new", "POST /items/{id}"},
			[]matchCase{
				{"POST", "/items/new", found("/items/{id}", "id=new")},
				{"DELETE", "/items/new", notAllowed("GET", "HEAD", "POST")},
			}},
		{"parameter names may differ per method",
			[]string{"GET /items/{id}", "DELETE /items/{itemId}"},
			[]matchCase{
				{"GET", "/items/7", found("/items/{id}", "id=7")},
				{"DELETE", "/items/7", found("/items/{itemId}", "itemId=7")},
			}},
		{"parameters are non-empty and never span '/'",
			[]string{"GET /items/{id}", "GET /a/{x}/b"},
			[]matchCase{
				{"GET", "/items/", notFound},
				{"GET", "/items/1/2", notFound},
				{"GET", "/a//b", notFound},
			}},
		{"partial segments",
			[]string{"GET /files/{name}.json", "GET /files/{name}", "GET /a/{x}-{y}", "GET /v{major}.{minor}/info", "GET /f/{a}-{b}.tar.gz"},
			[]matchCase{
				{"GET", "/files/report.json", found("/files/{name}.json", "name=report")},
				{"GET", "/files/report.xml", found("/files/{name}", "name=report.xml")},
				{"GET", "/files/.json", found("/files/{name}", "name=.json")},
				{"GET", "/a/x-y", found("/a/{x}-{y}", "x=x,y=y")},
				{"GET", "/a/x-y-z", found("/a/{x}-{y}", "x=x,y=y-z")}, // shortest first
				{"GET", "/a/-y", notFound},
				{"GET", "/a/x-", notFound},
				{"GET", "/v2.10/info", found("/v{major}.{minor}/info", "major=2,minor=10")},
				{"GET", "/f/a-b-c.tar.gz", found("/f/{a}-{b}.tar.gz", "a=a,b=b-c")},
			}},
		{"more literal text is more specific",
			[]string{"GET /x/{a}", "GET /x/{a}-{b}", "GET /x/{a}.json", "GET /x/{a}-{b}.json"},
			[]matchCase{
				{"GET", "/x/1-2.json", found("/x/{a}-{b}.json", "a=1,b=2")},
				{"GET", "/x/1.json", found("/x/{a}.json", "a=1")},
				{"GET", "/x/1-2", found("/x/{a}-{b}", "a=1,b=2")},
				{"GET", "/x/1", found("/x/{a}", "a=1")},
			}},
		{"both trailing-slash forms registered stay distinct",
			[]string{"GET /items", "GET /items/", "GET /items/{id}"},
			[]matchCase{
				{"GET", "/items", found("/items", "")},
				{"GET", "/items/", found("/items/", "")},
			}},
		{"lenient trailing slash",
			[]string{"GET /items", "GET /things/", "GET /items/{id}/", "GET /"},
			[]matchCase{
				{"GET", "/items/", found("/items", "")},
				{"GET", "/things", found("/things/", "")},
				{"GET", "/items/3", found("/items/{id}/", "id=3")},
				{"GET", "/items/3/", found("/items/{id}/", "id=3")},
				{"GET", "/", found("/", "")},
				{"GET", "/items//", notFound},
				{"POST", "/items/", notAllowed("GET", "HEAD")},
			}},
		{"an exact path match wins over the other slash form",
			[]string{"GET /items", "POST /items/"},
			[]matchCase{
				{"GET", "/items/", notAllowed("POST")},
				{"POST", "/items", notAllowed("GET", "HEAD")},
			}},
		{"empty path under a base path is the base path",
			[]string{"GET " + Join("acme", "sandbox", "/petstore", ""), "GET " + Join("acme", "sandbox", "/petstore", "/pets")},
			[]matchCase{
				{"GET", "/acme/sandbox/petstore", found("/acme/sandbox/petstore", "")},
				{"GET", "/acme/sandbox/petstore/", found("/acme/sandbox/petstore", "")},
				{"GET", "/acme/sandbox/petstore/pets", found("/acme/sandbox/petstore/pets", "")},
			}},
		{"case-sensitive, double slashes kept",
			[]string{"GET /Items", "GET /a//b"},
			[]matchCase{
				{"GET", "/items", notFound},
				{"GET", "/Items", found("/Items", "")},
				{"GET", "/a//b", found("/a//b", "")},
				{"GET", "/a/b", notFound},
			}},
		{"methods: exact, HEAD falls back to GET",
			[]string{"GET /a", "HEAD /b", "GET /b", "PUT /c", "POST /c"},
			[]matchCase{
				{"HEAD", "/a", found("/a", "")},
				{"HEAD", "/b", found("/b", "")},
				{"get", "/a", notAllowed("GET", "HEAD")},
				{"GET", "/c", notAllowed("POST", "PUT")},
				{"HEAD", "/c", notAllowed("POST", "PUT")},
			}},
		{"not found",
			[]string{"GET /a"},
			[]matchCase{
				{"GET", "", notFound},
				{"GET", "a", notFound},
				{"GET", "*", notFound},
				{"GET", "/b", notFound},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := build(t, tt.routes...)
			for _, c := range tt.cases {
				check(t, tab, c.method, c.path, c.want)
			}
		})
	}
}

func TestMatchHeadRouteValue(t *testing.T) {
	tab := build(t, "HEAD /b", "GET /b")
	if m := tab.Match("HEAD", "/b", nil); m.Value != "HEAD /b" {
		t.Errorf("HEAD /b served by %q, want the HEAD route", m.Value)
	}
}

func TestMatchAppendsToParams(t *testing.T) {
	tab := build(t, "GET /a/{x}/b/{y}")
	in := []Param{{"pre", "existing"}}
	m := tab.Match("GET", "/a/1/b/2", in)
	want := []Param{{"pre", "existing"}, {"x", "1"}, {"y", "2"}}
	if !slices.Equal(m.Params, want) {
		t.Errorf("Params = %v, want %v", m.Params, want)
	}
	if m := tab.Match("GET", "/nope", in); !slices.Equal(m.Params, in) {
		t.Errorf("NotFound Params = %v, want %v", m.Params, in)
	}
}

func TestAddErrors(t *testing.T) {
	tests := []struct {
		routes []string // all but the last must succeed
		err    error
		names  []string // text the error must contain
	}{
		{[]string{"GET /items/{id"}, ErrMalformed, []string{"/items/{id", "unclosed"}},
		{[]string{"GET /items/{a{b}}"}, ErrMalformed, []string{"unclosed"}},
		{[]string{"GET /items/{a/b}"}, ErrMalformed, []string{"unclosed"}},
		{[]string{"GET /items/id}"}, ErrMalformed, []string{"unmatched"}},
		{[]string{"GET /items/{}"}, ErrMalformed, []string{"empty parameter"}},
		{[]string{"GET /a/{id}/b/{id}"}, ErrMalformed, []string{"duplicate", `"id"`}},
		{[]string{"GET /a/{x}-{x}"}, ErrMalformed, []string{"duplicate"}},
		{[]string{"GET /a/{x}{y}"}, ErrMalformed, []string{"adjacent"}},
		{[]string{"GET items"}, ErrMalformed, []string{"start with '/'"}},
		{[]string{"GET "}, ErrMalformed, []string{"start with '/'"}},
		{[]string{"get /a"}, ErrMalformed, []string{"method"}},
		{[]string{" /a"}, ErrMalformed, []string{"method"}},
		{[]string{"GET /a", "GET /a"}, ErrConflict, []string{`"/a"`}},
		{[]string{"GET /items/{id}", "GET /items/{itemId}"}, ErrConflict, []string{"/items/{id}", "/items/{itemId}"}},
		{[]string{"GET /f/{a}.{b}", "POST /f/{x}.{y}", "GET /f/{x}.{y}"}, ErrConflict, []string{"/f/{a}.{b}", "/f/{x}.{y}"}},
	}
	for _, tt := range tests {
		b := NewBuilder[int]()
		var err error
		for i, r := range tt.routes {
			method, template, _ := strings.Cut(r, " ")
			err = b.Add(method, template, 0)
			if i < len(tt.routes)-1 && err != nil {
				t.Fatalf("%v: setup %q: %v", tt.routes, r, err)
			}
		}
		if !errors.Is(err, tt.err) {
			t.Errorf("%v: err = %v, want %v", tt.routes, err, tt.err)
			continue
		}
		for _, s := range tt.names {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%v: error %q does not mention %s", tt.routes, err, s)
			}
		}
	}
}

func TestNoConflictBetweenDistinctShapes(t *testing.T) {
	// Distinct shapes, or one shape with different methods, are all fine.
	build(t, "GET /items", "GET /items/", "GET /items/{id}", "POST /items/{id}", "GET /items/{id}.json", "GET /items/new", "GET /items/{a}-{b}")
}

func TestBuilderReuseLeavesTableUnchanged(t *testing.T) {
	b := NewBuilder[int]()
	if err := b.Add("GET", "/a", 1); err != nil {
		t.Fatal(err)
	}
	first := b.Build()
	if err := b.Add("GET", "/a/{x}", 2); err != nil {
		t.Fatal(err)
	}
	second := b.Build()
	if m := first.Match("GET", "/a/1", nil); m.Status != NotFound {
		t.Errorf("first table changed by a later Add: %v", m.Status)
	}
	if m := second.Match("GET", "/a/1", nil); m.Status != Found || m.Value != 2 {
		t.Errorf("second table: %v %v", m.Status, m.Value)
	}
}

func TestZeroValues(t *testing.T) {
	var tab Table[int]
	if m := tab.Match("GET", "/", nil); m.Status != NotFound {
		t.Errorf("zero Table: %v", m.Status)
	}
	var b Builder[int]
	if err := b.Add("GET", "/", 1); err != nil {
		t.Fatal(err)
	}
	if m := b.Build().Match("GET", "/", nil); m.Status != Found {
		t.Errorf("zero Builder: %v", m.Status)
	}
}

func TestJoin(t *testing.T) {
	tests := []struct{ base, path, want string }{
		{"/petstore", "/pets/{id}", "/acme/sb/petstore/pets/{id}"},
		{"/petstore", "", "/acme/sb/petstore"},
		{"/petstore", "/", "/acme/sb/petstore/"},
		{"/petstore/", "/pets", "/acme/sb/petstore/pets"},
		{"petstore", "/pets", "/acme/sb/petstore/pets"},
		{"/", "/pets", "/acme/sb/pets"},
		{"", "", "/acme/sb"},
	}
	for _, tt := range tests {
		if got := Join("acme", "sb", tt.base, tt.path); got != tt.want {
			t.Errorf("Join(%q, %q) = %q, want %q", tt.base, tt.path, got, tt.want)
		}
	}
}

// allocTable has routes for every kind of Found match.
func allocTable(t testing.TB) *Table[string] {
	return build(t, "GET /o/c/api/items", "GET /o/c/api/items/new", "GET /o/c/api/items/{id}",
		"GET /o/c/api/items/{id}/x", "GET /o/c/api/files/{name}.json", "GET /o/c/api/a/{x}-{y}/", "GET /o/c/api/b/")
}

var foundPaths = []string{
	"/o/c/api/items",          // static
	"/o/c/api/items/42",       // parameter
	"/o/c/api/items/new/x",    // backtracking
	"/o/c/api/files/r.json",   // partial segment
	"/o/c/api/a/1-2",          // two parameters, slash added
	"/o/c/api/b",              // slash added
	"/o/c/api/items/",         // slash removed
	"/o/c/api/items/new/x",    // HEAD below
	"/o/c/api/files/big.json", // partial segment again
}

func TestMatchDoesNotAllocate(t *testing.T) {
	tab := allocTable(t)
	params := make([]Param, 0, 4)
	for _, p := range foundPaths {
		for _, method := range []string{"GET", "HEAD"} {
			allocs := testing.AllocsPerRun(100, func() {
				if m := tab.Match(method, p, params); m.Status != Found {
					t.Fatalf("%s %s: %v", method, p, m.Status)
				}
			})
			if allocs != 0 {
				t.Errorf("%s %s: %v allocs per match", method, p, allocs)
			}
		}
	}
}

func TestConcurrentMatch(t *testing.T) {
	tab := allocTable(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			params := make([]Param, 0, 4)
			for i := range 1000 {
				p := foundPaths[(g+i)%len(foundPaths)]
				if m := tab.Match("GET", p, params[:0]); m.Status != Found {
					t.Errorf("%s: %v", p, m.Status)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func ExampleTable_Match() {
	b := NewBuilder[string]()
	_ = b.Add("GET", Join("acme", "sandbox", "/petstore", "/pets/{petId}"), "getPet")
	_ = b.Add("GET", Join("acme", "sandbox", "/petstore", "/pets/mine"), "getMyPets")
	tab := b.Build()

	m := tab.Match("GET", "/acme/sandbox/petstore/pets/42", make([]Param, 0, 4))
	fmt.Println(m.Status, m.Value, m.Template, m.Params)
	m = tab.Match("POST", "/acme/sandbox/petstore/pets/42", nil)
	fmt.Println(m.Status, m.Allowed)
	// Output:
	// Found getPet /acme/sandbox/petstore/pets/{petId} [{petId 42}]
	// MethodNotAllowed [GET HEAD]
}
