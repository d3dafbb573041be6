package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/portico-api/portico/internal/client"
)

// Gateway services are cloud-wide (in the admin org); configuring one for
// a catalog makes the catalog's products reach it.

func gatewayServicesGroup() group {
	const cfgEx = " --org acme --catalog sandbox"
	return group{name: "gateway-services", short: "Gateways the manager pushes catalogs to; configure one for a catalog", list: func() *cobra.Command {
		return simpleCmd("list", "List the gateway services with their push state", "  portico gateway-services:list", 0, cobra.NoArgs,
			func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, _ []string) error {
				gs, total, err := listAll(func(o client.ListOptions) ([]client.GatewayService, int, error) { return c.GatewayServices(ctx, o) })
				if err != nil {
					return err
				}
				return printList(cmd.OutOrStdout(), s.format, gs, total)
			})
	}, verbs: []func() *cobra.Command{
		func() *cobra.Command {
			return simpleCmd("get GATEWAY_SERVICE", "Show a gateway service and its push status", "  portico gateway-services:get gw1 --format json", 0, cobra.ExactArgs(1),
				func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
					g, err := c.GatewayService(ctx, args[0])
					if err != nil {
						return err
					}
					return printObject(cmd.OutOrStdout(), s.format, g)
				})
		},
		func() *cobra.Command { return newGatewayServiceWriteCmd(false) },
		func() *cobra.Command { return newGatewayServiceWriteCmd(true) },
		func() *cobra.Command {
			return simpleCmd("delete GATEWAY_SERVICE", "Remove a gateway service (refused while a catalog uses it)", "  portico gateway-services:delete gw1", 0, cobra.ExactArgs(1),
				func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
					if err := c.DeleteGatewayService(ctx, args[0]); err != nil {
						return err
					}
					return printDeleted(cmd, s.format, "gateway service", args[0])
				})
		},
		func() *cobra.Command {
			return newConfigureCmd("configure GATEWAY_SERVICE", "  portico gateway-services:configure gw1"+cfgEx)
		},
		func() *cobra.Command {
			return newUnconfigureCmd("unconfigure GATEWAY_SERVICE", "  portico gateway-services:unconfigure gw1"+cfgEx)
		},
	}}
}

// configuredGatewayServicesGroup is apic's name for a catalog's gateway
// services.
func configuredGatewayServicesGroup() group {
	const ex = " --org acme --catalog sandbox"
	return group{name: "configured-gateway-services", short: "The gateway services a catalog uses, with how far its pushes got", list: func() *cobra.Command {
		return simpleCmd("list", "List the gateway services a catalog uses", "  portico configured-gateway-services:list"+ex, catalogScope, cobra.NoArgs,
			func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, _ []string) error {
				gs, total, err := listAll(func(o client.ListOptions) ([]client.ConfiguredGatewayService, int, error) {
					return c.ConfiguredGatewayServices(ctx, s.org, s.catalog, o)
				})
				if err != nil {
					return err
				}
				return printList(cmd.OutOrStdout(), s.format, gs, total)
			})
	}, verbs: []func() *cobra.Command{
		func() *cobra.Command {
			return simpleCmd("get GATEWAY_SERVICE", "Show a catalog's gateway service and its push state", "  portico configured-gateway-services:get gw1"+ex, catalogScope, cobra.ExactArgs(1),
				func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
					g, err := c.ConfiguredGatewayService(ctx, s.org, s.catalog, args[0])
					if err != nil {
						return err
					}
					return printObject(cmd.OutOrStdout(), s.format, g)
				})
		},
		func() *cobra.Command {
			return newConfigureCmd("create GATEWAY_SERVICE", "  portico configured-gateway-services:create gw1"+ex)
		},
		func() *cobra.Command {
			return newUnconfigureCmd("delete GATEWAY_SERVICE", "  portico configured-gateway-services:delete gw1"+ex)
		},
	}}
}

func newConfigureCmd(use, example string) *cobra.Command {
	return simpleCmd(use, "Make a catalog use a gateway service (by name, ID or URL)", example, catalogScope, cobra.ExactArgs(1),
		func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
			g, err := c.ConfigureGatewayService(ctx, s.org, s.catalog, args[0])
			if err != nil {
				return err
			}
			return printRow(cmd.OutOrStdout(), s.format, g)
		})
}

func newUnconfigureCmd(use, example string) *cobra.Command {
	return simpleCmd(use, "Stop a catalog using a gateway service", example, catalogScope, cobra.ExactArgs(1),
		func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
			if err := c.UnconfigureGatewayService(ctx, s.org, s.catalog, args[0]); err != nil {
				return err
			}
			return printDeleted(cmd, s.format, "gateway service of "+s.org+"/"+s.catalog, args[0])
		})
}

// gatewayFields are the create and update flags; PEM flags name files.
type gatewayFields struct {
	name, title, summary, endpoint, apiBase, cert, key, ca string
	catalogDefault                                         bool
}

func (g *gatewayFields) flags(f *pflag.FlagSet) {
	f.StringVar(&g.name, "name", "", "the gateway service's name")
	f.StringVar(&g.title, "title", "", "its title")
	f.StringVar(&g.summary, "summary", "", "a summary")
	f.StringVar(&g.endpoint, "endpoint", "", "the gateway's management endpoint (portico gateway --management-listen), https://HOST:PORT")
	f.StringVar(&g.apiBase, "api-endpoint-base", "", "where APIs are called, e.g. https://api.example.com")
	f.StringVar(&g.cert, "client-cert", "", "PEM file: the certificate the manager presents to the gateway")
	f.StringVar(&g.key, "client-key", "", "PEM file: its private key")
	f.StringVar(&g.ca, "ca-bundle", "", "PEM file: the CA that signed the gateway's management certificate")
	f.BoolVar(&g.catalogDefault, "catalog-default", false, "new catalogs use this gateway service")
}

