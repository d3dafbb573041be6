package assembly

import (
	"github.com/portico-api/portico/internal/apidef"
)

// Assembly is a compiled x-ibm-configuration.assembly: the execute flow and
// its catch clauses. It is immutable and shared by all requests.
type Assembly struct {
	execute Policy
	catches []catchClause
}

type catchClause struct {
	names     map[string]bool // nil for default
	isDefault bool
	run       Policy
}

// Compile compiles the API's assembly. Problems are collected in b.
func Compile(b *Builder) *Assembly {
	n := b.API.Assembly
	a := &Assembly{}
	if n.IsNull() {
		return a
	}
	a.execute = b.Execute(n.Get("execute"))
	for _, cn := range n.Get("catch").Items() {
		switch {
		case cn.Has("default"):
			a.catches = append(a.catches, catchClause{isDefault: true, run: b.Execute(cn.Get("default"))})
		case cn.Has("errors"):
			names := map[string]bool{}
			for _, e := range cn.Strings("errors") {
				names[e] = true
			}
			a.catches = append(a.catches, catchClause{names: names, run: b.Execute(cn.Get("execute"))})
		default:
			b.Report(cn.Problem("a catch entry needs errors: [...] with execute:, or default:",
				"write `- errors: [ConnectionError]` with `execute: […]`, or `- default: […]`"))
		}
	}
	return a
}

// Empty reports whether the assembly has no execute flow.
func (a *Assembly) Empty() bool { return a.execute == nil }

// Run executes the flow. An error is handled by the first catch clause that
// names it (or by a default clause, for the errors default takes); after a
// catch clause runs, the flow ends. Run returns the error that remains
// uncaught, which the caller turns into the response.
func (a *Assembly) Run(c *Context) error {
	if a.execute == nil {
		return nil
	}
	err := a.execute(c)
	if err == nil {
		return nil
	}
	e := AsError(err)
	for _, cl := range a.catches {
		if cl.names[e.Name] || (cl.isDefault && !notDefaultCaught[e.Name]) {
			c.setCaught(e)
			if cl.run == nil {
				return nil
			}
			return cl.run(c)
		}
	}
	return e
}

// setCaught makes the caught error visible to the catch flow: the message
// takes the error's status, and error.* describes it.
func (c *Context) setCaught(e *Error) {
	c.Message.Status = e.StatusCode()
	c.Message.Reason = e.StatusReason()
	c.SetVar("error", map[string]any{
		"name":    e.Name,
		"message": e.Message,
		"policy":  e.Policy,
		"status":  map[string]any{"code": e.StatusCode(), "reason": e.StatusReason()},
	})
}

// CompileAPI is a convenience: compile api's assembly with reg and return
// it with all problems found.
func CompileAPI(reg *Registry, api *apidef.API, env *Env, dir string) (*Assembly, apidef.Problems) {
	b := NewBuilder(reg, api, env, dir)
	a := Compile(b)
	return a, b.Problems()
}
