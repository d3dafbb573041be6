package store

import "context"

// A catalog's consumers read in one query per kind, for building its
// gateway bundle without a query per app.

func (q *queries) ListCatalogApps(ctx context.Context, catalogID string) ([]App, error) {
	apps, err := all(ctx, q, scanApp, "SELECT "+prefixCols("a", appCols)+
		" FROM apps a JOIN consumer_orgs co ON co.id = a.consumer_org_id WHERE co.catalog_id = ? ORDER BY a.consumer_org_id, a.name", catalogID)
	if err != nil {
		return nil, opErr("apps of catalog", catalogID, err)
	}
	return apps, nil
}

func (q *queries) ListCatalogCredentials(ctx context.Context, catalogID string) ([]Credential, error) {
	creds, err := all(ctx, q, scanCredential, "SELECT "+credentialCols+" FROM credentials WHERE catalog_id = ? ORDER BY app_id, name", catalogID)
	if err != nil {
		return nil, opErr("credentials of catalog", catalogID, err)
	}
	return creds, nil
}

func (q *queries) ListCatalogSubscriptions(ctx context.Context, catalogID string) ([]Subscription, error) {
	subs, err := all(ctx, q, scanSubscription, "SELECT "+prefixCols("s", subscriptionCols)+
		" FROM subscriptions s JOIN apps a ON a.id = s.app_id JOIN consumer_orgs co ON co.id = a.consumer_org_id"+
		" WHERE co.catalog_id = ? ORDER BY s.app_id, s.name", catalogID)
	if err != nil {
		return nil, opErr("subscriptions of catalog", catalogID, err)
	}
	return subs, nil
}
