// Package graphite sends metrics to Graphite (carbon) in its plaintext
// protocol: one "path value timestamp" line per datapoint over TCP.
//
// A Writer never blocks its caller: datapoints go to a bounded queue that
// a background loop writes to carbon, reconnecting with backoff; when the
// queue is full, new datapoints are dropped and counted. An Exporter
// reads a prometheus.Gatherer periodically and writes every sample as a
// datapoint, so a process's Prometheus metrics also reach Graphite.
package graphite

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Point is one datapoint.
type Point struct {
	Path  string // dot-separated; each component already sanitised
	Value float64
	Time  time.Time
}

// appendLine appends p as a plaintext line, "path value timestamp\n".
func (p Point) appendLine(b []byte) []byte {
	b = append(b, p.Path...)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, p.Value, 'f', -1, 64)
	b = append(b, ' ')
	b = strconv.AppendInt(b, p.Time.Unix(), 10)
	return append(b, '\n')
}

// String is the line without its newline.
func (p Point) String() string {
	b := p.appendLine(nil)
	return string(b[:len(b)-1])
}

// finite reports whether carbon can store v: NaN and infinities would be
// written as text carbon rejects or stores as a useless value.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Component makes s one path component: dots are Graphite's hierarchy and
// spaces end the path, so every character other than a letter, digit,
// '_' or '-' becomes '_'. An empty s becomes "none", so that a path never
// holds an empty component ("a..b"), which carbon and its queries mishandle.
func Component(s string) string {
	if s == "" {
		return "none"
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Path joins components, each sanitised, with dots. A prefix given by a
// user may have dots of its own: use CheckPrefix on it and put it first.
func Path(prefix string, components ...string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, c := range components {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(Component(c))
	}
	return b.String()
}

// CheckPrefix reports whether prefix can start a path: dot-separated
// components of letters, digits, '_' and '-', none empty.
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	for _, c := range strings.Split(prefix, ".") {
		if c == "" || Component(c) != c {
			return &prefixError{prefix}
		}
	}
	return nil
}

type prefixError struct{ prefix string }

func (e *prefixError) Error() string {
	return "graphite prefix " + strconv.Quote(e.prefix) +
		": use dot-separated names of letters, digits, '_' and '-', such as portico.gw1"
}
