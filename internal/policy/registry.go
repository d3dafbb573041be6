// Package policy holds Portico's built-in assembly policies, one file per
// policy, each with API Connect's field names and defaults.
package policy

import "github.com/portico-api/portico/internal/assembly"

// Builtins returns a registry with every built-in policy. Adding a policy
// means adding its file and one line here.
func Builtins() *assembly.Registry {
	r := assembly.NewRegistry()
	r.Register("invoke", Invoke)
	r.Register("proxy", Proxy)
	r.Register("set-variable", SetVariable)
	r.Register("parse", Parse)
	r.Register("throw", Throw)
	r.Register("log", Log)
	r.Register("activity-log", ActivityLog)
	r.Register("switch", Switch)
	r.Register("operation-switch", OperationSwitch)
	r.Register("if", If)
	r.Register("gatewayscript", GatewayScript)
	r.Register("javascript", JavaScript)
	r.Register("validate", Validate)
	r.Register("json-to-xml", JSONToXML)
	r.Register("xml-to-json", XMLToJSON)
	r.Register("xslt", XSLT)
	r.Register("aws-lambda", AWSLambda)
	r.Register("ratelimit", RateLimit)
	r.Register("jwt-validate", JWTValidate)
	r.Register("jwt-generate", JWTGenerate)
	r.Register("client-security", ClientSecurity)
	r.Register("map", Map)
	r.Register("extract", Extract)
	r.Register("redact", Redact)
	r.Register("ltpa-generate", LTPAGenerate)
	return r
}
