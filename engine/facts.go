package engine

import (
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
	}
	if f, ok := kv["subject"]; ok {
		*subject = decodeTestSubject(d, what, f.value)
	}
	if f, ok := kv["request"]; ok {
		r := d.mapping(f.value, what+": request", rbtRequestKeys)
		for key, dst := range map[string]*string{"requestedBy": &req.RequestedBy,
			"reason": &req.Reason, "ticket": &req.Ticket, "approvedBy": &req.ApprovedBy} {
			if v, ok := r[key]; ok {
				*dst, _ = d.str(v.value, what+": request."+key)
			}
		}
		if v, ok := r["allowProtected"]; ok {
			b, _ := d.field(v.value, what+": request.allowProtected", "type", &steps.Param{Name: "allowProtected", Type: steps.Bool})
			req.AllowProtected, _ = b.(bool)
		}
	}
}
