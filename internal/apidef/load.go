package apidef

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kind says what a loaded file is.
type Kind int

const (
	KindOther     Kind = iota // a YAML/JSON file that is neither an API nor a product
	KindAPI                   // OpenAPI 2 or 3 with x-ibm-configuration (or plain OpenAPI)
	KindProduct               // product: 1.0.0
	KindCatalog               // a bundle's catalog.yaml
	KindConsumers             // a bundle's consumers.yaml
)

func (k Kind) String() string {
	switch k {
	case KindAPI:
		return "api"
	case KindProduct:
		return "product"
	case KindCatalog:
		return "catalog"
	case KindConsumers:
		return "consumers"
	}
	return "other"
}

// Gateway types named by x-ibm-configuration.gateway.
const (
	GatewayAPI = "datapower-api-gateway" // v10 API Gateway: JSONata conditions, policies 2.x
	GatewayV5  = "datapower-gateway"     // v5-compatible gateway: JavaScript conditions, policies 1.x
)

// Document is one parsed file.
type Document struct {
	File string
	Kind Kind
	Root Node
}

// ReadFile parses a YAML or JSON file into a Document. A file that does not
// parse is returned as a Problems error with the line of the syntax error.
func ReadFile(file string) (*Document, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, Problems{{File: file, Msg: err.Error(), Hint: "check the path and permissions"}}
	}
	return Parse(file, data)
}

// Parse parses data (YAML or JSON) read from file.
func Parse(file string, data []byte) (*Document, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		return nil, Problems{syntaxProblem(file, err)}
	}
	if len(root.Content) == 0 {
		return nil, Problems{{File: file, Line: 1, Msg: "the file is empty", Hint: "an API or product document is expected"}}
	}
	top := Node{Y: resolve(root.Content[0]), File: file}
	if !top.IsMap() {
		return nil, Problems{top.Problem("the document is not a mapping", "an OpenAPI or product document starts with keys such as swagger:, openapi: or product:")}
	}
	d := &Document{File: file, Root: top}
	switch {
	case top.Has("product"):
		d.Kind = KindProduct
	case top.Has("swagger"), top.Has("openapi"), top.Has("x-ibm-configuration"):
		d.Kind = KindAPI
	}
	return d, nil
}

// syntaxProblem turns a YAML error ("yaml: line 12: ...") into a Problem.
func syntaxProblem(file string, err error) Problem {
	msg := err.Error()
	p := Problem{File: file, Msg: "not valid YAML or JSON: " + msg, Hint: "fix the syntax at that line"}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return p
	}
	rest := strings.TrimPrefix(msg, "yaml: ")
	if strings.HasPrefix(rest, "line ") {
		var line int
		if _, scanErr := fmt.Sscanf(rest, "line %d:", &line); scanErr == nil {
			p.Line = line
			if i := strings.Index(rest, ": "); i >= 0 {
				p.Msg = "not valid YAML or JSON: " + rest[i+2:]
			}
		}
	}
	return p
}

// API is the part of an OpenAPI document the gateway needs, read once.
type API struct {
	Doc      *Document
	OpenAPI  string // "2.0", "3.0.3", "3.1.0"
	Name     string // info.x-ibm-name, else a slug of info.title
	Version  string // info.version
	Title    string
	BasePath string // basePath (OpenAPI 2) or the path of servers[0].url (OpenAPI 3); "" for "/"
	Gateway  string // x-ibm-configuration.gateway; "" when unset
	Enforced bool   // x-ibm-configuration.enforced (default true)
	CORS     bool   // x-ibm-configuration.cors.enabled

	// Properties are the API's properties with their default values;
	// CatalogProperties the per-catalog overrides, by catalog name.
	Properties        map[string]string
	CatalogProperties map[string]map[string]string

	Operations []Operation
	Config     Node // x-ibm-configuration
	Assembly   Node // x-ibm-configuration.assembly
}

// Ref is the API's name:version reference, as products use it.
func (a *API) Ref() string { return a.Name + ":" + a.Version }

// Operation is one verb on one path.
type Operation struct {
	Method string // upper case
	Path   string // the template as written under paths:
	ID     string // operationId; may be empty
	Params []Param
	Node   Node
}

