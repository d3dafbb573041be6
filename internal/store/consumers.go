package store

import (
	"cmp"
	"context"
)

// Consumer orgs, apps, credentials and subscriptions are what a gateway
// checks callers against, so every write to them bumps the catalog's
// version (touch/touchVia) before changing anything.

const consumerOrgCols = "id, catalog_id, name, title, summary, owner_id, created_at, updated_at"

func scanConsumerOrg(s scanner) (ConsumerOrg, error) {
	var c ConsumerOrg
	err := s.Scan(&c.ID, &c.CatalogID, &c.Name, &c.Title, &c.Summary, &c.OwnerID, tsp(&c.CreatedAt), tsp(&c.UpdatedAt))
	return c, err
}

func checkConsumerOrg(c ConsumerOrg) error {
	return firstErr(required("consumer org", "catalog ID", c.CatalogID), checkName("consumer org", "name", c.Name),
		required("consumer org", "owner ID", c.OwnerID))
}

func consumerOrgSubject(c ConsumerOrg) subject {
	return subject{kind: "consumer org", key: c.Name, parent: "owner user " + c.OwnerID,
		taken: map[string]string{"": "the catalog has a consumer org with this name; choose another name"}}
}

func (q *queries) GetConsumerOrg(ctx context.Context, id string) (ConsumerOrg, error) {
	return get(ctx, q, "consumer org", id, scanConsumerOrg, "SELECT "+consumerOrgCols+" FROM consumer_orgs WHERE id = ?", id)
}

func (q *queries) GetConsumerOrgByName(ctx context.Context, catalogID, name string) (ConsumerOrg, error) {
	return get(ctx, q, "consumer org", "named "+name+" in catalog "+catalogID, scanConsumerOrg,
		"SELECT "+consumerOrgCols+" FROM consumer_orgs WHERE catalog_id = ? AND name = ?", catalogID, name)
}

func (q *queries) ListConsumerOrgs(ctx context.Context, catalogID string, opts ListOptions) (Page[ConsumerOrg], error) {
	l := listing{kind: "consumer org", cols: consumerOrgCols, from: "FROM consumer_orgs WHERE catalog_id = ?", order: "ORDER BY name"}
	return page(ctx, q, l, scanConsumerOrg, opts, catalogID)
}

func (t *tx) CreateConsumerOrg(ctx context.Context, c ConsumerOrg) (ConsumerOrg, error) {
	if err := checkConsumerOrg(c); err != nil {
		return ConsumerOrg{}, err
	}
	if err := t.touch(ctx, c.CatalogID); err != nil {
		return ConsumerOrg{}, err
	}
	c.ID, c.CreatedAt = newID(), now()
	c.UpdatedAt = c.CreatedAt
	_, err := t.exec(ctx, "INSERT INTO consumer_orgs ("+consumerOrgCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		c.ID, c.CatalogID, c.Name, c.Title, c.Summary, c.OwnerID, ts(c.CreatedAt), ts(c.UpdatedAt))
	return c, consumerOrgSubject(c).writeErr(t.eng, err)
}

func (t *tx) UpdateConsumerOrg(ctx context.Context, c ConsumerOrg) (ConsumerOrg, error) {
	if err := firstErr(checkName("consumer org", "name", c.Name), required("consumer org", "owner ID", c.OwnerID)); err != nil {
		return ConsumerOrg{}, err
	}
	if _, err := t.touchVia(ctx, "consumer org", c.ID, catalogOfConsumerOrg); err != nil {
		return ConsumerOrg{}, err
	}
	return update(ctx, t, consumerOrgSubject(c), c.ID, scanConsumerOrg,
		"UPDATE consumer_orgs SET name = ?, title = ?, summary = ?, owner_id = ?, updated_at = ? WHERE id = ? RETURNING "+consumerOrgCols,
		c.Name, c.Title, c.Summary, c.OwnerID, ts(now()), c.ID)
}

