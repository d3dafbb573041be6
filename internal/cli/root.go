// Package cli is the portico command tree.
package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/monitor"
)

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

// Exit codes: 0 success, 1 failure, 2 usage error.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// usageError marks errors caused by how the command was called.
type usageError struct{ error }

// silentError is a failure whose details were already printed.
var errSilent = errors.New("")

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(usageError)) || isFlagError(err):
		fmt.Fprintf(stderr, "Error: %v\nRun 'portico %s --help' for usage.\n", err, commandName(root, args))
		return exitUsage
	case errors.Is(err, errSilent):
		return exitFail
	default:
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitFail
	}
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "portico",
		Short:         "Portico: an open API management platform that runs IBM API Connect assemblies",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newUpCmd(), newGatewayCmd(), newManagerCmd(), newValidateCmd(), newPoliciesCmd(), newHashSecretCmd(), newCertsCmd(), newVersionCmd())
	root.AddCommand(verbCommands()...)
	root.AddCommand(newProbeCmd())
	return root
}

func isFlagError(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand flag") || strings.Contains(msg, "arg(s)")
}

func commandName(root *cobra.Command, args []string) string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == root {
		return ""
	}
	return strings.TrimPrefix(cmd.CommandPath(), "portico ")
}

// newLogger makes the server roles' logger: json (ECS lines) for log
// pipelines, text for people. Both redact secret-looking attributes. It
// also becomes the default logger, so that what libraries write with the
// log package (net/http's server errors) comes out in the same format.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", level)}
	}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv, ReplaceAttr: monitor.RedactAttr})
	case "json":
		h = monitor.NewECSHandler(w, monitor.ECSOptions{Level: lv})
	default:
		return nil, usageError{fmt.Errorf("--log-format %q: use text or json", format)}
	}
	log := slog.New(h)
	slog.SetDefault(log)
	return log, nil
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: "  portico version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "portico %s\n", Version)
			return nil
		},
	}
}
