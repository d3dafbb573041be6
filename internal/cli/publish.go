package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/client"
)

func newProductsPublishCmd() *cobra.Command {
	var stage bool
	cmd := &cobra.Command{
		Use:   "publish FILE|DIR",
		Short: "Publish a product file with the APIs it names, or every product in a folder",
		Long: `Publish a product (product: 1.0.0) with the API files its apis: entries name
($ref: file, relative to the product; or name: api:1.0.0, found among the API
files beside it). Given a folder, every product in it (and its subfolders) is
published in turn, with progress on standard error; other files, such as
catalog.yaml, are skipped. The documents are checked first; a problem names
file:line. Publishing stops at the first product the manager refuses.`,
		Example: `  portico products:publish weather-product_1.0.0.yaml --org acme --catalog sandbox
  portico products:publish products/ --org acme --catalog production --stage`,
		Args: cobra.ExactArgs(1),
	}
	s := addScope(cmd, needOrg|needCatalog)
	cmd.Flags().BoolVar(&stage, "stage", false, "store the products staged (not yet callable) instead of published")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		items, err := gatherPublish(args[0])
		if err != nil {
			return err
		}
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			done, err := publishAll(ctx, c, s, cmd.ErrOrStderr(), args[0], items, stage)
			if err != nil {
				return err
			}
			if len(items) == 1 && s.format != "" {
				return writeFormatted(cmd.OutOrStdout(), s.format, done[0])
			}
			return printList(cmd.OutOrStdout(), s.format, done, len(done))
		})
	}
	return cmd
}

// publishItem is one product to publish with the API files it names.
type publishItem struct {
	product client.File
	ref     string // name:version
	apis    []client.File
	apiRefs []string // name:version of each API
}

// publishAll publishes the items one by one, showing progress on w.
func publishAll(ctx context.Context, c *client.Client, s *scope, w io.Writer, from string, items []publishItem, stage bool) ([]client.Product, error) {
	verb := "published"
	if stage {
		verb = "staged"
	}
	fmt.Fprintf(w, "Publishing %d %s from %s to %s/%s\n", len(items), plural(len(items), "product"), from, s.org, s.catalog)
	publish := c.Publish
	if stage {
		publish = c.Stage
	}
	done := []client.Product{}
	for i, it := range items {
		fmt.Fprintf(w, "[%d/%d] %s (%d %s: %s) ...", i+1, len(items), it.ref, len(it.apis), plural(len(it.apis), "API"), strings.Join(it.apiRefs, ", "))
		start := time.Now()
		p, err := publish(ctx, s.org, s.catalog, it.product, it.apis...)
		if err != nil {
			fmt.Fprintln(w, " failed")
			return done, fmt.Errorf("publishing %s (%s, %d of %d; %d %s before it): %w",
				it.ref, it.product.Name, i+1, len(items), len(done), verb, s.explain(err))
		}
		fmt.Fprintf(w, " %s (%s)\n", p.State, time.Since(start).Round(time.Millisecond))
		done = append(done, p)
	}
	return done, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// gatherPublish reads a product file, or every product in a folder, with
// the API files each one names.
func gatherPublish(path string) ([]publishItem, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var products, pool []*apidef.Document
	if info.IsDir() {
		docs, err := readDocuments(path, true)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			switch d.Kind {
			case apidef.KindProduct:
				products = append(products, d)
			case apidef.KindAPI:
				pool = append(pool, d)
			}
		}
		if len(products) == 0 {
			return nil, fmt.Errorf("%s: no product documents (product: 1.0.0) in the folder", path)
		}
	} else {
		d, err := apidef.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if d.Kind != apidef.KindProduct {
			return nil, usageError{fmt.Errorf("%s is not a product document (product: 1.0.0); publish a product, which names its APIs", path)}
		}
		products = []*apidef.Document{d}
		// APIs named by name:version are looked for beside the product;
		// files there that do not parse are not its business.
		docs, _ := readDocuments(filepath.Dir(path), false)
		for _, d := range docs {
			if d.Kind == apidef.KindAPI {
				pool = append(pool, d)
			}
		}
	}
	byRef := map[string]*apidef.Document{}
	for _, d := range pool {
		if api, ps := apidef.LoadAPI(d); api != nil && len(ps.Errors()) == 0 {
			byRef[api.Ref()] = d
		}
	}
	var items []publishItem
	for _, d := range products {
		it, err := productItem(d, byRef)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}

// productItem resolves one product's APIs to files.
func productItem(d *apidef.Document, byRef map[string]*apidef.Document) (publishItem, error) {
	def, ps := apidef.LoadProduct(d)
	if errs := ps.Errors(); len(errs) > 0 {
		return publishItem{}, errs
	}
	data, err := os.ReadFile(d.File)
	if err != nil {
		return publishItem{}, err
	}
	it := publishItem{product: client.File{Name: filepath.Base(d.File), Data: data}, ref: def.Ref()}
	keys := make([]string, 0, len(def.APIs))
	for k := range def.APIs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	seen := map[string]bool{}
	for _, k := range keys {
		pa := def.APIs[k]
		file := pa.File
		if file == "" {
			api := byRef[pa.Name]
			if api == nil {
				return publishItem{}, apidef.Problems{pa.Node.Problem(fmt.Sprintf("API %s of the product is not among the API files beside it", pa.Name),
					"put its file in the folder, or name it by $ref: file")}
			}
			file = api.File
		}
		if seen[file] {
			continue
		}
		seen[file] = true
		apiDoc, err := apidef.ReadFile(file)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), "no such file") {
				return publishItem{}, apidef.Problems{pa.Node.Problem(fmt.Sprintf("API %q of the product: %s does not exist", k, file), "fix the $ref path (it is relative to the product file)")}
			}
			return publishItem{}, err
		}
		api, aps := apidef.LoadAPI(apiDoc)
		if errs := aps.Errors(); len(errs) > 0 {
			return publishItem{}, errs
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return publishItem{}, err
		}
		it.apis = append(it.apis, client.File{Name: filepath.Base(file), Data: data})
		it.apiRefs = append(it.apiRefs, api.Ref())
	}
	return it, nil
}

// readDocuments parses the YAML and JSON files of dir (and, when deep, its
// subfolders), sorted by path. A file that does not parse is an error
// naming its line.
func readDocuments(dir string, deep bool) ([]*apidef.Document, error) {
	var docs []*apidef.Document
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if p != dir && (!deep || strings.HasPrefix(e.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !apidef.IsDocumentFile(p) {
			return nil
		}
		d, err := apidef.ReadFile(p)
		if err != nil {
			return err
		}
		docs = append(docs, d)
		return nil
	})
	return docs, err
}
