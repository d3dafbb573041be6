package gatewayscript

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// bufferJS is Node's Buffer as DataPower scripts use it (new Buffer(s,
// 'base64'), Buffer.from, toString(encoding)): a Uint8Array with Buffer's
// prototype. Encoding and decoding are done in Go (native); sizes are
// bounded by the guarded Uint8Array constructor and by native.
const bufferJS = `(function (native, U8) {
'use strict';
function Buffer(arg, enc, len) {
	if (typeof arg === 'number') return Buffer.alloc(arg);
	return Buffer.from(arg, enc, len);
}
var proto = Object.create(U8.prototype);
Object.defineProperty(proto, 'constructor', {value: Buffer, writable: true, configurable: true});
Buffer.prototype = proto;
function wrap(u8) { Object.setPrototypeOf(u8, proto); return u8; }
Buffer.from = function (v, enc, len) {
	if (typeof v === 'string') return native.encode(v, enc);
	if (v instanceof ArrayBuffer) {
		var off = enc === undefined ? 0 : enc >>> 0;
		return wrap(new U8(v, off, len === undefined ? v.byteLength - off : len));
	}
	if (ArrayBuffer.isView(v)) return wrap(new U8(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)));
	if (v && v.type === 'Buffer' && Array.isArray(v.data)) return wrap(new U8(v.data));
	if (v && typeof v === 'object' && typeof v.length === 'number') return wrap(new U8(v));
	if (v && typeof v.valueOf === 'function' && v.valueOf() !== v) return Buffer.from(v.valueOf(), enc, len);
	throw new TypeError('The first argument must be a string, Buffer, ArrayBuffer, Array, or array-like object');
};
Buffer.alloc = function (n, fill, enc) {
	var b = wrap(new U8(n));
	if (typeof fill === 'string' && fill.length > 0) {
		var f = native.encode(fill, enc);
		for (var i = 0; i < b.length; i++) b[i] = f[i % f.length];
	} else if (fill !== undefined) {
		U8.prototype.fill.call(b, fill);
	}
	return b;
};
Buffer.allocUnsafe = Buffer.allocUnsafeSlow = function (n) { return Buffer.alloc(n); };
Buffer.isBuffer = function (b) { return b instanceof Buffer; };
Buffer.isEncoding = function (e) { return native.isEncoding(e); };
Buffer.byteLength = function (s, enc) {
	if (typeof s === 'string') return native.byteLength(s, enc);
	return s.byteLength;
};
Buffer.concat = function (list, total) {
	var i;
	if (total === undefined) { total = 0; for (i = 0; i < list.length; i++) total += list[i].length; }
	var out = Buffer.alloc(total), pos = 0;
	for (i = 0; i < list.length && pos < total; i++) {
		var b = list[i], n = Math.min(b.length, total - pos);
		out.set(n === b.length ? b : b.subarray(0, n), pos);
		pos += n;
	}
	return out;
};
Buffer.compare = function (a, b) { return a.compare(b); };
proto.toString = function (enc, start, end) { return native.decode(this, enc, start, end); };
proto.toLocaleString = proto.toString;
proto.toJSON = function () { return {type: 'Buffer', data: Array.prototype.slice.call(this)}; };
proto.equals = function (o) { return this.compare(o) === 0; };
proto.compare = function (o) {
	var n = Math.min(this.length, o.length);
	for (var i = 0; i < n; i++) if (this[i] !== o[i]) return this[i] < o[i] ? -1 : 1;
	return this.length === o.length ? 0 : (this.length < o.length ? -1 : 1);
};
proto.slice = proto.subarray = function (s, e) { return wrap(U8.prototype.subarray.call(this, s, e)); };
proto.write = function (str, offset, len, enc) {
	if (typeof offset === 'string') { enc = offset; offset = 0; len = undefined; }
	else if (typeof len === 'string') { enc = len; len = undefined; }
	offset = offset >>> 0;
	var b = native.encode(str, enc);
	var n = Math.min(b.length, this.length - offset, len === undefined ? Infinity : len);
	if (n > 0) this.set(b.subarray(0, n), offset);
	return Math.max(n, 0);
};
return Buffer;
})`

