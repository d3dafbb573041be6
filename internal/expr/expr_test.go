package expr

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

type condCase struct {
	src      string
	lang     Lang // language asked for
	wantLang Lang // language compiled (for Auto)
	want     bool
	compile  string // substring of the compile error; "" means it must compile
	column   int    // expected SyntaxError column when compile != ""
	evalErr  string // substring of the evaluation error
	ctx      map[string]any
}

func TestConditions(t *testing.T) {
	notFound := map[string]any{
		"request": map[string]any{"verb": "POST", "headers": map[string]any{}},
		"message": map[string]any{"status": map[string]any{"code": "404"}, "headers": map[string]any{}},
		"api":     map[string]any{"operation": map[string]any{"path": "/other", "id": "other"}},
	}
	cases := []condCase{
		// --- JSONata: $(var) references ---
		{src: `$(request.headers.opname) = 'create'`, lang: JSONata, want: true},
		{src: `$(request.headers.OpName) = 'create'`, lang: JSONata, want: true},
		{src: `$(request.headers.opname) = 'delete'`, lang: JSONata, want: false},
		{src: `$(missing) = 'x'`, lang: JSONata, want: false},
		{src: `$(missing)`, lang: JSONata, want: false},
		{src: `$(nullVar)`, lang: JSONata, want: false},
		{src: `$(nullVar) = null`, lang: JSONata, want: true},
		{src: `$exists($(nullVar)) and $not($exists($(missing)))`, lang: JSONata, want: true},
		{src: `$(missing) = null`, lang: JSONata, want: false},
		{src: `$(message.status.code) = 200`, lang: JSONata, want: true}, // int from the Env compares as a number
		{src: `$(message.status).code = 200`, lang: JSONata, want: true},
		{src: `$(request.verb) & $(request.verb) = 'GETGET'`, lang: JSONata, want: true},
		{src: `'$(request.verb)' = '$(request.verb)'`, lang: JSONata, want: true}, // string literal left alone
		// --- JSONata: paths from the root ---
		{src: `request.headers.xml = "true"`, lang: JSONata, want: true},
		{src: `request.headers.json = "true"`, lang: JSONata, want: false},
		{src: `request.headers.SR = "true"`, lang: JSONata, want: true},
		{src: `request.headers.CALL="true"`, lang: JSONata, want: false},
		{src: "request.headers.`Content-Type` = 'application/xml'", lang: JSONata, want: true},
		{src: `($exists(message.body.data))`, lang: JSONata, want: true},
		{src: `($exists(message.body.nothing))`, lang: JSONata, want: false},
		{src: `(myApi = 'summary')`, lang: JSONata, want: true},
		{src: `(myApi = 'stormpath')`, lang: JSONata, want: false},
		{src: `message.body.items[price > 10].price = 15`, lang: JSONata, want: true},
		{src: `$sum(message.body.items.price) = 20`, lang: JSONata, want: true},
		{src: `(($operationPath() = '/graphql') and ($httpVerb() = 'GET') and (request.websocket = true))`, lang: JSONata, want: false},
		{src: `nosuch.path = 'x'`, lang: JSONata, want: false},
		{src: `$.request.verb = 'GET'`, lang: JSONata, want: true},
		{src: `$$.myApi = 'summary'`, lang: JSONata, want: true},
		{src: `$string() != ''`, lang: JSONata, want: true},
		// --- JSONata: API Connect functions ---
		{src: `$apiCtx().tokenFoundInCache = 'true'`, lang: JSONata, want: true},
		{src: `($apiCtx().tokenFoundInCache = 'true')`, lang: JSONata, want: true},
		{src: `$apiCtx().jwtNotFound = 'true'`, lang: JSONata, want: false},
		{src: `$apiCtx().request.headers.SR = 'true'`, lang: JSONata, want: true},
		{src: `$httpVerb() = 'GET' and $operationPath() = '/current'`, lang: JSONata, want: true},
		{src: `(($httpVerb() = 'GET' and $operationPath() = '/current'))`, lang: JSONata, want: true},
		{src: `(($httpVerb() = 'GET' and $operationPath() = '/current'))`, lang: JSONata, want: false, ctx: notFound},
		{src: `($httpVerb() = 'POST' and $operationPath() = '/authenticate')`, lang: JSONata, want: false},
		{src: `$operationID() = 'getCurrent'`, lang: JSONata, want: true},
		{src: `$header("Content-Type")="application/json"`, lang: JSONata, want: true},
		{src: `$header("Content-Type")="application/xml"`, lang: JSONata, want: false},
		{src: `$header('x-count') = 3`, lang: JSONata, want: true},
		{src: `$statusCode() = 200`, lang: JSONata, want: true},
		{src: `$statusCode() = 404`, lang: JSONata, want: true, ctx: notFound}, // "404" string becomes a number
		{src: `$statusCode() >= 400`, lang: JSONata, want: false},
		{src: `$queryParameter('zip') = '10001'`, lang: JSONata, want: true},
		{src: `$queryParameter('units') = 'metric'`, lang: JSONata, want: true},
		{src: `$queryParameter('q') = 'a+b'`, lang: JSONata, want: true}, // not URL-decoded, as DataPower
		{src: `$exists($queryParameter('nope'))`, lang: JSONata, want: false},
		{src: `$urlParameter('city') = 'paris'`, lang: JSONata, want: true},
		{src: `$urlParameter('id') = '42'`, lang: JSONata, want: true}, // DataPower {locations, values} form
		{src: `($exists($urlParameter('query')))`, lang: JSONata, want: true},
		{src: `$storageType() = "json"`, lang: JSONata, want: true},
		{src: `$storageType() != "json"`, lang: JSONata, want: false},
		{src: `$storageType('iam') = 'json'`, lang: JSONata, want: true},
		{src: `$storageType('nothing') = 'empty'`, lang: JSONata, want: true},
		{src: `$uppercase($httpVerb()) = 'GET' and $lowercase($header('Content-Type')) = 'application/json'`, lang: JSONata, want: true},
		{src: `true`, lang: JSONata, want: true},
		{src: `false`, lang: JSONata, want: false},
		{src: `'false'`, lang: JSONata, want: true}, // a non-empty string
		// --- JSONata: errors ---
		{src: `$httpVerb() = `, lang: JSONata, compile: "nothing follows", column: 14},
		{src: `($httpVerb() = 'GET'`, lang: JSONata, compile: `expected ")"`, column: 21},
		{src: `request.verb === 'GET'`, lang: JSONata, compile: "valid JavaScript", column: 15},
		{src: `$(request.verb = 'GET'`, lang: JSONata, compile: "unterminated $(", column: 1},
		{src: `apim.getvariable('message.status.code') != '200'`, lang: JSONata, compile: `"getvariable(" calls a function without $`, column: 6},
		{src: `$exists(message.body.data) and lookup(x)`, lang: JSONata, compile: `"lookup(" calls a function without $`, column: 32},
		{src: `$map([1], function($v) { $v + 1 }) = 2`, lang: JSONata, want: true},
		{src: `$() = 'x'`, lang: JSONata, compile: "empty $()", column: 1},
		{src: `a = "unterminated`, lang: JSONata, compile: "unterminated string", column: 5},
		{src: `foo bar`, lang: JSONata, compile: `unexpected token "bar"`, column: 5},
		{src: `   `, lang: JSONata, compile: "empty condition"},
		{src: `$nosuchfn() = 1`, lang: JSONata, evalErr: "T1006"},
		{src: `'a' + 1`, lang: JSONata, evalErr: "T2001"},
		{src: `$header()`, lang: JSONata, evalErr: "missing argument"},
		{src: `$header(1)`, lang: JSONata, evalErr: "must be a string"},
		{src: `$map(['a'], $header)`, lang: JSONata, evalErr: "must be called directly"},

		// --- JavaScript ---
		{src: `((request.verb==='GET')&&(api.operation.path==='/current'))`, lang: JavaScript, want: true},
		{src: `((request.verb==='GET')&&(api.operation.path==='/test'))`, lang: JavaScript, want: false},
		{src: `$(message.status.code) == '200'`, lang: JavaScript, want: true},
		{src: `$(message.status.code) != '200'`, lang: JavaScript, want: false},
		{src: `$(message.status.code) === 200`, lang: JavaScript, want: true},
		{src: `$(message.status.code) == '200'`, lang: JavaScript, want: false, ctx: notFound},
		{src: `apim.getvariable('message.status.code') != '200'`, lang: JavaScript, want: false},
		{src: `apim.getvariable('message.status.code') == '200'`, lang: JavaScript, want: true},
		{src: `apim.getvariable('message.body').var == 'set'`, lang: JavaScript, want: true},
		{src: `apim.getvariable('request.headers.Content-Type') === 'application/xml'`, lang: JavaScript, want: true},
		{src: `apim.getvariable('nothing') === undefined`, lang: JavaScript, want: true},
		{src: `$(request.headers.content-type) == "application/xml"`, lang: JavaScript, want: true},
		{src: `$(request.headers.content-type) == "application/json"`, lang: JavaScript, want: false},
		{src: `$(apiName) === 'summary'`, lang: JavaScript, want: true},
		{src: `$(apiName) === 'stormpath'`, lang: JavaScript, want: false},
		{src: `$(missing) === undefined`, lang: JavaScript, want: true},
		{src: `$(missing) == null`, lang: JavaScript, want: true},
		{src: `$(nullVar) === null`, lang: JavaScript, want: true},
		{src: `$(request.body)`, lang: JavaScript, want: false},
		{src: `$(message.body).data.id === 7`, lang: JavaScript, want: true},
		{src: `'$(apiName)' === '$(apiName)'`, lang: JavaScript, want: true}, // string literal left alone
		{src: `'true'`, lang: JavaScript, want: true},
		{src: `true`, lang: JavaScript, want: true},
		{src: `false`, lang: JavaScript, want: false},
		{src: `0`, lang: JavaScript, want: false},
		{src: `''`, lang: JavaScript, want: false},
		{src: `"asdas" == "asfasdasdas"`, lang: JavaScript, want: false},
		{src: `request.headers['Content-Type'] === 'application/xml'`, lang: JavaScript, want: true},
		{src: `request.headers.SR === 'true'`, lang: JavaScript, want: true},
		{src: `request.headers.nothing === undefined`, lang: JavaScript, want: true},
		{src: `typeof request.headers === 'object' && 'opname' in request.headers`, lang: JavaScript, want: true},
		{src: `Object.keys(request.headers).length === 5`, lang: JavaScript, want: true},
		{src: `message.body.items.length === 2 && message.body.items[1].price > 10`, lang: JavaScript, want: true},
		{src: `myApi === 'summary' && iam.body.access_token === 'tok123'`, lang: JavaScript, want: true},
		{src: `undefinedVariable === undefined`, lang: JavaScript, want: true},
		{src: `Math.max(1, 2) === 2 && JSON.stringify({a: 1}) === '{"a":1}'`, lang: JavaScript, want: true},
		{src: "`${request.verb}-x` === 'GET-x'", lang: JavaScript, want: true},
		{src: `/^GE/.test(request.verb)`, lang: JavaScript, want: true},
		{src: `var n = 1; n + 1 === 2`, lang: JavaScript, want: true},
		{src: `let n = 1; n + 1 === 2`, lang: JavaScript, want: true},
		{src: `request.verb ==== 'GET'`, lang: JavaScript, compile: "Unexpected token", column: 17},
		{src: `$(apiName) === 'a' &&`, lang: JavaScript, compile: "Unexpected end of input", column: 22},
		{src: `$(apiName.x === 1`, lang: JavaScript, compile: "unterminated $(", column: 1},
		{src: `null.x`, lang: JavaScript, evalErr: "TypeError"},
		{src: `throw new Error('boom')`, lang: JavaScript, evalErr: "boom"},

		// --- Auto ---
		{src: `$(request.headers.opname) = 'create'`, wantLang: JSONata, want: true},
		{src: `request.headers.xml = "true"`, wantLang: JSONata, want: true},
		{src: `($exists(message.body.data))`, wantLang: JSONata, want: true},
		{src: `(myApi = 'summary')`, wantLang: JSONata, want: true},
		{src: `$apiCtx().tokenFoundInCache = 'true'`, wantLang: JSONata, want: true},
		{src: `(($httpVerb() = 'GET' and $operationPath() = '/current'))`, wantLang: JSONata, want: true},
		{src: `$header("Content-Type")="application/json"`, wantLang: JSONata, want: true},
		{src: `true`, wantLang: JSONata, want: true},
		{src: `false`, wantLang: JSONata, want: false},
		{src: `((request.verb==='GET')&&(api.operation.path==='/current'))`, wantLang: JavaScript, want: true},
		{src: `$(message.status.code) == '200'`, wantLang: JavaScript, want: true},
		{src: `$(message.status.code) != '200'`, wantLang: JavaScript, want: false},
		{src: `apim.getvariable('message.status.code') != '200'`, wantLang: JavaScript, want: false},
		{src: `apim.getvariable('message.body').var == 'set'`, wantLang: JavaScript, want: true},
		{src: `$(request.headers.content-type) == "application/xml"`, wantLang: JavaScript, want: true},
		{src: `$(apiName) === 'summary'`, wantLang: JavaScript, want: true},
		{src: `"asdas" == "asfasdasdas"`, wantLang: JavaScript, want: false},
		{src: `request.verb ==== 'GET'`, compile: "neither JSONata nor JavaScript"},
		{src: `$(a`, compile: "unterminated $("},
	}
	for i, tc := range cases {
		name := fmt.Sprintf("%02d_%v_%s", i, tc.lang, tc.src)
		t.Run(name, func(t *testing.T) {
			c, err := CompileCondition(tc.src, tc.lang)
			if tc.compile != "" {
				if err == nil {
					t.Fatalf("compiled as %v; want error containing %q", c.Lang(), tc.compile)
				}
				if !strings.Contains(err.Error(), tc.compile) {
					t.Fatalf("error %q does not contain %q", err, tc.compile)
				}
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("error %T is not a *SyntaxError", err)
				}
				if tc.column != 0 && se.Column != tc.column {
					t.Fatalf("column = %d, want %d (%v)", se.Column, tc.column, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if c.String() != tc.src {
				t.Errorf("String() = %q", c.String())
			}
			if want := tc.lang; want != Auto && c.Lang() != want {
				t.Errorf("Lang() = %v, want %v", c.Lang(), want)
			}
			if tc.lang == Auto && c.Lang() != tc.wantLang {
				t.Errorf("auto-detected %v, want %v", c.Lang(), tc.wantLang)
			}
			doc := tc.ctx
			if doc == nil {
				doc = sampleContext()
			}
			got, err := c.Eval(context.Background(), newTestEnv(doc))
			if tc.evalErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.evalErr) {
					t.Fatalf("Eval error = %v, want one containing %q", err, tc.evalErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			if got != tc.want {
				t.Fatalf("Eval = %v, want %v", got, tc.want)
			}
			// A second evaluation reuses pooled state: same answer.
			if again, err := c.Eval(context.Background(), newTestEnv(doc)); err != nil || again != got {
				t.Fatalf("second Eval = %v, %v", again, err)
			}
		})
	}
}

func TestAutoErrorUnwrapsBoth(t *testing.T) {
	_, err := CompileCondition(`request.verb ==== 'GET'`, Auto)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("errors.As(*SyntaxError) failed for %v", err)
	}
	if se.Lang != JSONata || se.Column != 15 {
		t.Errorf("first syntax error = %+v", se)
	}
}

func TestSyntaxErrorLineColumn(t *testing.T) {
	src := "($httpVerb() = 'GET' and\n  $operationPath() = = '/x')"
	_, err := CompileCondition(src, JSONata)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("got %v", err)
	}
	if se.Line != 2 || se.Column != 22 {
		t.Errorf("line %d column %d, want 2:22 (%v)", se.Line, se.Column, err)
	}
	if !strings.Contains(err.Error(), "line 2, column 22") {
		t.Errorf("message %q lacks the position", err)
	}
	// JavaScript positions are mapped back through $(…) rewrites.
	_, err = CompileCondition(`$(request.headers.content-type) == "a" ) `, JavaScript)
	if !errors.As(err, &se) || se.Column != 40 {
		t.Errorf("JS error %v, column %d, want 40", err, se.Column)
	}
}

func TestLangForGateway(t *testing.T) {
	for gw, want := range map[string]Lang{
		"datapower-api-gateway": JSONata, "datapower-gateway": JavaScript, "": Auto, "other": Auto,
	} {
		if got := LangForGateway(gw); got != want {
			t.Errorf("LangForGateway(%q) = %v, want %v", gw, got, want)
		}
	}
}

// Root() is only built for expressions that navigate from the root.
func TestRootOnlyWhenNeeded(t *testing.T) {
	for _, tc := range []struct {
		src   string
		roots int64
	}{
		{`$httpVerb() = 'GET' and $operationPath() = '/current'`, 0},
		{`$(request.headers.opname) = 'create' and $header('content-type') = 'application/json'`, 0},
		{`$statusCode() = 200 and $queryParameter('zip') = '10001' and $urlParameter('city') = 'paris'`, 0},
		{`$exists($urlParameter('query')) and $storageType() = 'json'`, 0},
		{`$uppercase($httpVerb()) = 'GET'`, 0},
		{`request.headers.xml = "true"`, 1},
		{`(myApi = 'summary')`, 1},
		{`$apiCtx().tokenFoundInCache = 'true'`, 1},
		{`$apiCtx().myApi = 'summary' and $.myApi = 'summary'`, 1}, // built once per evaluation
	} {
		c, err := CompileCondition(tc.src, JSONata)
		if err != nil {
			t.Fatal(err)
		}
		env := newTestEnv(sampleContext())
		if ok, err := c.Eval(context.Background(), env); err != nil || !ok {
			t.Errorf("%s: Eval = %v, %v", tc.src, ok, err)
		}
		if got := env.rootCalls.Load(); got != tc.roots {
			t.Errorf("%s: Root() called %d times, want %d", tc.src, got, tc.roots)
		}
	}
}

// Only the top-level keys a condition names are normalized and handed to gnata.
func TestRootKeys(t *testing.T) {
	c, err := CompileCondition(`request.verb = 'GET' and message.status.code = 200`, JSONata)
	if err != nil {
		t.Fatal(err)
	}
	if c.jn.root != rootKeys || !reflect.DeepEqual(c.jn.rootKeys, []string{"request", "message"}) {
		t.Fatalf("root = %v %v", c.jn.root, c.jn.rootKeys)
	}
	for _, src := range []string{`$.request.verb = 'GET'`, `*.verb = 'GET'`, `**.verb = 'GET'`, `$string() != ''`, `$eval('request.verb') = 'GET'`} {
		c, err := CompileCondition(src, JSONata)
		if err != nil {
			t.Fatal(err)
		}
		if c.jn.root != rootFull {
			t.Errorf("%s: root = %v, want full", src, c.jn.root)
		}
		if ok, err := c.Eval(context.Background(), newTestEnv(sampleContext())); err != nil || !ok {
			t.Errorf("%s: Eval = %v, %v", src, ok, err)
		}
	}
	// Multiplication is not a wildcard.
	c, err = CompileCondition(`message.status.code * 2 = 400`, JSONata)
	if err != nil {
		t.Fatal(err)
	}
	if c.jn.root != rootKeys {
		t.Errorf("root = %v, want keys", c.jn.root)
	}
	if ok, err := c.Eval(context.Background(), newTestEnv(sampleContext())); err != nil || !ok {
		t.Errorf("Eval = %v, %v", ok, err)
	}
}

func TestNilEnv(t *testing.T) {
	for _, src := range []string{`$httpVerb() = 'GET'`, `$(a) = 1`, `request.verb = 'GET'`, `$apiCtx().x = 1`, `$storageType() = 'json'`} {
		c, err := CompileCondition(src, JSONata)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := c.Eval(context.Background(), nil); err != nil || ok {
			t.Errorf("%s with nil Env: %v, %v", src, ok, err)
		}
	}
	c, err := CompileCondition(`$(a) === undefined && request.verb === undefined && apim.getvariable('x') === undefined`, JavaScript)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Eval(context.Background(), nil); err != nil || !ok {
		t.Errorf("JS with nil Env: %v, %v", ok, err)
	}
}

func TestJSTimeout(t *testing.T) {
	c, err := CompileCondition(`while (true) {}`, JavaScript)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Eval(context.Background(), newTestEnv(sampleContext()))
	if err == nil || !strings.Contains(err.Error(), "timed out") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d < DefaultJSTimeout || d > 20*DefaultJSTimeout {
		t.Errorf("took %v, want about %v", d, DefaultJSTimeout)
	}
	// The ctx deadline, when there is one, is the limit.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err = c.Eval(ctx, newTestEnv(sampleContext())); err == nil {
		t.Fatal("no error")
	}
	if d := time.Since(start); d > DefaultJSTimeout {
		t.Errorf("took %v with a 10ms deadline", d)
	}
	ctx3, cancel3 := context.WithTimeout(context.Background(), 3*DefaultJSTimeout)
	defer cancel3()
	start = time.Now()
	if _, err = c.Eval(ctx3, nil); err == nil {
		t.Fatal("no error")
	}
	if d := time.Since(start); d < 2*DefaultJSTimeout {
		t.Errorf("took %v with a %v deadline", d, 3*DefaultJSTimeout)
	}
	// An expired ctx does not run at all.
	if _, err = c.Eval(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("expired ctx: %v", err)
	}
	// Cancellation interrupts.
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(5*time.Millisecond, cancel2)
	if _, err = c.Eval(ctx2, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	// Interrupted runtimes are not reused: a quick condition still works after timeouts.
	ok, err := CompileCondition(`1 === 1`, JavaScript)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if v, err := ok.Eval(context.Background(), nil); err != nil || !v {
			t.Fatalf("Eval = %v, %v", v, err)
		}
	}
}

