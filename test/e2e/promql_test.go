package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// promqlWords are PromQL keywords that are not metric names. Functions and
// aggregations need no list: a name followed by "(" is one.
var promqlWords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"inf": true, "nan": true, "atan2": true}

// promqlAggregations may be followed by by/without before their "(".
var promqlAggregations = map[string]bool{"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true,
	"stdvar": true, "count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true,
	"limit_ratio": true}

// promqlLabelLists are the modifiers followed by a list of label names.
var promqlLabelLists = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true}

// metricNames returns the metric names an expression selects, in order,
// once each. It is a tokenizer, not a parser: it skips strings, label
// matchers (except __name__="..."), ranges, numbers, Grafana variables,
// keywords, functions and the label lists of by/without/on/ignoring/
// group_left/group_right; every other identifier is a metric name.
func metricNames(expr string) ([]string, error) {
	var names []string
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(expr, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '{':
			end, name, err := skipMatchers(expr, i)
			if err != nil {
				return nil, err
			}
			if name != "" {
				add(name)
			}
			i = end
		case c == '[':
			end := strings.IndexByte(expr[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("%q: unclosed [ at %d", expr, i)
			}
			i += end + 1
		case c == '$': // Grafana: $var, ${var}, ${var:format}, $__rate_interval
			i++
			if i < len(expr) && expr[i] == '{' {
				end := strings.IndexByte(expr[i:], '}')
				if end < 0 {
					return nil, fmt.Errorf("%q: unclosed ${ at %d", expr, i)
				}
				i += end + 1
			} else {
				i = identEnd(expr, i)
			}
		case c >= '0' && c <= '9' || c == '.': // numbers and durations: 0.95, 1e3, 0x1f, 5m
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			end := identEnd(expr, i)
			word := expr[i:end]
			next := end
			for next < len(expr) && (expr[next] == ' ' || expr[next] == '\t' || expr[next] == '\n') {
				next++
			}
			followedByParen := next < len(expr) && expr[next] == '('
			switch lower := strings.ToLower(word); {
			case promqlLabelLists[lower]:
				if followedByParen {
					close := strings.IndexByte(expr[next:], ')')
					if close < 0 {
						return nil, fmt.Errorf("%q: unclosed label list after %s", expr, word)
					}
					end = next + close + 1
				}
			case promqlWords[lower], promqlAggregations[lower], followedByParen:
			default:
				add(word)
			}
			i = end
		default:
			i++
		}
	}
	return names, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdent(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func identEnd(s string, i int) int {
	for i < len(s) && isIdent(s[i]) {
		i++
	}
	return i
}

func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("%q: unterminated string at %d", s, i)
}

var nameMatcher = regexp.MustCompile(`^\s*__name__\s*(=~|!=|!~|=)\s*"([^"]*)"`)

// skipMatchers skips a {...} block and returns the metric name it gives
// with __name__="...", if any.
func skipMatchers(s string, i int) (int, string, error) {
	var name string
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '"', '\'', '`':
			end, err := skipString(s, j)
			if err != nil {
				return 0, "", err
			}
			j = end - 1
		case '}':
			return j + 1, name, nil
		case '_':
			if m := nameMatcher.FindStringSubmatch(s[j:]); m != nil && (j == i+1 || strings.ContainsRune("{, ", rune(s[j-1]))) {
				if m[1] != "=" {
					return 0, "", fmt.Errorf("%q: a metric name matched with %s cannot be checked; name it", s, m[1])
				}
				name = m[2]
			}
		}
	}
	return 0, "", fmt.Errorf("%q: unclosed { at %d", s, i)
}

var labelValuesQuery = regexp.MustCompile(`^\s*label_values\(\s*(.+?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)

// templateMetricNames reads a Grafana template variable's query:
// label_values(expr, label), label_values(label) or query_result(expr).
func templateMetricNames(q string) ([]string, error) {
	if m := labelValuesQuery.FindStringSubmatch(q); m != nil {
		return metricNames(m[1])
	}
	if strings.HasPrefix(strings.TrimSpace(q), "label_values(") {
		return nil, nil // label_values(label): no metric
	}
	if rest, ok := strings.CutPrefix(strings.TrimSpace(q), "query_result("); ok {
		return metricNames(strings.TrimSuffix(strings.TrimSpace(rest), ")"))
	}
	return metricNames(q)
}

func TestMetricNamesTokenizer(t *testing.T) {
	for expr, want := range map[string][]string{
		`histogram_quantile(0.95, sum by (le, api) (rate(portico_gateway_request_duration_seconds_bucket{api=~"$api"}[$__rate_interval])))`: {"portico_gateway_request_duration_seconds_bucket"},
		`sum(rate(a_total[5m])) by (instance) / ignoring(job) group_left(foo, bar) b`:                                                       {"a_total", "b"},
		`(probe_ssl_earliest_cert_expiry{check=~"$check"} - time()) / 86400`:                                                                {"probe_ssl_earliest_cert_expiry"},
		`count(probe_success == 0) or vector(0)`:                                                                                            {"probe_success"},
		`x offset 5m and on() y unless bool z`:                                                                                              {"x", "y", "z"},
		`1e3 * 0x1F + .5 * inf - NaN + m1:rule`:                                                                                             {"m1:rule"},
		`{__name__="by_name", job="a"} + sum without(le)(c)`:                                                                                {"by_name", "c"},
		`topk(10, sum by (api) (increase(q{op="a{b}", x='by (y)'}[1h])))`:                                                                   {"q"},
		`rate(r[${__range}]) / ${ds:raw} + s`:                                                                                               {"r", "s"},
		`a + a`:                                                                                                                             {"a"},
		`sum (rate (spaced_total [1m]))`:                                                                                                    {"spaced_total"},
	} {
		got, err := metricNames(expr)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("metricNames(%s) = %v, %v; want %v", expr, got, err, want)
		}
	}
	for _, bad := range []string{`a{b="c"`, `a[5m`, `a{b="c}`, `{__name__=~"p.*"}`} {
		if _, err := metricNames(bad); err == nil {
			t.Errorf("metricNames(%s) accepted", bad)
		}
	}
	for q, want := range map[string][]string{
		`label_values(portico_gateway_requests_total, api)`: {"portico_gateway_requests_total"},
		`label_values(probe_success{check=~"a.*"}, host)`:   {"probe_success"},
		`label_values(api)`: nil,
		`query_result(topk(5, sum by (api) (rate(x_total[1h]))))`: {"x_total"},
	} {
		got, err := templateMetricNames(q)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("templateMetricNames(%s) = %v, %v; want %v", q, got, err, want)
		}
	}
}
