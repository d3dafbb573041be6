package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/portico-api/portico/internal/analytics"
	"github.com/portico-api/portico/internal/store"
)

// Analytics: API Connect's analytics REST API over the events gateways
// report. {service} is the analytics service's name in API Connect; the
// manager has one store of events, so any name is accepted. Events and
// summaries are scoped to a provider org, or to one of its catalogs, and
// need a role in that org (viewer or more) or the cloud admin role.
func (m *Manager) analyticsRoutes(mux *http.ServeMux) {
	const (
		org = "/api/analytics/{service}/orgs/{org}"
		cat = "/api/analytics/{service}/catalogs/{org}/{catalog}"
	)
	viewer := orgRole(RoleViewer)
	for _, scope := range []string{org, cat} {
		mux.Handle("GET "+scope+"/events", eventFields(m.authed(viewer, m.analyticsEvents)))
		mux.Handle("GET "+scope+"/summary", m.authed(viewer, m.analyticsSummary))
	}
}

// Event list paging: API Connect returns at most 500 events a page.
const (
	analyticsDefaultLimit = 100
	analyticsMaxLimit     = 500
)

// analyticsFilters are the query parameters that select events, each
// setting one filter field; aliases use API Connect's other spellings.
var analyticsFilters = map[string]func(f *store.AnalyticsFilter) *string{
	"api_name":           func(f *store.AnalyticsFilter) *string { return &f.APIName },
	"api_version":        func(f *store.AnalyticsFilter) *string { return &f.APIVersion },
	"app_id":             func(f *store.AnalyticsFilter) *string { return &f.AppID },
	"app_name":           func(f *store.AnalyticsFilter) *string { return &f.AppName },
	"client_id":          func(f *store.AnalyticsFilter) *string { return &f.ClientID },
	"product_name":       func(f *store.AnalyticsFilter) *string { return &f.ProductName },
	"plan_name":          func(f *store.AnalyticsFilter) *string { return &f.PlanName },
	"developer_org_name": func(f *store.AnalyticsFilter) *string { return &f.DeveloperOrgName },
	"consumer_org_name":  func(f *store.AnalyticsFilter) *string { return &f.DeveloperOrgName },
	"method":             func(f *store.AnalyticsFilter) *string { return &f.RequestMethod },
	"request_method":     func(f *store.AnalyticsFilter) *string { return &f.RequestMethod },
	"catalog_name":       func(f *store.AnalyticsFilter) *string { return &f.CatalogName },
}

// analyticsCommon are the other parameters both endpoints take.
var analyticsCommon = []string{"status_code", "start", "end", "timeframe"}

func (m *Manager) analyticsEvents(w http.ResponseWriter, r *http.Request) {
	began := time.Now()
	filter, err := m.analyticsFilter(r, "limit", "offset")
	if err != nil {
		m.analyticsError(w, err)
		return
	}
	opts, err := listOptions(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if r.URL.Query().Get("limit") == "" {
		opts.Limit = analyticsDefaultLimit
	}
	if opts.Limit == 0 || opts.Limit > analyticsMaxLimit {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be 1 to %d; page with offset", analyticsMaxLimit))
		return
	}
	page, err := m.st.ListAnalyticsEvents(r.Context(), filter, opts)
	if err != nil {
		m.storeError(w, err)
		return
	}
	events, err := eventRecords(page.Items, r.Context().Value(fieldsKey{}))
	if err != nil {
		m.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": page.Total, "search_time": time.Since(began).Milliseconds(), "events": events})
}

// analyticsSummary answers calls, errors (status 400 or above), bytes
// and latency percentiles per group (?group_by=api, app, product, plan
// or catalog; api by default) and in total.
func (m *Manager) analyticsSummary(w http.ResponseWriter, r *http.Request) {
	began := time.Now()
	filter, err := m.analyticsFilter(r, "group_by")
	if err != nil {
		m.analyticsError(w, err)
		return
	}
	by := store.AnalyticsGroupBy(r.URL.Query().Get("group_by"))
	if by == store.AnalyticsTotal {
		by = store.AnalyticsByAPI
	}
	cols, known := store.AnalyticsGroupColumns(by)
	if !known {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("group_by %q: use api, app, product, plan or catalog", by))
		return
	}
	groups, err := m.st.SummarizeAnalytics(r.Context(), filter, by)
	if err != nil {
		m.storeError(w, err)
		return
	}
	total, err := m.st.SummarizeAnalytics(r.Context(), filter, store.AnalyticsTotal)
	if err != nil {
		m.storeError(w, err)
		return
	}
	out := []map[string]any{}
	for _, g := range groups {
		obj := summaryObject(g)
		for i, col := range cols {
			obj[col] = g.Key[i]
		}
		out = append(out, obj)
	}
	answer := map[string]any{"group_by": string(by), "search_time": time.Since(began).Milliseconds(),
		"totals": summaryObject(total[0]), "groups": out}
	if !filter.Start.IsZero() {
		answer["start"] = filter.Start
	}
	if !filter.End.IsZero() {
		answer["end"] = filter.End
	}
	writeJSON(w, http.StatusOK, answer)
}

// summaryObject is one group's aggregates; latencies are in milliseconds.
func summaryObject(g store.AnalyticsSummary) map[string]any {
	rate := 0.0
	if g.Calls > 0 {
		rate = float64(g.Errors) / float64(g.Calls)
	}
	return map[string]any{"calls": g.Calls, "errors": g.Errors, "error_rate": rate,
		"bytes_received": g.BytesReceived, "bytes_sent": g.BytesSent,
		"latency_ms": map[string]any{"min": g.LatencyMin, "mean": g.LatencyMean, "p50": g.LatencyP50,
			"p95": g.LatencyP95, "p99": g.LatencyP99, "max": g.LatencyMax}}
}

// errBadQuery marks a query parameter the caller got wrong (400).
var errBadQuery = errors.New("bad query")

func (m *Manager) analyticsError(w http.ResponseWriter, err error) {
	if errors.Is(err, errBadQuery) {
		writeError(w, http.StatusBadRequest, strings.TrimSuffix(err.Error(), ": "+errBadQuery.Error()))
		return
	}
	m.storeError(w, err)
}

func badQuery(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errBadQuery)...)
}

