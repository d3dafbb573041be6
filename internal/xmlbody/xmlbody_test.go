package xmlbody

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseWellFormed(t *testing.T) {
	good := []string{
		`<a/>`,
		"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a x=\"1\"><b>t</b><!-- c --><?pi x?></a>\n",
		`<p:a xmlns:p="urn:p" p:x="1" x="2"><p:b/></p:a>`,
		`<a xmlns="urn:d"><b xmlns=""/></a>`,
		`<a xml:lang="en">&lt;&#x41;&amp;</a>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><a>plain ascii</a>`,
	}
	for _, s := range good {
		d, err := Parse([]byte(s))
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if strings.HasPrefix(string(d.Bytes()), "\xef\xbb\xbf") {
			t.Errorf("%q: byte-order mark kept", s)
		}
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]string{
		`<a><b></a>`:       "does not match",
		`<a/><b/>`:         "more than one root",
		`<a>x</a>trailing`: "outside the root",
		`<a>&nbsp;</a>`:    "entity",
		`<a>`:              "not closed",
		``:                 "no root",
		`  `:               "no root",
		`<p:a/>`:           `prefix "p"`,
		`<a p:x="1"/>`:     `prefix "p"`,
		`<a x="1" x="2"/>`: "twice",
		`<a xmlns:p="u" xmlns:q="u" p:x="1" q:x="2"/>`:                     "twice",
		`<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`: "DOCTYPE",
		`<a xmlns:p=""/>`: "cannot be empty",
		"<a>\xff</a>":     "UTF-8",
	}
	for in, want := range cases {
		_, err := Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one mentioning %q", in, err, want)
		}
	}
}

func TestParseDepthCap(t *testing.T) {
	deep := strings.Repeat("<a>", MaxDepth+1) + strings.Repeat("</a>", MaxDepth+1)
	if _, err := Parse([]byte(deep)); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("error = %v", err)
	}
	ok := strings.Repeat("<a>", MaxDepth) + strings.Repeat("</a>", MaxDepth)
	if _, err := Parse([]byte(ok)); err != nil {
		t.Errorf("depth %d refused: %v", MaxDepth, err)
	}
}

func TestDOM(t *testing.T) {
	d, err := Parse([]byte(`<a><b>1</b></a>`))
	if err != nil {
		t.Fatal(err)
	}
	dom, err := d.DOM(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if dom.DocumentElement().LocalName() != "a" {
		t.Errorf("root = %s", dom.DocumentElement().LocalName())
	}
	again, _ := d.DOM(context.Background())
	if again != dom {
		t.Error("the DOM is built again")
	}
	back, err := FromDOM(dom)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(back.Bytes()); got != `<a><b>1</b></a>` {
		t.Errorf("FromDOM bytes = %q", got)
	}
	if d.ContentType() != "application/xml" || d.String() != `<a><b>1</b></a>` {
		t.Errorf("content type %q, string %q", d.ContentType(), d.String())
	}
}

// mustJSON decodes a JSON literal for comparisons.
func mustJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

func TestToJSONBadgerFish(t *testing.T) {
	cases := []struct{ xml, json string }{
		// The examples of API Connect's documentation.
		{`<a>hello</a>`, `{"a": {"$": "hello"}}`},
		{`<a type="world">hello</a>`, `{"a": {"$": "hello", "@type": "world"}}`},
		{`<a><b>1</b><b>2</b><c/></a>`, `{"a": {"b": [{"$": "1"}, {"$": "2"}], "c": {}}}`},
		{"<a>\n  <b>x</b>\n</a>", `{"a": {"b": {"$": "x"}}}`},
		{`<a> </a>`, `{"a": {"$": " "}}`},
		{`<a>x<b/>y</a>`, `{"a": {"$": "xy", "b": {}}}`},
		{`<a><![CDATA[<raw>]]></a>`, `{"a": {"$": "<raw>"}}`},
		// Namespaces in scope are listed on every element (BadgerFish rule 6).
		{`<alice xmlns="urn:a" xmlns:c="urn:c"><bob>d</bob><c:e>f</c:e></alice>`,
			`{"alice": {"@xmlns": {"$": "urn:a", "c": "urn:c"},
			  "bob": {"$": "d", "@xmlns": {"$": "urn:a", "c": "urn:c"}},
			  "c:e": {"$": "f", "@xmlns": {"$": "urn:a", "c": "urn:c"}}}}`},
		{`<a xmlns="urn:a"><b xmlns=""/></a>`, `{"a": {"@xmlns": {"$": "urn:a"}, "b": {"@xmlns": {"$": ""}}}}`},
		{`<a xmlns=""/>`, `{"a": {}}`},
	}
	for _, tc := range cases {
		got, err := ToJSON([]byte(tc.xml), BadgerFish)
		if err != nil {
			t.Errorf("%s: %v", tc.xml, err)
			continue
		}
		if want := mustJSON(t, tc.json); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %#v\nwant %#v", tc.xml, got, want)
		}
	}
}

