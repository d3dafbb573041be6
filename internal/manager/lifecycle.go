package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/store"
)

// Product lifecycle beyond products:update: replace and supersede
// (apic.md §4.2), and publishing a draft product with the org's draft APIs.
func (m *Manager) lifecycleRoutes(mux *http.ServeMux) {
	// Like publish, these change what consumers can call: developer.
	mux.Handle("POST /api/catalogs/{org}/{catalog}/products/{product}/replace", m.authed(orgRole(RoleDeveloper), m.migrateProduct(store.ProductRetired)))
	mux.Handle("POST /api/catalogs/{org}/{catalog}/products/{product}/supersede", m.authed(orgRole(RoleDeveloper), m.migrateProduct(store.ProductDeprecated)))
	mux.Handle("POST /api/orgs/{org}/drafts/draft-products/{id}/publish", m.authed(orgRole(RoleDeveloper), m.publishDraft))
}

// planMapping is API Connect's mapping file for replace and supersede:
// the old product and, for each of its plans, the new product's plan its
// subscriptions move to.
type planMapping struct {
	ProductURL string `json:"product_url"`
	Plans      []struct {
		Source string `json:"source"`
		Target string `json:"target"`
	} `json:"plans"`
}

// productIn finds a product of catalog c by URL (…/products/{id}), ID or
// name:version, reading through rd.
func productIn(ctx context.Context, rd store.Reader, c store.Catalog, ref string) (store.Product, error) {
	id := path.Base(strings.TrimRight(ref, "/"))
	var p store.Product
	var err error
	if name, version, ok := strings.Cut(id, ":"); ok {
		p, err = rd.GetProductByName(ctx, c.ID, name, version)
	} else if p, err = rd.GetProduct(ctx, id); err == nil && p.CatalogID != c.ID {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return p, notFoundIn("product", ref, "catalog "+c.Name)
	}
	return p, err
}

// productPlans lists the names of the plans in a stored product's document.
func productPlans(p store.Product) ([]string, error) {
	doc, err := apidef.Parse(p.Name+".yaml", p.Document)
	if err != nil {
		return nil, fmt.Errorf("product %s:%s: its document does not parse: %v", p.Name, p.Version, err)
	}
	def, _ := apidef.LoadProduct(doc) // stored documents were checked; only the plans matter here
	var names []string
	for _, pl := range def.Plans {
		names = append(names, pl.Name)
	}
	return names, nil
}

