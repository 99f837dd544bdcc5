package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/revoke-dev/revoke/steps"
)

// MaxFileSize bounds runbook, policy, environment, facts and seed files
// (steps.MaxFileSize, the limit on every file revoke reads). Larger ones
// are refused before parsing: no real runbook comes close, and a parser
// fed an attacker's file should not be the one to find the machine's
// limits.
const MaxFileSize = steps.MaxFileSize

// identRE is the syntax of runbook names, step ids and environment names.
var identRE = regexp.MustCompile(`^[a-z0-9-]+$`)

// yamlLineRE splits yaml.v3's "yaml: line 3: message" errors.
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// nodeDecoder walks yaml.Node trees and collects Lints that point at the
// offending node. The runbook and environment decoders share it so both
// report unknown keys, wrong types and bad files the same way.
type nodeDecoder struct {
	file  string
	lints Lints
}

func (d *nodeDecoder) add(n *yaml.Node, level Level, code, format string, args ...any) {
	l := Lint{File: d.file, Level: level, Code: code, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		l.Line, l.Column = n.Line, n.Column
	}
	d.lints = append(d.lints, l)
}

func (d *nodeDecoder) errorf(n *yaml.Node, code, format string, args ...any) {
	d.add(n, Error, code, format, args...)
}

func (d *nodeDecoder) warnf(n *yaml.Node, code, format string, args ...any) {
	d.add(n, Warning, code, format, args...)
}

// parse checks the file's bytes and parses them into one YAML document.
// It returns the top-level mapping, or nil when there is none to decode;
// problems that do not stop decoding (aliases, a second document) come
// with a non-nil root.
func (d *nodeDecoder) parse(data []byte) (root *yaml.Node) {
	data, err := DecodeText(data)
	if err != nil {
		d.errorf(nil, "encoding", "%v", err)
		return nil
	}
	switch {
	case len(data) > MaxFileSize:
		d.errorf(nil, "too-large", "file is %d bytes, more than the %d allowed", len(data), MaxFileSize)
		return nil
	case bytes.IndexByte(data, 0) >= 0:
		d.errorf(d.offsetNode(data, bytes.IndexByte(data, 0)), "encoding", "file holds NUL bytes: not a text file")
		return nil
	case !utf8.Valid(data):
		d.errorf(d.offsetNode(data, invalidUTF8Offset(data)), "encoding", "file is not valid UTF-8")
		return nil
	}
	// yaml.v3 reports its own errors by panicking and recovering inside
	// Decode; this recover is for a bug of the parser on input nobody
	// anticipated, so that a broken file is a Lint and never a crash.
	defer func() {
		if r := recover(); r != nil {
			d.errorf(nil, "yaml", "the YAML parser failed on this file: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(nil, "empty", "file is empty")
		} else {
			d.yamlError(err, data)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.errorf(&next, "multi-document", "file holds more than one YAML document (the second starts here); keep one per file")
	case !errors.Is(err, io.EOF):
		d.yamlError(err, data)
	}
	if len(doc.Content) == 0 {
		d.errorf(nil, "empty", "file is empty")
		return nil
	}
	d.refuseAliases(&doc)
	root = doc.Content[0]
	switch {
	case root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null":
		d.errorf(nil, "empty", "file is empty")
		return nil
	case root.Kind != yaml.MappingNode:
		d.errorf(root, "not-mapping", "top level is %s; want a mapping of keys such as version and name", d.kindName(root))
		return nil
	}
	return root
}

// yamlParserProblems are the messages of yaml.v3's parser (as opposed to
// its scanner). The parser reports the 0-based line of the construct it
// was in (and no line at all for the first), so these need one added.
var yamlParserProblems = []string{
	"did not find expected <stream-start>", "did not find expected <document start>",
	"found undefined tag handle", "did not find expected node content",
	"did not find expected '-' indicator", "did not find expected key",
	"did not find expected ',' or ']'", "did not find expected ',' or '}'",
	"found duplicate %YAML directive", "found incompatible YAML document",
	"found duplicate %TAG directive",
}

// yamlError turns a yaml.v3 error into a Lint at the line it names, with
// the "yaml: line N:" prefix removed. A tab in a line's indentation is
// named as such, at its column: yaml.v3 says "found character that cannot
// start any token", which sends people looking for a stray character they
// cannot see.
func (d *nodeDecoder) yamlError(err error, data []byte) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if slices.Contains(yamlParserProblems, msg) {
		line++
	}
	// "violates indentation" names the line above the tab's.
	var tabLines []int
	switch {
	case msg == "found character that cannot start any token":
		tabLines = []int{line}
	case strings.Contains(msg, "tab character"):
		tabLines = []int{line, line + 1}
	}
	for _, n := range tabLines {
		if col := indentTab(data, n); col > 0 {
			d.lints = append(d.lints, Lint{File: d.file, Line: n, Column: col, Level: Error, Code: "yaml",
				Message: "a tab character in the indentation: YAML indents with spaces only"})
			return
		}
	}
	l := Lint{File: d.file, Line: line, Level: Error, Code: "yaml", Message: msg}
	if line > 0 {
		l.Column = 1 // yaml.v3 reports no column
	}
	d.lints = append(d.lints, l)
}

// refuseAliases reports every anchor and alias. They make a file hard to
// review (a value's meaning is elsewhere) and allow billion-laughs
// expansion, so revoke refuses them; the walk never follows an alias.
func (d *nodeDecoder) refuseAliases(n *yaml.Node) {
	if n.Anchor != "" {
		d.errorf(n, "alias", "anchor &%s: anchors and aliases are not allowed; write the value out", n.Anchor)
	}
	if n.Kind == yaml.AliasNode {
		d.errorf(n, "alias", "alias *%s: anchors and aliases are not allowed; write the value out", n.Value)
		return
	}
	for _, c := range n.Content {
		d.refuseAliases(c)
	}
}

// indentTab returns the 1-based column of the first tab in the leading
// whitespace of line n (1-based) of data, or 0 when there is none.
func indentTab(data []byte, n int) int {
	if n < 1 {
		return 0
	}
	lines := bytes.SplitN(data, []byte("\n"), n+1)
	if len(lines) < n {
		return 0
	}
	for i, c := range lines[n-1] {
		switch c {
		case '\t':
			return i + 1
		case ' ':
		default:
			return 0
		}
	}
	return 0
}

// DecodeText returns a text file's bytes as UTF-8: a file that starts with
// a UTF-16 byte-order mark (what Windows PowerShell's > and Out-File
// write) is decoded, keeping its lines and columns; anything else is
// returned as it is, for the decoders' own checks (UTF-8, no NUL bytes).
// An odd length or a lone surrogate in a UTF-16 file is an error.
func DecodeText(data []byte) ([]byte, error) {
	var order binary.ByteOrder
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		order = binary.LittleEndian
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		order = binary.BigEndian
	default:
		return data, nil
	}
	body := data[2:]
	if len(body)%2 != 0 {
		return nil, errors.New("file starts with a UTF-16 byte-order mark but is not UTF-16 (odd length); save it as UTF-8")
	}
	units := make([]uint16, len(body)/2)
	for i := range units {
		units[i] = order.Uint16(body[2*i:])
	}
	var b strings.Builder
	for i := 0; i < len(units); i++ {
		r := rune(units[i])
		if utf16.IsSurrogate(r) {
			if i+1 >= len(units) {
				return nil, errors.New("file is UTF-16 with a broken surrogate pair; save it as UTF-8")
			}
			r = utf16.DecodeRune(r, rune(units[i+1]))
			if r == utf8.RuneError {
				return nil, errors.New("file is UTF-16 with a broken surrogate pair; save it as UTF-8")
			}
			i++
		}
		b.WriteRune(r)
	}
	return []byte(b.String()), nil
}

