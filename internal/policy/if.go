package policy

import (
	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// If compiles the v5 if policy (1.0.0): run execute when condition holds.
// The API Gateway has no if (switch replaces it), but it is accepted on any
// gateway so that v5 assemblies run unchanged; the condition language follows
// the API's gateway type as for switch.
func If(b *assembly.Builder, n apidef.Node) assembly.Policy {
	cond := compileCondition(b, n)
	run := b.Execute(n.Get("execute"))
	if cond == nil {
		return nil
	}
	if run == nil {
		run = noopPolicy
	}
	return func(c *assembly.Context) error {
		hit, err := evalCondition(c, cond, "if")
		if err != nil || !hit {
			return err
		}
		return run(c)
	}
}
