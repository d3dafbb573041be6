package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/portico-api/portico/internal/client"
)

func productsGroup() group {
	return group{name: "products", short: "Products of a catalog: publish, lifecycle, replace and supersede", list: newProductsListCmd,
		verbs: []func() *cobra.Command{newProductsGetCmd, newProductsPublishCmd, newProductsSetCmd,
			func() *cobra.Command { return newMigrateCmd("replace") }, func() *cobra.Command { return newMigrateCmd("supersede") },
			newProductsDeleteCmd}}
}

func newProductsDeleteCmd() *cobra.Command {
	return simpleCmd("delete NAME:VERSION|ID", "Delete a staged, retired or archived product without subscriptions",
		"  portico products:set weather-product:1.0.0 --state retired --org acme --catalog sandbox\n"+
			"  portico products:delete weather-product:1.0.0 --org acme --catalog sandbox", needOrg|needCatalog, cobra.ExactArgs(1),
		func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
			if err := c.DeleteProduct(ctx, s.org, s.catalog, args[0]); err != nil {
				return err
			}
			return printDeleted(cmd, s.format, "product", args[0])
		})
}

func newProductsListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the products of a catalog",
		Example: `  portico products:list --org acme --catalog sandbox`,
		Args:    cobra.NoArgs,
	}
	s := addScope(cmd, needOrg|needCatalog)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			ps, total, err := listAll(func(o client.ListOptions) ([]client.Product, int, error) { return c.Products(ctx, s.org, s.catalog, o) })
			if err != nil {
				return err
			}
			return printList(cmd.OutOrStdout(), s.format, ps, total)
		})
	}
	return cmd
}

func newProductsGetCmd() *cobra.Command {
	return getCmd("get NAME:VERSION|ID", "Show a product of a catalog",
		"  portico products:get weather-product:1.0.0 --org acme --catalog sandbox", needOrg|needCatalog,
		func(ctx context.Context, c *client.Client, s *scope, ref string) (any, error) {
			return c.Product(ctx, s.org, s.catalog, ref)
		})
}

func newProductsSetCmd() *cobra.Command {
	var state, title, summary string
	cmd := &cobra.Command{
		Use:   "set NAME:VERSION|ID",
		Short: "Change a product's state (deprecate, retire, …), title or summary",
		Long: `Move a product along its lifecycle (staged → published → deprecated → retired
→ archived; deprecated and retired products may be published again), or change
its title or summary. Retiring a product stops its APIs at the gateway.`,
		Example: `  portico products:set weather-product:1.0.0 --state deprecated --org acme --catalog sandbox
  portico products:set weather-product:1.0.0 --title "Weather (old)"`,
		Args: cobra.ExactArgs(1),
	}
	s := addScope(cmd, needOrg|needCatalog)
	f := cmd.Flags()
	f.StringVar(&state, "state", "", "published, deprecated, retired or archived")
	f.StringVar(&title, "title", "", "a new title")
	f.StringVar(&summary, "summary", "", "a new summary")
	cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions([]string{"published", "deprecated", "retired", "archived"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		u := client.ProductUpdate{State: state}
		if f.Changed("title") {
			u.Title = &title
		}
		if f.Changed("summary") {
			u.Summary = &summary
		}
		if u.State == "" && u.Title == nil && u.Summary == nil {
			return usageError{errors.New("nothing to change: give --state, --title or --summary")}
		}
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			p, err := c.UpdateProduct(ctx, s.org, s.catalog, args[0], u)
			if err != nil {
				return err
			}
			return printRow(cmd.OutOrStdout(), s.format, p)
		})
	}
	return cmd
}

