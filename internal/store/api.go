package store

import (
	"context"
	"time"
)

// Reader reads objects. Get* fail with ErrNotFound; List* order by name
// (then version) unless noted, and fail with ErrInvalid for a negative
// limit or offset.
type Reader interface {
	GetProviderOrg(ctx context.Context, id string) (ProviderOrg, error)
	GetProviderOrgByName(ctx context.Context, name string) (ProviderOrg, error)
	ListProviderOrgs(ctx context.Context, opts ListOptions) (Page[ProviderOrg], error)
	GetMembership(ctx context.Context, orgID, userID string) (Membership, error)
	// ListOrgMembers orders by user ID.
	ListOrgMembers(ctx context.Context, orgID string, opts ListOptions) (Page[Membership], error)
	// ListUserMemberships orders by org ID.
	ListUserMemberships(ctx context.Context, userID string, opts ListOptions) (Page[Membership], error)

	GetCatalog(ctx context.Context, id string) (Catalog, error)
	GetCatalogByName(ctx context.Context, orgID, name string) (Catalog, error)
	ListCatalogs(ctx context.Context, orgID string, opts ListOptions) (Page[Catalog], error)
	// CatalogVersion is the catalog's bundle version: 0 for a new catalog,
	// then one more for every committed transaction that changed what its
	// gateways serve.
	CatalogVersion(ctx context.Context, catalogID string) (int64, error)

	GetDraftAPI(ctx context.Context, id string) (DraftAPI, error)
	GetDraftAPIByName(ctx context.Context, orgID, name, version string) (DraftAPI, error)
	ListDraftAPIs(ctx context.Context, orgID string, opts ListOptions) (Page[DraftAPI], error)
	GetDraftProduct(ctx context.Context, id string) (DraftProduct, error)
	GetDraftProductByName(ctx context.Context, orgID, name, version string) (DraftProduct, error)
	ListDraftProducts(ctx context.Context, orgID string, opts ListOptions) (Page[DraftProduct], error)

	// Products come with their APIs.
	GetProduct(ctx context.Context, id string) (Product, error)
	GetProductByName(ctx context.Context, catalogID, name, version string) (Product, error)
	ListProducts(ctx context.Context, catalogID string, opts ListOptions) (Page[Product], error)

	GetConsumerOrg(ctx context.Context, id string) (ConsumerOrg, error)
	GetConsumerOrgByName(ctx context.Context, catalogID, name string) (ConsumerOrg, error)
	ListConsumerOrgs(ctx context.Context, catalogID string, opts ListOptions) (Page[ConsumerOrg], error)
	GetApp(ctx context.Context, id string) (App, error)
	GetAppByName(ctx context.Context, consumerOrgID, name string) (App, error)
	ListApps(ctx context.Context, consumerOrgID string, opts ListOptions) (Page[App], error)
	GetCredential(ctx context.Context, id string) (Credential, error)
	// GetCredentialByClientID is the lookup of a client ID presented in a
	// catalog.
	GetCredentialByClientID(ctx context.Context, catalogID, clientID string) (Credential, error)
	ListCredentials(ctx context.Context, appID string, opts ListOptions) (Page[Credential], error)
	GetSubscription(ctx context.Context, id string) (Subscription, error)
	ListSubscriptions(ctx context.Context, appID string, opts ListOptions) (Page[Subscription], error)
	// ListCatalogApps, ListCatalogCredentials and ListCatalogSubscriptions
	// read all of a catalog's apps (by consumer org, then name), their
	// credentials and subscriptions (by app, then name), each in one query.
	ListCatalogApps(ctx context.Context, catalogID string) ([]App, error)
	ListCatalogCredentials(ctx context.Context, catalogID string) ([]Credential, error)
	ListCatalogSubscriptions(ctx context.Context, catalogID string) ([]Subscription, error)
	// ListProductSubscriptions lists a product's subscribers, for
	// migrating them to another product.
	ListProductSubscriptions(ctx context.Context, productID string, opts ListOptions) (Page[Subscription], error)

	GetUser(ctx context.Context, id string) (User, error)
	GetUserByName(ctx context.Context, name string) (User, error)
	ListUsers(ctx context.Context, opts ListOptions) (Page[User], error)
	GetAPIKey(ctx context.Context, id string) (APIKey, error)
	// GetAPIKeyByHash finds the key a caller presents (hash it first).
	GetAPIKeyByHash(ctx context.Context, keyHash string) (APIKey, error)
	// ListAPIKeys orders by creation time.
	ListAPIKeys(ctx context.Context, userID string, opts ListOptions) (Page[APIKey], error)
	GetToken(ctx context.Context, id string) (Token, error)

	GetGatewayService(ctx context.Context, id string) (GatewayService, error)
	GetGatewayServiceByName(ctx context.Context, orgID, name string) (GatewayService, error)
	ListGatewayServices(ctx context.Context, orgID string, opts ListOptions) (Page[GatewayService], error)
	// ListCatalogGateways lists the gateway services a catalog publishes to.
	ListCatalogGateways(ctx context.Context, catalogID string, opts ListOptions) (Page[GatewayService], error)
	// ListGatewayCatalogs lists the catalogs a gateway service serves.
	ListGatewayCatalogs(ctx context.Context, gatewayServiceID string, opts ListOptions) (Page[Catalog], error)
	// ListDeliveries lists, for every gateway service, the catalogs that
	// use it and those it still serves but should not, ordered by gateway
	// service and catalog ID.
	ListDeliveries(ctx context.Context) ([]Delivery, error)

	// ListAudit lists entries newest first.
	ListAudit(ctx context.Context, filter AuditFilter, opts ListOptions) (Page[AuditEntry], error)
}

