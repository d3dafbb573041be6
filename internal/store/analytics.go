package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portico-api/portico/internal/analytics"
)

// Analytics stores the events gateways report, one per API call. It is
// append-heavy and independent of the catalog, so it works on the Store
// directly and never inside Tx: a batch of events is its own transaction.
type Analytics interface {
	// InsertAnalyticsEvents stores events, ignoring any whose
	// transaction_id is already stored, and reports how many were new. The
	// batch commits or fails as a whole. An event needs a transaction_id
	// and a datetime (ErrInvalid names the first one without). Status
	// and latency come from status_code ("200 OK") and
	// time_to_serve_request (ms) when Status and Duration are zero, as
	// they are in events that travelled as JSON.
	InsertAnalyticsEvents(ctx context.Context, events []analytics.Event) (int, error)
	// ListAnalyticsEvents lists the matching events newest first. Status
	// is filled in from status_code; Duration stays zero (only whole
	// milliseconds are kept, in TimeToServeRequest).
	ListAnalyticsEvents(ctx context.Context, f AnalyticsFilter, opts ListOptions) (Page[analytics.Event], error)
	// SummarizeAnalytics aggregates the matching events per group, ordered
	// by the group's key, leaving out empty groups; AnalyticsTotal gives
	// exactly one group, of everything (zeros when nothing matches).
	SummarizeAnalytics(ctx context.Context, f AnalyticsFilter, by AnalyticsGroupBy) ([]AnalyticsSummary, error)
	// PurgeAnalyticsEvents deletes events older than before (retention)
	// and reports how many went.
	PurgeAnalyticsEvents(ctx context.Context, before time.Time) (int64, error)
}

// AnalyticsFilter selects events. Zero fields match everything; string
// fields match exactly.
type AnalyticsFilter struct {
	// OrgID is the provider org's ID, which events carry in org_id: an org
	// created later under a deleted org's name does not see its events.
	OrgID                    string
	CatalogName              string
	APIName, APIVersion      string
	ProductName, PlanName    string
	AppID, AppName, ClientID string
	DeveloperOrgName         string
	RequestMethod            string
	StatusMin, StatusMax     int       // inclusive; 0 is unbounded
	Start, End               time.Time // inclusive; zero is unbounded
}

// AnalyticsGroupBy is what SummarizeAnalytics groups by.
type AnalyticsGroupBy string

// The groupings: the key of each is the listed event fields.
const (
	AnalyticsTotal     AnalyticsGroupBy = ""        // one group, no key
	AnalyticsByAPI     AnalyticsGroupBy = "api"     // api_name, api_version
	AnalyticsByApp     AnalyticsGroupBy = "app"     // app_id, app_name
	AnalyticsByProduct AnalyticsGroupBy = "product" // product_name, product_version
	AnalyticsByPlan    AnalyticsGroupBy = "plan"    // product_name, product_version, plan_name
	AnalyticsByCatalog AnalyticsGroupBy = "catalog" // catalog_name
)

// analyticsGroupColumns are the key columns of each grouping.
var analyticsGroupColumns = map[AnalyticsGroupBy][]string{
	AnalyticsTotal:     nil,
	AnalyticsByAPI:     {"api_name", "api_version"},
	AnalyticsByApp:     {"app_id", "app_name"},
	AnalyticsByProduct: {"product_name", "product_version"},
	AnalyticsByPlan:    {"product_name", "product_version", "plan_name"},
	AnalyticsByCatalog: {"catalog_name"},
}

// AnalyticsGroupColumns returns the event fields that make a group's key,
// in the order of AnalyticsSummary.Key, and whether by is known.
func AnalyticsGroupColumns(by AnalyticsGroupBy) ([]string, bool) {
	cols, ok := analyticsGroupColumns[by]
	return cols, ok
}

// AnalyticsSummary aggregates one group of events. Errors are calls
// answered with status 400 or above. Latencies are time_to_serve_request
// in milliseconds; the percentiles are nearest-rank: the value at rank
// ceil(p/100 × Calls) of the group's latencies in ascending order.
type AnalyticsSummary struct {
	Key                      []string // values of AnalyticsGroupColumns
	Calls, Errors            int64
	BytesReceived, BytesSent int64
	LatencyMin, LatencyMax   int64
	LatencyP50, LatencyP95   int64
	LatencyP99               int64
	LatencyMean              float64
}

// analyticsInsertChunk is how many events one INSERT carries: 22 columns
// each stays far below both engines' limit on parameters (SQLite 32766,
// PostgreSQL 65535) while saving most round trips.
const analyticsInsertChunk = 200

