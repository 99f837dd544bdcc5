package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/revoke-dev/revoke/sandbox"
)

// envFile is one file `revoke sandbox --write-env` writes: the environment,
// a secret or the CA.
type envFile struct {
	name string
	data []byte
	mode os.FileMode
}

// writeEnvFiles puts files into dir without ever writing through a link or
// into a file revoke did not create. dir is made (0700) when missing and
// must otherwise be a real directory, not a symbolic link; a name that is a
// symbolic link is refused before anything is written, so a planted link
// cannot send a secret elsewhere. Each file is written to a new file
// created exclusively beside it (O_EXCL never follows a link) with its
// mode set on that file alone, then renamed into place: an existing file
// of that name, or whatever a race planted there, is replaced, never
// opened, so its content and mode (and those of its other hard links) stay
// as they were.
func writeEnvFiles(dir string, files []envFile) error {
	fi, err := os.Lstat(dir)
	switch {
	case os.IsNotExist(err):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	case err != nil:
		return err
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("--write-env: %s is a symbolic link: give the directory itself", dir)
	case !fi.IsDir():
		return fmt.Errorf("--write-env: %s is not a directory", dir)
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if fi, err := os.Lstat(path); err == nil && (fi.Mode()&os.ModeSymlink != 0 || !fi.Mode().IsRegular()) {
			return fmt.Errorf("--write-env: %s is not a regular file (a link?): refusing to write through it; remove it first", path)
		}
	}
	for _, f := range files {
		if err := replaceFile(dir, f); err != nil {
			return fmt.Errorf("--write-env: %w", err)
		}
	}
	return nil
}

// replaceFile writes f into a fresh file in dir and renames it over f.name.
func replaceFile(dir string, f envFile) error {
	tmp, err := os.CreateTemp(dir, "."+f.name+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	// Chmod on the descriptor changes only the file just created, whatever
	// the umask made of CreateTemp's 0600.
	if err := tmp.Chmod(f.mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(f.data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, f.name))
}

// sandboxServiceNow returns the servicenow section of a sandbox's
// environment file and the password file it references: basic auth as the
// seed's first user holding a role (the one that may open tickets). It
// returns nothing when the seed has no ServiceNow instance or no such user,
// and the environment is complete without the section (the backend is
// optional). q quotes a YAML string.
func sandboxServiceNow(t *sandbox.Tenant, seed *sandbox.Seed, q func(string) string) (string, []envFile) {
	sn := seed.ServiceNow
	if sn == nil || t.ServiceNowURL() == "" {
		return "", nil
	}
	for _, u := range sn.Users {
		if len(u.Roles) == 0 {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "servicenow:\n  instance_url: %s\n  credential: basic\n  username: %s\n  password_file: servicenow-password\n  ca_file: ca.pem\n",
			q(t.ServiceNowURL()), q(u.Name))
		if len(sn.AssignmentGroups) > 0 {
			fmt.Fprintf(&b, "  assignment_group: %s\n", q(sn.AssignmentGroups[0].Name))
		}
		if len(sn.ManualApps) > 0 {
			fmt.Fprintf(&b, "  manual_apps: [%s]\n", strings.Join(mapStrings(sn.ManualApps, q), ", "))
		}
		return b.String(), []envFile{{"servicenow-password", []byte(u.Password), 0o600}}
	}
	return "", nil
}
