package policy

import (
	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/policy/gatewayscript"
)

// GatewayScript compiles the gatewayscript policy (API Gateway 2.0.0): a
// JavaScript program with DataPower's programming model. The engine lives
// in the gatewayscript package, so this package stays small; its options
// come from the assembly.Env (gatewayscript.Install), defaults otherwise.
func GatewayScript(b *assembly.Builder, n apidef.Node) assembly.Policy {
	return gatewayscript.GatewayScript(b, n)
}

// JavaScript compiles the v5 javascript policy with the same engine.
func JavaScript(b *assembly.Builder, n apidef.Node) assembly.Policy {
	return gatewayscript.JavaScript(b, n)
}
