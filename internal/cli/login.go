package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/client"
)

func newLoginCmd() *cobra.Command {
	var server, apiKey, username, password, realm string
	var sso bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to a manager and keep its token in ~/.portico/token",
		Long: `Log in with an API key, a user name and password, or --sso, and keep the
tokens in ~/.portico/token ($PORTICO_CONFIG_DIR/token), one entry per server,
in the shape of apic's ~/.apiconnect/token:

  https://manager.example.com/api: |
    refresh_token: "…"
    access_token: …

Access tokens last 8 hours; the refresh token renews them as they expire,
for 30 days. Pipelines may write the file themselves, or set PORTICO_TOKEN
and need no file at all.

--sso prints the address of the manager's sign-in page: sign in there with a
browser and paste the one-time key it shows. A value of "-" for --apikey or
--password is read from standard input, so it stays out of the process list.

--server without a scheme means https, except for localhost and 127.0.0.1
(a local portico up), which mean http.`,
		Example: `  portico login --server https://manager.example.com --apikey "$PORTICO_API_KEY"
  portico login --server 127.0.0.1:9090 --apikey - < .portico/admin.apikey
  portico login --server https://manager.example.com --username alice --password - --realm provider/default-idp-2
  portico login --server https://manager.example.com --sso`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ways := 0
			for _, set := range []bool{apiKey != "", username != "" || password != "", sso} {
				if set {
					ways++
				}
			}
			if ways != 1 {
				return usageError{errors.New("log in one way: --apikey KEY, --username U --password P, or --sso")}
			}
			if (username == "") != (password == "") {
				return usageError{errors.New("--username and --password go together (--password - reads it from standard input)")}
			}
			if server == "" {
				cfg, err := loadConfig()
				if err != nil {
					return err
				}
				server = cfg.setting("server")
			}
			if server == "" {
				return usageError{errors.New("no server: give --server URL")}
			}
			base, err := normalizeServer(server)
			if err != nil {
				return usageError{err}
			}
			in := bufio.NewReader(cmd.InOrStdin())
			req := client.TokenRequest{GrantType: "api_key", APIKey: apiKey}
			switch {
			case sso:
				fmt.Fprintf(cmd.ErrOrStderr(), "Open this address in a browser, sign in, and paste the one-time key it shows:\n\n  %s/auth/cli\n\nOne-time key: ", base)
				if req.APIKey, err = readLine(in, "one-time key"); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr())
					return err
				}
			case apiKey == "-":
				if req.APIKey, err = readLine(in, "API key (--apikey -)"); err != nil {
					return err
				}
			case username != "":
				req = client.TokenRequest{GrantType: "password", Username: username, Password: password, Realm: realm}
				if password == "-" {
					if req.Password, err = readLine(in, "password (--password -)"); err != nil {
						return err
					}
				}
			}
			tok, err := client.New(base, client.WithHTTPClient(httpClient())).Token(cmd.Context(), req)
			if err != nil {
				return fmt.Errorf("logging in to %s: %w", base, err)
			}
			tf, err := loadTokenFile()
			if err != nil {
				return err
			}
			if err := tf.set(base, tokenEntry{RefreshToken: tok.RefreshToken, AccessToken: tok.AccessToken}); err != nil {
				return err
			}
			if err := tf.save(); err != nil {
				return fmt.Errorf("saving the token: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Logged into %s successfully\n", base)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&server, "server", "s", "", "the manager, e.g. https://manager.example.com")
	f.StringVar(&apiKey, "apikey", "", `an API key ("-": read it from standard input)`)
	f.StringVarP(&username, "username", "u", "", "a user name")
	f.StringVarP(&password, "password", "p", "", `the user's password ("-": read it from standard input)`)
	f.StringVarP(&realm, "realm", "r", "", "the user registry, as apic's --realm (accepted; Portico has one registry)")
	f.BoolVar(&sso, "sso", false, "sign in with a browser and paste the one-time key it shows")
	return cmd
}

// readLine reads one line of standard input, without its line ending.
func readLine(r *bufio.Reader, what string) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return "", fmt.Errorf("no %s was given on standard input", what)
	}
	return line, nil
}

func newLogoutCmd() *cobra.Command {
	var server string
	cmd := &cobra.Command{
		Use:     "logout",
		Short:   "Revoke the tokens of a manager and remove them from the token file",
		Example: `  portico logout --server https://manager.example.com`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := &scope{server: server}
			if err := s.resolve(); err != nil {
				return err
			}
			tf, err := loadTokenFile()
			if err != nil {
				return err
			}
			entry, ok, err := tf.lookup(s.server)
			if err != nil {
				return err
			}
			if !ok {
				fmt.Fprintf(cmd.OutOrStdout(), "Not logged in to %s\n", s.server)
				return nil
			}
			// Revoke on the manager; a token it already refuses is as good
			// as revoked, so only other failures stop the logout.
			if err := revoke(cmd.Context(), s.server, entry); err != nil && !client.IsUnauthorized(err) {
				return fmt.Errorf("revoking the token at %s: %w (the token file is unchanged)", s.server, err)
			}
			tf.remove(s.server)
			if err := tf.save(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Logged out of server %s\n", s.server)
			return nil
		},
	}
	cmd.Flags().StringVarP(&server, "server", "s", "", "the manager (default: config, PORTICO_SERVER, or the one server you are logged in to)")
	return cmd
}

// revoke revokes an entry's tokens on the manager. When the access token
// is already refused, the refresh token (if any) is used once to get a
// token that can revoke the new pair, so none stays valid.
func revoke(ctx context.Context, server string, e tokenEntry) error {
	hc := httpClient()
	c := client.New(server, client.WithHTTPClient(hc), client.WithToken(e.AccessToken))
	err := c.LogoutAll(ctx, e.RefreshToken)
	if !client.IsUnauthorized(err) || e.RefreshToken == "" {
		return err
	}
	tok, rerr := client.New(server, client.WithHTTPClient(hc)).Refresh(ctx, e.RefreshToken)
	if rerr != nil {
		return nil // both refused: nothing left to revoke
	}
	c.SetToken(tok.AccessToken)
	return c.LogoutAll(ctx, tok.RefreshToken)
}
