// Package bundle reads a catalog bundle, the one unit of gateway
// configuration: the APIs (and later products and consumers) of one
// catalog, with the catalog's settings. A bundle comes from a directory
// (GitOps and standalone use) or, later, from the manager.
package bundle

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/portico-api/portico/internal/apidef"
)

// CatalogFile is the optional file at the top of a bundle directory that
// names the org and catalog and holds catalog-wide settings.
const CatalogFile = "catalog.yaml"

// Defaults when catalog.yaml does not say.
const (
	DefaultOrg     = "local"
	DefaultCatalog = "sandbox"
)

// Bundle is one catalog's configuration, loaded and checked.
type Bundle struct {
	Dir string
	Org string
	// OrgID is the provider org's ID (API Connect uses a UUID); it is what
	// AWS trust policies name as sts:ExternalId. Defaults to Org.
	OrgID   string
	Catalog string
	// Properties are catalog-wide properties, visible to every API as
	// $(name) after the API's own properties.
	Properties map[string]string
	// TLSProfiles are TLS client profiles by name, for invoke's tls-profile.
	TLSProfiles map[string]*tls.Config
	// OAuth, when set, is how bearer tokens of oauth2 security schemes are
	// checked.
	OAuth     *OAuth
	APIs      []*apidef.API
	Products  []*BundleProduct
	Consumers []*ConsumerOrg
	// Files lists every document read, for reporting.
	Files []*apidef.Document
}

// OAuth configures bearer-token client identification: tokens are JWTs
// signed by keys of a JWKS (a file in the bundle or a URL), and name the
// app in a client id claim.
type OAuth struct {
	JWKS          jwk.Set // from jwks-file
	JWKSURL       string
	Issuer        string
	Audience      string
	ClientIDClaim string // default: client_id, then azp, then cid
}

// BundleProduct is a product with its APIs resolved and its lifecycle
// state. A product read from a folder is published.
type BundleProduct struct {
	*apidef.Product
	State string // published, deprecated (both callable), retired
	// APIRefs maps the product's apis: keys to API name:version.
	APIRefs map[string]string
}

// Callable reports whether the product's plans admit calls.
func (p *BundleProduct) Callable() bool { return p.State == "published" || p.State == "deprecated" }

// Load reads a bundle directory: catalog.yaml if present, then every .yaml,
// .yml and .json file below dir (hidden folders skipped). It returns every
// problem found; the bundle is usable only when there are none.
func Load(dir string) (*Bundle, apidef.Problems) {
	b := &Bundle{Dir: dir, Org: DefaultOrg, Catalog: DefaultCatalog, Properties: map[string]string{}, TLSProfiles: map[string]*tls.Config{}}
	var ps apidef.Problems
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return nil, apidef.Problems{{File: dir, Msg: "not a readable directory", Hint: "give the folder that holds your API files"}}
	}
	ps = append(ps, b.readCatalog(filepath.Join(dir, CatalogFile))...)
	if b.OrgID == "" {
		b.OrgID = b.Org
	}
	files, err := documentFiles(dir)
	if err != nil {
		return nil, append(ps, apidef.Problem{File: dir, Msg: err.Error()})
	}
	var products []*apidef.Product
	for _, f := range files {
		switch filepath.Clean(f) {
		case filepath.Join(filepath.Clean(dir), CatalogFile):
			continue
		case filepath.Join(filepath.Clean(dir), ConsumersFile):
			orgs, cps := readConsumers(f)
			b.Consumers = orgs
			ps = append(ps, cps...)
			continue
		}
		doc, err := apidef.ReadFile(f)
		if err != nil {
			ps = append(ps, asProblems(err)...)
			continue
		}
		b.Files = append(b.Files, doc)
		switch doc.Kind {
		case apidef.KindAPI:
			api, aps := apidef.LoadAPI(doc)
			ps = append(ps, aps...)
			b.APIs = append(b.APIs, api)
		case apidef.KindProduct:
			prod, pps := apidef.LoadProduct(doc)
			ps = append(ps, pps...)
			products = append(products, prod)
		}
	}
	ps = append(ps, duplicateAPIs(b.APIs)...)
	ps = append(ps, b.resolveProducts(products)...)
	ps = append(ps, b.checkSubscriptions()...)
	return b, ps
}

