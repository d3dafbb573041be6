package mapping

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/portico-api/portico/internal/apidef"
	"github.com/portico-api/portico/internal/assembly"
)

// options are the map policy's options, read from `options:` or from
// beside the other settings (the API Gateway accepts both).
type options struct {
	apicVars    bool   // mapResolveApicVariables: $(name) reads context variables
	nullValue   bool   // mapNullValue: a null input is mapped as null, not left out
	emptyObject bool   // mapEmulateV4EmptyJSONObject: an object output nothing was set in is {}
	xmlTypes    bool   // mapResolveXMLInputDataType: XML text becomes the schema's number or boolean
	emptyArray  string // mapCreateEmptyArray: all | parent | none
	refLimit    int    // mapReferenceLimit: expansions of a recursive $ref, 1–5
	empty       emptyElement
	convert     convertOptions
	xml         xmlOptions
}

// boolOptions are the boolean options with their defaults; the ones not
// read here (inlineNamespaces, mapOptimizeSchemaDefinition, …) are
// accepted and have no effect.
var boolOptions = map[string]bool{
	"includeEmptyXMLElements": true, "namespaceInheritance": true, "inlineNamespaces": true,
	"mapResolveXMLInputDataType": false, "mapArrayFirstElementValue": false, "mapResolveApicVariables": true,
	"mapNullValue": false, "mapOptimizeSchemaDefinition": false, "mapEmulateV4DefaultRequiredProps": false,
	"mapEnablePostProcessingJSON": false, "mapEmulateV4EmptyJSONObject": false,
}

var enumOptions = map[string][]string{
	"mapXMLEmptyElement":  {"string", "null", "none", "string-badgerfish", "null-badgerfish"},
	"mapCreateEmptyArray": {"all", "parent", "none"},
	"messagesInputData":   {"error", "warn", "info"},
}

func compileOptions(b *assembly.Builder, n apidef.Node) options {
	vals := optionNodes(b, n)
	flags := make(map[string]bool, len(boolOptions))
	for k, def := range boolOptions {
		flags[k] = boolOption(b, vals[k], k, def)
	}
	enums := make(map[string]string, len(enumOptions))
	for k := range enumOptions {
		enums[k] = enumOption(b, vals[k], k)
	}
	return options{
		apicVars: flags["mapResolveApicVariables"], nullValue: flags["mapNullValue"],
		emptyObject: flags["mapEmulateV4EmptyJSONObject"], xmlTypes: flags["mapResolveXMLInputDataType"],
		emptyArray: enums["mapCreateEmptyArray"], empty: emptyElements[enums["mapXMLEmptyElement"]],
		refLimit: refLimit(b, vals["mapReferenceLimit"]),
		convert:  convertOptions{firstElement: flags["mapArrayFirstElementValue"]},
		xml:      xmlOptions{inherit: flags["namespaceInheritance"], includeEmpty: flags["includeEmptyXMLElements"]},
	}
}

func knownOption(k string) bool {
	_, isBool := boolOptions[k]
	return isBool || enumOptions[k] != nil || k == "mapReferenceLimit"
}

// optionNodes collects the options by name: under options:, then beside
// the other settings.
func optionNodes(b *assembly.Builder, n apidef.Node) map[string]apidef.Node {
	vals := map[string]apidef.Node{}
	opts := n.Get("options")
	for _, k := range opts.Keys() {
		vals[k] = opts.Get(k)
		if !knownOption(k) {
			b.Report(opts.KeyNode(k).Warning(fmt.Sprintf("unknown map option %q is ignored", k),
				"see the map policy's options, e.g. mapNullValue, mapCreateEmptyArray"))
		}
	}
	for _, k := range n.Keys() {
		if knownOption(k) {
			vals[k] = n.Get(k)
		}
	}
	return vals
}

func boolOption(b *assembly.Builder, v apidef.Node, k string, def bool) bool {
	if v.IsNull() {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(v.Str())) {
	case "true":
		return true
	case "false":
		return false
	}
	b.Report(v.Problem(fmt.Sprintf("%s must be true or false, not %q", k, v.Str()), ""))
	return def
}

func enumOption(b *assembly.Builder, v apidef.Node, k string) string {
	allowed := enumOptions[k]
	if v.IsZero() {
		return allowed[0]
	}
	s := strings.TrimSpace(v.Str())
	if v.IsNull() {
		if k != "mapXMLEmptyElement" {
			return allowed[0]
		}
		s = "null" // mapXMLEmptyElement: null, unquoted
	}
	if !slices.Contains(allowed, s) {
		b.Report(v.Problem(fmt.Sprintf("%s must be one of %s, not %q", k, strings.Join(allowed, ", "), v.Str()), ""))
		return allowed[0]
	}
	return s
}

func refLimit(b *assembly.Builder, v apidef.Node) int {
	if v.IsNull() {
		return 1
	}
	limit, err := strconv.Atoi(strings.TrimSpace(v.Str()))
	if err != nil || limit < 1 || limit > 5 {
		b.Report(v.Problem(fmt.Sprintf("mapReferenceLimit must be a whole number from 1 to 5, not %q", v.Str()), ""))
		return 1
	}
	return limit
}
