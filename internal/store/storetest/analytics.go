package storetest

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/store"
)

// testAnalytics runs the analytics checks on one store; each uses an org
// ID of its own, so they do not see each other's events.
func testAnalytics(t *testing.T, f *fixture) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, f *fixture, org string)
	}{
		{"InsertIdempotent", testAnalyticsInsert},
		{"InsertRefusesBadBatch", testAnalyticsBadBatch},
		{"Filters", testAnalyticsFilters},
		{"Summary", testAnalyticsSummary},
		{"Purge", testAnalyticsPurge},
		{"OutsideTx", testAnalyticsOutsideTx},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer report(t)
			tc.fn(t, &fixture{t: t, s: f.s, ctx: t.Context()}, "org-"+tc.name)
		})
	}
}

// analyticsBase is when the synthetic events start.
var analyticsBase = time.Date(2027, 3, 4, 10, 0, 0, 0, time.UTC)

// analyticsEvent is call i of org: a second apart, status and latency as
// given, and the rest derived from i so that filters have something to
// tell apart. Like events that travelled as JSON, Status and Duration are
// left zero.
func analyticsEvent(org string, i, status int, ms int64) analytics.Event {
	return analytics.Event{
		Datetime: analyticsBase.Add(time.Duration(i) * time.Second), TransactionID: fmt.Sprintf("%s-tx-%04d", org, i),
		GlobalTransactionID: fmt.Sprintf("%s-tx-%04d", org, i), OrgID: org, OrgName: org + "-name",
		CatalogName: []string{"sandbox", "prod"}[i%2], APIName: []string{"weather", "maps", "pay"}[i%3], APIVersion: "1.0.0",
		RequestMethod: []string{"GET", "POST"}[i%2], URIPath: fmt.Sprintf("/%s/sandbox/x/%d", org, i),
		AppID: []string{"app-1", "app-2"}[i%2], AppName: []string{"mobile", "web"}[i%2], ClientID: []string{"c1", "c2"}[i%2],
		DevOrgName: "devs", ProductName: "bundle", ProductVersion: "1.0.0", PlanName: []string{"gold", "free"}[i%2],
		StatusCode: fmt.Sprintf("%d %s", status, "Reason"), TimeToServeRequest: ms,
		BytesReceived: int64(10 * i), BytesSent: int64(100 + i), GatewayType: "portico",
	}
}

func (f *fixture) insertEvents(events []analytics.Event) int {
	f.t.Helper()
	return ok(f.s.InsertAnalyticsEvents(f.ctx, events))
}

func (f *fixture) listEvents(filter store.AnalyticsFilter, opts store.ListOptions) store.Page[analytics.Event] {
	f.t.Helper()
	return ok(f.s.ListAnalyticsEvents(f.ctx, filter, opts))
}

func transactionIDs(events []analytics.Event) []string {
	ids := []string{}
	for _, e := range events {
		ids = append(ids, e.TransactionID)
	}
	return ids
}

func testAnalyticsInsert(t *testing.T, f *fixture, org string) {
	var events []analytics.Event
	for i := range 450 { // more than one INSERT's worth
		events = append(events, analyticsEvent(org, i, 200, int64(i)))
	}
	same(t, "new events in the first batch", f.insertEvents(events[:300]), 300)
	// A resent batch overlapping the first, with a duplicate inside it,
	// adds only what is new.
	again := append(slices.Clone(events[250:]), events[449])
	same(t, "new events in an overlapping batch", f.insertEvents(again), 150)
	same(t, "new events when everything is known", f.insertEvents(events), 0)
	same(t, "an empty batch", f.insertEvents(nil), 0)
	all := f.listEvents(store.AnalyticsFilter{OrgID: org}, store.ListOptions{})
	if all.Total != 450 || len(all.Items) != 450 {
		t.Fatalf("stored %d events (page of %d), want 450", all.Total, len(all.Items))
	}
	// Newest first, and each event comes back as it went in, with the
	// status number filled in from status_code.
	want := slices.Clone(events)
	slices.Reverse(want)
	same(t, "order", transactionIDs(all.Items), transactionIDs(want))
	got, sent := all.Items[0], want[0]
	sent.Status = 200
	same(t, "event read back", got, sent)

	// Status and latency given as numbers only (as a gateway in the same
	// process would hand them over) end up in the JSON record too.
	e := analyticsEvent(org, 1000, 0, 0)
	e.StatusCode, e.Status, e.Duration = "", 503, 1500*time.Millisecond
	f.insertEvents([]analytics.Event{e})
	page := f.listEvents(store.AnalyticsFilter{OrgID: org, StatusMin: 500}, store.ListOptions{})
	if page.Total != 1 || page.Items[0].StatusCode != "503 Service Unavailable" || page.Items[0].TimeToServeRequest != 1500 || page.Items[0].Status != 503 {
		t.Fatalf("event given by number: %+v", page.Items)
	}
	doc, _ := json.Marshal(page.Items[0])
	var m map[string]any
	json.Unmarshal(doc, &m)
	if m["status_code"] != "503 Service Unavailable" || m["time_to_serve_request"] != 1500.0 || m["transaction_id"] != e.TransactionID {
		t.Errorf("event as JSON: %s", doc)
	}
}

