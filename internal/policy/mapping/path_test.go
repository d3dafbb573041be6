package mapping

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func decode(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return v
}

func wantJSON(t testing.TB, got any, want string) {
	t.Helper()
	if w := decode(t, want); !reflect.DeepEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Errorf("got  %s\nwant %s", g, want)
	}
}

const pathDoc = `{"a":{"b":1,"c":[{"d":1,"e":"x"},{"d":2,"e":"y"},{"d":3}]},"ssn":"123","deep":{"ssn":"456","list":[{"ssn":"789"}]}}`

func TestSelect(t *testing.T) {
	cases := []struct {
		path string
		syn  Syntax
		want string // JSON; "" for nothing
	}{
		{"a.b", JSONata, `1`},
		{"$.a.b", JSONata, `1`},
		{"$", JSONata, pathDoc},
		{"a.c.d", JSONata, `[1,2,3]`},
		{"a.c[0].e", JSONata, `"x"`},
		{"a.c[-1].d", JSONata, `3`},
		{"a.c[d > 1].d", JSONata, `[2,3]`},
		{"a.c[e = 'y']", JSONata, `{"d":2,"e":"y"}`},
		{"**.ssn", JSONata, `["123","456","789"]`},
		{"$..ssn", JSONata, `["123","456","789"]`},
		{"$['a']['b']", JSONata, `1`},
		{"a.c[*].e", JSONata, `["x","y"]`},
		{"`a`.b", JSONata, `1`},
		{"a.nope", JSONata, ``},
		{"deep.*.ssn", JSONata, `"789"`},
		{"a.c[1].e", Dotted, `"y"`},
		{"a.c.e", Dotted, `["x","y"]`},
		{"//*[@name='ssn']", XPath, `["123","456","789"]`},
		{"/a/c/d", XPath, `[1,2,3]`},
		{"/a/c[2]/e", XPath, `"y"`},
		{"//list/ssn", XPath, `"789"`},
	}
	for _, tc := range cases {
		p, err := ParsePath(tc.path, tc.syn)
		if err != nil {
			t.Errorf("%q: %v", tc.path, err)
			continue
		}
		got, ok, err := p.Select(Scope{}, decode(t, pathDoc))
		switch {
		case err != nil:
			t.Errorf("%q: %v", tc.path, err)
		case tc.want == "" && ok:
			t.Errorf("%q: got %v, want nothing", tc.path, got)
		case tc.want != "" && !ok:
			t.Errorf("%q: found nothing", tc.path)
		case tc.want != "":
			g, _ := json.Marshal(got)
			if w := decode(t, tc.want); !reflect.DeepEqual(got, w) {
				t.Errorf("%q: got %s, want %s", tc.path, g, tc.want)
			}
		}
	}
}

func TestApply(t *testing.T) {
	mask := func(any) (any, bool, error) { return "*", true, nil }
	remove := func(any) (any, bool, error) { return nil, false, nil }
	cases := []struct {
		path string
		fn   ApplyFunc
		want string
	}{
		{"ssn", mask, `{"a":{"b":1,"c":[{"d":1,"e":"x"},{"d":2,"e":"y"},{"d":3}]},"ssn":"*","deep":{"ssn":"456","list":[{"ssn":"789"}]}}`},
		{"**.ssn", remove, `{"a":{"b":1,"c":[{"d":1,"e":"x"},{"d":2,"e":"y"},{"d":3}]},"deep":{"list":[{}]}}`},
		{"a.c[d >= 2]", remove, `{"a":{"b":1,"c":[{"d":1,"e":"x"}]},"ssn":"123","deep":{"ssn":"456","list":[{"ssn":"789"}]}}`},
		{"a.c.e", mask, `{"a":{"b":1,"c":[{"d":1,"e":"*"},{"d":2,"e":"*"},{"d":3}]},"ssn":"123","deep":{"ssn":"456","list":[{"ssn":"789"}]}}`},
		{"a.c[0]", remove, `{"a":{"b":1,"c":[{"d":2,"e":"y"},{"d":3}]},"ssn":"123","deep":{"ssn":"456","list":[{"ssn":"789"}]}}`},
		{"deep", mask, `{"a":{"b":1,"c":[{"d":1,"e":"x"},{"d":2,"e":"y"},{"d":3}]},"ssn":"123","deep":"*"}`},
		{"a.*", remove, `{"a":{},"ssn":"123","deep":{"ssn":"456","list":[{"ssn":"789"}]}}`},
	}
	for _, tc := range cases {
		p, err := ParsePath(tc.path, JSONata)
		if err != nil {
			t.Fatalf("%q: %v", tc.path, err)
		}
		got, keep, err := p.Apply(Scope{}, decode(t, pathDoc), tc.fn)
		if err != nil || !keep {
			t.Fatalf("%q: keep %v, %v", tc.path, keep, err)
		}
		t.Run(tc.path, func(t *testing.T) { wantJSON(t, got, tc.want) })
	}
	// $ selects the value itself.
	p, _ := ParsePath("$", JSONata)
	if _, keep, _ := p.Apply(Scope{}, decode(t, pathDoc), remove); keep {
		t.Errorf("removing $ kept the value")
	}
}

