package bundle

import (
	"fmt"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/auth"
)

// ConsumersFile is the optional file that lists consumer orgs, their apps,
// credentials and subscriptions. The manager produces the same structures.
const ConsumersFile = "consumers.yaml"

// ConsumerOrg is an organisation of API consumers.
type ConsumerOrg struct {
	ID, Name, Title string
	Apps            []*App
}

// App is a consumer application.
type App struct {
	ID, Name, Title string
	// State is active (default) or disabled; a disabled app is refused.
	State         string
	Org           *ConsumerOrg
	Credentials   []*Credential
	Subscriptions []*Subscription
}

// Credential is a client id with its secret's hash.
type Credential struct {
	ClientID string
	// Secret is the parsed hash; nil when the credential has no secret.
	Secret *auth.Hash
}

// Subscription ties an app to a plan of a product.
type Subscription struct {
	Product string // name:version
	Plan    string
	State   string // enabled (default), pending, disabled
	Node    apidef.Node
}

// Subscription states.
const (
	SubEnabled  = "enabled"
	SubPending  = "pending"
	SubDisabled = "disabled"
)

// readConsumers reads consumers.yaml:
//
//	consumer-orgs:
//	  - name: acme-dev
//	    apps:
//	      - name: mobile
//	        credentials:
//	          - client-id: 5d1c…
//	            client-secret-hash: $argon2id$v=19$…
//	        subscriptions:
//	          - {product: weather:1.0.0, plan: default-plan}
func readConsumers(file string) ([]*ConsumerOrg, apidef.Problems) {
	doc, err := apidef.ReadFile(file)
	if err != nil {
		return nil, asProblems(err)
	}
	var ps apidef.Problems
	var orgs []*ConsumerOrg
	seenIDs := map[string]apidef.Node{}
	for _, on := range doc.Root.Get("consumer-orgs").Items() {
		org := &ConsumerOrg{Name: on.String("name", ""), Title: on.String("title", "")}
		org.ID = on.String("id", org.Name)
		if org.Name == "" {
			ps = append(ps, on.Problem("a consumer org needs a name", ""))
		}
		for _, an := range on.Get("apps").Items() {
			app, aps := readApp(an, org, seenIDs)
			ps = append(ps, aps...)
			org.Apps = append(org.Apps, app)
		}
		orgs = append(orgs, org)
	}
	for _, k := range doc.Root.Keys() {
		if k != "consumer-orgs" {
			ps = append(ps, doc.Root.KeyNode(k).Problem(fmt.Sprintf("unknown field %q", k), "consumers.yaml takes consumer-orgs"))
		}
	}
	return orgs, ps
}

func readApp(an apidef.Node, org *ConsumerOrg, seenIDs map[string]apidef.Node) (*App, apidef.Problems) {
	var ps apidef.Problems
	app := &App{Name: an.String("name", ""), Title: an.String("title", ""), State: an.String("state", "active"), Org: org}
	app.ID = an.String("id", org.Name+"/"+app.Name)
	if app.Name == "" {
		ps = append(ps, an.Problem("an app needs a name", ""))
	}
	if app.State != "active" && app.State != "disabled" {
		ps = append(ps, an.Get("state").Problemf("app state %q is not active or disabled", app.State))
	}
	for _, cn := range an.Get("credentials").Items() {
		cred := &Credential{ClientID: cn.String("client-id", "")}
		if cred.ClientID == "" {
			ps = append(ps, cn.Problem("a credential needs a client-id", ""))
			continue
		}
		if prev, dup := seenIDs[cred.ClientID]; dup {
			ps = append(ps, cn.Get("client-id").Problem(fmt.Sprintf("client id is used twice (also at line %d)", prev.Line()), "every credential needs its own client id"))
		}
		seenIDs[cred.ClientID] = cn.Get("client-id")
		if cn.Has("client-secret") {
			ps = append(ps, cn.KeyNode("client-secret").Problem("a client secret must not be stored in clear",
				"store its hash as client-secret-hash: make one with `portico hash-secret`"))
		}
		if h := cn.String("client-secret-hash", ""); h != "" {
			parsed, err := auth.ParseHash(h)
			if err != nil {
				ps = append(ps, cn.Get("client-secret-hash").Problem(err.Error(), ""))
			}
			cred.Secret = parsed
		}
		app.Credentials = append(app.Credentials, cred)
	}
	for _, sn := range an.Get("subscriptions").Items() {
		sub := &Subscription{Product: sn.String("product", ""), Plan: sn.String("plan", ""), State: sn.String("state", SubEnabled), Node: sn}
		if !strings.Contains(sub.Product, ":") || sub.Plan == "" {
			ps = append(ps, sn.Problem("a subscription needs product: name:version and plan: name", "e.g. {product: weather:1.0.0, plan: default-plan}"))
		}
		switch sub.State {
		case SubEnabled, SubPending, SubDisabled:
		default:
			ps = append(ps, sn.Get("state").Problemf("subscription state %q is not enabled, pending or disabled", sub.State))
		}
		app.Subscriptions = append(app.Subscriptions, sub)
	}
	return app, ps
}
