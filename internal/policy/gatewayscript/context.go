package gatewayscript

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/dop251/goja"

	"github.com/portico-api/portico/internal/assembly"
)

// flavor says whose conventions a variable read follows.
type flavor int

const (
	// flavorContext is the API Gateway's context.get: request parameters
	// are {values, locations} objects, bodies are what the message holds.
	flavorContext flavor = iota
	// flavorApim is v5's apim.getvariable: parameters are plain values,
	// and a JSON body that was never parsed is parsed for the script.
	flavorApim
)

type varOp int

const (
	opSet varOp = iota
	opAdd
	opClear
)

// newContextObject builds `context`: get, set, clear, reject, and the
// message and request objects.
func (rt *jsrt) newContextObject() *goja.Object {
	o := rt.vm.NewObject()
	rt.method(o, "get", func(call goja.FunctionCall) goja.Value {
		return rt.getVar(call.Argument(0).String(), flavorContext)
	})
	rt.method(o, "getVariable", func(call goja.FunctionCall) goja.Value {
		return rt.getVar(call.Argument(0).String(), flavorContext)
	})
	rt.method(o, "set", func(call goja.FunctionCall) goja.Value {
		rt.setVar(call.Argument(0).String(), call.Argument(1), opSet)
		return goja.Undefined()
	})
	rt.method(o, "setVariable", func(call goja.FunctionCall) goja.Value {
		rt.setVar(call.Argument(0).String(), call.Argument(1), opSet)
		return goja.Undefined()
	})
	rt.method(o, "clear", func(call goja.FunctionCall) goja.Value {
		rt.setVar(call.Argument(0).String(), nil, opClear)
		return goja.Undefined()
	})
	rt.method(o, "reject", func(call goja.FunctionCall) goja.Value {
		rt.reject(optString(call.Argument(0), ""), optString(call.Argument(1), ""), 0, "")
		return goja.Undefined()
	})
	_ = o.Set("message", rt.newMessageObject(false))
	_ = o.Set("request", rt.newMessageObject(true))
	rt.freeze(o)
	return o
}

// reject records the error the policy raises when the script ends (the
// script runs on, as on DataPower). The first rejection wins.
func (rt *jsrt) reject(name, msg string, status int, reason string) {
	st := rt.st()
	if st.pending != nil {
		return
	}
	if strings.TrimSpace(name) == "" {
		name = assembly.JavaScriptError
	}
	st.pending = &assembly.Error{Name: clip(name), Message: clip(msg), Status: status, Reason: clip(reason), Policy: st.p.kind}
}

// clip bounds a text the script gives an error: it becomes part of the
// response and of the logs.
func clip(s string) string {
	if len(s) > 8<<10 {
		return s[:8<<10] + "…"
	}
	return s
}

// getVar reads a context variable and hands the script a copy.
func (rt *jsrt) getVar(name string, fl flavor) goja.Value {
	if strings.TrimSpace(name) == "" {
		return goja.Undefined()
	}
	ref := rt.ref(name)
	st := rt.st()
	c := st.lock()
	defer st.unlock()
	v, ok := lookup(c, ref, fl)
	if !ok {
		return goja.Undefined()
	}
	cv := rt.inConverter(fl == flavorApim)
	if fl == flavorApim && (ref.Name == "body" || strings.HasSuffix(ref.Name, ".body")) {
		return cv.bodyValue(v)
	}
	return cv.toJS(v, 0)
}

// lookup resolves a name, with the whole-tree names DataPower scripts use
// (api, system) and the API Gateway's shape of request parameters.
func lookup(c *assembly.Context, ref assembly.Ref, fl flavor) (any, bool) {
	name := ref.Name
	switch {
	case name == "api":
		return apiDoc(c), true
	case name == "system":
		return systemDoc(c), true
	case name == "message":
		return c.Message, true
	case fl == flavorContext && name == "request":
		v, ok := c.Lookup(ref)
		if doc, isMap := v.(map[string]any); ok && isMap {
			doc["parameters"] = paramObjects(c)
		}
		return v, ok
	case fl == flavorContext && name == "request.parameters":
		return paramObjects(c), true
	case fl == flavorContext && strings.HasPrefix(name, "request.parameters."):
		return paramObject(c, strings.TrimPrefix(name, "request.parameters."))
	}
	return c.Lookup(ref)
}

// paramObjects is request.parameters as the API Gateway shows it to
// scripts: each parameter with its values and where they were found.
func paramObjects(c *assembly.Context) map[string]any {
	out := map[string]any{}
	add := func(name, value, where string) {
		p, _ := out[name].(map[string]any)
		if p == nil {
			p = map[string]any{"values": []any{}, "locations": []any{}}
			out[name] = p
		}
		p["values"] = append(p["values"].([]any), value)
		p["locations"] = append(p["locations"].([]any), where)
	}
	for _, p := range c.Request.Params {
		add(p.Name, p.Value, "path")
	}
	for k, vs := range c.Request.Query() {
		for _, v := range vs {
			add(k, v, "query")
		}
	}
	return out
}

