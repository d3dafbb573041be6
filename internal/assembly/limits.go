package assembly

import "context"

// Limits gives the ratelimit policy the limits that apply to this call: the
// identified plan's named limits (API Connect's assembly-rate-limits,
// assembly-burst-limits and assembly-count-limits) and its default limits.
// The gateway provides one per identified call; it is nil otherwise.
type Limits interface {
	// Apply uses one named limit. kind is "rate", "burst" or "count";
	// source is plan-named or plan-default; op is consume or replenish
	// (rate, burst) or inc or dec (count); weight is how much the call
	// costs. Known is false when the plan has no limit of that name.
	Apply(ctx context.Context, source, kind, name, op string, weight int64) (LimitResult, error)
}

// LimitResult is one limit's answer.
type LimitResult struct {
	Known     bool
	Allowed   bool
	HardLimit bool
	Limit     int64
	Remaining int64
}