// analyticsFilter reads the scope from the path and the filters from the
// query; extra names the endpoint's own parameters. An unknown parameter
// is an error rather than ignored: a misspelt filter would otherwise
// answer with everything.
func (m *Manager) analyticsFilter(r *http.Request, extra ...string) (store.AnalyticsFilter, error) {
	var f store.AnalyticsFilter
	org, err := m.org(r.Context(), r.PathValue("org"))
	if err != nil {
		return f, err
	}
	f.OrgID = org.ID
	q := r.URL.Query()
	if name := r.PathValue("catalog"); name != "" {
		cat, err := m.catalog(r.Context(), org, name)
		if err != nil {
			return f, err
		}
		if v := q.Get("catalog_name"); v != "" && v != cat.Name {
			return f, badQuery("catalog_name %q differs from the catalog in the path (%s); leave it out", v, cat.Name)
		}
		f.CatalogName = cat.Name
	}
	known := map[string]bool{"fields": true}
	for _, name := range append(analyticsCommon, extra...) {
		known[name] = true
	}
	for name, vs := range q {
		field, isFilter := analyticsFilters[name]
		switch {
		case isFilter && vs[0] != "":
			*field(&f) = vs[0]
			if name == "method" || name == "request_method" {
				f.RequestMethod = strings.ToUpper(vs[0])
			}
		case !isFilter && !known[name]:
			return f, badQuery("unknown query parameter %q; the analytics API takes %s", name, analyticsParams(extra))
		}
	}
	if err := statusFilter(q.Get("status_code"), &f); err != nil {
		return f, err
	}
	return f, timeFilter(q, time.Now(), &f)
}

