package manager

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/auth"
	"github.com/portico-api/portico/internal/store"
)

// Consumer objects: consumer orgs of a catalog, their apps, the apps'
// credentials and subscriptions. The provider org's roles decide (viewers
// read, developers create and change), and a consumer org's owner may also
// manage everything inside it.
func (m *Manager) consumerRoutes(mux *http.ServeMux) {
	const (
		corgs = "/api/catalogs/{org}/{catalog}/consumer-orgs"
		corg  = "/api/consumer-orgs/{org}/{catalog}/{corg}"
		app   = "/api/apps/{org}/{catalog}/{corg}/{app}"
		creds = app + "/credentials"
		subs  = app + "/subscriptions"
	)
	viewer, developer := orgRole(RoleViewer), orgRole(RoleDeveloper)
	member := consumerMember
	// Consumer orgs: viewers list and read them; developers create and
	// delete them (deleting takes the apps, credentials and subscriptions
	// with it).
	mux.Handle("GET "+corgs, m.authed(viewer, m.listConsumerOrgs))
	mux.Handle("POST "+corgs, m.authed(developer, m.createConsumerOrg))
	mux.Handle("GET "+corg, m.authed(member(viewer), m.getConsumerOrg))
	mux.Handle("DELETE "+corg, m.authed(member(developer), m.deleteConsumerOrg))
	// Apps: viewers read; developers create (with a first credential),
	// change and delete.
	mux.Handle("GET "+corg+"/apps", m.authed(member(viewer), m.listApps))
	mux.Handle("POST "+corg+"/apps", m.authed(member(developer), m.createApp))
	mux.Handle("GET "+app, m.authed(member(viewer), m.getApp))
	mux.Handle("PATCH "+app, m.authed(member(developer), m.updateApp))
	mux.Handle("DELETE "+app, m.authed(member(developer), m.deleteApp))
	// Credentials: viewers see client IDs, never secrets; developers
	// create, delete and reset them. Verifying a secret is a developer's
	// too: it is an oracle on a secret, and each check costs an argon2id
	// hash (19 MiB), not something to hand to every viewer.
	mux.Handle("GET "+creds, m.authed(member(viewer), m.listCredentials))
	mux.Handle("POST "+creds, m.authed(member(developer), m.createCredential))
	mux.Handle("GET "+creds+"/{cred}", m.authed(member(viewer), m.getCredential))
	mux.Handle("DELETE "+creds+"/{cred}", m.authed(member(developer), m.deleteCredential))
	mux.Handle("POST "+creds+"/{cred}/reset", m.authed(member(developer), m.resetCredential))
	mux.Handle("POST "+creds+"/{cred}/verify", m.authed(member(developer), m.verifyCredential))
	// Subscriptions: viewers read; developers subscribe and unsubscribe.
	mux.Handle("GET "+subs, m.authed(member(viewer), m.listSubscriptions))
	mux.Handle("POST "+subs, m.authed(member(developer), m.createSubscription))
	mux.Handle("GET "+subs+"/{sub}", m.authed(member(viewer), m.getSubscription))
	mux.Handle("DELETE "+subs+"/{sub}", m.authed(member(developer), m.deleteSubscription))
}

// notFoundIn reports an object missing under its parent, wrapping
// store.ErrNotFound so that storeError answers 404.
func notFoundIn(kind, idOrName, parent string) error {
	return fmt.Errorf("%s %s not found in %s: %w", kind, idOrName, parent, store.ErrNotFound)
}

