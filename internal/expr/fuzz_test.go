package expr

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FuzzCompileCondition: no input may panic, in any language mode, at compile
// time or when the compiled condition is evaluated.
func FuzzCompileCondition(f *testing.F) {
	for _, s := range []string{
		`$(request.headers.opname) = 'create'`,
		`request.headers.xml = "true"`,
		`($exists(message.body.data))`,
		`(myApi = 'summary')`,
		`$apiCtx().tokenFoundInCache = 'true'`,
		`(($httpVerb() = 'GET' and $operationPath() = '/current'))`,
		`$header("Content-Type")="application/xml"`,
		`$queryParameter('zip') = '1' or $urlParameter('id') = '2' or $statusCode() = 200`,
		`((request.verb==='GET')&&(api.operation.path==='/test'))`,
		`$(message.status.code) == '200'`,
		`apim.getvariable('message.status.code') != '200'`,
		`$(request.headers.content-type) == "application/xml"`,
		`"$(apiName) === 'summary'"`,
		`'true'`,
		"`${request.verb}` /* c */ // x\n",
		`/a$(b)/.test('x')`,
		`$match(request.verb, /G(E)T/i)`,
		`$(`, `$()`, `$(a`, `"unterminated`, "`", `/*`, `/`, `$`, `$$`, `**`, `%`, `@`, `#`,
		`request.headers.\u00e9 = 1`, "a\x00b", `{ "a": [1..3] }`, `$x := function($y){ $y * 2 }; $x(3)`,
	} {
		f.Add(s)
	}
	env := newTestEnv(sampleContext())
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 4096 {
			return
		}
		for _, lang := range []Lang{Auto, JSONata, JavaScript} {
			c, err := CompileCondition(src, lang)
			if err != nil {
				var se *SyntaxError
				var ae *autoError
				if !errors.As(err, &se) && !errors.As(err, &ae) {
					t.Fatalf("%v: compile error %T is not a syntax error: %v", lang, err, err)
				}
				if se != nil && se.Column < 0 {
					t.Fatalf("negative column: %v", err)
				}
				continue
			}
			if c.String() != src {
				t.Fatalf("String() = %q", c.String())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			_, _ = c.Eval(ctx, env)
			cancel()
		}
	})
}
