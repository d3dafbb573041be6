package bundle

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/auth"
)

// Wire is a catalog bundle as the manager pushes it to remote gateways:
// everything needed, no references to files. Documents travel as the bytes
// that were published and are parsed on arrival with the same loader as a
// bundle folder or the manager's store; secrets travel only as their
// argon2id hashes, in PHC string form.
type Wire struct {
	// Version is the catalog version; a gateway never replaces a newer one
	// with an older one.
	Version    int64             `json:"version"`
	Org        string            `json:"org"`
	OrgID      string            `json:"org_id,omitempty"`
	Catalog    string            `json:"catalog"`
	Properties map[string]string `json:"properties,omitempty"`
	APIs       []WireDoc         `json:"apis"`
	Products   []WireProduct     `json:"products"`
	Consumers  []WireConsumerOrg `json:"consumers"`
}

// WireDoc is one API document as published.
type WireDoc struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Document []byte `json:"document"` // YAML or JSON; base64 in the wire JSON
}

// WireProduct is one product document with its lifecycle state. Its apis:
// entries name APIs by name:version.
type WireProduct struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	State    string `json:"state"` // published, deprecated, retired
	Document []byte `json:"document"`
}

// WireConsumerOrg is a consumer org with its apps.
type WireConsumerOrg struct {
	ID    string    `json:"id"`
	Name  string    `json:"name"`
	Title string    `json:"title,omitempty"`
	Apps  []WireApp `json:"apps,omitempty"`
}

// WireApp is a consumer app with its credentials and subscriptions.
type WireApp struct {
	ID            string             `json:"id"`
	Name          string             `json:"name"`
	Title         string             `json:"title,omitempty"`
	State         string             `json:"state,omitempty"` // active (default) or disabled
	Credentials   []WireCredential   `json:"credentials,omitempty"`
	Subscriptions []WireSubscription `json:"subscriptions,omitempty"`
}

// WireCredential is a client id and its secret's hash (a PHC argon2id
// string; empty when the credential has no secret).
type WireCredential struct {
	ClientID   string `json:"client_id"`
	SecretHash string `json:"secret_hash,omitempty"`
}

// WireSubscription ties an app to a plan of a product (name:version).
type WireSubscription struct {
	Product string `json:"product"`
	Plan    string `json:"plan"`
	State   string `json:"state,omitempty"` // enabled (default), pending, disabled
}

// wireFile is the file name given to a document of the wire, so that
// problems name it: name_version.yaml, as the manager names them.
func wireFile(name, version string) string { return name + "_" + version + ".yaml" }

// Bundle parses every document with the same loader as a bundle folder and
// builds the bundle with FromDocuments. Problems name the document
// (name_version.yaml) or, for consumers, the field of the wire.
func (w *Wire) Bundle() (*Bundle, apidef.Problems) {
	var ps apidef.Problems
	var apis []*apidef.API
	for i, d := range w.APIs {
		file := wireFile(d.Name, d.Version)
		doc, err := apidef.Parse(file, d.Document)
		if err != nil {
			ps = append(ps, asProblems(err)...)
			continue
		}
		if doc.Kind != apidef.KindAPI {
			ps = append(ps, apidef.Problem{File: file, Field: fmt.Sprintf("apis[%d].document", i), Msg: "the document is not an API",
				Hint: "an API document has swagger: or openapi:"})
			continue
		}
		api, aps := apidef.LoadAPI(doc)
		ps = append(ps, aps...)
		if api == nil {
			continue
		}
		if api.Ref() != d.Name+":"+d.Version {
			ps = append(ps, apidef.Problem{File: file, Field: fmt.Sprintf("apis[%d]", i),
				Msg: fmt.Sprintf("the document is API %s, the wire names it %s:%s", api.Ref(), d.Name, d.Version)})
		}
		apis = append(apis, api)
	}
	var products []ProductState
	for i, p := range w.Products {
		file := wireFile(p.Name, p.Version)
		doc, err := apidef.Parse(file, p.Document)
		if err != nil {
			ps = append(ps, asProblems(err)...)
			continue
		}
		if doc.Kind != apidef.KindProduct {
			ps = append(ps, apidef.Problem{File: file, Field: fmt.Sprintf("products[%d].document", i), Msg: "the document is not a product",
				Hint: "a product document has product:"})
			continue
		}
		def, pps := apidef.LoadProduct(doc)
		ps = append(ps, pps...)
		if def == nil {
			continue
		}
		if def.Ref() != p.Name+":"+p.Version {
			ps = append(ps, apidef.Problem{File: file, Field: fmt.Sprintf("products[%d]", i),
				Msg: fmt.Sprintf("the document is product %s, the wire names it %s:%s", def.Ref(), p.Name, p.Version)})
		}
		products = append(products, ProductState{Product: def, State: p.State})
	}
	consumers, cps := w.consumers()
	ps = append(ps, cps...)
	props := make(map[string]string, len(w.Properties))
	for k, v := range w.Properties {
		props[k] = v
	}
	b, bps := FromDocuments(Catalog{Org: w.Org, OrgID: w.OrgID, Name: w.Catalog, Properties: props}, apis, products, consumers)
	return b, append(ps, bps...)
}