// catalog finds a catalog of org by name or ID. An ID of another org's
// catalog is not found: paths never reach across orgs.
func (m *Manager) catalog(ctx context.Context, org store.ProviderOrg, idOrName string) (store.Catalog, error) {
	c, err := m.st.GetCatalogByName(ctx, org.ID, idOrName)
	if errors.Is(err, store.ErrNotFound) {
		c, err = m.st.GetCatalog(ctx, idOrName)
		if err == nil && c.OrgID != org.ID {
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.Catalog{}, notFoundIn("catalog", idOrName, "provider org "+org.Name)
	}
	return c, err
}

func (m *Manager) consumerOrg(ctx context.Context, cat store.Catalog, idOrName string) (store.ConsumerOrg, error) {
	c, err := m.st.GetConsumerOrgByName(ctx, cat.ID, idOrName)
	if errors.Is(err, store.ErrNotFound) {
		c, err = m.st.GetConsumerOrg(ctx, idOrName)
		if err == nil && c.CatalogID != cat.ID {
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.ConsumerOrg{}, notFoundIn("consumer org", idOrName, "catalog "+cat.Name)
	}
	return c, err
}

func (m *Manager) app(ctx context.Context, corg store.ConsumerOrg, idOrName string) (store.App, error) {
	a, err := m.st.GetAppByName(ctx, corg.ID, idOrName)
	if errors.Is(err, store.ErrNotFound) {
		a, err = m.st.GetApp(ctx, idOrName)
		if err == nil && a.ConsumerOrgID != corg.ID {
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.App{}, notFoundIn("app", idOrName, "consumer org "+corg.Name)
	}
	return a, err
}

// credential finds a credential of app by ID, else by name.
func (m *Manager) credential(ctx context.Context, app store.App, idOrName string) (store.Credential, error) {
	c, err := m.st.GetCredential(ctx, idOrName)
	if err == nil && c.AppID == app.ID {
		return c, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return c, err
	}
	all, err := m.st.ListCredentials(ctx, app.ID, store.ListOptions{})
	if err != nil {
		return store.Credential{}, err
	}
	for _, c := range all.Items {
		if c.Name == idOrName {
			return c, nil
		}
	}
	return store.Credential{}, notFoundIn("credential", idOrName, "app "+app.Name)
}

// subscription finds a subscription of app by ID, else by name.
func (m *Manager) subscription(ctx context.Context, app store.App, idOrName string) (store.Subscription, error) {
	s, err := m.st.GetSubscription(ctx, idOrName)
	if err == nil && s.AppID == app.ID {
		return s, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return s, err
	}
	all, err := m.st.ListSubscriptions(ctx, app.ID, store.ListOptions{})
	if err != nil {
		return store.Subscription{}, err
	}
	for _, s := range all.Items {
		if s.Name == idOrName {
			return s, nil
		}
	}
	return store.Subscription{}, notFoundIn("subscription", idOrName, "app "+app.Name)
}

// consumerPath holds the objects a consumer path names, resolved down to
// the depth the route has.
type consumerPath struct {
	org  store.ProviderOrg
	cat  store.Catalog
	corg store.ConsumerOrg
	app  store.App
}

// Depths of consumerPath.
const (
	depthCatalog = iota
	depthConsumerOrg
	depthApp
)

// resolveConsumer reads {org}, {catalog}, then {corg} and {app} as deep as asked;
// on failure it has answered and returns false.
func (m *Manager) resolveConsumer(w http.ResponseWriter, r *http.Request, depth int) (consumerPath, bool) {
	var p consumerPath
	var err error
	ctx := r.Context()
	p.org, err = m.org(ctx, r.PathValue("org"))
	if err == nil {
		p.cat, err = m.catalog(ctx, p.org, r.PathValue("catalog"))
	}
	if err == nil && depth >= depthConsumerOrg {
		p.corg, err = m.consumerOrg(ctx, p.cat, r.PathValue("corg"))
	}
	if err == nil && depth >= depthApp {
		p.app, err = m.app(ctx, p.corg, r.PathValue("app"))
	}
	if err != nil {
		m.storeError(w, err)
		return p, false
	}
	return p, true
}

// URLs of consumer objects; IDs, so that they survive renames.
func (m *Manager) catalogURLOf(p consumerPath) string {
	return m.opts.BaseURL + "/api/catalogs/" + p.org.ID + "/" + p.cat.ID
}

func (m *Manager) consumerOrgURL(p consumerPath) string {
	return m.opts.BaseURL + "/api/consumer-orgs/" + p.org.ID + "/" + p.cat.ID + "/" + p.corg.ID
}

func (m *Manager) appURL(p consumerPath) string {
	return m.opts.BaseURL + "/api/apps/" + p.org.ID + "/" + p.cat.ID + "/" + p.corg.ID + "/" + p.app.ID
}

func (m *Manager) productURLOf(p consumerPath, productID string) string {
	return m.catalogURLOf(p) + "/products/" + productID
}

func (m *Manager) consumerOrgObject(p consumerPath) map[string]any {
	c := p.corg
	return map[string]any{"type": "consumer_org", "api_version": apiVersion, "id": c.ID, "name": c.Name,
		"title": c.Title, "summary": c.Summary, "state": "enabled", "url": m.consumerOrgURL(p),
		"owner_url": m.opts.BaseURL + "/api/user-registries/admin/users/" + c.OwnerID,
		"org_url":   m.opts.BaseURL + "/api/orgs/" + p.org.ID, "catalog_url": m.catalogURLOf(p),
		"created_at": c.CreatedAt, "updated_at": c.UpdatedAt}
}

func (m *Manager) appObject(p consumerPath) map[string]any {
	a := p.app
	return map[string]any{"type": "app", "api_version": apiVersion, "id": a.ID, "name": a.Name,
		"title": a.Title, "summary": a.Summary, "state": string(a.State), "lifecycle_state": string(a.Lifecycle),
		"url": m.appURL(p), "org_url": m.opts.BaseURL + "/api/orgs/" + p.org.ID, "catalog_url": m.catalogURLOf(p),
		"consumer_org_url": m.consumerOrgURL(p), "created_at": a.CreatedAt, "updated_at": a.UpdatedAt}
}

// credentialObject never holds the secret: the create and reset answers
// add it once.
func (m *Manager) credentialObject(p consumerPath, c store.Credential) map[string]any {
	return map[string]any{"type": "credential", "api_version": apiVersion, "id": c.ID, "name": c.Name,
		"title": c.Title, "summary": c.Summary, "state": "enabled", "client_id": c.ClientID,
		"url": m.appURL(p) + "/credentials/" + c.ID, "org_url": m.opts.BaseURL + "/api/orgs/" + p.org.ID,
		"catalog_url": m.catalogURLOf(p), "consumer_org_url": m.consumerOrgURL(p), "app_url": m.appURL(p),
		"created_at": c.CreatedAt, "updated_at": c.UpdatedAt}
}

func (m *Manager) subscriptionObject(p consumerPath, s store.Subscription) map[string]any {
	return map[string]any{"type": "subscription", "api_version": apiVersion, "id": s.ID, "name": s.Name,
		"title": s.Title, "summary": s.Summary, "state": string(s.State), "plan": s.Plan,
		"product_url": m.productURLOf(p, s.ProductID),
		"url":         m.appURL(p) + "/subscriptions/" + s.ID, "org_url": m.opts.BaseURL + "/api/orgs/" + p.org.ID,
		"catalog_url": m.catalogURLOf(p), "consumer_org_url": m.consumerOrgURL(p), "app_url": m.appURL(p),
		"created_at": s.CreatedAt, "updated_at": s.UpdatedAt}
}

// auditConsumer appends the caller's entry for a change, in tx.
func auditConsumer(ctx context.Context, tx store.Tx, r *http.Request, action, kind, id, summary string) error {
	_, err := tx.AppendAudit(ctx, store.AuditEntry{UserID: callerOf(r).user.ID, Action: action, ObjectType: kind, ObjectID: id, Summary: summary})
	return err
}

// consumerPage answers a list, turning each item into its object.
func consumerPage[T any](w http.ResponseWriter, m *Manager, page store.Page[T], err error, object func(T) map[string]any) {
	if err != nil {
		m.storeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(page.Items))
	for _, it := range page.Items {
		out = append(out, object(it))
	}
	writeJSON(w, http.StatusOK, collection(out, page.Total))
}

// listFor reads ?limit=&offset= and resolves the path; on failure it has
// answered.
func (m *Manager) listFor(w http.ResponseWriter, r *http.Request, depth int) (consumerPath, store.ListOptions, bool) {
	opts, err := listOptions(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return consumerPath{}, opts, false
	}
	p, ok := m.resolveConsumer(w, r, depth)
	return p, opts, ok
}

// --- consumer orgs

func (m *Manager) listConsumerOrgs(w http.ResponseWriter, r *http.Request) {
	p, opts, ok := m.listFor(w, r, depthCatalog)
	if !ok {
		return
	}
	page, err := m.st.ListConsumerOrgs(r.Context(), p.cat.ID, opts)
	consumerPage(w, m, page, err, func(c store.ConsumerOrg) map[string]any { p.corg = c; return m.consumerOrgObject(p) })
}

// createConsumerOrg makes a consumer org owned by the caller (consumer
// registries and owner_url come later; the field is ignored, as API
// Connect ignores the other url fields on create).
func (m *Manager) createConsumerOrg(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeCreate(w, r)
	if !ok {
		return
	}
	p, ok := m.resolveConsumer(w, r, depthCatalog)
	if !ok {
		return
	}
	// The owner (a consumer-org member who manages its apps) is the caller,
	// or the user named by "owner".
	owner := callerOf(r).user
	if req.Owner != "" {
		u, err := m.st.GetUserByName(r.Context(), req.Owner)
		if err != nil {
			writeError(w, http.StatusBadRequest, "owner "+req.Owner+" is not a user: create the user first")
			return
		}
		owner = u
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		p.corg, err = tx.CreateConsumerOrg(r.Context(), store.ConsumerOrg{CatalogID: p.cat.ID, Name: req.Name, Title: req.Title,
			Summary: req.Summary, OwnerID: owner.ID})
		if err != nil {
			return err
		}
		return auditConsumer(r.Context(), tx, r, "create", "consumer_org", p.corg.ID, "created consumer org "+p.corg.Name+" in catalog "+p.cat.Name+" of "+p.org.Name)
	}) {
		return
	}
	writeJSON(w, http.StatusCreated, m.consumerOrgObject(p))
}

func (m *Manager) getConsumerOrg(w http.ResponseWriter, r *http.Request) {
	if p, ok := m.resolveConsumer(w, r, depthConsumerOrg); ok {
		writeJSON(w, http.StatusOK, m.consumerOrgObject(p))
	}
}

// deleteConsumerOrg deletes it with its apps, credentials and
// subscriptions, and answers 204.
func (m *Manager) deleteConsumerOrg(w http.ResponseWriter, r *http.Request) {
	p, ok := m.resolveConsumer(w, r, depthConsumerOrg)
	if !ok {
		return
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		if err := tx.DeleteConsumerOrg(r.Context(), p.corg.ID); err != nil {
			return err
		}
		return auditConsumer(r.Context(), tx, r, "delete", "consumer_org", p.corg.ID, "deleted consumer org "+p.corg.Name+" of catalog "+p.cat.Name+" in "+p.org.Name)
	}) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// --- apps

func (m *Manager) listApps(w http.ResponseWriter, r *http.Request) {
	p, opts, ok := m.listFor(w, r, depthConsumerOrg)
	if !ok {
		return
	}
	page, err := m.st.ListApps(r.Context(), p.corg.ID, opts)
	consumerPage(w, m, page, err, func(a store.App) map[string]any { p.app = a; return m.appObject(p) })
}

// newClientCredential makes a client ID (16 random bytes as 32 hex digits,
// as API Connect's) and a secret (32 random bytes, base64url) with its
// argon2id hash. Only the hash is stored; the secret is answered once.
func newClientCredential() (clientID, secret, hash string, err error) {
	id := make([]byte, 16)
	sec := make([]byte, 32)
	if _, err = rand.Read(id); err != nil {
		return
	}
	if _, err = rand.Read(sec); err != nil {
		return
	}
	secret = base64.RawURLEncoding.EncodeToString(sec)
	hash, err = auth.HashSecret(secret)
	return hex.EncodeToString(id), secret, hash, err
}

// withSecret is a credential's object with its clear secret: only in the
// answer that created it.
func withSecret(obj map[string]any, secret string) map[string]any {
	obj["client_secret"] = secret
	return obj
}

// createApp makes an app with its first credential, in one transaction.
// The answer holds the credential's client_id and client_secret (also at
// the top level, where API Connect's clients read them); no later answer
// shows the secret.
func (m *Manager) createApp(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeCreate(w, r)
	if !ok {
		return
	}
	p, ok := m.resolveConsumer(w, r, depthConsumerOrg)
	if !ok {
		return
	}
	clientID, secret, hash, err := newClientCredential()
	if err != nil {
		m.internal(w, err)
		return
	}
	var cred store.Credential
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		p.app, err = tx.CreateApp(r.Context(), store.App{ConsumerOrgID: p.corg.ID, Name: req.Name, Title: req.Title, Summary: req.Summary})
		if err != nil {
			return err
		}
		cred, err = tx.CreateCredential(r.Context(), store.Credential{AppID: p.app.ID, Name: "credential-" + clientID[:8],
			Title: "Credential for " + p.app.Title, ClientID: clientID, SecretHash: hash})
		if err != nil {
			return err
		}
		if err := auditConsumer(r.Context(), tx, r, "create", "app", p.app.ID, "created app "+p.app.Name+" in consumer org "+p.corg.Name); err != nil {
			return err
		}
		return auditConsumer(r.Context(), tx, r, "create", "credential", cred.ID, "created credential "+cred.Name+" (client ID "+clientID+") of app "+p.app.Name)
	}) {
		return
	}
	obj := m.appObject(p)
	obj["client_id"], obj["client_secret"] = clientID, secret
	obj["app_credentials"] = []map[string]any{withSecret(m.credentialObject(p, cred), secret)}
	writeJSON(w, http.StatusCreated, obj)
}

