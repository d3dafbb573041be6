package expr

import (
	"encoding/json"
	"maps"
	"math"

	"github.com/recolabs/gnata"
)

// maxNormalizeDepth bounds the walk over context documents (and guards
// against cyclic maps).
const maxNormalizeDepth = 256

// normalize converts a JSON-like value from the Env into the types gnata
// computes with: every Go integer and float32 becomes float64, []byte becomes
// string, []string and map[string]string become []any and map[string]any.
// Containers are copied only when something inside them changes, so an
// already-normalized document costs a walk and no allocation.
func normalize(v any, depth int) any {
	nv, _ := normalizeChanged(v, depth)
	return nv
}

func normalizeMap(m map[string]any, depth int) map[string]any {
	nm, _ := normalizeMapChanged(m, depth)
	return nm
}

func normalizeChanged(v any, depth int) (any, bool) {
	switch x := v.(type) {
	case nil, string, float64, bool, json.Number:
		return v, false
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint8:
		return float64(x), true
	case float32:
		return float64(x), true
	case []byte:
		return string(x), true
	case map[string]any:
		return normalizeMapChanged(x, depth)
	case []any:
		if depth >= maxNormalizeDepth {
			return v, false
		}
		var out []any
		for i, e := range x {
			ne, changed := normalizeChanged(e, depth+1)
			if changed && out == nil {
				out = make([]any, len(x))
				copy(out, x[:i])
			}
			if out != nil {
				out[i] = ne
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, true
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, s := range x {
			out[k] = s
		}
		return out, true
	}
	return v, false
}

func normalizeMapChanged(m map[string]any, depth int) (map[string]any, bool) {
	if depth >= maxNormalizeDepth {
		return m, false
	}
	var out map[string]any
	for k, v := range m {
		nv, changed := normalizeChanged(v, depth+1)
		if changed && out == nil {
			out = maps.Clone(m) // entries seen so far were unchanged
		}
		if out != nil {
			out[k] = nv
		}
	}
	if out == nil {
		return m, false
	}
	return out, true
}

// truthy casts a JSONata result like $boolean().
func truthy(raw any) bool {
	if raw == nil || gnata.IsNull(raw) {
		return false
	}
	switch x := raw.(type) {
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0 && !math.IsNaN(x)
	}
	return boolOf(gnata.NormalizeValue(raw))
}

func boolOf(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0 && !math.IsNaN(x)
	case json.Number:
		f, err := x.Float64()
		return err == nil && f != 0
	case map[string]any:
		return len(x) > 0
	case []any:
		switch len(x) {
		case 0:
			return false
		case 1:
			return boolOf(x[0])
		}
		for _, e := range x {
			if boolOf(e) {
				return true
			}
		}
		return false
	}
	return false // functions
}

// jsonataResult converts a gnata result to plain JSON-like Go values.
func jsonataResult(raw any) any {
	return gnata.NormalizeValue(raw)
}
