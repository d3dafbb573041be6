package policy

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// Log compiles the log policy (API Gateway 2.0.0, 2.1.0):
//
//	mode: gather-only | send-only | gather-and-send   (default gather-and-send)
//	log-level: none | activity | header | payload | default | $(var)
//
// It changes what the analytics record of the call holds. Analytics does
// not read it yet, so for now the policy is accepted, checked and noted in
// the debug log.
func Log(b *assembly.Builder, n apidef.Node) assembly.Policy {
	mode := logEnum(b, n, "mode", "gather-and-send", false, "gather-only", "send-only", "gather-and-send")
	level := logEnum(b, n, "log-level", "default", true, "none", "activity", "header", "payload", "default")
	return func(c *assembly.Context) error {
		debugLog(c, "log policy: analytics logging is not implemented yet", "mode", mode, "log-level", level)
		return nil
	}
}

// ActivityLog compiles the v5 activity-log policy (1.0.0):
//
//	content: none | activity | header | payload        (default activity)
//	error-content: none | activity | header | payload  (default payload)
//
// Like log, it is accepted, checked and noted in the debug log until
// analytics reads it.
func ActivityLog(b *assembly.Builder, n apidef.Node) assembly.Policy {
	content := logEnum(b, n, "content", "activity", false, "none", "activity", "header", "payload")
	errContent := logEnum(b, n, "error-content", "payload", false, "none", "activity", "header", "payload")
	return func(c *assembly.Context) error {
		debugLog(c, "activity-log policy: analytics logging is not implemented yet", "content", content, "error-content", errContent)
		return nil
	}
}

// logEnum reads the setting key, which must be one of values (or, when
// allowVar, a $(variable) reference); def when absent.
func logEnum(b *assembly.Builder, n apidef.Node, key, def string, allowVar bool, values ...string) string {
	v := n.Get(key)
	if v.IsNull() {
		return def
	}
	s := strings.TrimSpace(v.Str())
	for _, ok := range values {
		if s == ok {
			return s
		}
	}
	if allowVar && strings.Contains(s, "$(") {
		b.Template(v) // reports a malformed reference
		return s
	}
	b.Report(v.Problem(fmt.Sprintf("%s %q is not one of %s", key, s, strings.Join(values, ", ")),
		fmt.Sprintf("write %s: %s", key, def)))
	return def
}

// debugLog writes a debug record to the request's logger, when it has one.
func debugLog(c *assembly.Context, msg string, args ...any) {
	if c.Log == nil || !c.Log.Enabled(c.Ctx, slog.LevelDebug) {
		return
	}
	c.Log.DebugContext(c.Ctx, msg, args...)
}
