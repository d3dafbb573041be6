package manager

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/portico-api/portico/internal/auth"
	"github.com/portico-api/portico/internal/store"
)

// userRoutes installs users, the caller's API keys, org members, and the
// cloud's topology and audit log.
func (m *Manager) userRoutes(mux *http.ServeMux) {
	const users = "/api/user-registries/admin/users"
	// Users: cloud admin.
	mux.Handle("GET "+users, m.authed(cloudAdmin, m.listUsers))
	mux.Handle("POST "+users, m.authed(cloudAdmin, m.createUser))
	mux.Handle("GET "+users+"/{user}", m.authed(cloudAdmin, m.getUser))
	mux.Handle("DELETE "+users+"/{user}", m.authed(cloudAdmin, m.deleteUser))

	// API keys: any user, for themselves.
	mux.Handle("GET /api/me/api-keys", m.authed(anyone, m.listAPIKeys))
	mux.Handle("POST /api/me/api-keys", m.authed(anyone, m.createAPIKey))
	mux.Handle("DELETE /api/me/api-keys/{id}", m.authed(anyone, m.deleteAPIKey))

	// Org members: viewers list them; owners change them.
	mux.Handle("GET /api/orgs/{org}/members", m.authed(orgRole(RoleViewer), m.listMembers))
	mux.Handle("PUT /api/orgs/{org}/members/{user}", m.authed(orgRole(RoleOwner), m.setMember))
	mux.Handle("DELETE /api/orgs/{org}/members/{user}", m.authed(orgRole(RoleOwner), m.deleteMember))

	// Cloud: cloud admin.
	mux.Handle("GET /api/cloud/topology", m.authed(cloudAdmin, m.topology))
	mux.Handle("GET /api/cloud/audit", m.authed(cloudAdmin, m.listAudit))
}

func (m *Manager) userURL(u store.User) string {
	return m.opts.BaseURL + "/api/user-registries/admin/users/" + u.ID
}

// userObject is a user as API Connect shows it; never the password.
func (m *Manager) userObject(u store.User) map[string]any {
	return map[string]any{"type": "user", "api_version": apiVersion, "id": u.ID, "name": u.Name, "username": u.Name,
		"title": u.Title, "summary": u.Summary, "email": u.Email, "state": "enabled", "url": m.userURL(u),
		"created_at": u.CreatedAt, "updated_at": u.UpdatedAt}
}

// user finds a user by name or ID.
func (m *Manager) user(ctx context.Context, nameOrID string) (store.User, error) {
	return byNameOrID(ctx, "user", nameOrID, m.st.GetUserByName, m.st.GetUser)
}

func (m *Manager) listUsers(w http.ResponseWriter, r *http.Request) {
	opts, err := listOptions(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := m.st.ListUsers(r.Context(), opts)
	if err != nil {
		m.storeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(page.Items))
	for _, u := range page.Items {
		out = append(out, m.userObject(u))
	}
	writeJSON(w, http.StatusOK, collection(out, page.Total))
}

type userRequest struct {
	Username string `json:"username"`
	Name     string `json:"name"`
	Password string `json:"password"`
	Email    string `json:"email"`
	Title    string `json:"title"`
	Summary  string `json:"summary"`
}

func (m *Manager) createUser(w http.ResponseWriter, r *http.Request) {
	var req userRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, `the body must be JSON: {"username": "jo", "password": "…", "email": "jo@example.com"}`)
		return
	}
	name := req.Username
	if name == "" {
		name = req.Name
	}
	if name == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, "a user needs a username and a password")
		return
	}
	if req.Title == "" {
		req.Title = name
	}
	hash, err := auth.HashSecret(req.Password)
	if err != nil {
		m.internal(w, err)
		return
	}
	var u store.User
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		u, err = tx.CreateUser(r.Context(), store.User{Name: name, Title: req.Title, Summary: req.Summary, Email: req.Email, PasswordHash: hash})
		if err != nil {
			return err
		}
		_, err = tx.AppendAudit(r.Context(), store.AuditEntry{UserID: callerOf(r).user.ID, Action: "create", ObjectType: "user", ObjectID: u.ID, Summary: "created user " + u.Name})
		return err
	}) {
		return
	}
	writeJSON(w, http.StatusCreated, m.userObject(u))
}