func TestToJSONCompact(t *testing.T) {
	got, err := ToJSON([]byte(`<o xmlns="urn:x"><id>7</id><tag>a</tag><tag>b</tag><e/><p unit="kg">2</p></o>`), Compact)
	if err != nil {
		t.Fatal(err)
	}
	want := mustJSON(t, `{"o": {"id": "7", "tag": ["a", "b"], "e": "", "p": {"$": "2", "@unit": "kg"}}}`)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v", got)
	}
}

func TestFromJSON(t *testing.T) {
	cases := []struct {
		name, json string
		o          Options
		want       string
	}{
		{"badgerfish text", `{"a": {"$": "hello"}}`, Options{}, `<a>hello</a>`},
		{"plain value", `{"a": "hello"}`, Options{}, `<a>hello</a>`},
		{"attribute", `{"a": {"$": "hello", "@type": "world"}}`, Options{}, `<a type="world">hello</a>`},
		{"key order kept", `{"order": {"id": 1, "name": "x", "at": true, "none": null}}`, Options{},
			`<order><id>1</id><name>x</name><at>true</at><none/></order>`},
		{"repeated", `{"a": {"b": [1, 2]}}`, Options{}, `<a><b>1</b><b>2</b></a>`},
		{"several keys wrapped", `{"a": 1, "b": 2}`, Options{}, `<json><a>1</a><b>2</b></json>`},
		{"always root", `{"a": 1}`, Options{AlwaysRoot: true, RootName: "doc"}, `<doc><a>1</a></doc>`},
		{"top-level array", `[1, {"x": "y"}]`, Options{}, `<json><element>1</element><element><x>y</x></element></json>`},
		{"nested arrays", `{"m": [[1, 2], [3]]}`, Options{ItemName: "i"}, `<m><i>1</i><i>2</i></m><m><i>3</i></m>`},
		{"array of one is a root", `{"a": [{"b": 1}]}`, Options{}, `<a><b>1</b></a>`},
		{"scalar", `"text"`, Options{}, `<json>text</json>`},
		{"escaping", `{"a": {"@q": "\"<&>\n", "$": "<&>\r"}}`, Options{}, `<a q="&quot;&lt;&amp;&gt;&#xA;">&lt;&amp;&gt;&#xD;</a>`},
		{"namespaces", `{"p:a": {"@xmlns": {"p": "urn:p", "$": "urn:d"}, "b": {"@xmlns": {"p": "urn:p", "$": "urn:d"}, "$": "x"}}}`, Options{},
			`<p:a xmlns:p="urn:p" xmlns="urn:d"><b>x</b></p:a>`},
		{"xmlns string and xmlns:p", `{"a": {"@xmlns": "urn:d", "@xmlns:q": "urn:q", "q:b": "1"}}`, Options{},
			`<a xmlns="urn:d" xmlns:q="urn:q"><q:b>1</q:b></a>`},
		{"documented example", `{"order": {"@id": "7", "item": [{"$": "A1"}, "B2"]}}`, Options{}, `<order id="7"><item>A1</item><item>B2</item></order>`},
		{"big and small numbers", `{"a": [1e21, 0.5, -3]}`, Options{}, `<json><a>1e21</a><a>0.5</a><a>-3</a></json>`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := FromJSONBytes([]byte(tc.json), tc.o)
			if err != nil && tc.name != "nested arrays" {
				t.Fatal(err)
			}
			if tc.name == "nested arrays" {
				// Two <m> elements cannot be one document; under a root they can.
				d, err = FromJSONBytes([]byte(`{"r": `+tc.json+`}`), tc.o)
				if err != nil {
					t.Fatal(err)
				}
				tc.want = "<r>" + tc.want + "</r>"
			}
			if got := string(d.Bytes()); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if _, err := Parse(d.Bytes()); err != nil {
				t.Errorf("output is not well formed: %v", err)
			}
		})
	}
}

