package store

import (
	"cmp"
	"context"
)

const credentialCols = "id, app_id, catalog_id, name, title, summary, client_id, secret_hash, created_at, updated_at"

func scanCredential(s scanner) (Credential, error) {
	var c Credential
	err := s.Scan(&c.ID, &c.AppID, &c.CatalogID, &c.Name, &c.Title, &c.Summary, &c.ClientID, &c.SecretHash,
		tsp(&c.CreatedAt), tsp(&c.UpdatedAt))
	return c, err
}

func checkCredential(c Credential) error {
	return firstErr(checkName("credential", "name", c.Name), checkSecretHash("credential", c.SecretHash))
}

func credentialSubject(c Credential) subject {
	return subject{kind: "credential", key: c.Name, parent: "app " + c.AppID, taken: map[string]string{
		"catalog_id,client_id": "client ID " + c.ClientID + " is in use in this catalog; generate another",
		"app_id,name":          "the app has a credential with this name; choose another name",
	}}
}

func (q *queries) GetCredential(ctx context.Context, id string) (Credential, error) {
	return get(ctx, q, "credential", id, scanCredential, "SELECT "+credentialCols+" FROM credentials WHERE id = ?", id)
}

func (q *queries) GetCredentialByClientID(ctx context.Context, catalogID, clientID string) (Credential, error) {
	return get(ctx, q, "credential", "with client ID "+clientID+" in catalog "+catalogID, scanCredential,
		"SELECT "+credentialCols+" FROM credentials WHERE catalog_id = ? AND client_id = ?", catalogID, clientID)
}

func (q *queries) ListCredentials(ctx context.Context, appID string, opts ListOptions) (Page[Credential], error) {
	l := listing{kind: "credential", cols: credentialCols, from: "FROM credentials WHERE app_id = ?", order: "ORDER BY name"}
	return page(ctx, q, l, scanCredential, opts, appID)
}

func (t *tx) CreateCredential(ctx context.Context, c Credential) (Credential, error) {
	err := firstErr(required("credential", "app ID", c.AppID), checkCredential(c),
		required("credential", "client ID", c.ClientID))
	if err != nil {
		return Credential{}, err
	}
	if c.CatalogID, err = t.touchVia(ctx, "app", c.AppID, catalogOfApp); err != nil {
		return Credential{}, err
	}
	c.ID, c.CreatedAt = newID(), now()
	c.UpdatedAt = c.CreatedAt
	_, err = t.exec(ctx, "INSERT INTO credentials ("+credentialCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		c.ID, c.AppID, c.CatalogID, c.Name, c.Title, c.Summary, c.ClientID, c.SecretHash, ts(c.CreatedAt), ts(c.UpdatedAt))
	return c, credentialSubject(c).writeErr(t.eng, err)
}

func (t *tx) UpdateCredential(ctx context.Context, c Credential) (Credential, error) {
	if err := checkCredential(c); err != nil {
		return Credential{}, err
	}
	if _, err := t.touchVia(ctx, "credential", c.ID, catalogOfCredential); err != nil {
		return Credential{}, err
	}
	return update(ctx, t, credentialSubject(c), c.ID, scanCredential,
		"UPDATE credentials SET name = ?, title = ?, summary = ?, secret_hash = ?, updated_at = ? WHERE id = ? RETURNING "+credentialCols,
		c.Name, c.Title, c.Summary, c.SecretHash, ts(now()), c.ID)
}

func (t *tx) DeleteCredential(ctx context.Context, id string) error {
	if _, err := t.touchVia(ctx, "credential", id, catalogOfCredential); err != nil {
		return err
	}
	return t.deleteByID(ctx, "credential", "credentials", id)
}

const subscriptionCols = "id, app_id, product_id, name, title, summary, plan, state, created_at, updated_at"

func scanSubscription(s scanner) (Subscription, error) {
	var v Subscription
	err := s.Scan(&v.ID, &v.AppID, &v.ProductID, &v.Name, &v.Title, &v.Summary, &v.Plan, &v.State,
		tsp(&v.CreatedAt), tsp(&v.UpdatedAt))
	return v, err
}

func checkSubscription(s Subscription) error {
	return firstErr(checkName("subscription", "name", s.Name), required("subscription", "plan", s.Plan),
		oneOf("subscription", "state", s.State, SubscriptionEnabled, SubscriptionPending, SubscriptionDisabled))
}

