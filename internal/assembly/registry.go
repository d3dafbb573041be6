// Package assembly compiles and runs API Connect assemblies: the ordered
// policies of x-ibm-configuration.assembly.execute, their $(…) templates,
// and catch clauses. Policies themselves live elsewhere and plug in through
// a Registry; this package knows none of them.
package assembly

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/portico-api/portico/internal/apidef"
)

// Policy is a compiled assembly step: it runs against one request's context.
type Policy func(c *Context) error

// Factory compiles one policy's settings into a Policy. It reports problems
// through the Builder (so several can be found in one pass) and may return
// nil when the settings are unusable.
type Factory func(b *Builder, settings apidef.Node) Policy

// Registry maps policy names to their factories. It is filled once at start
// and only read afterwards.
type Registry struct {
	factories map[string]Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{factories: map[string]Factory{}} }

// Register adds a policy under name.
func (r *Registry) Register(name string, f Factory) { r.factories[name] = f }

// Lookup returns the factory for name.
func (r *Registry) Lookup(name string) (Factory, bool) {
	f, ok := r.factories[name]
	return f, ok
}

// Without returns a copy of r in which the named policies are refused
// with a load error that says they are disabled on this gateway, so that
// an operator can keep, say, gatewayscript off an edge gateway. A name
// that r does not know is an error: a typo must not leave a policy on.
func (r *Registry) Without(names ...string) (*Registry, error) {
	out := NewRegistry()
	for n, f := range r.factories {
		out.factories[n] = f
	}
	for _, n := range names {
		if _, ok := r.factories[n]; !ok {
			return nil, fmt.Errorf("no policy named %q to disable; see portico policies", n)
		}
		out.factories[n] = disabled(n)
	}
	return out, nil
}

func disabled(name string) Factory {
	return func(b *Builder, settings apidef.Node) Policy {
		b.Reportf(settings, "the %s policy is disabled on this gateway (--disable-policy); use another policy or a gateway that allows it", name)
		return nil
	}
}

// Names lists the registered policies, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.factories))
	for n := range r.factories {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// apicPolicies are the policy names API Connect itself defines (built in on
// one of its gateways). A name outside this list in an assembly is a
// user-defined policy.
var apicPolicies = map[string]bool{
	"invoke": true, "proxy": true, "set-variable": true, "switch": true, "operation-switch": true,
	"if": true, "throw": true, "gatewayscript": true, "javascript": true, "parse": true, "map": true,
	"ratelimit": true, "ratelimitinfo": true, "validate": true, "log": true, "activity-log": true,
	"json-to-xml": true, "xml-to-json": true, "xslt": true, "redact": true, "extract": true,
	"client-security": true, "jwt-validate": true, "jwt-generate": true, "oauth": true,
	"user-security": true, "ltpa-generate": true, "aws-lambda": true, "websocket-upgrade": true,
	"graphql-introspect": true, "graphql-execute": true, "graphql-cost-analysis": true,
	"graphql-result-filter": true, "soap-invoke": true, "security": true, "conditional": true,
	"validate-usernametoken": true, "set-variable-v5": true, "microgateway": true,
}

// Env holds what outlives one configuration load: the logger and resources
// that should be shared across reloads, such as HTTP transports whose
// connections should be kept. It is safe for concurrent use.
type Env struct {
	Logger    *slog.Logger
	resources sync.Map
}

// Resource returns the shared resource under key, creating it once.
func (e *Env) Resource(key string, create func() any) any {
	if v, ok := e.resources.Load(key); ok {
		return v
	}
	v, _ := e.resources.LoadOrStore(key, create())
	return v
}
