package engine

import (
	"cmp"
	"fmt"
	"slices"
)

// Level is how bad a Lint is.
type Level string

// Lint levels.
const (
	Error   Level = "error"
	Warning Level = "warning"
)

// Lint is one problem found in a runbook, environment, policy or test file.
// Every validator reports Lints, so `revoke validate` prints them one way.
type Lint struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Level  Level  `json:"level"`
	// Code is a short stable identifier: unknown-key, cycle, rego_parse_error…
	Code    string `json:"code"`
	Message string `json:"message"`
}

// String renders FILE:LINE:COL: level: message.
func (l Lint) String() string {
	pos := l.File
	if l.Line > 0 {
		pos = fmt.Sprintf("%s:%d:%d", l.File, l.Line, max(l.Column, 1))
	}
	return fmt.Sprintf("%s: %s: %s", pos, l.Level, l.Message)
}

// Lints is a list of problems.
type Lints []Lint

// Errors counts the Lints of level Error.
func (ls Lints) Errors() int {
	n := 0
	for _, l := range ls {
		if l.Level == Error {
			n++
		}
	}
	return n
}

// Sort orders by file, line, column, then message.
func (ls Lints) Sort() {
	slices.SortStableFunc(ls, func(a, b Lint) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column), cmp.Compare(a.Message, b.Message))
	})
}