// paramObject is one parameter: path, then query, then header.
func paramObject(c *assembly.Context, name string) (any, bool) {
	if p, ok := paramObjects(c)[name]; ok {
		return p, true
	}
	if vs := c.Request.Headers.Values(name); len(vs) > 0 {
		values, locs := make([]any, len(vs)), make([]any, len(vs))
		for i, v := range vs {
			values[i], locs[i] = v, "header"
		}
		return map[string]any{"values": values, "locations": locs}, true
	}
	return nil, false
}

// apiDoc is the api tree, for context.get('api').
func apiDoc(c *assembly.Context) map[string]any {
	get := func(name string) any { v, _ := c.Var(name); return v }
	doc := map[string]any{}
	for _, k := range []string{"name", "version", "title", "id", "type", "root"} {
		doc[k] = get("api." + k)
	}
	doc["basepath"] = doc["root"]
	doc["org"] = map[string]any{"id": get("api.org.id"), "name": get("api.org.name")}
	doc["catalog"] = map[string]any{"id": get("api.catalog.id"), "name": get("api.catalog.name")}
	doc["endpoint"] = map[string]any{"address": get("api.endpoint.address"), "hostname": get("api.endpoint.hostname")}
	if c.Operation != nil {
		doc["operation"] = map[string]any{"id": c.Operation.ID, "path": c.Operation.Path}
	}
	props := map[string]any{}
	if c.API != nil {
		for k := range c.API.Properties {
			props[k] = get("api.properties." + k)
		}
	}
	doc["properties"] = props
	return doc
}

// systemDoc is the system tree, for context.get('system').
func systemDoc(c *assembly.Context) map[string]any {
	get := func(name string) any { v, _ := c.Var("system." + name); return v }
	return map[string]any{
		"datetime": get("datetime"),
		"time":     map[string]any{"hour": get("time.hour"), "minute": get("time.minute"), "seconds": get("time.seconds")},
		"date": map[string]any{"day-of-week": get("date.day-of-week"), "day-of-month": get("date.day-of-month"),
			"month": get("date.month"), "year": get("date.year")},
		"timezone": get("timezone"),
	}
}

// setVar sets, adds or clears a variable. The value is converted before
// the context is locked: converting may run the script's toJSON.
func (rt *jsrt) setVar(name string, val goja.Value, op varOp) {
	ref := rt.ref(name)
	var v any
	if op != opClear {
		v = rt.outConverter().fromJS(val, 0)
		if b, ok := v.([]byte); ok && !(ref.Name == "body" || strings.HasSuffix(ref.Name, ".body")) {
			v = string(b)
		}
	}
	st := rt.st()
	c := st.lock()
	err := assign(c, ref, v, op)
	st.unlock()
	if err != nil {
		rt.throwHost(assembly.AsError(err))
	}
	if strings.HasPrefix(ref.Name, "message.status") {
		st.statusSet = true
	}
}

func assign(c *assembly.Context, ref assembly.Ref, v any, op varOp) error {
	if m, ok := v.(map[string]any); ok && op == opSet && strings.HasSuffix(ref.Name, ".headers") {
		return setAllHeaders(c, ref, m)
	}
	switch op {
	case opAdd:
		return c.Add(ref, v)
	case opClear:
		return c.Clear(ref)
	}
	return c.Set(ref, v)
}

// setAllHeaders replaces a message's headers with an object's entries, as
// apim.setvariable('message.headers', obj) does.
func setAllHeaders(c *assembly.Context, ref assembly.Ref, m map[string]any) error {
	if err := c.Clear(ref); err != nil {
		return err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		hr, err := assembly.ParseRef(ref.Name + "." + k)
		if err != nil {
			return &assembly.Error{Name: assembly.PropertyError, Message: err.Error()}
		}
		vals, isList := m[k].([]any)
		if !isList {
			vals = []any{m[k]}
		}
		for _, hv := range vals {
			if err := c.Add(hr, hv); err != nil {
				return err
			}
		}
	}
	return nil
}

// ---- message and request objects

// newMessageObject builds context.message (the working message) or
// context.request (the request as received, read-only).
func (rt *jsrt) newMessageObject(isReq bool) *goja.Object {
	o := rt.vm.NewObject()
	headers := func(c *assembly.Context) http.Header {
		if isReq {
			return c.Request.Headers
		}
		return c.Message.Headers
	}
	header := rt.newHeaderObject(headers, isReq)
	_ = o.Set("header", header)
	rt.accessor(o, "headers", func() goja.Value { return rt.headerSnapshot(headers) }, nil)
	body := rt.newBodyObject(isReq)
	_ = o.Set("body", body)
	if isReq {
		rt.requestAccessors(o)
	} else {
		rt.accessor(o, "statusCode", func() goja.Value {
			c := rt.st().lock()
			defer rt.st().unlock()
			return rt.vm.ToValue(c.Message.StatusCode())
		}, func(v goja.Value) { rt.setStatus(v, true) })
		rt.accessor(o, "reasonPhrase", func() goja.Value {
			c := rt.st().lock()
			defer rt.st().unlock()
			return rt.vm.ToValue(c.Message.StatusReason())
		}, func(v goja.Value) { rt.setStatus(v, false) })
	}
	rt.freeze(o, header, body)
	return o
}