const analyticsInsertCols = "datetime, transaction_id, org_id, org_name, catalog_name, api_name, api_version, " +
	"product_name, product_version, plan_name, app_id, app_name, developer_org_name, client_id, request_method, " +
	"uri_path, status, time_to_serve_request, bytes_received, bytes_sent, error_name, event"

var analyticsInsertRow = "(" + strings.TrimSuffix(strings.Repeat("?, ", 22), ", ") + ")"

func (s *sqlStore) InsertAnalyticsEvents(ctx context.Context, events []analytics.Event) (int, error) {
	rows := make([][]any, 0, len(events))
	for i := range events {
		row, err := analyticsRow(i, events[i])
		if err != nil {
			return 0, err
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: analytics events: begin transaction: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	added := 0
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), analyticsInsertChunk)]
		rows = rows[len(chunk):]
		query := "INSERT INTO analytics_events (" + analyticsInsertCols + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(analyticsInsertRow+", ", len(chunk)), ", ") +
			" ON CONFLICT (transaction_id) DO NOTHING"
		var args []any
		for _, r := range chunk {
			args = append(args, r...)
		}
		res, err := tx.ExecContext(ctx, s.eng.rebind(query), args...)
		if err != nil {
			return 0, fmt.Errorf("store: insert %d analytics events: %w", len(chunk), err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("store: insert analytics events: %w", err)
		}
		added += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: insert analytics events: commit: %w", err)
	}
	return added, nil
}

// analyticsRow checks event i of a batch, completes the fields JSON
// leaves out or a gateway left empty, and returns its column values.
func analyticsRow(i int, e analytics.Event) ([]any, error) {
	switch {
	case e.TransactionID == "":
		return nil, invalid("analytics event", "event %d of the batch has no transaction_id; every event needs one (it makes a resent batch harmless)", i)
	case e.Datetime.IsZero():
		return nil, invalid("analytics event", "event %d of the batch (transaction_id %q) has no datetime", i, e.TransactionID)
	}
	if e.Status == 0 {
		e.Status = statusNumber(e.StatusCode)
	}
	if e.StatusCode == "" && e.Status != 0 {
		e.StatusCode = strconv.Itoa(e.Status) + " " + http.StatusText(e.Status)
	}
	if e.TimeToServeRequest == 0 && e.Duration > 0 {
		e.TimeToServeRequest = e.Duration.Milliseconds()
	}
	doc, err := json.Marshal(e)
	if err != nil {
		return nil, invalid("analytics event", "event %d of the batch (transaction_id %q): %v", i, e.TransactionID, err)
	}
	return []any{ts(e.Datetime), e.TransactionID, e.OrgID, e.OrgName, e.CatalogName, e.APIName, e.APIVersion,
		e.ProductName, e.ProductVersion, e.PlanName, e.AppID, e.AppName, e.DevOrgName, e.ClientID, e.RequestMethod,
		e.URIPath, e.Status, e.TimeToServeRequest, e.BytesReceived, e.BytesSent, e.ErrorName, string(doc)}, nil
}

