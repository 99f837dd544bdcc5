package sandbox

import (
	"fmt"
	"unicode/utf16"

	"github.com/jimlambrt/gldap"
)

// An account's description and info (the Notes of the Telephones tab in
// Active Directory Users and Computers): free text that ad.annotate writes.
// The sandbox keeps them beside the Directory (ldapServer.notes), since no
// other face reads them. Both are at most 1024 characters (the schema's
// rangeUpper); info is single-valued, and description, multi-valued in the
// schema, holds one value on an account (SAM enforces it), so both take
// one value here.

// maxNoteLength is rangeUpper of description and info, in UTF-16 units.
const maxNoteLength = 1024

// noteAttrs are the note attributes and their attribute ids (the hex AD
// prints as "Att …" in a diagnostic): description is 2.5.4.13, info is
// 1.2.840.113556.1.2.81.
var noteAttrs = map[string]struct {
	name, id string
}{
	"description": {"description", "d"},
	"info":        {"info", "20051"},
}

// accountNotes are one account's notes; empty means absent.
type accountNotes struct {
	description, info string
}

func (n *accountNotes) get(name string) string {
	if name == "info" {
		return n.info
	}
	return n.description
}

func (n *accountNotes) set(name, v string) {
	if name == "info" {
		n.info = v
	} else {
		n.description = v
	}
}

// note is an account's description or info ("" when absent). Callers hold
// the Directory lock.
func (s *ldapServer) note(a *ADAccount, name string) string {
	if n := s.notes[a]; n != nil {
		return n.get(name)
	}
	return ""
}

// diagAtt is AD's attribute error: code (the Win32 error, hex) and its
// problem for the attribute.
func diagAtt(code, problem, attr string) string {
	a := noteAttrs[attr]
	return fmt.Sprintf("%s: AtrErr: DSID-03151818, #1:\n\t0: %s: DSID-03151818, problem %s, data 0, Att %s (%s)\n",
		code, code, problem, a.id, a.name)
}

// The refusals of a note change, as AD words them.
func diagNoteTooLong(attr string) string {
	return diagAtt("00002082", "1005 (CONSTRAINT_ATT_TYPE)", attr) // ERROR_DS_RANGE_CONSTRAINT
}
func diagNoteSingleValue(attr string) string {
	return diagAtt("00002081", "1005 (CONSTRAINT_ATT_TYPE)", attr) // ERROR_DS_SINGLE_VALUE_CONSTRAINT
}
func diagNoteExists(attr string) string {
	return diagAtt("00002083", "1006 (ATT_OR_VALUE_EXISTS)", attr)
}
func diagNoNote(attr string) string {
	return diagAtt("00002080", "1001 (NO_ATTRIBUTE_OR_VAL)", attr)
}

// planNote stages a change of description or info (name, lower-cased) on
// acct: Replace with one value sets it and with none removes it; Add sets
// it when absent; Delete removes it (all of it, or the value it has).
// A value over 1024 characters, or a second value, is constraintViolation.
func (s *ldapServer) planNote(plan *modifyPlan, acct *ADAccount, name string, c gldap.Change) (int, string) {
	if plan.notes == nil {
		plan.notes = map[string]string{}
	}
	cur, staged := plan.notes[name]
	if !staged {
		cur = s.note(acct, name)
	}
	vals := c.Modification.Vals
	for _, v := range vals {
		if v == "" {
			return gldap.ResultInvalidAttributeSyntax, diagAttrConversion
		}
		if len(utf16.Encode([]rune(v))) > maxNoteLength {
			return gldap.ResultConstraintViolation, diagNoteTooLong(name)
		}
	}
	switch c.Operation {
	case gldap.ReplaceAttribute:
		switch len(vals) {
		case 0:
			cur = ""
		case 1:
			cur = vals[0]
		default:
			return gldap.ResultConstraintViolation, diagNoteSingleValue(name)
		}
	case gldap.AddAttribute:
		switch {
		case len(vals) == 0:
			return gldap.ResultUnwillingToPerform, diagWillNotPerform
		case cur != "" && len(vals) == 1 && vals[0] == cur:
			return gldap.ResultAttributeOrValueExists, diagNoteExists(name)
		case cur != "" || len(vals) > 1:
			return gldap.ResultConstraintViolation, diagNoteSingleValue(name)
		}
		cur = vals[0]
	case gldap.DeleteAttribute:
		if cur == "" || len(vals) > 1 || (len(vals) == 1 && vals[0] != cur) {
			return gldap.ResultNoSuchAttribute, diagNoNote(name)
		}
		cur = ""
	default:
		return gldap.ResultUnwillingToPerform, diagWillNotPerform
	}
	plan.notes[name] = cur
	plan.touched = true
	return gldap.ResultSuccess, ""
}

// applyNotes stores the staged notes. Callers hold the Directory lock.
func (s *ldapServer) applyNotes(acct *ADAccount, staged map[string]string) {
	if len(staged) == 0 {
		return
	}
	n := s.notes[acct]
	if n == nil {
		n = &accountNotes{}
		s.notes[acct] = n
	}
	for name, v := range staged {
		n.set(name, v)
	}
}
