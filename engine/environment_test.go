package engine

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// entraOK is a valid entra section; cases add their own ad section.
const entraOK = "entra:\n  tenant_id: t\n  credential: managed_identity\n"

// adOK is a valid ad section.
const adOK = "ad:\n  url: ldaps://dc01:636\n  base_dn: DC=x\n  bind_dn: CN=svc\n  bind_password_env: AD_PW\n"

func TestDecodeEnvironmentReportsEveryProblem(t *testing.T) {
	reg := testRegistry(t)
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"a minimal cloud environment is valid", "version: 1\nname: c\nkind: cloud\n" + entraOK, nil},
		{"a minimal hybrid environment is valid", "version: 1\nname: h\nkind: hybrid\n" + entraOK + adOK, nil},
		{"missing version, name and kind", "protected: []\n", []string{
			"env.yaml:1:1: error: missing kind (hybrid or cloud)",
			"env.yaml:1:1: error: missing name",
			"env.yaml:1:1: error: missing version (add version: 1)",
		}},
		{"a bad kind, name and protected list", "version: 1\nname: Prod\nkind: onprem\nprotected: admin\n" + entraOK, []string{
			`env.yaml:2:7: error: name "Prod" must be lower-case letters, digits and dashes`,
			`env.yaml:3:7: error: kind: "onprem" is not one of hybrid, cloud`,
			"env.yaml:4:12: error: protected: want a list of strings, got a string",
		}},
		{"a protected entry that cannot be a reference is warned about", "version: 1\nname: c\nkind: cloud\nprotected: [breakglass@contoso.test, 'CONTOSO\\a\\b', \"x\\ty\"]\n" + entraOK, []string{
			`env.yaml:4:38: warning: protected entry "CONTOSO\\a\\b" can never match anyone: subject reference "CONTOSO\\a\\b": a logon name (sAMAccountName) cannot contain "\\"`,
			`env.yaml:4:53: warning: protected entry "x\ty" can never match anyone: subject reference "x\ty" has a control character at byte 1`,
		}},
		{"unknown keys at the top and in a section", "version: 1\nname: c\nkind: cloud\nokta: {}\n" + entraOK + "  tenant: x\n", []string{
			`env.yaml:4:1: error: unknown key "okta" in environment (known: version, name, kind, protected, state_dir, ad, entra, servicenow)`,
			`env.yaml:8:3: error: unknown key "tenant" in entra section (known: tenant_id, client_id, credential, certificate_file, client_secret_env, client_secret_file, graph_url, authority_host, ca_file, insecure_skip_verify, timeout)`,
		}},
		{"a hybrid environment needs an ad section, every one an entra section", "version: 1\nname: h\nkind: hybrid\n", []string{
			"env.yaml:1:1: error: missing ad section (a hybrid environment needs one)",
			"env.yaml:1:1: error: missing entra section (a hybrid environment needs one)",
		}},
		{"an ad section in a cloud environment is ignored with a warning", "version: 1\nname: c\nkind: cloud\n" + entraOK + "ad:\n  url: nope\n",
			[]string{"env.yaml:7:1: warning: ad section is ignored in a cloud environment"}},
		{"a literal secret is refused without repeating it", "version: 1\nname: h\nkind: hybrid\n" + entraOK +
			"ad:\n  url: ldaps://dc01\n  base_dn: DC=x\n  bind_dn: CN=svc\n  bind_password: hunter2\n",
			[]string{"env.yaml:11:3: error: bind_password holds a literal secret; give bind_password_env (an environment variable) or bind_password_file (a file)"}},
		{"a secret by variable and by file at once", "version: 1\nname: h\nkind: hybrid\n" + entraOK + adOK + "  bind_password_file: pw\n",
			[]string{"env.yaml:12:3: error: ad: give bind_password_env or bind_password_file, not both"}},
		{"a required secret given neither way", "version: 1\nname: h\nkind: hybrid\n" + entraOK +
			"ad:\n  url: ldaps://dc01\n  base_dn: DC=x\n  bind_dn: CN=svc\n",
			[]string{"env.yaml:7:1: error: ad section needs bind_password_env or bind_password_file"}},
		{"a secret pasted where a variable name goes is refused without repeating it", "version: 1\nname: h\nkind: hybrid\n" + entraOK +
			"ad:\n  url: ldaps://dc01\n  base_dn: DC=x\n  bind_dn: CN=svc\n  bind_password_env: 'hunter2 #!'\n",
			[]string{"env.yaml:11:22: error: ad.bind_password_env must name an environment variable (letters, digits and _), not hold the secret"}},
		{"missing required fields are reported at the section", "version: 1\nname: h\nkind: hybrid\n" + entraOK + "ad:\n  bind_password_file: pw\n", []string{
			`env.yaml:7:1: error: ad section needs parameter "base_dn"`,
			`env.yaml:7:1: error: ad section needs parameter "bind_dn"`,
			`env.yaml:7:1: error: ad section needs parameter "url"`,
		}},
		{"wrong types and bad URLs, each at its value", "version: 1\nname: h\nkind: hybrid\n" +
			"entra:\n  tenant_id: 7\n  credential: managed_identity\n  graph_url: graph.microsoft.com\n  authority_host: https://u:p@login\n  timeout: 30\n" +
			"ad:\n  url: ldaps://dc01\n  base_dn: DC=x\n  bind_dn: CN=svc\n  bind_password_env: AD_PW\n  start_tls: 'yes'\n", []string{
			"env.yaml:5:14: error: entra.tenant_id: want a string, got a number",
			`env.yaml:7:14: error: entra.graph_url: "graph.microsoft.com" is not an absolute URL such as https://host/path`,
			"env.yaml:8:19: error: entra.authority_host: a URL must not carry user information; give credentials by reference",
			"env.yaml:9:12: error: entra.timeout: want a duration such as 30s or 2m, got a number",
			"env.yaml:15:14: error: ad.start_tls: want true or false, got a string",
		}},
		{"the backend's own checks are reported at the section", "version: 1\nname: h\nkind: hybrid\n" +
			"entra:\n  tenant_id: t\n  credential: client_secret\n" +
			"ad:\n  url: ldap://dc01:389\n  base_dn: DC=x\n  bind_dn: CN=svc\n  bind_password_env: AD_PW\n", []string{
			"env.yaml:4:1: error: entra: credential client_secret needs client_id",
			"env.yaml:4:1: error: entra: credential client_secret needs client_secret_env or client_secret_file",
			"env.yaml:7:1: error: ad: url ldap://dc01:389 is not ldaps:// and start_tls is off: the bind password and password resets would cross the network in clear",
		}},
		{"a leavers OU outside the base DN is refused", "version: 1\nname: h\nkind: hybrid\n" + entraOK +
			"ad:\n  url: ldaps://dc01\n  base_dn: DC=x\n  bind_dn: CN=svc\n  bind_password_env: AD_PW\n  leavers_ou: OU=Leavers,DC=y\n", []string{
			`env.yaml:7:1: error: ad: leavers_ou: ou "OU=Leavers,DC=y" is not under the base DN DC=x`,
		}},
		{"skipping TLS verification is warned about", "version: 1\nname: c\nkind: cloud\n" + entraOK + "  insecure_skip_verify: true\n",
			[]string{"env.yaml:7:25: warning: entra: insecure_skip_verify is on: server certificates are not verified"}},
		{"a section must be a mapping", "version: 1\nname: c\nkind: cloud\nentra: [t]\n",
			[]string{"env.yaml:4:8: error: entra section: want a mapping, got a list"}},
		{"a broken file is refused like a runbook", "version: 1\nname: c\nkind: cloud\n\tentra:\n",
			// yaml.v3 names the line where the plain scalar it was reading
			// began; the tab is on the next.
			[]string{"env.yaml:4:1: error: a tab character in the indentation: YAML indents with spaces only"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, lints := DecodeEnvironment("env.yaml", []byte(tt.yaml), reg)
			checkLints(t, lints, tt.want)
			for _, l := range lints {
				if strings.Contains(l.Message, "hunter2") {
					t.Errorf("lint repeats the secret: %s", l)
				}
			}
			if env == nil || env.File != "env.yaml" {
				t.Errorf("environment = %+v, want one with File set", env)
			}
		})
	}
}