func TestJSONataCancelled(t *testing.T) {
	c, err := CompileCondition(`$count([1..1000000][$ > 5]) > 0`, JSONata)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Eval(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// Conditions are shared by all requests: evaluate concurrently with
// different contexts (run with -race).
func TestConcurrentEval(t *testing.T) {
	jn, err := CompileCondition(`$httpVerb() = $(want) and request.headers.opname = 'create' and $apiCtx().myApi = 'summary'`, Auto)
	if err != nil {
		t.Fatal(err)
	}
	js, err := CompileCondition(`request.verb === $(want) && apim.getvariable('myApi') === 'summary' && myApi === 'summary'`, Auto)
	if err != nil {
		t.Fatal(err)
	}
	if jn.Lang() != JSONata || js.Lang() != JavaScript {
		t.Fatalf("langs %v %v", jn.Lang(), js.Lang())
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				doc := sampleContext()
				match := (g+i)%2 == 0
				if match {
					doc["want"] = "GET"
				} else {
					doc["want"] = "POST"
				}
				env := newTestEnv(doc)
				for _, c := range []*Condition{jn, js} {
					// An explicit deadline: the 100ms default is wall-clock
					// time, too tight for 16 goroutines under -race on 2 cores.
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					got, err := c.Eval(ctx, env)
					cancel()
					if err != nil || got != match {
						errs <- fmt.Errorf("%v: got %v, %v; want %v", c.Lang(), got, err, match)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestExpression(t *testing.T) {
	input := map[string]any{
		"location": map[string]any{"city": "Paris", "zip": 75001},
		"items":    []any{map[string]any{"n": 1}, map[string]any{"n": 2}},
	}
	env := newTestEnv(sampleContext())
	for _, tc := range []struct {
		src  string
		want any
	}{
		{`location.city`, "Paris"},
		{`location.zip + 1`, float64(75002)},
		{`$sum(items.n)`, float64(3)},
		{`{"city": location.city, "verb": $httpVerb(), "op": $(api.operation.id)}`,
			map[string]any{"city": "Paris", "verb": "GET", "op": "getCurrent"}},
		{`$apiCtx().iam.body.access_token`, "tok123"},
		{`items.n`, []any{float64(1), float64(2)}},
		{`$(message.status.code)`, float64(200)},
	} {
		e, err := CompileJSONata(tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		got, err := e.Eval(context.Background(), env, input)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.src, got, tc.want)
		}
		if e.String() != tc.src {
			t.Errorf("String() = %q", e.String())
		}
	}
	if env.rootCalls.Load() != 1 {
		t.Errorf("Root() called %d times, want 1 (only $apiCtx)", env.rootCalls.Load())
	}
	// The input must not be modified by normalization.
	if _, ok := input["location"].(map[string]any)["zip"].(int); !ok {
		t.Error("input was modified")
	}

	undef, _ := CompileJSONata(`nothing`)
	if v, defined, err := undef.EvalDefined(context.Background(), env, input); err != nil || defined || v != nil {
		t.Errorf("undefined: %v %v %v", v, defined, err)
	}
	null, _ := CompileJSONata(`null`)
	if v, defined, err := null.EvalDefined(context.Background(), env, input); err != nil || !defined || v != nil {
		t.Errorf("null: %v %v %v", v, defined, err)
	}
	if _, err := CompileJSONata(`location.`); err == nil {
		t.Error("no compile error")
	}
}

func TestNormalize(t *testing.T) {
	in := map[string]any{
		"a": 1, "b": []any{int64(2), "x", map[string]any{"c": uint8(3)}}, "d": "s",
		"e": []string{"p"}, "f": map[string]string{"k": "v"}, "g": []byte("raw"), "h": float32(1.5),
	}
	got := normalize(in, 0)
	want := map[string]any{
		"a": float64(1), "b": []any{float64(2), "x", map[string]any{"c": float64(3)}}, "d": "s",
		"e": []any{"p"}, "f": map[string]any{"k": "v"}, "g": "raw", "h": float64(1.5),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("normalize = %#v", got)
	}
	if in["a"] != 1 {
		t.Error("input modified")
	}
	clean := map[string]any{"a": 1.0, "b": []any{"x", map[string]any{"c": true}}}
	if allocs := testing.AllocsPerRun(100, func() { normalize(clean, 0) }); allocs != 0 {
		t.Errorf("normalizing a clean document allocates %v times", allocs)
	}
}
