package gatewayscript_test

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/assembly"
)

func TestContextVariables(t *testing.T) {
	c := mustRun(t, script(`
var id = context.get('request.headers.x-id');
context.set('my.id', id);
context.set('my.obj', {a: [1, 'two', true, null], b: {c: 1.5}});
context.set('my.n', 42);
context.set('message.headers.x-greeting', context.get('greeting') + ', ' + context.get('request.parameters.q').values[0]);
context.set('gone', 'soon');
context.clear('gone');
context.set('verb', context.get('request.verb'));
context.set('apiinfo', context.get('api.name') + ' ' + context.get('api').catalog.name);
var missing = context.get('no.such.thing');
context.set('missingIsUndefined', missing === undefined);
`), request{target: "/test/items?q=tea", headers: []string{"X-Id", "abc"}})

	want := map[string]any{
		"my.id":              "abc",
		"my.obj":             map[string]any{"a": []any{1.0, "two", true, nil}, "b": map[string]any{"c": 1.5}},
		"my.n":               42.0,
		"verb":               "GET",
		"missingIsUndefined": true,
	}
	for name, w := range want {
		if got := varOf(t, c, name); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", name, got, w)
		}
	}
	if got := c.Message.Headers.Get("X-Greeting"); got != "hello, tea" {
		t.Errorf("x-greeting = %q", got)
	}
	if _, ok := c.Var("gone"); ok {
		t.Error("gone was not cleared")
	}
	if got := varOf(t, c, "apiinfo"); got != "script-test sandbox" {
		t.Errorf("apiinfo = %v", got)
	}
}