// newMigrateCmd is products:replace or products:supersede.
func newMigrateCmd(verb string) *cobra.Command {
	var old string
	var plans []string
	oldState := map[string]string{"replace": "retired", "supersede": "deprecated"}[verb]
	cmd := &cobra.Command{
		Use:   verb + " NEW_PRODUCT [MAPPING_FILE]",
		Short: fmt.Sprintf("Publish a product in place of another, which becomes %s; subscriptions move", oldState),
		Long: fmt.Sprintf(`NEW_PRODUCT (name:version or ID, staged or published) takes the place of the old
product, which becomes %s. Every subscription of the old product moves to the
plan of the new one the mapping names, in one transaction. The mapping is
apic's mapping file:

  product_url: weather-product:1.0.0     # the old product: its URL, ID or name:version
  plans:
    - {source: gold, target: gold}

or, without a file, --old and one --plan SOURCE:TARGET per plan.`, oldState),
		Example: fmt.Sprintf(`  portico products:%s weather-product:2.0.0 mapping.yaml --org acme --catalog sandbox
  portico products:%[1]s weather-product:2.0.0 --old weather-product:1.0.0 --plan gold:gold --plan free:free`, verb),
		Args: cobra.RangeArgs(1, 2),
	}
	s := addScope(cmd, needOrg|needCatalog)
	cmd.Flags().StringVar(&old, "old", "", "the old product (name:version, ID or URL), instead of a mapping file")
	cmd.Flags().StringArrayVar(&plans, "plan", nil, "SOURCE:TARGET: move the old plan's subscriptions to the new plan (repeat per plan)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		m, err := planMapping(args[1:], old, plans)
		if err != nil {
			return err
		}
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			migrate := c.ReplaceProduct
			if verb == "supersede" {
				migrate = c.SupersedeProduct
			}
			p, err := migrate(ctx, s.org, s.catalog, args[0], m)
			if err != nil {
				return err
			}
			return printRow(cmd.OutOrStdout(), s.format, p)
		})
	}
	return cmd
}

func planMapping(file []string, old string, plans []string) (client.PlanMapping, error) {
	var m client.PlanMapping
	switch {
	case len(file) == 1 && (old != "" || len(plans) > 0):
		return m, usageError{errors.New("give a mapping file or --old and --plan, not both")}
	case len(file) == 1:
		data, err := os.ReadFile(file[0])
		if err != nil {
			return m, err
		}
		if err := yaml.Unmarshal(data, &m); err != nil {
			return m, usageError{fmt.Errorf("%s: %v", file[0], err)}
		}
		if m.ProductURL == "" {
			return m, usageError{fmt.Errorf("%s: no product_url: name the old product (its URL, ID or name:version)", file[0])}
		}
		return m, nil
	case old == "":
		return m, usageError{errors.New("name the old product: a mapping file, or --old NAME:VERSION with --plan SOURCE:TARGET")}
	}
	m.ProductURL = old
	for _, p := range plans {
		src, tgt, ok := strings.Cut(p, ":")
		if !ok || src == "" || tgt == "" {
			return m, usageError{fmt.Errorf("--plan %q: use SOURCE:TARGET, e.g. --plan gold:gold", p)}
		}
		m.Plans = append(m.Plans, client.PlanMap{Source: src, Target: tgt})
	}
	return m, nil
}

func apisGroup() group {
	return group{name: "apis", short: "APIs published in a catalog", list: newAPIsListCmd,
		verbs: []func() *cobra.Command{newAPIsGetCmd}}
}

func newAPIsListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the APIs of a catalog's products",
		Long: `List the APIs of a catalog's products as name:version, [state: online] when a
published or deprecated product holds it (the gateway serves it), and its
base path.`,
		Example: `  portico apis:list --org acme --catalog sandbox`,
		Args:    cobra.NoArgs,
	}
	s := addScope(cmd, needOrg|needCatalog)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			apis, err := c.CatalogAPIs(ctx, s.org, s.catalog)
			if err != nil {
				return err
			}
			return printList(cmd.OutOrStdout(), s.format, apis, len(apis))
		})
	}
	return cmd
}

func newAPIsGetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "get NAME:VERSION",
		Short:   "Show an API of a catalog and the products that hold it",
		Example: `  portico apis:get weather:1.0.0 --org acme --catalog sandbox`,
		Args:    cobra.ExactArgs(1),
	}
	s := addScope(cmd, needOrg|needCatalog)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			a, err := c.CatalogAPI(ctx, s.org, s.catalog, args[0])
			if err != nil {
				return err
			}
			return printObject(cmd.OutOrStdout(), s.format, a)
		})
	}
	return cmd
}
