package cli

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/auth"
)

func newHashSecretCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "hash-secret",
		Short: "Print the hash of a client secret read from standard input",
		Long: `Read a client secret from standard input (one line) and print its argon2id
hash, for client-secret-hash in consumers.yaml. The secret itself is never
stored or printed.`,
		Example: `  printf '%s' "$CLIENT_SECRET" | portico hash-secret`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			secret := strings.TrimRight(line, "\r\n")
			if secret == "" {
				if err != nil && err.Error() != "EOF" {
					return err
				}
				return usageError{errors.New("no secret on standard input")}
			}
			h, err := auth.HashSecret(secret)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), h)
			return nil
		},
	}
}
