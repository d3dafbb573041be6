package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path/filepath"
	"strings"
)

// --- tokens

// Token exchanges an API key or a user's password for an access token
// (POST /api/token). It does not change the client's token.
func (c *Client) Token(ctx context.Context, req TokenRequest) (Token, error) {
	if req.GrantType == "" && req.APIKey != "" {
		req.GrantType = "api_key"
	}
	if req.GrantType == "" && req.Username != "" {
		req.GrantType = "password"
	}
	body, err := jsonBody(req)
	if err != nil {
		return Token{}, err
	}
	var tok Token
	err = c.do(ctx, request{method: http.MethodPost, path: path("token"), body: body, noAuth: true}, &tok)
	return tok, err
}

// LoginAPIKey gets a token for the API key and sends it from then on.
func (c *Client) LoginAPIKey(ctx context.Context, key string) error {
	return c.login(ctx, TokenRequest{GrantType: "api_key", APIKey: strings.TrimSpace(key)})
}

// LoginPassword gets a token for the user's password and sends it from
// then on.
func (c *Client) LoginPassword(ctx context.Context, username, password string) error {
	return c.login(ctx, TokenRequest{GrantType: "password", Username: username, Password: password})
}

func (c *Client) login(ctx context.Context, req TokenRequest) error {
	tok, err := c.Token(ctx, req)
	if err != nil {
		return err
	}
	c.SetToken(tok.AccessToken)
	return nil
}

// Logout revokes the client's token (DELETE /api/token) and forgets it.
func (c *Client) Logout(ctx context.Context) error {
	if err := c.del(ctx, path("token")); err != nil {
		return err
	}
	c.SetToken("")
	return nil
}

// Me is the caller.
func (c *Client) Me(ctx context.Context) (User, error) {
	var u User
	err := c.get(ctx, path("me"), nil, &u)
	return u, err
}

// --- provider orgs and catalogs

// Orgs lists the provider orgs the caller may see: all for a cloud admin,
// else those the caller is a member of.
func (c *Client) Orgs(ctx context.Context, o ListOptions) ([]Org, int, error) {
	return list[Org](ctx, c, path("orgs"), o)
}

// Org gets a provider org by name or ID.
func (c *Client) Org(ctx context.Context, org string) (Org, error) {
	var out Org
	err := c.get(ctx, path("orgs", org), nil, &out)
	return out, err
}

// CreateOrg makes a provider org owned by the caller, with its sandbox
// catalog (cloud admins only).
func (c *Client) CreateOrg(ctx context.Context, req CreateRequest) (Org, error) {
	var out Org
	err := c.send(ctx, http.MethodPost, path("orgs"), req, &out)
	return out, err
}

// Catalogs lists an org's catalogs.
func (c *Client) Catalogs(ctx context.Context, org string, o ListOptions) ([]Catalog, int, error) {
	return list[Catalog](ctx, c, path("orgs", org, "catalogs"), o)
}

// Catalog gets one catalog of an org, by name or ID.
func (c *Client) Catalog(ctx context.Context, org, catalog string) (Catalog, error) {
	var out Catalog
	err := c.get(ctx, path("catalogs", org, catalog), nil, &out)
	return out, err
}

// CreateCatalog makes a catalog in an org.
func (c *Client) CreateCatalog(ctx context.Context, org string, req CreateRequest) (Catalog, error) {
	var out Catalog
	err := c.send(ctx, http.MethodPost, path("orgs", org, "catalogs"), req, &out)
	return out, err
}

// --- drafts

// draftWire is a draft as the manager answers it, with its document
// under the kind's field.
type draftWire struct {
	Draft
	DraftAPI     json.RawMessage `json:"draft_api"`
	DraftProduct json.RawMessage `json:"draft_product"`
}

func (w draftWire) draft() Draft {
	d := w.Draft
	switch {
	case len(w.DraftAPI) > 0 && string(w.DraftAPI) != "null":
		d.Document = w.DraftAPI
	case len(w.DraftProduct) > 0 && string(w.DraftProduct) != "null":
		d.Document = w.DraftProduct
	}
	if len(d.Document) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, d.Document) == nil {
			d.Document = buf.Bytes()
		}
	}
	return d
}

// draftKind is "draft-apis" or "draft-products" with its document field.
type draftKind struct{ coll, field string }

var (
	draftAPIs     = draftKind{"draft-apis", "draft_api"}
	draftProducts = draftKind{"draft-products", "draft_product"}
)

// documentType is the content type of a document: JSON when it looks
// like a JSON object, else YAML.
func documentType(doc []byte) string {
	if t := bytes.TrimSpace(doc); len(t) > 0 && t[0] == '{' && json.Valid(t) {
		return "application/json"
	}
	return "application/yaml"
}