// Param is a declared parameter of an operation (path-level ones merged in).
type Param struct {
	Name     string
	In       string // path, query, header, formData, body, cookie
	Required bool
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// LoadAPI reads the API model out of a Document of KindAPI. It reports every
// structural problem it finds rather than stopping at the first.
func LoadAPI(d *Document) (*API, Problems) {
	r := d.Root
	var ps Problems
	a := &API{Doc: d, Enforced: true}
	a.OpenAPI = r.String("swagger", r.String("openapi", ""))
	switch {
	case a.OpenAPI == "":
		ps = append(ps, r.Problem("no swagger: or openapi: version", "add swagger: '2.0' or openapi: 3.0.3 at the top"))
	case a.OpenAPI != "2.0" && !strings.HasPrefix(a.OpenAPI, "3."):
		ps = append(ps, r.Get("openapi").Problemf("OpenAPI version %q is not supported", a.OpenAPI))
	}
	info := r.Get("info")
	a.Title = info.String("title", "")
	a.Version = info.String("version", "")
	a.Name = info.String("x-ibm-name", "")
	if a.Name == "" {
		a.Name = slug(a.Title)
	}
	if a.Name == "" {
		ps = append(ps, r.KeyNode("info").Problem("the API has no name", "set info.x-ibm-name (or info.title)"))
	}
	if a.Version == "" {
		ps = append(ps, r.KeyNode("info").Problem("the API has no version", "set info.version, e.g. 1.0.0"))
	}
	a.BasePath = basePath(a, r)

	cfg := r.Get("x-ibm-configuration")
	a.Config = cfg
	a.Gateway = cfg.String("gateway", "")
	if v, p := cfg.Bool("enforced", true); p != nil {
		ps = append(ps, *p)
	} else {
		a.Enforced = v
	}
	a.CORS, _ = cfg.Get("cors").Bool("enabled", false)
	a.Properties, a.CatalogProperties = properties(cfg)
	a.Assembly = cfg.Get("assembly")

	ops, opsPs := operations(r)
	a.Operations = ops
	ps = append(ps, opsPs...)
	return a, ps
}

func basePath(a *API, r Node) string {
	var p string
	if a.OpenAPI == "2.0" {
		p = r.String("basePath", "")
	} else if servers := r.Get("servers").Items(); len(servers) > 0 {
		raw := servers[0].String("url", "")
		if u, err := url.Parse(raw); err == nil {
			p = u.Path
		} else {
			p = raw
		}
	}
	p = strings.TrimRight(p, "/")
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// properties reads x-ibm-configuration.properties (values of {value: …}) and
// catalogs.<name>.properties overrides.
func properties(cfg Node) (map[string]string, map[string]map[string]string) {
	props := map[string]string{}
	pn := cfg.Get("properties")
	for _, k := range pn.Keys() {
		v := pn.Get(k)
		if v.IsMap() {
			props[k] = v.String("value", "")
		} else {
			props[k] = v.Str()
		}
	}
	cats := map[string]map[string]string{}
	cn := cfg.Get("catalogs")
	for _, c := range cn.Keys() {
		over := map[string]string{}
		on := cn.Get(c).Get("properties")
		for _, k := range on.Keys() {
			v := on.Get(k)
			if v.IsMap() {
				over[k] = v.String("value", "")
			} else {
				over[k] = v.Str()
			}
		}
		cats[c] = over
	}
	return props, cats
}

func operations(r Node) ([]Operation, Problems) {
	var ops []Operation
	var ps Problems
	paths := r.Get("paths")
	for _, path := range paths.Keys() {
		item := paths.Get(path)
		if strings.HasPrefix(path, "x-") {
			continue
		}
		if !strings.HasPrefix(path, "/") {
			ps = append(ps, paths.KeyNode(path).Problemf("path %q does not start with /", path))
			continue
		}
		shared := params(item.Get("parameters"))
		for _, m := range methods {
			on := item.Get(m)
			if on.IsZero() {
				continue
			}
			op := Operation{Method: strings.ToUpper(m), Path: path, ID: on.String("operationId", ""), Node: on}
			op.Params = mergeParams(shared, params(on.Get("parameters")))
			ops = append(ops, op)
		}
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Path < ops[j].Path })
	return ops, ps
}

func params(n Node) []Param {
	var out []Param
	for _, it := range n.Items() {
		// A $ref parameter cannot be resolved cheaply here; its name is
		// unknown, so it is skipped: parameters are still readable by name
		// from the request at run time.
		if it.Has("$ref") {
			continue
		}
		req, _ := it.Bool("required", false)
		out = append(out, Param{Name: it.String("name", ""), In: it.String("in", ""), Required: req})
	}
	return out
}

func mergeParams(shared, own []Param) []Param {
	out := append([]Param(nil), own...)
	for _, s := range shared {
		dup := false
		for _, o := range own {
			if o.Name == s.Name && o.In == s.In {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}

// slug makes an API name from a title the way API Connect does: lower case,
// spaces to dashes.
func slug(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// IsDocumentFile reports whether a path has an extension the loader reads.
func IsDocumentFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}