func (m *Manager) getApp(w http.ResponseWriter, r *http.Request) {
	if p, ok := m.resolveConsumer(w, r, depthApp); ok {
		writeJSON(w, http.StatusOK, m.appObject(p))
	}
}

// appPatch is what PATCH may change; other fields are ignored, as API
// Connect ignores read-only fields.
type appPatch struct {
	Title   *string `json:"title"`
	Summary *string `json:"summary"`
	State   *string `json:"state"`
}

func (m *Manager) updateApp(w http.ResponseWriter, r *http.Request) {
	var req appPatch
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, `the body must be JSON: {"title": "…", "summary": "…", "state": "active"|"disabled"}`)
		return
	}
	if req.State != nil && *req.State != string(store.AppActive) && *req.State != string(store.AppDisabled) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("state %q: an app's state is \"active\" or \"disabled\"", *req.State))
		return
	}
	p, ok := m.resolveConsumer(w, r, depthApp)
	if !ok {
		return
	}
	a := p.app
	if req.Title != nil {
		a.Title = *req.Title
	}
	if req.Summary != nil {
		a.Summary = *req.Summary
	}
	if req.State != nil {
		a.State = store.AppState(*req.State)
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		if p.app, err = tx.UpdateApp(r.Context(), a); err != nil {
			return err
		}
		return auditConsumer(r.Context(), tx, r, "update", "app", a.ID, "updated app "+a.Name+" (state "+string(a.State)+")")
	}) {
		return
	}
	writeJSON(w, http.StatusOK, m.appObject(p))
}

