// Package router is the gateway's route table: it maps an HTTP method and a
// request path to the API operation registered for it.
//
// Every operation is reachable at /{org}/{catalog}{basePath}{path} (see
// Join), where path is an OpenAPI path template. A Table is built once per
// configuration load by a Builder and never changes afterwards, so any number
// of requests may call Match concurrently without locks; a reload builds a
// new Table.
//
// Matching rules, in the order they decide:
//   - Paths are split on '/'; matching is case-sensitive and "//" is not
//     collapsed (it is an empty segment, which no parameter matches).
//   - A parameter matches non-empty text within one segment. A segment may
//     mix literals and parameters ("{name}.json", "{a}-{b}"); each parameter
//     takes the shortest text up to the next literal, left to right.
//   - At each depth a static segment is tried first, then parameter segments
//     with more literal text, then fewer parameters; if a branch cannot
//     complete the match, the next is tried (backtracking). The first
//     template that matches and has the method wins, so a less specific
//     template may serve a method the more specific one lacks.
//   - Methods match exactly, except that HEAD uses a template's GET route
//     when that template has no HEAD route.
//   - "/items" and "/items/" are distinct, but when no template matches the
//     path as given, the path with its trailing slash added or removed is
//     tried.
package router

import (
	"fmt"
	"slices"
	"strings"
)

// Param is one path parameter captured by a match.
type Param struct{ Name, Value string }

// Status is the outcome of a match.
type Status uint8

const (
	NotFound         Status = iota // no template matches the path
	Found                          // Match.Value is the route for the method
	MethodNotAllowed               // templates match the path, none with the method
)

func (s Status) String() string {
	switch s {
	case Found:
		return "Found"
	case MethodNotAllowed:
		return "MethodNotAllowed"
	}
	return "NotFound"
}

// Match is the result of Table.Match.
type Match[T any] struct {
	Value    T
	Params   []Param
	Status   Status
	Allowed  []string // sorted; only for MethodNotAllowed
	Template string   // the matched template as registered; only for Found
}

// route is one registered method of one template.
type route[T any] struct {
	method   string
	template string
	names    []string // parameter names in capture order
	value    T
}

// Builder collects routes; not safe for concurrent use. It may be reused
// after Build: tables already built do not change.
type Builder[T any] struct {
	routes []entry[T]
	shapes map[string]string // shapeKey → template, to report conflicts
}

type entry[T any] struct {
	segs  []segment
	route route[T]
}

// NewBuilder returns an empty Builder.
func NewBuilder[T any]() *Builder[T] {
	return &Builder[T]{shapes: map[string]string{}}
}

// Add registers v for method (upper case, such as "GET") and a full path
// template beginning with '/'. It returns an error wrapping ErrMalformed for
// a bad method or template (unclosed or unmatched brace, empty or duplicate
// parameter name, two parameters with no literal between them) and one
// wrapping ErrConflict, naming both templates, when the method is already
// registered for a template of the same shape (parameter names aside).
func (b *Builder[T]) Add(method, template string, v T) error {
	if !validMethod(method) {
		return malformed(template, fmt.Sprintf("method %q is not an upper-case HTTP token", method))
	}
	segs, names, err := parseTemplate(template)
	if err != nil {
		return err
	}
	if b.shapes == nil {
		b.shapes = map[string]string{}
	}
	key := shapeKey(method, segs)
	if prev, ok := b.shapes[key]; ok {
		return conflict(method, template, prev)
	}
	b.shapes[key] = template
	b.routes = append(b.routes, entry[T]{segs, route[T]{method, template, names, v}})
	return nil
}

// Build returns a Table holding every route added so far.
func (b *Builder[T]) Build() *Table[T] {
	t := &Table[T]{}
	for _, e := range b.routes {
		n := &t.root
		for _, s := range e.segs {
			n = n.child(s)
		}
		n.routes = append(n.routes, e.route)
	}
	t.root.sort()
	return t
}

// Table is an immutable route table, safe for concurrent use. The zero
// Table matches nothing.
type Table[T any] struct{ root node[T] }

// anyMethod asks a lookup for a template with any route; it cannot be a
// real method because tokens have no spaces.
const anyMethod = " any"

// query says what a lookup must find at the end of the path.
type query struct {
	method   string
	addSlash bool // match as if the path had a trailing '/'
}

// Match finds the route for method and path, the decoded request path as in
// url.URL.Path (so an encoded "%2F" is a separator, not part of a
// parameter). Captured parameters are appended to params; when params has
// room for them and the route is found, Match does not allocate. Params of
// the result is params extended by the captures (params unchanged unless
// Found).
func (t *Table[T]) Match(method, path string, params []Param) Match[T] {
	if !strings.HasPrefix(path, "/") {
		return Match[T]{Params: params}
	}
	rest := path[1:]
	if m, ok := t.try(query{method: method}, rest, params); ok {
		return m
	}
	switch {
	case rest == "": // "/" has no slashless form
	case strings.HasSuffix(rest, "/"):
		if m, ok := t.try(query{method: method}, rest[:len(rest)-1], params); ok {
			return m
		}
	default:
		if m, ok := t.try(query{method: method, addSlash: true}, rest, params); ok {
			return m
		}
	}
	return Match[T]{Params: params}
}

