package xmlbody

import (
	"encoding/xml"
	"strings"
	"unicode/utf8"
)

// isQName reports whether s is a valid XML element or attribute name in a
// namespace-aware document: an NCName, or prefix:local with both NCNames.
func isQName(s string) bool {
	prefix, local, found := strings.Cut(s, ":")
	if !found {
		return isNCName(s)
	}
	return isNCName(prefix) && isNCName(local)
}

// isNCName reports whether s is an XML name without colons (XML 1.0 fifth
// edition, productions [4] and [4a]).
func isNCName(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	ascii := true
	for i, r := range s {
		if r == ':' {
			return false
		}
		if i == 0 && !isNameStart(r) || i > 0 && !isNameChar(r) {
			return false
		}
		ascii = ascii && r < utf8.RuneSelf
	}
	return ascii || decoderAccepts(s)
}

// decoderAccepts reports whether encoding/xml, which reads bodies here,
// takes s as a name: its tables (XML 1.0 fourth edition) refuse some
// characters the fifth edition allows, and a document this package writes
// must read back.
func decoderAccepts(s string) bool {
	tok, err := xml.NewDecoder(strings.NewReader("<" + s + "/>")).RawToken()
	start, ok := tok.(xml.StartElement)
	return err == nil && ok && start.Name.Space == "" && start.Name.Local == s
}

func isNameStart(r rune) bool {
	switch {
	case r == '_', 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z':
		return true
	case 0xC0 <= r && r <= 0xD6, 0xD8 <= r && r <= 0xF6, 0xF8 <= r && r <= 0x2FF,
		0x370 <= r && r <= 0x37D, 0x37F <= r && r <= 0x1FFF, 0x200C <= r && r <= 0x200D,
		0x2070 <= r && r <= 0x218F, 0x2C00 <= r && r <= 0x2FEF, 0x3001 <= r && r <= 0xD7FF,
		0xF900 <= r && r <= 0xFDCF, 0xFDF0 <= r && r <= 0xFFFD, 0x10000 <= r && r <= 0xEFFFF:
		return true
	}
	return false
}

func isNameChar(r rune) bool {
	switch {
	case isNameStart(r), r == '-', r == '.', '0' <= r && r <= '9', r == 0xB7,
		0x300 <= r && r <= 0x36F, 0x203F <= r && r <= 0x2040:
		return true
	}
	return false
}

// isXMLChar reports whether r may appear in an XML 1.0 document.
func isXMLChar(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r':
		return true
	case 0x20 <= r && r <= 0xD7FF, 0xE000 <= r && r <= 0xFFFD, 0x10000 <= r && r <= 0x10FFFF:
		return true
	}
	return false
}
