// Package entra is the Microsoft Entra ID backend: steps that act on a
// subject's cloud identity through Microsoft Graph (msgraph-sdk-go).
//
// It is the only package besides cmd that imports the Graph SDK, which is
// heavy to compile.
package entra

import (
	"time"

	"github.com/revoke-dev/revoke/steps"
)

func init() { Register(steps.Default) }

// Register adds the entra backend and its steps to r.
func Register(r *steps.Registry) {
	r.RegisterBackend(Backend)
	for _, s := range Steps {
		r.Register(s)
	}
}

// Steps are the entra steps, in catalog order.
var Steps = []steps.Spec{disableUser, revokeSessions, disableDevices, resetPassword, confirmCompromised}

// Field names of the environment file's entra section.
const (
	fieldTenantID           = "tenant_id"
	fieldClientID           = "client_id"
	fieldCredential         = "credential"
	fieldCertificateFile    = "certificate_file"
	fieldClientSecret       = "client_secret"
	fieldGraphURL           = "graph_url"
	fieldAuthorityHost      = "authority_host"
	fieldCAFile             = "ca_file"
	fieldInsecureSkipVerify = "insecure_skip_verify"
	fieldTimeout            = "timeout"
)

// Credential types of the credential field.
const (
	credClientSecret      = "client_secret"
	credClientCertificate = "client_certificate"
	credManagedIdentity   = "managed_identity"
	credWorkloadIdentity  = "workload_identity"
	credAzureCLI          = "azure_cli"
	credDeviceCode        = "device_code"
	credDefault           = "default"
)

// Backend is the entra backend's spec.
var Backend = steps.BackendSpec{
	Name:    "entra",
	Summary: "Microsoft Entra ID through Microsoft Graph v1.0",
	Kinds:   []string{"hybrid", "cloud"},
	Fields: []steps.Param{
		{Name: fieldTenantID, Type: steps.String, Required: true,
			Description: "Directory (tenant) id."},
		{Name: fieldClientID, Type: steps.String,
			Description: "Application (client) id of revoke's app registration; required for client_secret, client_certificate, workload_identity and device_code."},
		{Name: fieldCredential, Type: steps.Enum, Default: credClientCertificate,
			Enum: []string{credClientSecret, credClientCertificate, credManagedIdentity,
				credWorkloadIdentity, credAzureCLI, credDeviceCode, credDefault},
			Description: "How revoke authenticates to Entra ID."},
		{Name: fieldCertificateFile, Type: steps.String, Format: "file",
			Description: "PEM file with the certificate and its private key, for client_certificate."},
		{Name: fieldClientSecret, Type: steps.String, Secret: true,
			Description: "The client secret, by reference (client_secret_env or client_secret_file), for client_secret."},
		{Name: fieldGraphURL, Type: steps.String, Format: "url", Default: "https://graph.microsoft.com/v1.0",
			Description: "Graph endpoint: national clouds, or a sandbox. Tokens are asked for this host's " +
				"audience when it is a national cloud's Graph (graph.microsoft.us, dod-graph.microsoft.us, " +
				"microsoftgraph.chinacloudapi.cn) and for https://graph.microsoft.com otherwise (a sandbox " +
				"or a proxy in front of the worldwide service)."},
		{Name: fieldAuthorityHost, Type: steps.String, Format: "url", Default: "https://login.microsoftonline.com/",
			Description: "Where tokens come from: national clouds, or a sandbox."},
		{Name: fieldCAFile, Type: steps.String, Format: "file",
			Description: "PEM roots added to the system's, for a sandbox or a TLS-inspecting proxy."},
		{Name: fieldInsecureSkipVerify, Type: steps.Bool, Default: false,
			Description: "Do not verify server certificates. Warned about on every run; never in production."},
		{Name: fieldTimeout, Type: steps.Duration, Default: 30 * time.Second,
			Description: "Timeout of one Graph request."},
	},
	Validate: validate,
	Open:     open,
}

func validate(s steps.Values) []string {
	var problems []string
	cred := s.String(fieldCredential)
	switch cred {
	case credClientSecret, credClientCertificate, credWorkloadIdentity, credDeviceCode:
		if s.String(fieldClientID) == "" {
			problems = append(problems, "credential "+cred+" needs client_id")
		}
	}
	switch cred {
	case credClientSecret:
		if s.String(fieldClientSecret+"_env") == "" && s.String(fieldClientSecret+"_file") == "" {
			problems = append(problems, "credential client_secret needs client_secret_env or client_secret_file")
		}
	case credClientCertificate:
		if s.String(fieldCertificateFile) == "" {
			problems = append(problems, "credential client_certificate needs certificate_file")
		}
	}
	return problems
}
