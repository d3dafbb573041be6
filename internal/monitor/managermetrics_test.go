package monitor

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portico-api/portico/internal/store"
)

// storeCounts adapts a real store to ObjectCounter, as the cli does.
type storeCounts struct{ c store.ObjectCounter }

func (s storeCounts) CountObjects(ctx context.Context) ([]ObjectCount, error) {
	counts, err := s.c.CountObjects(ctx)
	out := make([]ObjectCount, len(counts))
	for i, c := range counts {
		out[i] = ObjectCount(c)
	}
	return out, err
}

// newStore opens a SQLite file store with an org "acme", its catalog
// "sandbox", a published and a retired product, a consumer org with an
// app and a subscription, all made through the store.
func newStore(t *testing.T) store.Store {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "portico.db"), []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	err = st.Tx(ctx, func(tx store.Tx) error {
		u, err := tx.CreateUser(ctx, store.User{Name: "ada"})
		if err != nil {
			return err
		}
		o, err := tx.CreateProviderOrg(ctx, store.ProviderOrg{Name: "acme", OwnerID: u.ID})
		if err != nil {
			return err
		}
		c, err := tx.CreateCatalog(ctx, store.Catalog{OrgID: o.ID, Name: "sandbox"})
		if err != nil {
			return err
		}
		api := []store.ProductAPI{{Name: "weather", Version: "1.0.0", Document: []byte("openapi: 3.0.0\n")}}
		p, err := tx.CreateProduct(ctx, store.Product{CatalogID: c.ID, Name: "weather", Version: "1.0.0", State: store.ProductPublished,
			Document: []byte("product: 1.0.0\n"), APIs: api})
		if err != nil {
			return err
		}
		if _, err := tx.CreateProduct(ctx, store.Product{CatalogID: c.ID, Name: "weather", Version: "0.9.0", State: store.ProductRetired,
			Document: []byte("product: 1.0.0\n"), APIs: api}); err != nil {
			return err
		}
		co, err := tx.CreateConsumerOrg(ctx, store.ConsumerOrg{CatalogID: c.ID, Name: "partners", OwnerID: u.ID})
		if err != nil {
			return err
		}
		a, err := tx.CreateApp(ctx, store.App{ConsumerOrgID: co.ID, Name: "mobile"})
		if err != nil {
			return err
		}
		_, err = tx.CreateSubscription(ctx, store.Subscription{AppID: a.ID, ProductID: p.ID, Plan: "gold"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestManagerMetricsObjects(t *testing.T) {
	st := newStore(t)
	m := NewManagerMetrics(ManagerMetricsOptions{Objects: storeCounts{st.(store.ObjectCounter)}})
	want := `
# HELP portico_manager_objects Objects in the manager, by type; org and catalog are empty where the type is not scoped by them.
# TYPE portico_manager_objects gauge
portico_manager_objects{catalog="",org="",type="provider_orgs"} 1
portico_manager_objects{catalog="",org="",type="users"} 1
portico_manager_objects{catalog="",org="acme",type="catalogs"} 1
portico_manager_objects{catalog="",org="acme",type="draft_apis"} 0
portico_manager_objects{catalog="",org="acme",type="draft_products"} 0
portico_manager_objects{catalog="",org="acme",type="gateway_services"} 0
portico_manager_objects{catalog="sandbox",org="acme",type="apis"} 1
portico_manager_objects{catalog="sandbox",org="acme",type="apps"} 1
portico_manager_objects{catalog="sandbox",org="acme",type="consumer_orgs"} 1
portico_manager_objects{catalog="sandbox",org="acme",type="subscriptions"} 1
# HELP portico_manager_products Products in a catalog, by lifecycle state.
# TYPE portico_manager_products gauge
portico_manager_products{catalog="sandbox",org="acme",state="archived"} 0
portico_manager_products{catalog="sandbox",org="acme",state="deprecated"} 0
portico_manager_products{catalog="sandbox",org="acme",state="published"} 1
portico_manager_products{catalog="sandbox",org="acme",state="retired"} 1
portico_manager_products{catalog="sandbox",org="acme",state="staged"} 0
# HELP portico_manager_scrape_error 1 if reading the source (objects, push_status) failed in this scrape, else 0.
# TYPE portico_manager_scrape_error gauge
portico_manager_scrape_error{source="objects"} 0
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want),
		"portico_manager_objects", "portico_manager_products", "portico_manager_scrape_error"); err != nil {
		t.Error(err)
	}

	// Counts are read at each scrape: a change shows at once.
	ctx := t.Context()
	org, _ := st.GetProviderOrgByName(ctx, "acme")
	err := st.Tx(ctx, func(tx store.Tx) error {
		_, err := tx.CreateDraftAPI(ctx, store.DraftAPI{OrgID: org.ID, Name: "maps", Version: "1.0.0", Document: []byte("x")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := gauge(t, m, "portico_manager_objects", "catalog=,org=acme,type=draft_apis"); got != 1 {
		t.Errorf("draft_apis after a create = %v, want 1", got)
	}
}

// gauge reads one series' value; labels as the labels helper renders them.
func gauge(t *testing.T, m *ManagerMetrics, name, labelSet string) float64 {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			if mf.GetName() == name && labels(metric) == labelSet {
				return metric.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no series %s{%s}", name, labelSet)
	return 0
}

// failingCounter fails, or blocks until the scrape's deadline.
type failingCounter struct{ block bool }

func (f failingCounter) CountObjects(ctx context.Context) ([]ObjectCount, error) {
	if f.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, errors.New("database is locked")
}

func TestManagerMetricsScrapeError(t *testing.T) {
	for _, block := range []bool{false, true} {
		var heard []string
		m := NewManagerMetrics(ManagerMetricsOptions{Objects: failingCounter{block}, Timeout: 50 * time.Millisecond,
			OnError: func(source string, err error) { heard = append(heard, source+": "+err.Error()) }})
		start := time.Now()
		code, body := scrape(t, m.Handler(), "/metrics")
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("the scrape took %v; the timeout is 50ms", took)
		}
		if code != 200 || !strings.Contains(body, `portico_manager_scrape_error{source="objects"} 1`) ||
			strings.Contains(body, "portico_manager_objects{") || !strings.Contains(body, "go_goroutines") {
			t.Errorf("block=%v: %d\n%s", block, code, body)
		}
		if len(heard) != 1 || !strings.HasPrefix(heard[0], "objects: ") {
			t.Errorf("OnError heard %q", heard)
		}
	}
}

type pushSource []GatewayPush

func (p pushSource) PushStatus(context.Context) ([]GatewayPush, error) { return p, nil }

func TestManagerMetricsPushStatus(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	src := pushSource{
		{Gateway: "gw1", Outstanding: 0, LastPush: now.Add(-90 * time.Second), UpToDate: true},
		{Gateway: "gw2", Outstanding: 3, UpToDate: false}, // never pushed
	}
	m := NewManagerMetrics(ManagerMetricsOptions{Push: src, Now: func() time.Time { return now }})
	want := `
# HELP portico_manager_gateway_last_push_age_seconds Seconds since the last successful push to the gateway (absent before the first).
# TYPE portico_manager_gateway_last_push_age_seconds gauge
portico_manager_gateway_last_push_age_seconds{gateway="gw1"} 90
# HELP portico_manager_gateway_outstanding_changes Changes not yet pushed to the gateway.
# TYPE portico_manager_gateway_outstanding_changes gauge
portico_manager_gateway_outstanding_changes{gateway="gw1"} 0
portico_manager_gateway_outstanding_changes{gateway="gw2"} 3
# HELP portico_manager_gateway_up_to_date 1 if the gateway serves the current configuration, else 0.
# TYPE portico_manager_gateway_up_to_date gauge
portico_manager_gateway_up_to_date{gateway="gw1"} 1
portico_manager_gateway_up_to_date{gateway="gw2"} 0
# HELP portico_manager_scrape_error 1 if reading the source (objects, push_status) failed in this scrape, else 0.
# TYPE portico_manager_scrape_error gauge
portico_manager_scrape_error{source="push_status"} 0
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "portico_manager_gateway_last_push_age_seconds",
		"portico_manager_gateway_outstanding_changes", "portico_manager_gateway_up_to_date", "portico_manager_scrape_error"); err != nil {
		t.Error(err)
	}
	// Without sources there are no state series at all.
	empty := NewManagerMetrics(ManagerMetricsOptions{})
	if n, err := testutil.GatherAndCount(empty.reg, "portico_manager_objects", "portico_manager_gateway_up_to_date",
		"portico_manager_scrape_error"); err != nil || n != 0 {
		t.Errorf("%d series without sources (%v)", n, err)
	}
}

func TestManagerMetricsAnalyticsEvents(t *testing.T) {
	m := NewManagerMetrics(ManagerMetricsOptions{})
	m.AddAnalyticsEvents(3)
	m.AddAnalyticsEvents(0)
	m.AddAnalyticsEvents(-1)
	if got := testutil.ToFloat64(m.analytics); got != 3 {
		t.Fatalf("analytics events = %v, want 3", got)
	}
}

// TestManagerHandlerRoutes checks the HTTP metrics through a real mux:
// the route label is the pattern, never the path.
func TestManagerHandlerRoutes(t *testing.T) {
	m := NewManagerMetrics(ManagerMetricsOptions{})
	api := http.NewServeMux()
	api.HandleFunc("GET /api/orgs/{org}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("org") == "missing" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		w.Write([]byte("{}"))
	})
	api.HandleFunc("POST /api/orgs", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	srv := httptest.NewServer(ManagerHandler(m, api))
	defer srv.Close()
	call := func(method, path string) int {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/api/orgs/acme", 200}, {"GET", "/api/orgs/beta", 200}, {"GET", "/api/orgs/missing", 404},
		{"POST", "/api/orgs", 201}, {"GET", "/api/nothing/here", 404}, {"BREW", "/api/orgs", 405}, {"GET", "/metrics", 200},
	} {
		if got := call(c.method, c.path); got != c.want {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, got, c.want)
		}
	}
	want := `
# HELP portico_manager_http_requests_total REST calls to the manager, by method, route (the path pattern, never the raw path) and status code.
# TYPE portico_manager_http_requests_total counter
portico_manager_http_requests_total{code="200",method="GET",route="/api/orgs/{org}"} 2
portico_manager_http_requests_total{code="200",method="GET",route="/metrics"} 1
portico_manager_http_requests_total{code="201",method="POST",route="/api/orgs"} 1
portico_manager_http_requests_total{code="404",method="GET",route="/api/orgs/{org}"} 1
portico_manager_http_requests_total{code="404",method="GET",route="unmatched"} 1
portico_manager_http_requests_total{code="405",method="other",route="unmatched"} 1
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "portico_manager_http_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.duration); n != 5 {
		t.Errorf("%d duration series, want 5 (method, route)", n)
	}
}

func TestManagerHandlerServesMetrics(t *testing.T) {
	m := NewManagerMetrics(ManagerMetricsOptions{Objects: storeCounts{newStore(t).(store.ObjectCounter)}})
	h := ManagerHandler(m, http.NotFoundHandler())
	scrape(t, h, "/metrics") // a vector shows once it has a series: this scrape counts
	code, body := scrape(t, h, "/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d", code)
	}
	for _, family := range []string{"portico_manager_objects", "portico_manager_products", "portico_manager_http_requests_total",
		"portico_manager_analytics_events_total", "portico_manager_scrape_error", "process_cpu_seconds_total"} {
		if !strings.Contains(body, "# TYPE "+family+" ") {
			t.Errorf("/metrics lacks %s", family)
		}
	}
}
