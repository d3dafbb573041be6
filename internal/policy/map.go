package policy

import (
	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/policy/mapping"
)

// Map compiles the map policy (API Gateway 2.0.0 and 2.1.0; v5 1.0.0):
//
//	inputs:  {name: {schema, variable, content}}   where values come from
//	outputs: {name: {schema, variable, content}}   where results go
//	actions:
//	- set: output.path          (or create:)
//	  from: input.path          (or a list of paths)
//	  value: expression         JSONata, or JavaScript as API Connect writes it: $(1) is the first from value
//	  default: constant         when from finds nothing
//	  foreach: input.array      with nested actions: one output element per input element
//	options: {mapNullValue, mapCreateEmptyArray, mapResolveApicVariables, …}
//
// The engine lives in package mapping; see its documentation for the
// rules of paths, values, schemas and XML.
func Map(b *assembly.Builder, n apidef.Node) assembly.Policy {
	m := mapping.Compile(b, n)
	if m == nil {
		return nil
	}
	return m.Run
}
