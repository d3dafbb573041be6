package gateway

import (
	"fmt"
	"net/textproto"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
)

// schemeKind is what a security scheme asks of the client.
type schemeKind int

const (
	schemeClientID     schemeKind = iota // apiKey with x-key-type: client_id
	schemeClientSecret                   // apiKey with x-key-type: client_secret
	schemeBasic                          // HTTP basic: username = client id, password = client secret
	schemeBearer                         // OAuth 2 / HTTP bearer: a JWT whose client_id (or azp) names the app
)

// scheme is one compiled security scheme.
type scheme struct {
	name  string
	kind  schemeKind
	in    string // header or query, for API keys
	param string // header (canonical) or query parameter name
}

// security is an operation's requirement: any one alternative, all schemes
// of it.
type security struct {
	alternatives [][]scheme
}

// compileSecurity reads the operation's (or else the API's) security
// requirements against the API's security schemes. It returns nil when the
// operation needs no client identification.
func compileSecurity(def *apidef.API, op apidef.Operation) (*security, apidef.Problems) {
	var ps apidef.Problems
	req := op.Node.Get("security")
	if req.IsZero() {
		req = def.Doc.Root.Get("security")
	}
	if !req.IsSeq() || len(req.Items()) == 0 {
		return nil, nil
	}
	defs := def.Doc.Root.Get("securityDefinitions")
	if defs.IsZero() {
		defs = def.Doc.Root.Get("components").Get("securitySchemes")
	}
	sec := &security{}
	for _, alt := range req.Items() {
		var all []scheme
		for _, name := range alt.Keys() {
			s, p := compileScheme(name, defs.Get(name), alt.KeyNode(name))
			if p != nil {
				ps = append(ps, *p)
				continue
			}
			all = append(all, s)
		}
		if len(alt.Keys()) == 0 {
			// An empty alternative ({}) means "no identification".
			return nil, ps
		}
		sec.alternatives = append(sec.alternatives, all)
	}
	return sec, ps
}

func compileScheme(name string, n, at apidef.Node) (scheme, *apidef.Problem) {
	if n.IsZero() {
		p := at.Problem(fmt.Sprintf("security requirement %q names no security definition", name), "define it under securityDefinitions (OpenAPI 2) or components.securitySchemes (OpenAPI 3)")
		return scheme{}, &p
	}
	s := scheme{name: name}
	typ := n.String("type", "")
	switch {
	case typ == "apiKey":
		s.in = n.String("in", "header")
		s.param = n.String("name", "")
		if s.in == "header" {
			s.param = textproto.CanonicalMIMEHeaderKey(s.param)
		}
		switch strings.ToLower(n.String("x-key-type", "client_id")) {
		case "client_id":
			s.kind = schemeClientID
		case "client_secret":
			s.kind = schemeClientSecret
		default:
			p := n.Get("x-key-type").Problemf("x-key-type %q is not client_id or client_secret", n.String("x-key-type", ""))
			return s, &p
		}
		if s.in != "header" && s.in != "query" {
			p := n.Get("in").Problemf("an API key in %q is not supported: use header or query", s.in)
			return s, &p
		}
	case typ == "basic" || typ == "http" && strings.EqualFold(n.String("scheme", ""), "basic"):
		s.kind = schemeBasic
	case typ == "oauth2" || typ == "openIdConnect" || typ == "http" && strings.EqualFold(n.String("scheme", ""), "bearer"):
		s.kind = schemeBearer
	default:
		p := n.Problemf("security scheme type %q is not supported", typ)
		return s, &p
	}
	return s, nil
}
