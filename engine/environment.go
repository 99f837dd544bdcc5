package engine

import (
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/revoke-dev/revoke/steps"
)

// Environment is a decoded environment file (format version 1): which
// tenant and directory a run acts on, and how to reach them.
type Environment struct {
	Version int
	Name    string
	// Kind is hybrid (Entra ID and on-premises AD) or cloud (Entra ID only).
	Kind string
	// Protected lists subject references never touched without
	// --allow-protected.
	Protected []string
	// StateDir is state_dir as written; "" means the default. A relative
	// path is relative to Dir.
	StateDir string
	// Sections holds each backend's validated section, keyed by backend
	// name, defaults filled. A Secret field NAME appears only as NAME_env or
	// NAME_file. Backends that take no part in Kind are absent.
	Sections map[string]steps.Values
	// File is where the environment was read from; Dir is its folder, which
	// relative *_file paths are resolved against.
	File, Dir string
}

// Environment kinds, the values of kind.
var envKindParam = steps.Param{Name: "kind", Type: steps.Enum, Enum: []string{"hybrid", "cloud"}}

// envTopKeys are the keys every environment file may hold besides one
// section per registered backend.
var envTopKeys = []string{"version", "name", "kind", "protected", "state_dir"}

// envVarRE is the syntax of an environment variable name. Checking it keeps
// a secret pasted into NAME_env by mistake from being taken as a name (the
// Lint does not repeat the value).
var envVarRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// fieldInsecure is the field every TLS backend uses to skip verification.
const fieldInsecure = "insecure_skip_verify"

// DecodeEnvironment decodes a version 1 environment file and checks each
// backend section against the backends registered in reg (steps.Default
// when nil). Like DecodeRunbook it reports every problem at its node and
// returns the best Environment it could build.
func DecodeEnvironment(file string, data []byte, reg *steps.Registry) (*Environment, Lints) {
	if reg == nil {
		reg = steps.Default
	}
	env := &Environment{File: file, Dir: filepath.Dir(file), Sections: map[string]steps.Values{}}
	d := &nodeDecoder{file: file}
	if root := d.parse(data); root != nil {
		d.decodeEnvironment(root, env, reg.Backends())
	}
	d.lints.Sort()
	return env, d.lints
}

func (d *nodeDecoder) decodeEnvironment(root *yaml.Node, env *Environment, backends []*steps.BackendSpec) {
	known := slices.Clone(envTopKeys)
	for _, b := range backends {
		known = append(known, b.Name)
	}
	kv := d.mapping(root, "environment", known)
	env.Version = d.version(root, kv)
	if f, ok := kv["name"]; ok {
		env.Name, _ = d.ident(f.value, "name")
	} else {
		d.errorf(root, "missing", "missing name")
	}
	kindOK := false
	if f, ok := kv["kind"]; ok {
		var v any
		if v, kindOK = d.field(f.value, "kind", "kind", &envKindParam); kindOK {
			env.Kind = v.(string)
		}
	} else {
		d.errorf(root, "missing", "missing kind (hybrid or cloud)")
	}
	if f, ok := kv["protected"]; ok {
		env.Protected, _ = d.strList(f.value, "protected")
		for i, entry := range env.Protected {
			// An entry no directory could hold protects nobody: say so
			// rather than let a typo leave a break-glass account open.
			if _, err := steps.ParseRef(entry); err != nil && i < len(f.value.Content) {
				d.warnf(f.value.Content[i], "protected", "protected entry %q can never match anyone: %v", entry, err)
			}
		}
	}
	if f, ok := kv["state_dir"]; ok {
		env.StateDir, _ = d.str(f.value, "state_dir")
	}
	for _, b := range backends {
		f, present := kv[b.Name]
		takesPart := slices.Contains(b.Kinds, env.Kind)
		switch {
		case present && kindOK && !takesPart:
			d.warnf(f.key, "ignored-section", "%s section is ignored in a %s environment", b.Name, env.Kind)
		case present:
			env.Sections[b.Name] = d.section(b, f)
		case kindOK && takesPart && !b.Optional:
			d.errorf(root, "missing", "missing %s section (a %s environment needs one)", b.Name, env.Kind)
		}
	}
}

// section decodes one backend's section: each field with ConvertParam,
// Secret fields by reference only, then the backend's own Validate.
func (d *nodeDecoder) section(b *steps.BackendSpec, f keyValue) steps.Values {
	what := b.Name + " section"
	var known []string // what the section takes, for messages
	plain := &steps.Spec{Name: what}
	for _, p := range b.Fields {
		if p.Secret {
			known = append(known, p.Name+"_env", p.Name+"_file")
		} else {
			known = append(known, p.Name)
			plain.Params = append(plain.Params, p)
		}
	}
	kv := d.mapping(f.value, what, nil)
	vals := steps.Values{}
	if kv == nil {
		return vals
	}
	for _, name := range sortedKeys(kv) {
		if !slices.Contains(known, name) && !isSecretField(b, name) {
			d.unknownKey(kv[name].key, what, known)
		}
	}
	var invalid []string
	for _, p := range b.Fields {
		if p.Secret {
			d.secretRef(b, &p, f.key, kv, vals)
			continue
		}
		fv, ok := kv[p.Name]
		if !ok {
			continue
		}
		label := b.Name + "." + p.Name
		v, ok := d.field(fv.value, label, "invalid-value", &p)
		if ok && p.Format == "url" {
			ok = d.checkURL(fv.value, label, v.(string))
		}
		if !ok {
			invalid = append(invalid, p.Name)
			continue
		}
		vals[p.Name] = v
	}
	d.fillDefaults(plain, vals, f.key, invalid)
	if b.Validate != nil {
		for _, msg := range b.Validate(vals) {
			d.errorf(f.key, "invalid-section", "%s: %s", b.Name, msg)
		}
	}
	if vals.Bool(fieldInsecure) {
		d.warnf(kv[fieldInsecure].value, "insecure", "%s: %s is on: server certificates are not verified", b.Name, fieldInsecure)
	}
	return vals
}

