package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/portico-api/portico/internal/client"
)

const (
	catalogScope = needOrg | needCatalog
	corgScope    = catalogScope | needConsumerOrg
	appScope     = corgScope | needApp
)

func (s *scope) appRef() client.AppRef {
	return client.AppRef{Org: s.org, Catalog: s.catalog, ConsumerOrg: s.consumerOrg, App: s.app}
}

// simpleCmd is a verb that needs the scope and calls the manager: most
// get, list and delete verbs.
func simpleCmd(use, short, example string, needs need, args cobra.PositionalArgs,
	fn func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Example: example, Args: args}
	s := addScope(cmd, needs)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return s.run(cmd, func(ctx context.Context, c *client.Client) error { return fn(ctx, c, s, cmd, args) })
	}
	return cmd
}

// getCmd is a get verb: one argument, the object printed.
func getCmd(use, short, example string, needs need, get func(ctx context.Context, c *client.Client, s *scope, ref string) (any, error)) *cobra.Command {
	return simpleCmd(use, short, example, needs, cobra.ExactArgs(1),
		func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
			v, err := get(ctx, c, s, args[0])
			if err != nil {
				return err
			}
			return printObject(cmd.OutOrStdout(), s.format, v)
		})
}

func consumerOrgsGroup() group {
	return group{name: "consumer-orgs", short: "Consumer orgs of a catalog", list: func() *cobra.Command {
		return simpleCmd("list", "List the consumer orgs of a catalog", "  portico consumer-orgs:list --org acme --catalog sandbox", catalogScope, cobra.NoArgs,
			func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, _ []string) error {
				cs, total, err := listAll(func(o client.ListOptions) ([]client.ConsumerOrg, int, error) {
					return c.ConsumerOrgs(ctx, s.org, s.catalog, o)
				})
				if err != nil {
					return err
				}
				return printList(cmd.OutOrStdout(), s.format, cs, total)
			})
	}, verbs: []func() *cobra.Command{
		func() *cobra.Command {
			return simpleCmd("get CONSUMER_ORG", "Show a consumer org", "  portico consumer-orgs:get partners --org acme --catalog sandbox", catalogScope, cobra.ExactArgs(1),
				func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
					co, err := c.ConsumerOrg(ctx, s.org, s.catalog, args[0])
					if err != nil {
						return err
					}
					return printObject(cmd.OutOrStdout(), s.format, co)
				})
		},
		func() *cobra.Command {
			return createCmd("create NAME|FILE", "Make a consumer org in a catalog, owned by you",
				"  portico consumer-orgs:create partners --title Partners --org acme --catalog sandbox", catalogScope,
				func(ctx context.Context, c *client.Client, s *scope, req client.CreateRequest) (any, error) {
					return c.CreateConsumerOrg(ctx, s.org, s.catalog, req)
				})
		},
		func() *cobra.Command {
			return simpleCmd("delete CONSUMER_ORG", "Delete a consumer org with its apps, credentials and subscriptions",
				"  portico consumer-orgs:delete partners --org acme --catalog sandbox", catalogScope, cobra.ExactArgs(1),
				func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
					if err := c.DeleteConsumerOrg(ctx, s.org, s.catalog, args[0]); err != nil {
						return err
					}
					return printDeleted(cmd, s.format, "consumer org", args[0])
				})
		},
	}}
}

// createCmd is a create verb taking NAME|FILE with --title and --summary.
func createCmd(use, short, example string, needs need, create func(ctx context.Context, c *client.Client, s *scope, req client.CreateRequest) (any, error)) *cobra.Command {
	var title, summary string
	cmd := &cobra.Command{Use: use, Short: short, Example: example, Args: cobra.ExactArgs(1)}
	s := addScope(cmd, needs)
	cmd.Flags().StringVar(&title, "title", "", "the title (default: the name)")
	cmd.Flags().StringVar(&summary, "summary", "", "a summary")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		req, err := createRequestArg(args[0], title, summary)
		if err != nil {
			return err
		}
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			v, err := create(ctx, c, s, req)
			if err != nil {
				return err
			}
			return printCreated(cmd.OutOrStdout(), cmd.ErrOrStderr(), s.format, v)
		})
	}
	return cmd
}

