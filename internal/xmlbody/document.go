// Package xmlbody is the parsed form of an XML message body and the
// conversions between XML and JSON that API Connect's json-to-xml and
// xml-to-json policies perform (BadgerFish, and the compact apicv5 form).
//
// A Document keeps the bytes it was parsed from, checked to be well formed
// by a scanner that never fetches anything (no DTDs, no external entities)
// and caps nesting depth. The helium DOM that XSLT and XSD validation need
// is built from those bytes on first use, so a body that is only converted
// to JSON never pays for a tree.
package xmlbody

import (
	"bytes"
	"context"
	"fmt"

	"github.com/lestrrat-go/helium"
)

// MaxDepth caps element nesting, in documents read and in documents built
// from JSON, so a hostile body cannot exhaust the stack.
const MaxDepth = 256

// ContentType is the media type of a serialised Document.
const ContentType = "application/xml"

// Document is a well-formed XML document: its serialised form, and the
// DOM built from it when something asks for one. A Document is not safe
// for concurrent use, like the message body that holds it; it is never
// changed once made, so sharing one read-only between variables is fine.
type Document struct {
	raw []byte
	dom *helium.Document
}

// Parse checks that data is one well-formed XML document and wraps it. A
// UTF-8 byte-order mark is dropped. DOCTYPE declarations are refused: the
// gateway never expands entities or loads DTDs from message bodies.
func Parse(data []byte) (*Document, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if err := scan(data, nopHandler{}); err != nil {
		return nil, err
	}
	return &Document{raw: data}, nil
}

// FromDOM wraps a tree built elsewhere (an XSLT result, say), serialising
// it once so that Bytes never fails.
func FromDOM(dom *helium.Document) (*Document, error) {
	if dom == nil || dom.DocumentElement() == nil {
		return nil, fmt.Errorf("the XML tree has no root element")
	}
	var buf bytes.Buffer
	if err := helium.NewWriter().XMLDeclaration(false).WriteTo(&buf, dom); err != nil {
		return nil, fmt.Errorf("serialising the XML tree: %w", err)
	}
	return &Document{raw: bytes.TrimRight(buf.Bytes(), "\n"), dom: dom}, nil
}

// Bytes returns the serialised document. The gateway writes these bytes
// when the Document is the body of the response or of a back-end request.
func (d *Document) Bytes() []byte { return d.raw }

// String returns the serialised document, so that $(message.body) renders
// as XML text.
func (d *Document) String() string { return string(d.raw) }

// ContentType is the media type to send the Document with when the
// message names none.
func (d *Document) ContentType() string { return ContentType }

// DOM returns the document as a helium tree, parsing it on first use. The
// parser is helium's hardened default: no external entities, no file or
// network access, depth capped at MaxDepth.
func (d *Document) DOM(ctx context.Context) (*helium.Document, error) {
	if d.dom != nil {
		return d.dom, nil
	}
	dom, err := helium.NewParser().MaxDepth(MaxDepth).Parse(ctx, d.raw)
	if err != nil {
		return nil, fmt.Errorf("building the XML tree: %w", err)
	}
	d.dom = dom
	return dom, nil
}

// ToJSON converts the document to a JSON value by the convention c.
func (d *Document) ToJSON(c Convention) (any, error) { return ToJSON(d.raw, c) }