func (c *Client) listDrafts(ctx context.Context, k draftKind, org string, o ListOptions) ([]Draft, int, error) {
	ws, total, err := list[draftWire](ctx, c, path("orgs", org, "drafts", k.coll), o)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Draft, len(ws))
	for i, w := range ws {
		out[i] = w.draft()
	}
	return out, total, nil
}

func (c *Client) getDraft(ctx context.Context, k draftKind, org, ref string) (Draft, error) {
	var w draftWire
	err := c.get(ctx, path("orgs", org, "drafts", k.coll, ref), nil, &w)
	return w.draft(), err
}

func (c *Client) putDraft(ctx context.Context, k draftKind, method, p string, doc []byte) (Draft, error) {
	if doc == nil {
		doc = []byte{}
	}
	var w draftWire
	err := c.do(ctx, request{method: method, path: p, query: url.Values{"fields": {"add(" + k.field + ")"}},
		body: doc, contentType: documentType(doc)}, &w)
	return w.draft(), err
}

// DraftAPIs lists an org's draft APIs (without their documents).
func (c *Client) DraftAPIs(ctx context.Context, org string, o ListOptions) ([]Draft, int, error) {
	return c.listDrafts(ctx, draftAPIs, org, o)
}

// DraftAPI gets a draft API, by ID or name:version, with its document.
func (c *Client) DraftAPI(ctx context.Context, org, ref string) (Draft, error) {
	return c.getDraft(ctx, draftAPIs, org, ref)
}

// CreateDraftAPI uploads an API document (OpenAPI YAML or JSON, as in a
// file, or JSON wrapped as {"draft_api": …}). A document that would not
// load on the gateway is a 400 *Error with one message per problem.
func (c *Client) CreateDraftAPI(ctx context.Context, org string, doc []byte) (Draft, error) {
	return c.putDraft(ctx, draftAPIs, http.MethodPost, path("orgs", org, "drafts", draftAPIs.coll), doc)
}

// UpdateDraftAPI replaces a draft API's document; its name and version
// follow the new document.
func (c *Client) UpdateDraftAPI(ctx context.Context, org, ref string, doc []byte) (Draft, error) {
	return c.putDraft(ctx, draftAPIs, http.MethodPatch, path("orgs", org, "drafts", draftAPIs.coll, ref), doc)
}

// DeleteDraftAPI deletes a draft API, by ID or name:version.
func (c *Client) DeleteDraftAPI(ctx context.Context, org, ref string) error {
	return c.del(ctx, path("orgs", org, "drafts", draftAPIs.coll, ref))
}

// DraftProducts lists an org's draft products (without their documents).
func (c *Client) DraftProducts(ctx context.Context, org string, o ListOptions) ([]Draft, int, error) {
	return c.listDrafts(ctx, draftProducts, org, o)
}

// DraftProduct gets a draft product, by ID or name:version, with its
// document.
func (c *Client) DraftProduct(ctx context.Context, org, ref string) (Draft, error) {
	return c.getDraft(ctx, draftProducts, org, ref)
}

// CreateDraftProduct uploads a product document (YAML or JSON).
func (c *Client) CreateDraftProduct(ctx context.Context, org string, doc []byte) (Draft, error) {
	return c.putDraft(ctx, draftProducts, http.MethodPost, path("orgs", org, "drafts", draftProducts.coll), doc)
}

// UpdateDraftProduct replaces a draft product's document.
func (c *Client) UpdateDraftProduct(ctx context.Context, org, ref string, doc []byte) (Draft, error) {
	return c.putDraft(ctx, draftProducts, http.MethodPatch, path("orgs", org, "drafts", draftProducts.coll, ref), doc)
}

// DeleteDraftProduct deletes a draft product, by ID or name:version.
func (c *Client) DeleteDraftProduct(ctx context.Context, org, ref string) error {
	return c.del(ctx, path("orgs", org, "drafts", draftProducts.coll, ref))
}

// --- products

// Publish publishes a product with its APIs to a catalog: a multipart
// form with the part "product" and one part "openapi" per API. The
// product's apis: entries name the APIs by $ref to a File's Name or by
// name:version. Problems in the documents are a 400 *Error with one
// message each; nothing is stored then.
func (c *Client) Publish(ctx context.Context, org, catalog string, product File, apis ...File) (Product, error) {
	return c.publish(ctx, org, catalog, false, product, apis)
}

// Stage is Publish with the product stored staged (not yet callable).
func (c *Client) Stage(ctx context.Context, org, catalog string, product File, apis ...File) (Product, error) {
	return c.publish(ctx, org, catalog, true, product, apis)
}