func TestParsePathErrors(t *testing.T) {
	cases := []struct {
		path string
		syn  Syntax
		msg  string
	}{
		{"", JSONata, "empty path"},
		{"a.", JSONata, "ends after a dot"},
		{"a[", JSONata, "unclosed ["},
		{"a[?(@.x)]", JSONata, "JSONPath filters"},
		{"a[1 +]", JSONata, "does not compile"},
		{"a b", JSONata, "unexpected"},
		{"$x", JSONata, "unexpected"},
		{"`a", JSONata, "unclosed `"},
		{"a..b", Dotted, "empty part"},
		{"a[x]", Dotted, "not an index"},
		{"//a[@id='x']", XPath, "not supported"},
		{"/a/count(b)", XPath, "not supported"},
	}
	for _, tc := range cases {
		_, err := ParsePath(tc.path, tc.syn)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: error %v, want one mentioning %q", tc.path, err, tc.msg)
		}
	}
}

func TestSetPath(t *testing.T) {
	p, _ := ParsePath("a.b[1].c", Dotted)
	got := setPath(nil, p.steps, make([]int, len(p.steps)), "x")
	wantJSON(t, got, `{"a":{"b":[null,{"c":"x"}]}}`)
	p, _ = ParsePath("list[].n", Dotted)
	hints := make([]int, len(p.steps))
	got = setPath(setPath(nil, p.steps, hints, 1.0), p.steps, hints, 2.0)
	wantJSON(t, got, `{"list":[{"n":1},{"n":2}]}`)
}

func TestConvert(t *testing.T) {
	s := &Schema{Type: TypeObject, Props: map[string]*Schema{
		"n": {Type: TypeNumber}, "i": {Type: TypeInteger}, "b": {Type: TypeBoolean}, "s": {Type: TypeString},
		"a": {Type: TypeArray, Items: &Schema{Type: TypeString}}, "f": {Type: TypeString},
		"bad": {Type: TypeNumber},
	}}
	v := decode(t, `{"n":"1.5","i":"7.9","b":"TRUE","s":{"x":1},"a":3,"f":[1,2],"bad":"abc","other":"1"}`)
	wantJSON(t, Convert(v, s, convertOptions{}), `{"n":1.5,"i":7,"b":true,"s":"{\"x\":1}","a":["3"],"f":[1,2],"bad":"abc","other":"1"}`)
	v = decode(t, `{"f":[1,2]}`)
	wantJSON(t, Convert(v, s, convertOptions{firstElement: true}), `{"f":"1"}`)
}

func TestXMLRoundTrip(t *testing.T) {
	s := &Schema{Type: TypeObject, Props: map[string]*Schema{"root": {Type: TypeObject,
		XML:   XMLInfo{Prefix: "p", Namespace: "urn:x", HasNS: true},
		Order: []string{"b", "a"},
		Props: map[string]*Schema{"a": {Type: TypeArray, Items: &Schema{Type: TypeInteger}}, "b": {Type: TypeString, XML: XMLInfo{HasNS: true}}}}}}
	data, err := encodeXML(decode(t, `{"root":{"a":[1,2],"b":"x&y"}}`), s, xmlOptions{inherit: true})
	if err != nil {
		t.Fatal(err)
	}
	const want = `<p:root xmlns:p="urn:x"><b>x&amp;y</b><p:a>1</p:a><p:a>2</p:a></p:root>`
	if string(data) != want {
		t.Errorf("got  %s\nwant %s", data, want)
	}
	back, err := decodeXML(data, s, true, emptyString)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, back, `{"root":{"a":[1,2],"b":"x&y"}}`)
	if _, err := encodeXML(decode(t, `{"a":1,"b":2}`), nil, xmlOptions{}); err == nil {
		t.Errorf("two roots were written")
	}
}

// FuzzPath parses arbitrary paths in the three syntaxes and runs what
// parses: nothing may panic.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"a.b", "$.a[0]", "**.ssn", "$..x", "a[b > 1].c", "//*[@name='x']", "/a/b[2]",
		"a[]", "`x y`.z", "$['a']", "a[-1]", "a.c[e = 'y']"} {
		f.Add(s)
	}
	doc := decode(f, pathDoc)
	f.Fuzz(func(t *testing.T, src string) {
		for _, syn := range []Syntax{Dotted, JSONata, XPath} {
			p, err := ParsePath(src, syn)
			if err != nil {
				continue
			}
			_, _, _ = p.Select(Scope{}, doc)
			_, _, _ = p.Apply(Scope{}, decode(t, pathDoc), func(v any) (any, bool, error) { return v, true, nil })
		}
	})
}

func TestReadsFocus(t *testing.T) {
	cases := map[string]bool{
		"$(1) * $(2)": false, "'constant'": false, `{"a": 1.5e3}`: false, "$(name)": false,
		"$uppercase($)": true, "$.a": true, "a.b": true, "$$": true, "$string($(1)) & x": true,
		"$(request.headers.x-id)": true, // conservative: the parts of a dotted name look like paths
	}
	for src, want := range cases {
		if got := readsFocus(src); got != want {
			t.Errorf("readsFocus(%q) = %v, want %v", src, got, want)
		}
	}
}