// testAnalyticsBadBatch: an event without a transaction ID or time fails
// the batch, naming the event, and stores none of it.
func testAnalyticsBadBatch(t *testing.T, f *fixture, org string) {
	for _, spoil := range []func(e *analytics.Event){
		func(e *analytics.Event) { e.TransactionID = "" },
		func(e *analytics.Event) { e.Datetime = time.Time{} },
	} {
		events := []analytics.Event{analyticsEvent(org, 0, 200, 1), analyticsEvent(org, 1, 200, 1)}
		spoil(&events[1])
		_, err := f.s.InsertAnalyticsEvents(f.ctx, events)
		wantErr(t, err, store.ErrInvalid)
		if msg := err.Error(); !strings.Contains(msg, "event 1 ") {
			t.Errorf("error %q does not name the event", msg)
		}
		same(t, "events stored from a bad batch", f.listEvents(store.AnalyticsFilter{OrgID: org}, store.ListOptions{}).Total, 0)
	}
}

func testAnalyticsFilters(t *testing.T, f *fixture, org string) {
	var events []analytics.Event
	statuses := []int{200, 201, 302, 404, 500, 503}
	for i := range 12 {
		events = append(events, analyticsEvent(org, i, statuses[i%len(statuses)], int64(i)))
	}
	f.insertEvents(events)
	f.insertEvents([]analytics.Event{analyticsEvent("another-org", 0, 200, 1)})
	// match lists the expected events, newest first.
	match := func(keep func(i int, e analytics.Event) bool) []string {
		ids := []string{}
		for i := len(events) - 1; i >= 0; i-- {
			if keep(i, events[i]) {
				ids = append(ids, events[i].TransactionID)
			}
		}
		return ids
	}
	at := func(i int) time.Time { return events[i].Datetime }
	for _, tc := range []struct {
		name   string
		filter store.AnalyticsFilter
		want   []string
	}{
		{"org", store.AnalyticsFilter{}, match(func(int, analytics.Event) bool { return true })},
		{"catalog", store.AnalyticsFilter{CatalogName: "prod"}, match(func(i int, _ analytics.Event) bool { return i%2 == 1 })},
		{"api", store.AnalyticsFilter{APIName: "maps", APIVersion: "1.0.0"}, match(func(i int, _ analytics.Event) bool { return i%3 == 1 })},
		{"api version", store.AnalyticsFilter{APIName: "maps", APIVersion: "2.0.0"}, []string{}},
		{"app id", store.AnalyticsFilter{AppID: "app-2"}, match(func(i int, _ analytics.Event) bool { return i%2 == 1 })},
		{"app name", store.AnalyticsFilter{AppName: "mobile"}, match(func(i int, _ analytics.Event) bool { return i%2 == 0 })},
		{"client", store.AnalyticsFilter{ClientID: "c1"}, match(func(i int, _ analytics.Event) bool { return i%2 == 0 })},
		{"product and plan", store.AnalyticsFilter{ProductName: "bundle", PlanName: "free"}, match(func(i int, _ analytics.Event) bool { return i%2 == 1 })},
		{"consumer org", store.AnalyticsFilter{DeveloperOrgName: "nobody"}, []string{}},
		{"method", store.AnalyticsFilter{RequestMethod: "POST"}, match(func(i int, _ analytics.Event) bool { return i%2 == 1 })},
		{"status 2xx", store.AnalyticsFilter{StatusMin: 200, StatusMax: 299}, match(func(i int, _ analytics.Event) bool { return i%6 < 2 })},
		{"errors", store.AnalyticsFilter{StatusMin: 400}, match(func(i int, _ analytics.Event) bool { return i%6 >= 3 })},
		{"successes", store.AnalyticsFilter{StatusMax: 399}, match(func(i int, _ analytics.Event) bool { return i%6 < 3 })},
		{"exact status", store.AnalyticsFilter{StatusMin: 404, StatusMax: 404}, match(func(i int, _ analytics.Event) bool { return i%6 == 3 })},
		// Both ends of a time range are included.
		{"time range", store.AnalyticsFilter{Start: at(3), End: at(7)}, match(func(i int, _ analytics.Event) bool { return i >= 3 && i <= 7 })},
		{"since", store.AnalyticsFilter{Start: at(10)}, match(func(i int, _ analytics.Event) bool { return i >= 10 })},
		{"until", store.AnalyticsFilter{End: at(0).Add(time.Microsecond)}, match(func(i int, _ analytics.Event) bool { return i == 0 })},
		{"combined", store.AnalyticsFilter{CatalogName: "sandbox", StatusMin: 400, Start: at(4)},
			match(func(i int, _ analytics.Event) bool { return i%2 == 0 && i%6 >= 3 && i >= 4 })},
	} {
		tc.filter.OrgID = org
		page := f.listEvents(tc.filter, store.ListOptions{})
		if got := transactionIDs(page.Items); !reflect.DeepEqual(got, tc.want) || page.Total != len(tc.want) {
			t.Errorf("%s: %v (total %d), want %v", tc.name, got, page.Total, tc.want)
		}
	}
	all := match(func(int, analytics.Event) bool { return true })
	page := f.listEvents(store.AnalyticsFilter{OrgID: org}, store.ListOptions{Limit: 5, Offset: 5})
	if page.Total != 12 || !reflect.DeepEqual(transactionIDs(page.Items), all[5:10]) {
		t.Errorf("page 2 of 5: %v (total %d), want %v", transactionIDs(page.Items), page.Total, all[5:10])
	}
	same(t, "events of another org", transactionIDs(f.listEvents(store.AnalyticsFilter{OrgID: "another-org"}, store.ListOptions{}).Items),
		[]string{"another-org-tx-0000"})
	if n := f.listEvents(store.AnalyticsFilter{}, store.ListOptions{}).Total; n < 13 {
		t.Errorf("events of all orgs: %d, want at least 13", n)
	}
	_, err := f.s.ListAnalyticsEvents(f.ctx, store.AnalyticsFilter{}, store.ListOptions{Limit: -1})
	wantErr(t, err, store.ErrInvalid)
}

