package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/policy"
)

func newPoliciesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "policies",
		Short: "List the assembly policies this build supports",
		Example: `  portico policies
  portico policies | grep -x invoke`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, n := range policy.Builtins().Names() {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		},
	}
}
