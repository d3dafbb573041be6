package gatewayscript

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/dop251/goja"

	"github.com/portico-api/portico/internal/assembly"
)

// ---- header-metadata

// newHeaderMetadata is DataPower's header-metadata: current (the message's
// headers), original (the request's, read-only) and response (the
// message's headers, status code and reason phrase).
func (rt *jsrt) newHeaderMetadata() *goja.Object {
	msgHeaders := func(c *assembly.Context) http.Header { return c.Message.Headers }
	reqHeaders := func(c *assembly.Context) http.Header { return c.Request.Headers }
	current := rt.newHeaderObject(msgHeaders, false)
	original := rt.newHeaderObject(reqHeaders, true)
	response := rt.newHeaderObject(msgHeaders, false)
	for _, o := range []*goja.Object{current, response} {
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
	m := rt.vm.NewObject()
	_ = m.Set("current", current)
	_ = m.Set("original", original)
	_ = m.Set("response", response)
	rt.freeze(current, original, response)
	return m
}

// ---- service-metadata

// serviceVars are the service variables Portico can answer, by the names
// of service-metadata's properties and of var://service/ URLs.
var serviceVars = map[string]string{
	"transactionId": "transaction-id", "globalTransactionId": "global-transaction-id",
	"URLIn": "URL-in", "URI": "URI", "protocol": "protocol", "protocolMethod": "protocol-method",
	"clientIPAddress": "client-ip-address", "clientAddress": "client-ip-address",
}

func (rt *jsrt) newServiceMetadata() *goja.Object {
	o := rt.vm.NewObject()
	for prop, name := range serviceVars {
		rt.accessor(o, prop, func() goja.Value { return rt.serviceVar(name) }, nil)
	}
	rt.method(o, "getVariable", func(c goja.FunctionCall) goja.Value {
		return rt.serviceVar(strings.TrimPrefix(c.Argument(0).String(), "var://service/"))
	})
	rt.method(o, "setVariable", func(c goja.FunctionCall) goja.Value {
		rt.throwf("service variable %s is read-only in Portico", c.Argument(0).String())
		return nil
	})
	return o
}

func (rt *jsrt) serviceVar(name string) goja.Value {
	st := rt.st()
	c := st.lock()
	defer st.unlock()
	r := c.Request
	var v string
	switch name {
	case "transaction-id", "global-transaction-id":
		v = c.TransactionID
	case "URL-in":
		v = r.Scheme + "://" + r.Host + r.URL.RequestURI()
	case "URI":
		v = r.URL.RequestURI()
	case "protocol":
		v = r.Scheme
	case "protocol-method":
		v = r.Method
	case "client-ip-address":
		v = r.RemoteAddr
		if host, _, err := net.SplitHostPort(v); err == nil {
			v = host
		}
	default:
		return goja.Undefined()
	}
	return rt.vm.ToValue(v)
}

// ---- crypto

var hashes = map[string]func() hash.Hash{
	"md5": md5.New, "sha1": sha1.New, "sha224": sha256.New224, "sha256": sha256.New,
	"sha384": sha512.New384, "sha512": sha512.New,
}

func hashNamed(name string) (func() hash.Hash, bool) {
	h, ok := hashes[strings.ReplaceAll(strings.ToLower(name), "-", "")]
	return h, ok
}

// newCrypto is the part of Node's crypto that scripts use: createHash,
// createHmac, randomBytes, timingSafeEqual, getHashes.
func (rt *jsrt) newCrypto() *goja.Object {
	o := rt.vm.NewObject()
	rt.method(o, "createHash", func(c goja.FunctionCall) goja.Value {
		mk, ok := hashNamed(c.Argument(0).String())
		if !ok {
			rt.throwf("Digest method not supported: %s", c.Argument(0).String())
		}
		return rt.newHash(mk())
	})
	rt.method(o, "createHmac", func(c goja.FunctionCall) goja.Value {
		mk, ok := hashNamed(c.Argument(0).String())
		if !ok {
			rt.throwf("Digest method not supported: %s", c.Argument(0).String())
		}
		return rt.newHash(hmac.New(mk, rt.bytesOf(c.Argument(1), "utf8")))
	})
	rt.method(o, "randomBytes", func(c goja.FunctionCall) goja.Value {
		n := c.Argument(0).ToInteger()
		if n < 0 || n > 1<<20 {
			rt.throwf("randomBytes: size %d is not between 0 and %d", n, 1<<20)
		}
		b := make([]byte, n)
		_, _ = rand.Read(b)
		buf := rt.newBuffer(b)
		if cb, ok := goja.AssertFunction(c.Argument(1)); ok {
			call(cb, goja.FunctionCall{This: goja.Undefined()}, goja.Null(), buf)
			return goja.Undefined()
		}
		return buf
	})
	rt.method(o, "timingSafeEqual", func(c goja.FunctionCall) goja.Value {
		a, b := rt.bytesOf(c.Argument(0), "utf8"), rt.bytesOf(c.Argument(1), "utf8")
		if len(a) != len(b) {
			rt.throwf("Input buffers must have the same byte length")
		}
		return rt.vm.ToValue(subtle.ConstantTimeCompare(a, b) == 1)
	})
	rt.method(o, "getHashes", func(goja.FunctionCall) goja.Value {
		names := sortedKeys(hashes)
		items := make([]any, len(names))
		for i, n := range names {
			items[i] = n
		}
		return rt.vm.NewArray(items...)
	})
	return o
}

// newHash wraps a hash: update(data[, encoding]) returns the hash object,
// digest([encoding]) a string or, without encoding, a Buffer.
func (rt *jsrt) newHash(h hash.Hash) goja.Value {
	o := rt.vm.NewObject()
	done := false
	rt.method(o, "update", func(c goja.FunctionCall) goja.Value {
		if done {
			rt.throwf("Digest already called")
		}
		h.Write(rt.bytesOf(c.Argument(0), optString(c.Argument(1), "utf8")))
		return o
	})
	rt.method(o, "digest", func(c goja.FunctionCall) goja.Value {
		if done {
			rt.throwf("Digest already called")
		}
		done = true
		sum := h.Sum(nil)
		switch enc := strings.ToLower(optString(c.Argument(0), "")); enc {
		case "":
			return rt.newBuffer(sum)
		case "hex":
			return rt.vm.ToValue(hex.EncodeToString(sum))
		case "base64":
			return rt.vm.ToValue(base64.StdEncoding.EncodeToString(sum))
		case "base64url":
			return rt.vm.ToValue(base64.RawURLEncoding.EncodeToString(sum))
		case "latin1", "binary":
			return rt.vm.ToValue(latin1(sum, 0xff))
		default:
			rt.throwf("digest: unknown encoding %s", enc)
		}
		return nil
	})
	return o
}

// bytesOf is a string (in an encoding) or a Buffer/typed array as bytes.
func (rt *jsrt) bytesOf(v goja.Value, enc string) []byte {
	if o, ok := v.(*goja.Object); ok {
		if b, ok := typedBytes(rt.vm, o); ok {
			return b
		}
	}
	return rt.encode(v.String(), enc)
}

// ---- querystring

func (rt *jsrt) newQuerystring() *goja.Object {
	o := rt.vm.NewObject()
	parse := func(c goja.FunctionCall) goja.Value {
		return rt.inConverter(false).toJS(parseQuery(c.Argument(0).String(), optString(c.Argument(1), "&"), optString(c.Argument(2), "=")), 0)
	}
	stringify := func(c goja.FunctionCall) goja.Value {
		v, _ := rt.outConverter().fromJS(c.Argument(0), 0).(map[string]any)
		return rt.vm.ToValue(formatQuery(v, optString(c.Argument(1), "&"), optString(c.Argument(2), "=")))
	}
	rt.method(o, "parse", parse)
	rt.method(o, "decode", parse)
	rt.method(o, "stringify", stringify)
	rt.method(o, "encode", stringify)
	rt.method(o, "escape", func(c goja.FunctionCall) goja.Value { return rt.vm.ToValue(qsEscape(c.Argument(0).String())) })
	rt.method(o, "unescape", func(c goja.FunctionCall) goja.Value { return rt.vm.ToValue(qsUnescape(c.Argument(0).String())) })
	return o
}

// parseQuery is querystring.parse: a repeated key gives a list.
func parseQuery(s, sep, eq string) map[string]any {
	out := map[string]any{}
	if s == "" {
		return out
	}
	for _, pair := range strings.Split(s, sep) {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, eq)
		k, v = qsUnescape(k), qsUnescape(v)
		switch old := out[k].(type) {
		case nil:
			out[k] = v
		case []any:
			out[k] = append(old, v)
		default:
			out[k] = []any{old, v}
		}
	}
	return out
}