func subscriptionSubject(s Subscription) subject {
	return subject{kind: "subscription", key: s.Name, parent: "app " + s.AppID + " or product " + s.ProductID, taken: map[string]string{
		"app_id,product_id": "the app already subscribes to this product; change that subscription's plan instead",
		"app_id,name":       "the app has a subscription with this name; choose another name",
	}}
}

func (q *queries) GetSubscription(ctx context.Context, id string) (Subscription, error) {
	return get(ctx, q, "subscription", id, scanSubscription, "SELECT "+subscriptionCols+" FROM subscriptions WHERE id = ?", id)
}

func (q *queries) ListSubscriptions(ctx context.Context, appID string, opts ListOptions) (Page[Subscription], error) {
	l := listing{kind: "subscription", cols: subscriptionCols, from: "FROM subscriptions WHERE app_id = ?", order: "ORDER BY name"}
	return page(ctx, q, l, scanSubscription, opts, appID)
}

func (q *queries) ListProductSubscriptions(ctx context.Context, productID string, opts ListOptions) (Page[Subscription], error) {
	l := listing{kind: "subscription", cols: subscriptionCols, from: "FROM subscriptions WHERE product_id = ?", order: "ORDER BY app_id, name"}
	return page(ctx, q, l, scanSubscription, opts, productID)
}

func (t *tx) CreateSubscription(ctx context.Context, s Subscription) (Subscription, error) {
	s.ID = newID()
	s.Name = cmp.Or(s.Name, s.ID)
	s.State = cmp.Or(s.State, SubscriptionEnabled)
	err := firstErr(required("subscription", "app ID", s.AppID), required("subscription", "product ID", s.ProductID),
		checkSubscription(s))
	if err != nil {
		return Subscription{}, err
	}
	if err := t.sameCatalog(ctx, s); err != nil {
		return Subscription{}, err
	}
	s.CreatedAt = now()
	s.UpdatedAt = s.CreatedAt
	_, err = t.exec(ctx, "INSERT INTO subscriptions ("+subscriptionCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		s.ID, s.AppID, s.ProductID, s.Name, s.Title, s.Summary, s.Plan, s.State, ts(s.CreatedAt), ts(s.UpdatedAt))
	return s, subscriptionSubject(s).writeErr(t.eng, err)
}

// sameCatalog refuses a subscription across catalogs (a gateway serves one
// catalog: it could never honour it) and bumps the catalog's version.
func (t *tx) sameCatalog(ctx context.Context, s Subscription) error {
	appCatalog, err := get(ctx, &t.queries, "app", s.AppID, scanString, catalogOfApp, s.AppID)
	if err != nil {
		return err
	}
	productCatalog, err := get(ctx, &t.queries, "product", s.ProductID, scanString, catalogOfProduct, s.ProductID)
	if err != nil {
		return err
	}
	if appCatalog != productCatalog {
		return invalid("subscription", "app %s and product %s are in different catalogs; subscribe to a product of the app's catalog", s.AppID, s.ProductID)
	}
	return t.touch(ctx, appCatalog)
}

func (t *tx) UpdateSubscription(ctx context.Context, s Subscription) (Subscription, error) {
	if err := firstErr(required("subscription", "product ID", s.ProductID), checkSubscription(s)); err != nil {
		return Subscription{}, err
	}
	catalogID, err := t.touchVia(ctx, "subscription", s.ID, catalogOfSub)
	if err != nil {
		return Subscription{}, err
	}
	productCatalog, err := get(ctx, &t.queries, "product", s.ProductID, scanString, catalogOfProduct, s.ProductID)
	if err != nil {
		return Subscription{}, err
	}
	if productCatalog != catalogID {
		return Subscription{}, invalid("subscription", "product %s is in another catalog than the app; migrate to a product of the same catalog", s.ProductID)
	}
	return update(ctx, t, subscriptionSubject(s), s.ID, scanSubscription,
		"UPDATE subscriptions SET product_id = ?, name = ?, title = ?, summary = ?, plan = ?, state = ?, updated_at = ? WHERE id = ? RETURNING "+subscriptionCols,
		s.ProductID, s.Name, s.Title, s.Summary, s.Plan, s.State, ts(now()), s.ID)
}

func (t *tx) DeleteSubscription(ctx context.Context, id string) error {
	if _, err := t.touchVia(ctx, "subscription", id, catalogOfSub); err != nil {
		return err
	}
	return t.deleteByID(ctx, "subscription", "subscriptions", id)
}
