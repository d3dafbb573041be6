package cli

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/portico-api/portico/internal/manager"
)

// retention is --analytics-retention, how long the manager keeps the
// analytics events gateways report; 0 keeps them forever.
type retention time.Duration

// defaultRetention is 30 days.
const defaultRetention = retention(720 * time.Hour)

func (r *retention) addFlag(cmd *cobra.Command) {
	*r = defaultRetention
	cmd.Flags().Var(r, "analytics-retention", "how long to keep analytics events, e.g. 720h (30 days) or 168h; 0 keeps them forever")
}

// run deletes expired events until ctx ends: at the start, then hourly.
func (r *retention) run(ctx context.Context, m *manager.Manager) {
	m.RunAnalyticsRetention(ctx, time.Duration(*r), 0)
}

func (r *retention) String() string { return time.Duration(*r).String() }
func (r *retention) Type() string   { return "duration" }

func (r *retention) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return errors.New("use a duration such as 720h (30 days) or 90m, or 0 to keep events forever")
	}
	*r = retention(d)
	return nil
}