// DeleteConsumerOrg relies on ON DELETE CASCADE for apps, credentials and
// subscriptions.
func (t *tx) DeleteConsumerOrg(ctx context.Context, id string) error {
	if _, err := t.touchVia(ctx, "consumer org", id, catalogOfConsumerOrg); err != nil {
		return err
	}
	return t.deleteByID(ctx, "consumer org", "consumer_orgs", id)
}

const appCols = "id, consumer_org_id, name, title, summary, state, lifecycle, created_at, updated_at"

func scanApp(s scanner) (App, error) {
	var a App
	err := s.Scan(&a.ID, &a.ConsumerOrgID, &a.Name, &a.Title, &a.Summary, &a.State, &a.Lifecycle,
		tsp(&a.CreatedAt), tsp(&a.UpdatedAt))
	return a, err
}

func checkApp(a App) error {
	return firstErr(checkName("app", "name", a.Name), oneOf("app", "state", a.State, AppActive, AppDisabled),
		oneOf("app", "lifecycle", a.Lifecycle, AppDevelopment, AppProduction))
}

func appSubject(a App) subject {
	return subject{kind: "app", key: a.Name, parent: "consumer org " + a.ConsumerOrgID,
		taken: map[string]string{"": "the consumer org has an app with this name; choose another name"}}
}

func (q *queries) GetApp(ctx context.Context, id string) (App, error) {
	return get(ctx, q, "app", id, scanApp, "SELECT "+appCols+" FROM apps WHERE id = ?", id)
}

func (q *queries) GetAppByName(ctx context.Context, consumerOrgID, name string) (App, error) {
	return get(ctx, q, "app", "named "+name+" in consumer org "+consumerOrgID, scanApp,
		"SELECT "+appCols+" FROM apps WHERE consumer_org_id = ? AND name = ?", consumerOrgID, name)
}

func (q *queries) ListApps(ctx context.Context, consumerOrgID string, opts ListOptions) (Page[App], error) {
	l := listing{kind: "app", cols: appCols, from: "FROM apps WHERE consumer_org_id = ?", order: "ORDER BY name"}
	return page(ctx, q, l, scanApp, opts, consumerOrgID)
}

func (t *tx) CreateApp(ctx context.Context, a App) (App, error) {
	a.State = cmp.Or(a.State, AppActive)
	a.Lifecycle = cmp.Or(a.Lifecycle, AppDevelopment)
	if err := firstErr(required("app", "consumer org ID", a.ConsumerOrgID), checkApp(a)); err != nil {
		return App{}, err
	}
	if _, err := t.touchVia(ctx, "consumer org", a.ConsumerOrgID, catalogOfConsumerOrg); err != nil {
		return App{}, err
	}
	a.ID, a.CreatedAt = newID(), now()
	a.UpdatedAt = a.CreatedAt
	_, err := t.exec(ctx, "INSERT INTO apps ("+appCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		a.ID, a.ConsumerOrgID, a.Name, a.Title, a.Summary, a.State, a.Lifecycle, ts(a.CreatedAt), ts(a.UpdatedAt))
	return a, appSubject(a).writeErr(t.eng, err)
}

func (t *tx) UpdateApp(ctx context.Context, a App) (App, error) {
	if err := checkApp(a); err != nil {
		return App{}, err
	}
	if _, err := t.touchVia(ctx, "app", a.ID, catalogOfApp); err != nil {
		return App{}, err
	}
	return update(ctx, t, appSubject(a), a.ID, scanApp,
		"UPDATE apps SET name = ?, title = ?, summary = ?, state = ?, lifecycle = ?, updated_at = ? WHERE id = ? RETURNING "+appCols,
		a.Name, a.Title, a.Summary, a.State, a.Lifecycle, ts(now()), a.ID)
}

// DeleteApp relies on ON DELETE CASCADE for credentials and subscriptions.
func (t *tx) DeleteApp(ctx context.Context, id string) error {
	if _, err := t.touchVia(ctx, "app", id, catalogOfApp); err != nil {
		return err
	}
	return t.deleteByID(ctx, "app", "apps", id)
}
