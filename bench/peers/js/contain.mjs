// revoke's peer in scripts/bench: what a script written with Microsoft's
// JS Graph SDK does to contain a compromised cloud account, one call after
// another, the way such scripts are written (and the way Microsoft's
// samples write them): resolve the user by UPN, disable the account,
// revoke its sessions, then list the devices it registered or owns and
// disable each. It does the same three Entra containment steps as the
// runbook revoke runs beside it (bench/peers/containment.yaml), against
// the same sandbox tenant, with the same app.
//
// It times nothing itself: scripts/bench reads both tools' requests from
// the sandbox's request log, so the two are measured by the same clock.
//
// Settings come from the environment (scripts/bench sets them from the
// environment file `revoke sandbox --write-env` wrote):
//
//   PEER_TENANT_ID, PEER_CLIENT_ID  the app
//   PEER_SECRET_FILE                a file holding the client secret
//   PEER_AUTHORITY                  the authority host (the sandbox's)
//   PEER_GRAPH_URL                  Graph's base URL, ending in /v1.0
//   PEER_USER                       the UPN of the user to contain
//   NODE_EXTRA_CA_CERTS             the sandbox's CA certificate (Node reads it)
//
// It prints one JSON line: the user's id and the devices it disabled. The
// secret is never printed.
import { readFileSync } from "node:fs";
import { ClientSecretCredential } from "@azure/identity";
import { Client } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";

function setting(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`contain.mjs: ${name} is not set`);
    process.exit(2);
  }
  return v;
}

const graph = new URL(setting("PEER_GRAPH_URL"));
const credential = new ClientSecretCredential(
  setting("PEER_TENANT_ID"),
  setting("PEER_CLIENT_ID"),
  readFileSync(setting("PEER_SECRET_FILE"), "utf8").trim(),
  // The sandbox is its own authority: no instance discovery against
  // login.microsoftonline.com, as for any authority Entra does not list.
  { authorityHost: setting("PEER_AUTHORITY"), disableInstanceDiscovery: true },
);
const client = Client.initWithMiddleware({
  authProvider: new TokenCredentialAuthenticationProvider(credential, {
    scopes: ["https://graph.microsoft.com/.default"],
  }),
  baseUrl: graph.origin + "/",
  defaultVersion: graph.pathname.replace(/^\/|\/$/g, ""),
  // The SDK sends the token only to Graph's hosts and these.
  customHosts: new Set([graph.hostname]),
});

const upn = setting("PEER_USER");
const user = await client.api(`/users/${encodeURIComponent(upn)}`).select("id,accountEnabled").get();
await client.api(`/users/${user.id}`).patch({ accountEnabled: false });
await client.api(`/users/${user.id}/revokeSignInSessions`).post({});
const registered = await client.api(`/users/${user.id}/registeredDevices`).get();
const owned = await client.api(`/users/${user.id}/ownedDevices`).get();
const devices = new Map();
for (const d of [...registered.value, ...owned.value]) {
  devices.set(d.id, d);
}
for (const id of devices.keys()) {
  await client.api(`/devices/${id}`).patch({ accountEnabled: false });
}
console.log(JSON.stringify({ user: user.id, devices_disabled: [...devices.keys()] }));
