package router

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Errors returned by Builder.Add, for errors.Is.
var (
	ErrMalformed = errors.New("malformed template")
	ErrConflict  = errors.New("conflicting route")
)

// segment is one '/'-separated piece of a template. lits holds the literal
// text around its parameters, so a segment with n parameters has n+1
// literals: "items" is ["items"] (static), "{id}" is ["", ""] and
// "{name}.json" is ["", ".json"].
type segment struct{ lits []string }

func (s segment) static() bool { return len(s.lits) == 1 }

// shape is the segment with parameter names erased; two templates whose
// segments have the same shapes match exactly the same paths.
func (s segment) shape() string { return strings.Join(s.lits, "{}") }

// literalLen is the number of literal bytes a match must contain.
func (s segment) literalLen() int {
	n := 0
	for _, l := range s.lits {
		n += len(l)
	}
	return n
}

// compareSpecificity orders segments most specific first: static segments
// beat parameter segments, then more literal bytes win ("{n}.json" before
// "{n}"), then fewer parameters, then the shape text so that the order is
// deterministic. It returns a negative number when a is tried before b.
func compareSpecificity(a, b segment) int {
	switch {
	case a.static() != b.static():
		if a.static() {
			return -1
		}
		return 1
	case a.literalLen() != b.literalLen():
		return b.literalLen() - a.literalLen()
	case len(a.lits) != len(b.lits):
		return len(a.lits) - len(b.lits)
	}
	return strings.Compare(a.shape(), b.shape())
}

// match reports whether the request segment s matches this parameter
// segment, appending the captured values (names are filled in later, since
// routes sharing a node may name their parameters differently). Each
// parameter takes the shortest non-empty text up to the next literal, left
// to right; the last one takes what is left before the suffix. Because every
// parameter is non-empty and literals sit between them, the shortest split
// succeeds whenever any split does.
func (s segment) match(v string, ps []Param) ([]Param, bool) {
	last := len(s.lits) - 1
	prefix, suffix := s.lits[0], s.lits[last]
	if !strings.HasPrefix(v, prefix) || !strings.HasSuffix(v[len(prefix):], suffix) {
		return ps, false
	}
	v = v[len(prefix) : len(v)-len(suffix)]
	mark := len(ps)
	for _, lit := range s.lits[1:last] {
		i := -1
		if v != "" {
			i = strings.Index(v[1:], lit)
		}
		if i < 0 {
			return ps[:mark], false
		}
		ps = append(ps, Param{Value: v[:i+1]})
		v = v[i+1+len(lit):]
	}
	if v == "" {
		return ps[:mark], false
	}
	return append(ps, Param{Value: v}), true
}

// parseTemplate splits a full path template into segments and collects its
// parameter names in order.
func parseTemplate(template string) ([]segment, []string, error) {
	if !strings.HasPrefix(template, "/") {
		return nil, nil, malformed(template, "must start with '/'")
	}
	var segs []segment
	var names []string
	for _, part := range strings.Split(template[1:], "/") {
		lits, err := parseSegment(part, &names)
		if err != nil {
			return nil, nil, malformed(template, err.Error())
		}
		segs = append(segs, segment{lits})
	}
	return segs, names, nil
}

// parseSegment returns the literals of one segment and appends its
// parameter names to *names, rejecting names already there.
func parseSegment(part string, names *[]string) ([]string, error) {
	var lits []string
	for {
		open := strings.IndexByte(part, '{')
		if open < 0 {
			if strings.Contains(part, "}") {
				return nil, errors.New("unmatched '}'")
			}
			return append(lits, part), nil
		}
		lit := part[:open]
		switch {
		case strings.Contains(lit, "}"):
			return nil, errors.New("unmatched '}'")
		case len(lits) > 0 && lit == "":
			// "{a}{b}" has no text to split on, so no match could be defined.
			return nil, errors.New("adjacent parameters need a literal between them")
		}
		end := strings.IndexByte(part[open:], '}')
		if end < 0 {
			return nil, errors.New("unclosed '{'")
		}
		name := part[open+1 : open+end]
		switch {
		case name == "":
			return nil, errors.New("empty parameter name")
		case strings.Contains(name, "{"):
			return nil, errors.New("unclosed '{'")
		case slices.Contains(*names, name):
			return nil, fmt.Errorf("duplicate parameter %q", name)
		}
		*names = append(*names, name)
		lits = append(lits, lit)
		part = part[open+end+1:]
	}
}

func malformed(template, why string) error {
	return fmt.Errorf("router: %w %q: %s", ErrMalformed, template, why)
}

// shapeKey identifies a method and template shape; two Adds with the same
// key would be ambiguous.
func shapeKey(method string, segs []segment) string {
	var b strings.Builder
	b.WriteString(method)
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s.shape())
	}
	return b.String()
}

// validMethod accepts upper-case HTTP method tokens. Matching is exact, so a
// lower-case method would silently never match a request.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range []byte(m) {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func conflict(method, template, prev string) error {
	return fmt.Errorf("router: %w: %s %q is equivalent to already registered %q", ErrConflict, method, template, prev)
}
