package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/client"
)

// need says which scope flags a command takes and requires.
type need int

const (
	needOrg need = 1 << iota
	needCatalog
	needConsumerOrg
	needApp
)

// scope is what a REST verb works on: the manager, the token, the org,
// catalog, consumer org and app, and the output format. Each comes from a
// flag, else the environment, else the config file.
type scope struct {
	needs                          need
	server, token, format          string
	org, catalog, consumerOrg, app string

	tokenSource string // "--token", "PORTICO_TOKEN" or the token file's path
}

// addScope registers the connection and scope flags on cmd.
func addScope(cmd *cobra.Command, needs need) *scope {
	s := &scope{needs: needs}
	f := cmd.Flags()
	f.StringVarP(&s.server, "server", "s", "", "the manager, e.g. https://manager.example.com (default: config, PORTICO_SERVER, or the one server you are logged in to)")
	f.StringVar(&s.token, "token", "", "an access token to use instead of the token file (also PORTICO_TOKEN)")
	f.StringVar(&s.format, "format", "", "output format: json or yaml (default: lines for lists, YAML for objects)")
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	if needs&needOrg != 0 {
		f.StringVarP(&s.org, "org", "o", "", "the provider org, by name or ID (default: config or PORTICO_ORG)")
	}
	if needs&needCatalog != 0 {
		f.StringVarP(&s.catalog, "catalog", "c", "", "the catalog, by name or ID (default: config or PORTICO_CATALOG)")
	}
	if needs&needConsumerOrg != 0 {
		f.StringVar(&s.consumerOrg, "consumer-org", "", "the consumer org (default: config or PORTICO_CONSUMER_ORG)")
	}
	if needs&needApp != 0 {
		f.StringVarP(&s.app, "app", "a", "", "the app (default: config or PORTICO_APP)")
	}
	return s
}

// resolve fills what the flags left out from the environment and the
// config file; a missing required value is a usage error saying how to
// give it.
func (s *scope) resolve() error {
	if err := checkFormat(s.format); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		n     need
		key   string
		val   *string
		flag  string
		usage string
	}{
		{needOrg, "org", &s.org, "--org", "ORG"},
		{needCatalog, "catalog", &s.catalog, "--catalog", "CATALOG"},
		{needConsumerOrg, "consumer-org", &s.consumerOrg, "--consumer-org", "CONSUMER_ORG"},
		{needApp, "app", &s.app, "--app", "APP"},
	} {
		if s.needs&f.n == 0 || *f.val != "" {
			continue
		}
		if *f.val = cfg.setting(f.key); *f.val == "" {
			return usageError{fmt.Errorf("no %s: give %s %s, set %s, or run portico config:set %s=%s",
				f.key, f.flag, f.usage, configEnv(f.key), f.key, f.usage)}
		}
	}
	if s.server == "" {
		s.server = cfg.setting("server")
	}
	if s.server == "" {
		tf, err := loadTokenFile()
		if err != nil {
			return err
		}
		// Logged in to exactly one server: that is the one meant.
		if all := tf.servers(); len(all) == 1 {
			s.server = all[0]
		}
	}
	if s.server == "" {
		return usageError{errors.New("no server: give --server URL, set PORTICO_SERVER, or run portico config:set server=URL")}
	}
	s.server, err = normalizeServer(s.server)
	if err != nil {
		return usageError{err}
	}
	return nil
}

// httpClient is what the CLI's calls go through: generous for a big
// publish, bounded so a stuck manager does not hang a pipeline.
func httpClient() *http.Client { return &http.Client{Timeout: 5 * time.Minute} }

// connect makes a client of the manager with the token from --token,
// PORTICO_TOKEN or the token file. A token from the file is refreshed,
// and the file updated, when the manager refuses it and the file holds a
// refresh token.
func (s *scope) connect() (*client.Client, error) {
	hc := httpClient()
	if s.token != "" {
		s.tokenSource = "--token"
		return client.New(s.server, client.WithHTTPClient(hc), client.WithToken(s.token)), nil
	}
	if env := strings.TrimSpace(os.Getenv("PORTICO_TOKEN")); env != "" {
		s.token, s.tokenSource = env, "PORTICO_TOKEN"
		return client.New(s.server, client.WithHTTPClient(hc), client.WithToken(env)), nil
	}
	tf, err := loadTokenFile()
	if err != nil {
		return nil, err
	}
	entry, ok, err := tf.lookup(s.server)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("not logged in to %s: run\n  %s\nor set PORTICO_TOKEN", s.server, loginHint(s.server))
	}
	s.token, s.tokenSource = entry.AccessToken, tf.path
	opts := []client.Option{client.WithHTTPClient(hc), client.WithToken(entry.AccessToken)}
	if entry.RefreshToken != "" {
		opts = append(opts, client.WithRefresh(s.refresher(hc, entry.RefreshToken)))
	}
	return client.New(s.server, opts...), nil
}

// refresher exchanges the file's refresh token for new tokens and saves
// them.
func (s *scope) refresher(hc *http.Client, refresh string) client.RefreshFunc {
	return func(ctx context.Context) (string, error) {
		tok, err := client.New(s.server, client.WithHTTPClient(hc)).Refresh(ctx, refresh)
		if err != nil {
			return "", err
		}
		tf, err := loadTokenFile()
		if err != nil {
			return "", err
		}
		if err := tf.set(s.server, tokenEntry{RefreshToken: tok.RefreshToken, AccessToken: tok.AccessToken}); err != nil {
			return "", err
		}
		if err := tf.save(); err != nil {
			return "", fmt.Errorf("saving the refreshed token: %w", err)
		}
		return tok.AccessToken, nil
	}
}

func loginHint(server string) string {
	return "portico login --server " + server + " --apikey <API key>   (or --sso, or --username U --password P)"
}

// run resolves the scope, connects and calls fn, turning a refused token
// and an unreachable manager into messages that say what to do.
func (s *scope) run(cmd *cobra.Command, fn func(ctx context.Context, c *client.Client) error) error {
	if err := s.resolve(); err != nil {
		return err
	}
	c, err := s.connect()
	if err != nil {
		return err
	}
	return s.explain(fn(cmd.Context(), c))
}

func (s *scope) explain(err error) error {
	if err == nil {
		return nil
	}
	if client.IsUnauthorized(err) && s.token != "" {
		return fmt.Errorf("the token for %s (from %s) was refused: it expired or was revoked. Log in again:\n  %s", s.server, s.tokenSource, loginHint(s.server))
	}
	var ue *url.Error
	var oe *net.OpError
	if errors.As(err, &ue) && errors.As(err, &oe) {
		return fmt.Errorf("cannot reach the manager at %s: %v", s.server, oe)
	}
	return err
}

// listAll gets every page of a list.
func listAll[T any](fetch func(client.ListOptions) ([]T, int, error)) ([]T, int, error) {
	var all []T
	for {
		page, total, err := fetch(client.ListOptions{Offset: len(all)})
		if err != nil {
			return nil, 0, err
		}
		all = append(all, page...)
		if len(page) == 0 || len(all) >= total {
			if all == nil {
				all = []T{}
			}
			return all, total, nil
		}
	}
}