func TestFromJSONValueSortsKeys(t *testing.T) {
	d, err := FromJSON(map[string]any{"z": 1.0, "a": map[string]any{"$": "t", "@k": "v"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(d.Bytes()); got != `<json><a k="v">t</a><z>1</z></json>` {
		t.Errorf("got %s", got)
	}
}

func TestFromJSONErrors(t *testing.T) {
	cases := map[string]string{
		`{"first name": 1}`:      "not a valid XML element name",
		`{"a": {"@1x": "v"}}`:    "not a valid XML attribute name",
		`{"a": {"$": {"x": 1}}}`: "expected text",
		`{"p:a": 1}`:             `prefix "p"`,
		`{"a": {"@p:x": "1"}}`:   `prefix "p"`,
		`{"a": "\u0001"}`:        "U+0001",
		`{"a": {"@xmlns": 5}}`:   "expected an object",
		`{"a": 1,}`:              "not valid JSON",
		`{"a": 1} {}`:            "after the top-level value",
		strings.Repeat("[", 300) + strings.Repeat("]", 300): "nested",
	}
	for in, want := range cases {
		_, err := FromJSONBytes([]byte(in), Options{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40s: error %v, want one mentioning %q", in, err, want)
		}
	}
	if _, err := FromJSON(map[string]any{"$": "x"}, Options{Convention: Plain}); err == nil {
		t.Error("None accepted $ as an element name")
	}
	if err := (Options{RootName: "a b"}).Check(); err == nil {
		t.Error("a bad root name passed Check")
	}
}

func TestParseConvention(t *testing.T) {
	for in, want := range map[string]Convention{"": BadgerFish, "badgerFish": BadgerFish,
		"relaxed-badgerfish": BadgerFish, "apicv5": Compact, "None": Plain} {
		if got, ok := ParseConvention(in); !ok || got != want {
			t.Errorf("%q = %v %v", in, got, ok)
		}
	}
	if _, ok := ParseConvention("jsonx"); ok {
		t.Error("jsonx accepted")
	}
}

// roundTrip checks the BadgerFish property: XML → JSON → XML → JSON gives
// the same JSON.
func roundTrip(t *testing.T, data []byte) {
	first, err := ToJSON(data, BadgerFish)
	if err != nil {
		return // not XML; FuzzXMLToJSON covers it
	}
	doc, err := FromJSON(first, Options{})
	if err != nil {
		t.Fatalf("JSON from %q does not convert back: %v\nJSON: %#v", data, err, first)
	}
	if _, err := Parse(doc.Bytes()); err != nil {
		t.Fatalf("XML made from %q is not well formed: %v\n%s", data, err, doc.Bytes())
	}
	second, err := ToJSON(doc.Bytes(), BadgerFish)
	if err != nil {
		t.Fatalf("%q: %v", doc.Bytes(), err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("round trip of %q changed:\nfirst  %#v\nsecond %#v\nvia %s", data, first, second, doc.Bytes())
	}
}

var xmlSeeds = []string{
	`<a>hello</a>`,
	`<a type="world">hello</a>`,
	`<a><b>1</b><b>2</b><c/></a>`,
	`<alice xmlns="urn:a" xmlns:c="urn:c"><bob>d</bob><c:e c:k="v">f</c:e></alice>`,
	`<a xmlns="urn:a"><b xmlns=""><c xmlns="urn:c"/></b></a>`,
	`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><m:Get xmlns:m="urn:m"><m:id>1</m:id></m:Get></soap:Body></soap:Envelope>`,
	"<a>x\r\n<b/>y &amp; z</a>",
	`<a xml:lang="en"><![CDATA[<x>]]></a>`,
	`<a><b><b><b/></b></b></a>`,
}

func TestRoundTrip(t *testing.T) {
	for _, s := range xmlSeeds {
		roundTrip(t, []byte(s))
	}
}

func FuzzJSONXMLRoundTrip(f *testing.F) {
	for _, s := range xmlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip(t, data)
	})
}

// FuzzXMLToJSON feeds arbitrary bytes to the XML side: nothing may panic,
// and whatever Parse accepts ToJSON converts in either convention.
func FuzzXMLToJSON(f *testing.F) {
	for _, s := range xmlSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`<a><b></a>`))
	f.Add([]byte(`<!DOCTYPE a><a/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, perr := Parse(data)
		for _, c := range []Convention{BadgerFish, Compact} {
			_, err := ToJSON(data, c)
			if (perr == nil) != (err == nil) {
				t.Fatalf("Parse and ToJSON disagree on %q: %v / %v", data, perr, err)
			}
		}
	})
}

// FuzzJSONToXML feeds arbitrary bytes to the JSON side: nothing may panic,
// and any output is well formed.
func FuzzJSONToXML(f *testing.F) {
	f.Add([]byte(`{"a": {"$": "x", "@k": "v", "b": [1, 2, [3]]}}`))
	f.Add([]byte(`[{"p:a": {"@xmlns": {"p": "urn:p"}}}]`))
	f.Add([]byte(`"s"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []Convention{BadgerFish, Plain} {
			d, err := FromJSONBytes(data, Options{Convention: c})
			if err != nil {
				continue
			}
			if _, err := Parse(d.Bytes()); err != nil {
				t.Fatalf("%q made %q, which is not well formed: %v", data, d.Bytes(), err)
			}
		}
	})
}
