package entra

import (
	"github.com/google/uuid"
	"github.com/microsoft/kiota-abstractions-go/serialization"
)

// Request bodies revoke sends, each written as the SDK's model for it
// writes the same properties: the same JSON, property for property and in
// the same order (graphbodies_test.go compares them).

// writeOnly is the GetFieldDeserializers of a type revoke only sends.
type writeOnly struct{}

// GetFieldDeserializers reads nothing: revoke never decodes a body it
// sends.
func (writeOnly) GetFieldDeserializers() fields { return nil }

// objectPatch is a PATCH of a user or a device: the entity's @odata.type,
// as the SDK's constructors set it, and the properties revoke changes.
type objectPatch struct {
	writeOnly
	odataType       string // #microsoft.graph.user, #microsoft.graph.device
	accountEnabled  *bool
	passwordProfile *passwordProfile
}

// Serialize writes @odata.type, then the properties set, in the SDK's
// (alphabetical) order.
func (p *objectPatch) Serialize(w serialization.SerializationWriter) error {
	if err := w.WriteStringValue("@odata.type", &p.odataType); err != nil {
		return err
	}
	if err := w.WriteBoolValue("accountEnabled", p.accountEnabled); err != nil {
		return err
	}
	if p.passwordProfile != nil {
		return w.WriteObjectValue("passwordProfile", p.passwordProfile)
	}
	return nil
}

// passwordProfile is a new password, to be changed at next sign-in.
type passwordProfile struct {
	writeOnly
	forceChangePasswordNextSignIn bool
	password                      string
}

// Serialize writes forceChangePasswordNextSignIn and password.
func (p *passwordProfile) Serialize(w serialization.SerializationWriter) error {
	if err := w.WriteBoolValue("forceChangePasswordNextSignIn", &p.forceChangePasswordNextSignIn); err != nil {
		return err
	}
	return w.WriteStringValue("password", &p.password)
}

// roleScheduleRequest asks PIM to act on an eligible or active role
// assignment (unifiedRoleEligibilityScheduleRequest,
// unifiedRoleAssignmentScheduleRequest: the same properties).
type roleScheduleRequest struct {
	writeOnly
	action, directoryScopeId, justification, principalId, roleDefinitionId string
}

// Serialize writes the request's properties in the SDK's order.
func (r *roleScheduleRequest) Serialize(w serialization.SerializationWriter) error {
	for _, p := range []struct{ k, v string }{
		{"action", r.action}, {"directoryScopeId", r.directoryScopeId}, {"justification", r.justification},
		{"principalId", r.principalId}, {"roleDefinitionId", r.roleDefinitionId},
	} {
		if err := w.WriteStringValue(p.k, &p.v); err != nil {
			return err
		}
	}
	return nil
}

// assignLicense is the body of assignLicense that removes licences and
// adds none (Graph wants both lists).
type assignLicense struct {
	writeOnly
	removeLicenses []uuid.UUID
}

// Serialize writes an empty addLicenses and removeLicenses.
func (a *assignLicense) Serialize(w serialization.SerializationWriter) error {
	if err := w.WriteCollectionOfObjectValues("addLicenses", []serialization.Parsable{}); err != nil {
		return err
	}
	return w.WriteCollectionOfUUIDValues("removeLicenses", a.removeLicenses)
}

// provisionOnDemandBody is the body of provisionOnDemand for one user under
// one rule: {"parameters":[{"ruleId":…,"subjects":[{"objectId":…,
// "objectTypeName":"User"}]}]}.
type provisionOnDemandBody struct {
	writeOnly
	ruleID, userID string
}

// Serialize writes the parameters.
func (p *provisionOnDemandBody) Serialize(w serialization.SerializationWriter) error {
	return w.WriteCollectionOfObjectValues("parameters", []serialization.Parsable{&syncParameters{p.ruleID, p.userID}})
}

// syncParameters is one synchronizationJobApplicationParameters: a rule
// and the user it is applied to.
type syncParameters struct{ ruleID, userID string }

// GetFieldDeserializers reads nothing (sent only).
func (*syncParameters) GetFieldDeserializers() fields { return nil }

// Serialize writes ruleId and the one subject.
func (p *syncParameters) Serialize(w serialization.SerializationWriter) error {
	if err := w.WriteStringValue("ruleId", &p.ruleID); err != nil {
		return err
	}
	return w.WriteCollectionOfObjectValues("subjects", []serialization.Parsable{&syncSubject{p.userID}})
}

// syncSubject is a synchronizationJobSubject naming a user.
type syncSubject struct{ userID string }

// GetFieldDeserializers reads nothing (sent only).
func (*syncSubject) GetFieldDeserializers() fields { return nil }

// Serialize writes objectId and objectTypeName User.
func (s *syncSubject) Serialize(w serialization.SerializationWriter) error {
	if err := w.WriteStringValue("objectId", &s.userID); err != nil {
		return err
	}
	typ := "User"
	return w.WriteStringValue("objectTypeName", &typ)
}