// installBuffer runs the prelude and defines Buffer.
func (rt *jsrt) installBuffer() {
	vm := rt.vm
	v, err := vm.RunProgram(rt.eng.prelude)
	if err != nil {
		panic(err)
	}
	fn, _ := goja.AssertFunction(v)
	native := vm.NewObject()
	rt.method(native, "encode", func(c goja.FunctionCall) goja.Value {
		return rt.newBuffer(rt.encode(c.Argument(0).String(), optString(c.Argument(1), "utf8")))
	})
	rt.method(native, "decode", func(c goja.FunctionCall) goja.Value {
		return rt.decode(c.Argument(0), optString(c.Argument(1), "utf8"), c.Argument(2), c.Argument(3))
	})
	rt.method(native, "byteLength", func(c goja.FunctionCall) goja.Value {
		return vm.ToValue(len(rt.encode(c.Argument(0).String(), optString(c.Argument(1), "utf8"))))
	})
	rt.method(native, "isEncoding", func(c goja.FunctionCall) goja.Value {
		_, ok := encodings[strings.ToLower(c.Argument(0).String())]
		return vm.ToValue(ok)
	})
	buf, err := fn(goja.Undefined(), native, vm.GlobalObject().Get("Uint8Array"))
	if err != nil {
		panic(err)
	}
	bo := buf.ToObject(vm)
	rt.bufferProt = bo.Get("prototype").ToObject(vm)
	rt.freeze(bo, rt.bufferProt)
	rt.global("Buffer", bo)
}

// newBuffer makes a Buffer over data (which it then owns).
func (rt *jsrt) newBuffer(data []byte) goja.Value {
	ab := rt.vm.NewArrayBuffer(data)
	o, err := rt.vm.New(rt.uint8Ctor, rt.vm.ToValue(ab))
	if err != nil {
		panic(err)
	}
	_ = o.SetPrototype(rt.bufferProt)
	return o
}

type encoding int

const (
	encUTF8 encoding = iota
	encHex
	encBase64
	encBase64URL
	encLatin1
	encASCII
	encUTF16LE
)

var encodings = map[string]encoding{
	"utf8": encUTF8, "utf-8": encUTF8, "hex": encHex, "base64": encBase64, "base64url": encBase64URL,
	"latin1": encLatin1, "binary": encLatin1, "ascii": encASCII,
	"utf16le": encUTF16LE, "utf-16le": encUTF16LE, "ucs2": encUTF16LE, "ucs-2": encUTF16LE,
}

func (rt *jsrt) encodingOf(name string) encoding {
	e, ok := encodings[strings.ToLower(name)]
	if !ok {
		rt.throwf("Unknown encoding: %s", name)
	}
	return e
}

// encode turns a string into bytes, as Node does (lenient base64 and hex).
func (rt *jsrt) encode(s, enc string) []byte {
	var out []byte
	switch rt.encodingOf(enc) {
	case encHex:
		n := len(s) / 2 * 2
		out, _ = hex.DecodeString(s[:n])
	case encBase64, encBase64URL:
		out = decodeBase64(s)
	case encLatin1, encASCII:
		for _, r := range s {
			out = append(out, byte(r))
		}
	case encUTF16LE:
		for _, u := range utf16.Encode([]rune(s)) {
			out = append(out, byte(u), byte(u>>8))
		}
	default:
		out = []byte(s)
	}
	rt.checkChars("Buffer", float64(len(out)))
	return out
}

// decodeBase64 accepts standard and URL alphabets, with or without
// padding, ignoring anything else (whitespace, line breaks).
func decodeBase64(s string) []byte {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '-':
			clean = append(clean, '+')
		case c == '_':
			clean = append(clean, '/')
		}
	}
	if len(clean)%4 == 1 {
		clean = clean[:len(clean)-1]
	}
	out, _ := base64.RawStdEncoding.DecodeString(string(clean))
	return out
}

// decode turns a Buffer's bytes (start to end) into a string.
func (rt *jsrt) decode(v goja.Value, enc string, start, end goja.Value) goja.Value {
	o, ok := v.(*goja.Object)
	if !ok {
		rt.throwf("toString needs a Buffer")
	}
	b, _ := typedBytes(rt.vm, o)
	n := float64(len(b))
	lo, hi := int(relIndex(start, n, 0)), int(relIndex(end, n, n))
	if lo > hi {
		lo = hi
	}
	b = b[lo:hi]
	var s string
	switch rt.encodingOf(enc) {
	case encHex:
		rt.checkChars("Buffer.toString", float64(2*len(b)))
		s = hex.EncodeToString(b)
	case encBase64:
		s = base64.StdEncoding.EncodeToString(b)
	case encBase64URL:
		s = base64.RawURLEncoding.EncodeToString(b)
	case encLatin1:
		s = latin1(b, 0xff)
	case encASCII:
		s = latin1(b, 0x7f)
	case encUTF16LE:
		units := make([]uint16, len(b)/2)
		for i := range units {
			units[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		}
		return goja.StringFromUTF16(units)
	default:
		if utf8.Valid(b) {
			s = string(b)
		} else {
			s = strings.ToValidUTF8(string(b), "\uFFFD")
		}
	}
	return rt.vm.ToValue(s)
}

func latin1(b []byte, mask byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		sb.WriteRune(rune(c & mask))
	}
	return sb.String()
}
