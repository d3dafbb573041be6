package probe

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics keeps the latest results of every check and exposes them as
// gauges named as blackbox_exporter names them, labelled by check and
// host, plus probe_failure{reason} to tell failures apart. Each round
// replaces its check's results, so a host that DNS no longer lists
// disappears instead of reporting its last value forever.
type Metrics struct {
	mu      sync.Mutex
	byCheck map[string][]Result
}

// NewMetrics makes an empty set; register it with a prometheus.Registry.
func NewMetrics() *Metrics { return &Metrics{byCheck: map[string][]Result{}} }

// Set records a round of check's results.
func (m *Metrics) Set(check string, rs []Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byCheck[check] = rs
}

var (
	hostLabels  = []string{"check", "host"}
	descSuccess = prometheus.NewDesc("probe_success", "1 if the last probe succeeded, else 0.", hostLabels, nil)
	descDur     = prometheus.NewDesc("probe_duration_seconds", "How long the last probe took, in seconds.", hostLabels, nil)
	descStatus  = prometheus.NewDesc("probe_http_status_code", "HTTP status of the last answer; 0 without one.", hostLabels, nil)
	descDNS     = prometheus.NewDesc("probe_dns_lookup_time_seconds", "Time the last probe spent resolving the name, in seconds.", hostLabels, nil)
	descRegex   = prometheus.NewDesc("probe_failed_due_to_regex", "1 if the last probe failed on body_match or body_not_match, else 0.", hostLabels, nil)
	descCert    = prometheus.NewDesc("probe_ssl_earliest_cert_expiry",
		"Earliest expiry of the certificates the server presented, as Unix seconds, whether or not they verified.", hostLabels, nil)
	descPhase = prometheus.NewDesc("probe_http_duration_seconds", "Duration of the last probe by phase, in seconds.",
		append(hostLabels[:2:2], "phase"), nil)
	descFailure = prometheus.NewDesc("probe_failure",
		"1 for the reason the last probe failed (dns, refused, timeout, tls, status, body, other), 0 for the others.",
		append(hostLabels[:2:2], "reason"), nil)
)

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSuccess, descDur, descStatus, descDNS, descRegex, descCert, descPhase, descFailure} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rs := range m.byCheck {
		for _, r := range rs {
			collect(ch, r)
		}
	}
}

func collect(ch chan<- prometheus.Metric, r Result) {
	gauge := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{r.Check, r.Host}, extra...)...)
	}
	gauge(descSuccess, b2f(r.Success))
	gauge(descDur, r.Duration.Seconds())
	gauge(descStatus, float64(r.StatusCode))
	gauge(descDNS, r.DNSLookup.Seconds())
	gauge(descRegex, b2f(r.FailedRegex))
	if !r.CertExpiry.IsZero() {
		gauge(descCert, float64(r.CertExpiry.Unix()))
	}
	for _, p := range Phases {
		gauge(descPhase, r.Phases[p].Seconds(), p)
	}
	for _, reason := range Reasons {
		gauge(descFailure, b2f(r.Reason == reason), string(reason))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
