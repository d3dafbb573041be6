package store

import "time"

// The objects below mirror API Connect's management model. IDs are UUID
// strings the store assigns on create; names are URL-safe (they appear in
// REST paths) and unique within their parent. Timestamps are UTC with
// microsecond precision, the finest both engines keep. Parent IDs cannot
// change after create: an object never moves to another parent.

// ProviderOrg is an API provider organisation: the owner of drafts,
// catalogs and gateway services.
type ProviderOrg struct {
	ID, Name, Title, Summary string
	OwnerID                  string // a User ID
	CreatedAt, UpdatedAt     time.Time
}

// Membership gives a user a role in a provider org. Role is the caller's
// vocabulary (for example "administrator", "developer"); the store only
// requires it to be set.
type Membership struct {
	OrgID, UserID        string
	Role                 string
	CreatedAt, UpdatedAt time.Time
}

// Catalog is a publication target inside a provider org. The caller creates
// the "sandbox" catalog with each org; the store does not.
type Catalog struct {
	ID, OrgID, Name, Title, Summary string
	CreatedAt, UpdatedAt            time.Time
}

// DraftAPI is an API under development. Document is the OpenAPI file as
// uploaded (YAML or JSON), kept byte for byte.
type DraftAPI struct {
	ID, OrgID, Name, Version, Title, Summary string
	Document                                 []byte
	CreatedAt, UpdatedAt                     time.Time
}

// DraftProduct is a product under development; Document is the
// "product: 1.0.0" file as uploaded.
type DraftProduct struct {
	ID, OrgID, Name, Version, Title, Summary string
	Document                                 []byte
	CreatedAt, UpdatedAt                     time.Time
}

// ProductState is where a published product is in its lifecycle.
type ProductState string

// Product lifecycle states (API Connect's, apic.md §4.2).
const (
	ProductStaged     ProductState = "staged"
	ProductPublished  ProductState = "published"
	ProductDeprecated ProductState = "deprecated"
	ProductRetired    ProductState = "retired"
	ProductArchived   ProductState = "archived"
)

// Product is a product published (or staged) into a catalog, with the APIs
// it was published with. Publishing copies documents, so later draft edits
// never change what a catalog serves.
type Product struct {
	ID, CatalogID, Name, Version, Title, Summary string
	State                                        ProductState // default staged
	Document                                     []byte
	APIs                                         []ProductAPI // sorted by name, version
	CreatedAt, UpdatedAt                         time.Time
}

// ProductAPI is one API document published with a product; name+version is
// unique within the product.
type ProductAPI struct {
	Name, Version string
	Document      []byte
}

// ConsumerOrg is an organisation of API consumers in one catalog.
type ConsumerOrg struct {
	ID, CatalogID, Name, Title, Summary string
	OwnerID                             string // a User ID
	CreatedAt, UpdatedAt                time.Time
}

// AppState says whether the gateway accepts an app's credentials.
type AppState string

// App states.
const (
	AppActive   AppState = "active"
	AppDisabled AppState = "disabled"
)

// AppLifecycle is API Connect's app lifecycle stage.
type AppLifecycle string

// App lifecycle stages.
const (
	AppDevelopment AppLifecycle = "development"
	AppProduction  AppLifecycle = "production"
)

// App is a consumer application.
type App struct {
	ID, ConsumerOrgID, Name, Title, Summary string
	State                                   AppState     // default active
	Lifecycle                               AppLifecycle // default development
	CreatedAt, UpdatedAt                    time.Time
}

// Credential is a client ID (unique in its catalog) with the argon2id hash
// of its secret. The store never sees a clear secret: SecretHash must be a
// PHC string ("$argon2id$…", see auth.HashSecret) or empty for a credential
// without a secret.
type Credential struct {
	ID, AppID, Name, Title, Summary string
	CatalogID                       string // set by the store from the app
	ClientID                        string
	SecretHash                      string
	CreatedAt, UpdatedAt            time.Time
}

// SubscriptionState is whether a subscription lets calls through.
type SubscriptionState string

// Subscription states; pending waits for approval.
const (
	SubscriptionEnabled  SubscriptionState = "enabled"
	SubscriptionPending  SubscriptionState = "pending"
	SubscriptionDisabled SubscriptionState = "disabled"
)

