package assembly

import (
	"fmt"
	"net/textproto"
	"strings"
)

// Ref is a context variable name ("request.headers.x-id", "iam.body.token")
// split into segments once, at load time, so that a lookup on the request
// path does no parsing.
type Ref struct {
	Name string
	segs []string
	// header is the canonical header name when the ref is
	// <message>.headers.<name>, computed once.
	header string
}

// ParseRef parses a variable name. It accepts dots and the bracket form
// API Connect allows for odd names: request.headers['Content-Type'].
func ParseRef(name string) (Ref, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Ref{}, fmt.Errorf("empty variable name")
	}
	var segs []string
	var cur strings.Builder
	for i := 0; i < len(name); i++ {
		ch := name[i]
		switch ch {
		case '.':
			if cur.Len() == 0 {
				return Ref{}, fmt.Errorf("variable name %q has an empty part", name)
			}
			segs = append(segs, cur.String())
			cur.Reset()
		case '[':
			end := strings.IndexByte(name[i:], ']')
			if end < 0 {
				return Ref{}, fmt.Errorf("variable name %q has an unclosed [", name)
			}
			inner := strings.Trim(name[i+1:i+end], `'"`)
			if cur.Len() > 0 {
				segs = append(segs, cur.String())
				cur.Reset()
			}
			segs = append(segs, inner)
			i += end
			if i+1 < len(name) && name[i+1] == '.' {
				i++
			}
		default:
			cur.WriteByte(ch)
		}
	}
	if cur.Len() > 0 {
		segs = append(segs, cur.String())
	}
	if len(segs) == 0 {
		return Ref{}, fmt.Errorf("empty variable name")
	}
	r := Ref{Name: strings.Join(segs, "."), segs: segs}
	if i := indexOf(segs, "headers"); i >= 0 && i+1 < len(segs) {
		r.header = textproto.CanonicalMIMEHeaderKey(strings.Join(segs[i+1:], "."))
	}
	return r, nil
}

// MustRef is ParseRef for names known to be valid (constants in code).
func MustRef(name string) Ref {
	r, err := ParseRef(name)
	if err != nil {
		panic(err)
	}
	return r
}

// Root is the first segment: request, message, api, or a user variable.
func (r Ref) Root() string {
	if len(r.segs) == 0 {
		return ""
	}
	return r.segs[0]
}

func (r Ref) String() string { return r.Name }

// Segments returns the name's parts (a bracketed part may hold dots).
func (r Ref) Segments() []string { return append([]string(nil), r.segs...) }

func indexOf(segs []string, s string) int {
	for i, x := range segs {
		if x == s {
			return i
		}
	}
	return -1
}

func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
