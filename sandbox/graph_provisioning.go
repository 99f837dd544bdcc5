package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// App provisioning (SCIM): a service principal with a synchronization job
// keeps an account in its target app for every user assigned to it,
// directly or through a group. The sandbox keeps what each target app
// holds (Provisioned) and serves the job listing, its schema (the rule id
// provisionOnDemand needs) and provisionOnDemand, rate-limited as Graph
// documents it: 5 requests per 10 s per calling app and tenant.
//
// provisionOnDemand evaluates one user against the job at once, as the
// scheduled cycle (every 40 minutes) would later:
//
//   - assigned and without an account: the account is created (Create);
//   - assigned, with an account: nothing changes (Skipped,
//     RedundantExport) — also when the user is disabled in Entra, since
//     a disabled user who stays assigned may not be picked up
//     (reference/cleanup.md: unassign first);
//   - no longer assigned, with an active account: the app deprovisions
//     it, disabling it (Disable) or deleting it (Delete) as the job's
//     deprovision setting says;
//   - no longer assigned, with no active account: nothing to do
//     (Skipped, NotEffectivelyEntitled).
//
// The answer is Graph's stringKeyStringValuePair: key and value are JSON
// documents in strings, key the result ({"result":"Success","details":{}})
// and value the provisioning log entry (action, provisioningSteps,
// statusInfo, sourceIdentity, targetIdentity…).

// Deprovisioning actions a job's target app takes for a user who is no
// longer assigned.
const (
	DeprovisionDisable = "disable"
	DeprovisionDelete  = "delete"
)

// SyncJob is a service principal's provisioning job.
type SyncJob struct {
	ID, TemplateID string
	// ServicePrincipalID is the app the job provisions for.
	ServicePrincipalID string
	// RuleID is the id of the job's one synchronization rule (Entra ID
	// users to the app's users), which provisionOnDemand names.
	RuleID string
	// Deprovision is what the target app does with an unassigned user's
	// account: DeprovisionDisable or DeprovisionDelete.
	Deprovision string
	// Started is when the job was set up: its first cycle.
	Started time.Time
}

// ProvisionedAccount is a user's account in a provisioned app.
type ProvisionedAccount struct {
	UserID   string `json:"userId"`
	TargetID string `json:"targetId"`
	Active   bool   `json:"active"`
}

// provisionInterval is how often a job's scheduled cycle runs.
const provisionInterval = 40 * time.Minute

// defaultProvisionLimit is Graph's documented limit of provisionOnDemand.
var defaultProvisionLimit = ThrottleConfig{RU: 5, Per: 10 * time.Second}

var (
	permSyncRead  = []string{"Synchronization.Read.All", "Synchronization.ReadWrite.All", "Directory.ReadWrite.All"}
	permSyncWrite = []string{"Synchronization.ReadWrite.All", "Directory.ReadWrite.All"}
)

// SetProvisionLimit sets provisionOnDemand's rate: n requests per per, per
// calling app (tests shorten Graph's 5 per 10 s); n 0 restores Graph's.
func (t *Tenant) SetProvisionLimit(n int, per time.Duration) {
	d := t.dir
	d.Lock()
	defer d.Unlock()
	d.ProvisionLimit = ThrottleConfig{RU: n, Per: per}
	d.provisionCalls = nil
}

// syncJobsOf lists a service principal's jobs. Callers hold the lock.
func (d *Directory) syncJobsOf(spID string) []*SyncJob {
	var out []*SyncJob
	for _, j := range d.SyncJobs {
		if strings.EqualFold(j.ServicePrincipalID, spID) {
			out = append(out, j)
		}
	}
	return out
}

