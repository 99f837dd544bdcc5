package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

var deviceProps = &propSet{
	typeName: "microsoft.graph.device",
	// v1.0's device has no extensionAttributes (beta's has): a PATCH may
	// still send them, as the SDK's model does, but no answer shows them.
	names:    []string{"id", "deviceId", "displayName", "operatingSystem", "operatingSystemVersion", "accountEnabled", "trustType"},
	defaults: []string{"id", "deviceId", "displayName", "operatingSystem", "operatingSystemVersion", "accountEnabled", "trustType"},
}

func deviceJSON(v *Device, props []string) map[string]any {
	m := map[string]any{"@odata.type": "#microsoft.graph.device"}
	for _, p := range props {
		switch p {
		case "id":
			m[p] = v.ID
		case "deviceId":
			m[p] = v.DeviceID
		case "displayName":
			m[p] = v.DisplayName
		case "operatingSystem":
			m[p] = v.OperatingSystem
		case "operatingSystemVersion":
			m[p] = nil
		case "accountEnabled":
			m[p] = v.AccountEnabled
		case "trustType":
			m[p] = "Workplace"
		}
	}
	return m
}

// deviceByID finds a device by object id. Callers hold the lock.
func (d *Directory) deviceByID(id string) *Device {
	return byID(d.Devices, func(v *Device) string { return v.ID }, id)
}

// byID finds the object whose key — a Graph id, an LDAP DN, both compared
// case-insensitively — is want. Callers hold the directory's lock.
func byID[T any](objects []*T, id func(*T) string, want string) *T {
	for _, o := range objects {
		if strings.EqualFold(id(o), want) {
			return o
		}
	}
	return nil
}

func listDevices(c *call) *response {
	props, explicit, r := c.selected(deviceProps)
	if r != nil {
		return r
	}
	prop, value := "", ""
	if f := c.query.Get("$filter"); f != "" {
		var ok bool
		prop, value, ok = parseEqFilter(f)
		if !ok || (!strings.EqualFold(prop, "deviceId") && !strings.EqualFold(prop, "displayName")) {
			return c.err(http.StatusBadRequest, "Request_UnsupportedQuery", fmt.Sprintf("Unsupported or invalid query filter clause specified for property '%s' of resource 'Device'.", prop))
		}
	}
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	out := []map[string]any{}
	for _, v := range d.Devices {
		switch {
		case strings.EqualFold(prop, "deviceId") && !strings.EqualFold(v.DeviceID, value),
			strings.EqualFold(prop, "displayName") && !strings.EqualFold(v.DisplayName, value):
			continue
		}
		out = append(out, deviceJSON(v, props))
	}
	return c.page(contextURL("devices", props, explicit, false), out)
}

func getDevice(c *call) *response {
	props, explicit, r := c.selected(deviceProps)
	if r != nil {
		return r
	}
	return withObject(c, 1, (*Directory).deviceByID, func(_ *Directory, v *Device) *response {
		m := deviceJSON(v, props)
		m["@odata.context"] = contextURL("devices", props, explicit, true)
		return jsonResp(http.StatusOK, m)
	})
}

