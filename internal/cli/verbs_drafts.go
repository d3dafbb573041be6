package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/client"
)

// draftKind binds the draft verbs to draft APIs or draft products.
type draftKind struct {
	group, noun, field, example string
	list                        func(c *client.Client, ctx context.Context, org string, o client.ListOptions) ([]client.Draft, int, error)
	get                         func(c *client.Client, ctx context.Context, org, ref string) (client.Draft, error)
	create                      func(c *client.Client, ctx context.Context, org string, doc []byte) (client.Draft, error)
	update                      func(c *client.Client, ctx context.Context, org, ref string, doc []byte) (client.Draft, error)
	del                         func(c *client.Client, ctx context.Context, org, ref string) error
}

var (
	draftAPIKind = draftKind{group: "draft-apis", noun: "draft API", field: "draft_api", example: "weather_1.0.0.yaml",
		list: (*client.Client).DraftAPIs, get: (*client.Client).DraftAPI, create: (*client.Client).CreateDraftAPI,
		update: (*client.Client).UpdateDraftAPI, del: (*client.Client).DeleteDraftAPI}
	draftProductKind = draftKind{group: "draft-products", noun: "draft product", field: "draft_product", example: "weather-product_1.0.0.yaml",
		list: (*client.Client).DraftProducts, get: (*client.Client).DraftProduct, create: (*client.Client).CreateDraftProduct,
		update: (*client.Client).UpdateDraftProduct, del: (*client.Client).DeleteDraftProduct}
)

func draftAPIsGroup() group {
	k := draftAPIKind
	return group{name: k.group, short: "Draft APIs of a provider org (OpenAPI with x-ibm-configuration)", list: k.listCmd,
		verbs: []func() *cobra.Command{k.getCmd, k.createCmd, k.updateCmd, k.deleteCmd}}
}

func draftProductsGroup() group {
	k := draftProductKind
	return group{name: k.group, short: "Draft products of a provider org; draft-products:publish publishes one", list: k.listCmd,
		verbs: []func() *cobra.Command{k.getCmd, k.createCmd, k.updateCmd, k.deleteCmd, newDraftProductsPublishCmd}}
}

func (k draftKind) listCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the " + k.noun + "s of an org",
		Example: fmt.Sprintf("  portico %s:list --org acme", k.group),
		Args:    cobra.NoArgs,
	}
	s := addScope(cmd, needOrg)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			ds, total, err := listAll(func(o client.ListOptions) ([]client.Draft, int, error) { return k.list(c, ctx, s.org, o) })
			if err != nil {
				return err
			}
			return printList(cmd.OutOrStdout(), s.format, ds, total)
		})
	}
	return cmd
}

func (k draftKind) getCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get NAME:VERSION|ID",
		Short: "Show a " + k.noun + " with its document, or write the document to a file",
		Example: fmt.Sprintf(`  portico %s:get %s --org acme
  portico %[1]s:get %[2]s --org acme --output .   # writes ./%[3]s`, k.group, refOf(k.example), k.example),
		Args: cobra.ExactArgs(1),
	}
	s := addScope(cmd, needOrg)
	cmd.Flags().StringVar(&output, "output", "", "write the document as YAML to this file, or into this folder as NAME_VERSION.yaml")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			d, err := k.get(c, ctx, s.org, args[0])
			if err != nil {
				return err
			}
			if output != "" {
				return writeDocument(cmd, output, d)
			}
			obj, err := withFields(d, map[string]any{k.field: json.RawMessage(d.Document)})
			if err != nil {
				return err
			}
			return printObject(cmd.OutOrStdout(), s.format, obj)
		})
	}
	return cmd
}

// writeDocument writes a draft's document as YAML, as apic's get writes
// files.
func writeDocument(cmd *cobra.Command, output string, d client.Draft) error {
	data, err := jsonToYAML(d.Document)
	if err != nil {
		return err
	}
	path := output
	if info, err := os.Stat(output); err == nil && info.IsDir() {
		path = filepath.Join(output, d.Name+"_"+d.Version+".yaml")
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", path)
	return nil
}

func refOf(file string) string {
	stem := file[:len(file)-len(filepath.Ext(file))]
	for i := len(stem) - 1; i >= 0; i-- {
		if stem[i] == '_' {
			return stem[:i] + ":" + stem[i+1:]
		}
	}
	return stem
}

func (k draftKind) createCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "create FILE",
		Short:   "Upload a " + k.noun + " from a YAML or JSON file",
		Example: fmt.Sprintf("  portico %s:create %s --org acme", k.group, k.example),
		Args:    cobra.ExactArgs(1),
	}
	s := addScope(cmd, needOrg)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		doc, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			d, err := k.create(c, ctx, s.org, doc)
			if err != nil {
				return err
			}
			return printRow(cmd.OutOrStdout(), s.format, d)
		})
	}
	return cmd
}

func (k draftKind) updateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "update NAME:VERSION|ID FILE",
		Short:   "Replace a " + k.noun + "'s document (its name and version follow the file)",
		Example: fmt.Sprintf("  portico %s:update %s %s --org acme", k.group, refOf(k.example), k.example),
		Args:    cobra.ExactArgs(2),
	}
	s := addScope(cmd, needOrg)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		doc, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			d, err := k.update(c, ctx, s.org, args[0], doc)
			if err != nil {
				return err
			}
			return printRow(cmd.OutOrStdout(), s.format, d)
		})
	}
	return cmd
}

func (k draftKind) deleteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "delete NAME:VERSION|ID",
		Short:   "Delete a " + k.noun,
		Example: fmt.Sprintf("  portico %s:delete %s --org acme", k.group, refOf(k.example)),
		Args:    cobra.ExactArgs(1),
	}
	s := addScope(cmd, needOrg)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			if err := k.del(c, ctx, s.org, args[0]); err != nil {
				return err
			}
			return printDeleted(cmd, s.format, k.noun, args[0])
		})
	}
	return cmd
}

// printDeleted confirms a deletion: a line, or {"deleted": ref}.
func printDeleted(cmd *cobra.Command, format, noun, ref string) error {
	if format != "" {
		return writeFormatted(cmd.OutOrStdout(), format, map[string]string{"deleted": ref})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Deleted %s %s\n", noun, ref)
	return nil
}

func newDraftProductsPublishCmd() *cobra.Command {
	var stage bool
	cmd := &cobra.Command{
		Use:   "publish NAME:VERSION|ID",
		Short: "Publish a draft product, with the org's draft APIs it names, to a catalog",
		Example: `  portico draft-products:publish weather-product:1.0.0 --org acme --catalog sandbox
  portico draft-products:publish weather-product:1.0.0 --org acme --catalog production --stage`,
		Args: cobra.ExactArgs(1),
	}
	s := addScope(cmd, needOrg|needCatalog)
	cmd.Flags().BoolVar(&stage, "stage", false, "store the product staged (not yet callable) instead of published")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			p, err := c.PublishDraftProduct(ctx, s.org, args[0], s.catalog, stage)
			if err != nil {
				return err
			}
			return printRow(cmd.OutOrStdout(), s.format, p)
		})
	}
	return cmd
}