func TestHeadersAndStatus(t *testing.T) {
	c := mustRun(t, script(`
var m = context.message;
m.header.set('X-One', '1');
m.header.set('Content-Type', 'application/json');
m.header.remove('X-Drop');
context.set('seen', m.header.get('x-one') + '/' + m.headers['X-ONE'] + '/' + m.headers['x-one']);
context.set('auth', context.request.header.get('authorization'));
m.statusCode = '202';
context.set('code', m.statusCode);
m.reasonPhrase = 'Taken';
var hm = require('header-metadata');
hm.current.set('X-Two', 2);
context.set('orig', hm.original.get('X-Drop'));
`), request{headers: []string{"X-Drop", "d", "Authorization", "Bearer t"}})
	h := c.Message.Headers
	if h.Get("X-One") != "1" || h.Get("X-Two") != "2" || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers: %v", h)
	}
	if _, ok := h["X-Drop"]; ok {
		t.Errorf("X-Drop not removed: %v", h)
	}
	if c.Message.Status != 202 || c.Message.StatusReason() != "Taken" {
		t.Errorf("status %d %q", c.Message.Status, c.Message.StatusReason())
	}
	for name, want := range map[string]any{"seen": "1/1/1", "auth": "Bearer t", "code": 202.0, "orig": "d"} {
		if got := varOf(t, c, name); got != want {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	if got := c.Request.Headers.Get("X-Drop"); got != "d" {
		t.Errorf("the request changed: %q", got)
	}
}

func TestRequestHeadersReadOnly(t *testing.T) {
	_, err := runAsm(t, script(`context.request.header.set('X-A', '1');`), request{})
	e := asmError(t, err)
	if e.Name != assembly.JavaScriptError || !strings.Contains(e.Message, "read-only") {
		t.Fatalf("got %v", e)
	}
}

func TestBodyJSONTransform(t *testing.T) {
	c := mustRun(t, script(`
context.message.body.readAsJSON(function (error, json) {
  if (error) { throw error; }
  json.items.push({name: 'added'});
  json.count = json.items.length;
  context.message.body.write(json);
});
`), request{method: "POST", body: `{"items":[{"name":"first"}]}`, headers: []string{"Content-Type", "application/json"}})
	if got := bodyText(t, c); got != `{"count":2,"items":[{"name":"first"},{"name":"added"}]}` {
		t.Errorf("body = %s", got)
	}
	if v, _ := c.Var("message.body.count"); v != 2.0 {
		t.Errorf("the written body is not navigable: message.body.count = %v", v)
	}
}

func TestBodyReadsAreLazyAndVaried(t *testing.T) {
	// A script that does not read the body leaves the stream untouched.
	c := mustRun(t, script(`context.set('x', 1);`), request{method: "POST", body: "abc"})
	if !c.Message.Body.IsStream() {
		t.Error("the body was read though the script never asked for it")
	}
	c = mustRun(t, script(`
context.message.body.readAsBuffer(function (e, buf) { context.set('len', buf.length); context.set('text', buf.toString()); });
context.set('str', context.message.body.readAsString());
context.request.body.readAsXML(function (e, doc) { context.set('xmlError', e !== null && doc === undefined); });
context.message.body.readAsJSON(function (e, j) { context.set('jsonError', e.name + ': ' + e.message); });
`), request{method: "POST", body: "a=1&b=2"})
	for name, want := range map[string]any{"len": 7.0, "text": "a=1&b=2", "str": "a=1&b=2", "xmlError": true} {
		if got := varOf(t, c, name); got != want {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	if got := varOf(t, c, "jsonError").(string); !strings.HasPrefix(got, "SyntaxError: ") {
		t.Errorf("jsonError = %q", got)
	}
}

func TestApimAndSession(t *testing.T) {
	c := mustRun(t, script(`
var apim = require('apim');
var body = apim.getvariable('request.body');
apim.setvariable('name', body.name);
apim.setvariable('message.headers.x-tag', 'a');
apim.setvariable('message.headers.x-tag', 'b', 'add');
apim.setvariable('q', apim.getvariable('request.parameters.q'));
var msg = apim.getvariable('message');
msg.headers['x-from-msg'] = 'yes';
apim.setvariable('message.headers', msg.headers);
session.output.write({greeting: 'hi ' + body.name});
apim.output('application/vnd.test+json');
`), request{method: "POST", target: "/test/items?q=1", body: `{"name":"Ada"}`, headers: []string{"Content-Type", "text/plain"}})
	if got := varOf(t, c, "name"); got != "Ada" {
		t.Errorf("name = %v", got)
	}
	if got := varOf(t, c, "q"); got != "1" {
		t.Errorf("q = %v (apim sees plain parameter values)", got)
	}
	if got := c.Message.Headers.Values("X-Tag"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("x-tag = %v", got)
	}
	if c.Message.Headers.Get("X-From-Msg") != "yes" || c.Message.Headers.Get("Content-Type") != "application/vnd.test+json" {
		t.Errorf("headers = %v", c.Message.Headers)
	}
	if got := bodyText(t, c); got != `{"greeting":"hi Ada"}` {
		t.Errorf("body = %s", got)
	}
}

func TestApimErrorCaught(t *testing.T) {
	c, err := runAsm(t, `
execute:
- gatewayscript:
    version: 2.0.0
    source: |
      apim.error('NotEntitled', 403, 'Forbidden', 'no entitlement for ' + context.get('request.headers.x-user'));
      context.set('after', 'the script runs to its end');
catch:
- errors: [NotEntitled]
  execute:
  - gatewayscript:
      version: 2.0.0
      source: |
        var e = context.get('error');
        context.message.statusCode = e.status.code;
        context.message.body.write({caught: e.name, info: e.message});
`, request{headers: []string{"X-User", "bob"}})
	if err != nil {
		t.Fatalf("not caught: %v", err)
	}
	if got := bodyText(t, c); got != `{"caught":"NotEntitled","info":"no entitlement for bob"}` {
		t.Errorf("body = %s", got)
	}
	if c.Message.Status != 403 {
		t.Errorf("status = %d", c.Message.Status)
	}
	if got := varOf(t, c, "after"); got != "the script runs to its end" {
		t.Errorf("after = %v", got)
	}
}

func TestRejectUsesStatusTheScriptSet(t *testing.T) {
	_, err := runAsm(t, script(`
context.set('message.status.code', 403);
context.reject('error', 'Invalid Country');
`), request{})
	e := asmError(t, err)
	if e.Name != "error" || e.Message != "Invalid Country" || e.StatusCode() != 403 || e.Policy != "gatewayscript" {
		t.Errorf("got %+v", e)
	}
	_, err = runAsm(t, script(`context.reject('ConnectionError', 'Failed to retrieve data'); context.set('message.status.code', 500);`), request{})
	if e := asmError(t, err); e.Name != "ConnectionError" || e.StatusCode() != 500 {
		t.Errorf("got %+v", e)
	}
	_, err = runAsm(t, script(`session.reject('nope');`), request{})
	if e := asmError(t, err); e.Name != assembly.JavaScriptError || e.Message != "nope" {
		t.Errorf("got %+v", e)
	}
}

func TestTopLevelReturn(t *testing.T) {
	c := mustRun(t, script(`
context.set('a', 1);
if (true) { return; }
context.set('b', 2);
`), request{})
	if _, ok := c.Var("b"); ok {
		t.Error("return did not end the script")
	}
}

// A syntax error is a load warning on the YAML line (API Connect accepts
// such an API); every run of the script then fails with JavaScriptError.
func TestSyntaxErrorIsLoadProblemOnYAMLLine(t *testing.T) {
	doc := apiDoc(script(`
var ok = 1;
var broken = ;
`))
	_, _, ps := compileWith(t, newEnv(testOptions()), doc)
	if len(ps) != 1 {
		t.Fatalf("want 1 problem, got %v", ps)
	}
	p := ps[0]
	if want := lineOf(t, doc, "var broken"); p.Line != want || !p.Warn {
		t.Errorf("problem on line %d (warn %v), want %d: %v", p.Line, p.Warn, want, p)
	}
	if !strings.Contains(p.Msg, "line 2") || !strings.Contains(p.Msg, "syntax") || p.File != "test.yaml" {
		t.Errorf("problem: %v", p)
	}
	a, api, _ := compileWith(t, newEnv(testOptions()), doc)
	err := a.Run(newContext(t, api, request{}))
	if e := asmError(t, err); e.Name != assembly.JavaScriptError || !strings.Contains(e.Message, "syntax error") {
		t.Errorf("running the broken script: %v", err)
	}
}

func TestRuntimeErrorIsJavaScriptErrorWithLine(t *testing.T) {
	asm := script(`
var a = {};
var b = 1;
a.missing.field = b;
`)
	_, err := runAsm(t, asm, request{})
	e := asmError(t, err)
	doc := apiDoc(asm)
	if e.Name != assembly.JavaScriptError || e.StatusCode() != 500 {
		t.Fatalf("got %+v", e)
	}
	want := "line 3 of the script, test.yaml:" + strconv.Itoa(lineOf(t, doc, "a.missing.field"))
	if !strings.Contains(e.Message, "TypeError") || !strings.Contains(e.Message, want) {
		t.Errorf("message %q does not say %q", e.Message, want)
	}
	// And a catch clause takes it.
	c, err := runAsm(t, asm+`catch:
- errors: [JavaScriptError]
  execute:
  - set-variable:
      version: 2.0.0
      actions: [{set: handled, value: "yes"}]
`, request{})
	if err != nil || varOf(t, c, "handled") != "yes" {
		t.Errorf("catch: %v", err)
	}
}

func TestUnknownModule(t *testing.T) {
	asm := script(`
var fs = require('fs');
context.set('x', 1);
`)
	doc := apiDoc(asm)
	_, _, ps := compileWith(t, newEnv(testOptions()), doc)
	if len(ps) != 1 || !ps[0].Warn || !strings.Contains(ps[0].Msg, "fs") || ps[0].Line != lineOf(t, doc, "require('fs')") {
		t.Fatalf("want one warning naming fs on its line, got %v", ps)
	}
	_, err := runAsm2(t, asm)
	e := asmError(t, err)
	if e.Name != assembly.JavaScriptError || !strings.Contains(e.Message, "Cannot find module 'fs'") {
		t.Errorf("got %+v", e)
	}
}

// runAsm2 runs an assembly that may have warnings.
func runAsm2(t *testing.T, asm string) (*assembly.Context, error) {
	t.Helper()
	a, api, ps := compileWith(t, newEnv(testOptions()), apiDoc(asm))
	if len(ps.Errors()) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	c := newContext(t, api, request{})
	return c, a.Run(c)
}

func TestModules(t *testing.T) {
	c := mustRun(t, script(`
var url = require('url'), qs = require('querystring'), util = require('util');
var crypto = require('crypto'), sm = require('service-metadata'), hm = require('header-metadata');
var u = url.parse('https://user:pw@Example.com:8443/a/b?x=1&y=2#frag', true);
context.set('u', [u.protocol, u.hostname, u.port, u.pathname, u.search, u.query.y, u.hash, u.auth].join('|'));
context.set('uf', url.format({protocol: 'http', hostname: 'h', port: 81, pathname: '/p', query: {a: 'b c'}}));
context.set('ur', url.resolve('http://h/a/b', '../c'));
context.set('qs', qs.stringify({b: ['1', '2'], a: 'x y'}) + ' ' + JSON.stringify(qs.parse('a=1&a=2&b=%20c+d')));
context.set('fmt', util.format('%s=%d %j %%', 'n', 42, {k: [1]}) + ' ' + util.inspect({a: 'x', b: [1, 2]}));
context.set('sha', crypto.createHash('sha256').update('abc').digest('hex'));
context.set('md5', crypto.createHash('md5').update('abc').digest('base64'));
context.set('hmac', crypto.createHmac('sha1', 'key').update('The quick brown fox jumps over the lazy dog').digest('hex'));
context.set('rnd', crypto.randomBytes(16).length);
context.set('tx', sm.transactionId + ' ' + sm.protocolMethod + ' ' + sm.URI);
context.set('same', require('apim') === apim && require('./apim.custom.js') === apim);
hm.response.statusCode = 201;
`), request{target: "/test/items?z=1"})
	want := map[string]any{
		"u":    "https:|example.com|8443|/a/b|?x=1&y=2|2|#frag|user:pw",
		"uf":   "http://h:81/p?a=b%20c",
		"ur":   "http://h/c",
		"qs":   `a=x%20y&b=1&b=2 {"a":["1","2"],"b":" c d"}`,
		"fmt":  `n=42 {"k":[1]} % { a: 'x', b: [ 1, 2 ] }`,
		"sha":  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"md5":  "kAFQmDzST7DWlj99KOF/cg==",
		"hmac": "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9",
		"rnd":  16.0,
		"tx":   "tx-1 GET /test/items?z=1",
		"same": true,
	}
	for name, w := range want {
		if got := varOf(t, c, name); got != w {
			t.Errorf("%s = %#v, want %#v", name, got, w)
		}
	}
	if c.Message.Status != 201 {
		t.Errorf("status = %d", c.Message.Status)
	}
}

func TestBufferAndConsole(t *testing.T) {
	var l logs
	c := mustRun(t, script(`
var creds = new Buffer('dXNlcjpwYXNz', 'base64').toString('utf8').split(':');
context.set('user', creds[0]);
context.set('hex', Buffer.from('hi').toString('hex') + ' ' + Buffer.from('6869', 'hex').toString());
context.set('b64', Buffer.from('\u00e9t\u00e9').toString('base64'));
context.set('isBuf', Buffer.isBuffer(Buffer.alloc(3)) && Buffer.alloc(2) instanceof Uint8Array);
context.set('cat', Buffer.concat([Buffer.from('a'), Buffer.from('bc')]).toString());
console.log('hello %s', creds[0], {n: 1});
console.error('bad thing');
console.debug('details');
`), request{log: &l})
	for name, want := range map[string]any{"user": "user", "hex": "6869 hi", "b64": "w6l0w6k=", "isBuf": true, "cat": "abc"} {
		if got := varOf(t, c, name); got != want {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	out := l.String()
	for _, want := range []string{`level=INFO msg="hello user { n: 1 }"`, `level=ERROR msg="bad thing"`, `level=DEBUG msg=details`, "transaction_id=tx-1", "policy=gatewayscript"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestSloppyGlobalsDoNotLeak(t *testing.T) {
	env := newEnv(testOptions())
	a, api := mustCompile(t, env, script(`
context.set('before', typeof leaked);
leaked = 1;
context = null;
`))
	for i := 0; i < 3; i++ {
		c := newContext(t, api, request{})
		if err := a.Run(c); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if got := varOf(t, c, "before"); got != "undefined" {
			t.Fatalf("run %d saw a global of an earlier run: typeof leaked = %v", i, got)
		}
	}
}

func TestEmptySourceIsNoop(t *testing.T) {
	c := mustRun(t, "execute:\n- gatewayscript:\n    version: 2.0.0\n    source: ''\n- javascript:\n    version: 1.0.0\n    source: \"context.set('v5', true)\"\n", request{})
	if varOf(t, c, "v5") != true {
		t.Error("javascript policy did not run")
	}
}

func TestTimers(t *testing.T) {
	c := mustRun(t, script(`
var order = [];
setTimeout(function () { order.push('b'); context.set('order', order.join('')); }, 10);
setTimeout(function () { order.push('a'); }, 0);
var gone = setTimeout(function () { order.push('x'); }, 5);
clearTimeout(gone);
Promise.resolve().then(function () { order.push('p'); });
`), request{})
	if got := varOf(t, c, "order"); got != "pab" {
		t.Errorf("order = %v", got)
	}
}

func TestReadOnlyVariableIsPropertyError(t *testing.T) {
	_, err := runAsm(t, script(`context.set('request.verb', 'PUT');`), request{})
	if e := asmError(t, err); e.Name != assembly.PropertyError || !strings.Contains(e.Message, "read-only") {
		t.Fatalf("got %+v", e)
	}
	c := mustRun(t, script(`
try { context.set('request.verb', 'PUT'); } catch (e) { context.set('caught', e.name + ': ' + e.message); }
`), request{})
	if got := varOf(t, c, "caught"); got != "PropertyError: request.verb is read-only" {
		t.Errorf("caught = %v", got)
	}
}

func TestParsedBodyAndParameters(t *testing.T) {
	c := mustRun(t, `
execute:
- parse:
    version: 2.0.0
- gatewayscript:
    version: 2.0.0
    source: |
      var body = context.message.body.readAsJSON();
      var p = context.request.parameters;
      context.set('out', [body.a, context.get('message.body.a'), p.id.values[0], p.id.locations[0],
        context.get('request.parameters.x').values.join(','), context.get('request.parameters.x-h').locations[0],
        apim.getvariable('request.parameters.id'), context.get('message').status.code].join('|'));
`, request{method: "GET", target: "/test/items/42?x=1&x=2", body: `{"a":"b"}`, headers: []string{"X-H", "h"}})
	if got := varOf(t, c, "out"); got != "b|b|42|path|1,2|header|42|200" {
		t.Errorf("out = %v", got)
	}
}

func TestHostileThrownValues(t *testing.T) {
	for name, src := range map[string]string{
		"toString throws": `throw {toString: function () { throw new Error('no'); }};`,
		"toString loops":  `throw {toString: function () { for (;;) {} }};`,
		"plain object":    `throw {code: 1};`,
		"string":          `throw 'NameError';`,
	} {
		t.Run(name, func(t *testing.T) {
			o := testOptions()
			o.Timeout = 300 * time.Millisecond
			_, err := runAsmWith(t, newEnv(o), script(src), request{})
			if e := asmError(t, err); e.Name != assembly.JavaScriptError {
				t.Fatalf("got %+v", e)
			}
			t.Log(err)
		})
	}
}
