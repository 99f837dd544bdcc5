package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text output prints what directories, journals, references and errors
// say: device and display names, policy reasons, error messages. Any of
// them may hold bytes a terminal obeys rather than shows — an escape
// sequence that clears the screen, retitles the window or rewrites the
// line above ("succeeded"), a right-to-left override that makes
// "invoice\u202efdp.exe" read as "invoiceexe.pdf", an invisible character that
// makes two names look the same. So text output escapes them, and only
// them, where such data is printed: valid printable text (accents, CJK,
// emoji) is left as it is. JSON output is not escaped this way: it is
// JSON, which a machine reads back to the raw value.

// termSafe returns s with every character a terminal could act on
// written as an escape: C0 controls (newline and tab included: a value is
// one line, one column), DEL and invalid UTF-8 bytes as \xNN; C1 controls,
// Unicode format characters (category Cf: bidi overrides and isolates,
// zero-width characters, the BOM) and the line and paragraph separators
// as \uNNNN. Backslashes are not doubled: DOMAIN\user stays readable,
// and the exact value is in the JSON output and the journal.
func termSafe(s string) string { return escapeTerm(s, false) }

// termSafeLines is termSafe keeping newlines, for text that is several
// lines by design (an error listing a file's problems, one per line).
func termSafeLines(s string) string { return escapeTerm(s, true) }

func escapeTerm(s string, keepNewlines bool) string {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, size, keepNewlines) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s // the common case: nothing to escape, nothing allocated
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case !unsafeRune(r, size, keepNewlines):
			b.WriteString(s[i : i+size])
		case r < utf8.RuneSelf || r == utf8.RuneError:
			// ASCII controls, DEL, and each byte of invalid UTF-8.
			fmt.Fprintf(&b, `\x%02x`, s[i])
			size = 1
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

// unsafeRune reports whether a terminal could act on r rather than show
// it; size 1 with utf8.RuneError is an invalid byte.
func unsafeRune(r rune, size int, keepNewlines bool) bool {
	switch {
	case r == utf8.RuneError && size == 1:
		return true
	case r == '\n':
		return !keepNewlines
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r == '\u2028', r == '\u2029':
		return true
	}
	return r > 0x7f && unicode.Is(unicode.Cf, r)
}