// consumers builds the bundle's consumer orgs, parsing each secret hash.
func (w *Wire) consumers() ([]*ConsumerOrg, apidef.Problems) {
	var ps apidef.Problems
	var out []*ConsumerOrg
	for i, o := range w.Consumers {
		org := &ConsumerOrg{ID: o.ID, Name: o.Name, Title: o.Title}
		for j, a := range o.Apps {
			app := &App{ID: a.ID, Name: a.Name, Title: a.Title, State: a.State, Org: org}
			if app.State == "" {
				app.State = "active"
			}
			for k, c := range a.Credentials {
				cred := &Credential{ClientID: c.ClientID}
				if c.SecretHash != "" {
					h, err := auth.ParseHash(c.SecretHash)
					if err != nil {
						ps = append(ps, apidef.Problem{File: "consumers",
							Field: fmt.Sprintf("consumers[%d].apps[%d].credentials[%d].secret_hash", i, j, k),
							Msg:   fmt.Sprintf("credential %s: %v", c.ClientID, err)})
						continue
					}
					cred.Secret = h
				}
				app.Credentials = append(app.Credentials, cred)
			}
			for _, s := range a.Subscriptions {
				state := s.State
				if state == "" {
					state = SubEnabled
				}
				app.Subscriptions = append(app.Subscriptions, &Subscription{Product: s.Product, Plan: s.Plan, State: state})
			}
			org.Apps = append(org.Apps, app)
		}
		out = append(out, org)
	}
	return out, ps
}

// Check reports the first field of w that is missing or malformed, naming
// it. Org and catalog must be usable as URL path segments (and so as file
// names).
func (w *Wire) Check() error {
	bad := func(field, msg string) error { return fmt.Errorf("catalog bundle: field %s: %s", field, msg) }
	if w.Version < 0 {
		return bad("version", fmt.Sprintf("%d is negative", w.Version))
	}
	for _, f := range []struct{ name, val string }{{"org", w.Org}, {"catalog", w.Catalog}} {
		if !validSegment(f.val) || f.val == "." || f.val == ".." {
			return bad(f.name, fmt.Sprintf("%q is not usable in a URL path (use letters, digits, '-', '_' or '.')", f.val))
		}
	}
	for i, d := range w.APIs {
		switch {
		case d.Name == "":
			return bad(fmt.Sprintf("apis[%d].name", i), "empty")
		case d.Version == "":
			return bad(fmt.Sprintf("apis[%d].version", i), "empty")
		case len(d.Document) == 0:
			return bad(fmt.Sprintf("apis[%d].document", i), "empty")
		}
	}
	for i, p := range w.Products {
		switch {
		case p.Name == "":
			return bad(fmt.Sprintf("products[%d].name", i), "empty")
		case p.Version == "":
			return bad(fmt.Sprintf("products[%d].version", i), "empty")
		case len(p.Document) == 0:
			return bad(fmt.Sprintf("products[%d].document", i), "empty")
		}
		switch p.State {
		case "published", "deprecated", "retired":
		default:
			return bad(fmt.Sprintf("products[%d].state", i), fmt.Sprintf("%q is not published, deprecated or retired", p.State))
		}
	}
	for i, o := range w.Consumers {
		if o.Name == "" {
			return bad(fmt.Sprintf("consumers[%d].name", i), "empty")
		}
		for j, a := range o.Apps {
			at := fmt.Sprintf("consumers[%d].apps[%d]", i, j)
			if a.Name == "" {
				return bad(at+".name", "empty")
			}
			switch a.State {
			case "", "active", "disabled":
			default:
				return bad(at+".state", fmt.Sprintf("%q is not active or disabled", a.State))
			}
			for k, c := range a.Credentials {
				if c.ClientID == "" {
					return bad(fmt.Sprintf("%s.credentials[%d].client_id", at, k), "empty")
				}
			}
			for k, s := range a.Subscriptions {
				st := fmt.Sprintf("%s.subscriptions[%d]", at, k)
				if !strings.Contains(s.Product, ":") {
					return bad(st+".product", fmt.Sprintf("%q is not name:version", s.Product))
				}
				if s.Plan == "" {
					return bad(st+".plan", "empty")
				}
				switch s.State {
				case "", SubEnabled, SubPending, SubDisabled:
				default:
					return bad(st+".state", fmt.Sprintf("%q is not enabled, pending or disabled", s.State))
				}
			}
		}
	}
	return nil
}

// Encode checks w and returns it as JSON.
func Encode(w *Wire) ([]byte, error) {
	if w == nil {
		return nil, errors.New("catalog bundle: nil")
	}
	if err := w.Check(); err != nil {
		return nil, err
	}
	return json.Marshal(w)
}

// Decode reads a Wire from JSON and checks it. Its errors name the field
// that is wrong, or the line and column of a syntax error. Unknown fields
// are ignored, so that an older gateway reads a newer manager's bundle.
func Decode(data []byte) (*Wire, error) {
	w := &Wire{}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(w); err != nil {
		return nil, decodeError(data, err)
	}
	if dec.More() {
		return nil, errors.New("catalog bundle: data after the JSON object")
	}
	if err := w.Check(); err != nil {
		return nil, err
	}
	return w, nil
}

func decodeError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := position(data, se.Offset)
		return fmt.Errorf("catalog bundle: not valid JSON at line %d, column %d: %w", line, col, err)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("catalog bundle: field %s: expected %s, got JSON %s", field, te.Type, te.Value)
	case errors.Is(err, io.EOF):
		return errors.New("catalog bundle: empty")
	case errors.As(err, new(base64.CorruptInputError)):
		return fmt.Errorf("catalog bundle: a document field is not valid base64: %w", err)
	}
	return fmt.Errorf("catalog bundle: %w", err)
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}