func (c *Client) publish(ctx context.Context, org, catalog string, stage bool, product File, apis []File) (Product, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	add := func(field string, f File, def string) error {
		name := filepath.Base(f.Name)
		if f.Name == "" {
			name = def
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, name))
		if documentType(f.Data) == "application/json" {
			h.Set("Content-Type", "application/json")
		} else {
			h.Set("Content-Type", "application/yaml")
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		_, err = w.Write(f.Data)
		return err
	}
	if product.Data == nil {
		return Product{}, errors.New("publish: the product document is empty")
	}
	if err := add("product", product, "product.yaml"); err != nil {
		return Product{}, err
	}
	for i, a := range apis {
		if err := add("openapi", a, fmt.Sprintf("api-%d.yaml", i+1)); err != nil {
			return Product{}, err
		}
	}
	if err := mw.Close(); err != nil {
		return Product{}, err
	}
	var q url.Values
	if stage {
		q = url.Values{"stage": {"true"}}
	}
	var out Product
	err := c.do(ctx, request{method: http.MethodPost, path: path("catalogs", org, catalog, "publish"), query: q,
		body: buf.Bytes(), contentType: mw.FormDataContentType()}, &out)
	return out, err
}

// Products lists a catalog's products.
func (c *Client) Products(ctx context.Context, org, catalog string, o ListOptions) ([]Product, int, error) {
	return list[Product](ctx, c, path("catalogs", org, catalog, "products"), o)
}

// Product gets a product of a catalog by ID or name:version.
func (c *Client) Product(ctx context.Context, org, catalog, ref string) (Product, error) {
	var out Product
	err := c.get(ctx, path("catalogs", org, catalog, "products", ref), nil, &out)
	return out, err
}

// UpdateProduct changes a product's state, title or summary.
func (c *Client) UpdateProduct(ctx context.Context, org, catalog, ref string, u ProductUpdate) (Product, error) {
	var out Product
	err := c.send(ctx, http.MethodPatch, path("catalogs", org, catalog, "products", ref), u, &out)
	return out, err
}

// SetProductState moves a product along its lifecycle (ProductDeprecated,
// ProductRetired, …); a move the lifecycle forbids is a 400 *Error.
func (c *Client) SetProductState(ctx context.Context, org, catalog, ref, state string) (Product, error) {
	return c.UpdateProduct(ctx, org, catalog, ref, ProductUpdate{State: state})
}

// DeleteProduct deletes a staged, retired or archived product that has
// no subscriptions.
func (c *Client) DeleteProduct(ctx context.Context, org, catalog, ref string) error {
	return c.del(ctx, path("catalogs", org, catalog, "products", ref))
}

// --- consumer orgs

// ConsumerOrgs lists a catalog's consumer orgs.
func (c *Client) ConsumerOrgs(ctx context.Context, org, catalog string, o ListOptions) ([]ConsumerOrg, int, error) {
	return list[ConsumerOrg](ctx, c, path("catalogs", org, catalog, "consumer-orgs"), o)
}

// ConsumerOrg gets a consumer org by name or ID.
func (c *Client) ConsumerOrg(ctx context.Context, org, catalog, corg string) (ConsumerOrg, error) {
	var out ConsumerOrg
	err := c.get(ctx, path("consumer-orgs", org, catalog, corg), nil, &out)
	return out, err
}

// CreateConsumerOrg makes a consumer org in a catalog, owned by the caller.
func (c *Client) CreateConsumerOrg(ctx context.Context, org, catalog string, req CreateRequest) (ConsumerOrg, error) {
	var out ConsumerOrg
	err := c.send(ctx, http.MethodPost, path("catalogs", org, catalog, "consumer-orgs"), req, &out)
	return out, err
}

// DeleteConsumerOrg deletes a consumer org with its apps, credentials and
// subscriptions.
func (c *Client) DeleteConsumerOrg(ctx context.Context, org, catalog, corg string) error {
	return c.del(ctx, path("consumer-orgs", org, catalog, corg))
}

// --- apps

func (a AppRef) path(more ...string) string {
	return path(append([]string{"apps", a.Org, a.Catalog, a.ConsumerOrg, a.App}, more...)...)
}

// Apps lists a consumer org's apps.
func (c *Client) Apps(ctx context.Context, org, catalog, corg string, o ListOptions) ([]App, int, error) {
	return list[App](ctx, c, path("consumer-orgs", org, catalog, corg, "apps"), o)
}

