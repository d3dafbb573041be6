package manager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/policy"
	"github.com/portico-api/portico/internal/store"
)

// maxDraftBody bounds an uploaded draft document.
const maxDraftBody = 16 << 20

// draftKind is what differs between draft APIs and draft products: the
// store has one shape for both (DraftProduct converts to DraftAPI), so one
// set of handlers serves the two collections.
type draftKind struct {
	path  string // the collection in URLs: "draft-apis"
	field string // the object type and the document's field: "draft_api"
	what  string // in messages: "draft API"

	get       func(ctx context.Context, r store.Reader, id string) (store.DraftAPI, error)
	getByName func(ctx context.Context, r store.Reader, orgID, name, version string) (store.DraftAPI, error)
	list      func(ctx context.Context, r store.Reader, orgID string, o store.ListOptions) (store.Page[store.DraftAPI], error)
	create    func(ctx context.Context, tx store.Tx, d store.DraftAPI) (store.DraftAPI, error)
	update    func(ctx context.Context, tx store.Tx, d store.DraftAPI) (store.DraftAPI, error)
	delete    func(ctx context.Context, tx store.Tx, id string) error
	// check loads the document as the gateway would and returns what the
	// draft is called, with every problem found.
	check func(doc *apidef.Document) (draftInfo, apidef.Problems)
}

// draftInfo is what a draft's document says about it.
type draftInfo struct{ name, version, title, summary string }

var draftAPIKind = draftKind{
	path: "draft-apis", field: "draft_api", what: "draft API",
	get: func(ctx context.Context, r store.Reader, id string) (store.DraftAPI, error) {
		return r.GetDraftAPI(ctx, id)
	},
	getByName: func(ctx context.Context, r store.Reader, orgID, name, version string) (store.DraftAPI, error) {
		return r.GetDraftAPIByName(ctx, orgID, name, version)
	},
	list: func(ctx context.Context, r store.Reader, orgID string, o store.ListOptions) (store.Page[store.DraftAPI], error) {
		return r.ListDraftAPIs(ctx, orgID, o)
	},
	create: func(ctx context.Context, tx store.Tx, d store.DraftAPI) (store.DraftAPI, error) {
		return tx.CreateDraftAPI(ctx, d)
	},
	update: func(ctx context.Context, tx store.Tx, d store.DraftAPI) (store.DraftAPI, error) {
		return tx.UpdateDraftAPI(ctx, d)
	},
	delete: func(ctx context.Context, tx store.Tx, id string) error { return tx.DeleteDraftAPI(ctx, id) },
	check:  checkDraftAPI,
}

var draftProductKind = draftKind{
	path: "draft-products", field: "draft_product", what: "draft product",
	get: func(ctx context.Context, r store.Reader, id string) (store.DraftAPI, error) {
		d, err := r.GetDraftProduct(ctx, id)
		return store.DraftAPI(d), err
	},
	getByName: func(ctx context.Context, r store.Reader, orgID, name, version string) (store.DraftAPI, error) {
		d, err := r.GetDraftProductByName(ctx, orgID, name, version)
		return store.DraftAPI(d), err
	},
	list: func(ctx context.Context, r store.Reader, orgID string, o store.ListOptions) (store.Page[store.DraftAPI], error) {
		p, err := r.ListDraftProducts(ctx, orgID, o)
		out := store.Page[store.DraftAPI]{Items: make([]store.DraftAPI, len(p.Items)), Total: p.Total}
		for i, d := range p.Items {
			out.Items[i] = store.DraftAPI(d)
		}
		return out, err
	},
	create: func(ctx context.Context, tx store.Tx, d store.DraftAPI) (store.DraftAPI, error) {
		out, err := tx.CreateDraftProduct(ctx, store.DraftProduct(d))
		return store.DraftAPI(out), err
	},
	update: func(ctx context.Context, tx store.Tx, d store.DraftAPI) (store.DraftAPI, error) {
		out, err := tx.UpdateDraftProduct(ctx, store.DraftProduct(d))
		return store.DraftAPI(out), err
	},
	delete: func(ctx context.Context, tx store.Tx, id string) error { return tx.DeleteDraftProduct(ctx, id) },
	check:  checkDraftProduct,
}

