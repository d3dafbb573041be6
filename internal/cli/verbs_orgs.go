package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/client"
)

// createRequestArg reads what to create: a YAML or JSON file with name,
// title and summary (as apic's create verbs take), or just the name.
// --title and --summary win over the file.
func createRequestArg(arg, title, summary string) (client.CreateRequest, error) {
	req := client.CreateRequest{Name: arg}
	if apidef.IsDocumentFile(arg) {
		data, err := os.ReadFile(arg)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return req, err
		}
		if err == nil {
			req = client.CreateRequest{}
			if err := yaml.Unmarshal(data, &struct {
				Name    *string `yaml:"name"`
				Title   *string `yaml:"title"`
				Summary *string `yaml:"summary"`
			}{&req.Name, &req.Title, &req.Summary}); err != nil {
				return req, usageError{fmt.Errorf("%s: %v", arg, err)}
			}
			if req.Name == "" {
				return req, usageError{fmt.Errorf("%s: no name: the file needs name: (and may have title: and summary:)", arg)}
			}
		}
	}
	if title != "" {
		req.Title = title
	}
	if summary != "" {
		req.Summary = summary
	}
	return req, nil
}

func orgsGroup() group {
	return group{name: "orgs", short: "Provider orgs (orgs --my lists yours)", list: newOrgsListCmd,
		verbs: []func() *cobra.Command{newOrgsGetCmd, newOrgsCreateCmd}}
}

func newOrgsListCmd() *cobra.Command {
	var my bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List provider orgs",
		Long: `List the provider orgs you may see: all of them for a cloud administrator,
else those you are a member of. --my lists only those you are a member of.`,
		Example: `  portico orgs --my --server https://manager.example.com
  portico orgs:list --format json | jq -r '.results[].name'`,
		Args: cobra.NoArgs,
	}
	s := addScope(cmd, 0)
	cmd.Flags().BoolVar(&my, "my", false, "only the orgs you are a member of")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			orgs, total, err := listAll(func(o client.ListOptions) ([]client.Org, int, error) { return c.Orgs(ctx, o) })
			if err != nil {
				return err
			}
			if my {
				if orgs, err = myOrgs(ctx, c, orgs); err != nil {
					return err
				}
				total = len(orgs)
			}
			return printList(cmd.OutOrStdout(), s.format, orgs, total)
		})
	}
	return cmd
}

// myOrgs keeps the orgs the caller is a member of (a cloud admin sees
// every org, member or not).
func myOrgs(ctx context.Context, c *client.Client, orgs []client.Org) ([]client.Org, error) {
	me, err := c.Me(ctx)
	if err != nil {
		return nil, err
	}
	mine := []client.Org{}
	for _, o := range orgs {
		members, _, err := listAll(func(lo client.ListOptions) ([]client.Member, int, error) { return c.Members(ctx, o.ID, lo) })
		if client.IsForbidden(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(members, func(m client.Member) bool { return m.ID == me.ID }) {
			mine = append(mine, o)
		}
	}
	return mine, nil
}

func newOrgsGetCmd() *cobra.Command {
	return getCmd("get NAME|ID", "Show a provider org", "  portico orgs:get acme --format json", 0,
		func(ctx context.Context, c *client.Client, _ *scope, ref string) (any, error) { return c.Org(ctx, ref) })
}

func newOrgsCreateCmd() *cobra.Command {
	return createCmd("create NAME|FILE", "Make a provider org with its sandbox catalog (cloud administrators)",
		`  portico orgs:create acme --title "ACME Inc."
  portico orgs:create org.yaml`, 0,
		func(ctx context.Context, c *client.Client, _ *scope, req client.CreateRequest) (any, error) {
			return c.CreateOrg(ctx, req)
		})
}

func catalogsGroup() group {
	return group{name: "catalogs", short: "Catalogs of a provider org", list: newCatalogsListCmd,
		verbs: []func() *cobra.Command{newCatalogsGetCmd, newCatalogsCreateCmd}}
}

func newCatalogsListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the catalogs of an org",
		Example: `  portico catalogs --org acme`,
		Args:    cobra.NoArgs,
	}
	s := addScope(cmd, needOrg)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			cats, total, err := listAll(func(o client.ListOptions) ([]client.Catalog, int, error) { return c.Catalogs(ctx, s.org, o) })
			if err != nil {
				return err
			}
			return printList(cmd.OutOrStdout(), s.format, cats, total)
		})
	}
	return cmd
}

func newCatalogsGetCmd() *cobra.Command {
	return getCmd("get CATALOG", "Show a catalog, by name or ID", "  portico catalogs:get sandbox --org acme --format json", needOrg,
		func(ctx context.Context, c *client.Client, s *scope, ref string) (any, error) {
			return c.Catalog(ctx, s.org, ref)
		})
}

func newCatalogsCreateCmd() *cobra.Command {
	return createCmd("create NAME|FILE", "Make a catalog in an org (org administrators)",
		`  portico catalogs:create production --org acme --title Production`, needOrg,
		func(ctx context.Context, c *client.Client, s *scope, req client.CreateRequest) (any, error) {
			return c.CreateCatalog(ctx, s.org, req)
		})
}
