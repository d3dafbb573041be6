package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"
)

// Output: by default lists print one `name [state: x] url` line per item
// as apic does, and single objects print as YAML; --format json or yaml
// prints lists as {"total_results": n, "results": […]} and objects as
// they are. Only results go to stdout; progress and notes go to stderr.

func checkFormat(format string) error {
	switch format {
	case "", "json", "yaml":
		return nil
	}
	return usageError{fmt.Errorf("--format %q: use json or yaml (or leave it out for lines people read)", format)}
}

// writeFormatted prints v as indented JSON or as YAML.
func writeFormatted(w io.Writer, format string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if format == "json" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, data, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err = w.Write(buf.Bytes())
		return err
	}
	out, err := jsonToYAML(data)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// jsonToYAML turns JSON into block-style YAML, keeping the key order and
// quoting strings that would read as other types; text with line breaks
// becomes a literal block.
func jsonToYAML(data []byte) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, err
	}
	blockStyle(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func blockStyle(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && strings.Contains(n.Value, "\n") {
		n.Style = yaml.LiteralStyle
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// printList prints items (a slice) as lines, or as a collection.
func printList(w io.Writer, format string, items any, total int) error {
	if format != "" {
		return writeFormatted(w, format, map[string]any{"total_results": total, "results": items})
	}
	maps, err := asMaps(items)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 4, ' ', 0)
	for _, m := range maps {
		fmt.Fprintln(tw, rowOf(m))
	}
	return tw.Flush()
}

// printObject prints one object: YAML unless --format says JSON.
func printObject(w io.Writer, format string, v any) error {
	if format == "" {
		format = "yaml"
	}
	return writeFormatted(w, format, v)
}

// printRow prints one object as a list line (after a create, say), or in
// the --format asked for.
func printRow(w io.Writer, format string, v any) error {
	if format != "" {
		return writeFormatted(w, format, v)
	}
	return printList(w, "", []any{v}, 1)
}

// rowOf is an object's list line: name (name:version when it has a
// version), [state: x] when it has a state, and its URL (a base path for
// APIs, which have no URL of their own).
func rowOf(m map[string]any) string {
	name, _ := m["name"].(string)
	if v, _ := m["version"].(string); v != "" {
		name += ":" + v
	}
	state, _ := m["state"].(string)
	if ps, ok := m["push_status"].(map[string]any); ok && state == "" {
		state, _ = ps["state"].(string)
	}
	url, _ := m["url"].(string)
	if url == "" {
		url, _ = m["base_path"].(string)
	}
	cols := []string{name}
	if state != "" {
		cols = append(cols, "[state: "+state+"]")
	}
	return strings.Join(append(cols, url), "\t")
}

func asMaps(items any) ([]map[string]any, error) {
	data, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	return out, json.Unmarshal(data, &out)
}

// withFields adds fields to an object's JSON (a draft's document, say).
func withFields(v any, fields map[string]any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	for k, f := range fields {
		m[k] = f
	}
	return m, nil
}
