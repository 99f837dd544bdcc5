package main

import "testing"

func TestTermSafe(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain ASCII is untouched", "ADELE-DESKTOP", "ADELE-DESKTOP"},
		{"accents, CJK and emoji are untouched", "Zoë 山田 🔒", "Zoë 山田 🔒"},
		{"a backslash is not doubled", `CONTOSO\adele`, `CONTOSO\adele`},
		{"an escape sequence that clears the screen and retitles the window", "\x1b[2J\x1b]0;pwned\a", `\x1b[2J\x1b]0;pwned\x07`},
		{"newline, carriage return and tab", "a\nb\rc\td", `a\x0ab\x0dc\x09d`},
		{"NUL and DEL", "a\x00b\x7f", `a\x00b\x7f`},
		{"a C1 control (8-bit CSI)", "a\u009b2Jb", `a\u009b2Jb`},
		{"a right-to-left override", "invoice\u202efdp.exe", `invoice\u202efdp.exe`},
		{"bidi isolates and marks", "\u2066x\u2069\u200f", `\u2066x\u2069\u200f`},
		{"zero-width characters and the BOM", "ad\u200bele\ufeff", `ad\u200bele\ufeff`},
		{"the line and paragraph separators", "a\u2028b\u2029", `a\u2028b\u2029`},
		{"invalid UTF-8 bytes, one by one", "a\xff\xc3b", `a\xff\xc3b`},
		{"a valid replacement character is text", "a\ufffdb", "a\ufffdb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := termSafe(tt.in); got != tt.want {
				t.Errorf("termSafe(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTermSafeLinesKeepsNewlinesOnly(t *testing.T) {
	in := "facts file has errors:\nx.yaml:1:1: error: \x1b[31mred\n"
	want := "facts file has errors:\nx.yaml:1:1: error: \\x1b[31mred\n"
	if got := termSafeLines(in); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
