package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
	"github.com/portico-api/portico/internal/policy"
	"github.com/portico-api/portico/internal/store"
)

func (m *Manager) productRoutes(mux *http.ServeMux) {
	// Publishing and lifecycle change what consumers can call: developer.
	mux.Handle("POST /api/catalogs/{org}/{catalog}/publish", m.authed(orgRole(RoleDeveloper), m.publish))
	mux.Handle("GET /api/catalogs/{org}/{catalog}/products", m.authed(orgRole(RoleViewer), m.listProducts))
	mux.Handle("GET /api/catalogs/{org}/{catalog}/products/{product}", m.authed(orgRole(RoleViewer), m.getProduct))
	mux.Handle("PATCH /api/catalogs/{org}/{catalog}/products/{product}", m.authed(orgRole(RoleDeveloper), m.updateProduct))
	mux.Handle("DELETE /api/catalogs/{org}/{catalog}/products/{product}", m.authed(orgRole(RoleDeveloper), m.deleteProduct))
}

// catalogIn finds a catalog of an org, each by ID or name.
func (m *Manager) catalogIn(ctx context.Context, orgRef, catRef string) (store.ProviderOrg, store.Catalog, error) {
	o, err := m.org(ctx, orgRef)
	if err != nil {
		return o, store.Catalog{}, err
	}
	c, err := m.catalog(ctx, o, catRef)
	return o, c, err
}

func (m *Manager) productObject(o store.ProviderOrg, c store.Catalog, p store.Product) map[string]any {
	apis := make([]string, 0, len(p.APIs))
	for _, a := range p.APIs {
		apis = append(apis, a.Name+":"+a.Version)
	}
	base := m.opts.BaseURL + "/api/catalogs/" + o.ID + "/" + c.ID
	return map[string]any{"type": "product", "api_version": apiVersion, "id": p.ID, "name": p.Name, "version": p.Version,
		"title": p.Title, "summary": p.Summary, "state": p.State, "apis": apis,
		"catalog_url": base, "org_url": m.opts.BaseURL + "/api/orgs/" + o.ID, "url": base + "/products/" + p.ID,
		"created_at": p.CreatedAt, "updated_at": p.UpdatedAt}
}

// upload is one file of a publish request.
type upload struct {
	name string
	data []byte
}

// publish takes API Connect's multipart form: a part named product and one
// part named openapi per API. The documents are checked with the gateway's
// own loader; with any error nothing is stored and the answer lists the
// problems. ?stage=true stores the product staged instead of published.
func (m *Manager) publish(w http.ResponseWriter, r *http.Request) {
	o, c, err := m.catalogIn(r.Context(), r.PathValue("org"), r.PathValue("catalog"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	product, apis, err := readPublish(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	prod, problems := checkPublish(product, apis)
	if len(problems) > 0 {
		writeProblems(w, problems)
		return
	}
	prod.CatalogID = c.ID
	prod.State = "published"
	if r.URL.Query().Get("stage") == "true" {
		prod.State = "staged"
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		if prod, err = tx.CreateProduct(r.Context(), prod); err != nil {
			return err
		}
		_, err = tx.AppendAudit(r.Context(), store.AuditEntry{UserID: callerOf(r).user.ID, Action: "publish", ObjectType: "product",
			ObjectID: prod.ID, Summary: fmt.Sprintf("%s %s:%s to %s/%s", prod.State, prod.Name, prod.Version, o.Name, c.Name)})
		return err
	}) {
		return
	}
	writeJSON(w, http.StatusCreated, m.productObject(o, c, prod))
}

func readPublish(w http.ResponseWriter, r *http.Request) (upload, []upload, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return upload{}, nil, errors.New("publish takes multipart/form-data: a part named product and one part named openapi per API")
	}
	mr := multipart.NewReader(http.MaxBytesReader(w, r.Body, 64<<20), params["boundary"])
	var product upload
	var apis []upload
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return upload{}, nil, fmt.Errorf("reading the form: %v", err)
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return upload{}, nil, fmt.Errorf("reading part %s: %v", part.FormName(), err)
		}
		u := upload{name: path.Base(part.FileName()), data: data}
		switch part.FormName() {
		case "product":
			if u.name == "." || u.name == "" {
				u.name = "product.yaml"
			}
			product = u
		case "openapi":
			if u.name == "." || u.name == "" {
				u.name = fmt.Sprintf("api-%d.yaml", len(apis)+1)
			}
			apis = append(apis, u)
		}
	}
	if product.data == nil {
		return upload{}, nil, errors.New("the form has no part named product")
	}
	return product, apis, nil
}

