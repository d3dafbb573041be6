package store

import (
	"cmp"
	"context"
	"slices"
	"strings"
)

const productCols = "id, catalog_id, name, version, title, summary, state, document, created_at, updated_at"

func scanProduct(s scanner) (Product, error) {
	var p Product
	err := s.Scan(&p.ID, &p.CatalogID, &p.Name, &p.Version, &p.Title, &p.Summary, &p.State, &p.Document,
		tsp(&p.CreatedAt), tsp(&p.UpdatedAt))
	return p, err
}

func checkProductState(s ProductState) error {
	return oneOf("product", "state", s, ProductStaged, ProductPublished, ProductDeprecated, ProductRetired, ProductArchived)
}

func checkProductAPIs(apis []ProductAPI) error {
	seen := map[string]bool{}
	for _, a := range apis {
		if err := firstErr(checkName("product API", "name", a.Name), checkName("product API", "version", a.Version)); err != nil {
			return err
		}
		key := a.Name + ":" + a.Version
		if seen[key] {
			return invalid("product", "API %s is listed twice; list each name:version once", key)
		}
		seen[key] = true
	}
	return nil
}

func productSubject(p Product) subject {
	return subject{kind: "product", key: p.Name + ":" + p.Version, parent: "catalog " + p.CatalogID,
		taken: map[string]string{"": "the catalog has this product name and version; publish a new version or update that one"}}
}

func (q *queries) GetProduct(ctx context.Context, id string) (Product, error) {
	p, err := get(ctx, q, "product", id, scanProduct, "SELECT "+productCols+" FROM products WHERE id = ?", id)
	if err != nil {
		return p, err
	}
	return p, q.loadAPIs(ctx, []*Product{&p})
}

func (q *queries) GetProductByName(ctx context.Context, catalogID, name, version string) (Product, error) {
	p, err := get(ctx, q, "product", name+":"+version+" in catalog "+catalogID, scanProduct,
		"SELECT "+productCols+" FROM products WHERE catalog_id = ? AND name = ? AND version = ?", catalogID, name, version)
	if err != nil {
		return p, err
	}
	return p, q.loadAPIs(ctx, []*Product{&p})
}

func (q *queries) ListProducts(ctx context.Context, catalogID string, opts ListOptions) (Page[Product], error) {
	l := listing{kind: "product", cols: productCols, from: "FROM products WHERE catalog_id = ?", order: "ORDER BY name, version"}
	pg, err := page(ctx, q, l, scanProduct, opts, catalogID)
	if err != nil {
		return pg, err
	}
	ps := make([]*Product, len(pg.Items))
	for i := range pg.Items {
		ps[i] = &pg.Items[i]
	}
	return pg, q.loadAPIs(ctx, ps)
}

// loadAPIs fills the APIs of products with one query.
func (q *queries) loadAPIs(ctx context.Context, ps []*Product) error {
	if len(ps) == 0 {
		return nil
	}
	byID := make(map[string]*Product, len(ps))
	args := make([]any, len(ps))
	for i, p := range ps {
		byID[p.ID], args[i] = p, p.ID
		p.APIs = []ProductAPI{}
	}
	type row struct {
		productID string
		api       ProductAPI
	}
	scan := func(s scanner) (r row, err error) {
		return r, s.Scan(&r.productID, &r.api.Name, &r.api.Version, &r.api.Document)
	}
	rows, err := all(ctx, q, scan, "SELECT product_id, name, version, document FROM product_apis WHERE product_id IN ("+
		placeholders(len(ps))+") ORDER BY product_id, name, version", args...)
	if err != nil {
		return opErr("APIs of product", ps[0].ID, err)
	}
	for _, r := range rows {
		p := byID[r.productID]
		p.APIs = append(p.APIs, r.api)
	}
	return nil
}

// placeholders returns "?, ?, …" for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func (t *tx) CreateProduct(ctx context.Context, p Product) (Product, error) {
	if p.State == "" {
		p.State = ProductStaged
	}
	err := firstErr(required("product", "catalog ID", p.CatalogID), checkName("product", "name", p.Name),
		checkName("product", "version", p.Version), checkProductState(p.State), checkProductAPIs(p.APIs))
	if err != nil {
		return Product{}, err
	}
	if err := t.touch(ctx, p.CatalogID); err != nil {
		return Product{}, err
	}
	p.ID, p.CreatedAt, p.Document = newID(), now(), blob(p.Document)
	p.UpdatedAt = p.CreatedAt
	_, err = t.exec(ctx, "INSERT INTO products ("+productCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		p.ID, p.CatalogID, p.Name, p.Version, p.Title, p.Summary, p.State, p.Document, ts(p.CreatedAt), ts(p.UpdatedAt))
	if err != nil {
		return Product{}, productSubject(p).writeErr(t.eng, err)
	}
	p.APIs, err = t.insertAPIs(ctx, p.ID, p.APIs)
	return p, err
}

// insertAPIs adds a product's APIs and returns them as stored.
func (t *tx) insertAPIs(ctx context.Context, productID string, apis []ProductAPI) ([]ProductAPI, error) {
	stored := make([]ProductAPI, 0, len(apis))
	for _, a := range apis {
		a.Document = blob(a.Document)
		_, err := t.exec(ctx, "INSERT INTO product_apis (product_id, name, version, document) VALUES (?, ?, ?, ?)",
			productID, a.Name, a.Version, a.Document)
		if err != nil {
			return nil, opErr("API "+a.Name+":"+a.Version+" of product", productID, err)
		}
		stored = append(stored, a)
	}
	sortAPIs(stored)
	return stored, nil
}

// sortAPIs orders APIs as the database returns them.
func sortAPIs(apis []ProductAPI) {
	slices.SortFunc(apis, func(a, b ProductAPI) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version))
	})
}

func (t *tx) UpdateProduct(ctx context.Context, p Product) (Product, error) {
	if err := checkProductState(p.State); err != nil {
		return Product{}, err
	}
	if _, err := t.touchVia(ctx, "product", p.ID, catalogOfProduct); err != nil {
		return Product{}, err
	}
	out, err := update(ctx, t, productSubject(p), p.ID, scanProduct,
		"UPDATE products SET title = ?, summary = ?, state = ?, document = ?, updated_at = ? WHERE id = ? RETURNING "+productCols,
		p.Title, p.Summary, p.State, blob(p.Document), ts(now()), p.ID)
	if err != nil {
		return out, err
	}
	return out, t.loadAPIs(ctx, []*Product{&out})
}

func (t *tx) SetProductAPIs(ctx context.Context, productID string, apis []ProductAPI) error {
	if err := checkProductAPIs(apis); err != nil {
		return err
	}
	if _, err := t.touchVia(ctx, "product", productID, catalogOfProduct); err != nil {
		return err
	}
	if _, err := t.exec(ctx, "DELETE FROM product_apis WHERE product_id = ?", productID); err != nil {
		return opErr("APIs of product", productID, err)
	}
	_, err := t.insertAPIs(ctx, productID, apis)
	return err
}

func (t *tx) DeleteProduct(ctx context.Context, id string) error {
	err := t.refuseChildren(ctx, "product", id,
		childCheck{"SELECT COUNT(*) FROM subscriptions WHERE product_id = ?", "subscriptions", "migrate them to another product or delete them first"})
	if err != nil {
		return err
	}
	if _, err := t.touchVia(ctx, "product", id, catalogOfProduct); err != nil {
		return err
	}
	return t.deleteByID(ctx, "product", "products", id)
}
