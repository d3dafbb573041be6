package graphite

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Exporter writes a Gatherer's samples to a Writer every Interval, as
// "prefix.metric_name.label_values value timestamp" lines.
type Exporter struct {
	Gatherer prometheus.Gatherer
	Writer   *Writer
	Prefix   string        // checked with CheckPrefix
	Interval time.Duration // default 10s
	// OnError, if set, is told when a gather fails; what was gathered is
	// still written.
	OnError func(error)
}

// Run exports every Interval until ctx ends. It does not start the Writer.
func (e *Exporter) Run(ctx context.Context) {
	interval := e.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := e.Export(now); err != nil && e.OnError != nil {
				e.OnError(err)
			}
		}
	}
}

// Export gathers once and queues every sample, stamped now.
func (e *Exporter) Export(now time.Time) error {
	mfs, err := e.Gatherer.Gather()
	e.Writer.Write(Points(e.Prefix, mfs, now)...)
	return err
}

// Points turns metric families into datapoints. The path of a sample is
// the prefix, the metric name, then its label values in the order of the
// label names, each made a path component by Component. Histograms give
// name_bucket (with the bucket's upper bound last), name_sum and
// name_count, as in Prometheus's text format; summaries give name (with
// the quantile last), name_sum and name_count.
func Points(prefix string, mfs []*dto.MetricFamily, ts time.Time) []Point {
	var ps []Point
	add := func(name string, labels []string, v float64, extra ...string) {
		if finite(v) {
			ps = append(ps, Point{Path: Path(prefix, append(append([]string{name}, labels...), extra...)...), Value: v, Time: ts})
		}
	}
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			lv := labelValues(m.GetLabel())
			switch {
			case m.Counter != nil:
				add(name, lv, m.GetCounter().GetValue())
			case m.Gauge != nil:
				add(name, lv, m.GetGauge().GetValue())
			case m.Untyped != nil:
				add(name, lv, m.GetUntyped().GetValue())
			case m.Histogram != nil:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					if math.IsInf(b.GetUpperBound(), 1) {
						continue // a parsed exposition lists +Inf; it is written below
					}
					add(name+"_bucket", lv, float64(b.GetCumulativeCount()), bound(b.GetUpperBound()))
				}
				add(name+"_bucket", lv, float64(h.GetSampleCount()), "inf")
				add(name+"_sum", lv, h.GetSampleSum())
				add(name+"_count", lv, float64(h.GetSampleCount()))
			case m.Summary != nil:
				s := m.GetSummary()
				for _, q := range s.GetQuantile() {
					add(name, lv, q.GetValue(), bound(q.GetQuantile()))
				}
				add(name+"_sum", lv, s.GetSampleSum())
				add(name+"_count", lv, float64(s.GetSampleCount()))
			}
		}
	}
	return ps
}

// labelValues returns the values ordered by label name, whatever order the
// gatherer gave them in.
func labelValues(ls []*dto.LabelPair) []string {
	ls = slices.Clone(ls)
	slices.SortFunc(ls, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.GetValue()
	}
	return out
}

// bound names a bucket bound or quantile: 0.005 becomes 0_005 once made a
// component.
func bound(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}
