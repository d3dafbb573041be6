package assembly

import "context"

// Clients checks client credentials against the catalog's registered
// apps, for the client-security policy. The gateway provides one per call
// (the apps of the configuration the call runs on); it is nil where no
// apps are known.
type Clients interface {
	// Authenticate returns the app the client id names. The secret is
	// checked when secretRequired (or when given). ok is false for
	// credentials that name no active app.
	Authenticate(ctx context.Context, id, secret string, secretRequired bool) (app ClientApp, ok bool)
}

// ClientApp is an app that credentials identified.
type ClientApp struct {
	ID, Name   string
	OrgID, Org string
}
