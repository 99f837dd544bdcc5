package engine

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/revoke-dev/revoke/steps"
)

// Keys of a version 1 runbook, in the order the docs list them.
var (
	rbTopKeys   = []string{"version", "name", "title", "description", "scenario", "steps"}
	rbStepKeys  = []string{"id", "uses", "needs", "with", "on_error", "retry", "timeout", "tags"}
	rbRetryKeys = []string{"attempts", "max_wait"}
)

// Step fields are checked as parameters, so their messages read like
// those of `with` values.
var (
	rbOnErrorParam  = steps.Param{Name: "on_error", Type: steps.Enum, Enum: []string{string(Block), string(Continue), string(Abort)}}
	rbAttemptsParam = steps.Param{Name: "attempts", Type: steps.Int, Min: steps.Bounds(1), Max: steps.Bounds(MaxAttempts)}
	rbDurationParam = steps.Param{Name: "duration", Type: steps.Duration}
)

// DecodeRunbook decodes a version 1 runbook and checks it against the
// steps registered in reg (steps.Default when nil). It reports every
// problem it finds as a Lint at the offending node, sorted by position, and
// always returns the best Runbook it could build, with defaults filled:
// callers check Lints.Errors before using it.
func DecodeRunbook(file string, data []byte, reg *steps.Registry) (*Runbook, Lints) {
	if reg == nil {
		reg = steps.Default
	}
	rb := &Runbook{File: file, Digest: digest(data)}
	d := &runbookDecoder{nodeDecoder: nodeDecoder{file: file}, reg: reg}
	if root := d.parse(data); root != nil {
		d.decode(root, rb)
	}
	d.lints.Sort()
	return rb, d.lints
}

// CheckRunbookNames reports runbooks that share a name: `revoke run NAME`
// must mean one runbook. Each later one gets the Lint, naming the first.
func CheckRunbookNames(rbs []*Runbook) Lints {
	var lints Lints
	first := map[string]*Runbook{}
	for _, rb := range rbs {
		if rb == nil || rb.Name == "" {
			continue
		}
		if prev, dup := first[rb.Name]; dup {
			lints = append(lints, Lint{File: rb.File, Level: Error, Code: "duplicate-runbook",
				Message: fmt.Sprintf("runbook name %q is already used by %s", rb.Name, prev.File)})
			continue
		}
		first[rb.Name] = rb
	}
	return lints
}

// runbookDecoder decodes one runbook file.
type runbookDecoder struct {
	nodeDecoder
	reg *steps.Registry
}

// stepNodes keeps the nodes of a step's needs, for Lints about them after
// every step is known.
type stepNodes struct {
	def   *StepDef
	needs []*yaml.Node
}

func (d *runbookDecoder) decode(root *yaml.Node, rb *Runbook) {
	kv := d.mapping(root, "runbook", rbTopKeys)
	rb.Version = d.version(root, kv)
	if f, ok := kv["name"]; ok {
		rb.Name, _ = d.ident(f.value, "name")
	} else {
		d.errorf(root, "missing", "missing name")
	}
	if f, ok := kv["title"]; ok {
		rb.Title, _ = d.str(f.value, "title")
	}
	if f, ok := kv["description"]; ok {
		rb.Description, _ = d.str(f.value, "description")
	}
	rb.Scenario = rb.Name
	if f, ok := kv["scenario"]; ok {
		rb.Scenario, _ = d.ident(f.value, "scenario")
	}
	f, ok := kv["steps"]
	if !ok {
		d.errorf(root, "missing", "missing steps")
		return
	}
	if !d.isKind(f.value, yaml.SequenceNode, "steps") {
		return
	}
	if len(f.value.Content) == 0 {
		d.errorf(f.value, "missing", "steps is empty: a runbook needs at least one step")
	}
	var decoded []stepNodes
	byID := map[string]*StepDef{}
	for i, n := range f.value.Content {
		sn, ok := d.step(i+1, n)
		if !ok {
			continue
		}
		if prev, dup := byID[sn.def.ID]; dup {
			d.errorf(n, "duplicate-id", "duplicate step id %q (first at line %d)", sn.def.ID, prev.Line)
			continue
		}
		byID[sn.def.ID] = sn.def
		rb.Steps = append(rb.Steps, sn.def)
		decoded = append(decoded, sn)
	}
	d.checkNeeds(decoded, byID)
}