// formatQuery is querystring.stringify: lists repeat their key; objects
// and null are empty values, as in Node.
func formatQuery(m map[string]any, sep, eq string) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		vals, isList := m[k].([]any)
		if !isList {
			vals = []any{m[k]}
		}
		for _, v := range vals {
			s := ""
			switch v.(type) {
			case string, float64, bool:
				s = assembly.Stringify(v)
			}
			parts = append(parts, qsEscape(k)+eq+qsEscape(s))
		}
	}
	return strings.Join(parts, sep)
}

// qsEscape escapes as Node's querystring.escape: all but A-Z a-z 0-9 - _ . ! ~ * ' ( ).
func qsEscape(s string) string {
	const keep = "-_.!~*'()"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

// qsUnescape decodes + and %XX, leaving malformed escapes as they are.
func qsUnescape(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	if out, err := url.PathUnescape(s); err == nil {
		return out
	}
	return s
}

// ---- url

// newURLModule is Node's legacy url module: parse, format, resolve.
func (rt *jsrt) newURLModule() *goja.Object {
	o := rt.vm.NewObject()
	rt.method(o, "parse", func(c goja.FunctionCall) goja.Value {
		doc, err := parseURL(c.Argument(0).String(), c.Argument(1).ToBoolean())
		if err != nil {
			rt.throwf("Invalid URL: %s", c.Argument(0).String())
		}
		return rt.inConverter(false).toJS(doc, 0)
	})
	rt.method(o, "format", func(c goja.FunctionCall) goja.Value {
		if goja.IsString(c.Argument(0)) {
			doc, err := parseURL(c.Argument(0).String(), false)
			if err != nil {
				return c.Argument(0)
			}
			return rt.vm.ToValue(formatURL(doc))
		}
		doc, _ := rt.outConverter().fromJS(c.Argument(0), 0).(map[string]any)
		return rt.vm.ToValue(formatURL(doc))
	})
	rt.method(o, "resolve", func(c goja.FunctionCall) goja.Value {
		base, err := url.Parse(c.Argument(0).String())
		ref, err2 := url.Parse(c.Argument(1).String())
		if err != nil || err2 != nil {
			rt.throwf("Invalid URL")
		}
		return rt.vm.ToValue(base.ResolveReference(ref).String())
	})
	return o
}

// parseURL is url.parse's result: protocol, slashes, auth, host, port,
// hostname, hash, search, query, pathname, path, href.
func parseURL(s string, parseQueryString bool) (map[string]any, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	doc := map[string]any{"protocol": nil, "slashes": nil, "auth": nil, "host": nil, "port": nil,
		"hostname": nil, "hash": nil, "search": nil, "query": nil, "pathname": nil, "path": nil, "href": s}
	if u.Scheme != "" {
		doc["protocol"] = strings.ToLower(u.Scheme) + ":"
	}
	if u.Host != "" || strings.Contains(s, "//") {
		doc["slashes"] = true
		doc["host"] = strings.ToLower(u.Host)
		doc["hostname"] = strings.ToLower(u.Hostname())
		if p := u.Port(); p != "" {
			doc["port"] = p
		}
	}
	if u.User != nil {
		doc["auth"] = u.User.String()
	}
	if u.Fragment != "" {
		doc["hash"] = "#" + u.EscapedFragment()
	}
	path := u.EscapedPath()
	if path == "" && doc["slashes"] == true {
		path = "/"
	}
	if path != "" {
		doc["pathname"] = path
	}
	search := ""
	if u.RawQuery != "" || u.ForceQuery {
		search = "?" + u.RawQuery
		doc["search"] = search
	}
	doc["query"] = u.RawQuery
	if parseQueryString {
		doc["query"] = parseQuery(u.RawQuery, "&", "=")
	}
	doc["path"] = path + search
	if doc["slashes"] == true {
		doc["href"] = formatURL(doc)
	}
	return doc, nil
}

// formatURL is url.format of a url.parse-like object.
func formatURL(doc map[string]any) string {
	str := func(k string) string { s, _ := doc[k].(string); return s }
	var b strings.Builder
	proto := str("protocol")
	if proto != "" && !strings.HasSuffix(proto, ":") {
		proto += ":"
	}
	b.WriteString(proto)
	host := str("host")
	if host == "" && str("hostname") != "" {
		host = str("hostname")
		if p := assembly.Stringify(doc["port"]); p != "" {
			host += ":" + p
		}
	}
	if doc["slashes"] == true || host != "" || proto == "http:" || proto == "https:" {
		b.WriteString("//")
	}
	if auth := str("auth"); auth != "" {
		b.WriteString(auth + "@")
	}
	b.WriteString(host)
	path := str("pathname")
	if path != "" && host != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	b.WriteString(path)
	search := str("search")
	if search == "" {
		if q, ok := doc["query"].(map[string]any); ok && len(q) > 0 {
			search = "?" + formatQuery(q, "&", "=")
		}
	}
	if search != "" && !strings.HasPrefix(search, "?") {
		search = "?" + search
	}
	b.WriteString(search)
	if h := str("hash"); h != "" {
		if !strings.HasPrefix(h, "#") {
			h = "#" + h
		}
		b.WriteString(h)
	}
	return b.String()
}

// ---- util

func (rt *jsrt) newUtil() *goja.Object {
	o := rt.vm.NewObject()
	rt.method(o, "format", func(c goja.FunctionCall) goja.Value { return rt.vm.ToValue(rt.format(c.Arguments)) })
	rt.method(o, "inspect", func(c goja.FunctionCall) goja.Value {
		f := &formatter{rt: rt}
		f.inspect(c.Argument(0), 0, true)
		return rt.vm.ToValue(f.b.String())
	})
	is := map[string]func(goja.Value) bool{
		"isArray":           func(v goja.Value) bool { return isClass(v, "Array") },
		"isBoolean":         func(v goja.Value) bool { _, ok := v.Export().(bool); return ok && !isObject(v) },
		"isNull":            goja.IsNull,
		"isNullOrUndefined": func(v goja.Value) bool { return goja.IsNull(v) || goja.IsUndefined(v) },
		"isNumber":          goja.IsNumber,
		"isString":          goja.IsString,
		"isUndefined":       goja.IsUndefined,
		"isObject":          func(v goja.Value) bool { _, isFn := goja.AssertFunction(v); return isObject(v) && !isFn },
		"isFunction":        func(v goja.Value) bool { _, ok := goja.AssertFunction(v); return ok },
		"isError":           func(v goja.Value) bool { return isClass(v, "Error") },
		"isDate":            func(v goja.Value) bool { return isClass(v, "Date") },
		"isRegExp":          func(v goja.Value) bool { return isClass(v, "RegExp") },
		"isPrimitive":       func(v goja.Value) bool { _, isFn := goja.AssertFunction(v); return !isObject(v) && !isFn },
	}
	for _, name := range sortedKeys(is) {
		test := is[name]
		rt.method(o, name, func(c goja.FunctionCall) goja.Value { return rt.vm.ToValue(test(c.Argument(0))) })
	}
	rt.method(o, "inherits", func(c goja.FunctionCall) goja.Value {
		ctor, ok1 := c.Argument(0).(*goja.Object)
		super, ok2 := c.Argument(1).(*goja.Object)
		if !ok1 || !ok2 {
			rt.throwf("inherits needs two constructors")
		}
		if p, ok := ctor.Get("prototype").(*goja.Object); ok {
			if sp, ok := super.Get("prototype").(*goja.Object); ok {
				_ = p.SetPrototype(sp)
			}
		}
		_ = ctor.Set("super_", super)
		return goja.Undefined()
	})
	return o
}

func isObject(v goja.Value) bool { _, ok := v.(*goja.Object); return ok }

func isClass(v goja.Value, class string) bool {
	o, ok := v.(*goja.Object)
	return ok && o.ClassName() == class
}
