package manager_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/manager"
	"github.com/portico-api/portico/internal/manager/analyticstest"
	"github.com/portico-api/portico/internal/store"
)

const (
	analyticsOrg = "/api/analytics/analytics-service/orgs/acme"
	analyticsCat = "/api/analytics/analytics-service/catalogs/acme/sandbox"
)

// syntheticEvents are 160 calls to acme, one a minute back from now (plus
// half a minute, so no event sits on a timeframe's edge):
//   - i < 100 call API weather with latencies a permutation of 1…100 ms,
//     so its p50, p95 and p99 are 50, 95 and 99; the other 60 call maps
//     with 1100…1159 ms;
//   - every tenth (i%10 == 0) answers 500, i%10 == 7 answers 404,
//     i%10 == 3 answers 302, the rest 200;
//   - even i are in catalog sandbox, odd in prod; i%3 picks no app,
//     mobile or web.
func syntheticEvents(orgID string, now time.Time) []analytics.Event {
	var events []analytics.Event
	for i := range 160 {
		status := map[int]int{0: 500, 7: 404, 3: 302}[i%10]
		if status == 0 {
			status = 200
		}
		api, ms := "weather", int64((i*37)%100+1)
		if i >= 100 {
			api, ms = "maps", int64(1000+i)
		}
		e := analytics.Event{
			Datetime:      now.Add(-time.Duration(i)*time.Minute - 30*time.Second).UTC(),
			TransactionID: fmt.Sprintf("tx-%03d", i), OrgID: orgID, OrgName: "acme",
			CatalogName: []string{"sandbox", "prod"}[i%2], APIName: api, APIVersion: "1.0.0",
			RequestMethod: "GET", URIPath: "/acme/sandbox/" + api,
			StatusCode: fmt.Sprintf("%d %s", status, http.StatusText(status)), TimeToServeRequest: ms,
			BytesReceived: int64(i), BytesSent: int64(2 * i),
		}
		if app := []string{"", "mobile", "web"}[i%3]; app != "" {
			e.AppID, e.AppName, e.ClientID = "id-"+app, app, "client-"+app
		}
		events = append(events, e)
	}
	return events
}

func insertEvents(t *testing.T, st store.Store, events []analytics.Event) {
	t.Helper()
	n, err := st.InsertAnalyticsEvents(context.Background(), events)
	if err != nil || n != len(events) {
		t.Fatalf("InsertAnalyticsEvents = %d, %v; want %d", n, err, len(events))
	}
}

func filtered(events []analytics.Event, keep func(i int, e analytics.Event) bool) []analytics.Event {
	var out []analytics.Event
	for i, e := range events {
		if keep(i, e) {
			out = append(out, e)
		}
	}
	return out
}