// printCreated prints a new object as a list line; an app or credential
// also gets its client ID and secret, which the manager shows only now.
func printCreated(w, stderr io.Writer, format string, v any) error {
	if format != "" {
		return writeFormatted(w, format, v)
	}
	if err := printRow(w, "", v); err != nil {
		return err
	}
	var id, secret string
	switch o := v.(type) {
	case client.App:
		id, secret = o.ClientID, o.ClientSecret
	case client.Credential:
		id, secret = o.ClientID, o.ClientSecret
	}
	if secret != "" {
		fmt.Fprintf(w, "client_id: %s\nclient_secret: %s\n", id, secret)
		fmt.Fprintln(stderr, "Keep the client secret now: it is not shown again (credentials:reset-client-secret makes a new one).")
	}
	return nil
}

func appsGroup() group {
	return group{name: "apps", short: "Apps of a consumer org, with their first credential", list: func() *cobra.Command {
		return simpleCmd("list", "List the apps of a consumer org", "  portico apps:list --consumer-org partners --org acme --catalog sandbox", corgScope, cobra.NoArgs,
			func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, _ []string) error {
				as, total, err := listAll(func(o client.ListOptions) ([]client.App, int, error) {
					return c.Apps(ctx, s.org, s.catalog, s.consumerOrg, o)
				})
				if err != nil {
					return err
				}
				return printList(cmd.OutOrStdout(), s.format, as, total)
			})
	}, verbs: []func() *cobra.Command{
		func() *cobra.Command {
			return simpleCmd("get APP", "Show an app", "  portico apps:get mobile --consumer-org partners --org acme --catalog sandbox", corgScope, cobra.ExactArgs(1),
				func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
					s.app = args[0]
					a, err := c.App(ctx, s.appRef())
					if err != nil {
						return err
					}
					return printObject(cmd.OutOrStdout(), s.format, a)
				})
		},
		func() *cobra.Command {
			return createCmd("create NAME|FILE", "Make an app and its first credential (the secret is shown once)",
				`  portico apps:create mobile --consumer-org partners --org acme --catalog sandbox
  portico apps:create mobile --consumer-org partners --format json | jq -r .client_secret`, corgScope,
				func(ctx context.Context, c *client.Client, s *scope, req client.CreateRequest) (any, error) {
					return c.CreateApp(ctx, s.org, s.catalog, s.consumerOrg, req)
				})
		},
		newAppsUpdateCmd,
		func() *cobra.Command {
			return simpleCmd("delete APP", "Delete an app with its credentials and subscriptions",
				"  portico apps:delete mobile --consumer-org partners --org acme --catalog sandbox", corgScope, cobra.ExactArgs(1),
				func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
					s.app = args[0]
					if err := c.DeleteApp(ctx, s.appRef()); err != nil {
						return err
					}
					return printDeleted(cmd, s.format, "app", args[0])
				})
		},
	}}
}

func newAppsUpdateCmd() *cobra.Command {
	var title, summary, state string
	cmd := &cobra.Command{
		Use:     "update APP",
		Short:   "Change an app's title, summary or state (disabled apps are refused at the gateway)",
		Example: `  portico apps:update mobile --state disabled --consumer-org partners --org acme --catalog sandbox`,
		Args:    cobra.ExactArgs(1),
	}
	s := addScope(cmd, corgScope)
	f := cmd.Flags()
	f.StringVar(&title, "title", "", "a new title")
	f.StringVar(&summary, "summary", "", "a new summary")
	f.StringVar(&state, "state", "", "active or disabled")
	cmd.RegisterFlagCompletionFunc("state", cobra.FixedCompletions([]string{client.AppActive, client.AppDisabled}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var u client.AppUpdate
		for name, dst := range map[string]**string{"title": &u.Title, "summary": &u.Summary, "state": &u.State} {
			if f.Changed(name) {
				v, _ := f.GetString(name)
				*dst = &v
			}
		}
		if u.Title == nil && u.Summary == nil && u.State == nil {
			return usageError{errors.New("nothing to change: give --title, --summary or --state")}
		}
		s.app = args[0]
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			a, err := c.UpdateApp(ctx, s.appRef(), u)
			if err != nil {
				return err
			}
			return printRow(cmd.OutOrStdout(), s.format, a)
		})
	}
	return cmd
}

