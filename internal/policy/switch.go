package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/expr"
	"go.yaml.in/yaml/v3"
)

// switchCase is one compiled `case` of a switch: the first whose condition
// holds runs its execute list.
type switchCase struct {
	cond *expr.Condition
	run  assembly.Policy // never nil: an empty execute list is a no-op
}

// Switch compiles the switch policy (API Gateway 2.0.0; v5 1.0.0):
//
//	case: [{condition, execute}, …]   first true condition runs its execute
//	otherwise: […]                    when none holds
//
// API Connect's assembly editor writes otherwise as the last item of the
// case list (`- otherwise: […]`); both forms are accepted. Conditions are
// JSONata on the API Gateway, JavaScript on the v5 gateway.
func Switch(b *assembly.Builder, n apidef.Node) assembly.Policy {
	list := n.Get("case")
	if !list.IsSeq() {
		b.Report(missingSetting(n, "case", "switch needs case: a list of conditions with the policies each one runs",
			"write `case: [{condition: \"$httpVerb() = 'GET'\", execute: […]}]`"))
		return nil
	}
	var cases []switchCase
	ow := newOtherwise(b, n)
	ok := true
	for _, item := range list.Items() {
		if ow.fromCase(item) {
			continue
		}
		if !item.IsMap() || !item.Has("condition") {
			b.Report(item.Problem("a switch case needs a condition and an execute list",
				"write `- condition: …` with `execute: […]`, or `- otherwise: […]` as the last case"))
			ok = false
			continue
		}
		cond := compileCondition(b, item)
		run := b.Execute(item.Get("execute"))
		if cond == nil {
			ok = false
			continue
		}
		cases = append(cases, switchCase{cond: cond, run: orNoop(run)})
	}
	if !ok {
		return nil
	}
	otherwise := ow.run
	return func(c *assembly.Context) error {
		for i := range cases {
			hit, err := evalCondition(c, cases[i].cond, "switch")
			if err != nil {
				return err
			}
			if hit {
				return cases[i].run(c)
			}
		}
		if otherwise != nil {
			return otherwise(c)
		}
		return nil
	}
}

// otherwiseBranch collects a switch's otherwise, written either beside
// case (`otherwise: […]`) or as an item of the case list
// (`- otherwise: […]`), reporting a second one.
type otherwiseBranch struct {
	b    *assembly.Builder
	seen bool
	run  assembly.Policy
}

func newOtherwise(b *assembly.Builder, n apidef.Node) *otherwiseBranch {
	o := &otherwiseBranch{b: b}
	if on := n.Get("otherwise"); !on.IsZero() {
		o.seen = true
		o.run = b.Execute(on)
	}
	return o
}

// fromCase takes item when it is an otherwise item of the case list.
func (o *otherwiseBranch) fromCase(item apidef.Node) bool {
	if !item.IsMap() || !item.Has("otherwise") {
		return false
	}
	if item.Has("condition") || item.Has("operations") {
		o.b.Report(item.KeyNode("otherwise").Problem("a case has both otherwise and a condition",
			"make otherwise its own item at the end of the case list: `- otherwise: […]`"))
		return true
	}
	if o.seen {
		o.b.Report(item.KeyNode("otherwise").Problem("more than one otherwise",
			"keep a single otherwise: either `otherwise:` beside case, or `- otherwise:` as the last case"))
		return true
	}
	o.seen = true
	o.run = o.b.Execute(item.Get("otherwise"))
	return true
}

// conditionLang is the condition language of the API's gateway type:
// JSONata on the DataPower API Gateway, JavaScript on the v5-compatible
// gateway, and either (JSONata first) when the API does not say.
func conditionLang(b *assembly.Builder) expr.Lang {
	if b.API == nil {
		return expr.Auto
	}
	return expr.LangForGateway(b.API.Gateway)
}

// compileCondition compiles the condition of the settings (or case) at
// parent, reporting a problem when it is missing or does not compile.
func compileCondition(b *assembly.Builder, parent apidef.Node) *expr.Condition {
	lang := conditionLang(b)
	n := parent.Get("condition")
	if !n.IsScalar() || strings.TrimSpace(n.Str()) == "" {
		b.Report(missingSetting(parent, "condition", "condition is missing or empty", conditionHint(lang)))
		return nil
	}
	if strings.Contains(n.Str(), "request.body") {
		b.MarkRequestBodyRead()
	}
	cond, err := expr.CompileCondition(n.Str(), lang)
	if err != nil && lang == expr.JSONata {
		// API Connect runs such files (often moved from the v5 gateway), so
		// a condition that is JavaScript runs as JavaScript, with a warning.
		if js, jsErr := expr.CompileCondition(n.Str(), expr.JavaScript); jsErr == nil {
			b.Report(n.Warning("the condition is JavaScript, not JSONata: it runs as JavaScript",
				conditionHint(lang)))
			return js
		}
	}
	if err != nil {
		p := n.Problem(fmt.Sprintf("condition does not compile: %v", err), conditionHint(lang))
		p.Column += syntaxColumn(n, err)
		b.Report(p)
		return nil
	}
	return cond
}

// syntaxColumn is how far into the condition's scalar the syntax error
// lies, when that can be told: a one-line plain or single-quoted scalar.
func syntaxColumn(n apidef.Node, err error) int {
	var se *expr.SyntaxError
	if !errors.As(err, &se) || se.Column <= 0 || se.Line > 1 || n.Y == nil || strings.Contains(n.Str(), "\n") {
		return 0
	}
	switch n.Y.Style {
	case 0:
		return se.Column - 1
	case yaml.SingleQuotedStyle:
		if !strings.Contains(n.Str(), "'") {
			return se.Column // after the opening quote
		}
	}
	return 0
}

func conditionHint(lang expr.Lang) string {
	switch lang {
	case expr.JSONata:
		return "on the API Gateway a condition is JSONata, e.g. $httpVerb() = 'GET' and $operationPath() = '/items'"
	case expr.JavaScript:
		return "on the v5 gateway (datapower-gateway) a condition is JavaScript, e.g. request.verb === 'GET'"
	}
	return "write a JSONata condition such as $httpVerb() = 'GET', or set x-ibm-configuration.gateway to say which language the API uses"
}

// evalCondition evaluates cond for the request. A failure is a RuntimeError
// that names the condition.
func evalCondition(c *assembly.Context, cond *expr.Condition, policy string) (bool, error) {
	hit, err := cond.Eval(c.Ctx, c)
	if err != nil {
		return false, &assembly.Error{Name: assembly.RuntimeError,
			Message: fmt.Sprintf("%s: evaluating condition %q failed: %v", policy, cond.String(), err), Cause: err}
	}
	return hit, nil
}

// noopPolicy stands for an empty (or absent) execute list of a branch that
// was chosen: choosing it must still stop the search.
func noopPolicy(*assembly.Context) error { return nil }

func orNoop(p assembly.Policy) assembly.Policy {
	if p == nil {
		return noopPolicy
	}
	return p
}

// missingSetting is the problem of a required setting key that n lacks: it names
// the missing field and is located at the policy's settings.
func missingSetting(n apidef.Node, key, msg, hint string) apidef.Problem {
	p := n.Get(key).Problem(msg, hint)
	if p.Line == 0 && n.Y != nil {
		p.Line, p.Column = n.Y.Line, n.Y.Column
	}
	return p
}