func isSecretField(b *steps.BackendSpec, name string) bool {
	for _, p := range b.Fields {
		if p.Secret && p.Name == name {
			return true
		}
	}
	return false
}

// secretRef reads the reference to a Secret field: NAME_env or NAME_file,
// never NAME itself.
func (d *nodeDecoder) secretRef(b *steps.BackendSpec, p *steps.Param, section *yaml.Node, kv map[string]keyValue, vals steps.Values) {
	envKey, fileKey := p.Name+"_env", p.Name+"_file"
	if lit, ok := kv[p.Name]; ok {
		d.errorf(lit.key, "literal-secret", "%s holds a literal secret; give %s (an environment variable) or %s (a file)",
			p.Name, envKey, fileKey)
	}
	envRef, hasEnv := kv[envKey]
	fileRef, hasFile := kv[fileKey]
	switch {
	case hasEnv && hasFile:
		d.errorf(fileRef.key, "secret-ref", "%s: give %s or %s, not both", b.Name, envKey, fileKey)
	case !hasEnv && !hasFile:
		if _, lit := kv[p.Name]; p.Required && !lit {
			d.errorf(section, "missing-param", "%s section needs %s or %s", b.Name, envKey, fileKey)
		}
		return
	}
	if hasEnv {
		if v, ok := d.str(envRef.value, b.Name+"."+envKey); ok {
			if envVarRE.MatchString(v) {
				vals[envKey] = v
			} else {
				d.errorf(envRef.value, "secret-ref", "%s.%s must name an environment variable (letters, digits and _), not hold the secret", b.Name, envKey)
			}
		}
	}
	if hasFile {
		if v, ok := d.str(fileRef.value, b.Name+"."+fileKey); ok {
			if v != "" {
				vals[fileKey] = v
			} else {
				d.errorf(fileRef.value, "secret-ref", "%s.%s is empty", b.Name, fileKey)
			}
		}
	}
}

// checkURL requires an absolute URL with a scheme and a host, and no
// password: a URL is printed in plans and logs.
func (d *nodeDecoder) checkURL(n *yaml.Node, label, s string) bool {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme == "" || u.Host == "":
		d.errorf(n, "invalid-value", "%s: %q is not an absolute URL such as https://host/path", label, s)
		return false
	case u.User != nil:
		d.errorf(n, "literal-secret", "%s: a URL must not carry user information; give credentials by reference", label)
		return false
	}
	return true
}

// BackendEnv returns what the backend called name is opened with, or nil
// when the environment has no section for it. Secret reads a field's
// NAME_env variable or NAME_file file (relative to Dir, one trailing newline
// trimmed); its errors are of class steps.Invalid and never hold the
// secret. A nil logger discards.
func (e *Environment) BackendEnv(name string, logger *slog.Logger) *steps.Env {
	section, ok := e.Sections[name]
	if !ok {
		return nil
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("backend", name)
	return &steps.Env{
		Name:    e.Name,
		Kind:    e.Kind,
		Section: section,
		Secret: func(field string) (string, error) {
			return e.secret(name, section, field, logger)
		},
		Path:   e.path,
		Logger: logger,
	}
}

func (e *Environment) secret(backend string, section steps.Values, field string, logger *slog.Logger) (string, error) {
	if v := section.String(field + "_env"); v != "" {
		s, ok := os.LookupEnv(v)
		switch {
		case !ok:
			return "", steps.Errorf(steps.Invalid, "%s.%s_env: environment variable %s is not set", backend, field, v)
		case s == "":
			return "", steps.Errorf(steps.Invalid, "%s.%s_env: environment variable %s is empty", backend, field, v)
		}
		return s, nil
	}
	if p := section.String(field + "_file"); p != "" {
		path := e.path(p)
		// A pipe or /dev/zero named as a secret file is refused unopened.
		data, err := steps.ReadFile(path, steps.MaxFileSize)
		if err != nil {
			// It names the file and the reason, never the content.
			return "", steps.Errorf(steps.Invalid, "%s.%s_file: %w", backend, field, err)
		}
		if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o004 != 0 {
			logger.Warn("secret file is readable by every user", "field", field+"_file", "path", path)
		}
		s := string(data)
		if t, ok := strings.CutSuffix(s, "\r\n"); ok {
			s = t
		} else {
			s = strings.TrimSuffix(s, "\n")
		}
		if s == "" {
			return "", steps.Errorf(steps.Invalid, "%s.%s_file: %s is empty", backend, field, path)
		}
		return s, nil
	}
	return "", steps.Errorf(steps.Invalid, "%s: neither %s_env nor %s_file is set in %s", backend, field, field, e.File)
}

// path resolves p against the environment file's folder.
func (e *Environment) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.Dir, p)
}

// Insecure lists the sections, sorted, that skip TLS verification, for the
// warning shown on every run.
func (e *Environment) Insecure() []string {
	var out []string
	for _, name := range sortedKeys(e.Sections) {
		if e.Sections[name].Bool(fieldInsecure) {
			out = append(out, name)
		}
	}
	return out
}
