package cli

import (
	"context"
	"io"
	"log/slog"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/manager"
	"github.com/portico-api/portico/internal/monitor"
	"github.com/portico-api/portico/internal/store"
)

// accessLogQueue is how many access lines may wait for a slow log reader
// before new ones are dropped (and counted): some megabytes at most.
const accessLogQueue = 10000

// addAccessLog returns obs with the access log added when on: one line
// per API call in the --log-format, to w. Lines go through a LineWriter,
// so a call pays for formatting its line, never for writing it. The
// returned func writes out the lines still queued; call it once the API
// listener has drained.
func addAccessLog(ctx context.Context, on bool, w io.Writer, format string, metrics *monitor.GatewayMetrics,
	obs analytics.Observers) (analytics.Observers, func(), error) {
	if !on {
		return obs, func() {}, nil
	}
	lw := monitor.NewLineWriter(w, accessLogQueue)
	if err := metrics.RegisterAccessLogDrops(lw.Dropped); err != nil {
		return nil, nil, err
	}
	var h slog.Handler = monitor.NewECSHandler(lw, monitor.ECSOptions{Dataset: monitor.DatasetAccess})
	if format == "text" {
		h = slog.NewTextHandler(lw, &slog.HandlerOptions{ReplaceAttr: monitor.RedactAttr})
	}
	// The writer outlives ctx (a signal) so that the calls still being
	// answered while the listener drains get their lines.
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { lw.Run(runCtx); close(done) }()
	return append(obs, monitor.NewAccessLog(h)), func() { stop(); <-done }, nil
}

// newManagerMetrics makes the manager's metrics: object counts from the
// store and push status from push (nil until the push director reports
// it), read at each scrape; failures are logged and shown in
// portico_manager_scrape_error.
func newManagerMetrics(st store.Store, push monitor.PushStatusSource, log *slog.Logger) *monitor.ManagerMetrics {
	o := monitor.ManagerMetricsOptions{Push: push, OnError: func(source string, err error) {
		log.Warn("manager metrics: a source failed", "source", source, "error", err)
	}}
	if c, ok := st.(store.ObjectCounter); ok {
		o.Objects = objectCounts{c}
	}
	return monitor.NewManagerMetrics(o)
}

// objectCounts gives monitor the store's counts.
type objectCounts struct{ c store.ObjectCounter }

// The admin org is not a provider org: it is left out of provider_orgs and
// of the per-org counts, but for gateway services, which live there.
func (o objectCounts) CountObjects(ctx context.Context) ([]monitor.ObjectCount, error) {
	counts, err := o.c.CountObjects(ctx)
	out := make([]monitor.ObjectCount, 0, len(counts))
	admin := false
	for _, c := range counts {
		if c.Org == manager.AdminOrg {
			admin = true
			if c.Type != "gateway_services" {
				continue
			}
		}
		out = append(out, monitor.ObjectCount(c))
	}
	for i := range out {
		if out[i].Type == "provider_orgs" && admin {
			out[i].Count--
		}
	}
	return out, err
}

// pushStatus gives monitor the manager's view of its gateways.
type pushStatus struct{ m *manager.Manager }

func (p pushStatus) PushStatus(ctx context.Context) ([]monitor.GatewayPush, error) {
	ps, err := p.m.PushStatus(ctx)
	out := make([]monitor.GatewayPush, len(ps))
	for i, g := range ps {
		out[i] = monitor.GatewayPush{Gateway: g.Gateway, Outstanding: g.Outstanding, LastPush: g.LastPush, UpToDate: g.State == manager.StateUpToDate}
	}
	return out, err
}