// deleteApp deletes it with its credentials and subscriptions; 204.
func (m *Manager) deleteApp(w http.ResponseWriter, r *http.Request) {
	p, ok := m.resolveConsumer(w, r, depthApp)
	if !ok {
		return
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		if err := tx.DeleteApp(r.Context(), p.app.ID); err != nil {
			return err
		}
		return auditConsumer(r.Context(), tx, r, "delete", "app", p.app.ID, "deleted app "+p.app.Name+" of consumer org "+p.corg.Name)
	}) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// --- credentials

func (m *Manager) listCredentials(w http.ResponseWriter, r *http.Request) {
	p, opts, ok := m.listFor(w, r, depthApp)
	if !ok {
		return
	}
	page, err := m.st.ListCredentials(r.Context(), p.app.ID, opts)
	consumerPage(w, m, page, err, func(c store.Credential) map[string]any { return m.credentialObject(p, c) })
}

// credentialRequest is the optional body of a credential create.
type credentialRequest struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Summary string `json:"summary"`
}

// createCredential adds a credential to the app; the answer (201) holds
// its client_secret, the only time it is shown.
func (m *Manager) createCredential(w http.ResponseWriter, r *http.Request) {
	var req credentialRequest
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, `the body must be JSON (all fields optional): {"name": "…", "title": "…", "summary": "…"}`)
			return
		}
	}
	p, ok := m.resolveConsumer(w, r, depthApp)
	if !ok {
		return
	}
	clientID, secret, hash, err := newClientCredential()
	if err != nil {
		m.internal(w, err)
		return
	}
	if req.Name == "" {
		req.Name = "credential-" + clientID[:8]
	}
	if req.Title == "" {
		req.Title = req.Name
	}
	var cred store.Credential
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		cred, err = tx.CreateCredential(r.Context(), store.Credential{AppID: p.app.ID, Name: req.Name, Title: req.Title,
			Summary: req.Summary, ClientID: clientID, SecretHash: hash})
		if err != nil {
			return err
		}
		return auditConsumer(r.Context(), tx, r, "create", "credential", cred.ID, "created credential "+cred.Name+" (client ID "+clientID+") of app "+p.app.Name)
	}) {
		return
	}
	writeJSON(w, http.StatusCreated, withSecret(m.credentialObject(p, cred), secret))
}

