package probe

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
)

// StatusSet is the HTTP statuses a check accepts: codes and ranges.
type StatusSet []statusRange

type statusRange struct{ lo, hi int }

// Has reports whether code is in the set.
func (s StatusSet) Has(code int) bool {
	for _, r := range s {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

// String writes the set as it would be configured: 2xx, 301, 200-204.
func (s StatusSet) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		switch {
		case r.lo == r.hi:
			parts[i] = strconv.Itoa(r.lo)
		case r.lo%100 == 0 && r.hi == r.lo+99:
			parts[i] = strconv.Itoa(r.lo/100) + "xx"
		default:
			parts[i] = fmt.Sprintf("%d-%d", r.lo, r.hi)
		}
	}
	return strings.Join(parts, ", ")
}

// ParseStatus reads one item: 200, 2xx or 200-299.
func ParseStatus(s string) (lo, hi int, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) == 3 && strings.HasSuffix(strings.ToLower(s), "xx") && s[0] >= '1' && s[0] <= '5' {
		lo = int(s[0]-'0') * 100
		return lo, lo + 99, true
	}
	if a, b, isRange := strings.Cut(s, "-"); isRange {
		lo, err1 := strconv.Atoi(strings.TrimSpace(a))
		hi, err2 := strconv.Atoi(strings.TrimSpace(b))
		return lo, hi, err1 == nil && err2 == nil && valid(lo) && valid(hi) && lo <= hi
	}
	code, err := strconv.Atoi(s)
	return code, code, err == nil && valid(code)
}

func valid(code int) bool { return code >= 100 && code <= 599 }

// statuses reads expect_status: one item or a list; default 2xx.
func (p *parser) statuses(n apidef.Node) StatusSet {
	if n.IsNull() {
		return StatusSet{{200, 299}}
	}
	items := n.Items()
	if n.IsScalar() {
		items = []apidef.Node{n}
	}
	var set StatusSet
	for _, it := range items {
		lo, hi, ok := ParseStatus(it.Str())
		if !ok {
			p.add(it, fmt.Sprintf("%q is not a status", it.Str()), "write a code (200), a class (2xx) or a range (200-204)")
			continue
		}
		set = append(set, statusRange{lo, hi})
	}
	if len(set) == 0 && len(items) == 0 {
		p.add(n, "expect_status is empty", "leave it out for 2xx, or list codes and classes")
	}
	return set
}