// step decodes one step. ok is false when it has no id: such a step cannot
// be referred to, so it stays out of the Runbook. An id of the wrong syntax
// (reported) is kept, so needs naming it are not reported too.
func (d *runbookDecoder) step(i int, n *yaml.Node) (sn stepNodes, ok bool) {
	if !d.isKind(n, yaml.MappingNode, fmt.Sprintf("step %d", i)) {
		return sn, false
	}
	kv := d.mapping(n, "step", rbStepKeys)
	s := &StepDef{
		OnError: Block,
		Retry:   Retry{Attempts: DefaultAttempts, MaxWait: DefaultMaxWait},
		Timeout: DefaultTimeout,
		With:    steps.Values{},
		Line:    n.Line,
		Column:  n.Column,
	}
	sn.def = s
	label := fmt.Sprintf("step %d", i)
	if f, found := kv["id"]; found {
		s.ID, _ = d.ident(f.value, "id")
		if ok = s.ID != ""; ok {
			label = fmt.Sprintf("step %q", s.ID)
		}
	} else {
		d.errorf(n, "missing", "step %d has no id", i)
	}
	if f, found := kv["uses"]; found {
		if uses, valid := d.str(f.value, "uses"); valid {
			s.Uses = uses
			s.Spec = d.lookup(f.value, uses)
		}
	} else {
		d.errorf(n, "missing", "%s has no uses", label)
	}
	if f, found := kv["with"]; found {
		d.with(s, f.value)
	} else if s.Spec != nil {
		d.fillDefaults(s.Spec, s.With, n, nil)
	}
	if f, found := kv["needs"]; found && d.isKind(f.value, yaml.SequenceNode, "needs") {
		for j, item := range f.value.Content {
			if need, valid := d.str(item, fmt.Sprintf("needs item %d", j+1)); valid {
				s.Needs = append(s.Needs, need)
				sn.needs = append(sn.needs, item)
			}
		}
	}
	if f, found := kv["on_error"]; found {
		if v, valid := d.field(f.value, "on_error", "on-error", &rbOnErrorParam); valid {
			s.OnError = OnError(v.(string))
		}
	}
	if f, found := kv["retry"]; found {
		rkv := d.mapping(f.value, "retry", rbRetryKeys)
		if a, found := rkv["attempts"]; found {
			if v, valid := d.field(a.value, "retry.attempts", "retry", &rbAttemptsParam); valid {
				s.Retry.Attempts = v.(int)
			}
		}
		if w, found := rkv["max_wait"]; found {
			if v, valid := d.positive(w.value, "retry.max_wait", "retry"); valid {
				s.Retry.MaxWait = v
			}
		}
	}
	if f, found := kv["timeout"]; found {
		if v, valid := d.positive(f.value, "timeout", "timeout"); valid {
			s.Timeout = v
		}
	}
	if f, found := kv["tags"]; found {
		s.Tags, _ = d.strList(f.value, "tags")
	}
	return sn, ok
}

// positive decodes a duration that must be more than zero.
func (d *runbookDecoder) positive(n *yaml.Node, what, code string) (time.Duration, bool) {
	v, ok := d.field(n, what, code, &rbDurationParam)
	if !ok {
		return 0, false
	}
	if v.(time.Duration) <= 0 {
		d.errorf(n, code, "%s: want a positive duration such as 30s or 2m, got %s", what, n.Value)
		return 0, false
	}
	return v.(time.Duration), true
}

