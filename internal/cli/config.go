package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// configKeys are the defaults `portico config:set` keeps, each also read
// from an environment variable, which wins over the file (as apic's).
var configKeys = []struct{ key, env, what string }{
	{"server", "PORTICO_SERVER", "the manager's address"},
	{"org", "PORTICO_ORG", "the provider org"},
	{"catalog", "PORTICO_CATALOG", "the catalog"},
	{"consumer-org", "PORTICO_CONSUMER_ORG", "the consumer org"},
	{"app", "PORTICO_APP", "the app"},
}

func configEnv(key string) string {
	for _, k := range configKeys {
		if k.key == key {
			return k.env
		}
	}
	return ""
}

// cliConfig is the config file: key: value lines.
type cliConfig struct {
	path   string
	values map[string]string
}

func loadConfig() (*cliConfig, error) {
	dir, err := configDir()
	if err != nil {
		return nil, err
	}
	c := &cliConfig{path: filepath.Join(dir, configFileName), values: map[string]string{}}
	data, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(data, &c.values); err != nil {
		return nil, fmt.Errorf("%s: %v; fix the file, or delete it and use portico config:set", c.path, err)
	}
	if c.values == nil {
		c.values = map[string]string{}
	}
	return c, nil
}

func (c *cliConfig) save() error {
	data, err := yaml.Marshal(c.values)
	if err != nil {
		return err
	}
	if len(c.values) == 0 {
		data = nil
	}
	return writePrivate(c.path, data)
}

// setting resolves one default: the environment, then the file.
func (c *cliConfig) setting(key string) string {
	if v := os.Getenv(configEnv(key)); v != "" {
		return v
	}
	return c.values[key]
}

// expandURLSetting reads catalog=https://H/api/catalogs/ORG/CAT and
// org=https://H/api/orgs/ORG (as apic's config:set takes them) into the
// server, org and catalog they name; other values stay as given.
func expandURLSetting(key, value string) (map[string]string, error) {
	if !strings.Contains(value, "://") {
		return map[string]string{key: value}, nil
	}
	u, err := url.Parse(value)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %v", key, value, err)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	server := u.Scheme + "://" + u.Host
	switch {
	case key == "server":
		s, err := normalizeServer(value)
		return map[string]string{"server": s}, err
	case key == "catalog" && len(parts) == 4 && parts[0] == "api" && parts[1] == "catalogs":
		return map[string]string{"server": server, "org": parts[2], "catalog": parts[3]}, nil
	case key == "org" && len(parts) == 3 && parts[0] == "api" && parts[1] == "orgs":
		return map[string]string{"server": server, "org": parts[2]}, nil
	}
	return nil, fmt.Errorf("%s=%s: a URL here must look like https://HOST/api/catalogs/ORG/CATALOG (catalog) or https://HOST/api/orgs/ORG (org)", key, value)
}

func knownKey(key string) bool {
	return slices.ContainsFunc(configKeys, func(k struct{ key, env, what string }) bool { return k.key == key })
}

func keyList() string {
	var ks []string
	for _, k := range configKeys {
		ks = append(ks, k.key)
	}
	return strings.Join(ks, ", ")
}

func newConfigSetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "set KEY=VALUE...",
		Short: "Set defaults for --server, --org, --catalog, --consumer-org and --app",
		Long: `Keep defaults in the config file (~/.portico/config, or $PORTICO_CONFIG_DIR/config).
Keys: server, org, catalog, consumer-org, app. As with apic, catalog and org
may be given as URLs (https://HOST/api/catalogs/ORG/CATALOG sets server, org
and catalog). A flag wins over PORTICO_SERVER, PORTICO_ORG, PORTICO_CATALOG,
PORTICO_CONSUMER_ORG and PORTICO_APP, which win over the file.`,
		Example: `  portico config:set server=https://manager.example.com org=acme catalog=sandbox
  portico config:set catalog=https://manager.example.com/api/catalogs/acme/sandbox`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			for _, a := range args {
				key, value, ok := strings.Cut(a, "=")
				if !ok || !knownKey(key) {
					return usageError{fmt.Errorf("%q: use KEY=VALUE with a key of %s", a, keyList())}
				}
				set, err := expandURLSetting(key, value)
				if err != nil {
					return usageError{err}
				}
				for k, v := range set {
					if k == "server" {
						if v, err = normalizeServer(v); err != nil {
							return usageError{err}
						}
					}
					if v == "" {
						delete(cfg.values, k)
					} else {
						cfg.values[k] = v
					}
				}
			}
			if err := cfg.save(); err != nil {
				return err
			}
			return printSettings(cmd, cfg, nil, "")
		},
	}
}

func newConfigGetCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "get [KEY...]",
		Short: "Show the defaults in effect (all, or the keys named)",
		Long: `Show each default and where it comes from: an environment variable wins
over the config file.`,
		Example: `  portico config:get
  portico config:get catalog --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			for _, k := range args {
				if !knownKey(k) {
					return usageError{fmt.Errorf("no key %q: the keys are %s", k, keyList())}
				}
			}
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			return printSettings(cmd, cfg, args, format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "output format: json or yaml (default: key: value lines)")
	return cmd
}

func newConfigDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete KEY...",
		Short:   "Remove defaults from the config file",
		Example: `  portico config:delete catalog app`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			for _, k := range args {
				if !knownKey(k) {
					return usageError{fmt.Errorf("no key %q: the keys are %s", k, keyList())}
				}
				delete(cfg.values, k)
			}
			if err := cfg.save(); err != nil {
				return err
			}
			return printSettings(cmd, cfg, nil, "")
		},
	}
}

// printSettings prints the keys (all when none are named) with their
// values in effect.
func printSettings(cmd *cobra.Command, cfg *cliConfig, keys []string, format string) error {
	if len(keys) == 0 {
		for _, k := range configKeys {
			keys = append(keys, k.key)
		}
	}
	out := map[string]string{}
	var lines []string
	for _, k := range keys {
		v := cfg.setting(k)
		if v == "" {
			continue
		}
		out[k] = v
		from := ""
		if env := configEnv(k); os.Getenv(env) != "" {
			from = " (from " + env + ")"
		}
		lines = append(lines, k+": "+v+from)
	}
	if format != "" {
		return writeFormatted(cmd.OutOrStdout(), format, out)
	}
	for _, l := range lines {
		fmt.Fprintln(cmd.OutOrStdout(), l)
	}
	return nil
}