// checkPublish loads the product and its APIs as the gateway would and
// resolves the product's apis: entries ($ref to an uploaded file name, or
// name:version). The stored product names its APIs by name:version.
func checkPublish(product upload, uploads []upload) (store.Product, apidef.Problems) {
	doc, err := apidef.Parse(product.name, product.data)
	if err != nil {
		return store.Product{}, asProblems(err)
	}
	def, ps := apidef.LoadProduct(doc)
	byFile := map[string]*apidef.API{}
	byRef := map[string]*apidef.API{}
	var apis []store.ProductAPI
	for _, u := range uploads {
		api, aps := loadAPI(u.name, u.data)
		ps = append(ps, aps...)
		if api == nil {
			continue
		}
		_, cps := assembly.CompileAPI(policy.Builtins(), api, nil, "")
		ps = append(ps, cps...)
		byFile[u.name], byRef[api.Ref()] = api, api
		apis = append(apis, store.ProductAPI{Name: api.Name, Version: api.Version, Document: u.data})
	}
	refs := map[string]string{}
	for key, pa := range def.APIs {
		api := byRef[pa.Name]
		if pa.File != "" {
			api = byFile[path.Base(pa.File)]
		}
		if api == nil {
			ps = append(ps, pa.Node.Problem(fmt.Sprintf("API %q of the product was not uploaded", key), "add a part named openapi with that file"))
			continue
		}
		refs[key] = api.Ref()
	}
	if errs := ps.Errors(); len(errs) > 0 {
		return store.Product{}, errs
	}
	stored, err := nameAPIRefs(doc, refs)
	if err != nil {
		return store.Product{}, apidef.Problems{{File: product.name, Msg: err.Error()}}
	}
	slices.SortFunc(apis, func(a, b store.ProductAPI) int { return strings.Compare(a.Name+a.Version, b.Name+b.Version) })
	return store.Product{Name: def.Name, Version: def.Version, Title: def.Title, Document: stored, APIs: apis}, nil
}

// nameAPIRefs rewrites the product's apis: entries to {name: api:version},
// so the stored product no longer depends on upload file names.
func nameAPIRefs(doc *apidef.Document, refs map[string]string) ([]byte, error) {
	apis := doc.Root.Get("apis")
	for _, key := range apis.Keys() {
		entry := apis.Get(key).Y
		entry.Kind, entry.Tag, entry.Content = yaml.MappingNode, "!!map", []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: "name"},
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: refs[key]},
		}
	}
	return yaml.Marshal(doc.Root.Y)
}

// writeProblems answers 400 with one message per problem (file:line).
func writeProblems(w http.ResponseWriter, ps apidef.Problems) {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Error()
	}
	writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "message": msgs, "errors": msgs})
}

