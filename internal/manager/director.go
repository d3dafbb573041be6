package manager

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/portico-api/portico/internal/bundle"
	"github.com/portico-api/portico/internal/gateway"
	"github.com/portico-api/portico/internal/store"
)

// Director delivers catalogs to gateway services: after every change to a
// catalog (each bumps its version) it pushes the catalog's bundle to each
// gateway service the catalog uses, over mutual TLS, and records in the
// store what each gateway holds. A gateway that cannot be reached is
// retried with backoff and catches up when it returns; a gateway that
// lost what it was sent (a new replica, an emptied data dir) is found by
// comparing its status and is sent everything again.
//
// Several managers may run directors over one database: pushes are
// idempotent and a gateway never replaces a newer version with an older.
type Director struct {
	Store store.Store
	Log   *slog.Logger
	// Interval is how often the store is asked what is outstanding
	// (default 250ms): one query, whatever the number of gateways.
	Interval time.Duration
	// MaxBackoff caps the wait before retrying a failed push (default 10s).
	MaxBackoff time.Duration
	// StatusEvery is how often an up-to-date gateway's status is compared
	// with what was pushed (default 5s).
	StatusEvery time.Duration

	clients gatewayClients
	wg      sync.WaitGroup

	mu      sync.Mutex
	busy    map[string]bool           // gateway services with a round in flight
	retryAt map[deliveryKey]time.Time // no attempt before
	checked map[string]time.Time      // last status comparison per gateway service
	wires   map[string]encodedWire    // by catalog ID: the latest built
}

type deliveryKey struct{ gateway, catalog string }

type encodedWire struct {
	version int64
	data    []byte
}

