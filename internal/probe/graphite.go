package probe

import (
	"math"

	"github.com/portico-api/portico/internal/graphite"
)

// Points makes Graphite datapoints of results, in the shape Hem uses:
// prefix.check.host.metric, with dots in hosts replaced by underscores.
// Every result gives success (1/0), duration (seconds), status (HTTP
// status, 0 without an answer), dns_lookup (seconds), failure.REASON (1 for
// the reason of a failure, 0 for the others) and, when the server
// presented certificates, cert_expiry (Unix seconds) and cert_expiry_days
// (days left, negative once expired).
func Points(prefix string, rs []Result) []graphite.Point {
	var ps []graphite.Point
	for _, r := range rs {
		at := func(metric ...string) string {
			return graphite.Path(prefix, append([]string{r.Check, r.Host}, metric...)...)
		}
		add := func(v float64, metric ...string) {
			ps = append(ps, graphite.Point{Path: at(metric...), Value: v, Time: r.Time})
		}
		add(b2f(r.Success), "success")
		add(r.Duration.Seconds(), "duration")
		add(float64(r.StatusCode), "status")
		add(r.DNSLookup.Seconds(), "dns_lookup")
		for _, reason := range Reasons {
			add(b2f(r.Reason == reason), "failure", string(reason))
		}
		if !r.CertExpiry.IsZero() {
			add(float64(r.CertExpiry.Unix()), "cert_expiry")
			add(math.Round(r.CertExpiry.Sub(r.Time).Hours()/24*100)/100, "cert_expiry_days")
		}
	}
	return ps
}
