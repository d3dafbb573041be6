package gatewayscript_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/assembly"
)

func TestEndlessLoopStopsAtTimeout(t *testing.T) {
	o := testOptions()
	o.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := runAsmWith(t, newEnv(o), script(`while (true) {}`), request{})
	e := asmError(t, err)
	if e.Name != assembly.JavaScriptError || e.StatusCode() != 500 || !strings.Contains(e.Message, "time limit") {
		t.Fatalf("got %+v", e)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v with a 300ms limit", d)
	}
}

func TestPolicyTimeoutField(t *testing.T) {
	start := time.Now()
	_, err := runAsm(t, "execute:\n- gatewayscript:\n    version: 2.0.0\n    timeout: 50ms\n    source: 'for (;;) {}'\n", request{})
	if e := asmError(t, err); !strings.Contains(e.Message, "50ms") {
		t.Fatalf("got %+v", e)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v with a 50ms limit", d)
	}
	_, _, ps := compileWith(t, newEnv(testOptions()), apiDoc("execute:\n- gatewayscript:\n    timeout: forever\n    source: 'x'\n"))
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, "timeout") {
		t.Errorf("problems: %v", ps)
	}
}

// TestHugeAllocations runs scripts that would allocate gigabytes in one
// built-in call: each must stop with a JavaScriptError, quickly, even
// inside try/catch, and the process must stay up.
func TestHugeAllocations(t *testing.T) {
	cases := map[string]string{
		"repeat":         `'x'.repeat(2e9)`,
		"padEnd":         `'x'.padEnd(1e9, 'y')`,
		"fill":           `new Array(5e8).fill(0)`,
		"spread":         `[...new Array(5e8)]`,
		"from":           `Array.from({length: 5e8})`,
		"apply":          `Math.max.apply(null, {length: 5e8})`,
		"join":           `new Array(5e6).join('x')`,
		"join shared":    `var s = 'x'.repeat(1e6); new Array(1000).fill(s).join('')`,
		"concat":         `var a = new Array(4e8); a.concat(a)`,
		"typed array":    `new Float64Array(3e8)`,
		"array buffer":   `new ArrayBuffer(2e9)`,
		"ctor of proto":  `var u = new Uint8Array(1); new u.constructor(2e9)`,
		"buffer":         `Buffer.alloc(2e9)`,
		"stringify dag":  `var a = [1]; for (var i = 0; i < 40; i++) a = [a, a]; JSON.stringify(a)`,
		"stringify big":  `JSON.stringify(new Array(1000).fill('x'.repeat(1e6)))`,
		"flat dag":       `var a = [1]; for (var i = 0; i < 40; i++) a = [a, a]; a.flat(Infinity)`,
		"replace":        `var s = 'x'.repeat(1e5); s.replace(/x/g, s)`,
		"replace $&":     "var s = 'x'.repeat(1e5); s.replace(/x/g, '$`')",
		"replace fn":     `var s = 'x'.repeat(1e5); s.replace(/x/g, function () { return s; })`,
		"split":          `'x'.repeat(6e6).split('')`,
		"string raw":     `String.raw({raw: {length: 5e8}})`,
		"string raw big": `var s = 'x'.repeat(1e6); String.raw({raw: new Array(100).fill(s)})`,
		"entries":        `Object.entries('x'.repeat(4e6))`,
		"json depth":     `JSON.parse('['.repeat(1e5) + ']'.repeat(1e5))`,
		"eval depth":     `eval('('.repeat(1e5) + '1' + ')'.repeat(1e5))`,
		"function depth": `new Function('return ' + '['.repeat(1e5) + ']'.repeat(1e5))`,
		"args iterator":  `var it = (function () { return arguments[Symbol.iterator]; })(); [...{[Symbol.iterator]: function () { return it.call({length: 5e8}); }}]`,
		"bigint eval":    `eval('1n << 100000000000n')`,
		"set variable":   `var a = [1]; for (var i = 0; i < 40; i++) a = [a, a]; context.set('x', a)`,
	}
	o := testOptions()
	o.Timeout = 2 * time.Second // some cases are stopped by it under -race
	env := newEnv(o)
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := runAsmWith(t, env, script("try {\n"+src+"\n} catch (e) { context.set('caught', String(e)); }\ncontext.set('after', 1);"), request{})
			e := asmError(t, err)
			if e.Name != assembly.JavaScriptError {
				t.Fatalf("got %+v", e)
			}
			if !strings.Contains(e.Message, "stopped") {
				t.Errorf("message %q", e.Message)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestConsoleOutputIsBounded logs a value that expands without end.
func TestConsoleOutputIsBounded(t *testing.T) {
	var l logs
	mustRun(t, script(`var a = [1]; for (var i = 0; i < 40; i++) a = [a, a]; console.log('%j', a); console.log(a);`), request{log: &l})
	if n := len(l.String()); n > 300<<10 || !strings.Contains(l.String(), "truncated") {
		t.Errorf("logged %d bytes", n)
	}
}

// heapNow is the heap the watchdog watches.
func heapNow() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestWatchdogStopsGrowth runs scripts that grow memory through the
// interpreter (no single built-in call is large): the heap watchdog stops
// them long before their time limit.
func TestWatchdogStopsGrowth(t *testing.T) {
	runtime.GC()
	o := testOptions()
	o.Timeout = 60 * time.Second
	o.HeapLimit = heapNow() + 64<<20
	env := newEnv(o)
	for name, src := range map[string]string{
		"doubling": `var s = 'xy'; while (true) { s += s; }`,
		"pushing":  `var a = []; while (true) { a.push('x'.repeat(4000) + a.length); }`,
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := runAsmWith(t, env, script(src), request{})
			e := asmError(t, err)
			if e.Name != assembly.JavaScriptError || !strings.Contains(e.Message, "memory") {
				t.Fatalf("got %+v", e)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v", d)
			}
			runtime.GC()
		})
	}
}

