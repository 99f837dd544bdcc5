package entra

import (
	"time"

	"github.com/google/uuid"
	"github.com/microsoft/kiota-abstractions-go/serialization"
)

// revoke's Graph types: the few properties of each Graph type that
// revoke reads or writes, decoded and encoded by kiota's JSON parse node
// and serialization writer as the SDK's models are (graphrequest.go says
// why not those). Each field is named as its JSON property; a property
// Graph did not return is nil, as in the SDK. Properties revoke does not
// read are skipped.

// fields maps JSON property names to their decoders.
type fields = map[string]func(serialization.ParseNode) error

// stringField decodes a string property into *p.
func stringField(p **string) func(serialization.ParseNode) error {
	return func(n serialization.ParseNode) (err error) { *p, err = n.GetStringValue(); return err }
}

// boolField decodes a Boolean property into *p.
func boolField(p **bool) func(serialization.ParseNode) error {
	return func(n serialization.ParseNode) (err error) { *p, err = n.GetBoolValue(); return err }
}

// timeField decodes a DateTimeOffset property into *p.
func timeField(p **time.Time) func(serialization.ParseNode) error {
	return func(n serialization.ParseNode) (err error) { *p, err = n.GetTimeValue(); return err }
}

// uuidField decodes a Guid property into *p (a value that is not a GUID
// fails the decoding, as in the SDK).
func uuidField(p **uuid.UUID) func(serialization.ParseNode) error {
	return func(n serialization.ParseNode) (err error) { *p, err = n.GetUUIDValue(); return err }
}

// enumField decodes an enumeration property into *p: one of known, or nil
// for a member the SDK would not know either (its generated parsers answer
// nil for those).
func enumField(p **string, known ...string) func(serialization.ParseNode) error {
	return func(n serialization.ParseNode) error {
		v, err := n.GetStringValue()
		if err != nil || v == nil {
			*p = nil
			return err
		}
		*p = nil
		for _, k := range known {
			if *v == k {
				*p = v
			}
		}
		return nil
	}
}

// stringsField decodes a collection of strings into *p.
func stringsField(p *[]string) func(serialization.ParseNode) error {
	return func(n serialization.ParseNode) error {
		vs, err := n.GetCollectionOfPrimitiveValues("string")
		if err != nil || vs == nil {
			return err
		}
		*p = make([]string, len(vs))
		for i, v := range vs {
			if s, ok := v.(*string); ok && s != nil {
				(*p)[i] = *s
			}
		}
		return nil
	}
}

// objectField decodes an object property into *p.
func objectField[T any, P parsable[T]](p *P) func(serialization.ParseNode) error {
	return func(n serialization.ParseNode) error {
		v, err := n.GetObjectValue(factory[T, P])
		if err != nil || v == nil {
			return err
		}
		*p = v.(P)
		return nil
	}
}

// objectsField decodes a collection of objects into *p; a null element
// stays nil.
func objectsField[T any, P parsable[T]](p *[]P) func(serialization.ParseNode) error {
	return func(n serialization.ParseNode) error {
		vs, err := n.GetCollectionOfObjectValues(factory[T, P])
		if err != nil || vs == nil {
			return err
		}
		*p = make([]P, len(vs))
		for i, v := range vs {
			if v != nil {
				(*p)[i] = v.(P)
			}
		}
		return nil
	}
}

// readOnly is the Serialize of a type revoke only reads.
type readOnly struct{}

// Serialize writes nothing: revoke never sends a type it only reads.
func (readOnly) Serialize(serialization.SerializationWriter) error { return nil }

// graphUser is a user (microsoft.graph.user).
type graphUser struct {
	readOnly
	id, userPrincipalName, displayName, userType        *string
	accountEnabled, onPremisesSyncEnabled               *bool
	signInSessionsValidFromDateTime                     *time.Time
	onPremisesSecurityIdentifier, onPremisesImmutableId *string
	onPremisesSamAccountName, onPremisesDomainName      *string
	onPremisesDistinguishedName                         *string
	assignedLicenses                                    []*graphLicense
	licenseAssignmentStates                             []*graphLicense
}

