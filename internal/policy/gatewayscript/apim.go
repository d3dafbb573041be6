package gatewayscript

import (
	"strconv"
	"strings"

	"github.com/dop251/goja"

	"github.com/portico-api/portico/internal/assembly"
)

// newApim builds the v5 apim object (also require('apim') and
// require('./apim.custom.js')).
func (rt *jsrt) newApim(console *goja.Object) *goja.Object {
	o := rt.vm.NewObject()
	get := func(call goja.FunctionCall) goja.Value {
		return rt.getVar(optString(call.Argument(0), ""), flavorApim)
	}
	for _, name := range []string{"getvariable", "getVariable", "getContext"} {
		rt.method(o, name, get)
	}
	set := func(call goja.FunctionCall) goja.Value {
		op := opSet
		switch strings.ToLower(optString(call.Argument(2), "set")) {
		case "set":
		case "add":
			op = opAdd
		case "clear":
			op = opClear
		default:
			rt.throwf("apim.setvariable: action %q is not one of set, add, clear", call.Argument(2).String())
		}
		rt.setVar(call.Argument(0).String(), call.Argument(1), op)
		return goja.Undefined()
	}
	for _, name := range []string{"setvariable", "setVariable", "setContext"} {
		rt.method(o, name, set)
	}
	rt.method(o, "output", func(call goja.FunctionCall) goja.Value {
		if ct := optString(call.Argument(0), ""); ct != "" {
			rt.setContentType(ct)
		}
		return goja.Undefined()
	})
	rt.method(o, "error", func(call goja.FunctionCall) goja.Value {
		code := 0
		if s := optString(call.Argument(1), ""); s != "" {
			if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 100 && n <= 599 {
				code = n
			}
		}
		if code == 0 {
			code = 500
		}
		rt.reject(optString(call.Argument(0), ""), optString(call.Argument(3), ""), code, optString(call.Argument(2), ""))
		return goja.Undefined()
	})
	rt.inputReaders(o, "readInputAs")
	_ = o.Set("console", console)
	rt.freeze(o)
	return o
}

// inputReaders adds readInputAsJSON & co. (apim) or readAsJSON & co.
// (session.input): both read the message body.
func (rt *jsrt) inputReaders(o *goja.Object, prefix string) {
	readers := map[string]bodyReader{
		"JSON": rt.readJSON, "JSONObject": rt.readJSON, "Buffer": rt.readBuffer, "Buffers": rt.readBuffer,
		"String": rt.readString, "XML": rt.readXML,
	}
	for name, read := range readers {
		rt.method(o, prefix+name, func(call goja.FunctionCall) goja.Value {
			return rt.deliver(call.Argument(0), read, false)
		})
	}
}

// newSession builds DataPower's session: input (the message body),
// output (writes it), reject, and name('_apimgmt') for v5's content type.
func (rt *jsrt) newSession() *goja.Object {
	o := rt.vm.NewObject()
	input := rt.vm.NewObject()
	rt.inputReaders(input, "readAs")
	output := rt.vm.NewObject()
	rt.method(output, "write", func(call goja.FunctionCall) goja.Value {
		rt.writeBody(call.Argument(0))
		return goja.Undefined()
	})
	_ = o.Set("input", input)
	_ = o.Set("output", output)
	rt.method(o, "reject", func(call goja.FunctionCall) goja.Value {
		rt.reject(assembly.JavaScriptError, optString(call.Argument(0), "rejected by the script"), 0, "")
		return goja.Undefined()
	})
	ctxs := map[string]*goja.Object{}
	rt.method(o, "name", func(call goja.FunctionCall) goja.Value {
		name := call.Argument(0).String()
		if c, ok := ctxs[name]; ok {
			return c
		}
		c := rt.newNamedContext(name)
		if len(ctxs) < 16 { // scripts name a few contexts; do not keep many
			ctxs[name] = c
		}
		return c
	})
	rt.freeze(o, input, output)
	return o
}

// newNamedContext is session.name(n): getVar and setVar on variables
// named after the context. In _apimgmt, content-type is the message's.
func (rt *jsrt) newNamedContext(name string) *goja.Object {
	o := rt.vm.NewObject()
	varName := func(v string) string {
		if name == "_apimgmt" && strings.EqualFold(v, "content-type") {
			return "message.headers.content-type"
		}
		return "session." + strings.TrimLeft(name, "_") + "." + v
	}
	rt.method(o, "getVar", func(call goja.FunctionCall) goja.Value {
		return rt.getVar(varName(call.Argument(0).String()), flavorContext)
	})
	rt.method(o, "setVar", func(call goja.FunctionCall) goja.Value {
		rt.setVar(varName(call.Argument(0).String()), call.Argument(1), opSet)
		return goja.Undefined()
	})
	rt.freeze(o)
	return o
}
