package bundle

import (
	"crypto/tls"

	"github.com/portico-api/portico/internal/apidef"
)

// Catalog names a catalog and its org for a bundle built in memory.
type Catalog struct {
	Org, OrgID, Name string
	Properties       map[string]string
}

// ProductState pairs a loaded product with its lifecycle state.
type ProductState struct {
	Product *apidef.Product
	State   string
}

// FromDocuments builds a bundle from documents already loaded, as the
// manager does from its store: the same resolution and checks as a folder.
// Products refer to their APIs by name:version.
func FromDocuments(c Catalog, apis []*apidef.API, products []ProductState, consumers []*ConsumerOrg) (*Bundle, apidef.Problems) {
	b := &Bundle{Org: c.Org, OrgID: c.OrgID, Catalog: c.Name, Properties: c.Properties,
		TLSProfiles: map[string]*tls.Config{}, APIs: apis, Consumers: consumers}
	if b.Properties == nil {
		b.Properties = map[string]string{}
	}
	if b.OrgID == "" {
		b.OrgID = b.Org
	}
	ps := duplicateAPIs(apis)
	var defs []*apidef.Product
	states := map[*apidef.Product]string{}
	for _, p := range products {
		defs = append(defs, p.Product)
		states[p.Product] = p.State
	}
	ps = append(ps, b.resolveProducts(defs)...)
	for _, bp := range b.Products {
		if s := states[bp.Product]; s != "" {
			bp.State = s
		}
	}
	ps = append(ps, b.checkSubscriptions()...)
	return b, ps
}