// resolveProducts links each product's apis: entries to loaded APIs.
func (b *Bundle) resolveProducts(products []*apidef.Product) apidef.Problems {
	var ps apidef.Problems
	byFile := map[string]*apidef.API{}
	byRef := map[string]*apidef.API{}
	for _, a := range b.APIs {
		byFile[filepath.Clean(a.Doc.File)] = a
		byRef[a.Ref()] = a
	}
	seen := map[string]bool{}
	for _, p := range products {
		if seen[p.Ref()] {
			ps = append(ps, p.Doc.Root.KeyNode("info").Problem(fmt.Sprintf("product %s is defined twice", p.Ref()), ""))
			continue
		}
		seen[p.Ref()] = true
		bp := &BundleProduct{Product: p, State: "published", APIRefs: map[string]string{}}
		for key, pa := range p.APIs {
			var api *apidef.API
			if pa.File != "" {
				api = byFile[filepath.Clean(pa.File)]
			} else {
				api = byRef[pa.Name]
			}
			if api == nil {
				ps = append(ps, pa.Node.Problem(fmt.Sprintf("product %s: API %q is not in the bundle", p.Ref(), key),
					"put the API file in the bundle folder, or fix the $ref or name:version"))
				continue
			}
			bp.APIRefs[key] = api.Ref()
		}
		b.Products = append(b.Products, bp)
	}
	return ps
}

// checkSubscriptions makes sure every subscription names a product and plan
// of the bundle.
func (b *Bundle) checkSubscriptions() apidef.Problems {
	var ps apidef.Problems
	plans := map[string]bool{}
	for _, p := range b.Products {
		for _, pl := range p.Plans {
			plans[p.Ref()+"/"+pl.Name] = true
		}
	}
	for _, org := range b.Consumers {
		for _, app := range org.Apps {
			for _, sub := range app.Subscriptions {
				if !plans[sub.Product+"/"+sub.Plan] {
					ps = append(ps, sub.Node.Problem(fmt.Sprintf("app %s subscribes to plan %s of product %s, which the bundle does not have", app.Name, sub.Plan, sub.Product),
						"name a product:version and one of its plans"))
				}
			}
		}
	}
	return ps
}