// offsetNode returns a position-only node for a byte offset, so encoding
// problems point where an editor would show them.
func (d *nodeDecoder) offsetNode(data []byte, off int) *yaml.Node {
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return &yaml.Node{Line: line, Column: col}
}

func invalidUTF8Offset(data []byte) int {
	for off := 0; off < len(data); {
		r, size := utf8.DecodeRune(data[off:])
		if r == utf8.RuneError && size == 1 {
			return off
		}
		off += size
	}
	return len(data)
}

// keyValue is one entry of a YAML mapping.
type keyValue struct {
	key, value *yaml.Node
}

// mapping checks that n is a mapping whose keys are strings from known (any
// string when known is nil), each given once, and returns its entries by
// key. what names the mapping in messages ("step", "retry"). It returns nil
// when n is not a mapping.
func (d *nodeDecoder) mapping(n *yaml.Node, what string, known []string) map[string]keyValue {
	if !d.isKind(n, yaml.MappingNode, what) {
		return nil
	}
	out := make(map[string]keyValue, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode {
			continue // reported by refuseAliases
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "type", "%s: keys must be strings, got %s", what, d.kindName(k))
			continue
		}
		if first, dup := out[k.Value]; dup {
			d.errorf(k, "duplicate-key", "key %q given twice in %s (first at line %d)", k.Value, what, first.key.Line)
			continue
		}
		if known != nil && !slices.Contains(known, k.Value) {
			d.unknownKey(k, what, known)
			// Keep it, so a later duplicate is still reported.
		}
		out[k.Value] = keyValue{k, v}
	}
	for name := range out {
		if known != nil && !slices.Contains(known, name) {
			delete(out, name)
		}
	}
	return out
}