// migrateProduct is replace (the old product becomes retired) or
// supersede (it becomes deprecated). In one transaction the new product
// ({product}, staged or published) is published, the old one changes
// state, and every subscription of the old product moves to the new
// product with the plan the mapping gives for its plan. API Connect's
// supersede leaves subscribers to migrate later; Portico moves them at
// once, as replace does, so both take the same mapping. A subscription
// whose plan has no mapping, a source plan the old product lacks or a
// target plan the new product lacks is refused (400) and nothing changes.
// A moved subscription keeps its state: it was approved for the old plan.
func (m *Manager) migrateProduct(oldState store.ProductState) http.HandlerFunc {
	verb := map[store.ProductState]string{store.ProductRetired: "replace", store.ProductDeprecated: "supersede"}[oldState]
	return func(w http.ResponseWriter, r *http.Request) {
		var req planMapping
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.ProductURL == "" {
			writeError(w, http.StatusBadRequest, `the body must be JSON naming the old product and mapping its plans: {"product_url": "…/products/{id}", "plans": [{"source": "default-plan", "target": "gold"}]}`)
			return
		}
		o, c, err := m.catalogIn(r.Context(), r.PathValue("org"), r.PathValue("catalog"))
		if err != nil {
			m.storeError(w, err)
			return
		}
		var newP store.Product
		if !m.commit(w, r, func(tx store.Tx) error {
			ctx := r.Context()
			var err error
			if newP, err = productIn(ctx, tx, c, r.PathValue("product")); err != nil {
				return err
			}
			oldP, err := productIn(ctx, tx, c, req.ProductURL)
			if err != nil {
				return err
			}
			if oldP.ID == newP.ID {
				return fmt.Errorf("a product cannot %s itself: %w", verb, store.ErrInvalid)
			}
			if newP.State != store.ProductStaged && newP.State != store.ProductPublished {
				return fmt.Errorf("the new product %s:%s is %s; it must be staged or published: %w", newP.Name, newP.Version, newP.State, store.ErrInvalid)
			}
			if oldP.State != store.ProductPublished && oldP.State != store.ProductDeprecated {
				return fmt.Errorf("the old product %s:%s is %s; it must be published or deprecated: %w", oldP.Name, oldP.Version, oldP.State, store.ErrInvalid)
			}
			oldPlans, err := productPlans(oldP)
			if err != nil {
				return err
			}
			newPlans, err := productPlans(newP)
			if err != nil {
				return err
			}
			targets := map[string]string{}
			for _, pm := range req.Plans {
				if !slices.Contains(oldPlans, pm.Source) {
					return fmt.Errorf("the old product %s:%s has no plan %q; its plans: %s: %w", oldP.Name, oldP.Version, pm.Source, strings.Join(oldPlans, ", "), store.ErrInvalid)
				}
				if !slices.Contains(newPlans, pm.Target) {
					return fmt.Errorf("the new product %s:%s has no plan %q; its plans: %s: %w", newP.Name, newP.Version, pm.Target, strings.Join(newPlans, ", "), store.ErrInvalid)
				}
				if t, ok := targets[pm.Source]; ok && t != pm.Target {
					return fmt.Errorf("plan %q is mapped twice: %w", pm.Source, store.ErrInvalid)
				}
				targets[pm.Source] = pm.Target
			}
			subs, err := tx.ListProductSubscriptions(ctx, oldP.ID, store.ListOptions{})
			if err != nil {
				return err
			}
			for _, s := range subs.Items {
				if _, ok := targets[s.Plan]; !ok {
					return fmt.Errorf("subscription %s is to plan %q of %s:%s, which the mapping does not map: add {\"source\": %q, \"target\": \"…\"}: %w",
						s.Name, s.Plan, oldP.Name, oldP.Version, s.Plan, store.ErrInvalid)
				}
			}
			for _, s := range subs.Items {
				s.ProductID, s.Plan = newP.ID, targets[s.Plan]
				if _, err := tx.UpdateSubscription(ctx, s); err != nil {
					return err
				}
			}
			newP.State = store.ProductPublished
			if newP, err = tx.UpdateProduct(ctx, newP); err != nil {
				return err
			}
			oldP.State = oldState
			if oldP, err = tx.UpdateProduct(ctx, oldP); err != nil {
				return err
			}
			user := callerOf(r).user.ID
			if _, err := tx.AppendAudit(ctx, store.AuditEntry{UserID: user, Action: verb, ObjectType: "product", ObjectID: newP.ID,
				Summary: fmt.Sprintf("%s:%s %sd %s:%s in %s/%s; %d subscriptions moved", newP.Name, newP.Version, verb, oldP.Name, oldP.Version, o.Name, c.Name, len(subs.Items))}); err != nil {
				return err
			}
			_, err = tx.AppendAudit(ctx, store.AuditEntry{UserID: user, Action: "update", ObjectType: "product", ObjectID: oldP.ID,
				Summary: fmt.Sprintf("%s:%s is %s (%sd by %s:%s)", oldP.Name, oldP.Version, oldP.State, verb, newP.Name, newP.Version)})
			return err
		}) {
			return
		}
		writeJSON(w, http.StatusOK, m.productObject(o, c, newP))
	}
}

