// Package analyticstest checks the manager's analytics REST API against
// the events behind it, so that tests which produce events in different
// ways (straight into the store, or by calls through a gateway) share one
// set of assertions.
package analyticstest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/store/storetest"
)

// Record is what the checks read from one event the API returned.
type Record struct {
	TransactionID, APIName, APIVersion, AppID, AppName string
	Status                                             int
	Latency, BytesReceived, BytesSent                  int64
}

// Aggregates are what the summary reports for a group of records.
type Aggregates struct {
	Calls, Errors, BytesReceived, BytesSent int64
	Min, Max, P50, P95, P99                 int64
	Mean                                    float64
}

// Aggregate computes a group's aggregates from its records, the way the
// API documents them: errors are statuses of 400 and above, percentiles
// nearest-rank on the sorted latencies.
func Aggregate(records []Record) Aggregates {
	var a Aggregates
	var lat []int64
	for _, r := range records {
		a.Calls++
		if r.Status >= 400 {
			a.Errors++
		}
		a.BytesReceived += r.BytesReceived
		a.BytesSent += r.BytesSent
		lat = append(lat, r.Latency)
		a.Mean += float64(r.Latency)
	}
	if len(lat) > 0 {
		a.Min, a.Max, a.Mean = slices.Min(lat), slices.Max(lat), a.Mean/float64(len(lat))
		a.P50, a.P95, a.P99 = storetest.NearestRank(lat, 50), storetest.NearestRank(lat, 95), storetest.NearestRank(lat, 99)
	}
	return a
}

// Client calls one scope of the analytics API: Base is the scope's URL,
// e.g. http://127.0.0.1:9090/api/analytics/analytics-service/catalogs/acme/sandbox.
type Client struct {
	HTTP  *http.Client // nil for http.DefaultClient
	Base  string
	Token string
}

// Get calls Base+path with query and decodes the JSON answer, failing t
// unless the status is 200.
func (c Client) Get(t testing.TB, path string, query url.Values) map[string]any {
	t.Helper()
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequest("GET", c.Base+path+"?"+query.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s?%s: %s %v (%v)", path, query.Encode(), resp.Status, out, err)
	}
	return out
}

// Events fetches every event query selects, a page of 500 at a time,
// newest first, and checks the total is the same on every page.
func (c Client) Events(t testing.TB, query url.Values) []Record {
	t.Helper()
	var records []Record
	total := -1
	for {
		q := clone(query)
		q.Set("limit", "500")
		q.Set("offset", strconv.Itoa(len(records)))
		out := c.Get(t, "/events", q)
		n := int(out["total"].(float64))
		if total >= 0 && n != total {
			t.Fatalf("total changed between pages: %d, then %d", total, n)
		}
		total = n
		page, _ := out["events"].([]any)
		for _, e := range page {
			records = append(records, record(t, e))
		}
		if len(page) == 0 || len(records) >= total {
			break
		}
	}
	if len(records) != total {
		t.Fatalf("fetched %d events, but the answers say total %d", len(records), total)
	}
	return records
}

func record(t testing.TB, v any) Record {
	t.Helper()
	e, _ := v.(map[string]any)
	str := func(k string) string { s, _ := e[k].(string); return s }
	num := func(k string) int64 { f, _ := e[k].(float64); return int64(f) }
	code := str("status_code")
	status, err := strconv.Atoi(strings.SplitN(code, " ", 2)[0])
	if err != nil || str("transaction_id") == "" || str("datetime") == "" {
		t.Fatalf("an event lacks API Connect's fields (status_code, transaction_id, datetime): %v", e)
	}
	return Record{TransactionID: str("transaction_id"), APIName: str("api_name"), APIVersion: str("api_version"),
		AppID: str("app_id"), AppName: str("app_name"), Status: status, Latency: num("time_to_serve_request"),
		BytesReceived: num("bytes_received"), BytesSent: num("bytes_sent")}
}