func TestAnalyticsQueries(t *testing.T) {
	e := newConsumerEnv(t)
	now := time.Now()
	events := syntheticEvents(e.org.ID, now)
	insertEvents(t, e.st, events)
	other, err := e.st.GetProviderOrgByName(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	insertEvents(t, e.st, []analytics.Event{{Datetime: now, TransactionID: "other-1", OrgID: other.ID, OrgName: "other",
		CatalogName: "sandbox", APIName: "weather", APIVersion: "1.0.0", StatusCode: "200 OK", TimeToServeRequest: 5}})

	// The reusable check: counts, totals and per-API and per-app groups,
	// for the org, its sandbox catalog, and a filter.
	org := analyticstest.Client{Base: e.srv.URL + analyticsOrg, Token: e.viewer}
	cat := analyticstest.Client{Base: e.srv.URL + analyticsCat, Token: e.viewer}
	org.Check(t, nil, 160, events)
	cat.Check(t, nil, 80, filtered(events, func(i int, _ analytics.Event) bool { return i%2 == 0 }))
	org.Check(t, url.Values{"status_code": {"error"}, "api_name": {"weather"}}, 20,
		filtered(events, func(i int, e analytics.Event) bool { return i < 100 && (i%10 == 0 || i%10 == 7) }))

	// The percentiles, known from how the events were made.
	sum := org.Get(t, "/summary", url.Values{"group_by": {"api"}})
	want := map[string][5]float64{ // calls, p50, p95, p99, errors
		"maps":    {60, 1129, 1156, 1159, 12},
		"weather": {100, 50, 95, 99, 20},
	}
	groups := sum["groups"].([]any)
	if len(groups) != 2 {
		t.Fatalf("groups by api: %v", groups)
	}
	for _, g := range groups {
		g := g.(map[string]any)
		lat := g["latency_ms"].(map[string]any)
		w := want[g["api_name"].(string)]
		if got := [5]float64{g["calls"].(float64), lat["p50"].(float64), lat["p95"].(float64), lat["p99"].(float64), g["errors"].(float64)}; got != w || g["api_version"] != "1.0.0" {
			t.Errorf("group %v: calls, p50, p95, p99, errors = %v, want %v", g["api_name"], got, w)
		}
	}
	totals := sum["totals"].(map[string]any)
	lat := totals["latency_ms"].(map[string]any)
	if totals["calls"] != 160.0 || lat["p50"] != 80.0 || lat["p95"] != 1151.0 || lat["p99"] != 1158.0 || lat["min"] != 1.0 ||
		lat["max"] != 1159.0 || totals["errors"] != 32.0 || totals["error_rate"] != 0.2 {
		t.Errorf("totals: %v", totals)
	}

	// Filters: status classes, time, and the rest.
	start, end := events[19].Datetime.Format(time.RFC3339Nano), events[10].Datetime.Format(time.RFC3339Nano)
	for _, tc := range []struct {
		client analyticstest.Client
		query  string
		want   int
	}{
		{org, "status_code=5xx", 16},
		{org, "status_code=50x", 16},
		{org, "status_code=4xx", 16},
		{org, "status_code=3xx", 16},
		{org, "status_code=2xx", 112},
		{org, "status_code=error", 32},
		{org, "status_code=success", 128},
		{org, "status_code=404+Not+Found", 16},
		{org, "status_code=404", 16},
		{cat, "status_code=5xx", 16}, // i%10 == 0 are all even
		{org, "timeframe=last1hour", 60},
		{org, "timeframe=last15minutes", 15},
		{org, "timeframe=last7days", 160},
		{org, "start=" + url.QueryEscape(start) + "&end=" + url.QueryEscape(end), 10},
		{org, "start=" + url.QueryEscape(start), 20},
		{org, "start=" + url.QueryEscape(start) + "&timeframe=last1hour", 20}, // start wins, as in API Connect
		{org, "api_name=maps", 60},
		{org, "api_name=maps&api_version=2.0.0", 0},
		{org, "app_name=mobile", 53},
		{org, "app_id=id-web&client_id=client-web", 53},
		{org, "catalog_name=prod", 80},
		{org, "method=get", 160},
		{org, "product_name=nothing", 0},
		{cat, "catalog_name=sandbox&api_name=weather", 50},
	} {
		q, _ := url.ParseQuery(tc.query)
		if got := len(tc.client.Events(t, q)); got != tc.want {
			t.Errorf("%s?%s: %d events, want %d", strings.TrimPrefix(tc.client.Base, e.srv.URL), tc.query, got, tc.want)
		}
	}

	// Paging, newest first, and API Connect's ?fields= on each event.
	code, out := e.do("GET", analyticsOrg+"/events?limit=3&offset=2&fields=transaction_id,status_code", e.viewer, nil)
	page, _ := out["events"].([]any)
	if code != 200 || out["total"] != 160.0 || out["search_time"] == nil || len(page) != 3 {
		t.Fatalf("a page: %d %v", code, out)
	}
	for i, ev := range page {
		ev := ev.(map[string]any)
		if len(ev) != 2 || ev["transaction_id"] != events[2+i].TransactionID || ev["status_code"] != events[2+i].StatusCode {
			t.Errorf("event %d of the page: %v, want %s with two fields", i, ev, events[2+i].TransactionID)
		}
	}
	_, out = e.do("GET", analyticsOrg+"/events", e.viewer, nil)
	if first := out["events"].([]any)[0].(map[string]any); len(out["events"].([]any)) != 100 || first["api_name"] != "weather" ||
		first["datetime"] == nil || first["time_to_serve_request"] == nil || first["org_name"] != "acme" {
		t.Errorf("default page: %d events, first %v", len(out["events"].([]any)), first)
	}
	_, out = e.do("GET", analyticsCat+"/summary?group_by=catalog", e.admin, nil)
	if g := out["groups"].([]any); len(g) != 1 || g[0].(map[string]any)["catalog_name"] != "sandbox" || out["group_by"] != "catalog" {
		t.Errorf("catalog scope grouped by catalog: %v", out)
	}
}

// Bad queries are refused with a message that says what to use.
func TestAnalyticsBadQueries(t *testing.T) {
	e := newConsumerEnv(t)
	for _, tc := range []struct{ path, mention string }{
		{analyticsOrg + "/events?api=weather", "unknown query parameter"},
		{analyticsOrg + "/summary?limit=5", "unknown query parameter"},
		{analyticsOrg + "/events?status_code=6xx", "status_code"},
		{analyticsOrg + "/events?status_code=ok", "status_code"},
		{analyticsOrg + "/events?start=yesterday", "RFC 3339"},
		{analyticsOrg + "/events?start=2027-01-02T00:00:00Z&end=2027-01-01T00:00:00Z", "before start"},
		{analyticsOrg + "/events?timeframe=lastweek", "timeframe"},
		{analyticsOrg + "/events?timeframe=last0days", "timeframe"},
		{analyticsOrg + "/events?limit=501", "limit"},
		{analyticsOrg + "/events?limit=0", "limit"},
		{analyticsOrg + "/events?offset=-1", "offset"},
		{analyticsOrg + "/summary?group_by=colour", "group_by"},
		{analyticsCat + "/events?catalog_name=prod", "catalog_name"},
	} {
		code, out := e.do("GET", tc.path, e.admin, nil)
		if msgs := messages(out); code != 400 || len(msgs) != 1 || !strings.Contains(msgs[0], tc.mention) {
			t.Errorf("GET %s: %d %v, want 400 mentioning %q", tc.path, code, out, tc.mention)
		}
	}
	for _, path := range []string{"/api/analytics/x/orgs/nope/events", "/api/analytics/x/catalogs/acme/nope/summary"} {
		if code, _ := e.do("GET", path, e.admin, nil); code != 404 {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
}

// Every analytics route needs a token (401) and a role in the org (403);
// a viewer of the org may read, a member of another org may not.
func TestAnalyticsAuthorised(t *testing.T) {
	e := newConsumerEnv(t)
	insertEvents(t, e.st, syntheticEvents(e.org.ID, time.Now())[:3])
	paths := []string{analyticsOrg + "/events", analyticsOrg + "/summary", analyticsCat + "/events", analyticsCat + "/summary"}
	for _, p := range paths {
		if code, out := e.do("GET", p, "", nil); code != 401 || out["status"] != 401.0 {
			t.Errorf("GET %s without a token: %d %v", p, code, out)
		}
		if code, _ := e.do("GET", p, "not-a-token", nil); code != 401 {
			t.Errorf("GET %s with a bad token: %d", p, code)
		}
		if code, out := e.do("GET", p, e.none, nil); code != 403 || out["status"] != 403.0 {
			t.Errorf("GET %s as a user without a role in acme: %d %v", p, code, out)
		}
		for who, tok := range map[string]string{"viewer": e.viewer, "developer": e.dv, "cloud admin": e.admin} {
			if code, out := e.do("GET", p, tok, nil); code != 200 {
				t.Errorf("GET %s as %s: %d %v", p, who, code, out)
			}
		}
	}
	// A role in another org does not open acme's analytics.
	other, err := e.st.GetProviderOrgByName(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.st.GetUserByName(context.Background(), "stranger")
	if err != nil {
		t.Fatal(err)
	}
	err = e.st.Tx(context.Background(), func(tx store.Tx) error {
		_, err := tx.SetMembership(context.Background(), store.Membership{OrgID: other.ID, UserID: u.ID, Role: manager.RoleOwner})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := e.do("GET", analyticsOrg+"/events", e.none, nil); code != 403 {
		t.Errorf("the owner of another org reads acme's events: %d", code)
	}
	if code, out := e.do("GET", "/api/analytics/analytics-service/orgs/other/events", e.none, nil); code != 200 || out["total"] != 0.0 {
		t.Errorf("the owner reads their own org's (empty) events: %d %v", code, out)
	}
}

// The retention loop deletes what is older than the retention at once
// and again on each tick, and stops with its context.
func TestAnalyticsRetention(t *testing.T) {
	e := newConsumerEnv(t)
	now := time.Now()
	old := func(id string) analytics.Event {
		return analytics.Event{Datetime: now.Add(-48 * time.Hour), TransactionID: id, OrgID: e.org.ID, StatusCode: "200 OK"}
	}
	insertEvents(t, e.st, []analytics.Event{old("old-1"), old("old-2"), {Datetime: now, TransactionID: "new", OrgID: e.org.ID, StatusCode: "200 OK"}})
	m := manager.New(e.st, manager.Options{Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		m.RunAnalyticsRetention(ctx, 24*time.Hour, 20*time.Millisecond)
		close(done)
	}()
	left := func() []string {
		page, err := e.st.ListAnalyticsEvents(context.Background(), store.AnalyticsFilter{OrgID: e.org.ID}, store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ev := range page.Items {
			ids = append(ids, ev.TransactionID)
		}
		return ids
	}
	// waitFor polls cond until it holds or a deadline passes.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		poll := time.NewTicker(5 * time.Millisecond)
		defer poll.Stop()
		deadline := time.After(10 * time.Second)
		for !cond() {
			select {
			case <-poll.C:
			case <-deadline:
				t.Fatalf("timed out waiting for %s (left: %v)", what, left())
			}
		}
	}
	waitFor("the first purge", func() bool { return strings.Join(left(), ",") == "new" })
	insertEvents(t, e.st, []analytics.Event{old("old-3")})
	waitFor("a purge on a later tick", func() bool { return strings.Join(left(), ",") == "new" })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunAnalyticsRetention did not return after its context ended")
	}

	// Retention 0 keeps everything and returns at once.
	insertEvents(t, e.st, []analytics.Event{old("old-4")})
	m.RunAnalyticsRetention(context.Background(), 0, time.Millisecond)
	if got := strings.Join(left(), ","); got != "new,old-4" {
		t.Errorf("after retention 0: %s", got)
	}
}