func credentialsGroup() group {
	const ex = " --app mobile --consumer-org partners --org acme --catalog sandbox"
	return group{name: "credentials", short: "Client IDs and secrets of an app", list: func() *cobra.Command {
		return simpleCmd("list", "List an app's credentials (client IDs; never secrets)", "  portico credentials:list"+ex, appScope, cobra.NoArgs,
			func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, _ []string) error {
				cs, total, err := listAll(func(o client.ListOptions) ([]client.Credential, int, error) { return c.Credentials(ctx, s.appRef(), o) })
				if err != nil {
					return err
				}
				return printList(cmd.OutOrStdout(), s.format, cs, total)
			})
	}, verbs: []func() *cobra.Command{
		func() *cobra.Command {
			return simpleCmd("get CREDENTIAL", "Show a credential, by name or ID", "  portico credentials:get mobile-1"+ex, appScope, cobra.ExactArgs(1),
				func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
					cr, err := c.Credential(ctx, s.appRef(), args[0])
					if err != nil {
						return err
					}
					return printObject(cmd.OutOrStdout(), s.format, cr)
				})
		},
		func() *cobra.Command {
			cmd := createCmd("create [NAME|FILE]", "Add a credential to an app (its secret is shown once)", "  portico credentials:create ci"+ex, appScope,
				func(ctx context.Context, c *client.Client, s *scope, req client.CreateRequest) (any, error) {
					return c.CreateCredential(ctx, s.appRef(), req)
				})
			inner := cmd.RunE
			cmd.Args = cobra.MaximumNArgs(1)
			cmd.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					args = []string{""} // the manager names it
				}
				return inner(cmd, args)
			}
			return cmd
		},
		func() *cobra.Command {
			return simpleCmd("reset-client-secret CREDENTIAL", "Give a credential a new secret (the client ID stays); shown once",
				"  portico credentials:reset-client-secret mobile-1"+ex, appScope, cobra.ExactArgs(1),
				func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
					cr, err := c.ResetCredential(ctx, s.appRef(), args[0])
					if err != nil {
						return err
					}
					return printCreated(cmd.OutOrStdout(), cmd.ErrOrStderr(), s.format, cr)
				})
		},
		newCredentialsVerifyCmd,
		func() *cobra.Command {
			return simpleCmd("delete CREDENTIAL", "Delete a credential", "  portico credentials:delete ci"+ex, appScope, cobra.ExactArgs(1),
				func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
					if err := c.DeleteCredential(ctx, s.appRef(), args[0]); err != nil {
						return err
					}
					return printDeleted(cmd, s.format, "credential", args[0])
				})
		},
	}}
}

func newCredentialsVerifyCmd() *cobra.Command {
	var clientID, secret string
	cmd := &cobra.Command{
		Use:     "verify-client-secret CREDENTIAL",
		Short:   "Check a client secret (exit status 1 when it does not match)",
		Example: `  printf '%s' "$SECRET" | portico credentials:verify-client-secret mobile-1 --client-secret - --app mobile --consumer-org partners`,
		Args:    cobra.ExactArgs(1),
	}
	s := addScope(cmd, appScope)
	cmd.Flags().StringVar(&clientID, "client-id", "", "the client ID too (optional)")
	cmd.Flags().StringVar(&secret, "client-secret", "", `the secret to check ("-": read it from standard input)`)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if secret == "" {
			return usageError{errors.New("give --client-secret SECRET (or - to read it from standard input)")}
		}
		if secret == "-" {
			data, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<16))
			if err != nil {
				return err
			}
			secret = string(data)
		}
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			ok, err := c.VerifyCredential(ctx, s.appRef(), args[0], clientID, secret)
			if err != nil {
				return err
			}
			if s.format != "" {
				if err := writeFormatted(cmd.OutOrStdout(), s.format, map[string]bool{"verified": ok}); err != nil {
					return err
				}
			} else if ok {
				fmt.Fprintln(cmd.OutOrStdout(), "verified: the client secret matches")
			}
			if !ok {
				if s.format == "" {
					fmt.Fprintln(cmd.OutOrStdout(), "not verified: the client secret does not match")
				}
				return errSilent
			}
			return nil
		})
	}
	return cmd
}