// CreateApp makes an app with its first credential. The answer's
// ClientID and ClientSecret (and Credentials) are that credential's: the
// secret is never shown again.
func (c *Client) CreateApp(ctx context.Context, org, catalog, corg string, req CreateRequest) (App, error) {
	var out App
	err := c.send(ctx, http.MethodPost, path("consumer-orgs", org, catalog, corg, "apps"), req, &out)
	return out, err
}

// App gets an app.
func (c *Client) App(ctx context.Context, a AppRef) (App, error) {
	var out App
	err := c.get(ctx, a.path(), nil, &out)
	return out, err
}

// UpdateApp changes an app's title, summary or state (AppActive,
// AppDisabled).
func (c *Client) UpdateApp(ctx context.Context, a AppRef, u AppUpdate) (App, error) {
	var out App
	err := c.send(ctx, http.MethodPatch, a.path(), u, &out)
	return out, err
}

// DeleteApp deletes an app with its credentials and subscriptions.
func (c *Client) DeleteApp(ctx context.Context, a AppRef) error {
	return c.del(ctx, a.path())
}

// --- credentials

// Credentials lists an app's credentials (client IDs, never secrets).
func (c *Client) Credentials(ctx context.Context, a AppRef, o ListOptions) ([]Credential, int, error) {
	return list[Credential](ctx, c, a.path("credentials"), o)
}

// Credential gets a credential by ID or name.
func (c *Client) Credential(ctx context.Context, a AppRef, cred string) (Credential, error) {
	var out Credential
	err := c.get(ctx, a.path("credentials", cred), nil, &out)
	return out, err
}

// CreateCredential adds a credential to an app (all of req optional); the
// answer holds its ClientSecret, the only time it is shown.
func (c *Client) CreateCredential(ctx context.Context, a AppRef, req CreateRequest) (Credential, error) {
	var out Credential
	err := c.send(ctx, http.MethodPost, a.path("credentials"), req, &out)
	return out, err
}

// ResetCredential gives a credential a new secret (the client ID stays),
// returned once in ClientSecret.
func (c *Client) ResetCredential(ctx context.Context, a AppRef, cred string) (Credential, error) {
	var out Credential
	err := c.send(ctx, http.MethodPost, a.path("credentials", cred, "reset"), nil, &out)
	return out, err
}

// VerifyCredential reports whether secret is the credential's (and, when
// clientID is not "", the client ID too). A secret that does not match is
// (false, nil); other failures are errors.
func (c *Client) VerifyCredential(ctx context.Context, a AppRef, cred, clientID, secret string) (bool, error) {
	body, err := jsonBody(map[string]string{"client_id": clientID, "client_secret": secret})
	if err != nil {
		return false, err
	}
	var out struct {
		Verified bool `json:"verified"`
	}
	hdr, err := c.doHeader(ctx, request{method: http.MethodPost, path: a.path("credentials", cred, "verify"), body: body}, &out)
	// 401 without a WWW-Authenticate challenge is the secret not
	// matching; with one, the caller's token was refused.
	if e, ok := asError(err); ok && e.Status == http.StatusUnauthorized && hdr.Get("WWW-Authenticate") == "" {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return out.Verified, nil
}

// DeleteCredential deletes a credential.
func (c *Client) DeleteCredential(ctx context.Context, a AppRef, cred string) error {
	return c.del(ctx, a.path("credentials", cred))
}

// --- subscriptions

// Subscriptions lists an app's subscriptions.
func (c *Client) Subscriptions(ctx context.Context, a AppRef, o ListOptions) ([]Subscription, int, error) {
	return list[Subscription](ctx, c, a.path("subscriptions"), o)
}

// Subscription gets a subscription by ID or name.
func (c *Client) Subscription(ctx context.Context, a AppRef, sub string) (Subscription, error) {
	var out Subscription
	err := c.get(ctx, a.path("subscriptions", sub), nil, &out)
	return out, err
}

// CreateSubscription subscribes an app to a plan of a published product
// of its catalog.
func (c *Client) CreateSubscription(ctx context.Context, a AppRef, req SubscriptionRequest) (Subscription, error) {
	var out Subscription
	err := c.send(ctx, http.MethodPost, a.path("subscriptions"), req, &out)
	return out, err
}

// Subscribe is CreateSubscription to product ("name:version") and plan.
func (c *Client) Subscribe(ctx context.Context, a AppRef, product, plan string) (Subscription, error) {
	return c.CreateSubscription(ctx, a, SubscriptionRequest{Product: product, Plan: plan})
}

// DeleteSubscription unsubscribes.
func (c *Client) DeleteSubscription(ctx context.Context, a AppRef, sub string) error {
	return c.del(ctx, a.path("subscriptions", sub))
}
