package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/policy/mapping"
)

// Masks of redacted values. The API Gateway's documentation says a
// redacted field is obfuscated with "*"; the v5 gateway's says a redacted
// number reads ****** (and becomes a string), which it applies to every
// value here.
const (
	redactMask   = "*"
	redactMaskV5 = "******"
)

// redaction is one compiled entry of redactions (or, v5, actions).
type redaction struct {
	remove  bool
	root    docRoot
	path    *mapping.Path // below root
	pathSrc string        // as written, for messages
	// from is the v5 form's where: request, response, all (and logs, which
	// has no payload to change here). Empty for the API Gateway form.
	from []string
}

type redactor struct {
	items []redaction
	mask  string
	// The bodies v5 redactions choose from.
	msgBody, reqBody docRoot
}

// Redact compiles the redact policy. API Gateway 2.0.0:
//
//	root: message.body        optional; without it a path starts with the variable (message.body.**.ssn)
//	redactions:
//	- action: redact | remove  (default redact)
//	  path: JSONata path       ssn, $.card.number, **.password, items[type='secret'].value
//
// v5 1.0.0 (datapower-gateway):
//
//	actions:
//	- action: redact | remove
//	  from: [all | request | response | logs]   (default all)
//	  path: XPath              //*[@name='ssn'] (JSONx), /order/card
//
// redact replaces a value with "*" (v5: "******"); remove deletes it, and
// a removed array element closes its gap. A body still in text is parsed
// as JSON first: redaction must not be skipped because a parse policy is
// missing. A body that is not JSON is a RedactionError, never passed on
// unredacted.
func Redact(b *assembly.Builder, n apidef.Node) assembly.Policy {
	r := &redactor{mask: redactMask,
		msgBody: docRoot{kind: rootBody, msg: "message", ref: assembly.MustRef("message.body")},
		reqBody: docRoot{kind: rootBody, msg: "request", ref: assembly.MustRef("request.body")}}
	var ok bool
	switch {
	case n.Has("redactions"):
		r.items, ok = compileRedactions(b, n)
	case n.Has("actions") || n.Has("items"):
		r.mask = redactMaskV5
		r.items, ok = compileV5Redactions(b, n)
	default:
		b.Report(absentSetting(n, "redactions", "redact needs redactions: a list of {action, path}",
			"write `redactions: [{action: redact, path: message.body.ssn}]`"))
		return nil
	}
	if !ok {
		return nil
	}
	return r.run
}

func compileRedactions(b *assembly.Builder, n apidef.Node) ([]redaction, bool) {
	list := n.Get("redactions")
	if !list.IsSeq() {
		b.Report(list.Problem("redactions must be a list of {action, path}", "write `redactions: [{action: remove, path: message.body.password}]`"))
		return nil, false
	}
	var items []redaction
	ok := true
	for _, item := range list.Items() {
		rootNode := item.Get("root") // a root per entry overrides the policy's
		if rootNode.IsNull() {
			rootNode = n.Get("root")
		}
		rd, good := compileRedaction(b, item, rootNode, mapping.JSONata)
		if !good {
			ok = false
			continue
		}
		items = append(items, rd)
	}
	return items, ok
}

// compileRedaction reads action and path; the path, after the root (if
// any), starts with the variable to change.
func compileRedaction(b *assembly.Builder, item, rootNode apidef.Node, syn mapping.Syntax) (redaction, bool) {
	var rd redaction
	if !item.IsMap() {
		b.Report(item.Problem("a redaction must be a mapping with action and path", "write `- action: redact` with `path: message.body.ssn`"))
		return rd, false
	}
	switch act := strings.TrimSpace(item.String("action", "redact")); act {
	case "redact":
	case "remove":
		rd.remove = true
	default:
		b.Report(item.Get("action").Problemf("action %q is not redact or remove", act))
		return rd, false
	}
	pn := item.Get("path")
	rd.pathSrc = pn.Str()
	path, err := mapping.ParsePath(pn.Str(), syn)
	if err != nil {
		b.Report(pn.Problem(err.Error(), redactPathHint(syn)))
		return rd, false
	}
	full := path
	if src := strings.TrimSpace(rootNode.Str()); src != "" {
		root, err := mapping.ParsePath(src, mapping.JSONata)
		if err != nil {
			b.Report(rootNode.Problem(err.Error(), "name a variable, e.g. root: message.body"))
			return rd, false
		}
		full = root.Join(path)
	}
	if syn == mapping.XPath {
		rd.path = full // the bodies are chosen per request, by from
		return rd, true
	}
	if rd.root, rd.path, err = splitRoot(full); err != nil {
		at := pn
		if !rootNode.IsNull() {
			at = rootNode
		}
		b.Report(at.Problem(err.Error(), "give root: message.body, or start the path with the variable, e.g. message.body.**.ssn"))
		return rd, false
	}
	if rd.root.kind == rootHeaders {
		rd.path = rd.path.LowerNames()
	}
	return rd, true
}