func TestInputCap(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 2<<20) + `"}`
	// Reading it fails with 413.
	_, err := runAsm(t, script(`context.message.body.readAsJSON(function (e, j) { context.set('read', true); });`),
		request{method: "POST", body: big})
	e := asmError(t, err)
	if e.Name != assembly.RuntimeError || e.StatusCode() != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %+v", e)
	}
	// Also through context.get, even if the script catches the exception.
	_, err = runAsm(t, script(`try { context.get('message.body'); } catch (e) {} context.set('after', 1);`),
		request{method: "POST", body: big})
	if e := asmError(t, err); e.StatusCode() != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %+v", e)
	}
	// A script that does not read the body does not mind its size.
	c := mustRun(t, script(`context.set('ok', true);`), request{method: "POST", body: big})
	if !c.Message.Body.IsStream() {
		t.Error("the body was read")
	}
}

// TestStuckBuiltinIsAbandoned runs a regular expression that backtracks
// for seconds inside a built-in goja cannot interrupt: the request is
// answered at the time limit, and the policy refuses new runs while too
// many are stuck.
func TestStuckBuiltinIsAbandoned(t *testing.T) {
	o := testOptions()
	o.Timeout = 20 * time.Millisecond
	o.MaxStuck = 1
	env := newEnv(o)
	a, api := mustCompile(t, env, script(`
if (context.get('request.headers.x-slow')) {
  /^(a+)+(?!x)b$/.test('a'.repeat(20) + 'c');
}
context.set('done', true);
`))
	start := time.Now()
	c := newContext(t, api, request{headers: []string{"X-Slow", "1"}})
	err := a.Run(c)
	if e := asmError(t, err); !strings.Contains(e.Message, "time limit") {
		t.Fatalf("got %+v", e)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("answered after %v", d)
	}
	// Still stuck: the next run is refused.
	if err := a.Run(newContext(t, api, request{})); err == nil || !strings.Contains(err.Error(), "stuck") {
		t.Logf("second run: %v (the stuck run may have finished already)", err)
	}
	// Once it has finished, runs go on.
	deadline := time.Now().Add(60 * time.Second)
	for {
		c := newContext(t, api, request{})
		if err := a.Run(c); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the policy never recovered")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestBigIntRefused(t *testing.T) {
	doc := apiDoc(script(`
var x = 1;
var y = 10n ** 1000000n;
`))
	_, _, ps := compileWith(t, newEnv(testOptions()), doc)
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, "BigInt") || ps[0].Line != lineOf(t, doc, "10n") {
		t.Fatalf("problems: %v", ps)
	}
	c := mustRun(t, script(`context.set('t', typeof BigInt);`), request{})
	if varOf(t, c, "t") != "undefined" {
		t.Error("BigInt is still there")
	}
}