func (m *Manager) draftRoutes(mux *http.ServeMux) {
	for _, k := range []draftKind{draftAPIKind, draftProductKind} {
		coll := "/api/orgs/{org}/drafts/" + k.path
		// Listing and reading drafts: any member of the org (viewer).
		mux.Handle("GET "+coll, m.authed(orgRole(RoleViewer), m.listDrafts(k)))
		mux.Handle("GET "+coll+"/{id}", m.authed(orgRole(RoleViewer), m.getDraft(k)))
		// Creating, changing and deleting drafts is development work:
		// developer and above.
		mux.Handle("POST "+coll, m.authed(orgRole(RoleDeveloper), m.createDraft(k)))
		mux.Handle("PATCH "+coll+"/{id}", m.authed(orgRole(RoleDeveloper), m.updateDraft(k)))
		mux.Handle("DELETE "+coll+"/{id}", m.authed(orgRole(RoleDeveloper), m.deleteDraft(k)))
	}
}

// draftObject is a draft as API Connect shows it; withDoc adds the
// document itself, as a JSON object, under the kind's field.
func (m *Manager) draftObject(k draftKind, o store.ProviderOrg, d store.DraftAPI, withDoc bool) map[string]any {
	out := map[string]any{"type": k.field, "api_version": apiVersion, "id": d.ID, "name": d.Name,
		"version": d.Version, "title": d.Title, "summary": d.Summary, "state": "enabled",
		"org_url":    m.opts.BaseURL + "/api/orgs/" + o.ID,
		"url":        m.opts.BaseURL + "/api/orgs/" + o.ID + "/drafts/" + k.path + "/" + d.ID,
		"created_at": d.CreatedAt, "updated_at": d.UpdatedAt}
	if withDoc {
		if doc, ok := documentJSON(d.Document); ok {
			out[k.field] = doc
		}
	}
	return out
}

// documentJSON is a stored document (YAML or JSON) as JSON. A JSON
// document is passed through as uploaded, keeping its key order.
func documentJSON(data []byte) (json.RawMessage, bool) {
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) {
		return json.RawMessage(trimmed), true
	}
	doc, err := apidef.Parse("document", data)
	if err != nil {
		return nil, false
	}
	out, err := json.Marshal(doc.Root.Value())
	if err != nil { // a value JSON cannot hold, such as .nan
		return nil, false
	}
	return out, true
}

// wantsField reports whether ?fields= asks for field, as in
// fields=add(wsdl,draft_api) (what "apic draft-apis:get" sends).
func wantsField(r *http.Request, field string) bool {
	for _, v := range r.URL.Query()["fields"] {
		v = strings.TrimSpace(v)
		if strings.HasPrefix(v, "add(") && strings.HasSuffix(v, ")") {
			v = v[len("add(") : len(v)-1]
		}
		for f := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(f) == field {
				return true
			}
		}
	}
	return false
}

func (m *Manager) listDrafts(k draftKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		opts, err := listOptions(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		o, err := m.org(r.Context(), r.PathValue("org"))
		if err != nil {
			m.storeError(w, err)
			return
		}
		page, err := k.list(r.Context(), m.st, o.ID, opts)
		if err != nil {
			m.storeError(w, err)
			return
		}
		withDoc := wantsField(r, k.field)
		out := make([]map[string]any, 0, len(page.Items))
		for _, d := range page.Items {
			out = append(out, m.draftObject(k, o, d, withDoc))
		}
		writeJSON(w, http.StatusOK, collection(out, page.Total))
	}
}

// draft finds the {id} of the request in org o: a draft ID or
// name:version. A draft of another org is not found.
func (m *Manager) draft(ctx context.Context, rd store.Reader, k draftKind, o store.ProviderOrg, id string) (store.DraftAPI, error) {
	var d store.DraftAPI
	var err error
	if name, version, ok := strings.Cut(id, ":"); ok {
		d, err = k.getByName(ctx, rd, o.ID, name, version)
	} else {
		d, err = k.get(ctx, rd, id)
		if err == nil && d.OrgID != o.ID {
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return d, fmt.Errorf("%s %s not found in provider org %s; give its ID or name:version: %w", k.what, id, o.Name, store.ErrNotFound)
	}
	return d, err
}

func (m *Manager) getDraft(k draftKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o, err := m.org(r.Context(), r.PathValue("org"))
		if err != nil {
			m.storeError(w, err)
			return
		}
		d, err := m.draft(r.Context(), m.st, k, o, r.PathValue("id"))
		if err != nil {
			m.storeError(w, err)
			return
		}
		// API Connect's get returns the document: always here.
		writeJSON(w, http.StatusOK, m.draftObject(k, o, d, true))
	}
}

