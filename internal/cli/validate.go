package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/policy"
)

func newValidateCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Check API and product files offline",
		Long: `Check API Connect files (OpenAPI 2 or 3 with x-ibm-configuration, and products)
with the same loader and compiler the gateway uses. Folders are searched
recursively for .yaml, .yml and .json files. Each file prints OK or its
problems as file:line:column: field: message (what to do). The exit status is
1 when any problem was found.`,
		Example: `  portico validate examples/quickstart
  portico validate --format json api.yaml product.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError{fmt.Errorf("--format %q: use text or json", format)}
			}
			results := bundle.CheckPaths(args, policy.Builtins())
			var bad int
			for _, r := range results {
				if len(r.Problems.Errors()) > 0 {
					bad++
				}
			}
			if format == "json" {
				if err := writeValidateJSON(cmd.OutOrStdout(), results); err != nil {
					return err
				}
			} else {
				writeValidateText(cmd.OutOrStdout(), results, bad)
			}
			if bad > 0 {
				return errSilent
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func writeValidateText(w io.Writer, results []bundle.FileResult, bad int) {
	var apis, products, other int
	for _, r := range results {
		if errs := r.Problems.Errors(); len(errs) > 0 {
			for _, p := range r.Problems {
				fmt.Fprintln(w, p.Error())
			}
			continue
		}
		switch r.Kind {
		case apidef.KindAPI:
			apis++
			fmt.Fprintf(w, "OK %s\n", r.File)
		case apidef.KindProduct:
			products++
			fmt.Fprintf(w, "OK %s (product)\n", r.File)
		case apidef.KindCatalog, apidef.KindConsumers:
			fmt.Fprintf(w, "OK %s (%s)\n", r.File, r.Kind)
		default:
			other++
			fmt.Fprintf(w, "skipped %s (not an API or product document)\n", r.File)
		}
		for _, p := range r.Problems.Warnings() {
			fmt.Fprintln(w, "  "+p.Error())
		}
	}
	fmt.Fprintf(w, "%d files: %d APIs OK, %d products OK, %d with problems, %d skipped\n",
		len(results), apis, products, bad, other)
}

type jsonResult struct {
	File     string        `json:"file"`
	Kind     string        `json:"kind"`
	OK       bool          `json:"ok"`
	Problems []jsonProblem `json:"problems"`
}

type jsonProblem struct {
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	Warning bool   `json:"warning,omitempty"`
}

func writeValidateJSON(w io.Writer, results []bundle.FileResult) error {
	out := make([]jsonResult, 0, len(results))
	for _, r := range results {
		jr := jsonResult{File: r.File, Kind: r.Kind.String(), OK: len(r.Problems.Errors()) == 0, Problems: []jsonProblem{}}
		for _, p := range r.Problems {
			jr.Problems = append(jr.Problems, jsonProblem{Line: p.Line, Column: p.Column, Field: p.Field, Message: p.Msg, Hint: p.Hint, Warning: p.Warn})
		}
		out = append(out, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
