package expr

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/recolabs/gnata"
)

// The API Connect JSONata extensions
// (https://www.ibm.com/docs/en/SS9H2Y_10.5.x/apigw/jsonata_functionalextensionsjsonata.html).
// Each receives the per-evaluation *evalState as its first argument, injected
// at compile time ($header('x') is compiled as $header($__env, 'x')).
var apicFuncImpls = map[string]gnata.CustomFunc{
	"apiCtx":         fnAPICtx,
	"header":         fnHeader,
	"httpVerb":       varFunc("httpVerb", "request.verb"),
	"operationID":    varFunc("operationID", "api.operation.id"),
	"operationPath":  varFunc("operationPath", "api.operation.path"),
	"queryParameter": fnQueryParameter,
	"statusCode":     fnStatusCode,
	"storageType":    fnStorageType,
	"urlParameter":   fnURLParameter,
}

func isAPICFunction(name string) bool {
	_, ok := apicFuncImpls[name]
	return ok
}

// apicFunctions returns the extension functions as gnata function values,
// ready to be bound as variables. They are built once per process (gnata
// only hands out its function type through an environment) and never change.
var apicFunctions = sync.OnceValue(func() map[string]any {
	env := gnata.NewCustomEnv(apicFuncImpls)
	out := make(map[string]any, len(apicFuncImpls))
	for name := range apicFuncImpls {
		v, ok := env.Lookup(name)
		if !ok || v == nil {
			panic("expr: gnata did not register $" + name)
		}
		out[name] = v
	}
	return out
})

// callState splits the injected state from the user's arguments.
func callState(fn string, args []any, maxArgs int) (*evalState, []any, error) {
	if len(args) > 0 {
		if st, ok := args[0].(*evalState); ok {
			if len(args)-1 > maxArgs {
				return nil, nil, fmt.Errorf("$%s: takes at most %d argument(s), got %d", fn, maxArgs, len(args)-1)
			}
			return st, args[1:], nil
		}
	}
	return nil, nil, fmt.Errorf("$%s: must be called directly, as $%s(...)", fn, fn)
}

// stringArg returns the i-th argument as a string; ok is false when it is
// undefined (the function then returns undefined) or missing (an error when
// the argument is required).
func stringArg(fn string, args []any, i int, required bool) (s string, ok bool, err error) {
	if i >= len(args) {
		if required {
			return "", false, fmt.Errorf("$%s: missing argument %d", fn, i+1)
		}
		return "", false, nil
	}
	if args[i] == nil {
		return "", false, nil
	}
	s, isStr := args[i].(string)
	if !isStr {
		return "", false, fmt.Errorf("$%s: argument %d must be a string, got %s", fn, i+1, typeName(args[i]))
	}
	return s, true, nil
}

func (st *evalState) get(name string) (any, bool) {
	if st.env == nil {
		return nil, false
	}
	v, ok := st.env.Var(name)
	if !ok {
		return nil, false
	}
	return normalize(v, 0), true
}

func varFunc(fn, name string) gnata.CustomFunc {
	return func(args []any, _ any) (any, error) {
		st, _, err := callState(fn, args, 0)
		if err != nil {
			return nil, err
		}
		v, _ := st.get(name)
		return v, nil
	}
}

func fnAPICtx(args []any, _ any) (any, error) {
	st, _, err := callState("apiCtx", args, 0)
	if err != nil {
		return nil, err
	}
	if r := st.fullRoot(); r != nil {
		return r, nil
	}
	return nil, nil
}

func fnHeader(args []any, _ any) (any, error) {
	st, rest, err := callState("header", args, 1)
	if err != nil {
		return nil, err
	}
	name, ok, err := stringArg("header", rest, 0, true)
	if !ok {
		return nil, err
	}
	v, _ := st.get("message.headers." + name)
	return v, nil
}

func fnStatusCode(args []any, _ any) (any, error) {
	st, _, err := callState("statusCode", args, 0)
	if err != nil {
		return nil, err
	}
	v, _ := st.get("message.status.code")
	switch x := v.(type) {
	case float64:
		return x, nil
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return f, nil
		}
	}
	return nil, nil
}

// fnQueryParameter reads the query string (request.querystring, else
// request.search); like DataPower it returns the first value, not URL-decoded.
// Without a query string it falls back to request.parameters.<name>.
func fnQueryParameter(args []any, _ any) (any, error) {
	st, rest, err := callState("queryParameter", args, 1)
	if err != nil {
		return nil, err
	}
	name, ok, err := stringArg("queryParameter", rest, 0, true)
	if !ok {
		return nil, err
	}
	for _, src := range [...]string{"request.querystring", "request.search"} {
		qs, present := st.get(src)
		if s, isStr := qs.(string); present && isStr {
			if v, found := lookupQuery(strings.TrimPrefix(s, "?"), name); found {
				return v, nil
			}
			return parameter(st, name, "query"), nil
		}
	}
	return parameter(st, name, "query"), nil
}

func lookupQuery(qs, name string) (string, bool) {
	for qs != "" {
		var pair string
		pair, qs, _ = strings.Cut(qs, "&")
		key, val, _ := strings.Cut(pair, "=")
		if key == name {
			return val, true
		}
		if strings.ContainsAny(key, "%+") {
			if k, err := url.QueryUnescape(key); err == nil && k == name {
				return val, true
			}
		}
	}
	return "", false
}

func fnURLParameter(args []any, _ any) (any, error) {
	st, rest, err := callState("urlParameter", args, 1)
	if err != nil {
		return nil, err
	}
	name, ok, err := stringArg("urlParameter", rest, 0, true)
	if !ok {
		return nil, err
	}
	return parameter(st, name, "path", "query"), nil
}

// parameter reads request.parameters.<name>. DataPower keeps
// {locations: [...], values: [...]} there; a plain value is returned as is.
func parameter(st *evalState, name string, locations ...string) any {
	v, ok := st.get("request.parameters." + name)
	if !ok {
		return nil
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		return v
	}
	values, hasValues := m["values"].([]any)
	if !hasValues {
		return v
	}
	if locs, ok := m["locations"].([]any); ok {
		for i, l := range locs {
			for _, want := range locations {
				if l == want && i < len(values) {
					return values[i]
				}
			}
		}
		return nil
	}
	if len(values) > 0 {
		return values[0]
	}
	return nil
}

// fnStorageType implements $storageType([variable]): the storage type of
// <variable>.body, message.body by default.
func fnStorageType(args []any, _ any) (any, error) {
	st, rest, err := callState("storageType", args, 1)
	if err != nil {
		return nil, err
	}
	name := "message"
	if s, ok, err := stringArg("storageType", rest, 0, false); err != nil {
		return nil, err
	} else if ok && s != "" {
		name = s
	}
	if st.env == nil {
		return "empty", nil
	}
	body, ok := st.env.Var(name + ".body")
	if !ok {
		return "empty", nil
	}
	return storageType(body), nil
}

func storageType(v any) string {
	switch x := v.(type) {
	case StorageTyper:
		return x.StorageType()
	case nil:
		return "empty"
	case string:
		if x == "" {
			return "empty"
		}
		return "stream"
	case []byte:
		if len(x) == 0 {
			return "empty"
		}
		return "stream"
	}
	return "json"
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}