func (m *Manager) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := m.user(r.Context(), r.PathValue("user"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m.userObject(u))
}

func (m *Manager) deleteUser(w http.ResponseWriter, r *http.Request) {
	u, err := m.user(r.Context(), r.PathValue("user"))
	if err != nil {
		m.storeError(w, err)
		return
	}
	c := callerOf(r)
	if u.ID == c.user.ID {
		writeError(w, http.StatusConflict, "you cannot delete your own user")
		return
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		if err := tx.DeleteUser(r.Context(), u.ID); err != nil {
			return err
		}
		_, err := tx.AppendAudit(r.Context(), store.AuditEntry{UserID: c.user.ID, Action: "delete", ObjectType: "user", ObjectID: u.ID, Summary: "deleted user " + u.Name})
		return err
	}) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiKeyObject never holds the key: only POST answers it, once.
func (m *Manager) apiKeyObject(k store.APIKey) map[string]any {
	o := map[string]any{"type": "api_key", "api_version": apiVersion, "id": k.ID, "description": k.Description,
		"url": m.opts.BaseURL + "/api/me/api-keys/" + k.ID, "created_at": k.CreatedAt}
	if !k.LastUsedAt.IsZero() {
		o["last_used_at"] = k.LastUsedAt
	}
	return o
}

func (m *Manager) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	opts, err := listOptions(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := m.st.ListAPIKeys(r.Context(), callerOf(r).user.ID, opts)
	if err != nil {
		m.storeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(page.Items))
	for _, k := range page.Items {
		out = append(out, m.apiKeyObject(k))
	}
	writeJSON(w, http.StatusOK, collection(out, page.Total))
}

// createAPIKey makes a key for the caller. The answer holds the key in
// api_key; only its SHA-256 is stored, so it cannot be shown again.
func (m *Manager) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Description string `json:"description"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, `the body must be JSON: {"description": "CI"} (or empty)`)
		return
	}
	key, err := newSecret()
	if err != nil {
		m.internal(w, err)
		return
	}
	c := callerOf(r)
	var k store.APIKey
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		k, err = tx.CreateAPIKey(r.Context(), store.APIKey{UserID: c.user.ID, KeyHash: hashKey(key), Description: req.Description})
		if err != nil {
			return err
		}
		_, err = tx.AppendAudit(r.Context(), store.AuditEntry{UserID: c.user.ID, Action: "create", ObjectType: "api_key", ObjectID: k.ID, Summary: "created an API key for " + c.user.Name})
		return err
	}) {
		return
	}
	o := m.apiKeyObject(k)
	o["api_key"] = key
	writeJSON(w, http.StatusCreated, o)
}

func (m *Manager) deleteAPIKey(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	id := r.PathValue("id")
	k, err := m.st.GetAPIKey(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && k.UserID != c.user.ID) {
		writeError(w, http.StatusNotFound, "API key "+id+": not found")
		return
	}
	if err != nil {
		m.storeError(w, err)
		return
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		if err := tx.DeleteAPIKey(r.Context(), k.ID); err != nil {
			return err
		}
		_, err := tx.AppendAudit(r.Context(), store.AuditEntry{UserID: c.user.ID, Action: "delete", ObjectType: "api_key", ObjectID: k.ID, Summary: "deleted an API key of " + c.user.Name})
		return err
	}) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (m *Manager) memberObject(o store.ProviderOrg, u store.User, mem store.Membership) map[string]any {
	return map[string]any{"type": "member", "api_version": apiVersion, "id": u.ID, "name": u.Name, "title": u.Title,
		"role": mem.Role, "user_url": m.userURL(u), "org_url": m.opts.BaseURL + "/api/orgs/" + o.ID,
		"url": m.opts.BaseURL + "/api/orgs/" + o.ID + "/members/" + u.ID, "created_at": mem.CreatedAt, "updated_at": mem.UpdatedAt}
}

func (m *Manager) listMembers(w http.ResponseWriter, r *http.Request) {
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
	page, err := m.st.ListOrgMembers(r.Context(), o.ID, opts)
	if err != nil {
		m.storeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(page.Items))
	for _, mem := range page.Items {
		u, err := m.st.GetUser(r.Context(), mem.UserID)
		if err != nil {
			m.storeError(w, err)
			return
		}
		out = append(out, m.memberObject(o, u, mem))
	}
	writeJSON(w, http.StatusOK, collection(out, page.Total))
}

// orgAndUser resolves the {org} and {user} of a members path.
func (m *Manager) orgAndUser(w http.ResponseWriter, r *http.Request) (store.ProviderOrg, store.User, bool) {
	o, err := m.org(r.Context(), r.PathValue("org"))
	if err != nil {
		m.storeError(w, err)
		return o, store.User{}, false
	}
	u, err := m.user(r.Context(), r.PathValue("user"))
	if err != nil {
		m.storeError(w, err)
		return o, u, false
	}
	return o, u, true
}

// setMember adds the user to the org, or changes their role.
func (m *Manager) setMember(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Role string `json:"role"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil || orgRank[req.Role] == 0 {
		writeError(w, http.StatusBadRequest, `the body must be JSON with a role of viewer, developer, administrator or owner: {"role": "developer"}`)
		return
	}
	o, u, ok := m.orgAndUser(w, r)
	if !ok {
		return
	}
	if u.ID == o.OwnerID && req.Role != RoleOwner {
		writeError(w, http.StatusConflict, "user "+u.Name+" owns org "+o.Name+" and stays an owner")
		return
	}
	var mem store.Membership
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		mem, err = tx.SetMembership(r.Context(), store.Membership{OrgID: o.ID, UserID: u.ID, Role: req.Role})
		if err != nil {
			return err
		}
		_, err = tx.AppendAudit(r.Context(), store.AuditEntry{UserID: callerOf(r).user.ID, Action: "update", ObjectType: "member", ObjectID: o.ID + "/" + u.ID,
			Summary: "made " + u.Name + " " + req.Role + " of " + o.Name})
		return err
	}) {
		return
	}
	writeJSON(w, http.StatusOK, m.memberObject(o, u, mem))
}

