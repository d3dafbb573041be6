package router

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMatch registers newline-separated templates, alternately for GET and
// POST, and checks that
//   - adding and matching never panic;
//   - a Found match is consistent: its params are non-empty without '/',
//     and its template filled with them gives the request path (or the
//     path with its trailing slash toggled);
//   - a NotFound path matches no template, by an independent regexp check;
//   - each template filled with a safe value is Found, either as itself or
//     as a template that is at least as specific at the first segment where
//     the two differ (so a static segment or a more literal pattern).
func FuzzMatch(f *testing.F) {
	f.Add("/items/{id}\n/items/new\n/items/{id}/x", "/items/new/x")
	f.Add("/files/{name}.json\n/files/{name}\n/a/{x}-{y}", "/a/x-y-z")
	f.Add("/\n/items/\n/items", "/items/")
	f.Add("/a//b\n/{a}b\n/a{b}", "/ab")
	f.Add("/{a}.{b}.{c}\n/{x}..{y}\n/v{n}", "/1..2")
	f.Add("/{a}\n/{a}/\n/{a", "//")
	f.Fuzz(func(t *testing.T, templates, path string) {
		b := NewBuilder[int]()
		methods := []string{"GET", "POST"}
		var added []string
		for i, tmpl := range strings.Split(templates, "\n") {
			if b.Add(methods[i%2], tmpl, i) == nil && i%2 == 0 {
				added = append(added, tmpl)
			}
		}
		tab := b.Build()

		checkArbitrary(t, tab, templates, path)
		for _, tmpl := range added {
			checkFilled(t, tab, tmpl)
		}
	})
}

// checkArbitrary matches a fuzzed path and checks the outcome is consistent.
func checkArbitrary(t *testing.T, tab *Table[int], templates, path string) {
	m := tab.Match("GET", path, nil)
	switch m.Status {
	case Found:
		for _, p := range m.Params {
			if p.Value == "" || strings.Contains(p.Value, "/") {
				t.Fatalf("GET %q matched %q with bad params %q", path, m.Template, m.Params)
			}
		}
		got := fill(m.Template, m.Params)
		if got != path && got != toggleSlash(path) {
			t.Fatalf("GET %q matched %q with %v, which fills to %q", path, m.Template, m.Params, got)
		}
	case NotFound:
		if !utf8.ValidString(templates) || !utf8.ValidString(path) {
			return // regexp works on runes, the router on bytes
		}
		for _, tmpl := range strings.Split(templates, "\n") {
			if _, _, err := parseTemplate(tmpl); err != nil {
				continue
			}
			re := templateRegexp(tmpl)
			lenient := path != "/" && strings.HasPrefix(path, "/")
			if re.MatchString(path) || (lenient && re.MatchString(toggleSlash(path))) {
				t.Fatalf("GET %q is NotFound but matches %q", path, tmpl)
			}
		}
	}
}

// checkFilled matches tmpl with every parameter set to a value.
func checkFilled(t *testing.T, tab *Table[int], tmpl string) {
	path := fill(tmpl, nil)
	m := tab.Match("GET", path, nil)
	if m.Status != Found {
		t.Fatalf("GET %q (filled %q): %v", path, tmpl, m.Status)
	}
	if got := fill(m.Template, m.Params); got != path {
		t.Fatalf("GET %q matched %q with %v, which fills to %q", path, m.Template, m.Params, got)
	}
	want, _, _ := parseTemplate(tmpl)
	got, _, _ := parseTemplate(m.Template)
	if len(got) != len(want) {
		t.Fatalf("GET %q: matched %q, segment counts differ from %q", path, m.Template, tmpl)
	}
	for i := range got {
		if got[i].shape() != want[i].shape() {
			if compareSpecificity(got[i], want[i]) > 0 {
				t.Fatalf("GET %q: matched %q, less specific than %q", path, m.Template, tmpl)
			}
			return
		}
	}
}

// fill replaces each {name} in tmpl with its value in params, or with "v"
// when params is nil.
func fill(tmpl string, params []Param) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(tmpl, '{')
		if open < 0 {
			return b.String() + tmpl
		}
		end := open + strings.IndexByte(tmpl[open:], '}')
		b.WriteString(tmpl[:open])
		b.WriteString(value(tmpl[open+1:end], params))
		tmpl = tmpl[end+1:]
	}
}

func value(name string, params []Param) string {
	if params == nil {
		return "v"
	}
	for _, p := range params {
		if p.Name == name {
			return p.Value
		}
	}
	return "{missing " + name + "}"
}

// templateRegexp is a reference matcher written independently of segment.match.
func templateRegexp(tmpl string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for {
		open := strings.IndexByte(tmpl, '{')
		if open < 0 {
			b.WriteString(regexp.QuoteMeta(tmpl))
			break
		}
		end := open + strings.IndexByte(tmpl[open:], '}')
		b.WriteString(regexp.QuoteMeta(tmpl[:open]) + "[^/]+")
		tmpl = tmpl[end+1:]
	}
	return regexp.MustCompile(b.String() + "$")
}

func toggleSlash(path string) string {
	if strings.HasSuffix(path, "/") {
		return path[:len(path)-1]
	}
	return path + "/"
}
