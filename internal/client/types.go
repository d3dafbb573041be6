package client

import (
	"encoding/json"
	"time"
)

// Meta holds the fields every object of the manager has.
type Meta struct {
	Type       string    `json:"type"`
	APIVersion string    `json:"api_version"`
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Title      string    `json:"title"`
	Summary    string    `json:"summary"`
	State      string    `json:"state"`
	URL        string    `json:"url"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// TokenRequest is the body of POST /api/token: grant_type "api_key" with
// APIKey, "password" with Username and Password, "client_credentials"
// with ClientID and ClientSecret, or "refresh_token" with RefreshToken.
type TokenRequest struct {
	GrantType    string `json:"grant_type"`
	APIKey       string `json:"api_key,omitempty"`
	Username     string `json:"username,omitempty"`
	Password     string `json:"password,omitempty"`
	Realm        string `json:"realm,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// Token is an access token. Logins by API key or password, and refreshes,
// also carry a refresh token, which works once (Refresh rotates it).
type Token struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"` // seconds
	RefreshToken     string `json:"refresh_token,omitempty"`
	RefreshExpiresIn int    `json:"refresh_expires_in,omitempty"` // seconds
}

// User is the caller, as GET /api/me answers.
type User struct {
	Meta
	Email string `json:"email"`
}

// CreateRequest names a new org, catalog, consumer org, app or credential.
// Title defaults to Name.
type CreateRequest struct {
	Name    string `json:"name,omitempty"`
	Title   string `json:"title,omitempty"`
	Summary string `json:"summary,omitempty"`
}

// Org is a provider org.
type Org struct {
	Meta
	OrgType  string `json:"org_type"`
	OwnerURL string `json:"owner_url"`
}

// Catalog is a catalog of a provider org.
type Catalog struct {
	Meta
	OrgURL string `json:"org_url"`
}

// Draft is a draft API or a draft product. Document is the draft's
// document as JSON; only the get, and creates and updates that ask for it,
// carry it.
type Draft struct {
	Meta
	Version  string          `json:"version"`
	OrgURL   string          `json:"org_url"`
	Document json.RawMessage `json:"-"`
}

// Ref is the draft's name:version.
func (d Draft) Ref() string { return d.Name + ":" + d.Version }

// Product is a product published (or staged) in a catalog.
type Product struct {
	Meta
	Version    string   `json:"version"`
	APIs       []string `json:"apis"` // name:version each
	CatalogURL string   `json:"catalog_url"`
	OrgURL     string   `json:"org_url"`
}

// Ref is the product's name:version.
func (p Product) Ref() string { return p.Name + ":" + p.Version }

// Product states, as SetProductState takes them.
const (
	ProductStaged     = "staged"
	ProductPublished  = "published"
	ProductDeprecated = "deprecated"
	ProductRetired    = "retired"
	ProductArchived   = "archived"
)

// ProductUpdate changes a product: its state (when not ""), title or
// summary (when not nil).
type ProductUpdate struct {
	State   string  `json:"state,omitempty"`
	Title   *string `json:"title,omitempty"`
	Summary *string `json:"summary,omitempty"`
}

// File is a document to publish: its file name (as the product's apis:
// $ref entries name it) and its bytes, YAML or JSON.
type File struct {
	Name string
	Data []byte
}

// ConsumerOrg is a consumer org of a catalog.
type ConsumerOrg struct {
	Meta
	OwnerURL   string `json:"owner_url"`
	OrgURL     string `json:"org_url"`
	CatalogURL string `json:"catalog_url"`
}

// App is an app of a consumer org. ClientID, ClientSecret and Credentials
// are set only in CreateApp's answer: the secret is shown once.
type App struct {
	Meta
	LifecycleState string       `json:"lifecycle_state"`
	OrgURL         string       `json:"org_url"`
	CatalogURL     string       `json:"catalog_url"`
	ConsumerOrgURL string       `json:"consumer_org_url"`
	ClientID       string       `json:"client_id,omitempty"`
	ClientSecret   string       `json:"client_secret,omitempty"`
	Credentials    []Credential `json:"app_credentials,omitempty"`
}

// App states, as AppUpdate takes them.
const (
	AppActive   = "active"
	AppDisabled = "disabled"
)

// AppUpdate changes an app: fields left nil stay.
type AppUpdate struct {
	Title   *string `json:"title,omitempty"`
	Summary *string `json:"summary,omitempty"`
	State   *string `json:"state,omitempty"`
}

// AppRef names an app: its provider org, catalog, consumer org and the
// app itself, each by name or ID.
type AppRef struct {
	Org, Catalog, ConsumerOrg, App string
}

// Credential is a client ID of an app. ClientSecret is set only in the
// answers of CreateCredential and ResetCredential.
type Credential struct {
	Meta
	ClientID       string `json:"client_id"`
	ClientSecret   string `json:"client_secret,omitempty"`
	AppURL         string `json:"app_url"`
	OrgURL         string `json:"org_url"`
	CatalogURL     string `json:"catalog_url"`
	ConsumerOrgURL string `json:"consumer_org_url"`
}

// SubscriptionRequest subscribes an app to a plan of a product, named
// as "name:version" (Product) or by its URL (ProductURL).
type SubscriptionRequest struct {
	Product    string `json:"product,omitempty"`
	ProductURL string `json:"product_url,omitempty"`
	Plan       string `json:"plan"`
	Name       string `json:"name,omitempty"`
	Title      string `json:"title,omitempty"`
	Summary    string `json:"summary,omitempty"`
}

// Subscription is an app's subscription to a product's plan; State is
// "enabled", or "pending" when the plan needs approval.
type Subscription struct {
	Meta
	Plan           string `json:"plan"`
	ProductURL     string `json:"product_url"`
	AppURL         string `json:"app_url"`
	OrgURL         string `json:"org_url"`
	CatalogURL     string `json:"catalog_url"`
	ConsumerOrgURL string `json:"consumer_org_url"`
}
