package assembly

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/portico-api/portico/internal/apidef"
)

// Builder compiles one API's assembly. Factories use it to compile nested
// execute lists and templates and to report problems with their location.
type Builder struct {
	Registry *Registry
	API      *apidef.API
	Env      *Env
	// Dir is the directory of the configuration being loaded; files that
	// policies refer to (CA bundles, for instance) are relative to it.
	Dir string
	// TLSProfiles are the catalog's TLS client profiles by name, for
	// policies that call out (invoke's tls-profile).
	TLSProfiles map[string]*tls.Config
	// Info is the API as the gateway will run it: org and its ID, catalog,
	// and properties with the catalog's overrides. It is nil when an API is
	// checked on its own (portico validate), where no catalog applies.
	Info *APIInfo

	problems apidef.Problems
	// bodyRead is shared with the policies that stream bodies: it is
	// final once the whole assembly is compiled, before any request runs.
	bodyRead *bool
}

// MarkRequestBodyRead records that a policy of this assembly may read the
// original request body, so no policy may consume it as a stream. Templates
// and variable names that mention request.body mark it by themselves;
// policies that read the request in other ways (scripts, parse of the
// request, validation) call it from their factory.
func (b *Builder) MarkRequestBodyRead() { *b.requestBodyFlag() = true }

// RequestBodyRead returns a flag that is true when anything in the assembly
// may read the original request body. Its value is final when compilation
// ends: a policy keeps the pointer and reads it at run time, so a policy
// compiled early sees what later policies declared. When it is false,
// invoke streams an untouched request body to the back end.
func (b *Builder) RequestBodyRead() *bool { return b.requestBodyFlag() }

func (b *Builder) requestBodyFlag() *bool {
	if b.bodyRead == nil {
		b.bodyRead = new(bool)
	}
	return b.bodyRead
}

// markRef marks the request body read when r names it.
func (b *Builder) markRef(r Ref) {
	if len(r.segs) >= 2 && r.segs[0] == "request" && r.segs[1] == "body" || len(r.segs) == 1 && r.segs[0] == "request" {
		b.MarkRequestBodyRead()
	}
}

// NewBuilder prepares to compile api's assembly.
func NewBuilder(reg *Registry, api *apidef.API, env *Env, dir string) *Builder {
	if env == nil {
		env = &Env{}
	}
	return &Builder{Registry: reg, API: api, Env: env, Dir: dir}
}

// Problems returns what was reported so far.
func (b *Builder) Problems() apidef.Problems { return b.problems }

// Report records a problem.
func (b *Builder) Report(p apidef.Problem) { b.problems = append(b.problems, p) }

// Reportf records a problem located at n.
func (b *Builder) Reportf(n apidef.Node, format string, args ...any) {
	b.Report(n.Problemf(format, args...))
}

// Template parses the string at n as a $(…) template. A problem is reported
// and a constant template returned when it does not parse.
func (b *Builder) Template(n apidef.Node) *Template {
	s := n.Str()
	t, err := ParseTemplate(s)
	var unclosed *UnclosedError
	switch {
	case errors.As(err, &unclosed):
		b.Report(n.Warning(err.Error()+"; the text after it is used as it is", "close every $( with )"))
	case err != nil:
		b.Report(n.Problem(err.Error(), "write references as $(name), e.g. $(request.path)"))
		return &Template{src: s, lits: []string{s}}
	}
	for _, r := range t.refs {
		b.markRef(r)
	}
	return t
}

// Ref parses the variable name at n.
func (b *Builder) Ref(n apidef.Node) (Ref, bool) {
	r, err := ParseRef(n.Str())
	if err != nil {
		b.Report(n.Problem(err.Error(), "name a variable such as message.body or my.var"))
		return Ref{}, false
	}
	b.markRef(r)
	return r, true
}

// step is one compiled entry of an execute list.
type step struct {
	name string
	run  Policy
}

// Execute compiles an execute list (a sequence of single-key mappings,
// `- policy-name: {settings}`) into one Policy that runs them in order and
// stops at the first error.
func (b *Builder) Execute(list apidef.Node) Policy {
	if list.IsNull() {
		return nil
	}
	if !list.IsSeq() {
		b.Report(list.Problem("expected a list of policies", "write each policy as `- policy-name: {…}`"))
		return nil
	}
	var steps []step
	for _, item := range list.Items() {
		if s, ok := b.compileStep(item); ok {
			steps = append(steps, s)
		}
	}
	return sequence(steps)
}

func (b *Builder) compileStep(item apidef.Node) (step, bool) {
	keys := item.Keys()
	if !item.IsMap() || len(keys) != 1 {
		b.Report(item.Problem("a policy entry must be a mapping with exactly one key, the policy name",
			"write `- invoke: {version: 2.0.0, target-url: …}`"))
		return step{}, false
	}
	name := keys[0]
	settings := item.Get(name)
	f, ok := b.Registry.Lookup(name)
	if !ok {
		b.Report(unknownPolicy(item.KeyNode(name), name))
		return step{}, false
	}
	run := f(b, settings)
	if run == nil {
		return step{}, false
	}
	return step{name: name, run: run}, true
}

func unknownPolicy(at apidef.Node, name string) apidef.Problem {
	if apicPolicies[name] {
		return at.Problem(fmt.Sprintf("policy %q is not supported by this version of Portico", name),
			"remove it or replace it with a supported policy; `portico policies` lists them")
	}
	return at.Problem(fmt.Sprintf("policy %q is not installed: it is not an API Connect built-in, so it is a user-defined policy", name),
		"user-defined policies are not supported yet; replace it with built-in policies")
}

// sequence runs steps in order. It checks for a cancelled request between
// steps so an abandoned call stops early.
func sequence(steps []step) Policy {
	switch len(steps) {
	case 0:
		return func(*Context) error { return nil }
	case 1:
		s := steps[0]
		return func(c *Context) error { return runStep(c, s) }
	}
	return func(c *Context) error {
		for _, s := range steps {
			if err := c.Ctx.Err(); err != nil {
				return &Error{Name: RuntimeError, Status: 499, Reason: "Client Closed Request", Message: "the request was cancelled", Cause: err}
			}
			if err := runStep(c, s); err != nil {
				return err
			}
		}
		return nil
	}
}

func runStep(c *Context, s step) error {
	c.Policy = s.name
	err := s.run(c)
	if err == nil {
		return nil
	}
	e := AsError(err)
	if e.Policy == "" {
		e.Policy = s.name
	}
	return e
}