// patchDevice updates a device. An app-only caller may change
// accountEnabled only when its service principal holds Cloud Device
// Administrator, Intune Administrator or Global Administrator (Graph lets
// Device.ReadWrite.All alone touch only extensionAttributes).
func patchDevice(c *call) *response {
	m, r := c.object()
	if r != nil {
		return r
	}
	var enabled *bool
	for k, raw := range m {
		switch {
		case k == "accountEnabled":
			var b bool
			if json.Unmarshal(raw, &b) != nil {
				return c.err(http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'accountEnabled' of resource 'Device'.")
			}
			enabled = &b
		case k == "extensionAttributes", strings.HasPrefix(k, "@odata."):
		case deviceProps.canonical(k) != "":
			return c.err(http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Property '%s' is read-only and cannot be set.", k))
		default:
			return c.err(http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Property '%s' does not exist as a declared property or extension property.", k))
		}
	}
	return withObject(c, 1, (*Directory).deviceByID, func(_ *Directory, v *Device) *response {
		resp := noContent()
		if enabled != nil {
			if !hasAnyRole(c.appRoles(), rolesDevice...) {
				return c.forbidden()
			}
			v.AccountEnabled = *enabled
			resp.detail = fmt.Sprintf("accountEnabled=%t", *enabled)
		}
		return resp
	})
}

// userDevices lists registeredDevices or ownedDevices as directoryObjects.
func userDevices(c *call) *response {
	props, explicit, r := c.selected(deviceProps)
	if r != nil {
		return r
	}
	owned := strings.EqualFold(c.segs[2], "ownedDevices")
	return c.withUser(func(d *Directory, u *User) *response {
		out := []map[string]any{}
		for _, v := range d.Devices {
			list := v.RegisteredUsers
			if owned {
				list = v.RegisteredOwners
			}
			if contains(list, u.ID) {
				out = append(out, deviceJSON(v, props))
			}
		}
		return c.page(contextURL("directoryObjects", props, explicit, false), out)
	})
}

// managedProps are the managedDevice properties the sandbox renders.
var managedProps = &propSet{typeName: "microsoft.graph.managedDevice",
	names: []string{"id", "deviceName", "userId", "userPrincipalName", "operatingSystem", "managementState",
		"managedDeviceOwnerType", "complianceState"}}

func (d *Directory) managedJSON(m *ManagedDevice) map[string]any {
	upn := ""
	for _, u := range d.Users {
		if u.ID == m.UserID {
			upn = u.UserPrincipalName
		}
	}
	return map[string]any{
		"@odata.type": "#microsoft.graph.managedDevice",
		"id":          m.ID, "deviceName": m.DeviceName, "userId": m.UserID, "userPrincipalName": upn,
		"operatingSystem": m.OS, "managementState": m.State, "managedDeviceOwnerType": "company",
		"complianceState": "compliant",
	}
}

func (d *Directory) managedByID(id string) *ManagedDevice {
	return byID(d.ManagedDevices, func(m *ManagedDevice) string { return m.ID }, id)
}

func userManagedDevices(c *call) *response {
	return c.withUser(func(d *Directory, u *User) *response {
		out := []map[string]any{}
		for _, m := range d.ManagedDevices {
			if m.UserID == u.ID {
				out = append(out, d.managedJSON(m))
			}
		}
		return c.pageSelected("users('"+u.ID+"')/managedDevices", managedProps, out)
	})
}

func listManagedDevices(c *call) *response {
	user := ""
	if f := c.query.Get("$filter"); f != "" {
		prop, value, ok := parseEqFilter(f)
		if !ok || !strings.EqualFold(prop, "userId") {
			return c.err(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid filter clause: the sandbox supports only userId eq 'id', got '%s'.", f))
		}
		user = strings.ToLower(value)
	}
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	out := []map[string]any{}
	for _, m := range d.ManagedDevices {
		if user == "" || m.UserID == user {
			out = append(out, d.managedJSON(m))
		}
	}
	return c.pageSelected("deviceManagement/managedDevices", managedProps, out)
}

func getManagedDevice(c *call) *response {
	return withObject(c, 2, (*Directory).managedByID, func(d *Directory, m *ManagedDevice) *response {
		j := d.managedJSON(m)
		j["@odata.context"] = metadata + "deviceManagement/managedDevices/$entity"
		return jsonResp(http.StatusOK, j)
	})
}

// managedDeviceAction is wipe or retire: the device goes to wipePending or
// retirePending. A wipe body, when sent, must be a JSON object.
func managedDeviceAction(c *call) *response {
	action := strings.ToLower(c.segs[3])
	if len(strings.TrimSpace(string(c.body))) > 0 {
		var body struct {
			KeepEnrollmentData  *bool   `json:"keepEnrollmentData"`
			KeepUserData        *bool   `json:"keepUserData"`
			MacOsUnlockCode     *string `json:"macOsUnlockCode"`
			PersistEsimDataPlan *bool   `json:"persistEsimDataPlan"`
		}
		if r := c.decode(&body); r != nil {
			return r
		}
	}
	return withObject(c, 2, (*Directory).managedByID, func(_ *Directory, m *ManagedDevice) *response {
		if action == "wipe" {
			m.State = "wipePending"
		} else {
			m.State = "retirePending"
		}
		r := noContent()
		r.detail = action
		return r
	})
}