// unknownKey reports a key the mapping does not take, listing those it does.
func (d *nodeDecoder) unknownKey(k *yaml.Node, what string, known []string) {
	d.errorf(k, "unknown-key", "unknown key %q in %s (known: %s)", k.Value, what, strings.Join(known, ", "))
}

// fillDefaults fills the absent parameters of spec in vals and reports
// missing required ones at n. Parameters given with a bad value (invalid,
// already reported) are not reported missing too.
func (d *nodeDecoder) fillDefaults(spec *steps.Spec, vals steps.Values, n *yaml.Node, invalid []string) {
	for _, name := range invalid {
		vals[name] = nil
	}
	for _, msg := range FillDefaults(spec, vals) {
		d.errorf(n, "missing-param", "%s", msg)
	}
	for _, name := range invalid {
		delete(vals, name)
	}
}

// isKind reports whether n has kind, with a type Lint when it has not.
// Alias nodes are already refused and get no second Lint.
func (d *nodeDecoder) isKind(n *yaml.Node, kind yaml.Kind, what string) bool {
	if n.Kind == kind {
		return true
	}
	if n.Kind != yaml.AliasNode {
		want := map[yaml.Kind]string{yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list", yaml.ScalarNode: "a single value"}[kind]
		d.errorf(n, "type", "%s: want %s, got %s", what, want, d.kindName(n))
	}
	return false
}

// kindName describes a node in the words ConvertParam uses for values.
func (d *nodeDecoder) kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "a string"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "nothing"
		}
		return "a value tagged " + n.ShortTag()
	}
	return "an unknown node"
}

// value converts a node to the generic Go value ConvertParam takes: string,
// int, float64, bool, nil, []any, map[string]any. Timestamps and other
// tagged scalars stay the strings they were written as, so a string
// parameter that looks like a date is still a string. ok is false (with a
// Lint, unless the node is an alias) when the node cannot be converted.
func (d *nodeDecoder) value(n *yaml.Node, what string) (v any, ok bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float", "!!bool":
			if err := n.Decode(&v); err != nil {
				d.errorf(n, "type", "%s: %s", what, strings.TrimPrefix(err.Error(), "yaml: "))
				return nil, false
			}
			return v, true
		case "!!null":
			return nil, true
		}
		return n.Value, true
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			e, ok := d.value(c, fmt.Sprintf("%s item %d", what, i+1))
			if !ok {
				return nil, false
			}
			list = append(list, e)
		}
		return list, true
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			e, ok := d.value(n.Content[i+1], what+"."+n.Content[i].Value)
			if !ok {
				return nil, false
			}
			m[n.Content[i].Value] = e
		}
		return m, true
	}
	return nil, false
}

// field converts a node with ConvertParam, the one code path that checks
// typed values, and reports its error as "what: problem".
func (d *nodeDecoder) field(n *yaml.Node, what, code string, p *steps.Param) (any, bool) {
	v, ok := d.value(n, what)
	if !ok {
		return nil, false
	}
	out, err := ConvertParam(p, v)
	if err != nil {
		d.errorf(n, code, "%s: %v", what, err)
		return nil, false
	}
	return out, true
}

// str decodes a string field.
func (d *nodeDecoder) str(n *yaml.Node, what string) (string, bool) {
	v, ok := d.field(n, what, "type", &steps.Param{Name: what, Type: steps.String})
	s, _ := v.(string)
	return s, ok
}

// strList decodes a list of strings.
func (d *nodeDecoder) strList(n *yaml.Node, what string) ([]string, bool) {
	v, ok := d.field(n, what, "type", &steps.Param{Name: what, Type: steps.StringList})
	s, _ := v.([]string)
	return s, ok
}

// ident decodes a string of identRE syntax.
func (d *nodeDecoder) ident(n *yaml.Node, what string) (string, bool) {
	s, ok := d.str(n, what)
	if ok && !identRE.MatchString(s) {
		d.errorf(n, "bad-name", "%s %q must be lower-case letters, digits and dashes", what, s)
		return s, false
	}
	return s, ok
}

// version decodes the version field, which must be 1.
func (d *nodeDecoder) version(root *yaml.Node, kv map[string]keyValue) int {
	f, ok := kv["version"]
	if !ok {
		if root != nil {
			d.errorf(root, "missing", "missing version (add version: 1)")
		}
		return 0
	}
	v, ok := d.field(f.value, "version", "type", &steps.Param{Name: "version", Type: steps.Int})
	if !ok {
		return 0
	}
	if n := v.(int); n != 1 {
		d.errorf(f.value, "version", "version %d is not supported (this revoke reads version 1)", n)
		return n
	}
	return 1
}
