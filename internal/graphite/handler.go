package graphite

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// HandlerGatherer gathers by calling h for GET path in process and parsing
// the text exposition it answers. It serves components that expose their
// metrics only as a /metrics handler, not as a registry; a scrape through
// it counts as one in the handler's own scrape metrics.
func HandlerGatherer(h http.Handler, path string) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		req, err := http.NewRequest(http.MethodGet, path, nil)
		if err != nil {
			return nil, err
		}
		// Ask for the plain text format, which the parser below reads.
		req.Header.Set("Accept", "text/plain; version=0.0.4")
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		h.ServeHTTP(rec, req)
		if rec.status != http.StatusOK {
			return nil, fmt.Errorf("graphite: GET %s answered %d, not metrics", path, rec.status)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		byName, err := parser.TextToMetricFamilies(&rec.body)
		if err != nil {
			return nil, fmt.Errorf("graphite: reading the metrics of %s: %w", path, err)
		}
		mfs := make([]*dto.MetricFamily, 0, len(byName))
		for _, mf := range byName {
			mfs = append(mfs, mf)
		}
		return mfs, nil
	})
}

// recorder is the smallest ResponseWriter that keeps the answer.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