// statusNumber reads the number at the start of a status_code such as
// "404 Not Found"; 0 when there is none.
func statusNumber(code string) int {
	num, _, _ := strings.Cut(strings.TrimSpace(code), " ")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// where turns a filter into a WHERE clause (or "") and its arguments.
func (f AnalyticsFilter) where() (string, []any) {
	var conds []string
	var args []any
	for _, c := range []struct{ col, v string }{
		{"org_id", f.OrgID}, {"catalog_name", f.CatalogName}, {"api_name", f.APIName}, {"api_version", f.APIVersion},
		{"product_name", f.ProductName}, {"plan_name", f.PlanName}, {"app_id", f.AppID}, {"app_name", f.AppName},
		{"client_id", f.ClientID}, {"developer_org_name", f.DeveloperOrgName}, {"request_method", f.RequestMethod},
	} {
		if c.v != "" {
			conds = append(conds, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if f.StatusMin > 0 {
		conds = append(conds, "status >= ?")
		args = append(args, f.StatusMin)
	}
	if f.StatusMax > 0 {
		conds = append(conds, "status <= ?")
		args = append(args, f.StatusMax)
	}
	if !f.Start.IsZero() {
		conds = append(conds, "datetime >= ?")
		args = append(args, ts(f.Start))
	}
	if !f.End.IsZero() {
		conds = append(conds, "datetime <= ?")
		args = append(args, ts(f.End))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func scanAnalyticsEvent(s scanner) (analytics.Event, error) {
	var (
		doc    string
		status int
		e      analytics.Event
	)
	if err := s.Scan(&doc, &status); err != nil {
		return e, err
	}
	if err := json.Unmarshal([]byte(doc), &e); err != nil {
		return e, fmt.Errorf("stored analytics event is not JSON: %w", err)
	}
	e.Status = status
	return e, nil
}

func (s *sqlStore) ListAnalyticsEvents(ctx context.Context, f AnalyticsFilter, opts ListOptions) (Page[analytics.Event], error) {
	where, args := f.where()
	l := listing{kind: "analytics event", cols: "event, status", from: "FROM analytics_events" + where,
		order: "ORDER BY datetime DESC, id DESC"}
	return page(ctx, &s.queries, l, scanAnalyticsEvent, opts, args...)
}

// SummarizeAnalytics computes everything in one query, percentiles
// included, so the manager never holds the latencies: a window numbers
// each group's latencies in order, and the rows whose number is
// ceil(p×n/100), in integer arithmetic (n×p+99)/100, are the nearest-rank
// percentiles. Both engines run the same SQL.
func (s *sqlStore) SummarizeAnalytics(ctx context.Context, f AnalyticsFilter, by AnalyticsGroupBy) ([]AnalyticsSummary, error) {
	cols, ok := analyticsGroupColumns[by]
	if !ok {
		return nil, invalid("analytics summary", "cannot group by %q; use api, app, product, plan or catalog", string(by))
	}
	key := strings.Join(cols, ", ")
	partition, group, order, selectKey := "", "", "", ""
	if key != "" {
		partition = "PARTITION BY " + key + " "
		group = " GROUP BY " + key
		order = " ORDER BY " + key
		selectKey = key + ", "
	}
	where, args := f.where()
	rank := func(p int) string { return fmt.Sprintf("MAX(CASE WHEN rn = (n*%d+99)/100 THEN ms END)", p) }
	query := "WITH r AS (SELECT " + selectKey + "status, bytes_received, bytes_sent, time_to_serve_request AS ms, " +
		"ROW_NUMBER() OVER (" + partition + "ORDER BY time_to_serve_request) AS rn, " +
		"COUNT(*) OVER (" + partition + ") AS n FROM analytics_events" + where + ") " +
		"SELECT " + selectKey + "COUNT(*), " +
		"CAST(COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS BIGINT), " +
		"CAST(COALESCE(SUM(bytes_received), 0) AS BIGINT), CAST(COALESCE(SUM(bytes_sent), 0) AS BIGINT), " +
		"COALESCE(MIN(ms), 0), COALESCE(MAX(ms), 0), " + rank(50) + ", " + rank(95) + ", " + rank(99) + ", " +
		"CAST(COALESCE(AVG(ms), 0) AS DOUBLE PRECISION) FROM r" + group + order
	scan := func(sc scanner) (AnalyticsSummary, error) {
		var g AnalyticsSummary
		keys := make([]string, len(cols))
		var p50, p95, p99 *int64
		dest := []any{}
		for i := range keys {
			dest = append(dest, &keys[i])
		}
		dest = append(dest, &g.Calls, &g.Errors, &g.BytesReceived, &g.BytesSent, &g.LatencyMin, &g.LatencyMax,
			&p50, &p95, &p99, &g.LatencyMean)
		if err := sc.Scan(dest...); err != nil {
			return g, err
		}
		g.Key = keys
		for _, p := range []struct{ dst, src *int64 }{{&g.LatencyP50, p50}, {&g.LatencyP95, p95}, {&g.LatencyP99, p99}} {
			if p.src != nil {
				*p.dst = *p.src
			}
		}
		return g, nil
	}
	groups, err := all(ctx, &s.queries, scan, query, args...)
	if err != nil {
		return nil, opErr("analytics summary", "by "+string(by), err)
	}
	return groups, nil
}

// analyticsPurgeChunk bounds one DELETE, so that purging a large backlog
// holds SQLite's write lock for moments at a time, not minutes, and
// inserts keep flowing between the chunks.
const analyticsPurgeChunk = 10000

func (s *sqlStore) PurgeAnalyticsEvents(ctx context.Context, before time.Time) (int64, error) {
	query := s.eng.rebind("DELETE FROM analytics_events WHERE id IN " +
		"(SELECT id FROM analytics_events WHERE datetime < ? ORDER BY datetime LIMIT ?)")
	var total int64
	for {
		res, err := s.write.ExecContext(ctx, query, ts(before), analyticsPurgeChunk)
		if err != nil {
			return total, opErr("analytics events", "before "+before.UTC().Format(time.RFC3339), err)
		}
		n, err := res.RowsAffected()
		total += n
		if err != nil || n < analyticsPurgeChunk {
			return total, err
		}
	}
}