// publishDraft publishes a draft product of the org, with the org's draft
// APIs it names, into a catalog ({"catalog": "sandbox"} or ?catalog=).
// The product's apis: entries are resolved against the org's draft APIs:
// an entry {name: api:version} by that name and version; an entry
// {$ref: file} by the file's stem (its name without directory and
// extension), which must be name_version as apic writes it
// (weather_1.0.0.yaml), name-version, name+version, or the API's name
// alone when only one draft API has that name. The documents then go
// through checkPublish, as a multipart publish would, so the same loader
// checks apply and the stored product names its APIs by name:version.
// ?stage=true stores it staged.
func (m *Manager) publishDraft(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Catalog string `json:"catalog"`
	}
	req.Catalog = r.URL.Query().Get("catalog")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	if err != nil {
		writeError(w, http.StatusBadRequest, "could not read the body: "+err.Error())
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		var b struct {
			Catalog string `json:"catalog"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			writeError(w, http.StatusBadRequest, `the body must be JSON naming the catalog: {"catalog": "sandbox"}`)
			return
		}
		if b.Catalog != "" {
			req.Catalog = b.Catalog
		}
	}
	if req.Catalog == "" {
		writeError(w, http.StatusBadRequest, `name the catalog to publish to: {"catalog": "sandbox"} or ?catalog=sandbox`)
		return
	}
	ctx := r.Context()
	o, c, err := m.catalogIn(ctx, r.PathValue("org"), req.Catalog)
	if err != nil {
		m.storeError(w, err)
		return
	}
	d, err := m.draft(ctx, m.st, draftProductKind, o, r.PathValue("id"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	product := upload{name: d.Name + "_" + d.Version + ".yaml", data: d.Document}
	apis, problems, err := m.draftAPIsOf(ctx, o, product)
	if err != nil {
		m.storeError(w, err)
		return
	}
	if len(problems) > 0 {
		writeProblems(w, problems)
		return
	}
	prod, problems := checkPublish(product, apis)
	if len(problems) > 0 {
		writeProblems(w, problems)
		return
	}
	prod.CatalogID, prod.Summary = c.ID, d.Summary
	prod.State = store.ProductPublished
	if r.URL.Query().Get("stage") == "true" {
		prod.State = store.ProductStaged
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		if prod, err = tx.CreateProduct(ctx, prod); err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, store.AuditEntry{UserID: callerOf(r).user.ID, Action: "publish", ObjectType: "product",
			ObjectID: prod.ID, Summary: fmt.Sprintf("%s %s:%s from draft product %s to %s/%s", prod.State, prod.Name, prod.Version, d.ID, o.Name, c.Name)})
		return err
	}) {
		return
	}
	writeJSON(w, http.StatusCreated, m.productObject(o, c, prod))
}

// draftAPIsOf finds the draft APIs a draft product's apis: entries name
// and returns them as uploads that checkPublish resolves: an entry by
// $ref gets the file's base name, so checkPublish matches it by file.
func (m *Manager) draftAPIsOf(ctx context.Context, o store.ProviderOrg, product upload) ([]upload, apidef.Problems, error) {
	doc, err := apidef.Parse(product.name, product.data)
	if err != nil {
		return nil, asProblems(err), nil
	}
	def, ps := apidef.LoadProduct(doc)
	if errs := ps.Errors(); len(errs) > 0 {
		return nil, errs, nil
	}
	var all []store.DraftAPI // loaded on the first $ref
	var uploads []upload
	seen := map[string]bool{} // upload names
	keys := make([]string, 0, len(def.APIs))
	for k := range def.APIs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		pa := def.APIs[key]
		var d store.DraftAPI
		var name string
		if pa.File == "" {
			n, v, _ := strings.Cut(pa.Name, ":")
			d, err = m.st.GetDraftAPIByName(ctx, o.ID, n, v)
			if errors.Is(err, store.ErrNotFound) {
				ps = append(ps, pa.Node.Problem(fmt.Sprintf("API %q of the product: no draft API %s in provider org %s", key, pa.Name, o.Name),
					"create it under /drafts/draft-apis first"))
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			name = d.Name + "_" + d.Version + ".yaml"
		} else {
			if all == nil {
				page, err := m.st.ListDraftAPIs(ctx, o.ID, store.ListOptions{})
				if err != nil {
					return nil, nil, err
				}
				all = page.Items
			}
			name = path.Base(pa.File)
			var found bool
			if d, found, err = matchDraftFile(all, name); err != nil {
				ps = append(ps, pa.Node.Problem(fmt.Sprintf("API %q of the product: %v", key, err), "reference it by name: {name: api:version}"))
				continue
			} else if !found {
				ps = append(ps, pa.Node.Problem(fmt.Sprintf("API %q of the product: no draft API in provider org %s matches %s", key, o.Name, name),
					"name the file name_version.yaml after the API's x-ibm-name and version, or reference it by name: {name: api:version}"))
				continue
			}
		}
		if !seen[name] {
			seen[name] = true
			uploads = append(uploads, upload{name: name, data: d.Document})
		}
	}
	return uploads, ps.Errors(), nil
}

// matchDraftFile finds the draft API a $ref file name stands for: its
// stem is name_version, name-version or name+version of exactly one
// draft API, else the name of exactly one draft API.
func matchDraftFile(all []store.DraftAPI, file string) (store.DraftAPI, bool, error) {
	stem := strings.TrimSuffix(file, path.Ext(file))
	if ext := path.Ext(stem); ext == ".openapi" || ext == ".swagger" {
		stem = strings.TrimSuffix(stem, ext)
	}
	for _, exact := range []bool{true, false} {
		var hits []store.DraftAPI
		for _, d := range all {
			if exact && (stem == d.Name+"_"+d.Version || stem == d.Name+"-"+d.Version || stem == d.Name+d.Version) ||
				!exact && stem == d.Name {
				hits = append(hits, d)
			}
		}
		switch len(hits) {
		case 0:
			continue
		case 1:
			return hits[0], true, nil
		default:
			refs := make([]string, len(hits))
			for i, h := range hits {
				refs[i] = h.Name + ":" + h.Version
			}
			return store.DraftAPI{}, false, fmt.Errorf("%s matches several draft APIs: %s", file, strings.Join(refs, ", "))
		}
	}
	return store.DraftAPI{}, false, nil
}