func (m *Manager) listProducts(w http.ResponseWriter, r *http.Request) {
	opts, err := listOptions(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	o, c, err := m.catalogIn(r.Context(), r.PathValue("org"), r.PathValue("catalog"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	page, err := m.st.ListProducts(r.Context(), c.ID, opts)
	if err != nil {
		m.storeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(page.Items))
	for _, p := range page.Items {
		out = append(out, expandAPIs(r, m.productObject(o, c, p), p))
	}
	writeJSON(w, http.StatusOK, collection(out, page.Total))
}

// product finds a product of the catalog by ID or name:version.
func (m *Manager) product(ctx context.Context, c store.Catalog, ref string) (store.Product, error) {
	if name, version, ok := strings.Cut(ref, ":"); ok {
		return m.st.GetProductByName(ctx, c.ID, name, version)
	}
	p, err := m.st.GetProduct(ctx, ref)
	if err == nil && p.CatalogID != c.ID {
		return p, fmt.Errorf("product %s: %w", ref, store.ErrNotFound)
	}
	return p, err
}

func (m *Manager) getProduct(w http.ResponseWriter, r *http.Request) {
	o, c, err := m.catalogIn(r.Context(), r.PathValue("org"), r.PathValue("catalog"))
	if err == nil {
		var p store.Product
		if p, err = m.product(r.Context(), c, r.PathValue("product")); err == nil {
			writeJSON(w, http.StatusOK, expandAPIs(r, m.productObject(o, c, p), p))
			return
		}
	}
	m.storeError(w, err)
}

// deleteProduct removes a product that consumers cannot call (staged,
// retired or archived) and has no subscriptions left: a published or
// deprecated product must be retired first, as in API Connect.
func (m *Manager) deleteProduct(w http.ResponseWriter, r *http.Request) {
	o, c, err := m.catalogIn(r.Context(), r.PathValue("org"), r.PathValue("catalog"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	p, err := m.product(r.Context(), c, r.PathValue("product"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	if slices.Contains(callable, p.State) {
		writeError(w, http.StatusConflict, "product "+p.Name+":"+p.Version+" is "+string(p.State)+
			`; retire it first (PATCH {"state": "retired"}), then delete it`)
		return
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		if err := tx.DeleteProduct(r.Context(), p.ID); err != nil {
			return err
		}
		return m.audit(r, tx, "delete", "product", p.ID, "deleted product "+p.Name+":"+p.Version+" from "+o.Name+"/"+c.Name)
	}) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": p.Name + ":" + p.Version})
}

// lifecycle lists the states a product may move to from each state.
var lifecycle = map[store.ProductState][]store.ProductState{
	"staged":     {"published"},
	"published":  {"deprecated", "retired"},
	"deprecated": {"published", "retired"},
	"retired":    {"published", "archived"},
	"archived":   {},
}

// updateProduct changes a product's state (API Connect's products:update
// with {"state": "deprecated"}), title or summary.
func (m *Manager) updateProduct(w http.ResponseWriter, r *http.Request) {
	var req struct {
		State   store.ProductState `json:"state"`
		Title   *string            `json:"title"`
		Summary *string            `json:"summary"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, `the body must be JSON, e.g. {"state": "deprecated"}`)
		return
	}
	o, c, err := m.catalogIn(r.Context(), r.PathValue("org"), r.PathValue("catalog"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	var p store.Product
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		if p, err = m.product(r.Context(), c, r.PathValue("product")); err != nil {
			return err
		}
		if req.State != "" && req.State != p.State {
			if !slices.Contains(lifecycle[p.State], req.State) {
				return fmt.Errorf("a %s product cannot become %s (allowed: %v): %w", p.State, req.State, lifecycle[p.State], store.ErrInvalid)
			}
			p.State = req.State
		}
		if req.Title != nil {
			p.Title = *req.Title
		}
		if req.Summary != nil {
			p.Summary = *req.Summary
		}
		if p, err = tx.UpdateProduct(r.Context(), p); err != nil {
			return err
		}
		_, err = tx.AppendAudit(r.Context(), store.AuditEntry{UserID: callerOf(r).user.ID, Action: "update", ObjectType: "product",
			ObjectID: p.ID, Summary: fmt.Sprintf("%s:%s is %s", p.Name, p.Version, p.State)})
		return err
	}) {
		return
	}
	writeJSON(w, http.StatusOK, m.productObject(o, c, p))
}

// expandAPIs answers ?expand=apis: the product's APIs as objects (name,
// version, title, base path) instead of name:version references.
func expandAPIs(r *http.Request, obj map[string]any, p store.Product) map[string]any {
	if !slices.Contains(strings.Split(r.URL.Query().Get("expand"), ","), "apis") {
		return obj
	}
	apis := make([]map[string]any, 0, len(p.APIs))
	for _, a := range p.APIs {
		api := map[string]any{"type": "api", "name": a.Name, "version": a.Version}
		if def, ps := loadAPI(a.Name+"_"+a.Version+".yaml", a.Document); def != nil && len(ps.Errors()) == 0 {
			api["title"], api["base_path"] = def.Title, def.BasePath
		}
		apis = append(apis, api)
	}
	obj["apis"] = apis
	return obj
}

func loadAPI(name string, data []byte) (*apidef.API, apidef.Problems) {
	doc, err := apidef.Parse(name, data)
	if err != nil {
		return nil, asProblems(err)
	}
	return apidef.LoadAPI(doc)
}

func asProblems(err error) apidef.Problems {
	if ps, ok := err.(apidef.Problems); ok {
		return ps
	}
	return apidef.Problems{{Msg: err.Error()}}
}
