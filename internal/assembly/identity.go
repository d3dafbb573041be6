package assembly

// Identity is who is calling, once client identification passed: the app,
// its consumer org, and the plan and product that admitted the call. The
// gateway fills it; the assembly reads it as client.app.*, client.org.*,
// plan.* and product.*.
type Identity struct {
	ClientID                                  string
	AppName, AppTitle                         string
	OrgID, OrgName, OrgTitle                  string
	PlanID, PlanName, PlanTitle               string
	ProductName, ProductVersion, ProductTitle string
}

// identityVar answers the identity roots; ok is false for other names.
func (c *Context) identityVar(root string, rest []string) (any, bool) {
	id := c.Identity
	if id == nil {
		return nil, false
	}
	group := root
	if root == "client" {
		if len(rest) == 0 {
			return map[string]any{"app": id.doc("app"), "org": id.doc("org")}, true
		}
		group, rest = rest[0], rest[1:]
	}
	if (group == "plan" && id.PlanName == "") || (group == "product" && id.ProductName == "") {
		return nil, false
	}
	switch len(rest) {
	case 0:
		if d := id.doc(group); d != nil {
			return d, true
		}
		return nil, false
	case 1:
		return id.field(group, rest[0])
	}
	return nil, false
}

// field is one identity value: group is app, org, plan or product.
func (id *Identity) field(group, name string) (any, bool) {
	switch group {
	case "app":
		switch name {
		case "id":
			return id.ClientID, true
		case "name":
			return id.AppName, true
		case "title":
			return id.AppTitle, true
		case "lifecycle-state":
			return "PRODUCTION", true
		}
	case "org":
		switch name {
		case "id":
			return id.OrgID, true
		case "name":
			return id.OrgName, true
		case "title":
			return id.OrgTitle, true
		}
	case "plan":
		switch name {
		case "id":
			return id.PlanID, true
		case "name":
			return id.PlanName, true
		case "title":
			return id.PlanTitle, true
		case "version":
			return id.ProductVersion, true
		}
	case "product":
		switch name {
		case "name":
			return id.ProductName, true
		case "version":
			return id.ProductVersion, true
		case "title":
			return id.ProductTitle, true
		}
	}
	return nil, false
}

var identityFields = map[string][]string{
	"app":     {"id", "name", "title", "lifecycle-state"},
	"org":     {"id", "name", "title"},
	"plan":    {"id", "name", "title", "version"},
	"product": {"name", "version", "title"},
}

// doc is one identity group as a document, for expressions.
func (id *Identity) doc(group string) map[string]any {
	names, ok := identityFields[group]
	if !ok {
		return nil
	}
	d := make(map[string]any, len(names))
	for _, n := range names {
		d[n], _ = id.field(group, n)
	}
	return d
}