// NearestRank is the p-th percentile of values by the nearest-rank
// method: the value at rank ceil(p/100 × n) in ascending order, 0 for no
// values. The tests compute it this way, independently of the store's SQL.
func NearestRank(values []int64, p float64) int64 {
	if len(values) == 0 {
		return 0
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

func testAnalyticsSummary(t *testing.T, f *fixture, org string) {
	// 203 calls: latencies in a shuffled order with ties, every tenth an
	// error; group sizes that make ceil() matter.
	var events []analytics.Event
	for i := range 203 {
		status := 200
		if i%10 == 0 {
			status = 500
		} else if i%10 == 5 {
			status = 404
		}
		events = append(events, analyticsEvent(org, i, status, int64((i*37)%101)))
	}
	f.insertEvents(events)
	type want struct {
		key                      []string
		calls, errors, rcvd, snt int64
		lat                      []int64
	}
	expect := func(key func(e analytics.Event) []string) []want {
		byKey := map[string]*want{}
		var order []string
		for _, e := range events {
			k := key(e)
			id := fmt.Sprint(k)
			w, seen := byKey[id]
			if !seen {
				w = &want{key: k}
				byKey[id] = w
				order = append(order, id)
			}
			w.calls++
			if statusNumber(e.StatusCode) >= 400 {
				w.errors++
			}
			w.rcvd += e.BytesReceived
			w.snt += e.BytesSent
			w.lat = append(w.lat, e.TimeToServeRequest)
		}
		slices.Sort(order)
		var out []want
		for _, id := range order {
			out = append(out, *byKey[id])
		}
		return out
	}
	check := func(by store.AnalyticsGroupBy, filter store.AnalyticsFilter, wants []want) {
		t.Helper()
		filter.OrgID = org
		got := ok(f.s.SummarizeAnalytics(f.ctx, filter, by))
		if len(got) != len(wants) {
			t.Fatalf("by %q: %d groups, want %d: %+v", by, len(got), len(wants), got)
		}
		for i, w := range wants {
			mean := 0.0
			for _, l := range w.lat {
				mean += float64(l)
			}
			mean /= float64(len(w.lat))
			g := got[i]
			exp := store.AnalyticsSummary{Key: w.key, Calls: w.calls, Errors: w.errors, BytesReceived: w.rcvd, BytesSent: w.snt,
				LatencyMin: slices.Min(w.lat), LatencyMax: slices.Max(w.lat),
				LatencyP50: NearestRank(w.lat, 50), LatencyP95: NearestRank(w.lat, 95), LatencyP99: NearestRank(w.lat, 99),
				LatencyMean: g.LatencyMean}
			if math.Abs(g.LatencyMean-mean) > 1e-9 {
				t.Errorf("by %q group %v: mean latency %v, want %v", by, w.key, g.LatencyMean, mean)
			}
			same(t, fmt.Sprintf("by %q group %d", by, i), g, exp)
		}
	}
	check(store.AnalyticsTotal, store.AnalyticsFilter{}, expect(func(analytics.Event) []string { return []string{} }))
	check(store.AnalyticsByAPI, store.AnalyticsFilter{}, expect(func(e analytics.Event) []string { return []string{e.APIName, e.APIVersion} }))
	check(store.AnalyticsByApp, store.AnalyticsFilter{}, expect(func(e analytics.Event) []string { return []string{e.AppID, e.AppName} }))
	check(store.AnalyticsByProduct, store.AnalyticsFilter{}, expect(func(e analytics.Event) []string { return []string{e.ProductName, e.ProductVersion} }))
	check(store.AnalyticsByPlan, store.AnalyticsFilter{}, expect(func(e analytics.Event) []string { return []string{e.ProductName, e.ProductVersion, e.PlanName} }))
	check(store.AnalyticsByCatalog, store.AnalyticsFilter{}, expect(func(e analytics.Event) []string { return []string{e.CatalogName} }))

	// A filter applies before grouping; nothing matching gives no groups,
	// or one group of zeros for the total.
	all := events
	events = nil
	for _, e := range all {
		if e.CatalogName == "prod" && e.Datetime.Before(analyticsBase.Add(100*time.Second)) {
			events = append(events, e)
		}
	}
	check(store.AnalyticsByAPI, store.AnalyticsFilter{CatalogName: "prod", End: analyticsBase.Add(99 * time.Second)},
		expect(func(e analytics.Event) []string { return []string{e.APIName, e.APIVersion} }))
	none := store.AnalyticsFilter{OrgID: org, APIName: "nothing"}
	same(t, "groups of nothing", ok(f.s.SummarizeAnalytics(f.ctx, none, store.AnalyticsByAPI)), []store.AnalyticsSummary{})
	same(t, "total of nothing", ok(f.s.SummarizeAnalytics(f.ctx, none, store.AnalyticsTotal)), []store.AnalyticsSummary{{Key: []string{}}})
	_, err := f.s.SummarizeAnalytics(f.ctx, none, "colour")
	wantErr(t, err, store.ErrInvalid)
}

func statusNumber(code string) int {
	var n int
	fmt.Sscanf(code, "%d", &n)
	return n
}

func testAnalyticsPurge(t *testing.T, f *fixture, org string) {
	// Years before the other tests' events, which share the store.
	var events []analytics.Event
	for i := range 10 {
		e := analyticsEvent(org, i, 200, 5)
		e.Datetime = e.Datetime.AddDate(-5, 0, 0)
		events = append(events, e)
	}
	f.insertEvents(events)
	// Strictly older than the cut-off goes; the event at it stays.
	same(t, "purged", ok(f.s.PurgeAnalyticsEvents(f.ctx, events[4].Datetime)), int64(4))
	left := f.listEvents(store.AnalyticsFilter{OrgID: org}, store.ListOptions{})
	want := transactionIDs(events[4:])
	slices.Reverse(want)
	same(t, "events left", transactionIDs(left.Items), want)
	same(t, "purged again", ok(f.s.PurgeAnalyticsEvents(f.ctx, events[4].Datetime)), int64(0))
	// A purged event sent again is stored again: retention is about time,
	// not a record of what was seen.
	same(t, "resent after purge", f.insertEvents(events[:1]), 1)

	// A backlog larger than one DELETE's worth goes entirely.
	var backlog []analytics.Event
	for i := range 10050 {
		e := analyticsEvent(org+"-backlog", i, 200, 5)
		e.Datetime = e.Datetime.AddDate(-6, 0, 0)
		backlog = append(backlog, e)
	}
	same(t, "backlog stored", f.insertEvents(backlog), len(backlog))
	same(t, "backlog purged", ok(f.s.PurgeAnalyticsEvents(f.ctx, events[0].Datetime)), int64(len(backlog)))
	same(t, "left after the backlog", f.listEvents(store.AnalyticsFilter{OrgID: org}, store.ListOptions{}).Total, 7)
}

// testAnalyticsOutsideTx: analytics never joins a catalog transaction.
func testAnalyticsOutsideTx(t *testing.T, _ *fixture, _ string) {
	for _, name := range []string{"InsertAnalyticsEvents", "ListAnalyticsEvents", "SummarizeAnalytics", "PurgeAnalyticsEvents"} {
		if _, inTx := reflect.TypeFor[store.Tx]().MethodByName(name); inTx {
			t.Errorf("store.Tx has %s: analytics must stay outside catalog transactions", name)
		}
		if _, inStore := reflect.TypeFor[store.Store]().MethodByName(name); !inStore {
			t.Errorf("store.Store lacks %s", name)
		}
	}
}