// Subscription ties an app to one plan of a product in the same catalog.
// An app subscribes to a product at most once. Name defaults to the ID.
type Subscription struct {
	ID, AppID, ProductID, Name, Title, Summary string
	Plan                                       string
	State                                      SubscriptionState // default enabled
	CreatedAt, UpdatedAt                       time.Time
}

// User is a person or robot that signs in to the manager. Its name may
// also hold '@' (an e-mail address). PasswordHash is
// a PHC or bcrypt string made by the caller, or empty for a user who signs
// in some other way (API key, external identity provider).
type User struct {
	ID, Name, Title, Summary string
	Email                    string
	PasswordHash             string
	CloudRole                string // the caller's vocabulary; empty for none
	CreatedAt, UpdatedAt     time.Time
}

// APIKey lets a user obtain tokens without a password. The store keeps only
// KeyHash, the lowercase hex SHA-256 of the key, computed by the caller.
type APIKey struct {
	ID, UserID  string
	KeyHash     string
	Description string
	CreatedAt   time.Time
	LastUsedAt  time.Time // zero until TouchAPIKey
}

// Token records an issued access token so that it can be revoked before it
// expires. ID is the token's "jti".
type Token struct {
	ID, UserID string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time // zero while valid
}

// GatewayService is a gateway (cluster) the manager pushes bundles to over
// mutual TLS. ClientKeyPEM is encrypted at rest with the key given to Open
// and returned decrypted: never send it back out of the manager.
type GatewayService struct {
	ID, OrgID, Name, Title, Summary string
	EndpointURL                     string // management endpoint (push)
	APIEndpointBase                 string // where consumers call APIs
	ClientCertPEM                   []byte
	ClientKeyPEM                    []byte
	CABundlePEM                     []byte
	// CatalogDefault makes every catalog created later publish to it.
	CatalogDefault       bool
	CreatedAt, UpdatedAt time.Time
}

// Delivery is what the manager has delivered of one catalog to one gateway
// service. A catalog that no longer uses the gateway service (unconfigured
// or deleted) keeps its row, with Configured false, until the gateway has
// been told to stop serving it.
type Delivery struct {
	GatewayServiceID, CatalogID string
	// OrgName and CatalogName are the catalog's names now, or, when it is
	// no longer configured, the names it was last pushed under.
	OrgName, CatalogName string
	Configured           bool
	CatalogVersion       int64 // -1 when not configured
	// PushedOrg and PushedCatalog are the names the gateway serves the
	// catalog under ("" before the first push); a rename changes them.
	PushedOrg, PushedCatalog string
	PushedVersion            int64 // what the gateway holds; -1 before the first push
	FailedVersion            int64 // the version of the last failed attempt, or -1
	Failures                 int   // consecutive failed attempts
	// Refused says the last attempt reached the gateway and it refused
	// the bundle (its problems are in LastError): trying again will not
	// help until the catalog or the gateway changes.
	Refused       bool
	LastError     string
	LastAttemptAt time.Time
	LastSuccessAt time.Time
}

// Outstanding is the number of catalog changes the gateway has not got:
// each committed change bumps the catalog version by one.
func (d Delivery) Outstanding() int64 {
	switch {
	case !d.Configured:
		return 1 // the removal
	case d.PushedVersion < 0:
		return d.CatalogVersion + 1
	case d.PushedVersion >= d.CatalogVersion:
		return 0
	}
	return d.CatalogVersion - d.PushedVersion
}

// AuditEntry records who changed what. Entries are append-only: the store
// has no method to change or delete one, and the database refuses it too.
// UserID is not a foreign key, so the trail outlives deleted users.
type AuditEntry struct {
	ID         int64 // increasing in append order
	At         time.Time
	UserID     string
	Action     string // e.g. "create", "publish"
	ObjectType string // e.g. "product"
	ObjectID   string
	Summary    string
}

// AuditFilter selects audit entries; empty fields match everything.
type AuditFilter struct {
	UserID, ObjectType, ObjectID string
}

// ListOptions pages a list. Limit 0 means no limit: a caller serving HTTP
// should always set one.
type ListOptions struct {
	Limit, Offset int
}

// Page is one page of a list and the number of items in the whole list,
// API Connect's {"total_results": N, "results": […]}.
type Page[T any] struct {
	Items []T // never nil
	Total int
}