// GetFieldDeserializers reads the user properties revoke uses.
func (u *graphUser) GetFieldDeserializers() fields {
	return fields{
		"id":                              stringField(&u.id),
		"userPrincipalName":               stringField(&u.userPrincipalName),
		"displayName":                     stringField(&u.displayName),
		"userType":                        stringField(&u.userType),
		"accountEnabled":                  boolField(&u.accountEnabled),
		"onPremisesSyncEnabled":           boolField(&u.onPremisesSyncEnabled),
		"signInSessionsValidFromDateTime": timeField(&u.signInSessionsValidFromDateTime),
		"onPremisesSecurityIdentifier":    stringField(&u.onPremisesSecurityIdentifier),
		"onPremisesImmutableId":           stringField(&u.onPremisesImmutableId),
		"onPremisesSamAccountName":        stringField(&u.onPremisesSamAccountName),
		"onPremisesDomainName":            stringField(&u.onPremisesDomainName),
		"onPremisesDistinguishedName":     stringField(&u.onPremisesDistinguishedName),
		"assignedLicenses":                objectsField(&u.assignedLicenses),
		"licenseAssignmentStates":         objectsField(&u.licenseAssignmentStates),
	}
}

// graphLicense is a user's licence: an assignedLicense, or a
// licenseAssignmentState (which says the group it comes from).
type graphLicense struct {
	readOnly
	skuId           *uuid.UUID
	assignedByGroup *string
}

// GetFieldDeserializers reads skuId and assignedByGroup.
func (l *graphLicense) GetFieldDeserializers() fields {
	return fields{"skuId": uuidField(&l.skuId), "assignedByGroup": stringField(&l.assignedByGroup)}
}

// graphObject is a directory object or any entity revoke reads only the
// name of: a device among a user's registered and owned devices (told by
// its @odata.type), a directory role, a group, a service principal, a
// mail folder, a provisioning job.
type graphObject struct {
	readOnly
	odataType, id, displayName *string
	accountEnabled             *bool
}

// GetFieldDeserializers reads @odata.type, id, displayName and
// accountEnabled.
func (o *graphObject) GetFieldDeserializers() fields {
	return fields{
		"@odata.type":    stringField(&o.odataType),
		"id":             stringField(&o.id),
		"displayName":    stringField(&o.displayName),
		"accountEnabled": boolField(&o.accountEnabled),
	}
}

// graphGroup is a group, with what says who owns its membership.
type graphGroup struct {
	readOnly
	id, displayName                                        *string
	groupTypes                                             []string
	mailEnabled, onPremisesSyncEnabled, isAssignableToRole *bool
}

// GetFieldDeserializers reads the group properties memberGroups selects.
func (g *graphGroup) GetFieldDeserializers() fields {
	return fields{
		"id":                    stringField(&g.id),
		"displayName":           stringField(&g.displayName),
		"groupTypes":            stringsField(&g.groupTypes),
		"mailEnabled":           boolField(&g.mailEnabled),
		"onPremisesSyncEnabled": boolField(&g.onPremisesSyncEnabled),
		"isAssignableToRole":    boolField(&g.isAssignableToRole),
	}
}

// graphManagedDevice is an Intune managed device.
type graphManagedDevice struct {
	readOnly
	id, deviceName, managementState *string
}

// managementStates are the members of microsoft.graph.managementState.
var managementStates = []string{"managed", "retirePending", "retireFailed", "wipePending", "wipeFailed",
	"unhealthy", "deletePending", "retireIssued", "wipeIssued", "wipeCanceled", "retireCanceled",
	"discovered", "unknownFutureValue"}

// GetFieldDeserializers reads id, deviceName and managementState.
func (m *graphManagedDevice) GetFieldDeserializers() fields {
	return fields{
		"id":              stringField(&m.id),
		"deviceName":      stringField(&m.deviceName),
		"managementState": enumField(&m.managementState, managementStates...),
	}
}

// graphAppRoleAssignment is an app role assignment.
type graphAppRoleAssignment struct {
	readOnly
	id, principalType, resourceDisplayName *string
	principalId, resourceId                *uuid.UUID
}