func (m *Manager) createDraft(k draftKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o, err := m.org(r.Context(), r.PathValue("org"))
		if err != nil {
			m.storeError(w, err)
			return
		}
		data, info, ok := m.readDraft(w, r, k)
		if !ok {
			return
		}
		var d store.DraftAPI
		if !m.commit(w, r, func(tx store.Tx) error {
			var err error
			d, err = k.create(r.Context(), tx, store.DraftAPI{OrgID: o.ID, Name: info.name, Version: info.version,
				Title: info.title, Summary: info.summary, Document: data})
			if err != nil {
				return err
			}
			_, err = tx.AppendAudit(r.Context(), store.AuditEntry{UserID: callerOf(r).user.ID, Action: "create", ObjectType: k.field,
				ObjectID: d.ID, Summary: "created " + k.what + " " + d.Name + ":" + d.Version + " in " + o.Name})
			return err
		}) {
			return
		}
		writeJSON(w, http.StatusCreated, m.draftObject(k, o, d, wantsField(r, k.field)))
	}
}

// updateDraft replaces the draft's document; its name and version follow
// the new document.
func (m *Manager) updateDraft(k draftKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o, err := m.org(r.Context(), r.PathValue("org"))
		if err != nil {
			m.storeError(w, err)
			return
		}
		data, info, ok := m.readDraft(w, r, k)
		if !ok {
			return
		}
		var d store.DraftAPI
		if !m.commit(w, r, func(tx store.Tx) error {
			old, err := m.draft(r.Context(), tx, k, o, r.PathValue("id"))
			if err != nil {
				return err
			}
			d = old
			d.Name, d.Version, d.Title, d.Summary, d.Document = info.name, info.version, info.title, info.summary, data
			if d, err = k.update(r.Context(), tx, d); err != nil {
				return err
			}
			summary := "updated " + k.what + " " + d.Name + ":" + d.Version + " in " + o.Name
			if old.Name != d.Name || old.Version != d.Version {
				summary += " (was " + old.Name + ":" + old.Version + ")"
			}
			_, err = tx.AppendAudit(r.Context(), store.AuditEntry{UserID: callerOf(r).user.ID, Action: "update", ObjectType: k.field,
				ObjectID: d.ID, Summary: summary})
			return err
		}) {
			return
		}
		writeJSON(w, http.StatusOK, m.draftObject(k, o, d, wantsField(r, k.field)))
	}
}

func (m *Manager) deleteDraft(k draftKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o, err := m.org(r.Context(), r.PathValue("org"))
		if err != nil {
			m.storeError(w, err)
			return
		}
		if !m.commit(w, r, func(tx store.Tx) error {
			d, err := m.draft(r.Context(), tx, k, o, r.PathValue("id"))
			if err != nil {
				return err
			}
			if err := k.delete(r.Context(), tx, d.ID); err != nil {
				return err
			}
			_, err = tx.AppendAudit(r.Context(), store.AuditEntry{UserID: callerOf(r).user.ID, Action: "delete", ObjectType: k.field,
				ObjectID: d.ID, Summary: "deleted " + k.what + " " + d.Name + ":" + d.Version + " from " + o.Name})
			return err
		}) {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// readDraft reads a create or update body and checks its document. It
// takes API Connect's {"draft_api": {…}} (or {"draft_product": {…}}), or
// the document itself as JSON or YAML, as a file is uploaded. It answers
// 400 with every problem, one message line each, when the document would
// not load on the gateway; the bytes it returns are the document as
// uploaded.
func (m *Manager) readDraft(w http.ResponseWriter, r *http.Request, k draftKind) ([]byte, draftInfo, bool) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var file string
	switch ct {
	case "application/json", "":
		file = k.field + ".json"
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		file = k.field + ".yaml"
	default:
		writeError(w, http.StatusUnsupportedMediaType, "send the "+k.what+` as JSON ({"`+k.field+`": {…}} or the document itself) or YAML (Content-Type: application/yaml)`)
		return nil, draftInfo{}, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDraftBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the document is larger than %d MiB", maxDraftBody>>20))
			return nil, draftInfo{}, false
		}
		writeError(w, http.StatusBadRequest, "could not read the body: "+err.Error())
		return nil, draftInfo{}, false
	}
	data, shift := body, position{}
	if strings.HasSuffix(file, ".json") {
		data, shift = unwrapDraft(body, k.field)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		writeError(w, http.StatusBadRequest, "the body is empty: send the "+k.what+"'s document")
		return nil, draftInfo{}, false
	}
	info, ps := loadDraft(k, file, data)
	if errs := ps.Errors(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, p := range errs {
			msgs[i] = shift.apply(p).Error()
		}
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": http.StatusBadRequest, "message": msgs, "errors": msgs})
		return nil, draftInfo{}, false
	}
	return data, info, true
}