// Writer changes objects; only a Tx has it. Create* assign ID and
// timestamps and return the stored object; Update* change the mutable
// fields of the object with the given ID (documented per type) and return
// it; Delete* remove by ID. They fail with ErrInvalid for bad input,
// ErrConflict for a name (or client ID, key hash…) already taken or a
// delete the domain refuses, and ErrNotFound for a missing object or
// parent.
//
// Writes to products, consumer orgs, apps, credentials and subscriptions
// bump their catalog's CatalogVersion, once per transaction.
type Writer interface {
	CreateProviderOrg(ctx context.Context, o ProviderOrg) (ProviderOrg, error)
	// UpdateProviderOrg changes Name, Title, Summary and OwnerID.
	UpdateProviderOrg(ctx context.Context, o ProviderOrg) (ProviderOrg, error)
	// DeleteProviderOrg is refused while the org has catalogs or gateway
	// services; its drafts and memberships go with it.
	DeleteProviderOrg(ctx context.Context, id string) error
	// SetMembership adds the user to the org or changes their role.
	SetMembership(ctx context.Context, m Membership) (Membership, error)
	DeleteMembership(ctx context.Context, orgID, userID string) error

	// CreateCatalog starts the catalog at CatalogVersion 0.
	CreateCatalog(ctx context.Context, c Catalog) (Catalog, error)
	// UpdateCatalog changes Name, Title and Summary.
	UpdateCatalog(ctx context.Context, c Catalog) (Catalog, error)
	// DeleteCatalog is refused while the catalog has products or consumer
	// orgs; its gateway service links go with it.
	DeleteCatalog(ctx context.Context, id string) error
	// BumpCatalogVersion marks the catalog changed in this transaction, for
	// changes the store cannot see (catalog settings, say), and returns
	// the version the commit will leave. Like the automatic bumps, it
	// counts once per transaction.
	BumpCatalogVersion(ctx context.Context, catalogID string) (int64, error)

	CreateDraftAPI(ctx context.Context, d DraftAPI) (DraftAPI, error)
	// UpdateDraftAPI changes Name, Version, Title, Summary and Document.
	UpdateDraftAPI(ctx context.Context, d DraftAPI) (DraftAPI, error)
	DeleteDraftAPI(ctx context.Context, id string) error
	CreateDraftProduct(ctx context.Context, d DraftProduct) (DraftProduct, error)
	// UpdateDraftProduct changes Name, Version, Title, Summary and Document.
	UpdateDraftProduct(ctx context.Context, d DraftProduct) (DraftProduct, error)
	DeleteDraftProduct(ctx context.Context, id string) error

	// CreateProduct stores the product with its APIs.
	CreateProduct(ctx context.Context, p Product) (Product, error)
	// UpdateProduct changes Title, Summary, State and Document; name and
	// version identify what was published and do not change. It ignores
	// APIs: use SetProductAPIs.
	UpdateProduct(ctx context.Context, p Product) (Product, error)
	// SetProductAPIs replaces the product's APIs.
	SetProductAPIs(ctx context.Context, productID string, apis []ProductAPI) error
	// DeleteProduct is refused while the product has subscriptions
	// (migrate or delete them first); its APIs go with it.
	DeleteProduct(ctx context.Context, id string) error

	CreateConsumerOrg(ctx context.Context, c ConsumerOrg) (ConsumerOrg, error)
	// UpdateConsumerOrg changes Name, Title, Summary and OwnerID.
	UpdateConsumerOrg(ctx context.Context, c ConsumerOrg) (ConsumerOrg, error)
	// DeleteConsumerOrg deletes its apps, their credentials and
	// subscriptions with it, as API Connect does.
	DeleteConsumerOrg(ctx context.Context, id string) error
	CreateApp(ctx context.Context, a App) (App, error)
	// UpdateApp changes Name, Title, Summary, State and Lifecycle.
	UpdateApp(ctx context.Context, a App) (App, error)
	// DeleteApp deletes the app's credentials and subscriptions with it.
	DeleteApp(ctx context.Context, id string) error
	CreateCredential(ctx context.Context, c Credential) (Credential, error)
	// UpdateCredential changes Name, Title, Summary and SecretHash (a
	// secret reset); the client ID does not change.
	UpdateCredential(ctx context.Context, c Credential) (Credential, error)
	DeleteCredential(ctx context.Context, id string) error
	// CreateSubscription refuses a product of another catalog than the
	// app's.
	CreateSubscription(ctx context.Context, s Subscription) (Subscription, error)
	// UpdateSubscription changes ProductID (migrating the subscription to
	// another product of the same catalog, as replace and supersede do),
	// Name, Title, Summary, Plan and State.
	UpdateSubscription(ctx context.Context, s Subscription) (Subscription, error)
	DeleteSubscription(ctx context.Context, id string) error

	CreateUser(ctx context.Context, u User) (User, error)
	// UpdateUser changes Name, Title, Summary, Email, PasswordHash and
	// CloudRole.
	UpdateUser(ctx context.Context, u User) (User, error)
	// DeleteUser is refused while the user owns a provider or consumer org
	// (transfer it first); memberships, API keys and tokens go with it.
	DeleteUser(ctx context.Context, id string) error
	CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error)
	// TouchAPIKey records a use of the key.
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
	DeleteAPIKey(ctx context.Context, id string) error
	// CreateToken keeps t.ID when set (a jti the caller minted), else
	// assigns one.
	CreateToken(ctx context.Context, t Token) (Token, error)
	// RevokeToken marks the token revoked at at; revoking again keeps the
	// first time.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// ConsumeToken revokes a token that is neither revoked nor expired at
	// at, and returns it: a single-use secret can be used once, however
	// many callers race for it. Any other token is ErrNotFound.
	ConsumeToken(ctx context.Context, id string, at time.Time) (Token, error)
	// RevokeUserTokens revokes every valid token of the user (sign out
	// everywhere, password change) and returns how many it revoked.
	RevokeUserTokens(ctx context.Context, userID string, at time.Time) (int, error)
	// DeleteExpiredTokens forgets tokens that expired before before; a
	// revocation list need not outlive the token.
	DeleteExpiredTokens(ctx context.Context, before time.Time) (int, error)

	CreateGatewayService(ctx context.Context, g GatewayService) (GatewayService, error)
	// UpdateGatewayService changes every field but ID and OrgID.
	UpdateGatewayService(ctx context.Context, g GatewayService) (GatewayService, error)
	// DeleteGatewayService is refused while a catalog uses the service.
	DeleteGatewayService(ctx context.Context, id string) error
	// AddCatalogGateway makes the catalog publish to the gateway service.
	// Linking and unlinking do not bump the catalog's version: its bundle
	// is unchanged, and the director pushes the current one to a newly
	// linked gateway.
	AddCatalogGateway(ctx context.Context, catalogID, gatewayServiceID string) error
	RemoveCatalogGateway(ctx context.Context, catalogID, gatewayServiceID string) error
	// RecordDelivery stores the outcome of a push (the fields from OrgName
	// to LastSuccessAt; PushedOrg and PushedCatalog are kept as given).
	// It does not bump the catalog version.
	RecordDelivery(ctx context.Context, d Delivery) error
	// DeleteDelivery forgets a catalog's delivery once the gateway stopped
	// serving it.
	DeleteDelivery(ctx context.Context, gatewayServiceID, catalogID string) error

	// AppendAudit adds an entry; At defaults to now.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
}