// analyticsParams lists the parameters an endpoint takes, for errors.
func analyticsParams(extra []string) string {
	names := append(append([]string{}, analyticsCommon...), extra...)
	for name := range analyticsFilters {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// statusFilter reads status_code as API Connect does: a status ("404" or
// "404 Not Found"), a class ("4xx", or API Connect's "40x"), "error"
// (400 and above) or "success" (below 400).
func statusFilter(v string, f *store.AnalyticsFilter) error {
	v = strings.ToLower(strings.TrimSpace(v))
	switch {
	case v == "":
	case v == "error":
		f.StatusMin = 400
	case v == "success":
		f.StatusMax = 399
	case len(v) == 3 && v[0] >= '1' && v[0] <= '5' && (v[1:] == "xx" || v[1:] == "0x"):
		f.StatusMin = int(v[0]-'0') * 100
		f.StatusMax = f.StatusMin + 99
	default:
		num, _, _ := strings.Cut(v, " ")
		n, err := strconv.Atoi(num)
		if err != nil || n < 100 || n > 599 {
			return badQuery(`status_code %q: use a status ("404" or "404 Not Found"), a class ("2xx", "4xx", "5xx"), "error" or "success"`, v)
		}
		f.StatusMin, f.StatusMax = n, n
	}
	return nil
}

// timeFilter reads start and end (RFC 3339, both included) or, when
// neither is given, timeframe ("last15minutes", "last1hour",
// "last24hours", "last7days": last N minutes, hours or days).
func timeFilter(q url.Values, now time.Time, f *store.AnalyticsFilter) error {
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"start", &f.Start}, {"end", &f.End}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return badQuery("%s %q: use RFC 3339 date-time, e.g. 2027-07-21T17:32:28Z", p.name, v)
			}
			*p.dst = t
		}
	}
	if !f.Start.IsZero() && !f.End.IsZero() && f.End.Before(f.Start) {
		return badQuery("end %s is before start %s", f.End.Format(time.RFC3339), f.Start.Format(time.RFC3339))
	}
	tf := q.Get("timeframe")
	if tf == "" {
		return nil
	}
	span, err := parseTimeframe(tf)
	if err != nil {
		return err
	}
	if f.Start.IsZero() && f.End.IsZero() { // as in API Connect, start or end wins
		f.Start = now.Add(-span)
	}
	return nil
}

// parseTimeframe reads "last" N "minutes", "hours" or "days" (singular
// too: "last1hour").
func parseTimeframe(tf string) (time.Duration, error) {
	bad := badQuery("timeframe %q: use last<N><minutes|hours|days>, e.g. last15minutes, last1hour, last24hours, last7days, last30days", tf)
	rest, ok := strings.CutPrefix(tf, "last")
	if !ok {
		return 0, bad
	}
	i := strings.IndexFunc(rest, func(c rune) bool { return c < '0' || c > '9' })
	if i <= 0 {
		return 0, bad
	}
	n, err := strconv.Atoi(rest[:i])
	if err != nil || n <= 0 || n > 100000 {
		return 0, bad
	}
	unit := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour, "hours": time.Hour,
		"day": 24 * time.Hour, "days": 24 * time.Hour}[rest[i:]]
	if unit == 0 {
		return 0, bad
	}
	return time.Duration(n) * unit, nil
}

// fieldsKey holds an events request's ?fields=, which selects fields of
// each event (API Connect's meaning) rather than of the answer.
type fieldsKey struct{}

// eventFields takes ?fields= off the request before the general
// field selection (selectFields, inside authed) can apply it to the
// answer's top level, and hands it to the handler in the context.
func eventFields(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		spec := q.Get("fields")
		if spec == "" {
			h.ServeHTTP(w, r)
			return
		}
		q.Del("fields")
		r = r.Clone(context.WithValue(r.Context(), fieldsKey{}, spec))
		r.URL.RawQuery = q.Encode()
		h.ServeHTTP(w, r)
	})
}

// eventRecords renders events as API Connect's records, keeping only the
// fields spec lists when it is a non-empty string.
func eventRecords(events []analytics.Event, spec any) ([]any, error) {
	keep := map[string]bool{}
	if s, isString := spec.(string); isString {
		for _, name := range strings.Split(s, ",") {
			if name = strings.TrimSpace(name); name != "" {
				keep[name] = true
			}
		}
	}
	out := make([]any, 0, len(events))
	for _, e := range events {
		if len(keep) == 0 {
			out = append(out, e)
			continue
		}
		doc, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		var all map[string]any
		if err := json.Unmarshal(doc, &all); err != nil {
			return nil, err
		}
		picked := map[string]any{}
		for name := range keep {
			if v, has := all[name]; has {
				picked[name] = v
			}
		}
		out = append(out, picked)
	}
	return out, nil
}

// RunAnalyticsRetention deletes analytics events older than keep, once at
// the start and then every interval, until ctx ends. keep 0 keeps events
// forever: it returns at once. interval 0 means hourly, or every keep
// when keep is shorter.
func (m *Manager) RunAnalyticsRetention(ctx context.Context, keep, interval time.Duration) {
	if keep <= 0 {
		return
	}
	if interval <= 0 {
		interval = min(time.Hour, keep)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		n, err := m.st.PurgeAnalyticsEvents(ctx, time.Now().Add(-keep))
		switch {
		case err != nil && ctx.Err() == nil:
			m.log.Warn("deleting old analytics events failed; will retry", "error", err, "retry_in", interval)
		case n > 0:
			m.log.Info("deleted analytics events past retention", "events", n, "retention", keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