func subscriptionsGroup() group {
	const ex = " --app mobile --consumer-org partners --org acme --catalog sandbox"
	return group{name: "subscriptions", short: "Subscriptions of an app to plans of products", list: func() *cobra.Command {
		return simpleCmd("list", "List an app's subscriptions", "  portico subscriptions:list"+ex, appScope, cobra.NoArgs,
			func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, _ []string) error {
				ss, total, err := listAll(func(o client.ListOptions) ([]client.Subscription, int, error) {
					return c.Subscriptions(ctx, s.appRef(), o)
				})
				if err != nil {
					return err
				}
				return printList(cmd.OutOrStdout(), s.format, ss, total)
			})
	}, verbs: []func() *cobra.Command{
		func() *cobra.Command {
			return simpleCmd("get SUBSCRIPTION", "Show a subscription, by name or ID", "  portico subscriptions:get mobile-gold"+ex, appScope, cobra.ExactArgs(1),
				func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
					sub, err := c.Subscription(ctx, s.appRef(), args[0])
					if err != nil {
						return err
					}
					return printObject(cmd.OutOrStdout(), s.format, sub)
				})
		},
		newSubscriptionsCreateCmd,
		func() *cobra.Command {
			return simpleCmd("delete SUBSCRIPTION", "Unsubscribe", "  portico subscriptions:delete mobile-gold"+ex, appScope, cobra.ExactArgs(1),
				func(ctx context.Context, c *client.Client, s *scope, cmd *cobra.Command, args []string) error {
					if err := c.DeleteSubscription(ctx, s.appRef(), args[0]); err != nil {
						return err
					}
					return printDeleted(cmd, s.format, "subscription", args[0])
				})
		},
	}}
}

func newSubscriptionsCreateCmd() *cobra.Command {
	var product, plan, name string
	cmd := &cobra.Command{
		Use:   "create [FILE]",
		Short: "Subscribe an app to a plan of a published product",
		Long: `Subscribe with --product NAME:VERSION and --plan PLAN, or with apic's file
{product_url: …, plan: …}. A plan with approval: true makes the subscription
pending.`,
		Example: `  portico subscriptions:create --product weather-product:1.0.0 --plan gold --app mobile --consumer-org partners
  portico subscriptions:create subscription.yaml --app mobile --consumer-org partners`,
		Args: cobra.MaximumNArgs(1),
	}
	s := addScope(cmd, appScope)
	cmd.Flags().StringVar(&product, "product", "", "the product, as name:version (or its URL)")
	cmd.Flags().StringVar(&plan, "plan", "", "the plan")
	cmd.Flags().StringVar(&name, "name", "", "a name for the subscription (default: made by the manager)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		req := client.SubscriptionRequest{Plan: plan, Name: name}
		if len(args) == 1 {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if err := yaml.Unmarshal(data, &struct {
				ProductURL *string `yaml:"product_url"`
				Product    *string `yaml:"product"`
				Plan       *string `yaml:"plan"`
				Name       *string `yaml:"name"`
			}{&req.ProductURL, &req.Product, &req.Plan, &req.Name}); err != nil {
				return usageError{fmt.Errorf("%s: %v", args[0], err)}
			}
		}
		if product != "" {
			req.Product, req.ProductURL = product, ""
			if len(product) > 8 && (product[:7] == "http://" || product[:8] == "https://") {
				req.Product, req.ProductURL = "", product
			}
		}
		if plan != "" {
			req.Plan = plan
		}
		if (req.Product == "" && req.ProductURL == "") || req.Plan == "" {
			return usageError{errors.New("name the product and plan: --product NAME:VERSION --plan PLAN, or a file that sets product_url and plan")}
		}
		return s.run(cmd, func(ctx context.Context, c *client.Client) error {
			sub, err := c.CreateSubscription(ctx, s.appRef(), req)
			if err != nil {
				return err
			}
			return printRow(cmd.OutOrStdout(), s.format, sub)
		})
	}
	return cmd
}
