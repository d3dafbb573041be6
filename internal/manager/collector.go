package manager

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/store"
)

// EventStore keeps analytics events; stores that can are asked to.
type EventStore interface {
	// InsertAnalyticsEvents stores events, skipping those already stored,
	// and reports how many were new.
	InsertAnalyticsEvents(ctx context.Context, events []analytics.Event) (int, error)
}

// Collector brings the analytics events of every gateway service into
// the store. It pulls over the management endpoint's mutual TLS: each
// request names the last event stored, which the gateway then forgets,
// so an event is lost only if the gateway's bounded buffer overflows
// while the manager is away. Gateways never wait on the manager.
type Collector struct {
	Store  store.Store
	Events EventStore
	Log    *slog.Logger
	// Every is the pause between collections from a gateway that had
	// nothing more (default 1s); a full batch is followed at once.
	Every time.Duration
	// OnStored, when set, hears how many new events each batch stored.
	OnStored func(n int)

	clients gatewayClients
	mu      sync.Mutex
	cursors map[string]cursor // by gateway service ID
	failing map[string]bool
}

type cursor struct {
	boot string
	seq  uint64
}

// batchSize is how many events one request asks for.
const batchSize = 5000

// Run collects until ctx ends.
func (c *Collector) Run(ctx context.Context) {
	if c.Every <= 0 {
		c.Every = time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	t := time.NewTicker(c.Every)
	defer t.Stop()
	for {
		c.CollectAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CollectAll drains every gateway service once.
func (c *Collector) CollectAll(ctx context.Context) {
	admin, err := c.Store.GetProviderOrgByName(ctx, AdminOrg)
	if err != nil {
		return // no admin org, no gateway services
	}
	gs, err := c.Store.ListGatewayServices(ctx, admin.ID, store.ListOptions{})
	if err != nil {
		c.Log.Error("gateway services not read", "error", err)
		return
	}
	var wg sync.WaitGroup
	for _, g := range gs.Items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.drain(ctx, g)
		}()
	}
	wg.Wait()
}

// drain collects from one gateway until it has no more.
func (c *Collector) drain(ctx context.Context, g store.GatewayService) {
	for ctx.Err() == nil {
		n, err := c.collect(ctx, g)
		c.report(g, err)
		if err != nil || n < batchSize {
			return
		}
	}
}

// collect stores one batch and returns its size.
func (c *Collector) collect(ctx context.Context, g store.GatewayService) (int, error) {
	client, err := c.clients.get(g)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	cur := c.cursors[g.ID]
	c.mu.Unlock()
	q := url.Values{"boot": {cur.boot}, "after": {strconv.FormatUint(cur.seq, 10)}, "limit": {strconv.Itoa(batchSize)}}
	var b analytics.Batch
	if err := client.do(ctx, "GET", "/v1/analytics?"+q.Encode(), nil, &b); err != nil {
		var ge *gatewayError
		if errors.As(err, &ge) && ge.Status == 404 {
			return 0, nil // a gateway that keeps no analytics
		}
		return 0, err
	}
	if len(b.Events) == 0 {
		if b.Boot != cur.boot { // the gateway restarted: its numbers start over
			c.setCursor(g.ID, cursor{boot: b.Boot})
		}
		return 0, nil
	}
	events := make([]analytics.Event, 0, len(b.Events))
	for _, e := range b.Events {
		// The store refuses a batch with an event it cannot key; such an
		// event would hold up every later one, so it is left out.
		if e.Event != nil && e.Event.TransactionID != "" && !e.Event.Datetime.IsZero() {
			events = append(events, *e.Event)
		}
	}
	n, err := c.Events.InsertAnalyticsEvents(ctx, events)
	if err != nil {
		return 0, err // the cursor stays: the gateway sends them again
	}
	if c.OnStored != nil {
		c.OnStored(n)
	}
	c.setCursor(g.ID, cursor{boot: b.Boot, seq: b.Events[len(b.Events)-1].Seq})
	return len(b.Events), nil
}

func (c *Collector) setCursor(id string, cur cursor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cursors == nil {
		c.cursors = map[string]cursor{}
	}
	c.cursors[id] = cur
}

// report logs when a gateway starts or stops failing, not every attempt.
func (c *Collector) report(g store.GatewayService, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failing == nil {
		c.failing = map[string]bool{}
	}
	switch {
	case err != nil && !c.failing[g.ID]:
		c.failing[g.ID] = true
		c.Log.Warn("analytics not collected from gateway; retrying", "gateway_service", g.Name, "error", err.Error())
	case err == nil && c.failing[g.ID]:
		delete(c.failing, g.ID)
		c.Log.Info("analytics collected from gateway again", "gateway_service", g.Name)
	}
}
