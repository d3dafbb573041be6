package store

import (
	"context"
	"database/sql"
	"errors"
)

const catalogCols = "id, org_id, name, title, summary, created_at, updated_at"

func scanCatalog(s scanner) (Catalog, error) {
	var c Catalog
	err := s.Scan(&c.ID, &c.OrgID, &c.Name, &c.Title, &c.Summary, tsp(&c.CreatedAt), tsp(&c.UpdatedAt))
	return c, err
}

func checkCatalog(c Catalog) error {
	return firstErr(required("catalog", "org ID", c.OrgID), checkName("catalog", "name", c.Name))
}

func catalogSubject(c Catalog) subject {
	return subject{kind: "catalog", key: c.Name, parent: "provider org " + c.OrgID,
		taken: map[string]string{"": "the org has a catalog with this name; choose another name"}}
}

func (q *queries) GetCatalog(ctx context.Context, id string) (Catalog, error) {
	return get(ctx, q, "catalog", id, scanCatalog, "SELECT "+catalogCols+" FROM catalogs WHERE id = ?", id)
}

func (q *queries) GetCatalogByName(ctx context.Context, orgID, name string) (Catalog, error) {
	return get(ctx, q, "catalog", "named "+name+" in org "+orgID, scanCatalog,
		"SELECT "+catalogCols+" FROM catalogs WHERE org_id = ? AND name = ?", orgID, name)
}

func (q *queries) ListCatalogs(ctx context.Context, orgID string, opts ListOptions) (Page[Catalog], error) {
	l := listing{kind: "catalog", cols: catalogCols, from: "FROM catalogs WHERE org_id = ?", order: "ORDER BY name"}
	return page(ctx, q, l, scanCatalog, opts, orgID)
}

func (q *queries) CatalogVersion(ctx context.Context, catalogID string) (int64, error) {
	return get(ctx, q, "catalog", catalogID, scanInt64, "SELECT version FROM catalog_versions WHERE catalog_id = ?", catalogID)
}

func scanInt64(s scanner) (int64, error) {
	var n int64
	err := s.Scan(&n)
	return n, err
}

func (t *tx) CreateCatalog(ctx context.Context, c Catalog) (Catalog, error) {
	if err := checkCatalog(c); err != nil {
		return Catalog{}, err
	}
	c.ID, c.CreatedAt = newID(), now()
	c.UpdatedAt = c.CreatedAt
	_, err := t.exec(ctx, "INSERT INTO catalogs ("+catalogCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		c.ID, c.OrgID, c.Name, c.Title, c.Summary, ts(c.CreatedAt), ts(c.UpdatedAt))
	if err == nil {
		_, err = t.exec(ctx, "INSERT INTO catalog_versions (catalog_id, version) VALUES (?, 0)", c.ID)
	}
	return c, catalogSubject(c).writeErr(t.eng, err)
}

func (t *tx) UpdateCatalog(ctx context.Context, c Catalog) (Catalog, error) {
	if err := checkCatalog(c); err != nil {
		return Catalog{}, err
	}
	return update(ctx, t, catalogSubject(c), c.ID, scanCatalog,
		"UPDATE catalogs SET name = ?, title = ?, summary = ?, updated_at = ? WHERE id = ? RETURNING "+catalogCols,
		c.Name, c.Title, c.Summary, ts(now()), c.ID)
}

func (t *tx) DeleteCatalog(ctx context.Context, id string) error {
	err := t.refuseChildren(ctx, "catalog", id,
		childCheck{"SELECT COUNT(*) FROM products WHERE catalog_id = ?", "products", "delete them first"},
		childCheck{"SELECT COUNT(*) FROM consumer_orgs WHERE catalog_id = ?", "consumer orgs", "delete them first"})
	if err != nil {
		return err
	}
	return t.deleteByID(ctx, "catalog", "catalogs", id)
}

func (t *tx) BumpCatalogVersion(ctx context.Context, catalogID string) (int64, error) {
	if err := t.touch(ctx, catalogID); err != nil {
		return 0, err
	}
	return t.state.bumped[catalogID], nil
}

// touch increments the catalog's version unless this transaction already
// did. Writes call it before they change anything: on PostgreSQL the
// version row's lock then orders concurrent writers to one catalog the
// same way every time, so they queue instead of deadlocking.
func (t *tx) touch(ctx context.Context, catalogID string) error {
	if _, done := t.state.bumped[catalogID]; done {
		return nil
	}
	v, err := one(ctx, &t.queries, scanInt64,
		"UPDATE catalog_versions SET version = version + 1 WHERE catalog_id = ? RETURNING version", catalogID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return notFound("catalog", catalogID)
	case err != nil:
		return opErr("catalog version of", catalogID, err)
	}
	if t.state.bumped == nil {
		t.state.bumped = map[string]int64{}
	}
	t.state.bumped[catalogID] = v
	return nil
}

// touchVia bumps the catalog that lookup (a query taking one ID and
// returning a catalog ID) finds for the object id, and fails with
// ErrNotFound when there is no such object.
func (t *tx) touchVia(ctx context.Context, kind, id, lookup string) (string, error) {
	catalogID, err := get(ctx, &t.queries, kind, id, scanString, lookup, id)
	if err != nil {
		return "", err
	}
	return catalogID, t.touch(ctx, catalogID)
}

// Lookups from an object to its catalog, for touchVia.
const (
	catalogOfProduct     = "SELECT catalog_id FROM products WHERE id = ?"
	catalogOfConsumerOrg = "SELECT catalog_id FROM consumer_orgs WHERE id = ?"
	catalogOfApp         = "SELECT o.catalog_id FROM apps a JOIN consumer_orgs o ON o.id = a.consumer_org_id WHERE a.id = ?"
	catalogOfCredential  = "SELECT catalog_id FROM credentials WHERE id = ?"
	catalogOfSub         = "SELECT o.catalog_id FROM subscriptions s JOIN apps a ON a.id = s.app_id " +
		"JOIN consumer_orgs o ON o.id = a.consumer_org_id WHERE s.id = ?"
)