// position is where a wrapped document starts in the body, so that the
// problems found in it point into what the user sent.
type position struct{ line, column int }

func (s position) apply(p apidef.Problem) apidef.Problem {
	if p.Line == 1 && p.Column > 0 {
		p.Column += s.column
	}
	if p.Line > 0 {
		p.Line += s.line
	}
	return p
}

// unwrapDraft returns the document inside {"<field>": …}, or body itself
// when it is not wrapped. The document may be an object or a string (the
// YAML text).
func unwrapDraft(body []byte, field string) ([]byte, position) {
	var wrapper map[string]json.RawMessage
	if json.Unmarshal(body, &wrapper) != nil {
		return body, position{}
	}
	raw, ok := wrapper[field]
	if !ok {
		return body, position{}
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return []byte(text), position{}
	}
	var at position
	if i := bytes.Index(body, raw); i >= 0 {
		before := body[:i]
		at.line = bytes.Count(before, []byte("\n"))
		at.column = i - (bytes.LastIndexByte(before, '\n') + 1)
	}
	return raw, at
}

// loadDraft parses and loads the document as the gateway would.
func loadDraft(k draftKind, file string, data []byte) (draftInfo, apidef.Problems) {
	doc, err := apidef.Parse(file, data)
	if err != nil {
		var ps apidef.Problems
		if errors.As(err, &ps) {
			return draftInfo{}, ps
		}
		return draftInfo{}, apidef.Problems{{File: file, Msg: err.Error()}}
	}
	info, ps := k.check(doc)
	if info.title == "" {
		info.title = info.name
	}
	return info, ps
}

func checkDraftAPI(doc *apidef.Document) (draftInfo, apidef.Problems) {
	if doc.Kind == apidef.KindProduct {
		return draftInfo{}, apidef.Problems{doc.Root.KeyNode("product").Problem("this is a product, not an API",
			"upload it to /drafts/draft-products")}
	}
	api, ps := apidef.LoadAPI(doc)
	// Files an assembly names (schemas to validate against) are read
	// beside the document; a draft has none, so give the compiler an empty
	// directory rather than the manager's working directory.
	dir, err := os.MkdirTemp("", "portico-draft-")
	if err != nil {
		return draftInfo{}, append(ps, apidef.Problem{File: doc.File, Msg: "could not check the assembly: " + err.Error()})
	}
	defer os.RemoveAll(dir)
	_, cps := assembly.CompileAPI(policy.Builtins(), api, nil, dir)
	ps = append(ps, cps...)
	info := doc.Root.Get("info")
	return draftInfo{name: api.Name, version: api.Version, title: api.Title,
		summary: info.String("summary", info.String("description", ""))}, ps
}

func checkDraftProduct(doc *apidef.Document) (draftInfo, apidef.Problems) {
	if doc.Kind != apidef.KindProduct {
		return draftInfo{}, apidef.Problems{doc.Root.Problem("this is not a product: it has no product: version",
			"a product starts with product: 1.0.0; upload APIs to /drafts/draft-apis")}
	}
	p, ps := apidef.LoadProduct(doc)
	info := doc.Root.Get("info")
	return draftInfo{name: p.Name, version: p.Version, title: p.Title,
		summary: info.String("summary", info.String("description", ""))}, ps
}