// try matches rest (the path after its leading '/') and reports whether the
// outcome is decided: Found, or MethodNotAllowed because some template
// matches the path.
func (t *Table[T]) try(q query, rest string, ps []Param) (Match[T], bool) {
	base := len(ps)
	if r, out := t.root.lookup(rest, q, ps); r != nil {
		out = out[:base+len(r.names)]
		for i, name := range r.names {
			out[base+i].Name = name
		}
		return Match[T]{Value: r.value, Params: out, Status: Found, Template: r.template}, true
	}
	if r, _ := t.root.lookup(rest, query{anyMethod, q.addSlash}, ps); r == nil {
		return Match[T]{}, false
	}
	if q.addSlash {
		rest += "/"
	}
	return Match[T]{Params: ps, Status: MethodNotAllowed, Allowed: t.root.allowed(rest)}, true
}

// node is one segment position in the route tree. Its children are static
// segments keyed by text, and parameter segments in the order they are
// tried.
type node[T any] struct {
	seg      segment // how a parameter child matches; unused for static ones
	static   map[string]*node[T]
	patterns []*node[T]
	routes   []route[T] // routes whose template ends here
}

// child returns the child for s, creating it if needed.
func (n *node[T]) child(s segment) *node[T] {
	if s.static() {
		if n.static == nil {
			n.static = map[string]*node[T]{}
		}
		c := n.static[s.lits[0]]
		if c == nil {
			c = &node[T]{}
			n.static[s.lits[0]] = c
		}
		return c
	}
	for _, c := range n.patterns {
		if slices.Equal(c.seg.lits, s.lits) {
			return c
		}
	}
	c := &node[T]{seg: s}
	n.patterns = append(n.patterns, c)
	return c
}

// sort orders parameter children most specific first, throughout the tree.
func (n *node[T]) sort() {
	slices.SortFunc(n.patterns, func(a, b *node[T]) int { return compareSpecificity(a.seg, b.seg) })
	slices.SortFunc(n.routes, func(a, b route[T]) int { return strings.Compare(a.method, b.method) })
	for _, c := range n.static {
		c.sort()
	}
	for _, c := range n.patterns {
		c.sort()
	}
}

// lookup matches path (what remains after the '/' leading to n's children)
// depth first, most specific child first, and returns the first route that
// satisfies q with the captured values appended to ps. On failure ps is
// returned at its original length.
func (n *node[T]) lookup(path string, q query, ps []Param) (*route[T], []Param) {
	seg, rest, more := cutSlash(path)
	mark := len(ps)
	if c := n.static[seg]; c != nil {
		if r, out := c.descend(rest, more, q, ps); r != nil {
			return r, out
		}
	}
	for _, c := range n.patterns {
		out, ok := c.seg.match(seg, ps[:mark])
		if !ok {
			continue
		}
		if r, out := c.descend(rest, more, q, out); r != nil {
			return r, out
		}
	}
	return nil, ps[:mark]
}

// descend continues a lookup below n, or finishes it at n when the path has
// no more segments.
func (n *node[T]) descend(rest string, more bool, q query, ps []Param) (*route[T], []Param) {
	if more {
		return n.lookup(rest, q, ps)
	}
	if q.addSlash {
		if n = n.static[""]; n == nil {
			return nil, ps
		}
	}
	return n.route(q.method), ps
}

// route returns n's route for method, falling back from HEAD to GET.
func (n *node[T]) route(method string) *route[T] {
	var get *route[T]
	for i := range n.routes {
		r := &n.routes[i]
		switch {
		case r.method == method || method == anyMethod:
			return r
		case method == "HEAD" && r.method == "GET":
			get = r
		}
	}
	return get
}

// allowed lists, sorted, every method that some template matching path
// would accept, including HEAD where GET is accepted. It allocates; it is
// only used to answer 405.
func (n *node[T]) allowed(path string) []string {
	set := map[string]bool{}
	n.collect(path, set)
	if set["GET"] {
		set["HEAD"] = true
	}
	var methods []string
	for m := range set {
		methods = append(methods, m)
	}
	slices.Sort(methods)
	return methods
}

// collect adds to set the methods of every template matching path.
func (n *node[T]) collect(path string, set map[string]bool) {
	seg, rest, more := cutSlash(path)
	visit := func(c *node[T]) {
		if more {
			c.collect(rest, set)
			return
		}
		for _, r := range c.routes {
			set[r.method] = true
		}
	}
	if c := n.static[seg]; c != nil {
		visit(c)
	}
	for _, c := range n.patterns {
		if _, ok := c.seg.match(seg, nil); ok {
			visit(c)
		}
	}
}

// cutSlash is strings.Cut(path, "/") without the general substring search,
// which showed in profiles.
func cutSlash(path string) (seg, rest string, more bool) {
	if i := strings.IndexByte(path, '/'); i >= 0 {
		return path[:i], path[i+1:], true
	}
	return path, "", false
}

// Join builds the full template of an operation, /{org}/{catalog}{basePath}{path}.
// A trailing '/' on basePath is dropped (so a basePath of "/" adds nothing)
// and a missing leading one supplied, so joining never makes "//"; an empty
// path means the base path itself.
func Join(org, catalog, basePath, path string) string {
	basePath = strings.TrimSuffix(basePath, "/")
	if basePath != "" && !strings.HasPrefix(basePath, "/") {
		basePath = "/" + basePath
	}
	return "/" + org + "/" + catalog + basePath + path
}
