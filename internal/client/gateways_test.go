package client_test

import (
	"context"
	"testing"

	"github.com/portico-api/portico/internal/client"
	"github.com/portico-api/portico/internal/client/clienttest"
)

func TestGatewayServices(t *testing.T) {
	cs := clienttest.NewGatewayServer(t)
	ctx := context.Background()
	admin := client.New(cs.Server.URL, client.WithToken("admin"))
	viewer := client.New(cs.Server.URL, client.WithToken("viewer"))

	gs, err := admin.CreateGatewayService(ctx, client.GatewayServiceRequest{Name: "gw1", Title: "Gateway 1",
		Endpoint: "https://gw1.internal:3000", APIEndpointBase: "https://api.example.com",
		ClientCertificate: "-----BEGIN CERTIFICATE-----\n", ClientKey: "-----BEGIN PRIVATE KEY-----\n", CABundle: "ca"})
	if err != nil || gs.Name != "gw1" || gs.Type != "gateway_service" || gs.Endpoint != "https://gw1.internal:3000" ||
		gs.APIEndpointBase != "https://api.example.com" || gs.PushStatus.State != "outstanding" || gs.PushStatus.OutstandingChanges != 2 ||
		gs.PushStatus.LastPush != nil || gs.CreatedAt.IsZero() {
		t.Fatalf("CreateGatewayService: %+v %v", gs, err)
	}
	if b := cs.Bodies()[0]; b["client_key"] != "-----BEGIN PRIVATE KEY-----\n" || b["catalog_default"] != false || b["name"] != "gw1" {
		t.Fatalf("the create body: %v", b)
	}
	_, err = viewer.CreateGatewayService(ctx, client.GatewayServiceRequest{Name: "gw2"})
	wantError(t, err, 403, "your role does not allow this")
	_, _, err = client.New(cs.Server.URL).GatewayServices(ctx, client.ListOptions{})
	wantError(t, err, 401, "bearer token")

	list, total, err := viewer.GatewayServices(ctx, client.ListOptions{})
	if err != nil || total != 1 || list[0].ID != "id-gw1" {
		t.Fatalf("GatewayServices: %+v %v", list, err)
	}
	if got, err := viewer.GatewayService(ctx, "gw1"); err != nil || got.URL != gs.URL {
		t.Fatalf("GatewayService: %+v %v", got, err)
	}
	yes, title := true, "Renamed"
	up, err := admin.UpdateGatewayService(ctx, "gw1", client.GatewayServiceUpdate{Title: &title, CatalogDefault: &yes})
	if err != nil || up.Title != "Renamed" || !up.CatalogDefault || up.Endpoint != gs.Endpoint {
		t.Fatalf("UpdateGatewayService: %+v %v", up, err)
	}
	if b := cs.Bodies()[len(cs.Bodies())-1]; len(b) != 2 {
		t.Fatalf("a PATCH sends only the changed fields: %v", b)
	}

	cfg, err := admin.ConfigureGatewayService(ctx, "acme", "sandbox", gs.URL)
	if err != nil || cfg.Type != "configured_gateway_service" || cfg.GatewayServiceURL != gs.URL || cfg.CatalogVersion != 3 ||
		cfg.PushedVersion != 2 || cfg.State != "outstanding" || cfg.LastPush == nil {
		t.Fatalf("ConfigureGatewayService: %+v %v", cfg, err)
	}
	if cl, total, err := viewer.ConfiguredGatewayServices(ctx, "acme", "sandbox", client.ListOptions{}); err != nil || total != 1 || cl[0].Name != "gw1" {
		t.Fatalf("ConfiguredGatewayServices: %+v %v", cl, err)
	}
	if one, err := viewer.ConfiguredGatewayService(ctx, "acme", "sandbox", "gw1"); err != nil || one.OutstandingChanges != 1 {
		t.Fatalf("ConfiguredGatewayService: %+v %v", one, err)
	}
	err = admin.DeleteGatewayService(ctx, "gw1")
	if !client.IsConflict(err) {
		t.Fatalf("deleting a used gateway service: %v", err)
	}
	if err := admin.UnconfigureGatewayService(ctx, "acme", "sandbox", "gw1"); err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteGatewayService(ctx, "gw1"); err != nil {
		t.Fatal(err)
	}
	_, err = viewer.GatewayService(ctx, "gw1")
	wantError(t, err, 404, "gateway service gw1 not found")
}