// appChild resolves the path down to an object of the path's app named
// by the path value param; on failure it has answered.
func appChild[T any](m *Manager, w http.ResponseWriter, r *http.Request, param string,
	lookup func(context.Context, store.App, string) (T, error)) (consumerPath, T, bool) {
	var zero T
	p, ok := m.resolveConsumer(w, r, depthApp)
	if !ok {
		return p, zero, false
	}
	v, err := lookup(r.Context(), p.app, r.PathValue(param))
	if err != nil {
		m.storeError(w, err)
		return p, zero, false
	}
	return p, v, true
}

// credentialFor resolves the path down to {cred}.
func (m *Manager) credentialFor(w http.ResponseWriter, r *http.Request) (consumerPath, store.Credential, bool) {
	return appChild(m, w, r, "cred", m.credential)
}

func (m *Manager) getCredential(w http.ResponseWriter, r *http.Request) {
	if p, c, ok := m.credentialFor(w, r); ok {
		writeJSON(w, http.StatusOK, m.credentialObject(p, c))
	}
}

func (m *Manager) deleteCredential(w http.ResponseWriter, r *http.Request) {
	p, c, ok := m.credentialFor(w, r)
	if !ok {
		return
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		if err := tx.DeleteCredential(r.Context(), c.ID); err != nil {
			return err
		}
		return auditConsumer(r.Context(), tx, r, "delete", "credential", c.ID, "deleted credential "+c.Name+" (client ID "+c.ClientID+") of app "+p.app.Name)
	}) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// resetCredential gives the credential a new secret (the client ID stays);