func redactPathHint(syn mapping.Syntax) string {
	if syn == mapping.XPath {
		return "on the v5 gateway a path is XPath, e.g. //*[@name='ssn'] or /order/card/number"
	}
	return "write a JSONata path such as ssn, $.card.number or **.password"
}

var v5RedactFrom = []string{"all", "request", "response", "logs"}

func compileV5Redactions(b *assembly.Builder, n apidef.Node) ([]redaction, bool) {
	list := n.Get("actions")
	if list.IsNull() {
		list = n.Get("items")
	}
	if !list.IsSeq() {
		b.Report(list.Problem("actions must be a list of {action, from, path}", "write `actions: [{action: redact, path: \"//*[@name='ssn']\"}]`"))
		return nil, false
	}
	var items []redaction
	ok := true
	for _, item := range list.Items() {
		if item.IsMap() && item.Get("path").IsNull() {
			b.Report(item.Warning("this redaction has no path, so it redacts nothing", "add path: an XPath such as //*[@name='ssn']"))
			continue
		}
		rd, good := compileRedaction(b, item, apidef.Node{}, mapping.XPath)
		from, fromOK := redactFrom(b, item)
		if !good || !fromOK {
			ok = false
			continue
		}
		rd.from = from
		items = append(items, rd)
	}
	return items, ok
}

func redactFrom(b *assembly.Builder, item apidef.Node) ([]string, bool) {
	var from []string
	for _, f := range item.Strings("from") {
		for _, part := range strings.Split(f, ",") { // from: response, logs
			part = strings.ToLower(strings.TrimSpace(part))
			if !slices.Contains(v5RedactFrom, part) {
				b.Report(item.Get("from").Problemf("from %q is not one of all, request, response, logs", part))
				return nil, false
			}
			from = append(from, part)
		}
	}
	if len(from) == 0 {
		from = []string{"all"}
	}
	if slices.Contains(from, "all") || slices.Contains(from, "request") {
		// The request body is redacted too, so it must stay readable.
		b.MarkRequestBodyRead()
	}
	return from, true
}

func (r *redactor) run(c *assembly.Context) error {
	sc := mapping.Scope{Ctx: c.Ctx, Env: c}
	for i := range r.items {
		rd := &r.items[i]
		for _, root := range r.roots(c, rd) {
			if err := r.apply(c, sc, rd, root); err != nil {
				return err
			}
		}
	}
	return nil
}

// roots are the documents a redaction applies to: its root, or for the v5
// form the bodies its from names. request is the request's body (and the
// message's, while the message is the request); response is the message's
// body once a back end answered.
func (r *redactor) roots(c *assembly.Context, rd *redaction) []docRoot {
	if rd.from == nil {
		return []docRoot{rd.root}
	}
	msg, req := r.msgBody, r.reqBody
	var out []docRoot
	add := func(d docRoot) {
		if !slices.ContainsFunc(out, func(o docRoot) bool { return o.msg == d.msg }) {
			out = append(out, d)
		}
	}
	for _, f := range rd.from {
		switch {
		case f == "request" || f == "all":
			add(req)
			if f == "all" || c.MessageIsRequest() {
				add(msg)
			}
		case f == "response" && !c.MessageIsRequest():
			add(msg)
		}
	}
	return out
}

func (r *redactor) apply(c *assembly.Context, sc mapping.Scope, rd *redaction, root docRoot) error {
	doc, found, err := root.load(c, true)
	if err != nil {
		return &assembly.Error{Name: assembly.RedactionError, Message: "redact: " + err.Error(), Cause: err}
	}
	if !found {
		return nil
	}
	changed := false
	doc, keep, err := rd.path.Apply(sc, doc, func(any) (any, bool, error) {
		changed = true
		if rd.remove {
			return nil, false, nil
		}
		return r.mask, true, nil
	})
	if err != nil {
		return &assembly.Error{Name: assembly.RedactionError,
			Message: fmt.Sprintf("redact: path %q: %v", rd.pathSrc, unwrapEval(err)), Cause: err}
	}
	if !changed {
		return nil
	}
	if !keep {
		doc = nil
	}
	return root.store(c, doc)
}
