package entra

// revoke's Graph types against the SDK's models: each body revoke sends
// is the JSON the SDK's model writes, and each answer revoke reads gives
// the values the SDK's model gives. The SDK's models are used here only.

import (
	"context"
	"fmt"
	"go/parser"
	"go/token"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// testAdapter is the request adapter revoke builds, for its serializers
// and parsers.
func testAdapter(t *testing.T) abs.RequestAdapter {
	t.Helper()
	u, _ := url.Parse("https://graph.test/v1.0")
	g, err := newGraphClient(&staticCred{token: "x"}, u, http.DefaultTransport, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return g.GetAdapter()
}

func TestBodiesAreWrittenAsTheSDKWritesThem(t *testing.T) {
	a := testAdapter(t)
	off, on := false, true
	s := func(v string) *string { return &v }
	sku := uuid.MustParse("c7df2760-2c81-4ef7-b578-5b5392b571df")
	tests := []struct {
		name      string
		mine, sdk func() serialization.Parsable
	}{
		{"disable a user",
			func() serialization.Parsable {
				return &objectPatch{odataType: "#microsoft.graph.user", accountEnabled: &off}
			},
			func() serialization.Parsable { u := models.NewUser(); u.SetAccountEnabled(&off); return u }},
		{"disable a device",
			func() serialization.Parsable {
				return &objectPatch{odataType: "#microsoft.graph.device", accountEnabled: &off}
			},
			func() serialization.Parsable { d := models.NewDevice(); d.SetAccountEnabled(&off); return d }},
		{"reset a password (a quote and a backslash in it)",
			func() serialization.Parsable {
				return &objectPatch{odataType: "#microsoft.graph.user",
					passwordProfile: &passwordProfile{password: `a"b\c`, forceChangePasswordNextSignIn: true}}
			},
			func() serialization.Parsable {
				p := models.NewPasswordProfile()
				p.SetPassword(s(`a"b\c`))
				p.SetForceChangePasswordNextSignIn(&on)
				u := models.NewUser()
				u.SetPasswordProfile(p)
				return u
			}},
		{"remove an eligible role",
			func() serialization.Parsable {
				return &roleScheduleRequest{action: "adminRemove", principalId: "p", roleDefinitionId: "r",
					directoryScopeId: "/", justification: "revoke: access removed"}
			},
			func() serialization.Parsable {
				action := models.ADMINREMOVE_UNIFIEDROLESCHEDULEREQUESTACTIONS
				b := models.NewUnifiedRoleEligibilityScheduleRequest()
				b.SetAction(&action)
				b.SetPrincipalId(s("p"))
				b.SetRoleDefinitionId(s("r"))
				b.SetDirectoryScopeId(s("/"))
				b.SetJustification(s("revoke: access removed"))
				return b
			}},
		{"remove an active role",
			func() serialization.Parsable {
				return &roleScheduleRequest{action: "adminRemove", principalId: "p", roleDefinitionId: "r",
					directoryScopeId: "/", justification: "revoke: access removed"}
			},
			func() serialization.Parsable {
				action := models.ADMINREMOVE_UNIFIEDROLESCHEDULEREQUESTACTIONS
				b := models.NewUnifiedRoleAssignmentScheduleRequest()
				b.SetAction(&action)
				b.SetPrincipalId(s("p"))
				b.SetRoleDefinitionId(s("r"))
				b.SetDirectoryScopeId(s("/"))
				b.SetJustification(s("revoke: access removed"))
				return b
			}},
		{"remove licences",
			func() serialization.Parsable { return &assignLicense{removeLicenses: []uuid.UUID{sku}} },
			func() serialization.Parsable {
				b := users.NewItemAssignLicensePostRequestBody()
				b.SetAddLicenses([]models.AssignedLicenseable{})
				b.SetRemoveLicenses([]uuid.UUID{sku})
				return b
			}},
		{"provision on demand",
			func() serialization.Parsable { return &provisionOnDemandBody{ruleID: "rule", userID: "u"} },
			func() serialization.Parsable {
				subject := models.NewSynchronizationJobSubject()
				subject.SetObjectId(s("u"))
				subject.SetObjectTypeName(s("User"))
				params := models.NewSynchronizationJobApplicationParameters()
				params.SetRuleId(s("rule"))
				params.SetSubjects([]models.SynchronizationJobSubjectable{subject})
				b := serviceprincipals.NewItemSynchronizationJobsItemProvisionOnDemandPostRequestBody()
				b.SetParameters([]models.SynchronizationJobApplicationParametersable{params})
				return b
			}},
	}
	write := func(p serialization.Parsable) string {
		info := abs.NewRequestInformation()
		if err := info.SetContentFromParsable(context.Background(), a, "application/json", p); err != nil {
			t.Fatal(err)
		}
		return string(info.Content)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := write(tt.mine()), write(tt.sdk()); got != want {
				t.Errorf("revoke writes\n%s\nthe SDK writes\n%s", got, want)
			}
		})
	}
}

