package assembly

import (
	"fmt"
	"strings"
)

// Template is a string with $(variable) references, parsed once at load
// time. A missing variable renders as the empty string, as in API Connect.
type Template struct {
	src  string
	lits []string // len(lits) == len(refs)+1
	refs []Ref
}

// maxPropertyDepth bounds properties that reference properties, so a
// property that refers to itself cannot loop.
const maxPropertyDepth = 8

// ParseTemplate parses s. "$(" without a closing ")" is an error; a "$" not
// followed by "(" is literal text.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{src: s}
	rest := s
	var lit strings.Builder
	for {
		i := strings.Index(rest, "$(")
		if i < 0 {
			lit.WriteString(rest)
			break
		}
		lit.WriteString(rest[:i])
		end := strings.IndexByte(rest[i+2:], ')')
		if end < 0 {
			// The rest is literal text; the error says so, and the
			// template is still usable, as API Connect treats it.
			lit.WriteString(rest[i:])
			t.lits = append(t.lits, lit.String())
			return t, &UnclosedError{Column: len(s) - len(rest) + i + 1, Source: s}
		}
		name := rest[i+2 : i+2+end]
		ref, err := ParseRef(name)
		if err != nil {
			return nil, fmt.Errorf("bad reference $(%s): %v", name, err)
		}
		t.lits = append(t.lits, lit.String())
		lit.Reset()
		t.refs = append(t.refs, ref)
		rest = rest[i+2+end+1:]
	}
	t.lits = append(t.lits, lit.String())
	return t, nil
}

// UnclosedError reports a "$(" with no ")". ParseTemplate returns it with a
// usable template that keeps the rest of the text as it is.
type UnclosedError struct {
	Column int
	Source string
}

func (e *UnclosedError) Error() string {
	return fmt.Sprintf("unclosed $( at column %d of %q", e.Column, e.Source)
}

// MustTemplate is ParseTemplate for constants in code and tests.
func MustTemplate(s string) *Template {
	t, err := ParseTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

// Source returns the template as written.
func (t *Template) Source() string { return t.src }

// IsConst reports whether the template has no references.
func (t *Template) IsConst() bool { return len(t.refs) == 0 }

// Refs returns the variables the template refers to.
func (t *Template) Refs() []Ref { return t.refs }

// Render substitutes every reference with the variable's text.
func (t *Template) Render(c *Context) string {
	if len(t.refs) == 0 {
		return t.lits[0]
	}
	if len(t.refs) == 1 && t.lits[0] == "" && t.lits[1] == "" {
		v, _ := c.Lookup(t.refs[0])
		return stringify(v)
	}
	var b strings.Builder
	for i, r := range t.refs {
		b.WriteString(t.lits[i])
		v, _ := c.Lookup(r)
		b.WriteString(stringify(v))
	}
	b.WriteString(t.lits[len(t.lits)-1])
	return b.String()
}

// Value is like Render, but when the whole template is one reference it
// returns the variable's value unchanged (an object stays an object), as
// set-variable's `type: any` needs.
func (t *Template) Value(c *Context) any {
	if len(t.refs) == 1 && t.lits[0] == "" && t.lits[1] == "" {
		v, _ := c.Lookup(t.refs[0])
		return v
	}
	return t.Render(c)
}
