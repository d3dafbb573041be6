package assembly

import (
	"fmt"
	"strconv"
	"strings"
)

// Set assigns a variable: message headers, body and status, fields of
// message-valued variables, or user variables (nested maps are created).
// The request and api trees are read-only.
func (c *Context) Set(r Ref, v any) error { return c.assign(r, v, false) }

// Add appends: another instance of a header, or another element of a list
// variable. On anything else it sets.
func (c *Context) Add(r Ref, v any) error { return c.assign(r, v, true) }

// Clear removes a variable, a header, or the message body.
func (c *Context) Clear(r Ref) error {
	if len(r.segs) == 0 {
		return nil
	}
	switch r.segs[0] {
	case "request", "api", "system":
		return readOnly(r)
	case "message":
		return clearMessage(c.Message, r, r.segs[1:])
	}
	if m, ok := c.vars[r.segs[0]].(*Message); ok && len(r.segs) > 1 {
		return clearMessage(m, r, r.segs[1:])
	}
	if len(r.segs) == 1 {
		delete(c.vars, r.segs[0])
		return nil
	}
	parent, _ := walk(c.vars[r.segs[0]], r, r.segs[1:len(r.segs)-1])
	if m, ok := parent.(map[string]any); ok {
		delete(m, r.segs[len(r.segs)-1])
	}
	return nil
}

func readOnly(r Ref) error {
	return &Error{Name: PropertyError, Message: fmt.Sprintf("%s is read-only", r.Name)}
}

func (c *Context) assign(r Ref, v any, add bool) error {
	// Objects and lists are copied, so that a variable set from another
	// (set: copy, value: $(message.body)) does not change when the
	// original does.
	v = deepCopy(v)
	if len(r.segs) == 0 {
		return &Error{Name: PropertyError, Message: "empty variable name"}
	}
	switch r.segs[0] {
	case "request", "api", "system":
		return readOnly(r)
	case "message":
		if len(r.segs) == 1 {
			if m, ok := v.(*Message); ok {
				c.Message = m
				return nil
			}
			return &Error{Name: PropertyError, Message: "message can only be set to a message value"}
		}
		return setMessage(c.Message, r, r.segs[1:], v, add)
	}
	if c.vars == nil {
		c.vars = make(map[string]any, 4)
	}
	if m, ok := c.vars[r.segs[0]].(*Message); ok && len(r.segs) > 1 {
		return setMessage(m, r, r.segs[1:], v, add)
	}
	if len(r.segs) == 1 {
		c.vars[r.segs[0]] = appendOrSet(c.vars[r.segs[0]], v, add)
		return nil
	}
	m, ok := c.vars[r.segs[0]].(map[string]any)
	if !ok {
		m = map[string]any{}
		c.vars[r.segs[0]] = m
	}
	for _, s := range r.segs[1 : len(r.segs)-1] {
		next, ok := m[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[s] = next
		}
		m = next
	}
	last := r.segs[len(r.segs)-1]
	m[last] = appendOrSet(m[last], v, add)
	return nil
}

func appendOrSet(old, v any, add bool) any {
	if !add || old == nil {
		return v
	}
	if list, ok := old.([]any); ok {
		return append(list, v)
	}
	return []any{old, v}
}

func setMessage(m *Message, r Ref, rest []string, v any, add bool) error {
	switch rest[0] {
	case "headers":
		if len(rest) < 2 {
			return &Error{Name: PropertyError, Message: "name a header: " + r.Name + ".<name>"}
		}
		name := r.header
		if add {
			m.Headers.Add(name, stringify(v))
		} else {
			m.Headers.Set(name, stringify(v))
		}
		return nil
	case "body":
		if len(rest) > 1 {
			return setBodyField(m, r, rest[1:], v)
		}
		switch t := v.(type) {
		case string:
			m.Body = BytesBody([]byte(t))
		case []byte:
			m.Body = BytesBody(t)
		case *Message:
			m.Body = t.Body
		default:
			m.Body = ValueBody(v)
		}
		// A replaced stream is not closed here: the request view may still
		// read it, and the server closes the request body at the end.
		return nil
	case "status":
		if len(rest) < 2 {
			return &Error{Name: PropertyError, Message: "set message.status.code or message.status.reason"}
		}
		switch rest[1] {
		case "code":
			code, err := toInt(v)
			if err != nil || code < 100 || code > 999 {
				return &Error{Name: PropertyError, Message: fmt.Sprintf("%s must be an HTTP status code, not %q", r.Name, stringify(v))}
			}
			m.Status = code
			return nil
		case "reason":
			m.Reason = stringify(v)
			return nil
		}
	}
	return &Error{Name: PropertyError, Message: fmt.Sprintf("%s cannot be set", r.Name)}
}

// setBodyField sets a field inside a parsed body (message.body.a.b).
func setBodyField(m *Message, r Ref, path []string, v any) error {
	root, ok := m.Body.Parsed()
	obj, isMap := root.(map[string]any)
	if !ok || !isMap {
		return &Error{Name: PropertyError, Message: fmt.Sprintf("%s: the body is not a parsed JSON object (add a parse policy first)", r.Name)}
	}
	for _, s := range path[:len(path)-1] {
		next, ok := obj[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[s] = next
		}
		obj = next
	}
	obj[path[len(path)-1]] = v
	// The value changed under the body: drop any cached serialisation.
	m.Body = ValueBody(root)
	return nil
}

func clearMessage(m *Message, r Ref, rest []string) error {
	switch rest[0] {
	case "headers":
		if len(rest) > 1 {
			m.Headers.Del(r.header)
			return nil
		}
		for k := range m.Headers {
			delete(m.Headers, k)
		}
		return nil
	case "body":
		m.Body = BytesBody(nil)
		return nil
	}
	return &Error{Name: PropertyError, Message: fmt.Sprintf("%s cannot be cleared", r.Name)}
}

func toInt(v any) (int, error) {
	switch t := v.(type) {
	case int:
		return t, nil
	case int64:
		return int(t), nil
	case float64:
		return int(t), nil
	case string:
		return strconv.Atoi(strings.TrimSpace(t))
	}
	return 0, fmt.Errorf("not a number")
}

// deepCopy copies JSON-like maps and slices; other values are returned as
// they are.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}
