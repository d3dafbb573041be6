// Package ratelimit enforces API Connect plan limits: rate and burst limits
// ("100/1hour") as a GCRA, in process or shared through Redis, and count
// limits (inc/dec counters against a maximum).
//
// A limit of N per period admits N calls in a row and then refuses until
// capacity returns, smoothly, at N per period. Unlike a fixed window, a
// client cannot get 2N through by straddling a window boundary, and unlike a
// sliding log, the state per key is one integer.
package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid marks a call that no backend could answer because its arguments
// are wrong (a negative weight, a limit without a period). It is a bug or a
// bad plan, not an outage, so Guarded passes it through instead of failing
// open.
var ErrInvalid = errors.New("ratelimit: invalid argument")

// MaxPeriod is the longest period a Limit may have. It keeps theoretical
// arrival times within int64 nanoseconds and within the 2^53 microseconds a
// Redis Lua number holds exactly.
const MaxPeriod = 100 * 365 * 24 * time.Hour

// Limit is "Count per Period", parsed from API Connect's notation. A negative
// Count means unlimited; a zero Count refuses every call that has a weight.
type Limit struct {
	Count  int64
	Period time.Duration
}

// IsUnlimited reports whether l admits everything, so callers can skip the
// backend and the X-RateLimit headers.
func (l Limit) IsUnlimited() bool { return l.Count < 0 }

// String writes l back in API Connect's notation, picking the largest unit
// that divides the period, so that plans round-trip.
func (l Limit) String() string {
	if l.IsUnlimited() {
		return "unlimited"
	}
	for _, u := range units() {
		if l.Period >= u.d && l.Period%u.d == 0 {
			return fmt.Sprintf("%d/%d%s", l.Count, l.Period/u.d, u.name)
		}
	}
	return fmt.Sprintf("%d/%s", l.Count, l.Period)
}

type unit struct {
	name string
	d    time.Duration
}

// units lists API Connect's units, largest first; it has no months or years
// because their length varies. An array by value keeps it immutable.
func units() [5]unit {
	return [5]unit{
		{"week", 7 * 24 * time.Hour},
		{"day", 24 * time.Hour},
		{"hour", time.Hour},
		{"minute", time.Minute},
		{"second", time.Second},
	}
}

// ParseLimit parses API Connect's limit notation: "unlimited", or
// "<count>/[<n>]<unit>" with unit second, minute, hour, day or week, singular
// or plural, e.g. "100/1hour", "100/hour", "5/2minutes". API Connect's enum
// values are case-sensitive and it has no abbreviations, so "100/1h" and
// "100/1Hour" are refused here as they are at publish time.
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "unlimited" {
		return Limit{Count: -1}, nil
	}
	countText, periodText, ok := strings.Cut(s, "/")
	if !ok {
		return Limit{}, parseError(s, "it has no '/'")
	}
	count, err := parseCount(countText)
	if err != nil {
		return Limit{}, parseError(s, err.Error())
	}
	period, err := parsePeriod(periodText)
	if err != nil {
		return Limit{}, parseError(s, err.Error())
	}
	return Limit{Count: count, Period: period}, nil
}

func parseError(s, why string) error {
	return fmt.Errorf(`ratelimit: cannot parse limit %q: %s; write "unlimited" or `+
		`"<count>/[<n>]<unit>" with unit second, minute, hour, day or week (e.g. "100/1hour", "10/second")`, s, why)
}

func parseCount(s string) (int64, error) {
	if s == "" || !allDigits(s) {
		return 0, fmt.Errorf("count %q is not a whole number", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("count %q is too large", s)
	}
	return n, nil
}

// parsePeriod reads "[<n>]<unit>"; the multiplier defaults to 1.
func parsePeriod(s string) (time.Duration, error) {
	digits := len(s) - len(strings.TrimLeft(s, "0123456789"))
	mult := int64(1)
	if digits > 0 {
		var err error
		if mult, err = strconv.ParseInt(s[:digits], 10, 64); err != nil || mult == 0 {
			return 0, fmt.Errorf("period multiplier %q must be between 1 and %d", s[:digits], int64(MaxPeriod/time.Second))
		}
	}
	u, ok := lookupUnit(s[digits:])
	if !ok {
		return 0, fmt.Errorf("unit %q is not one of second, minute, hour, day, week", s[digits:])
	}
	if mult > int64(MaxPeriod/u) {
		return 0, fmt.Errorf("period %q is longer than 100 years", s)
	}
	return time.Duration(mult) * u, nil
}

func lookupUnit(name string) (time.Duration, bool) {
	name = strings.TrimSuffix(name, "s")
	for _, u := range units() {
		if u.name == name {
			return u.d, true
		}
	}
	return 0, false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// HeaderValue formats one entry of API Connect's X-RateLimit-Limit and
// X-RateLimit-Remaining headers ("name=default,100;"); a response with
// several limits concatenates the entries.
func HeaderValue(name string, n int64) string {
	return "name=" + name + "," + strconv.FormatInt(n, 10) + ";"
}
