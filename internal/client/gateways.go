package client

import (
	"context"
	"net/http"
	"time"
)

// Gateway services live in the cloud-scope org "admin", in an
// availability zone, as in API Connect.
const (
	AdminOrg                = "admin"
	DefaultAvailabilityZone = "availability-zone-default"
)

// GatewayService is a gateway (cluster) the manager pushes catalogs to
// over mutual TLS. The client key is never answered.
type GatewayService struct {
	Meta
	Endpoint          string     `json:"endpoint"`          // the management endpoint
	APIEndpointBase   string     `json:"api_endpoint_base"` // where APIs are called
	CatalogDefault    bool       `json:"catalog_default"`
	ClientCertificate string     `json:"client_certificate,omitempty"`
	CABundle          string     `json:"ca_bundle,omitempty"`
	PushStatus        PushStatus `json:"push_status"`
}

// PushStatus is how far a gateway service is behind the manager: State
// is "up_to_date", "outstanding" or "error".
type PushStatus struct {
	State              string     `json:"state"`
	OutstandingChanges int        `json:"outstanding_changes"`
	LastError          string     `json:"last_error,omitempty"`
	LastPush           *time.Time `json:"last_push"`
}

// GatewayServiceRequest registers a gateway service. ClientCertificate and
// ClientKey (PEM) are what the manager presents to the gateway's
// management endpoint; CABundle (PEM) verifies that endpoint.
type GatewayServiceRequest struct {
	Name              string `json:"name"`
	Title             string `json:"title,omitempty"`
	Summary           string `json:"summary,omitempty"`
	Endpoint          string `json:"endpoint"`
	APIEndpointBase   string `json:"api_endpoint_base"`
	ClientCertificate string `json:"client_certificate,omitempty"`
	ClientKey         string `json:"client_key,omitempty"`
	CABundle          string `json:"ca_bundle,omitempty"`
	CatalogDefault    bool   `json:"catalog_default"`
}

// GatewayServiceUpdate changes a gateway service: fields left nil stay.
type GatewayServiceUpdate struct {
	Name              *string `json:"name,omitempty"`
	Title             *string `json:"title,omitempty"`
	Summary           *string `json:"summary,omitempty"`
	Endpoint          *string `json:"endpoint,omitempty"`
	APIEndpointBase   *string `json:"api_endpoint_base,omitempty"`
	ClientCertificate *string `json:"client_certificate,omitempty"`
	ClientKey         *string `json:"client_key,omitempty"`
	CABundle          *string `json:"ca_bundle,omitempty"`
	CatalogDefault    *bool   `json:"catalog_default,omitempty"`
}

// ConfiguredGatewayService is a gateway service a catalog uses, with how
// far the catalog's pushes to it have got.
type ConfiguredGatewayService struct {
	Meta
	GatewayServiceURL  string     `json:"gateway_service_url"`
	Endpoint           string     `json:"endpoint"`
	APIEndpointBase    string     `json:"api_endpoint_base"`
	CatalogVersion     int        `json:"catalog_version"`
	PushedVersion      int        `json:"pushed_version"`
	OutstandingChanges int        `json:"outstanding_changes"`
	LastError          string     `json:"last_error,omitempty"`
	LastPush           *time.Time `json:"last_push"`
}

func gatewayServicesPath(more ...string) string {
	return path(append([]string{"orgs", AdminOrg, "availability-zones", DefaultAvailabilityZone, "gateway-services"}, more...)...)
}

// GatewayServices lists the gateway services (cloud admins; org admins
// may read).
func (c *Client) GatewayServices(ctx context.Context, o ListOptions) ([]GatewayService, int, error) {
	return list[GatewayService](ctx, c, gatewayServicesPath(), o)
}

// GatewayService gets a gateway service by name or ID, with its push
// status.
func (c *Client) GatewayService(ctx context.Context, gs string) (GatewayService, error) {
	var out GatewayService
	err := c.get(ctx, gatewayServicesPath(gs), nil, &out)
	return out, err
}

// CreateGatewayService registers a gateway service (cloud admins).
func (c *Client) CreateGatewayService(ctx context.Context, req GatewayServiceRequest) (GatewayService, error) {
	var out GatewayService
	err := c.send(ctx, http.MethodPost, gatewayServicesPath(), req, &out)
	return out, err
}

// UpdateGatewayService changes a gateway service.
func (c *Client) UpdateGatewayService(ctx context.Context, gs string, u GatewayServiceUpdate) (GatewayService, error) {
	var out GatewayService
	err := c.send(ctx, http.MethodPatch, gatewayServicesPath(gs), u, &out)
	return out, err
}

// DeleteGatewayService removes a gateway service; while a catalog uses it
// the answer is 409 (IsConflict).
func (c *Client) DeleteGatewayService(ctx context.Context, gs string) error {
	return c.del(ctx, gatewayServicesPath(gs))
}

func configuredPath(org, catalog string, more ...string) string {
	return path(append([]string{"catalogs", org, catalog, "configured-gateway-services"}, more...)...)
}

// ConfiguredGatewayServices lists the gateway services a catalog uses.
func (c *Client) ConfiguredGatewayServices(ctx context.Context, org, catalog string, o ListOptions) ([]ConfiguredGatewayService, int, error) {
	return list[ConfiguredGatewayService](ctx, c, configuredPath(org, catalog), o)
}

// ConfiguredGatewayService gets one gateway service of a catalog, by the
// gateway service's name or ID.
func (c *Client) ConfiguredGatewayService(ctx context.Context, org, catalog, gs string) (ConfiguredGatewayService, error) {
	var out ConfiguredGatewayService
	err := c.get(ctx, configuredPath(org, catalog, gs), nil, &out)
	return out, err
}

// ConfigureGatewayService makes a catalog use a gateway service, named by
// its URL, name or ID (org administrators).
func (c *Client) ConfigureGatewayService(ctx context.Context, org, catalog, gs string) (ConfiguredGatewayService, error) {
	var out ConfiguredGatewayService
	err := c.send(ctx, http.MethodPost, configuredPath(org, catalog), map[string]string{"gateway_service_url": gs}, &out)
	return out, err
}

// UnconfigureGatewayService stops a catalog using a gateway service.
func (c *Client) UnconfigureGatewayService(ctx context.Context, org, catalog, gs string) error {
	return c.del(ctx, configuredPath(org, catalog, gs))
}