func (m *Manager) deleteMember(w http.ResponseWriter, r *http.Request) {
	o, u, ok := m.orgAndUser(w, r)
	if !ok {
		return
	}
	if u.ID == o.OwnerID {
		writeError(w, http.StatusConflict, "user "+u.Name+" owns org "+o.Name+" and cannot leave it")
		return
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		if err := tx.DeleteMembership(r.Context(), o.ID, u.ID); err != nil {
			return err
		}
		_, err := tx.AppendAudit(r.Context(), store.AuditEntry{UserID: callerOf(r).user.ID, Action: "delete", ObjectType: "member", ObjectID: o.ID + "/" + u.ID,
			Summary: "removed " + u.Name + " from " + o.Name})
		return err
	}) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// counts is a topology counts object.
type counts map[string]int

func (c counts) add(o counts) {
	for k, v := range o {
		c[k] += v
	}
}

// allItems lists every item (Limit 0); totalOnly reads just the Total.
var (
	allItems  = store.ListOptions{}
	totalOnly = store.ListOptions{Limit: 1}
)

// catalogCounts counts a catalog's products, consumer orgs, apps and
// subscriptions. Apps and subscriptions are under consumer orgs and apps,
// so those are walked.
func (m *Manager) catalogCounts(ctx context.Context, cat store.Catalog) (counts, error) {
	c := counts{"products": 0, "consumer_orgs": 0, "apps": 0, "subscriptions": 0}
	products, err := m.st.ListProducts(ctx, cat.ID, totalOnly)
	if err != nil {
		return nil, err
	}
	c["products"] = products.Total
	corgs, err := m.st.ListConsumerOrgs(ctx, cat.ID, allItems)
	if err != nil {
		return nil, err
	}
	c["consumer_orgs"] = corgs.Total
	for _, corg := range corgs.Items {
		apps, err := m.st.ListApps(ctx, corg.ID, allItems)
		if err != nil {
			return nil, err
		}
		c["apps"] += apps.Total
		for _, app := range apps.Items {
			subs, err := m.st.ListSubscriptions(ctx, app.ID, totalOnly)
			if err != nil {
				return nil, err
			}
			c["subscriptions"] += subs.Total
		}
	}
	return c, nil
}

