package ratelimit

// The backends are interchangeable behind the interfaces the gateway uses.
var (
	_ Limiter = (*Memory)(nil)
	_ Limiter = (*Redis)(nil)
	_ Limiter = (*Guarded)(nil)
	_ Counter = (*Memory)(nil)
	_ Counter = (*Redis)(nil)
)