// the old secret stops working. The answer holds the new secret, once.
func (m *Manager) resetCredential(w http.ResponseWriter, r *http.Request) {
	p, c, ok := m.credentialFor(w, r)
	if !ok {
		return
	}
	_, secret, hash, err := newClientCredential()
	if err != nil {
		m.internal(w, err)
		return
	}
	c.SecretHash = hash
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		if c, err = tx.UpdateCredential(r.Context(), c); err != nil {
			return err
		}
		return auditConsumer(r.Context(), tx, r, "reset", "credential", c.ID, "reset the secret of credential "+c.Name+" (client ID "+c.ClientID+") of app "+p.app.Name)
	}) {
		return
	}
	writeJSON(w, http.StatusOK, withSecret(m.credentialObject(p, c), secret))
}

// verifyRequest is API Connect's verify-client-secret body; client_id is
// optional and, when given, must be the credential's.
type verifyRequest struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// verifyCredential answers whether a secret is the credential's, as API
// Connect's verify-client-secret: 200 {"verified": true} when it matches,
// 401 when it does not (the secret does not authenticate the client),
// 400 for a body without client_secret. A credential without a secret
// verifies nothing.
func (m *Manager) verifyCredential(w http.ResponseWriter, r *http.Request) {
	var req verifyRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil || req.ClientSecret == "" {
		writeError(w, http.StatusBadRequest, `the body must be JSON with the secret: {"client_secret": "…"}`)
		return
	}
	_, c, ok := m.credentialFor(w, r)
	if !ok {
		return
	}
	matches := false
	if c.SecretHash != "" && (req.ClientID == "" || req.ClientID == c.ClientID) {
		h, err := auth.ParseHash(c.SecretHash)
		if err != nil {
			m.internal(w, fmt.Errorf("credential %s: stored secret hash: %w", c.ID, err))
			return
		}
		matches = h.Verify(req.ClientSecret)
	}
	if !matches {
		writeError(w, http.StatusUnauthorized, "the client secret does not match credential "+c.Name)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"verified": true})
}

