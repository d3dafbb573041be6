package expr

import (
	"strings"
	"sync/atomic"
)

// testEnv is a minimal Env over a JSON-like document, like the assembly's
// context: dotted names, case-insensitive header names, counted Root calls.
type testEnv struct {
	doc       map[string]any
	rootCalls atomic.Int64
	varCalls  atomic.Int64
}

func newTestEnv(doc map[string]any) *testEnv { return &testEnv{doc: doc} }

func (e *testEnv) Var(name string) (any, bool) {
	e.varCalls.Add(1)
	var cur any = e.doc
	prev := ""
	for seg := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := m[seg]
		if !ok && prev == "headers" {
			v, ok = m[strings.ToLower(seg)]
		}
		if !ok {
			return nil, false
		}
		cur, prev = v, seg
	}
	return cur, true
}

func (e *testEnv) Root() map[string]any {
	e.rootCalls.Add(1)
	return e.doc
}

// sampleContext is a typical request context. Numbers are Go ints where the
// gateway would produce ints.
func sampleContext() map[string]any {
	return map[string]any{
		"request": map[string]any{
			"verb":        "GET",
			"path":        "/weather/current",
			"uri":         "https://api.example.com/weather/current?zip=10001&units=metric&q=a+b",
			"querystring": "zip=10001&units=metric&q=a+b",
			"search":      "?zip=10001&units=metric&q=a+b",
			"headers": map[string]any{
				"content-type": "application/xml",
				"opname":       "create",
				"xml":          "true",
				"sr":           "true",
				"call":         "false",
			},
			"parameters": map[string]any{
				"zip":   "10001",
				"city":  "paris",
				"query": "{ hello }",
				"id": map[string]any{
					"locations": []any{"path"},
					"values":    []any{"42"},
				},
			},
			"websocket": false,
		},
		"message": map[string]any{
			"headers": map[string]any{
				"content-type": "application/json",
				"x-count":      3,
			},
			"status": map[string]any{"code": 200, "reason": "OK"},
			"body": map[string]any{
				"data":  map[string]any{"id": 7},
				"var":   "set",
				"items": []any{map[string]any{"price": 5}, map[string]any{"price": 15}},
			},
		},
		"api": map[string]any{
			"name": "weather",
			"operation": map[string]any{
				"id":   "getCurrent",
				"path": "/current",
			},
			"properties": map[string]any{"endpoint-server": "https://backend"},
		},
		"iam": map[string]any{
			"body":    map[string]any{"access_token": "tok123"},
			"headers": map[string]any{"content-type": "application/json"},
		},
		"myApi":             "summary",
		"apiName":           "summary",
		"tokenFoundInCache": "true",
		"jwtNotFound":       "false",
		"nullVar":           nil,
	}
}
