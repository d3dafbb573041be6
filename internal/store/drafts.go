package store

import "context"

// Draft APIs and draft products have the same shape and rules, so one
// implementation serves both: DraftProduct converts to DraftAPI and back,
// and the table name tells them apart.

const draftCols = "id, org_id, name, version, title, summary, document, created_at, updated_at"

// draftTable names a drafts table and what its rows are called.
type draftTable struct{ kind, table string }

func draftAPIs() draftTable     { return draftTable{"draft API", "draft_apis"} }
func draftProducts() draftTable { return draftTable{"draft product", "draft_products"} }

func scanDraft(s scanner) (DraftAPI, error) {
	var d DraftAPI
	err := s.Scan(&d.ID, &d.OrgID, &d.Name, &d.Version, &d.Title, &d.Summary, &d.Document,
		tsp(&d.CreatedAt), tsp(&d.UpdatedAt))
	return d, err
}

func scanDraftProduct(s scanner) (DraftProduct, error) {
	d, err := scanDraft(s)
	return DraftProduct(d), err
}

func (dt draftTable) check(d DraftAPI) error {
	return firstErr(required(dt.kind, "org ID", d.OrgID), checkName(dt.kind, "name", d.Name),
		checkName(dt.kind, "version", d.Version))
}

func (dt draftTable) subject(d DraftAPI) subject {
	return subject{kind: dt.kind, key: d.Name + ":" + d.Version, parent: "provider org " + d.OrgID,
		taken: map[string]string{"": "the org has a " + dt.kind + " with this name and version; change the version or update that one"}}
}

func (dt draftTable) get(ctx context.Context, q *queries, id string) (DraftAPI, error) {
	return get(ctx, q, dt.kind, id, scanDraft, "SELECT "+draftCols+" FROM "+dt.table+" WHERE id = ?", id)
}

func (dt draftTable) getByName(ctx context.Context, q *queries, orgID, name, version string) (DraftAPI, error) {
	return get(ctx, q, dt.kind, name+":"+version+" in org "+orgID, scanDraft,
		"SELECT "+draftCols+" FROM "+dt.table+" WHERE org_id = ? AND name = ? AND version = ?", orgID, name, version)
}

func (dt draftTable) list(ctx context.Context, q *queries, orgID string, opts ListOptions) (Page[DraftAPI], error) {
	l := listing{kind: dt.kind, cols: draftCols, from: "FROM " + dt.table + " WHERE org_id = ?", order: "ORDER BY name, version"}
	return page(ctx, q, l, scanDraft, opts, orgID)
}

func (dt draftTable) create(ctx context.Context, t *tx, d DraftAPI) (DraftAPI, error) {
	if err := dt.check(d); err != nil {
		return DraftAPI{}, err
	}
	d.ID, d.CreatedAt, d.Document = newID(), now(), blob(d.Document)
	d.UpdatedAt = d.CreatedAt
	_, err := t.exec(ctx, "INSERT INTO "+dt.table+" ("+draftCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		d.ID, d.OrgID, d.Name, d.Version, d.Title, d.Summary, d.Document, ts(d.CreatedAt), ts(d.UpdatedAt))
	return d, dt.subject(d).writeErr(t.eng, err)
}

func (dt draftTable) update(ctx context.Context, t *tx, d DraftAPI) (DraftAPI, error) {
	if err := dt.check(d); err != nil {
		return DraftAPI{}, err
	}
	return update(ctx, t, dt.subject(d), d.ID, scanDraft,
		"UPDATE "+dt.table+" SET name = ?, version = ?, title = ?, summary = ?, document = ?, updated_at = ? WHERE id = ? RETURNING "+draftCols,
		d.Name, d.Version, d.Title, d.Summary, blob(d.Document), ts(now()), d.ID)
}

func (q *queries) GetDraftAPI(ctx context.Context, id string) (DraftAPI, error) {
	return draftAPIs().get(ctx, q, id)
}

func (q *queries) GetDraftAPIByName(ctx context.Context, orgID, name, version string) (DraftAPI, error) {
	return draftAPIs().getByName(ctx, q, orgID, name, version)
}

func (q *queries) ListDraftAPIs(ctx context.Context, orgID string, opts ListOptions) (Page[DraftAPI], error) {
	return draftAPIs().list(ctx, q, orgID, opts)
}

func (t *tx) CreateDraftAPI(ctx context.Context, d DraftAPI) (DraftAPI, error) {
	return draftAPIs().create(ctx, t, d)
}

func (t *tx) UpdateDraftAPI(ctx context.Context, d DraftAPI) (DraftAPI, error) {
	return draftAPIs().update(ctx, t, d)
}

func (t *tx) DeleteDraftAPI(ctx context.Context, id string) error {
	return t.deleteByID(ctx, "draft API", "draft_apis", id)
}

func (q *queries) GetDraftProduct(ctx context.Context, id string) (DraftProduct, error) {
	d, err := draftProducts().get(ctx, q, id)
	return DraftProduct(d), err
}

func (q *queries) GetDraftProductByName(ctx context.Context, orgID, name, version string) (DraftProduct, error) {
	d, err := draftProducts().getByName(ctx, q, orgID, name, version)
	return DraftProduct(d), err
}

func (q *queries) ListDraftProducts(ctx context.Context, orgID string, opts ListOptions) (Page[DraftProduct], error) {
	l := listing{kind: "draft product", cols: draftCols, from: "FROM draft_products WHERE org_id = ?", order: "ORDER BY name, version"}
	return page(ctx, q, l, scanDraftProduct, opts, orgID)
}

func (t *tx) CreateDraftProduct(ctx context.Context, d DraftProduct) (DraftProduct, error) {
	out, err := draftProducts().create(ctx, t, DraftAPI(d))
	return DraftProduct(out), err
}

func (t *tx) UpdateDraftProduct(ctx context.Context, d DraftProduct) (DraftProduct, error) {
	out, err := draftProducts().update(ctx, t, DraftAPI(d))
	return DraftProduct(out), err
}

func (t *tx) DeleteDraftProduct(ctx context.Context, id string) error {
	return t.deleteByID(ctx, "draft product", "draft_products", id)
}