// assignedTo reports whether u holds an app role of the service principal
// spID, directly or through a group it is a member of. Callers hold the
// lock.
func (d *Directory) assignedTo(u *User, spID string) bool {
	for _, a := range d.AppRoleAssignments {
		if !strings.EqualFold(a.ResourceID, spID) {
			continue
		}
		if strings.EqualFold(a.PrincipalID, u.ID) {
			return true
		}
		if g := d.groupByID(a.PrincipalID); g != nil && containsFold(g.Members, u.ID) {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// provisionAssigned gives every user assigned to a job's app an account,
// as the job's first cycle did. Callers hold the lock.
func (d *Directory) provisionAssigned(j *SyncJob) {
	for _, u := range d.Users {
		if u.InCloud && u.AccountEnabled && d.assignedTo(u, j.ServicePrincipalID) {
			d.account(j.ServicePrincipalID, u.ID, true)
		}
	}
}

// account returns u's account in the app spID, made when create is set
// and there is none (nil otherwise). Callers hold the lock.
func (d *Directory) account(spID, userID string, create bool) *ProvisionedAccount {
	spID = strings.ToLower(spID)
	if d.Provisioned == nil {
		d.Provisioned = map[string]map[string]*ProvisionedAccount{}
	}
	accts := d.Provisioned[spID]
	if a := accts[strings.ToLower(userID)]; a != nil || !create {
		return a
	}
	if accts == nil {
		accts = map[string]*ProvisionedAccount{}
		d.Provisioned[spID] = accts
	}
	a := &ProvisionedAccount{UserID: userID, TargetID: stableID("provisionedAccount", spID+userID), Active: true}
	accts[strings.ToLower(userID)] = a
	return a
}

// provisioningRoute serves /servicePrincipals/{id}/synchronization/…;
// nil, nil when the path is not under it.
func provisioningRoute(c *call) (*route, *response) {
	s := c.segs
	if len(s) < 3 || !strings.EqualFold(s[2], "synchronization") {
		return nil, nil
	}
	if !segIs(s, 3, "jobs") {
		return nil, c.unknownSegment(s[len(s)-1])
	}
	switch {
	case len(s) == 4:
		return pick(c, map[string]*route{"GET": {perms: permSyncRead, list: true, handle: listSyncJobs}})
	case len(s) == 5:
		return pick(c, map[string]*route{"GET": {perms: permSyncRead, handle: getSyncJob}})
	case len(s) == 6 && strings.EqualFold(s[5], "schema"):
		return pick(c, map[string]*route{"GET": {perms: permSyncRead, handle: getSyncSchema}})
	case len(s) == 6 && strings.EqualFold(s[5], "provisionOnDemand"):
		return pick(c, map[string]*route{"POST": {perms: permSyncWrite, handle: provisionOnDemand}})
	}
	return nil, c.unknownSegment(s[len(s)-1])
}

// syncJobJSON renders a job as synchronizationJob: its schedule (the
// cycle's interval as an ISO 8601 duration) and status (Active, with the
// last cycle).
func syncJobJSON(j *SyncJob, now time.Time) map[string]any {
	// The last cycle began at the latest multiple of the interval since
	// the job started.
	last := j.Started
	if now.After(last) {
		last = last.Add(now.Sub(last).Truncate(provisionInterval))
	}
	exec := map[string]any{
		"activityIdentifier": nil, "countEntitled": 0, "countEntitledForProvisioning": 0, "countEscrowed": 0,
		"countEscrowedRaw": 0, "countExported": 0, "countExports": 0, "countImported": 0, "countImportedDeltas": 0,
		"countImportedReferenceDeltas": 0, "error": nil, "state": "Succeeded",
		"timeBegan": graphTime(last), "timeEnded": graphTime(last.Add(time.Minute)),
	}
	return map[string]any{
		"id": j.ID, "templateId": j.TemplateID,
		"schedule": map[string]any{"expiration": nil, "interval": "PT" + strconv.Itoa(int(provisionInterval.Minutes())) + "M", "state": "Active"},
		"status": map[string]any{
			"code": "Active", "countSuccessiveCompleteFailures": 0, "escrowsPruned": false,
			"lastExecution": exec, "lastSuccessfulExecution": exec, "lastSuccessfulExecutionWithExports": exec,
			"progress": []any{}, "quarantine": nil,
			"steadyStateFirstAchievedTime": graphTime(j.Started), "steadyStateLastAchievedTime": graphTime(last),
			"synchronizedEntryCountByType": []any{}, "troubleshootingUrl": nil,
		},
		"synchronizationJobSettings": []any{},
	}
}

var syncJobProps = &propSet{typeName: "microsoft.graph.synchronizationJob",
	names: []string{"id", "templateId", "schedule", "status", "synchronizationJobSettings"}}

// withServicePrincipal runs f with the lock held and the path's service
// principal (by object id, as Graph's path takes it), or answers 404.
func (c *call) withServicePrincipal(f func(d *Directory, sp *ServicePrincipal) *response) *response {
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	sp := d.servicePrincipal(c.segs[1])
	if sp == nil || !strings.EqualFold(sp.ID, c.segs[1]) {
		return c.notFound(c.segs[1])
	}
	return f(d, sp)
}

// withSyncJob is withServicePrincipal for a job of it (path segment 4).
func (c *call) withSyncJob(f func(d *Directory, sp *ServicePrincipal, j *SyncJob) *response) *response {
	return c.withServicePrincipal(func(d *Directory, sp *ServicePrincipal) *response {
		for _, j := range d.syncJobsOf(sp.ID) {
			if strings.EqualFold(j.ID, c.segs[4]) {
				return f(d, sp, j)
			}
		}
		return c.notFound(c.segs[4])
	})
}

func listSyncJobs(c *call) *response {
	return c.withServicePrincipal(func(d *Directory, sp *ServicePrincipal) *response {
		out := []map[string]any{}
		for _, j := range d.syncJobsOf(sp.ID) {
			out = append(out, syncJobJSON(j, c.now))
		}
		return c.pageSelected("servicePrincipals('"+sp.ID+"')/synchronization/jobs", syncJobProps, out)
	})
}

func getSyncJob(c *call) *response {
	return c.withSyncJob(func(d *Directory, sp *ServicePrincipal, j *SyncJob) *response {
		m := syncJobJSON(j, c.now)
		m["@odata.context"] = metadata + "servicePrincipals('" + sp.ID + "')/synchronization/jobs/$entity"
		return jsonResp(http.StatusOK, m)
	})
}

// getSyncSchema serves the job's schema with its one rule, whose id is
// what provisionOnDemand's parameters name. Directories and object
// mappings are not modelled (an empty list).
func getSyncSchema(c *call) *response {
	return c.withSyncJob(func(d *Directory, sp *ServicePrincipal, j *SyncJob) *response {
		return jsonResp(http.StatusOK, map[string]any{
			"@odata.context": metadata + "servicePrincipals('" + sp.ID + "')/synchronization/jobs('" + j.ID + "')/schema/$entity",
			"id":             j.ID, "version": "Date:" + j.Started.UTC().Format("2006-01-02T15:04:05Z") + ";Template:" + j.TemplateID,
			"synchronizationRules": []any{map[string]any{
				"id": j.RuleID, "name": "USER_TO_USER", "editable": true, "priority": 1,
				"sourceDirectoryName": "Azure Active Directory", "targetDirectoryName": sp.DisplayName,
				"containerFilter": nil, "groupFilter": nil, "metadata": []any{}, "objectMappings": []any{},
			}},
		})
	})
}

// provisionWait is how long app must wait before another provisionOnDemand
// (0: now, and the call is counted). Callers hold the lock.
func (d *Directory) provisionWait(app string, now time.Time) time.Duration {
	limit := d.ProvisionLimit
	if limit.RU <= 0 || limit.Per <= 0 {
		limit = defaultProvisionLimit
	}
	if d.provisionCalls == nil {
		d.provisionCalls = map[string][]time.Time{}
	}
	var recent []time.Time
	for _, t := range d.provisionCalls[app] {
		if now.Sub(t) < limit.Per {
			recent = append(recent, t)
		}
	}
	if len(recent) >= limit.RU {
		d.provisionCalls[app] = recent
		return recent[len(recent)-limit.RU].Add(limit.Per).Sub(now)
	}
	d.provisionCalls[app] = append(recent, now)
	return 0
}

// provisionOnDemand evaluates one user against the job now.
func provisionOnDemand(c *call) *response {
	var body struct {
		Parameters []struct {
			RuleID   string `json:"ruleId"`
			Subjects []struct {
				ObjectID       string `json:"objectId"`
				ObjectTypeName string `json:"objectTypeName"`
			} `json:"subjects"`
		} `json:"parameters"`
	}
	if r := c.decode(&body); r != nil {
		return r
	}
	return c.withSyncJob(func(d *Directory, sp *ServicePrincipal, j *SyncJob) *response {
		if wait := d.provisionWait(c.claims.AppID, c.now); wait > 0 {
			r := c.err(http.StatusTooManyRequests, "TooManyRequests", "Too many requests. The rate limit of provisionOnDemand is 5 requests per 10 seconds.")
			r.header.Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
			r.detail = "provisionOnDemand rate"
			return r
		}
		// The sandbox takes what Graph's own example sends: one rule,
		// one user.
		if len(body.Parameters) != 1 || len(body.Parameters[0].Subjects) != 1 {
			return c.err(http.StatusBadRequest, "BadRequest", "The sandbox provisions one subject of one rule per request.")
		}
		p := body.Parameters[0]
		if !strings.EqualFold(p.RuleID, j.RuleID) {
			return c.err(http.StatusBadRequest, "BadRequest", fmt.Sprintf("The rule '%s' is not a rule of the job's schema.", p.RuleID))
		}
		subj := p.Subjects[0]
		if !strings.EqualFold(subj.ObjectTypeName, "User") {
			return c.err(http.StatusBadRequest, "BadRequest", fmt.Sprintf("The sandbox provisions users only, not '%s'.", subj.ObjectTypeName))
		}
		u := d.UserByRef(subj.ObjectID)
		if u == nil || !strings.EqualFold(u.ID, subj.ObjectID) {
			return c.err(http.StatusBadRequest, "BadRequest", fmt.Sprintf("The object '%s' was not found in the source directory.", subj.ObjectID))
		}
		out := d.provision(j, sp, u, c.now)
		r := jsonResp(http.StatusOK, out)
		r.detail = "provisionOnDemand " + u.UserPrincipalName + ": " + out.action
		return r
	})
}

// provisionAnswer is provisionOnDemand's stringKeyStringValuePair.
type provisionAnswer struct {
	Context string `json:"@odata.context"`
	Key     string `json:"key"`
	Value   string `json:"value"`
	action  string
}

// provision evaluates u against job j of sp and changes the target app's
// accounts accordingly. Callers hold the lock.
func (d *Directory) provision(j *SyncJob, sp *ServicePrincipal, u *User, now time.Time) provisionAnswer {
	assigned := d.assignedTo(u, sp.ID)
	acct := d.account(sp.ID, u.ID, false)
	upn := u.UserPrincipalName
	var (
		result, action, code, message string
		export                        = map[string]any{"name": "EntrySynchronizationSkip", "type": "Export", "status": "Skipped"}
	)
	switch {
	case assigned && acct == nil && u.AccountEnabled:
		acct = d.account(sp.ID, u.ID, true)
		result, action = "Success", "Create"
		export = map[string]any{"name": "EntryExportAdd", "type": "Export", "status": "Success",
			"description": fmt.Sprintf("User '%s' was created in %s", upn, sp.DisplayName)}
	case assigned:
		result, action, code = "Skipped", "Other", "RedundantExport"
		message = "The state of the user in both the source and target systems already match."
		export["description"] = message + " No change to the User '" + upn + "' currently needs to be made."
	case acct != nil && acct.Active && j.Deprovision == DeprovisionDelete:
		delete(d.Provisioned[strings.ToLower(sp.ID)], strings.ToLower(u.ID))
		result, action = "Success", "Delete"
		export = map[string]any{"name": "EntryExportDelete", "type": "Export", "status": "Success",
			"description": fmt.Sprintf("User '%s' was deleted in %s", upn, sp.DisplayName)}
	case acct != nil && acct.Active:
		acct.Active = false
		result, action = "Success", "Disable"
		export = map[string]any{"name": "EntryExportUpdateSoftDelete", "type": "Export", "status": "Success",
			"description": fmt.Sprintf("User '%s' was disabled in %s", upn, sp.DisplayName)}
	default:
		result, action, code = "Skipped", "Other", "NotEffectivelyEntitled"
		message = "The user is not assigned to the application and holds no active account in it."
		export["description"] = "The User '" + upn + "' will be skipped: " + message
	}
	at := now.UTC().Format(time.RFC3339Nano)
	export["timestamp"], export["details"] = at, map[string]any{}
	boolText := func(b bool) string { return strings.ToUpper(strconv.FormatBool(b)[:1]) + strconv.FormatBool(b)[1:] }
	var target map[string]any
	if acct != nil {
		target = map[string]any{"id": acct.TargetID, "type": "urn:ietf:params:scim:schemas:core:2.0:User", "displayName": nil, "details": nil}
	}
	details := map[string]any{}
	if code != "" {
		details = map[string]any{"errorCode": code, "errorMessage": message}
	}
	key, _ := json.Marshal(map[string]any{"result": result, "details": details})
	value, _ := json.Marshal(map[string]any{
		"action": action, "changeId": stableID("provisionChange", j.ID+u.ID+at), "startTime": at, "endTime": at,
		"modifiedProperties": []any{},
		"provisioningSteps": []any{
			map[string]any{"name": "EntryImport", "type": "Import", "status": "Success", "timestamp": at,
				"description": fmt.Sprintf("Retrieved User '%s' from Azure Active Directory", upn),
				"details":     map[string]any{"objectId": u.ID, "userPrincipalName": upn, "accountEnabled": boolText(u.AccountEnabled)}},
			map[string]any{"name": "EntrySynchronizationScoping", "type": "Scoping", "status": "Success", "timestamp": at,
				"description": "Determine if User in scope by evaluating against each scoping filter",
				"details": map[string]any{"IsActive": boolText(u.AccountEnabled), "Assigned": boolText(assigned),
					"IsEffectivelyEntitledForProvisioning": boolText(assigned), "IsInProvisioningScopeDisplayName": boolText(assigned)}},
			export,
		},
		"reportableIdentifier": upn,
		"statusInfo":           map[string]any{"status": result, "errorCode": nilIfEmpty(code), "reason": nilIfEmpty(message)},
		"sourceIdentity":       map[string]any{"id": u.ID, "type": "User", "displayName": u.DisplayName, "details": nil},
		"sourceSystem":         map[string]any{"id": nil, "name": "Azure Active Directory", "details": nil},
		"targetIdentity":       target,
		"targetSystem":         map[string]any{"id": nil, "name": j.TemplateID, "details": nil},
	})
	return provisionAnswer{Context: metadata + "microsoft.graph.stringKeyStringValuePair", Key: string(key), Value: string(value), action: action}
}

// AppState is a provisioned app in the sandbox's state: its job and the
// accounts its target app holds, for tests and `revoke sandbox` to show a
// user leaving the app.
type AppState struct {
	ServicePrincipalID string               `json:"servicePrincipalId"`
	DisplayName        string               `json:"displayName"`
	JobID              string               `json:"jobId"`
	TemplateID         string               `json:"templateId"`
	Accounts           []ProvisionedAccount `json:"accounts"`
}

// appStates snapshots every provisioned app, accounts by user id. Callers
// hold the lock.
func (d *Directory) appStates() []AppState {
	out := []AppState{}
	for _, j := range d.SyncJobs {
		st := AppState{ServicePrincipalID: j.ServicePrincipalID, JobID: j.ID, TemplateID: j.TemplateID, Accounts: []ProvisionedAccount{}}
		if sp := d.servicePrincipal(j.ServicePrincipalID); sp != nil {
			st.DisplayName = sp.DisplayName
		}
		for _, a := range d.Provisioned[strings.ToLower(j.ServicePrincipalID)] {
			st.Accounts = append(st.Accounts, *a)
		}
		slices.SortFunc(st.Accounts, func(a, b ProvisionedAccount) int { return strings.Compare(a.UserID, b.UserID) })
		out = append(out, st)
	}
	return out
}