// Check is the assertion "after N calls, the analytics API reports N with
// the right aggregates": it fetches the events query selects and fails t
// unless there are want of them, then checks the summary's totals and
// its groups by API and by app against aggregates computed here from
// those events. When sent is given (events whose latencies the test
// knows), the events must be exactly those, by transaction ID, with
// their statuses and latencies. It returns the events fetched.
func (c Client) Check(t testing.TB, query url.Values, want int, sent []analytics.Event) []Record {
	t.Helper()
	records := c.Events(t, query)
	if len(records) != want {
		t.Fatalf("the analytics API has %d events, want %d", len(records), want)
	}
	if sent != nil {
		matchSent(t, records, sent)
	}
	for _, by := range []struct {
		name string
		key  func(Record) []string
	}{
		{"api", func(r Record) []string { return []string{r.APIName, r.APIVersion} }},
		{"app", func(r Record) []string { return []string{r.AppID, r.AppName} }},
	} {
		q := clone(query)
		q.Set("group_by", by.name)
		out := c.Get(t, "/summary", q)
		if out["group_by"] != by.name {
			t.Errorf("summary group_by = %v, want %s", out["group_by"], by.name)
		}
		compare(t, "totals", out["totals"], Aggregate(records))
		groups := map[string][]Record{}
		for _, r := range records {
			k := strings.Join(by.key(r), "\x00")
			groups[k] = append(groups[k], r)
		}
		got, _ := out["groups"].([]any)
		if len(got) != len(groups) {
			t.Fatalf("summary by %s: %d groups, want %d: %v", by.name, len(got), len(groups), got)
		}
		cols := map[string][]string{"api": {"api_name", "api_version"}, "app": {"app_id", "app_name"}}[by.name]
		for _, g := range got {
			obj, _ := g.(map[string]any)
			var key []string
			for _, col := range cols {
				s, _ := obj[col].(string)
				key = append(key, s)
			}
			compare(t, fmt.Sprintf("group %v", key), obj, Aggregate(groups[strings.Join(key, "\x00")]))
		}
	}
	return records
}

// matchSent checks the records are the sent events.
func matchSent(t testing.TB, records []Record, sent []analytics.Event) {
	t.Helper()
	byID := map[string]Record{}
	for _, r := range records {
		byID[r.TransactionID] = r
	}
	if len(byID) != len(records) || len(sent) != len(records) {
		t.Fatalf("%d events with %d distinct transaction IDs, want the %d sent", len(records), len(byID), len(sent))
	}
	for _, e := range sent {
		r, found := byID[e.TransactionID]
		status := e.Status
		if status == 0 {
			status, _ = strconv.Atoi(strings.SplitN(e.StatusCode, " ", 2)[0])
		}
		if !found || r.Status != status || r.Latency != e.TimeToServeRequest {
			t.Fatalf("event %s: got %+v, want status %d, latency %d ms", e.TransactionID, r, status, e.TimeToServeRequest)
		}
	}
}

// compare checks a summary object against the expected aggregates.
func compare(t testing.TB, what string, v any, want Aggregates) {
	t.Helper()
	obj, _ := v.(map[string]any)
	lat, _ := obj["latency_ms"].(map[string]any)
	n := func(m map[string]any, k string) float64 { f, _ := m[k].(float64); return f }
	got := Aggregates{Calls: int64(n(obj, "calls")), Errors: int64(n(obj, "errors")),
		BytesReceived: int64(n(obj, "bytes_received")), BytesSent: int64(n(obj, "bytes_sent")),
		Min: int64(n(lat, "min")), Max: int64(n(lat, "max")), P50: int64(n(lat, "p50")), P95: int64(n(lat, "p95")),
		P99: int64(n(lat, "p99")), Mean: want.Mean}
	if got != want || math.Abs(n(lat, "mean")-want.Mean) > 1e-6 {
		t.Errorf("%s: got %+v (mean %v), want %+v", what, got, n(lat, "mean"), want)
	}
	rate := 0.0
	if want.Calls > 0 {
		rate = float64(want.Errors) / float64(want.Calls)
	}
	if math.Abs(n(obj, "error_rate")-rate) > 1e-9 {
		t.Errorf("%s: error_rate %v, want %v", what, n(obj, "error_rate"), rate)
	}
}

func clone(q url.Values) url.Values {
	out := url.Values{}
	for k, vs := range q {
		out[k] = slices.Clone(vs)
	}
	return out
}