// documentFiles lists the YAML and JSON files below dir in a stable order.
func documentFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && apidef.IsDocumentFile(path) {
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

func (b *Bundle) readCatalog(file string) apidef.Problems {
	if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	doc, err := apidef.ReadFile(file)
	if err != nil {
		return asProblems(err)
	}
	r := doc.Root
	var ps apidef.Problems
	b.Org = r.String("org", DefaultOrg)
	b.Catalog = r.String("catalog", DefaultCatalog)
	b.OrgID = r.String("org-id", "")
	for _, field := range []struct{ name, val string }{{"org", b.Org}, {"catalog", b.Catalog}} {
		if !validSegment(field.val) {
			ps = append(ps, r.Get(field.name).Problem(fmt.Sprintf("%s %q is not usable in a URL path", field.name, field.val),
				"use letters, digits, '-', '_' or '.'"))
		}
	}
	props := r.Get("properties")
	for _, k := range props.Keys() {
		b.Properties[k] = props.Get(k).Str()
	}
	profiles := r.Get("tls-profiles")
	for _, name := range profiles.Keys() {
		cfg, p := b.tlsProfile(profiles.Get(name))
		if p != nil {
			ps = append(ps, *p)
			continue
		}
		b.TLSProfiles[name] = cfg
	}
	if on := r.Get("oauth"); !on.IsZero() {
		o, p := b.oauth(on)
		if p != nil {
			ps = append(ps, *p)
		}
		b.OAuth = o
	}
	for _, k := range r.Keys() {
		switch k {
		case "org", "org-id", "catalog", "properties", "tls-profiles", "oauth":
		default:
			ps = append(ps, r.KeyNode(k).Problem(fmt.Sprintf("unknown field %q", k), "catalog.yaml takes org, org-id, catalog, properties, tls-profiles and oauth"))
		}
	}
	return ps
}

// oauth reads catalog.yaml's oauth: jwks-file or jwks-url, issuer,
// audience, client-id-claim.
func (b *Bundle) oauth(n apidef.Node) (*OAuth, *apidef.Problem) {
	o := &OAuth{JWKSURL: n.String("jwks-url", ""), Issuer: n.String("issuer", ""), Audience: n.String("audience", ""),
		ClientIDClaim: n.String("client-id-claim", "")}
	file := n.String("jwks-file", "")
	switch {
	case file != "" && o.JWKSURL != "":
		p := n.Problem("give jwks-file or jwks-url, not both", "")
		return nil, &p
	case file != "":
		data, err := os.ReadFile(b.path(file))
		if err != nil {
			p := n.Get("jwks-file").Problem(err.Error(), "give a JWKS JSON file relative to the bundle folder")
			return nil, &p
		}
		set, err := jwk.Parse(data)
		if err != nil {
			p := n.Get("jwks-file").Problem("not a JWKS: "+err.Error(), `the file must be {"keys": [...]}`)
			return nil, &p
		}
		o.JWKS = set
	case o.JWKSURL == "":
		p := n.Problem("oauth needs jwks-file or jwks-url", "name the keys that sign your access tokens")
		return nil, &p
	}
	return o, nil
}

// tlsProfile builds a TLS client configuration: ca-file (PEM; verifies the
// back end instead of the system roots), cert-file and key-file (a client
// certificate for mutual TLS), server-name, insecure-skip-verify.
func (b *Bundle) tlsProfile(n apidef.Node) (*tls.Config, *apidef.Problem) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: n.String("server-name", "")}
	if ca := n.String("ca-file", ""); ca != "" {
		pem, err := os.ReadFile(b.path(ca))
		if err != nil {
			p := n.Get("ca-file").Problem(err.Error(), "give a PEM file path relative to the bundle folder")
			return nil, &p
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			p := n.Get("ca-file").Problem("no PEM certificate found in "+ca, "the file must hold one or more -----BEGIN CERTIFICATE----- blocks")
			return nil, &p
		}
		cfg.RootCAs = pool
	}
	if cert := n.String("cert-file", ""); cert != "" {
		pair, err := tls.LoadX509KeyPair(b.path(cert), b.path(n.String("key-file", "")))
		if err != nil {
			p := n.Get("cert-file").Problem("client certificate: "+err.Error(), "give cert-file and key-file as PEM files")
			return nil, &p
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	skip, p := n.Bool("insecure-skip-verify", false)
	if p != nil {
		return nil, p
	}
	cfg.InsecureSkipVerify = skip
	return cfg, nil
}

func (b *Bundle) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(b.Dir, p)
}

func validSegment(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		ok := r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

func duplicateAPIs(apis []*apidef.API) apidef.Problems {
	var ps apidef.Problems
	seen := map[string]*apidef.API{}
	for _, a := range apis {
		if prev, ok := seen[a.Ref()]; ok {
			ps = append(ps, a.Doc.Root.Get("info").Problem(
				fmt.Sprintf("API %s is defined twice (also in %s)", a.Ref(), prev.Doc.File),
				"give each API a distinct info.x-ibm-name or info.version"))
			continue
		}
		seen[a.Ref()] = a
	}
	return ps
}

func asProblems(err error) apidef.Problems {
	var ps apidef.Problems
	if errors.As(err, &ps) {
		return ps
	}
	return apidef.Problems{{Msg: err.Error()}}
}