// lookup finds the spec uses names, suggesting the closest registered name
// for a typo.
func (d *runbookDecoder) lookup(n *yaml.Node, uses string) *steps.Spec {
	if spec, ok := d.reg.Step(uses); ok {
		return spec
	}
	if near := closestName(uses, d.reg.StepNames()); near != "" {
		d.errorf(n, "unknown-step", "unknown step %q (did you mean %q?)", uses, near)
	} else {
		d.errorf(n, "unknown-step", "unknown step %q (`revoke steps` lists the registered ones)", uses)
	}
	return nil
}

// with checks a step's parameters one by one with ConvertParam, so each
// Lint points at its own value, then fills defaults.
func (d *runbookDecoder) with(s *StepDef, n *yaml.Node) {
	kv := d.mapping(n, "with", nil)
	if s.Spec == nil {
		return // an unknown step (reported) has no parameters to check
	}
	var invalid []string
	for _, name := range sortedKeys(kv) {
		f := kv[name]
		p := s.Spec.Param(name)
		if p == nil {
			d.errorf(f.key, "unknown-param", "%s", unknownParam(s.Spec, name))
			continue
		}
		v, ok := d.field(f.value, s.Spec.Name+"."+name, "param", p)
		if !ok {
			invalid = append(invalid, name)
			continue
		}
		s.With[name] = v
	}
	d.fillDefaults(s.Spec, s.With, n, invalid)
}

// checkNeeds reports needs naming no step or the step itself, and cycles.
func (d *runbookDecoder) checkNeeds(decoded []stepNodes, byID map[string]*StepDef) {
	edges := map[string][]string{}
	edgeNode := map[[2]string]*yaml.Node{}
	for _, sn := range decoded {
		id := sn.def.ID
		for j, need := range sn.def.Needs {
			n := sn.needs[j]
			key := [2]string{id, need}
			switch {
			case need == id:
				d.errorf(n, "needs", "step %q needs itself", id)
			case byID[need] == nil:
				d.errorf(n, "needs", "step %q needs %q, which is not a step of this runbook", id, need)
			case edgeNode[key] != nil:
				d.warnf(n, "needs", "step %q lists %q in needs twice", id, need)
			default:
				edges[id] = append(edges[id], need)
				edgeNode[key] = n
			}
		}
	}
	// Depth-first search in file order: an edge back to a step on the
	// current path closes a cycle, reported at that edge's needs item.
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(id string)
	visit = func(id string) {
		state[id] = onPath
		path = append(path, id)
		for _, need := range edges[id] {
			switch state[need] {
			case unvisited:
				visit(need)
			case onPath:
				start := len(path) - 1
				for path[start] != need {
					start--
				}
				cycle := append(append([]string{}, path[start:]...), need)
				d.errorf(edgeNode[[2]string{id, need}], "cycle", "needs form a cycle: %s", strings.Join(cycle, " → "))
			}
		}
		path = path[:len(path)-1]
		state[id] = done
	}
	for _, sn := range decoded {
		if state[sn.def.ID] == unvisited {
			visit(sn.def.ID)
		}
	}
}

// closestName returns the one candidate within a small edit distance of
// name, or "" when none or several are equally close. A name without a
// backend prefix is compared with the candidates' actions too, so
// disable_account suggests ad.disable_account but reset_password, which
// two backends have, suggests nothing.
func closestName(name string, candidates []string) string {
	name = strings.ToLower(name)
	best, bestDist, tie := "", -1, false
	for _, c := range candidates {
		dist := editDistance(name, c)
		if _, action, ok := strings.Cut(c, "."); ok && !strings.Contains(name, ".") {
			dist = min(dist, editDistance(name, action))
		}
		switch {
		case bestDist < 0 || dist < bestDist:
			best, bestDist, tie = c, dist, false
		case dist == bestDist:
			tie = true
		}
	}
	if best == "" || tie || bestDist > max(2, len([]rune(name))/4) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
