package engine

import (
	"gopkg.in/yaml.v3"

	"github.com/revoke-dev/revoke/steps"
)

// Facts is an offline stand-in for what the backends would resolve: the
// environment, subject and request parts of the policy input, for `revoke
// plan --facts FILE`.
type Facts struct {
	Environment EnvironmentFacts
	Subject     steps.Subject
	Request     Request
}

var factsKeys = []string{"environment", "subject", "request"}

// DecodeFacts decodes a facts file (YAML, or JSON, which is YAML): the
// policy input's environment, subject and request exactly as the policy
// contract shows them.
func DecodeFacts(file string, data []byte) (*Facts, Lints) {
	d := &nodeDecoder{file: file}
	f := &Facts{Environment: EnvironmentFacts{Name: "facts", Kind: "hybrid"}}
	root := d.parse(data)
	if root != nil {
		if kv := d.mapping(root, "facts file", factsKeys); kv != nil {
			if _, ok := kv["subject"]; !ok {
				d.errorf(root, "missing", "facts file: missing subject")
			}
			d.situation("facts", kv, &f.Environment, &f.Subject, &f.Request)
		}
	}
	d.lints.Sort()
	return f, d.lints
}

// situation decodes the environment, subject and request entries of kv,
// shared by facts files and runbook test cases.
func (d *nodeDecoder) situation(what string, kv map[string]keyValue, env *EnvironmentFacts, subject *steps.Subject, req *Request) {
	if f, ok := kv["environment"]; ok {
		e := d.mapping(f.value, what+": environment", rbtEnvKeys)
		if v, ok := e["name"]; ok {
			env.Name, _ = d.str(v.value, what+": environment.name")
		}
		if v, ok := e["kind"]; ok {
			k, _ := d.field(v.value, what+": environment.kind", "type", &envKindParam)
			env.Kind, _ = k.(string)
		}
		if v, ok := e["protected"]; ok {
			env.Protected, _ = d.strList(v.value, what+": environment.protected")
		}
		if v, ok := e["backends"]; ok {
			env.Backends = decodeTestBackends(d, what, v.value)
		}
	}
	if f, ok := kv["subject"]; ok {
		*subject = decodeTestSubject(d, what, f.value)
	}
	if f, ok := kv["request"]; ok {
		r := d.mapping(f.value, what+": request", rbtRequestKeys)
		for key, dst := range map[string]*string{"requested_by": &req.RequestedBy,
			"reason": &req.Reason, "ticket": &req.Ticket, "approved_by": &req.ApprovedBy} {
			if v, ok := r[key]; ok {
				*dst, _ = d.str(v.value, what+": request."+key)
			}
		}
		if v, ok := r["allow_protected"]; ok {
			b, _ := d.field(v.value, what+": request.allow_protected", "type", &steps.Param{Name: "allow_protected", Type: steps.Bool})
			req.AllowProtected, _ = b.(bool)
		}
	}
}

// decodeTestBackends decodes environment.backends of a facts file or a
// runbook test: backend → its section's settings, as policies see them.
func decodeTestBackends(d *nodeDecoder, what string, n *yaml.Node) map[string]map[string]any {
	kv := d.mapping(n, what+": environment.backends", nil)
	out := map[string]map[string]any{}
	for _, name := range sortedKeys(kv) {
		f := kv[name]
		if !d.isKind(f.value, yaml.MappingNode, what+": environment.backends."+name) {
			continue
		}
		if v, ok := d.value(f.value, what+": environment.backends."+name); ok {
			out[name], _ = v.(map[string]any)
		}
	}
	return out
}