func TestTypesReadWhatTheSDKReads(t *testing.T) {
	testAdapter(t) // registers the JSON parse node factory
	tests := []struct {
		name string
		json string
		mine func(serialization.ParseNode) (any, error)
		sdk  func(serialization.ParseNode) (any, error)
	}{
		{"a user, every property revoke reads, and some it does not",
			`{"@odata.type":"#microsoft.graph.user","id":"u1","userPrincipalName":"adele@contoso.test","displayName":"Adele",
			"userType":"Member","accountEnabled":true,"onPremisesSyncEnabled":null,"signInSessionsValidFromDateTime":"2026-12-07T05:00:00Z",
			"onPremisesSecurityIdentifier":"S-1-5-21-1-2-3-1104","onPremisesImmutableId":"aW1t","onPremisesSamAccountName":"adele",
			"onPremisesDomainName":"contoso.test","onPremisesDistinguishedName":"CN=Adele,DC=contoso,DC=test","jobTitle":"CFO",
			"assignedLicenses":[{"skuId":"c7df2760-2c81-4ef7-b578-5b5392b571df","disabledPlans":[]}],
			"licenseAssignmentStates":[{"skuId":"c7df2760-2c81-4ef7-b578-5b5392b571df","assignedByGroup":"g1","state":"Active"},
				{"skuId":"c7df2760-2c81-4ef7-b578-5b5392b571df","assignedByGroup":null}]}`,
			decodeMine[graphUser](func(u *graphUser) any {
				var lic, states []any
				for _, l := range u.assignedLicenses {
					lic = append(lic, l.skuId.String())
				}
				for _, l := range u.licenseAssignmentStates {
					states = append(states, []any{l.skuId.String(), l.assignedByGroup})
				}
				return []any{u.id, u.userPrincipalName, u.displayName, u.userType, u.accountEnabled, u.onPremisesSyncEnabled,
					u.signInSessionsValidFromDateTime, u.onPremisesSecurityIdentifier, u.onPremisesImmutableId,
					u.onPremisesSamAccountName, u.onPremisesDomainName, u.onPremisesDistinguishedName, lic, states}
			}),
			decodeSDK(models.CreateUserFromDiscriminatorValue, func(u models.Userable) any {
				var lic, states []any
				for _, l := range u.GetAssignedLicenses() {
					lic = append(lic, l.GetSkuId().String())
				}
				for _, l := range u.GetLicenseAssignmentStates() {
					states = append(states, []any{l.GetSkuId().String(), l.GetAssignedByGroup()})
				}
				return []any{u.GetId(), u.GetUserPrincipalName(), u.GetDisplayName(), u.GetUserType(), u.GetAccountEnabled(),
					u.GetOnPremisesSyncEnabled(), u.GetSignInSessionsValidFromDateTime(), u.GetOnPremisesSecurityIdentifier(),
					u.GetOnPremisesImmutableId(), u.GetOnPremisesSamAccountName(), u.GetOnPremisesDomainName(),
					u.GetOnPremisesDistinguishedName(), lic, states}
			})},
		{"a page of users with a next link",
			`{"@odata.context":"x","@odata.count":2,"value":[{"id":"u1","userPrincipalName":"a@contoso.test"},{"id":"u2"}],
			"@odata.nextLink":"https://graph.test/v1.0/users?$skiptoken=2"}`,
			decodeMine[collection[graphUser, *graphUser]](func(p *collection[graphUser, *graphUser]) any {
				var v []any
				for _, u := range p.value {
					v = append(v, []any{u.id, u.userPrincipalName})
				}
				return []any{v, p.odataNextLink}
			}),
			decodeSDK(models.CreateUserCollectionResponseFromDiscriminatorValue, func(p models.UserCollectionResponseable) any {
				var v []any
				for _, u := range p.GetValue() {
					v = append(v, []any{u.GetId(), u.GetUserPrincipalName()})
				}
				return []any{v, p.GetOdataNextLink()}
			})},
		{"sign-in methods of every type, and one of an unknown type",
			`{"value":[{"@odata.type":"#microsoft.graph.passwordAuthenticationMethod","id":"p","createdDateTime":"2024-01-15T09:00:00Z"},
			{"@odata.type":"#microsoft.graph.microsoftAuthenticatorAuthenticationMethod","id":"m1","displayName":"iPhone 15","createdDateTime":"2026-12-07T09:02:00Z"},
			{"@odata.type":"#microsoft.graph.phoneAuthenticationMethod","id":"m2","phoneNumber":"+1 5555550100","phoneType":"alternateMobile"},
			{"@odata.type":"#microsoft.graph.phoneAuthenticationMethod","id":"m2b","phoneNumber":"+1 5555550101","phoneType":"satellite"},
			{"@odata.type":"#microsoft.graph.fido2AuthenticationMethod","id":"m3","displayName":"YubiKey 5","model":"YubiKey 5 NFC","createdDateTime":"2025-03-01T10:00:00Z"},
			{"@odata.type":"#microsoft.graph.emailAuthenticationMethod","id":"m4","emailAddress":"a@example.test"},
			{"@odata.type":"#microsoft.graph.softwareOathAuthenticationMethod","id":"m5","secretKey":"never read"},
			{"@odata.type":"#microsoft.graph.temporaryAccessPassAuthenticationMethod","id":"m6","isUsable":true,"temporaryAccessPass":"never read","createdDateTime":"2026-12-08T01:00:00Z"},
			{"@odata.type":"#microsoft.graph.platformCredentialAuthenticationMethod","id":"m7","displayName":"MacBook","createdDateTime":"2026-10-01T08:00:00Z"},
			{"@odata.type":"#microsoft.graph.windowsHelloForBusinessAuthenticationMethod","id":"m8","displayName":"PC","createdDateTime":"2026-10-01T08:00:00Z"},
			{"@odata.type":"#microsoft.graph.qrCodePinAuthenticationMethod","id":"m9"}]}`,
			decodeMine[collection[graphAuthMethod, *graphAuthMethod]](func(p *collection[graphAuthMethod, *graphAuthMethod]) any {
				var v []any
				for _, m := range p.value {
					am, err := describeMethod(m)
					v = append(v, []any{am, err})
				}
				return v
			}),
			decodeSDK(models.CreateAuthenticationMethodCollectionResponseFromDiscriminatorValue, func(p models.AuthenticationMethodCollectionResponseable) any {
				var v []any
				for _, m := range p.GetValue() {
					am, err := sdkDescribeMethod(m)
					v = append(v, []any{am, err})
				}
				return v
			})},
		{"inbox rules",
			`{"value":[{"id":"r1","displayName":"fwd","isEnabled":false,"sequence":1,
			"conditions":{"fromAddresses":[{"emailAddress":{"address":"boss@contoso.test","name":"Boss"}},{"emailAddress":{"name":"Only a name"}}],
				"sentToAddresses":[{"emailAddress":{"address":"me@contoso.test"}}],"senderContains":["a"],"recipientContains":["b"],
				"subjectContains":["invoice","wire"],"bodyContains":["c"],"bodyOrSubjectContains":["d"],"headerContains":["e"],
				"categories":["f"],"hasAttachments":true,"importance":"high"},
			"actions":{"forwardTo":[{"emailAddress":{"address":"evil@example.net"}}],"forwardAsAttachmentTo":[{"emailAddress":{"address":"x@example.net"}}],
				"redirectTo":[{"emailAddress":{"address":"y@example.net"}}],"delete":true,"permanentDelete":false,"markAsRead":true,
				"stopProcessingRules":true,"moveToFolder":"AAMk1","copyToFolder":"AAMk2","assignCategories":["g"]}},
			{"id":"r2","displayName":"bare"}]}`,
			decodeMine[collection[graphMessageRule, *graphMessageRule]](func(p *collection[graphMessageRule, *graphMessageRule]) any {
				var v []any
				for _, r := range p.value {
					row := []any{r.id, r.displayName, r.isEnabled}
					if c := r.conditions; c != nil {
						row = append(row, addresses(c.fromAddresses), addresses(c.sentToAddresses), c.senderContains, c.recipientContains,
							c.subjectContains, c.bodyContains, c.bodyOrSubjectContains, c.headerContains, c.categories, c.hasAttachments)
					}
					if a := r.actions; a != nil {
						row = append(row, addresses(a.forwardTo), addresses(a.forwardAsAttachmentTo), addresses(a.redirectTo),
							a.delete, a.permanentDelete, a.markAsRead, a.stopProcessingRules, a.moveToFolder, a.copyToFolder)
					}
					v = append(v, row)
				}
				return v
			}),
			decodeSDK(models.CreateMessageRuleCollectionResponseFromDiscriminatorValue, func(p models.MessageRuleCollectionResponseable) any {
				var v []any
				for _, r := range p.GetValue() {
					row := []any{r.GetId(), r.GetDisplayName(), r.GetIsEnabled()}
					if c := r.GetConditions(); c != nil {
						row = append(row, sdkAddresses(c.GetFromAddresses()), sdkAddresses(c.GetSentToAddresses()), c.GetSenderContains(),
							c.GetRecipientContains(), c.GetSubjectContains(), c.GetBodyContains(), c.GetBodyOrSubjectContains(),
							c.GetHeaderContains(), c.GetCategories(), c.GetHasAttachments())
					}
					if a := r.GetActions(); a != nil {
						row = append(row, sdkAddresses(a.GetForwardTo()), sdkAddresses(a.GetForwardAsAttachmentTo()), sdkAddresses(a.GetRedirectTo()),
							a.GetDelete(), a.GetPermanentDelete(), a.GetMarkAsRead(), a.GetStopProcessingRules(), a.GetMoveToFolder(), a.GetCopyToFolder())
					}
					v = append(v, row)
				}
				return v
			})},
		{"PIM eligibilities with their role definitions",
			`{"value":[{"id":"e1","principalId":"u1","roleDefinitionId":"rd1","directoryScopeId":"/","memberType":"Direct",
				"roleDefinition":{"id":"rd1","displayName":"Global Administrator","isBuiltIn":true}},
			{"id":"e2","principalId":"u1","roleDefinitionId":"rd2","directoryScopeId":"/au/1","memberType":"Group","roleDefinition":null}]}`,
			decodeMine[collection[graphRoleAssignment, *graphRoleAssignment]](func(p *collection[graphRoleAssignment, *graphRoleAssignment]) any {
				var v []any
				for _, a := range p.value {
					var def *string
					if a.roleDefinition != nil {
						def = a.roleDefinition.displayName
					}
					v = append(v, []any{a.id, a.principalId, a.roleDefinitionId, a.directoryScopeId, a.memberType, def})
				}
				return v
			}),
			decodeSDK(models.CreateUnifiedRoleEligibilityScheduleInstanceCollectionResponseFromDiscriminatorValue,
				func(p models.UnifiedRoleEligibilityScheduleInstanceCollectionResponseable) any {
					var v []any
					for _, a := range p.GetValue() {
						var def *string
						if a.GetRoleDefinition() != nil {
							def = a.GetRoleDefinition().GetDisplayName()
						}
						v = append(v, []any{a.GetId(), a.GetPrincipalId(), a.GetRoleDefinitionId(), a.GetDirectoryScopeId(), a.GetMemberType(), def})
					}
					return v
				})},
		{"groups",
			`{"value":[{"id":"g1","displayName":"Sales","groupTypes":["Unified","DynamicMembership"],"mailEnabled":true,
				"onPremisesSyncEnabled":null,"isAssignableToRole":false},{"id":"g2","groupTypes":[]}]}`,
			decodeMine[collection[graphGroup, *graphGroup]](func(p *collection[graphGroup, *graphGroup]) any {
				var v []any
				for _, g := range p.value {
					v = append(v, []any{g.id, g.displayName, g.groupTypes, g.mailEnabled, g.onPremisesSyncEnabled, g.isAssignableToRole})
				}
				return v
			}),
			decodeSDK(models.CreateGroupCollectionResponseFromDiscriminatorValue, func(p models.GroupCollectionResponseable) any {
				var v []any
				for _, g := range p.GetValue() {
					v = append(v, []any{g.GetId(), g.GetDisplayName(), g.GetGroupTypes(), g.GetMailEnabled(), g.GetOnPremisesSyncEnabled(),
						g.GetIsAssignableToRole()})
				}
				return v
			})},
		{"registered devices among other directory objects",
			`{"value":[{"@odata.type":"#microsoft.graph.device","id":"d1","displayName":"LAPTOP","accountEnabled":true},
			{"@odata.type":"#microsoft.graph.device","id":"d2","accountEnabled":null},
			{"@odata.type":"#microsoft.graph.user","id":"u9","displayName":"not a device","accountEnabled":true},
			{"id":"x","displayName":"no type"}]}`,
			decodeMine[collection[graphObject, *graphObject]](func(p *collection[graphObject, *graphObject]) any {
				var v []any
				for _, o := range p.value {
					if deref(o.odataType) == "#microsoft.graph.device" {
						v = append(v, []any{o.id, o.displayName, o.accountEnabled})
					}
				}
				return v
			}),
			decodeSDK(models.CreateDirectoryObjectCollectionResponseFromDiscriminatorValue, func(p models.DirectoryObjectCollectionResponseable) any {
				var v []any
				for _, o := range p.GetValue() {
					if d, ok := o.(models.Deviceable); ok {
						v = append(v, []any{d.GetId(), d.GetDisplayName(), d.GetAccountEnabled()})
					}
				}
				return v
			})},
		{"managed devices, one in a state the SDK does not know",
			`{"value":[{"id":"m1","deviceName":"PHONE","managementState":"retirePending"},{"id":"m2","managementState":"wipeIssued"},
			{"id":"m3","managementState":"someday"},{"id":"m4"}]}`,
			decodeMine[collection[graphManagedDevice, *graphManagedDevice]](func(p *collection[graphManagedDevice, *graphManagedDevice]) any {
				var v []any
				for _, m := range p.value {
					v = append(v, []any{m.id, m.deviceName, managedDone("retire", m.managementState), managedDone("wipe", m.managementState)})
				}
				return v
			}),
			decodeSDK(models.CreateManagedDeviceCollectionResponseFromDiscriminatorValue, func(p models.ManagedDeviceCollectionResponseable) any {
				var v []any
				for _, m := range p.GetValue() {
					v = append(v, []any{m.GetId(), m.GetDeviceName(), sdkManagedDone("retire", m.GetManagementState()),
						sdkManagedDone("wipe", m.GetManagementState())})
				}
				return v
			})},
		{"consents",
			`{"value":[{"id":"g1","clientId":"sp1","consentType":"Principal","principalId":"u1","resourceId":"r","scope":" Mail.Read  openid "}]}`,
			decodeMine[collection[graphGrant, *graphGrant]](func(p *collection[graphGrant, *graphGrant]) any {
				var v []any
				for _, g := range p.value {
					v = append(v, []any{g.id, g.clientId, g.consentType, g.principalId, g.scope})
				}
				return v
			}),
			decodeSDK(models.CreateOAuth2PermissionGrantCollectionResponseFromDiscriminatorValue, func(p models.OAuth2PermissionGrantCollectionResponseable) any {
				var v []any
				for _, g := range p.GetValue() {
					v = append(v, []any{g.GetId(), g.GetClientId(), g.GetConsentType(), g.GetPrincipalId(), g.GetScope()})
				}
				return v
			})},
		{"app role assignments",
			`{"value":[{"id":"a1","principalId":"5f1c2a8e-3d4b-4c6a-9e7f-0a1b2c3d4e5f","principalType":"User","resourceDisplayName":"Salesforce",
				"resourceId":"0e1d2c3b-4a59-6877-8695-a4b3c2d1e0f9","appRoleId":"00000000-0000-0000-0000-000000000000"}]}`,
			decodeMine[collection[graphAppRoleAssignment, *graphAppRoleAssignment]](func(p *collection[graphAppRoleAssignment, *graphAppRoleAssignment]) any {
				var v []any
				for _, a := range p.value {
					v = append(v, []any{a.id, a.principalId.String(), a.principalType, a.resourceDisplayName, a.resourceId.String()})
				}
				return v
			}),
			decodeSDK(models.CreateAppRoleAssignmentCollectionResponseFromDiscriminatorValue, func(p models.AppRoleAssignmentCollectionResponseable) any {
				var v []any
				for _, a := range p.GetValue() {
					v = append(v, []any{a.GetId(), a.GetPrincipalId().String(), a.GetPrincipalType(), a.GetResourceDisplayName(), a.GetResourceId().String()})
				}
				return v
			})},
		{"subscriptions",
			`{"value":[{"skuId":"c7df2760-2c81-4ef7-b578-5b5392b571df","skuPartNumber":"ENTERPRISEPREMIUM","prepaidUnits":{"enabled":5}}]}`,
			decodeMine[collection[graphSku, *graphSku]](func(p *collection[graphSku, *graphSku]) any {
				var v []any
				for _, s := range p.value {
					v = append(v, []any{s.skuId.String(), s.skuPartNumber})
				}
				return v
			}),
			decodeSDK(models.CreateSubscribedSkuCollectionResponseFromDiscriminatorValue, func(p models.SubscribedSkuCollectionResponseable) any {
				var v []any
				for _, s := range p.GetValue() {
					v = append(v, []any{s.GetSkuId().String(), s.GetSkuPartNumber()})
				}
				return v
			})},
		{"a risky user",
			`{"id":"u1","riskState":"confirmedCompromised","riskLevel":"high"}`,
			decodeMine[graphRiskyUser](func(r *graphRiskyUser) any { return r.riskState }),
			decodeSDK(models.CreateRiskyUserFromDiscriminatorValue, func(r models.RiskyUserable) any {
				if s := r.GetRiskState(); s != nil {
					v := s.String()
					return &v
				}
				return (*string)(nil)
			})},
		{"a risky user in a state the SDK does not know",
			`{"id":"u1","riskState":"somethingNew"}`,
			decodeMine[graphRiskyUser](func(r *graphRiskyUser) any { return r.riskState }),
			decodeSDK(models.CreateRiskyUserFromDiscriminatorValue, func(r models.RiskyUserable) any {
				if s := r.GetRiskState(); s != nil {
					v := s.String()
					return &v
				}
				return (*string)(nil)
			})},
		{"a provisioning schema",
			`{"id":"s","synchronizationRules":[{"id":"r1","sourceDirectoryName":"Azure Active Directory","objectMappings":[]},{"id":"r2"}]}`,
			decodeMine[graphSyncSchema](func(s *graphSyncSchema) any {
				var v []any
				for _, r := range s.synchronizationRules {
					v = append(v, []any{r.id, r.sourceDirectoryName})
				}
				return v
			}),
			decodeSDK(models.CreateSynchronizationSchemaFromDiscriminatorValue, func(s models.SynchronizationSchemaable) any {
				var v []any
				for _, r := range s.GetSynchronizationRules() {
					v = append(v, []any{r.GetId(), r.GetSourceDirectoryName()})
				}
				return v
			})},
		{"provisionOnDemand's answer",
			`{"@odata.context":"x","key":"{\"result\":\"Success\"}","value":"{\"action\":\"Delete\"}"}`,
			decodeMine[graphKeyValue](func(p *graphKeyValue) any { return []any{p.key, p.value} }),
			decodeSDK(models.CreateStringKeyStringValuePairFromDiscriminatorValue, func(p models.StringKeyStringValuePairable) any {
				return []any{p.GetKey(), p.GetValue()}
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parse := func() serialization.ParseNode {
				n, err := serialization.DefaultParseNodeFactoryInstance.GetRootParseNode("application/json", []byte(tt.json))
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			mine, err := tt.mine(parse())
			if err != nil {
				t.Fatal(err)
			}
			sdk, err := tt.sdk(parse())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(mine, sdk) {
				t.Errorf("revoke reads\n%s\nthe SDK reads\n%s", show(mine), show(sdk))
			}
		})
	}
}

// decodeMine decodes a parse node as a T and views it.
func decodeMine[T any, P parsable[T]](view func(P) any) func(serialization.ParseNode) (any, error) {
	return func(n serialization.ParseNode) (any, error) {
		v, err := n.GetObjectValue(factory[T, P])
		if err != nil {
			return nil, err
		}
		return view(v.(P)), nil
	}
}

// decodeSDK decodes a parse node as the SDK's model and views it.
func decodeSDK[M any](f serialization.ParsableFactory, view func(M) any) func(serialization.ParseNode) (any, error) {
	return func(n serialization.ParseNode) (any, error) {
		v, err := n.GetObjectValue(f)
		if err != nil {
			return nil, err
		}
		return view(v.(M)), nil
	}
}

// show renders a view with pointers followed, for a failure's message.
func show(v any) string {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Invalid:
		return "<nil>"
	case reflect.Pointer:
		if rv.IsNil() {
			return "nil"
		}
		return show(rv.Elem().Interface())
	case reflect.Slice:
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = show(rv.Index(i).Interface())
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprintf("%+v", v)
}

// sdkDescribeMethod is describeMethod as it was written on the SDK's
// models (before revoke's own types), for the comparison.
func sdkDescribeMethod(m models.AuthenticationMethodable) (authMethod, error) {
	id := deref(m.GetId())
	t := deref(m.GetOdataType())
	kind, ok := strings.CutPrefix(t, "#microsoft.graph.")
	if ok {
		kind, ok = strings.CutSuffix(kind, "AuthenticationMethod")
	}
	if !ok || kind == "" || id == "" {
		return authMethod{}, nil
	}
	am := authMethod{id: id, kind: kind}
	added := func(name string, created interface{ GetCreatedDateTime() *time.Time }) string {
		var extra []string
		if name != "" {
			extra = append(extra, name)
		}
		if t := created.GetCreatedDateTime(); t != nil {
			extra = append(extra, "added "+t.UTC().Format(time.DateOnly))
		}
		if len(extra) == 0 {
			return ""
		}
		return " (" + strings.Join(extra, ", ") + ")"
	}
	switch v := m.(type) {
	case models.MicrosoftAuthenticatorAuthenticationMethodable:
		am.name = "Microsoft Authenticator" + added(deref(v.GetDisplayName()), v)
	case models.PhoneAuthenticationMethodable:
		am.name = "phone " + deref(v.GetPhoneNumber())
		if pt := v.GetPhoneType(); pt != nil {
			am.name += " (" + pt.String() + ")"
			am.mobile = *pt == models.MOBILE_AUTHENTICATIONPHONETYPE
		}
	case models.Fido2AuthenticationMethodable:
		name := deref(v.GetDisplayName())
		if model := deref(v.GetModel()); model != "" && model != name {
			name = strings.TrimSpace(name + " " + model)
		}
		am.name = "FIDO2 key" + added(name, v)
	case models.EmailAuthenticationMethodable:
		am.name = "email " + deref(v.GetEmailAddress())
	case models.SoftwareOathAuthenticationMethodable:
		am.name = "software OATH token"
	case models.TemporaryAccessPassAuthenticationMethodable:
		usable := ""
		if deref(v.GetIsUsable()) {
			usable = "usable"
		}
		am.name = "Temporary Access Pass" + added(usable, v)
	case models.PlatformCredentialAuthenticationMethodable:
		am.name = "platform credential" + added(deref(v.GetDisplayName()), v)
	case models.WindowsHelloForBusinessAuthenticationMethodable:
		am.name = "Windows Hello for Business" + added(deref(v.GetDisplayName()), v)
	default:
		am.name = kind + " method " + id
	}
	return am, nil
}

// sdkAddresses is addresses on the SDK's recipients.
func sdkAddresses(rs []models.Recipientable) []string {
	var out []string
	for _, r := range rs {
		if e := r.GetEmailAddress(); e != nil {
			if a := deref(e.GetAddress()); a != "" {
				out = append(out, a)
			} else if n := deref(e.GetName()); n != "" {
				out = append(out, n)
			}
		}
	}
	return out
}

// sdkManagedDone is managedDone on the SDK's enumeration.
func sdkManagedDone(action string, state *models.ManagementState) bool {
	if state == nil {
		return false
	}
	s := state.String()
	return managedDone(action, &s)
}

// modelsImport is how a file imports the SDK's models package.
var modelsImport = regexp.MustCompile(`^github\.com/microsoftgraph/msgraph-sdk-go/models$`)

// sdkDecoding is a call of a request builder's method that decodes the
// answer into the SDK's models (Get, Patch, Put, Post with a model
// answer; its first argument is not a string, as a header's Get's is):
// revoke sends through send and sendPage instead. Delete, and the Posts
// that answer nothing (noModelPosts) or no model (RevokeSignInSessions'
// PostAs…), stay.
var sdkDecoding = regexp.MustCompile(`(\w*)\(?\)?\.(Get|Patch|Put|Post)\([^"]`)

// noModelPosts are the builders whose Post answers nothing.
var noModelPosts = map[string]bool{"Retire": true, "Wipe": true, "ConfirmCompromised": true}

// The production code names none of the SDK's models: naming one links
// all of Graph v1.0 (about 20 MB; docs/benchmarks.md).
func TestProductionCodeNamesNoGraphModel(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			if modelsImport.MatchString(strings.Trim(imp.Path.Value, `"`)) {
				t.Errorf("%s imports %s", f, imp.Path.Value)
			}
		}
		for _, m := range sdkDecoding.FindAllStringSubmatch(string(src), -1) {
			if m[2] == "Post" && noModelPosts[m[1]] {
				continue
			}
			t.Errorf("%s calls the SDK's %s, which decodes into its models", f, strings.TrimSpace(m[0]))
		}
		checked++
	}
	if checked < 20 {
		t.Errorf("only %d files checked", checked)
	}
}