// GetFieldDeserializers reads the assignment's id, principal and resource.
func (a *graphAppRoleAssignment) GetFieldDeserializers() fields {
	return fields{
		"id":                  stringField(&a.id),
		"principalType":       stringField(&a.principalType),
		"resourceDisplayName": stringField(&a.resourceDisplayName),
		"principalId":         uuidField(&a.principalId),
		"resourceId":          uuidField(&a.resourceId),
	}
}

// graphGrant is a delegated permission grant (oAuth2PermissionGrant).
type graphGrant struct {
	readOnly
	id, clientId, consentType, principalId, scope *string
}

// GetFieldDeserializers reads the grant's id, client, type, principal and
// scope.
func (g *graphGrant) GetFieldDeserializers() fields {
	return fields{
		"id":          stringField(&g.id),
		"clientId":    stringField(&g.clientId),
		"consentType": stringField(&g.consentType),
		"principalId": stringField(&g.principalId),
		"scope":       stringField(&g.scope),
	}
}

// graphRoleAssignment is a directory role assignment, or a PIM
// eligibility or active assignment instance: the same properties.
type graphRoleAssignment struct {
	readOnly
	id, principalId, roleDefinitionId, directoryScopeId, memberType *string
	roleDefinition                                                  *graphObject
}

// GetFieldDeserializers reads the assignment and its expanded role
// definition.
func (a *graphRoleAssignment) GetFieldDeserializers() fields {
	return fields{
		"id":               stringField(&a.id),
		"principalId":      stringField(&a.principalId),
		"roleDefinitionId": stringField(&a.roleDefinitionId),
		"directoryScopeId": stringField(&a.directoryScopeId),
		"memberType":       stringField(&a.memberType),
		"roleDefinition":   objectField(&a.roleDefinition),
	}
}

// graphSku is one of the tenant's subscriptions (subscribedSku).
type graphSku struct {
	readOnly
	skuId         *uuid.UUID
	skuPartNumber *string
}

// GetFieldDeserializers reads skuId and skuPartNumber.
func (s *graphSku) GetFieldDeserializers() fields {
	return fields{"skuId": uuidField(&s.skuId), "skuPartNumber": stringField(&s.skuPartNumber)}
}

// graphAuthMethod is a sign-in method (authenticationMethod): its type is
// its @odata.type, and the properties are those of the types that have
// them.
type graphAuthMethod struct {
	readOnly
	odataType, id, displayName, phoneNumber, phoneType, model, emailAddress *string
	createdDateTime                                                         *time.Time
	isUsable                                                                *bool
}

// GetFieldDeserializers reads what describeMethod names a method by;
// never a secret (an OATH key, a Temporary Access Pass).
func (m *graphAuthMethod) GetFieldDeserializers() fields {
	return fields{
		"@odata.type":     stringField(&m.odataType),
		"id":              stringField(&m.id),
		"displayName":     stringField(&m.displayName),
		"phoneNumber":     stringField(&m.phoneNumber),
		"phoneType":       enumField(&m.phoneType, "mobile", "alternateMobile", "office", "unknownFutureValue"),
		"model":           stringField(&m.model),
		"emailAddress":    stringField(&m.emailAddress),
		"createdDateTime": timeField(&m.createdDateTime),
		"isUsable":        boolField(&m.isUsable),
	}
}

// graphMessageRule is an inbox rule.
type graphMessageRule struct {
	readOnly
	id, displayName *string
	isEnabled       *bool
	conditions      *graphRulePredicates
	actions         *graphRuleActions
}

// GetFieldDeserializers reads the rule's name, state, conditions and
// actions.
func (r *graphMessageRule) GetFieldDeserializers() fields {
	return fields{
		"id":          stringField(&r.id),
		"displayName": stringField(&r.displayName),
		"isEnabled":   boolField(&r.isEnabled),
		"conditions":  objectField(&r.conditions),
		"actions":     objectField(&r.actions),
	}
}

// graphRulePredicates are an inbox rule's conditions
// (messageRulePredicates) revoke reports.
type graphRulePredicates struct {
	readOnly
	fromAddresses, sentToAddresses                      []*graphRecipient
	senderContains, recipientContains, subjectContains  []string
	bodyContains, bodyOrSubjectContains, headerContains []string
	categories                                          []string
	hasAttachments                                      *bool
}

