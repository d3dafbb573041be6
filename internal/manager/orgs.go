package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/portico-api/portico/internal/store"
)

// orgObject is a provider org as API Connect shows it.
func (m *Manager) orgObject(o store.ProviderOrg) map[string]any {
	orgType := "provider"
	if o.Name == AdminOrg {
		orgType = "admin"
	}
	return map[string]any{"type": "org", "org_type": orgType, "api_version": apiVersion,
		"id": o.ID, "name": o.Name, "title": o.Title, "summary": o.Summary, "state": "enabled",
		"owner_url": m.opts.BaseURL + "/api/user-registries/admin/users/" + o.OwnerID,
		"url":       m.opts.BaseURL + "/api/orgs/" + o.ID, "created_at": o.CreatedAt, "updated_at": o.UpdatedAt}
}

func (m *Manager) catalogObject(o store.ProviderOrg, c store.Catalog) map[string]any {
	return map[string]any{"type": "catalog", "api_version": apiVersion, "id": c.ID, "name": c.Name,
		"title": c.Title, "summary": c.Summary, "org_url": m.opts.BaseURL + "/api/orgs/" + o.ID,
		"url": m.opts.BaseURL + "/api/catalogs/" + o.ID + "/" + c.ID, "created_at": c.CreatedAt, "updated_at": c.UpdatedAt}
}

// org finds a provider org by ID or name, as API Connect paths take either.
func (m *Manager) org(ctx context.Context, idOrName string) (store.ProviderOrg, error) {
	return byNameOrID(ctx, "provider org", idOrName, m.st.GetProviderOrgByName, m.st.GetProviderOrg)
}

// byNameOrID looks an object up by name, then by ID; not found either way
// is an error naming what was looked for (and wrapping store.ErrNotFound).
func byNameOrID[T any](ctx context.Context, what, ref string, byName, byID func(context.Context, string) (T, error)) (T, error) {
	v, err := byName(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		v, err = byID(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return v, fmt.Errorf("%s %s: %w", what, ref, store.ErrNotFound)
	}
	return v, err
}

// listOrgs answers the orgs the caller may see: all for a cloud admin,
// else those the caller is a member of.
func (m *Manager) listOrgs(w http.ResponseWriter, r *http.Request) {
	opts, err := listOptions(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c := callerOf(r)
	var out []map[string]any
	total := 0
	if c.user.CloudRole == RoleCloudAdmin {
		page, err := m.st.ListProviderOrgs(r.Context(), opts)
		if err != nil {
			m.storeError(w, err)
			return
		}
		for _, o := range page.Items {
			out = append(out, m.orgObject(o))
		}
		total = page.Total
	} else {
		page, err := m.st.ListUserMemberships(r.Context(), c.user.ID, opts)
		if err != nil {
			m.storeError(w, err)
			return
		}
		for _, mem := range page.Items {
			o, err := m.st.GetProviderOrg(r.Context(), mem.OrgID)
			if err != nil {
				m.storeError(w, err)
				return
			}
			out = append(out, m.orgObject(o))
		}
		total = page.Total
	}
	writeJSON(w, http.StatusOK, collection(out, total))
}

type createRequest struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Summary string `json:"summary"`
	Owner   string `json:"owner"` // consumer orgs: the owning user's name
}

func decodeCreate(w http.ResponseWriter, r *http.Request) (createRequest, bool) {
	var req createRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Name == "" {
		writeError(w, http.StatusBadRequest, `the body must be JSON with a name: {"name": "acme", "title": "ACME"}`)
		return req, false
	}
	if req.Title == "" {
		req.Title = req.Name
	}
	return req, true
}

// createOrg makes a provider org, owned by the caller, with its sandbox
// catalog, in one transaction.
func (m *Manager) createOrg(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeCreate(w, r)
	if !ok {
		return
	}
	if req.Name == AdminOrg {
		writeError(w, http.StatusConflict, "the name admin is reserved for the cloud's admin org; choose another name")
		return
	}
	c := callerOf(r)
	var org store.ProviderOrg
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		org, err = tx.CreateProviderOrg(r.Context(), store.ProviderOrg{Name: req.Name, Title: req.Title, Summary: req.Summary, OwnerID: c.user.ID})
		if err != nil {
			return err
		}
		if _, err := tx.SetMembership(r.Context(), store.Membership{OrgID: org.ID, UserID: c.user.ID, Role: RoleOwner}); err != nil {
			return err
		}
		sandbox, err := tx.CreateCatalog(r.Context(), store.Catalog{OrgID: org.ID, Name: "sandbox", Title: "Sandbox"})
		if err != nil {
			return err
		}
		if err := addDefaultGateways(r.Context(), tx, sandbox.ID); err != nil {
			return err
		}
		_, err = tx.AppendAudit(r.Context(), store.AuditEntry{UserID: c.user.ID, Action: "create", ObjectType: "org", ObjectID: org.ID, Summary: "created provider org " + org.Name})
		return err
	}) {
		return
	}
	writeJSON(w, http.StatusCreated, m.orgObject(org))
}

func (m *Manager) getOrg(w http.ResponseWriter, r *http.Request) {
	o, err := m.org(r.Context(), r.PathValue("org"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m.orgObject(o))
}

func (m *Manager) listCatalogs(w http.ResponseWriter, r *http.Request) {
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
	page, err := m.st.ListCatalogs(r.Context(), o.ID, opts)
	if err != nil {
		m.storeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(page.Items))
	for _, c := range page.Items {
		out = append(out, m.catalogObject(o, c))
	}
	writeJSON(w, http.StatusOK, collection(out, page.Total))
}

// getCatalog answers one catalog, by name or ID as API Connect's paths take.
func (m *Manager) getCatalog(w http.ResponseWriter, r *http.Request) {
	o, c, err := m.catalogIn(r.Context(), r.PathValue("org"), r.PathValue("catalog"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m.catalogObject(o, c))
}

func (m *Manager) createCatalog(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeCreate(w, r)
	if !ok {
		return
	}
	o, err := m.org(r.Context(), r.PathValue("org"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	if o.Name == AdminOrg {
		writeError(w, http.StatusBadRequest, "the admin org holds gateway services, not catalogs; create the catalog in a provider org")
		return
	}
	var cat store.Catalog
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		cat, err = tx.CreateCatalog(r.Context(), store.Catalog{OrgID: o.ID, Name: req.Name, Title: req.Title, Summary: req.Summary})
		if err != nil {
			return err
		}
		if err := addDefaultGateways(r.Context(), tx, cat.ID); err != nil {
			return err
		}
		_, err = tx.AppendAudit(r.Context(), store.AuditEntry{UserID: callerOf(r).user.ID, Action: "create", ObjectType: "catalog", ObjectID: cat.ID, Summary: "created catalog " + cat.Name + " in " + o.Name})
		return err
	}) {
		return
	}
	writeJSON(w, http.StatusCreated, m.catalogObject(o, cat))
}