// newGatewayServiceWriteCmd is gateway-services:create (update false) or
// gateway-services:update.
func newGatewayServiceWriteCmd(update bool) *cobra.Command {
	var g gatewayFields
	cmd := &cobra.Command{
		Use:   "create [FILE]",
		Short: "Register a gateway service (cloud administrators)",
		Long: `Register a gateway service from apic's file (name, title, endpoint,
api_endpoint_base, client_certificate, client_key, ca_bundle, catalog_default),
from flags, or both (flags win). PEM flags name files.`,
		Example: `  portico gateway-services:create --name gw1 --endpoint https://gw1.internal:9443 \
      --api-endpoint-base https://api.example.com \
      --client-cert certs/manager.pem --client-key certs/manager-key.pem --ca-bundle certs/ca.pem
  portico gateway-services:create gw1.yaml`,
		Args: cobra.MaximumNArgs(1),
	}
	if update {
		cmd.Use = "update GATEWAY_SERVICE"
		cmd.Short = "Change a gateway service: only the flags given"
		cmd.Long = "Change the fields given as flags; the others stay. PEM flags name files."
		cmd.Example = `  portico gateway-services:update gw1 --api-endpoint-base https://api2.example.com
  portico gateway-services:update gw1 --client-cert new.pem --client-key new-key.pem`
		cmd.Args = cobra.ExactArgs(1)
	}
	s := addScope(cmd, 0)
	g.flags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		u, err := g.update(cmd.Flags())
		if err != nil {
			return err
		}
		if update {
			if u == (client.GatewayServiceUpdate{}) {
				return usageError{errors.New("nothing to change: give the flags of the fields to change")}
			}
			return s.run(cmd, func(ctx context.Context, c *client.Client) error {
				gs, err := c.UpdateGatewayService(ctx, args[0], u)
				if err != nil {
					return err
				}
				return printRow(cmd.OutOrStdout(), s.format, gs)
			})
		}
		var req client.GatewayServiceRequest
		if len(args) == 1 {
			if req, err = readGatewayFile(args[0]); err != nil {
				return err
			}
		}
		overlay(&req, u)
		if req.Name == "" || req.Endpoint == "" || req.APIEndpointBase == "" {
			return usageError{errors.New("a gateway service needs a name, an endpoint and an API endpoint base: --name, --endpoint, --api-endpoint-base (or a file)")}
		}
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			gs, err := c.CreateGatewayService(ctx, req)
			if err != nil {
				return err
			}
			return printRow(cmd.OutOrStdout(), s.format, gs)
		})
	}
	return cmd
}

// update turns the flags given into an update, reading PEM files.
func (g *gatewayFields) update(f *pflag.FlagSet) (client.GatewayServiceUpdate, error) {
	var u client.GatewayServiceUpdate
	str := func(flag, v string) *string {
		if !f.Changed(flag) {
			return nil
		}
		return &v
	}
	u.Name, u.Title, u.Summary = str("name", g.name), str("title", g.title), str("summary", g.summary)
	u.Endpoint, u.APIEndpointBase = str("endpoint", g.endpoint), str("api-endpoint-base", g.apiBase)
	for flag, dst := range map[string]**string{"client-cert": &u.ClientCertificate, "client-key": &u.ClientKey, "ca-bundle": &u.CABundle} {
		if !f.Changed(flag) {
			continue
		}
		file, _ := f.GetString(flag)
		data, err := os.ReadFile(file)
		if err != nil {
			return u, fmt.Errorf("--%s: %w", flag, err)
		}
		text := string(data)
		*dst = &text
	}
	if f.Changed("catalog-default") {
		u.CatalogDefault = &g.catalogDefault
	}
	return u, nil
}

func overlay(req *client.GatewayServiceRequest, u client.GatewayServiceUpdate) {
	for _, p := range []struct {
		src *string
		dst *string
	}{{u.Name, &req.Name}, {u.Title, &req.Title}, {u.Summary, &req.Summary}, {u.Endpoint, &req.Endpoint},
		{u.APIEndpointBase, &req.APIEndpointBase}, {u.ClientCertificate, &req.ClientCertificate}, {u.ClientKey, &req.ClientKey}, {u.CABundle, &req.CABundle}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	if u.CatalogDefault != nil {
		req.CatalogDefault = *u.CatalogDefault
	}
}

func readGatewayFile(file string) (client.GatewayServiceRequest, error) {
	var req client.GatewayServiceRequest
	data, err := os.ReadFile(file)
	if err != nil {
		return req, err
	}
	var y struct {
		Name              string `yaml:"name"`
		Title             string `yaml:"title"`
		Summary           string `yaml:"summary"`
		Endpoint          string `yaml:"endpoint"`
		APIEndpointBase   string `yaml:"api_endpoint_base"`
		ClientCertificate string `yaml:"client_certificate"`
		ClientKey         string `yaml:"client_key"`
		CABundle          string `yaml:"ca_bundle"`
		CatalogDefault    bool   `yaml:"catalog_default"`
	}
	if err := yaml.Unmarshal(data, &y); err != nil {
		return req, usageError{fmt.Errorf("%s: %v", file, err)}
	}
	return client.GatewayServiceRequest(y), nil
}