func TestDecodeEnvironmentFillsDefaults(t *testing.T) {
	data, err := os.ReadFile("testdata/decode/env-hybrid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env, lints := DecodeEnvironment("testdata/decode/env-hybrid.yaml", data, testRegistry(t))
	checkLints(t, lints, nil)
	want := &Environment{
		Version: 1, Name: "contoso-prod", Kind: "hybrid", Protected: []string{"breakglass1@contoso.com"},
		StateDir: "/var/lib/revoke", File: "testdata/decode/env-hybrid.yaml", Dir: "testdata/decode",
		Sections: map[string]steps.Values{
			"entra": {
				"tenant_id": "00000000-0000-0000-0000-000000000000", "client_id": "11111111-1111-1111-1111-111111111111",
				"credential": "client_certificate", "certificate_file": "/etc/revoke/app.pem",
				"client_secret_env": "REVOKE_ENTRA_CLIENT_SECRET", "graph_url": "https://graph.microsoft.com/v1.0",
				"authority_host": "https://login.microsoftonline.com/", "ca_file": "/etc/revoke/proxy-ca.pem",
				"insecure_skip_verify": false, "timeout": 30 * time.Second,
			},
			"ad": {
				"url": "ldaps://dc01.contoso.com:636", "base_dn": "DC=contoso,DC=com",
				"bind_dn": "CN=svc-revoke,OU=Service Accounts,DC=contoso,DC=com", "bind_password_env": "REVOKE_AD_PASSWORD",
				"ca_file": "/etc/revoke/contoso-ca.pem", "start_tls": false, "insecure_skip_verify": false,
				"timeout": 10 * time.Second,
			},
		},
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("environment:\n got  %+v\n want %+v", env, want)
	}
	if got := env.Insecure(); got != nil {
		t.Errorf("Insecure() = %v, want none", got)
	}
}

func TestDecodeEnvironmentSamples(t *testing.T) {
	paths, err := filepath.Glob("testdata/decode/env-*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	reg := testRegistry(t)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		_, lints := DecodeEnvironment(p, data, reg)
		checkLints(t, lints, nil)
	}
}

func TestEnvironmentInsecure(t *testing.T) {
	data := "version: 1\nname: h\nkind: hybrid\n" + entraOK + "  insecure_skip_verify: true\n" + adOK + "  insecure_skip_verify: true\n"
	env, _ := DecodeEnvironment("env.yaml", []byte(data), testRegistry(t))
	if got := env.Insecure(); !reflect.DeepEqual(got, []string{"ad", "entra"}) {
		t.Errorf("Insecure() = %v, want [ad entra]", got)
	}
}

func TestEnvironmentBackendEnv(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("secrets/ad", "s3cret\n\n")
	write("secrets/crlf", "s3cret\r\n")
	write("secrets/empty", "\n")
	write("secrets/big", strings.Repeat("x", MaxFileSize+1))
	t.Setenv("REVOKE_TEST_SET", "from-env")
	t.Setenv("REVOKE_TEST_EMPTY", "")
	env := &Environment{Name: "h", Kind: "hybrid", File: filepath.Join(dir, "env.yaml"), Dir: dir,
		Sections: map[string]steps.Values{"ad": {
			"env_set_env": "REVOKE_TEST_SET", "env_unset_env": "REVOKE_TEST_UNSET", "env_empty_env": "REVOKE_TEST_EMPTY",
			"file_env": "", "file_file": "secrets/ad", "crlf_file": "secrets/crlf", "empty_file": "secrets/empty",
			"missing_file": "secrets/none", "abs_file": filepath.Join(dir, "secrets/ad"),
			"dir_file": "secrets", "big_file": "secrets/big",
		}}}
	if got := env.BackendEnv("entra", nil); got != nil {
		t.Errorf("BackendEnv(entra) = %+v, want nil: no such section", got)
	}
	be := env.BackendEnv("ad", nil)
	if be.Name != "h" || be.Kind != "hybrid" || be.Logger == nil || !reflect.DeepEqual(be.Section, env.Sections["ad"]) {
		t.Errorf("BackendEnv(ad) = %+v", be)
	}
	tests := []struct {
		field, want, err string
	}{
		{field: "env_set", want: "from-env"},
		{field: "file", want: "s3cret\n"}, // one trailing newline trimmed, no more
		{field: "crlf", want: "s3cret"},
		{field: "abs", want: "s3cret\n"},
		{field: "env_unset", err: "ad.env_unset_env: environment variable REVOKE_TEST_UNSET is not set"},
		{field: "env_empty", err: "ad.env_empty_env: environment variable REVOKE_TEST_EMPTY is empty"},
		{field: "empty", err: "ad.empty_file: " + filepath.Join(dir, "secrets/empty") + " is empty"},
		{field: "missing", err: "ad.missing_file: stat " + filepath.Join(dir, "secrets/none") + ": no such file or directory"},
		{field: "dir", err: "ad.dir_file: " + filepath.Join(dir, "secrets") + " is a directory, not a regular file"},
		{field: "big", err: "ad.big_file: " + filepath.Join(dir, "secrets/big") + " is larger than the 1 MiB limit"},
		{field: "bind_password", err: "ad: neither bind_password_env nor bind_password_file is set in " + env.File},
	}
	for _, tt := range tests {
		got, err := be.Secret(tt.field)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("Secret(%s) = %q, %v; want %q", tt.field, got, err, tt.want)
		case tt.err != "" && (err == nil || err.Error() != tt.err || steps.ClassOf(err) != steps.Invalid || got != ""):
			t.Errorf("Secret(%s) = %q, %v (class %v); want error %q of class invalid", tt.field, got, err, steps.ClassOf(err), tt.err)
		}
	}
	for p, want := range map[string]string{"": "", "ca.pem": filepath.Join(dir, "ca.pem"), "/etc/ca.pem": "/etc/ca.pem", "../x": filepath.Join(filepath.Dir(dir), "x")} {
		if got := be.Path(p); got != want {
			t.Errorf("Path(%q) = %q, want %q", p, got, want)
		}
	}
}
