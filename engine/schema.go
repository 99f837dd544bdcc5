package engine

import (
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// SchemaID is the $id of the runbook JSON Schema.
const SchemaID = "https://revoke.dev/schema/runbook-v1.json"

// RunbookSchema returns the JSON Schema (draft 2020-12) of runbook files
// for the steps in reg. Each step's `with` is checked by the schema of the
// step its `uses` names, so an editor completes and checks parameters.
func RunbookSchema(reg *steps.Registry) map[string]any {
	idPattern := "^[a-z0-9-]+$"
	var branches []any
	var names []any
	for _, spec := range reg.Steps() {
		names = append(names, spec.Name)
		branches = append(branches, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"uses": map[string]any{"const": spec.Name}}, "required": []any{"uses"}},
			"then": map[string]any{"properties": map[string]any{"with": withSchema(spec)}},
		})
	}
	duration := map[string]any{"type": "string", "pattern": durationPattern,
		"description": "A Go duration: 30s, 2m, 1h30m."}
	step := map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"id", "uses"},
		"properties": map[string]any{
			"id":    map[string]any{"type": "string", "pattern": idPattern, "description": "Unique in the runbook; other steps name it in needs."},
			"uses":  map[string]any{"enum": names, "description": "The registered step to run (revoke steps lists them)."},
			"needs": map[string]any{"type": "array", "items": map[string]any{"type": "string", "pattern": idPattern}, "uniqueItems": true, "description": "Steps that must succeed (or be skipped by policy) first."},
			"with":  map[string]any{"type": "object", "description": "Parameters, checked against the step's spec."},
			"on_error": map[string]any{"enum": []any{string(Block), string(Continue), string(Abort)}, "default": string(Block),
				"description": "What a failure does: block dependents, continue, or abort new starts."},
			"retry": map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
				"attempts": map[string]any{"type": "integer", "minimum": 1, "maximum": MaxAttempts, "default": DefaultAttempts},
				"max_wait": duration,
			}},
			"timeout": duration,
			"tags":    map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		},
		"allOf": branches,
	}
	return map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  SchemaID,
		"title":                "revoke runbook",
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"version", "name", "steps"},
		"properties": map[string]any{
			"version":     map[string]any{"const": 1},
			"name":        map[string]any{"type": "string", "pattern": idPattern},
			"title":       map[string]any{"type": "string"},
			"description": map[string]any{"type": "string"},
			"scenario":    map[string]any{"type": "string", "description": "What policies key off; defaults to name."},
			"steps":       map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"$ref": "#/$defs/step"}},
		},
		"$defs": map[string]any{"step": step},
	}
}

// durationPattern matches what time.ParseDuration accepts for positive values.
const durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`

// MaxAttempts bounds retry.attempts.
const MaxAttempts = 20

func withSchema(spec *steps.Spec) map[string]any {
	props := map[string]any{}
	var required []any
	for i := range spec.Params {
		p := &spec.Params[i]
		props[p.Name] = ParamSchema(p)
		if p.Required {
			required = append(required, p.Name)
		}
	}
	s := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// ParamSchema is the JSON Schema of one parameter.
func ParamSchema(p *steps.Param) map[string]any {
	s := map[string]any{"description": p.Description}
	switch p.Type {
	case steps.String:
		s["type"] = "string"
		if p.Format == "url" {
			s["format"] = "uri"
		}
	case steps.Enum:
		enum := make([]any, len(p.Enum))
		for i, e := range p.Enum {
			enum[i] = e
		}
		s["enum"] = enum
	case steps.Int:
		s["type"] = "integer"
		if p.Min != nil {
			s["minimum"] = *p.Min
		}
		if p.Max != nil {
			s["maximum"] = *p.Max
		}
	case steps.Bool:
		s["type"] = "boolean"
	case steps.Duration:
		s["type"] = "string"
		s["pattern"] = durationPattern
	case steps.StringList:
		s["type"] = "array"
		s["items"] = map[string]any{"type": "string"}
	}
	if p.Default != nil {
		switch d := p.Default.(type) {
		case time.Duration:
			s["default"] = d.String()
		case []string:
			l := make([]any, len(d))
			for i, v := range d {
				l[i] = v
			}
			s["default"] = l
		default:
			s["default"] = d
		}
	}
	return s
}
