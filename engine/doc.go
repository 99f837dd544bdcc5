// Package engine turns a runbook, an environment and a subject into a plan,
// runs it, and keeps its journal. It knows no backend: it reaches the
// directories only through the steps API (steps.Conn, steps.Step and the
// optional interfaces), so a new backend never touches it.
//
// Where things are:
//
//   - Reading what users write: load.go (Load, the workspace of runbooks,
//     environments, policies, tests), files.go (recognising a file by its
//     shape), decode_runbook.go, environment.go, facts.go, runbooktest.go,
//     yamlnode.go (positions for every message), params.go and schema.go
//     (parameters checked against the specs, the JSON Schema), catalog.go
//     (the generated step reference), lint.go (the Lint type every
//     problem is reported as).
//   - Deciding: policy.go (Rego compiled with OPA, without network or
//     non-deterministic builtins), policy_bound.go (each evaluation
//     stopped at Policy.Timeout), input.go (the policy input; built as
//     OPA's value in input_value.go, its parts cached in input_cache.go),
//     plan.go
//     (Plan: the decision applied, the built-in protection after it),
//     identity.go (resolution across backends, linking, gaps, protection),
//     preview.go (live Checks and the permission preflight).
//   - Running: connect.go (opening backends at once; an optional backend
//     only where its section is), exec.go (the executor: scheduling,
//     retries via retry.go), result.go (a run's and its steps' results and
//     statuses), redact.go (secret-looking details kept out of the
//     journal), outcome.go (the one outcome table: contained or not, exit
//     codes),
//     inventory.go (what the subject still holds after a run),
//     subjectlock.go (one run per person across processes).
//   - Remembering: journal_schema.go (the event types), journal_writer.go
//     (append and fsync), journal_seal.go (cut tails and edited last lines),
//     journal_reader.go (reading, verifying, run summaries), resume.go and
//     resume_identity.go (continuing where a run stopped, only where and on
//     whom it started), lock.go (the journal's file lock, steps.TryLockFile).
//
// A caller (cmd/revoke) does: Load, Connect, Conns.Resolve, Policy.Plan,
// then Executor.Run (or Resume), and prints the Result.
package engine
