package store

import (
	"context"
	"fmt"
)

// ObjectCount is how many objects of one type a scope holds, for the
// manager's metrics. Org and Catalog are names, "" where the type is not
// scoped by them; State is set for products only.
type ObjectCount struct {
	Type, Org, Catalog, State string
	Count                     int64
}

// ObjectCounter is implemented by the stores Open returns.
type ObjectCounter interface {
	// CountObjects counts every type of object by scope: users and
	// provider orgs overall; catalogs, drafts and gateway services per
	// provider org; the rest per catalog. Every org and catalog has its
	// rows, with 0 where it holds none, and every catalog a row per
	// product state. "apis" counts the distinct API name:version pairs of
	// a catalog's products, whatever their state.
	CountObjects(ctx context.Context) ([]ObjectCount, error)
}

// Each query selects org, catalog, state and the count. Scoped counts
// start from the scope and LEFT JOIN the objects so that empty scopes
// count 0; every join follows a foreign key with an index.
const (
	perOrg     = `SELECT o.name, '', '', COUNT(x.id) FROM provider_orgs o LEFT JOIN %s x ON x.org_id = o.id GROUP BY o.name`
	catalogsOf = `FROM catalogs c JOIN provider_orgs o ON o.id = c.org_id `
	perCatalog = `SELECT o.name, c.name, '', COUNT(%s) ` + catalogsOf + `%s GROUP BY o.name, c.name`
	withCorgs  = `LEFT JOIN consumer_orgs co ON co.catalog_id = c.id `
	withApps   = withCorgs + `LEFT JOIN apps a ON a.consumer_org_id = co.id `
)

var countQueries = []struct{ typ, query string }{
	{"users", `SELECT '', '', '', COUNT(*) FROM users`},
	{"provider_orgs", `SELECT '', '', '', COUNT(*) FROM provider_orgs`},
	{"catalogs", fmt.Sprintf(perOrg, "catalogs")},
	{"draft_apis", fmt.Sprintf(perOrg, "draft_apis")},
	{"draft_products", fmt.Sprintf(perOrg, "draft_products")},
	{"gateway_services", fmt.Sprintf(perOrg, "gateway_services")},
	{"consumer_orgs", fmt.Sprintf(perCatalog, "co.id", withCorgs)},
	{"apps", fmt.Sprintf(perCatalog, "a.id", withApps)},
	{"subscriptions", fmt.Sprintf(perCatalog, "s.id", withApps+`LEFT JOIN subscriptions s ON s.app_id = a.id `)},
	{"apis", fmt.Sprintf(perCatalog, "x.name", `LEFT JOIN (SELECT DISTINCT p.catalog_id, pa.name, pa.version `+
		`FROM products p JOIN product_apis pa ON pa.product_id = p.id) x ON x.catalog_id = c.id `)},
	{"products", `SELECT o.name, c.name, st.state, COUNT(p.id) ` + catalogsOf +
		`CROSS JOIN (SELECT 'staged' AS state UNION ALL SELECT 'published' UNION ALL SELECT 'deprecated' ` +
		`UNION ALL SELECT 'retired' UNION ALL SELECT 'archived') st ` +
		`LEFT JOIN products p ON p.catalog_id = c.id AND p.state = st.state GROUP BY o.name, c.name, st.state`},
}

// CountObjects implements ObjectCounter with one query per type.
func (q *queries) CountObjects(ctx context.Context) ([]ObjectCount, error) {
	var out []ObjectCount
	for _, cq := range countQueries {
		rows, err := all(ctx, q, func(s scanner) (ObjectCount, error) {
			c := ObjectCount{Type: cq.typ}
			err := s.Scan(&c.Org, &c.Catalog, &c.State, &c.Count)
			return c, err
		}, cq.query)
		if err != nil {
			return nil, fmt.Errorf("store: counting %s: %w", cq.typ, err)
		}
		out = append(out, rows...)
	}
	return out, nil
}

var _ ObjectCounter = (*sqlStore)(nil)
