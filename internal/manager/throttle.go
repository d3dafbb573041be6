package manager

import (
	"context"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portico-api/portico/internal/ratelimit"
)

// Failed logins are limited per user name and per client address, so
// that passwords and keys cannot be guessed at speed: after
// failedPerUser failures for one name, or failedPerAddr from one address,
// within a minute, further attempts are refused with 429 until capacity
// comes back (GCRA: one more attempt every 6 s, or every 2 s). Successful
// logins cost nothing, so a pipeline that logs in often is not slowed.
// The counts live in the manager process: each replica counts its own.
var (
	failedPerUser = ratelimit.Limit{Count: 10, Period: time.Minute}
	failedPerAddr = ratelimit.Limit{Count: 30, Period: time.Minute}
)

// loginThrottle counts failed logins.
type loginThrottle struct {
	lim ratelimit.Limiter
}

// throttleKey is one counted subject and its limit.
type throttleKey struct {
	key   string
	limit ratelimit.Limit
}

// loginKeys are the subjects of a login attempt: its client address, and
// the user name when there is one.
func loginKeys(r *http.Request, username string) []throttleKey {
	keys := []throttleKey{{"login-addr:" + clientAddr(r), failedPerAddr}}
	if username != "" {
		keys = append(keys, throttleKey{"login-user:" + strings.ToLower(username), failedPerUser})
	}
	return keys
}

// clientAddr is the request's peer address without the port. Behind a
// proxy every client shares the proxy's address: the per-address limit is
// then the proxy's, and the per-user limit still holds.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked reports whether any subject has no attempt left, and how long
// until it has one.
func (t loginThrottle) blocked(ctx context.Context, keys []throttleKey) (time.Duration, bool) {
	for _, k := range keys {
		res, err := t.lim.Allow(ctx, k.key, k.limit, 0) // weight 0: look, do not count
		if err == nil && res.Remaining == 0 {
			return k.limit.Period / time.Duration(k.limit.Count), true
		}
	}
	return 0, false
}

// failed counts a failed attempt against every subject.
func (t loginThrottle) failed(ctx context.Context, keys []throttleKey) {
	for _, k := range keys {
		t.lim.Allow(ctx, k.key, k.limit, 1)
	}
}

// refuseThrottled answers 429 with Retry-After in whole seconds.
func refuseThrottled(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	writeError(w, http.StatusTooManyRequests, "too many failed logins; wait "+
		strconv.Itoa(int(math.Ceil(wait.Seconds())))+" seconds and try again")
}