// --- subscriptions

func (m *Manager) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	p, opts, ok := m.listFor(w, r, depthApp)
	if !ok {
		return
	}
	page, err := m.st.ListSubscriptions(r.Context(), p.app.ID, opts)
	consumerPage(w, m, page, err, func(s store.Subscription) map[string]any { return m.subscriptionObject(p, s) })
}

// subscriptionRequest names the product by URL (…/products/{id}, as API
// Connect's product_url) or as "name:version", and one of its plans.
type subscriptionRequest struct {
	ProductURL string `json:"product_url"`
	Product    string `json:"product"`
	Plan       string `json:"plan"`
	Name       string `json:"name"`
	Title      string `json:"title"`
	Summary    string `json:"summary"`
}

var errBadSubscription = errors.New(`the body must be JSON naming a product and a plan: {"product_url": "…/products/{id}", "plan": "default-plan"} or {"product": "name:version", "plan": "default-plan"}`)

// product finds the product a subscription names, in p's catalog.
func (m *Manager) productFor(ctx context.Context, p consumerPath, req subscriptionRequest) (store.Product, error) {
	if req.ProductURL != "" {
		id := path.Base(strings.TrimRight(req.ProductURL, "/"))
		if strings.Contains(id, ":") { // …/products/name:version
			return m.productFor(ctx, p, subscriptionRequest{Product: id})
		}
		prod, err := m.st.GetProduct(ctx, id)
		if err == nil && prod.CatalogID != p.cat.ID {
			err = store.ErrNotFound
		}
		if errors.Is(err, store.ErrNotFound) {
			return prod, notFoundIn("product", req.ProductURL, "catalog "+p.cat.Name)
		}
		return prod, err
	}
	name, version, ok := strings.Cut(req.Product, ":")
	if !ok || name == "" || version == "" {
		return store.Product{}, fmt.Errorf("product %q: name it as name:version: %w", req.Product, store.ErrInvalid)
	}
	prod, err := m.st.GetProductByName(ctx, p.cat.ID, name, version)
	if errors.Is(err, store.ErrNotFound) {
		return prod, notFoundIn("product", req.Product, "catalog "+p.cat.Name)
	}
	return prod, err
}

// subscriptionPlan finds the named plan in the product's document.
func subscriptionPlan(prod store.Product, name string) (*apidef.Plan, error) {
	doc, err := apidef.Parse(prod.Name+".yaml", prod.Document)
	if err != nil {
		return nil, fmt.Errorf("product %s:%s: its document does not parse: %v", prod.Name, prod.Version, err)
	}
	def, _ := apidef.LoadProduct(doc) // published documents were checked; only the plans matter here
	var names []string
	for _, pl := range def.Plans {
		if pl.Name == name {
			return pl, nil
		}
		names = append(names, pl.Name)
	}
	return nil, fmt.Errorf("product %s:%s has no plan %q; its plans: %s: %w", prod.Name, prod.Version, name, strings.Join(names, ", "), store.ErrInvalid)
}