// TestConcurrentRuns runs one policy from many goroutines, with a run
// that loops forever among them: the others are unaffected.
func TestConcurrentRuns(t *testing.T) {
	o := testOptions()
	o.Timeout = time.Second
	env := newEnv(o)
	a, api := mustCompile(t, env, script(`
if (context.get('request.headers.x-loop')) { for (;;) {} }
context.message.body.readAsJSON(function (e, j) { j.n = j.n + 1; context.message.body.write(j); });
`))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := newContext(t, api, request{headers: []string{"X-Loop", "1"}})
		if err := a.Run(c); err == nil {
			errs <- fmt.Errorf("the loop was not stopped")
		}
	}()
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newContext(t, api, request{method: "POST", body: `{"n":1}`})
			if err := a.Run(c); err != nil {
				errs <- err
				return
			}
			if data, _ := c.Message.Body.Bytes(); string(data) != `{"n":2}` {
				errs <- fmt.Errorf("body %s", data)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestGuardedBuiltinsBehave checks that the guards leave ordinary use of
// the built-ins they wrap as the language defines it.
func TestGuardedBuiltinsBehave(t *testing.T) {
	cases := []struct{ expr, want string }{
		{`'ab'.repeat(3)`, `ababab`},
		{`'5'.padStart(3, '0') + '|' + 'x'.padEnd(3, '-')`, `005|x--`},
		{`'a'.concat(1, null, [2, 3])`, `a1null2,3`},
		{`[1, [2, [3, null]], undefined, 'x'].join()`, `1,2,3,,,x`},
		{`[1, 2, 3].join(0)`, `10203`},
		{`String([1, [2, 3]]) + '|' + [1, 2] + ''`, `1,2,3|1,2`},
		{`(function () { var a = [1]; a.push(a); return a.join('-'); })()`, `1-`},
		{`[1, 2, 3, 4].fill(0, 1, -1).join()`, `1,0,0,4`},
		{`new Array(3).fill('z').join('')`, `zzz`},
		{`[1].concat([2, [3]], 4).length + ''`, `4`},
		{`JSON.stringify([1, [2, [3, [4]]]].flat(2))`, `[1,2,3,[4]]`},
		{`JSON.stringify([1, 2].flatMap(function (x) { return [x, x * 10]; }))`, `[1,10,2,20]`},
		{`'a-b-c'.replace('-', '+') + '|' + 'a-b-c'.replace(/-/g, '$&$&') + '|' + 'a-b-c'.replaceAll('-', '$$')`, `a+b-c|a--b--c|a$b$c`},
		{`'2024-05-06'.replace(/(\d+)-(\d+)-(\d+)/, '$3/$2/$1') + '|' + 'john smith'.replace(/(?<f>\w+) (?<l>\w+)/, '$<l>, $<f>')`, `06/05/2024|smith, john`},
		{"'abc'.replace('b', '[$`|$\\']')", `a[a|c]c`},
		{`'aXbXc'.replace(/X/g, function (m, i) { return i; })`, `a1b3c`},
		{`'a,b,,c'.split(',').length + '|' + 'abc'.split('').join('.') + '|' + 'a1b2c'.split(/\d/, 2).join()`, `4|a.b.c|a,b`},
		{`[...'héllo'].length + '|' + [...[1, 2, 3]].join() + '|' + Math.max(...[4, 9, 2])`, `5|1,2,3|9`},
		{`Array.from('abc').join() + '|' + Array.from({length: 3}, function (_, i) { return i * 2; }).join() + '|' + Array.from(new Set([1, 1, 2])).join()`, `a,b,c|0,2,4|1,2`},
		{`Math.max.apply(null, [1, 5, 3]) + '|' + Reflect.apply(Math.min, null, [4, 2]) + '|' + Reflect.construct(Date, [0]).getTime()`, `5|2|0`},
		{`var u = new Uint8Array([1, 2, 3]); u.length + '|' + (u instanceof Uint8Array) + '|' + u.join('') + '|' + new Uint8Array(u.buffer, 1).join() + '|' + Uint8Array.from([4, 5]).join() + '|' + Uint8Array.BYTES_PER_ELEMENT`, `3|true|123|2,3|4,5|1`},
		{`new Float64Array(2).length + '|' + new ArrayBuffer(8).byteLength + '|' + (new Uint8Array(2).constructor === Uint8Array)`, `2|8|true`},
		{`class Bytes extends Uint8Array { sum() { return this.reduce(function (a, b) { return a + b; }, 0); } } new Bytes([1, 2, 3]).sum() + ''`, `6`},
		{`JSON.stringify({b: [1, undefined, function () {}], a: 'x', u: undefined, d: new Date(0), n: NaN, s: new String('s')})`, `{"b":[1,null,null],"a":"x","d":"1970-01-01T00:00:00.000Z","n":null,"s":"s"}`},
		{`JSON.stringify({a: 1, b: {c: 2}}, null, 2)`, "{\n  \"a\": 1,\n  \"b\": {\n    \"c\": 2\n  }\n}"},
		{`JSON.stringify({a: 1, b: 2, c: 3}, ['c', 'a']) + JSON.stringify({a: 1, b: 'x'}, function (k, v) { return typeof v === 'number' ? v * 2 : v; })`, `{"c":3,"a":1}{"a":2,"b":"x"}`},
		{`JSON.stringify('q"\u0001\n') + JSON.stringify([]) + JSON.stringify({}) + JSON.stringify(undefined) + JSON.stringify(null)`, `"q\"\u0001\n"[]{}undefinednull`},
		{`try { var o = {}; o.o = o; JSON.stringify(o); } catch (e) { e.name }`, `TypeError`},
		{`var p = JSON.parse('{"b":1,"a":[true,null,-1.5e2,"\\u00e9\\n"],"c":{}}'); Object.keys(p).join() + '|' + p.a[2] + '|' + p.a[3]`, "b,a,c|-150|é\n"},
		{`JSON.parse('[1,2]', function (k, v) { return typeof v === 'number' ? v + 1 : v; }).join()`, `2,3`},
		{`try { JSON.parse('{"a":}'); } catch (e) { e.name }`, `SyntaxError`},
		{`eval('1 + 2') + '|' + new Function('a', 'b', 'return a * b')(3, 4) + '|' + Function('return 7')()`, `3|12|7`},
		{`String.raw` + "`a\\n${1 + 1}b`", `a\n2b`},
		{`[...[7, 8].keys()].join() + '|' + [...['x'].entries()][0].join()`, `0,1|0,x`},
		{`[3, 1, 2].toSorted().join() + '|' + [1, 2].toReversed().join() + '|' + [1, 2, 3].with(1, 9).join()`, `1,2,3|2,1|1,9,3`},
		{`(1234.5).toLocaleString() !== '' && [1, 'a'].toLocaleString() === '1,a'`, `true`},
	}
	var src strings.Builder
	src.WriteString("var out = [];\n")
	for _, c := range cases {
		src.WriteString("try { out.push(String(eval(" + jsQuote(c.expr) + "))); } catch (e) { out.push('threw ' + e); }\n")
	}
	src.WriteString("context.set('out', out);\n")
	c := mustRun(t, script(src.String()), request{})
	got, _ := varOf(t, c, "out").([]any)
	for i, cs := range cases {
		if i >= len(got) || got[i] != cs.want {
			var g any
			if i < len(got) {
				g = got[i]
			}
			t.Errorf("%s\n got  %q\n want %q", cs.expr, g, cs.want)
		}
	}
}

// jsQuote makes a JavaScript string literal.
func jsQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
