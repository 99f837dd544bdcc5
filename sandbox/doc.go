// Package sandbox is a tenant on loopback that real clients talk to: a
// Microsoft Graph v1.0 emulator (over HTTPS, with an authority that issues
// tokens), an AD-like LDAP directory (LDAPS and StartTLS) and, when the
// seed has one, a ServiceNow instance's Table API, seeded from YAML. It
// imports neither engine nor steps, so it cannot agree with revoke by
// construction: it answers as Graph, AD and ServiceNow do, and its Graph
// answers are checked against Microsoft's published v1.0 metadata.
//
// Where things are:
//
//   - The tenant: tenant.go (Start, Options, the servers), directory.go (the
//     shared state both faces read and write), sync.go (the directory sync
//     from AD to Entra ID), faults.go, throttle.go and quota.go (injected
//     failures, latency, Graph's resource-unit budget and directory write
//     quota), log.go (the request log tests read),
//     certs.go (the CA and server certificates).
//   - The seed: seed.go (its types), seed_decode.go (YAML, with every
//     problem at FILE:LINE:COL, and the cross-reference checks),
//     seed_build.go (a fresh Directory from a Seed), seed_cleanup.go,
//     seed_default.go (the embedded default seed), synthetic.go (users
//     added in bulk for benchmarks).
//   - Graph: graph.go (the handler, errors, JSON), graph_routes.go (the
//     route table), graph_page.go (paging, $select, $count, $filter),
//     batch.go ($batch), token.go and identity.go (the authority: client
//     secrets and certificates, managed and workload identities),
//     graph_users.go, graph_devices.go, graph_groups.go, graph_roles.go,
//     graph_roles_pim.go, graph_privileged.go (who may change a privileged
//     user), graph_auth_methods.go, graph_mail.go, graph_consents.go,
//     graph_cleanup.go, graph_provisioning.go (SCIM jobs, what their apps
//     hold, provision on demand and its rate), graph_licenses.go,
//     graph_sandbox.go (the
//     /_sandbox endpoints for tests and `revoke sandbox state`).
//   - LDAP: ldap.go (the server, its front door, TLS), ldap_handlers.go
//     (AD's diagnostics, StartTLS, unbind, refused adds and deletes),
//     ldap_bind.go, ldap_search.go, ldap_modify.go (passwords,
//     userAccountControl, members), ldap_modifydn.go (ModifyDN,
//     answered by the door), ldap_notes.go (description and info),
//     ldap_entries.go (how users, groups and the configuration look as
//     entries), ldap_filter.go (filter evaluation), sid.go (objectSid).
//   - ServiceNow: servicenow.go (a Table API instance on its own port, for
//     the servicenow backend's tickets), seed_servicenow.go (its seed).
package sandbox