// createSubscription subscribes the app to a plan of a published product
// of its catalog: "pending" when the plan needs approval, else "enabled".
func (m *Manager) createSubscription(w http.ResponseWriter, r *http.Request) {
	var req subscriptionRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil ||
		(req.ProductURL == "" && req.Product == "") || req.Plan == "" {
		writeError(w, http.StatusBadRequest, errBadSubscription.Error())
		return
	}
	p, ok := m.resolveConsumer(w, r, depthApp)
	if !ok {
		return
	}
	prod, err := m.productFor(r.Context(), p, req)
	if err != nil {
		m.storeError(w, err)
		return
	}
	if prod.State != store.ProductPublished {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("product %s:%s is %s: only a published product takes new subscriptions", prod.Name, prod.Version, prod.State))
		return
	}
	plan, err := subscriptionPlan(prod, req.Plan)
	if err != nil {
		if errors.Is(err, store.ErrInvalid) {
			writeError(w, http.StatusBadRequest, err.Error())
		} else {
			m.internal(w, err)
		}
		return
	}
	state := store.SubscriptionEnabled
	if plan.Approval {
		state = store.SubscriptionPending
	}
	var sub store.Subscription
	if !m.commit(w, r, func(tx store.Tx) error {
		var err error
		sub, err = tx.CreateSubscription(r.Context(), store.Subscription{AppID: p.app.ID, ProductID: prod.ID, Name: req.Name,
			Title: req.Title, Summary: req.Summary, Plan: plan.Name, State: state})
		if err != nil {
			return err
		}
		return auditConsumer(r.Context(), tx, r, "create", "subscription", sub.ID, "subscribed app "+p.app.Name+" to "+prod.Name+":"+prod.Version+" plan "+plan.Name+" ("+string(state)+")")
	}) {
		return
	}
	writeJSON(w, http.StatusCreated, m.subscriptionObject(p, sub))
}

// subscriptionFor resolves the path down to {sub}.
func (m *Manager) subscriptionFor(w http.ResponseWriter, r *http.Request) (consumerPath, store.Subscription, bool) {
	return appChild(m, w, r, "sub", m.subscription)
}

func (m *Manager) getSubscription(w http.ResponseWriter, r *http.Request) {
	if p, s, ok := m.subscriptionFor(w, r); ok {
		writeJSON(w, http.StatusOK, m.subscriptionObject(p, s))
	}
}

func (m *Manager) deleteSubscription(w http.ResponseWriter, r *http.Request) {
	p, s, ok := m.subscriptionFor(w, r)
	if !ok {
		return
	}
	if !m.commit(w, r, func(tx store.Tx) error {
		if err := tx.DeleteSubscription(r.Context(), s.ID); err != nil {
			return err
		}
		return auditConsumer(r.Context(), tx, r, "delete", "subscription", s.ID, "deleted subscription "+s.Name+" (plan "+s.Plan+") of app "+p.app.Name)
	}) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// consumerMember allows what rule allows, and also the owner of the
// consumer org in the path ({corg}): consumer-org members manage their own
// apps, credentials and subscriptions without a provider-org role.
func consumerMember(allow rule) rule {
	return func(m *Manager, r *http.Request, c caller) (bool, error) {
		if ok, err := allow(m, r, c); ok || err != nil {
			return ok, err
		}
		_, cat, err := m.catalogIn(r.Context(), r.PathValue("org"), r.PathValue("catalog"))
		if err != nil {
			return false, err
		}
		co, err := m.consumerOrg(r.Context(), cat, r.PathValue("corg"))
		if err != nil {
			return false, err
		}
		return co.OwnerID == c.user.ID, nil
	}
}
