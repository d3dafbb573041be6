// Package apidef loads API Connect artefacts: OpenAPI 2 and 3 documents that
// carry the x-ibm-configuration extension, and product files. It keeps the
// YAML node tree so that every problem it or a later stage reports can name
// the file, line and field.
package apidef

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a document, located precisely enough that
// a user can go and fix it.
type Problem struct {
	File   string
	Line   int
	Column int
	Field  string // dotted path of the field, e.g. x-ibm-configuration.assembly.execute[2].invoke.target-url
	Msg    string // what is wrong
	Hint   string // what to do about it; may be empty
	// Warn marks a problem that does not stop the document being served:
	// API Connect accepts it too, but it is probably a mistake.
	Warn bool
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ":%d", p.Column)
		}
	}
	b.WriteString(": ")
	if p.Warn {
		b.WriteString("warning: ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	if p.Hint != "" {
		b.WriteString(" (")
		b.WriteString(p.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Problems is a list of problems; as an error it prints one per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns the errors among ps (warnings left out) as an error, or nil
// when there are none.
func (ps Problems) Err() error {
	if errs := ps.Errors(); len(errs) > 0 {
		return errs
	}
	return nil
}

// Errors returns the problems that are not warnings.
func (ps Problems) Errors() Problems { return ps.filter(false) }

// Warnings returns the warnings.
func (ps Problems) Warnings() Problems { return ps.filter(true) }

func (ps Problems) filter(warn bool) Problems {
	var out Problems
	for _, p := range ps {
		if p.Warn == warn {
			out = append(out, p)
		}
	}
	return out
}
