package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// Verbs are named as apic names them, resource:verb, and also answer in
// the spaced form: `portico products:publish` is `portico products
// publish`. Each group is a command with its verbs as subcommands (the
// spaced form, shown in help and completion); each verb is also built a
// second time as a hidden top-level command named group:verb. A group
// with a list verb lists when called bare, as `apic orgs` does.

// group is a resource and the constructors of its verbs.
type group struct {
	name, short string
	list        func() *cobra.Command // nil: the group alone shows its help
	verbs       []func() *cobra.Command
}

func (g group) commands() []*cobra.Command {
	var parent *cobra.Command
	if g.list != nil {
		parent = g.list()
		parent.Use = g.name + strings.TrimPrefix(parent.Use, "list")
		parent.Short = g.short
		g.verbs = append([]func() *cobra.Command{g.list}, g.verbs...)
	} else {
		parent = &cobra.Command{
			Use:     g.name,
			Short:   g.short,
			Example: "  portico " + g.name + " --help",
			Args:    cobra.NoArgs,
			RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		}
	}
	out := []*cobra.Command{parent}
	for _, ctor := range g.verbs {
		parent.AddCommand(ctor())
		alias := ctor()
		alias.Use = g.name + ":" + alias.Use
		alias.Hidden = true
		out = append(out, alias)
	}
	return out
}

// verbCommands is the REST verbs, login and config, for the root.
func verbCommands() []*cobra.Command {
	out := []*cobra.Command{newLoginCmd(), newLogoutCmd()}
	for _, g := range []group{
		{name: "config", short: "Defaults for --server, --org, --catalog (config:set, config:get)",
			verbs: []func() *cobra.Command{newConfigSetCmd, newConfigGetCmd, newConfigDeleteCmd}},
		orgsGroup(), catalogsGroup(), draftAPIsGroup(), draftProductsGroup(), productsGroup(), apisGroup(),
		consumerOrgsGroup(), appsGroup(), credentialsGroup(), subscriptionsGroup(),
		gatewayServicesGroup(), configuredGatewayServicesGroup(),
	} {
		out = append(out, g.commands()...)
	}
	return out
}