// GetFieldDeserializers reads the conditions revoke reports.
func (p *graphRulePredicates) GetFieldDeserializers() fields {
	return fields{
		"fromAddresses":         objectsField(&p.fromAddresses),
		"sentToAddresses":       objectsField(&p.sentToAddresses),
		"senderContains":        stringsField(&p.senderContains),
		"recipientContains":     stringsField(&p.recipientContains),
		"subjectContains":       stringsField(&p.subjectContains),
		"bodyContains":          stringsField(&p.bodyContains),
		"bodyOrSubjectContains": stringsField(&p.bodyOrSubjectContains),
		"headerContains":        stringsField(&p.headerContains),
		"categories":            stringsField(&p.categories),
		"hasAttachments":        boolField(&p.hasAttachments),
	}
}

// graphRuleActions are an inbox rule's actions (messageRuleActions).
type graphRuleActions struct {
	readOnly
	forwardTo, forwardAsAttachmentTo, redirectTo []*graphRecipient
	delete, permanentDelete, markAsRead          *bool
	stopProcessingRules                          *bool
	moveToFolder, copyToFolder                   *string
}

// GetFieldDeserializers reads the actions revoke reports.
func (a *graphRuleActions) GetFieldDeserializers() fields {
	return fields{
		"forwardTo":             objectsField(&a.forwardTo),
		"forwardAsAttachmentTo": objectsField(&a.forwardAsAttachmentTo),
		"redirectTo":            objectsField(&a.redirectTo),
		"delete":                boolField(&a.delete),
		"permanentDelete":       boolField(&a.permanentDelete),
		"markAsRead":            boolField(&a.markAsRead),
		"stopProcessingRules":   boolField(&a.stopProcessingRules),
		"moveToFolder":          stringField(&a.moveToFolder),
		"copyToFolder":          stringField(&a.copyToFolder),
	}
}

// graphRecipient is a recipient: its emailAddress.
type graphRecipient struct {
	readOnly
	emailAddress *graphEmailAddress
}

// GetFieldDeserializers reads emailAddress.
func (r *graphRecipient) GetFieldDeserializers() fields {
	return fields{"emailAddress": objectField(&r.emailAddress)}
}

// graphEmailAddress is an email address and the name shown with it.
type graphEmailAddress struct {
	readOnly
	address, name *string
}

// GetFieldDeserializers reads address and name.
func (e *graphEmailAddress) GetFieldDeserializers() fields {
	return fields{"address": stringField(&e.address), "name": stringField(&e.name)}
}

// graphRiskyUser is Identity Protection's record of a user.
type graphRiskyUser struct {
	readOnly
	riskState *string
}

// riskStates are the members of microsoft.graph.riskState.
var riskStates = []string{"none", "confirmedSafe", "remediated", "dismissed", "atRisk",
	"confirmedCompromised", "unknownFutureValue"}

// GetFieldDeserializers reads riskState.
func (r *graphRiskyUser) GetFieldDeserializers() fields {
	return fields{"riskState": enumField(&r.riskState, riskStates...)}
}

// graphSyncSchema is a provisioning job's schema: its rules.
type graphSyncSchema struct {
	readOnly
	synchronizationRules []*graphSyncRule
}

// GetFieldDeserializers reads synchronizationRules.
func (s *graphSyncSchema) GetFieldDeserializers() fields {
	return fields{"synchronizationRules": objectsField(&s.synchronizationRules)}
}

// graphSyncRule is one rule of a provisioning schema.
type graphSyncRule struct {
	readOnly
	id, sourceDirectoryName *string
}

// GetFieldDeserializers reads id and sourceDirectoryName.
func (r *graphSyncRule) GetFieldDeserializers() fields {
	return fields{"id": stringField(&r.id), "sourceDirectoryName": stringField(&r.sourceDirectoryName)}
}

// graphKeyValue is a stringKeyStringValuePair: provisionOnDemand's answer.
type graphKeyValue struct {
	readOnly
	key, value *string
}

// GetFieldDeserializers reads key and value.
func (p *graphKeyValue) GetFieldDeserializers() fields {
	return fields{"key": stringField(&p.key), "value": stringField(&p.value)}
}