func (rt *jsrt) requestAccessors(o *goja.Object) {
	str := func(name string) func() goja.Value {
		return func() goja.Value { return rt.getVar("request."+name, flavorContext) }
	}
	for _, name := range []string{"method", "verb", "uri", "path", "search", "querystring"} {
		rt.accessor(o, name, str(name), nil)
	}
	rt.accessor(o, "parameters", func() goja.Value { return rt.getVar("request.parameters", flavorContext) }, nil)
}

// setStatus sets the message status code (a number, or "404" or "404 Not
// Found") or the reason phrase.
func (rt *jsrt) setStatus(v goja.Value, code bool) {
	st := rt.st()
	s := strings.TrimSpace(v.String())
	if !code {
		c := st.lock()
		defer st.unlock()
		c.Message.Reason = s
		st.statusSet = true
		return
	}
	num, reason, _ := strings.Cut(s, " ")
	n, err := strconv.Atoi(num)
	if err != nil || n < 100 || n > 999 {
		rt.throwf("statusCode must be an HTTP status code, not %q", s)
	}
	c := st.lock()
	defer st.unlock()
	c.Message.Status = n
	if reason != "" {
		c.Message.Reason = strings.TrimSpace(reason)
	}
	st.statusSet = true
}

// newHeaderObject builds a header accessor (context.message.header,
// header-metadata's current and original): get, set, remove, headers.
func (rt *jsrt) newHeaderObject(headers func(*assembly.Context) http.Header, readOnly bool) *goja.Object {
	o := rt.vm.NewObject()
	rt.method(o, "get", func(call goja.FunctionCall) goja.Value {
		name := call.Argument(0).String()
		st := rt.st()
		c := st.lock()
		defer st.unlock()
		if vs := headers(c).Values(name); len(vs) > 0 {
			return rt.vm.ToValue(vs[0])
		}
		return goja.Undefined()
	})
	change := func(name string, fn func(h http.Header)) {
		if readOnly {
			rt.throwf("the request's headers are read-only; change context.message's instead (%s)", name)
		}
		st := rt.st()
		c := st.lock()
		defer st.unlock()
		h := headers(c)
		if h == nil {
			h = http.Header{}
			c.Message.Headers = h
		}
		fn(h)
	}
	rt.method(o, "set", func(call goja.FunctionCall) goja.Value {
		name, value := call.Argument(0).String(), call.Argument(1).String()
		change(name, func(h http.Header) { h.Set(name, value) })
		return goja.Undefined()
	})
	rt.method(o, "add", func(call goja.FunctionCall) goja.Value {
		name, value := call.Argument(0).String(), call.Argument(1).String()
		change(name, func(h http.Header) { h.Add(name, value) })
		return goja.Undefined()
	})
	rt.method(o, "remove", func(call goja.FunctionCall) goja.Value {
		name := call.Argument(0).String()
		change(name, func(h http.Header) { h.Del(name) })
		return goja.Undefined()
	})
	rt.accessor(o, "headers", func() goja.Value { return rt.headerSnapshot(headers) }, nil)
	return o
}

// headerSnapshot copies headers into an object whose names are lower
// case but read case-insensitively (headers['Content-Type'] works too).
func (rt *jsrt) headerSnapshot(headers func(*assembly.Context) http.Header) goja.Value {
	st := rt.st()
	c := st.lock()
	h := headers(c)
	m := make(map[string]goja.Value, len(h))
	for k, vs := range h {
		switch len(vs) {
		case 0:
		case 1:
			m[strings.ToLower(k)] = rt.vm.ToValue(vs[0])
		default:
			items := make([]any, len(vs))
			for i, v := range vs {
				items[i] = v
			}
			m[strings.ToLower(k)] = rt.vm.NewArray(items...)
		}
	}
	st.unlock()
	return rt.vm.NewDynamicObject(&headerMap{m: m})
}

// headerMap is a case-insensitive JavaScript object of headers.
type headerMap struct{ m map[string]goja.Value }

func (h *headerMap) Get(key string) goja.Value { return h.m[strings.ToLower(key)] }
func (h *headerMap) Set(key string, v goja.Value) bool {
	h.m[strings.ToLower(key)] = v
	return true
}
func (h *headerMap) Has(key string) bool { _, ok := h.m[strings.ToLower(key)]; return ok }
func (h *headerMap) Delete(key string) bool {
	delete(h.m, strings.ToLower(key))
	return true
}
func (h *headerMap) Keys() []string {
	keys := make([]string, 0, len(h.m))
	for k := range h.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