// orgTopology is one org of the topology, with its counts and catalogs.
func (m *Manager) orgTopology(ctx context.Context, o store.ProviderOrg) (map[string]any, counts, error) {
	c := counts{"catalogs": 0, "draft_apis": 0, "draft_products": 0, "products": 0, "consumer_orgs": 0, "apps": 0, "subscriptions": 0, "members": 0}
	apis, err := m.st.ListDraftAPIs(ctx, o.ID, totalOnly)
	if err != nil {
		return nil, nil, err
	}
	c["draft_apis"] = apis.Total
	products, err := m.st.ListDraftProducts(ctx, o.ID, totalOnly)
	if err != nil {
		return nil, nil, err
	}
	c["draft_products"] = products.Total
	members, err := m.st.ListOrgMembers(ctx, o.ID, totalOnly)
	if err != nil {
		return nil, nil, err
	}
	c["members"] = members.Total
	cats, err := m.st.ListCatalogs(ctx, o.ID, allItems)
	if err != nil {
		return nil, nil, err
	}
	c["catalogs"] = cats.Total
	catalogs := make([]map[string]any, 0, len(cats.Items))
	for _, cat := range cats.Items {
		cc, err := m.catalogCounts(ctx, cat)
		if err != nil {
			return nil, nil, err
		}
		c.add(cc)
		catalogs = append(catalogs, map[string]any{"type": "catalog", "id": cat.ID, "name": cat.Name, "title": cat.Title,
			"url": m.opts.BaseURL + "/api/catalogs/" + o.ID + "/" + cat.ID, "counts": cc})
	}
	return map[string]any{"type": "org", "id": o.ID, "name": o.Name, "title": o.Title, "url": m.opts.BaseURL + "/api/orgs/" + o.ID,
		"counts": c, "catalogs": collection(catalogs, len(catalogs))}, c, nil
}

// topology answers counts for the cloud, each provider org and each of
// their catalogs, as API Connect's GET /api/cloud/topology.
func (m *Manager) topology(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	total := counts{"provider_orgs": 0, "catalogs": 0, "draft_apis": 0, "draft_products": 0, "products": 0,
		"consumer_orgs": 0, "apps": 0, "subscriptions": 0, "users": 0}
	users, err := m.st.ListUsers(ctx, totalOnly)
	if err != nil {
		m.storeError(w, err)
		return
	}
	total["users"] = users.Total
	orgs, err := m.st.ListProviderOrgs(ctx, allItems)
	if err != nil {
		m.storeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(orgs.Items))
	for _, o := range orgs.Items {
		if o.Name == AdminOrg { // holds gateway services, not APIs
			continue
		}
		total["provider_orgs"]++
		obj, c, err := m.orgTopology(ctx, o)
		if err != nil {
			m.storeError(w, err)
			return
		}
		for k, v := range c {
			if _, ok := total[k]; ok {
				total[k] += v
			}
		}
		out = append(out, obj)
	}
	writeJSON(w, http.StatusOK, map[string]any{"type": "topology", "api_version": apiVersion,
		"url": m.opts.BaseURL + "/api/cloud/topology", "counts": total, "orgs": collection(out, len(out))})
}

// listAudit lists the cloud's audit entries, newest first.
func (m *Manager) listAudit(w http.ResponseWriter, r *http.Request) {
	opts, err := listOptions(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	filter := store.AuditFilter{ObjectType: q.Get("object_type"), ObjectID: q.Get("object_id")}
	if name := q.Get("user"); name != "" {
		u, err := m.user(r.Context(), name)
		if err != nil {
			m.storeError(w, err)
			return
		}
		filter.UserID = u.ID
	}
	page, err := m.st.ListAudit(r.Context(), filter, opts)
	if err != nil {
		m.storeError(w, err)
		return
	}
	names := map[string]string{}
	out := make([]map[string]any, 0, len(page.Items))
	for _, e := range page.Items {
		name, ok := names[e.UserID]
		if !ok {
			// A deleted user's entries keep their ID.
			name = e.UserID
			if u, err := m.st.GetUser(r.Context(), e.UserID); err == nil {
				name = u.Name
			} else if !errors.Is(err, store.ErrNotFound) {
				m.storeError(w, err)
				return
			}
			names[e.UserID] = name
		}
		out = append(out, map[string]any{"type": "audit_entry", "id": e.ID, "time": e.At, "user": name, "user_id": e.UserID,
			"action": e.Action, "object_type": e.ObjectType, "object_id": e.ObjectID, "summary": strings.TrimSpace(e.Summary)})
	}
	writeJSON(w, http.StatusOK, collection(out, page.Total))
}
