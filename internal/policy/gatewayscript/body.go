package gatewayscript

import (
	"github.com/dop251/goja"

	"github.com/portico-api/portico/internal/assembly"
)

// bodyReader is one of DataPower's read functions: it produces the body in
// some form, or an error for the callback.
type bodyReader func(isReq bool) (goja.Value, *goja.Object)

// newBodyObject builds context.message.body or context.request.body. The
// body is read only when the script calls a read function. DataPower calls
// the callback when the data is ready; here it is ready, so the callback
// runs before the read function returns. Without a callback the read
// function returns the value (a Portico convenience).
func (rt *jsrt) newBodyObject(isReq bool) *goja.Object {
	o := rt.vm.NewObject()
	readers := map[string]bodyReader{
		"readAsJSON":    rt.readJSON,
		"readAsBuffer":  rt.readBuffer,
		"readAsBuffers": rt.readBuffer,
		"readAsString":  rt.readString,
		"readAsXML":     rt.readXML,
	}
	for name, read := range readers {
		rt.method(o, name, func(call goja.FunctionCall) goja.Value {
			return rt.deliver(call.Argument(0), read, isReq)
		})
	}
	rt.method(o, "write", func(call goja.FunctionCall) goja.Value {
		if isReq {
			rt.throwf("context.request is read-only; write context.message.body instead")
		}
		rt.writeBody(call.Argument(0))
		return goja.Undefined()
	})
	return o
}

// deliver hands a read's result to the callback (error, value), or
// returns it (throwing the error) when there is no callback.
func (rt *jsrt) deliver(cb goja.Value, read bodyReader, isReq bool) goja.Value {
	val, jsErr := read(isReq)
	fn, ok := goja.AssertFunction(cb)
	if !ok {
		if jsErr != nil {
			panic(jsErr)
		}
		return val
	}
	errArg := goja.Null()
	if jsErr != nil {
		errArg, val = jsErr, goja.Undefined()
	}
	if _, err := fn(goja.Undefined(), errArg, val); err != nil {
		panic(err)
	}
	return goja.Undefined()
}

// bodyOf is the body a read function reads.
func bodyOf(c *assembly.Context, isReq bool) *assembly.Body {
	if isReq {
		return c.Request.Body
	}
	return c.Message.Body
}

// rawBody reads a body as bytes, within MaxInput. Called with the context
// locked.
func (st *run) rawBody(c *assembly.Context, b *assembly.Body) []byte {
	max := st.p.eng.opts.MaxInput
	if b.IsStream() && b == c.Request.Body && c.Request.ContentLength > max {
		st.abort(st.tooLarge("the body", c.Request.ContentLength))
	}
	data, err := b.Bytes()
	if err != nil {
		st.abort(assembly.AsError(err))
	}
	if int64(len(data)) > max {
		st.abort(st.tooLarge("the body", int64(len(data))))
	}
	return data
}

// readJSON reads the body as JSON: a parsed body is converted, raw bytes
// are parsed as JSON.parse would.
func (rt *jsrt) readJSON(isReq bool) (goja.Value, *goja.Object) {
	st := rt.st()
	c := st.lock()
	b := bodyOf(c, isReq)
	if v, ok := b.Parsed(); ok {
		defer st.unlock()
		return rt.inConverter(false).toJS(v, 0), nil
	}
	data := func() []byte { defer st.unlock(); return st.rawBody(c, b) }()
	if len(data) == 0 {
		return goja.Undefined(), rt.readError("readAsJSON: the body is empty")
	}
	return rt.parseJSONText(string(data))
}

// readError is the error object a read passes to its callback, with the
// fields DataPower's errors carry.
func (rt *jsrt) readError(msg string) *goja.Object {
	o := rt.jsError(rt.errorCtor, msg)
	_ = o.Set("errorMessage", msg)
	_ = o.Set("errorCode", "0x00000000")
	_ = o.Set("errorDescription", msg)
	_ = o.Set("errorSuggestion", "")
	return o
}

func (rt *jsrt) readBuffer(isReq bool) (goja.Value, *goja.Object) {
	st := rt.st()
	c := st.lock()
	data := func() []byte { defer st.unlock(); return st.rawBody(c, bodyOf(c, isReq)) }()
	return rt.newBuffer(append([]byte(nil), data...)), nil
}

func (rt *jsrt) readString(isReq bool) (goja.Value, *goja.Object) {
	st := rt.st()
	c := st.lock()
	data := func() []byte { defer st.unlock(); return st.rawBody(c, bodyOf(c, isReq)) }()
	return rt.vm.ToValue(string(data)), nil
}

func (rt *jsrt) readXML(bool) (goja.Value, *goja.Object) {
	return goja.Undefined(), rt.readError("readAsXML: Portico does not provide XML documents to scripts yet; use readAsString or readAsBuffer")
}

// bodyRef is message.body, parsed once.
var bodyRef = assembly.MustRef("message.body")

// writeBody replaces the message body: text or bytes as they are, an
// object or array as JSON (a parsed body later policies can navigate).
func (rt *jsrt) writeBody(v goja.Value) {
	var body any
	switch {
	case v == nil || goja.IsUndefined(v) || goja.IsNull(v):
		body = ""
	default:
		body = rt.outConverter().fromJS(v, 0)
		switch t := body.(type) {
		case nil:
			body = ""
		case float64, bool:
			body = assembly.Stringify(t)
		}
	}
	st := rt.st()
	c := st.lock()
	err := c.Set(bodyRef, body)
	st.unlock()
	if err != nil {
		rt.throwHost(assembly.AsError(err))
	}
}

// setContentType sets the message's Content-Type (apim.output).
func (rt *jsrt) setContentType(ct string) {
	st := rt.st()
	c := st.lock()
	defer st.unlock()
	if c.Message.Headers == nil {
		c.Message.Headers = make(map[string][]string)
	}
	c.Message.Headers.Set("Content-Type", ct)
}