func (d *Director) defaults() {
	if d.Interval <= 0 {
		d.Interval = 250 * time.Millisecond
	}
	if d.MaxBackoff <= 0 {
		d.MaxBackoff = 10 * time.Second
	}
	if d.StatusEvery <= 0 {
		d.StatusEvery = 5 * time.Second
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.busy == nil {
		d.busy, d.retryAt, d.checked, d.wires = map[string]bool{}, map[deliveryKey]time.Time{}, map[string]time.Time{}, map[string]encodedWire{}
	}
}

// Run delivers until ctx ends, then waits for pushes in flight.
func (d *Director) Run(ctx context.Context) {
	d.defaults()
	t := time.NewTicker(d.Interval)
	defer t.Stop()
	defer d.wg.Wait()
	for {
		if err := d.Sync(ctx); err != nil && ctx.Err() == nil {
			d.Log.Error("gateway deliveries not read", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sync starts a delivery round for each gateway service with work and no
// round in flight. Rounds run concurrently, so that a slow gateway holds
// up only itself; within a gateway, catalogs go one after another.
func (d *Director) Sync(ctx context.Context) error {
	d.defaults()
	ds, err := d.Store.ListDeliveries(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	for gw, list := range byGateway(ds) {
		d.mu.Lock()
		work := len(d.due(gw, list, now)) > 0
		check := !work && now.Sub(d.checked[gw]) >= d.StatusEvery
		start := (work || check) && !d.busy[gw]
		if start {
			d.busy[gw] = true
			if check {
				d.checked[gw] = now
			}
		}
		d.mu.Unlock()
		if !start {
			continue
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer func() { d.mu.Lock(); delete(d.busy, gw); d.mu.Unlock() }()
			d.round(ctx, gw, check)
		}()
	}
	return nil
}

// due picks the deliveries of gateway gw that are owed and not waiting
// for a retry; d.mu is held.
func (d *Director) due(gw string, list []store.Delivery, now time.Time) []store.Delivery {
	var out []store.Delivery
	for _, dl := range list {
		if dl.Outstanding() > 0 && !now.Before(d.retryAt[deliveryKey{gw, dl.CatalogID}]) {
			out = append(out, dl)
		}
	}
	return out
}

func byGateway(ds []store.Delivery) map[string][]store.Delivery {
	out := map[string][]store.Delivery{}
	for _, d := range ds {
		out[d.GatewayServiceID] = append(out[d.GatewayServiceID], d)
	}
	return out
}

// round delivers the due catalogs to one gateway service, or compares
// its status with what it should hold. It reads the deliveries afresh:
// Sync's list may predate what the gateway's previous round recorded,
// and recording an outcome over a stale delivery would undo that.
func (d *Director) round(ctx context.Context, gwID string, check bool) {
	g, err := d.Store.GetGatewayService(ctx, gwID)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, store.ErrNotFound) {
			d.Log.Error("gateway service not read", "gateway_service", gwID, "error", err)
		}
		return
	}
	ds, err := d.Store.ListDeliveries(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.Log.Error("gateway deliveries not read", "error", err)
		}
		return
	}
	all := byGateway(ds)[gwID]
	d.mu.Lock()
	due := d.due(gwID, all, time.Now())
	d.mu.Unlock()
	c, err := d.clients.get(g)
	if err != nil {
		for _, dl := range due {
			d.failed(ctx, g, dl, err)
		}
		return
	}
	if check {
		d.compareStatus(ctx, g, c, all)
		return
	}
	for _, dl := range due {
		if ctx.Err() != nil {
			return
		}
		d.deliver(ctx, g, c, dl)
	}
}

// deliver sends one catalog (or its removal) and records the outcome.
func (d *Director) deliver(ctx context.Context, g store.GatewayService, c gatewayClient, dl store.Delivery) {
	start := time.Now()
	renamed := dl.PushedOrg != "" && (dl.PushedOrg != dl.OrgName || dl.PushedCatalog != dl.CatalogName)
	if !dl.Configured || renamed {
		if err := d.remove(ctx, c, dl.PushedOrg, dl.PushedCatalog); err != nil {
			d.failed(ctx, g, dl, err)
			return
		}
		if !dl.Configured {
			d.record(ctx, func(tx store.Tx) error { return tx.DeleteDelivery(ctx, g.ID, dl.CatalogID) })
			d.Log.Info("catalog removed from gateway", "gateway_service", g.Name, "org", dl.PushedOrg, "catalog", dl.PushedCatalog)
			return
		}
	}
	data, err := d.wire(ctx, dl)
	if err == nil {
		path := "/v1/catalogs/" + url.PathEscape(dl.OrgName) + "/" + url.PathEscape(dl.CatalogName)
		err = c.do(ctx, http.MethodPut, path, bytes.NewReader(data), nil)
		var ge *gatewayError
		if errors.As(err, &ge) && ge.Status == http.StatusConflict {
			err = nil // the gateway already holds this version or a newer one
		}
	}
	if err != nil {
		d.failed(ctx, g, dl, err)
		return
	}
	now := time.Now()
	dl.PushedOrg, dl.PushedCatalog, dl.PushedVersion = dl.OrgName, dl.CatalogName, dl.CatalogVersion
	dl.FailedVersion, dl.Failures, dl.Refused, dl.LastError, dl.LastAttemptAt, dl.LastSuccessAt = -1, 0, false, "", now, now
	d.record(ctx, func(tx store.Tx) error { return tx.RecordDelivery(ctx, dl) })
	d.mu.Lock()
	delete(d.retryAt, deliveryKey{g.ID, dl.CatalogID})
	d.mu.Unlock()
	d.Log.Info("catalog pushed", "gateway_service", g.Name, "org", dl.OrgName, "catalog", dl.CatalogName,
		"version", dl.CatalogVersion, "duration_ms", time.Since(start).Milliseconds())
}

// remove tells the gateway to stop serving a catalog; one it does not
// serve is already removed.
func (d *Director) remove(ctx context.Context, c gatewayClient, org, catalog string) error {
	err := c.do(ctx, http.MethodDelete, "/v1/catalogs/"+url.PathEscape(org)+"/"+url.PathEscape(catalog), nil, nil)
	var ge *gatewayError
	if errors.As(err, &ge) && ge.Status == http.StatusNotFound {
		return nil
	}
	return err
}

// wire returns the encoded bundle of dl's catalog at dl's version, built
// once for all the gateways that need it.
func (d *Director) wire(ctx context.Context, dl store.Delivery) ([]byte, error) {
	d.mu.Lock()
	cached, ok := d.wires[dl.CatalogID]
	d.mu.Unlock()
	if ok && cached.version == dl.CatalogVersion {
		return cached.data, nil
	}
	cat, err := d.Store.GetCatalog(ctx, dl.CatalogID)
	if err != nil {
		return nil, err
	}
	org, err := d.Store.GetProviderOrg(ctx, cat.OrgID)
	if err != nil {
		return nil, err
	}
	w, err := CatalogWire(ctx, d.Store, org, cat, dl.CatalogVersion)
	if err != nil {
		return nil, err
	}
	data, err := bundle.Encode(w)
	if err != nil {
		return nil, fmt.Errorf("catalog %s/%s: %w", org.Name, cat.Name, err)
	}
	d.mu.Lock()
	if cur, ok := d.wires[dl.CatalogID]; !ok || cur.version <= dl.CatalogVersion {
		d.wires[dl.CatalogID] = encodedWire{version: dl.CatalogVersion, data: data}
	}
	d.mu.Unlock()
	return data, nil
}

// failed records a failed attempt and when to try again.
func (d *Director) failed(ctx context.Context, g store.GatewayService, dl store.Delivery, err error) {
	if ctx.Err() != nil {
		return // shutting down: not the gateway's fault
	}
	now := time.Now()
	dl.Failures++
	dl.FailedVersion, dl.LastError, dl.LastAttemptAt = dl.CatalogVersion, err.Error(), now
	var ge *gatewayError
	dl.Refused = errors.As(err, &ge) && ge.Status >= 400 && ge.Status < 500
	if dl.Configured && dl.PushedOrg == "" {
		// The gateway may have installed it before the answer was lost:
		// name it, so that removing the catalog later tells the gateway.
		dl.PushedOrg, dl.PushedCatalog = dl.OrgName, dl.CatalogName
	}
	d.record(ctx, func(tx store.Tx) error { return tx.RecordDelivery(ctx, dl) })
	wait := d.backoff(dl.Failures)
	d.mu.Lock()
	d.retryAt[deliveryKey{g.ID, dl.CatalogID}] = now.Add(wait)
	d.mu.Unlock()
	// Log the first failure and then every tenth, not every retry.
	if dl.Failures == 1 || dl.Failures%10 == 0 {
		d.Log.Warn("catalog not delivered to gateway", "gateway_service", g.Name, "org", dl.OrgName, "catalog", dl.CatalogName,
			"version", dl.CatalogVersion, "failures", dl.Failures, "retry_in", wait.String(), "error", err.Error())
	}
}

// backoff doubles from half a second up to MaxBackoff.
func (d *Director) backoff(failures int) time.Duration {
	wait := 500 * time.Millisecond
	for i := 1; i < failures && wait < d.MaxBackoff; i++ {
		wait *= 2
	}
	return min(wait, d.MaxBackoff)
}

// record writes an outcome; a failure to write is logged, and the next
// round sees the delivery as it was and tries again.
func (d *Director) record(ctx context.Context, fn func(tx store.Tx) error) {
	if err := d.Store.Tx(ctx, fn); err != nil && ctx.Err() == nil {
		d.Log.Error("gateway delivery not recorded", "error", err)
	}
}

// compareStatus asks the gateway what it serves; a catalog it lacks, or
// holds at an older version than was pushed, is marked unpushed so that
// the next round sends it again.
func (d *Director) compareStatus(ctx context.Context, g store.GatewayService, c gatewayClient, all []store.Delivery) {
	var st gateway.Status
	if err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st); err != nil {
		if ctx.Err() == nil {
			d.Log.Debug("gateway status not read", "gateway_service", g.Name, "error", err)
		}
		return
	}
	served := map[string]int64{}
	for _, cs := range st.Catalogs {
		served[cs.Org+"/"+cs.Catalog] = cs.Version
	}
	for _, dl := range all {
		if !dl.Configured || dl.PushedVersion < 0 {
			continue
		}
		if v, ok := served[dl.PushedOrg+"/"+dl.PushedCatalog]; ok && v >= dl.PushedVersion {
			continue
		}
		d.Log.Warn("gateway lost a catalog it was sent; sending it again", "gateway_service", g.Name,
			"org", dl.PushedOrg, "catalog", dl.PushedCatalog, "pushed_version", dl.PushedVersion)
		dl.PushedVersion = -1
		d.record(ctx, func(tx store.Tx) error { return tx.RecordDelivery(ctx, dl) })
	}
}
