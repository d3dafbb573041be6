package client

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// PublishDraftProduct publishes a draft product of org (by ID or
// name:version), with the org's draft APIs it names, to catalog; stage
// stores it staged instead.
func (c *Client) PublishDraftProduct(ctx context.Context, org, ref, catalog string, stage bool) (Product, error) {
	body, err := jsonBody(map[string]string{"catalog": catalog})
	if err != nil {
		return Product{}, err
	}
	var q url.Values
	if stage {
		q = url.Values{"stage": {"true"}}
	}
	var out Product
	err = c.do(ctx, request{method: http.MethodPost, path: path("orgs", org, "drafts", draftProducts.coll, ref, "publish"), query: q, body: body}, &out)
	return out, err
}

// PlanMapping is API Connect's mapping file for replace and supersede:
// the old product (its URL, ID or name:version) and, for each of its
// plans with subscribers, the new product's plan they move to.
type PlanMapping struct {
	ProductURL string    `json:"product_url" yaml:"product_url"`
	Plans      []PlanMap `json:"plans" yaml:"plans"`
}

// PlanMap maps a plan of the old product to one of the new.
type PlanMap struct {
	Source string `json:"source" yaml:"source"`
	Target string `json:"target" yaml:"target"`
}

// ReplaceProduct publishes the product ref (staged or published) in place
// of the old one the mapping names, which becomes retired; subscriptions
// move to the mapped plans in the same transaction.
func (c *Client) ReplaceProduct(ctx context.Context, org, catalog, ref string, m PlanMapping) (Product, error) {
	return c.migrate(ctx, "replace", org, catalog, ref, m)
}

// SupersedeProduct is ReplaceProduct with the old product deprecated
// rather than retired.
func (c *Client) SupersedeProduct(ctx context.Context, org, catalog, ref string, m PlanMapping) (Product, error) {
	return c.migrate(ctx, "supersede", org, catalog, ref, m)
}

func (c *Client) migrate(ctx context.Context, verb, org, catalog, ref string, m PlanMapping) (Product, error) {
	if m.Plans == nil {
		m.Plans = []PlanMap{}
	}
	var out Product
	err := c.send(ctx, http.MethodPost, path("catalogs", org, catalog, "products", ref, verb), m, &out)
	return out, err
}

// Member is a user's role in a provider org.
type Member struct {
	Meta
	Role    string `json:"role"`
	UserURL string `json:"user_url"`
	OrgURL  string `json:"org_url"`
}

// Members lists a provider org's members; a member's ID is the user's.
func (c *Client) Members(ctx context.Context, org string, o ListOptions) ([]Member, int, error) {
	return list[Member](ctx, c, path("orgs", org, "members"), o)
}

// CatalogAPI is an API published in a catalog, gathered from the products
// that hold it. State is "online" when one of them is published or
// deprecated (the gateway serves it), else "offline".
type CatalogAPI struct {
	Type     string   `json:"type"`
	Name     string   `json:"name"`
	Version  string   `json:"version"`
	Title    string   `json:"title"`
	State    string   `json:"state"`
	BasePath string   `json:"base_path"`
	Products []string `json:"products"` // name:version of each product holding it
}

// Ref is the API's name:version.
func (a CatalogAPI) Ref() string { return a.Name + ":" + a.Version }

// CatalogAPIs lists the APIs of a catalog's products (from its products
// with ?expand=apis), sorted by name and version.
func (c *Client) CatalogAPIs(ctx context.Context, org, catalog string) ([]CatalogAPI, error) {
	type expanded struct {
		Product
		APIs []struct {
			Name     string `json:"name"`
			Version  string `json:"version"`
			Title    string `json:"title"`
			BasePath string `json:"base_path"`
		} `json:"apis"`
	}
	var prods collection[expanded]
	if err := c.get(ctx, path("catalogs", org, catalog, "products"), url.Values{"expand": {"apis"}}, &prods); err != nil {
		return nil, err
	}
	byRef := map[string]*CatalogAPI{}
	for _, p := range prods.Results {
		for _, a := range p.APIs {
			ref := a.Name + ":" + a.Version
			api := byRef[ref]
			if api == nil {
				api = &CatalogAPI{Type: "api", Name: a.Name, Version: a.Version, Title: a.Title, BasePath: a.BasePath, State: "offline"}
				byRef[ref] = api
			}
			api.Products = append(api.Products, p.Name+":"+p.Version)
			if p.State == ProductPublished || p.State == ProductDeprecated {
				api.State = "online"
			}
		}
	}
	out := make([]CatalogAPI, 0, len(byRef))
	for _, a := range byRef {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b CatalogAPI) int { return strings.Compare(a.Ref(), b.Ref()) })
	return out, nil
}

// CatalogAPI gets one API of a catalog by name:version (or by name, when
// one version is there); a missing API is a 404 *Error.
func (c *Client) CatalogAPI(ctx context.Context, org, catalog, ref string) (CatalogAPI, error) {
	apis, err := c.CatalogAPIs(ctx, org, catalog)
	if err != nil {
		return CatalogAPI{}, err
	}
	var hits []CatalogAPI
	for _, a := range apis {
		if a.Ref() == ref || (!strings.Contains(ref, ":") && a.Name == ref) {
			hits = append(hits, a)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return CatalogAPI{}, &Error{Status: http.StatusNotFound, Messages: []string{"API " + ref + " not found in catalog " + catalog}}
	}
	refs := make([]string, len(hits))
	for i, h := range hits {
		refs[i] = h.Ref()
	}
	return CatalogAPI{}, &Error{Status: http.StatusBadRequest, Messages: []string{"API " + ref + " has several versions in catalog " + catalog + ": " + strings.Join(refs, ", ") + "; name one as name:version"}}
}
