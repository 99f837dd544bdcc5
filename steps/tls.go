package steps

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Fields every backend that dials a server over TLS takes, named alike so
// that environment files read the same whatever the backend.
const (
	FieldCAFile             = "ca_file"
	FieldInsecureSkipVerify = "insecure_skip_verify"
	FieldTimeout            = "timeout"
)

// TLSFields returns a backend section's ca_file, insecure_skip_verify and
// timeout fields. server names what is dialled ("the domain controller");
// timeout is the default, and timeoutText says what it bounds.
func TLSFields(server string, timeout time.Duration, timeoutText string) []Param {
	return []Param{
		{Name: FieldCAFile, Type: String, Format: "file",
			Description: "PEM roots to verify " + server + "'s certificate, added to the system's (a sandbox, a private CA, a TLS-inspecting proxy)."},
		{Name: FieldInsecureSkipVerify, Type: Bool, Default: false,
			Description: "Do not verify " + server + "'s certificate. Warned about on every run; never in production."},
		{Name: FieldTimeout, Type: Duration, Default: timeout, Description: timeoutText},
	}
}

// RootCAs returns the system's roots plus the PEM certificates of caFile
// (a path already resolved against the environment file), for a backend's
// TLS configuration. Errors are Invalid and name the backend's field.
func RootCAs(backend, caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		// No system pool (some minimal containers): the extra roots alone.
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	pem, err := ReadFile(caFile, MaxFileSize)
	if err != nil {
		return nil, Errorf(Invalid, "%s %s: %w", backend, FieldCAFile, err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, Errorf(Invalid, "%s %s %s holds no PEM certificate", backend, FieldCAFile, caFile)
	}
	return pool, nil
}

// TLSConfig is the TLS configuration of a backend's connections to an
// HTTPS server: TLS 1.2 at least, verified against the system's roots plus
// caFile's (RootCAs), or not verified at all when insecure (the section's
// insecure_skip_verify, which every run warns about). Errors are RootCAs'.
func TLSConfig(backend, caFile string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if insecure {
		cfg.InsecureSkipVerify = true
		return cfg, nil
	}
	if caFile == "" {
		return cfg, nil // nil RootCAs: the system's pool
	}
	pool, err := RootCAs(backend, caFile)
	if err != nil {
		return nil, err
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// Count renders a number of things for a summary: "1 group", "3 groups".
// Nouns with an irregular plural are not for it.
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// CertificateUntrusted reports whether err is a server certificate that
// did not verify (unknown authority, wrong host name, invalid, or a
// failed verification): the configuration's problem (ca_file), not the
// network's.
func CertificateUntrusted(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
	)
	return errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify)
}
