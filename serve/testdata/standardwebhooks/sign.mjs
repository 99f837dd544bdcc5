// Signs a webhook with the npm standardwebhooks package, the reference
// implementation of Standard Webhooks, for serve/webhook_test.go: the
// secret (whsec_...) comes in WEBHOOK_SECRET, the message id and the Unix
// timestamp as arguments, the body on standard input; it prints the
// webhook-signature header's value.
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const [id, timestamp] = process.argv.slice(2);
const body = readFileSync(0, "utf8");
const wh = new Webhook(process.env.WEBHOOK_SECRET);
process.stdout.write(wh.sign(id, new Date(Number(timestamp) * 1000), body));
