package entra

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/devicemanagement"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

var disableDevices = implement(entraspec.DisableDevices, func() steps.Step { return &disableDevicesStep{} })

// disableDevicesStep implements entra.disable_devices. The engine makes one
// per step run, so what Check listed can carry over to the Apply that
// follows it.
type disableDevicesStep struct {
	// checked is Check's plan, taken by the first Apply: the lists were read
	// a moment earlier, and reading them again would put one more round
	// trip on the way to containment. A device registered in between is
	// found by Verify, which lists again. A retried Apply plans afresh.
	checked *devicePlan
}

var (
	_ steps.Step     = (*disableDevicesStep)(nil)
	_ steps.Verifier = (*disableDevicesStep)(nil)
)

// maxDeviceActions bounds the device writes in flight at once: a person's
// handful of devices go in one round trip, a shared account's hundreds do
// not flood the tenant's throttling budget. entraspec.DisableDevices'
// description says "eight".
const maxDeviceActions = 8

var disableDevicesErrors = errorContext{permission: disableDevices.Needs(entraspec.KindApplication)[0]}

// object is a device or managed device the step acts on.
type object struct{ id, name string }

// devicePlan is what is left to do: the enabled directory devices and the
// managed devices not yet retired or wiped.
type devicePlan struct {
	devices []object
	managed []object
	action  string // managed_action
}

func (p devicePlan) empty() bool { return len(p.devices) == 0 && len(p.managed) == 0 }

// summary renders the plan, "3 devices: LAPTOP-1, PHONE-2, TABLET-3;
// retire 1 managed device: LAPTOP-1", or what was done, "disabled 3
// devices: …; retired 1 managed device: …".
func (p devicePlan) summary(done bool) string {
	var parts []string
	disable, act := "", p.action+" "
	if done {
		disable, act = "disabled ", pastTense(p.action)+" "
	}
	if len(p.devices) > 0 {
		parts = append(parts, disable+count(len(p.devices), "device")+": "+names(p.devices))
	}
	if len(p.managed) > 0 {
		parts = append(parts, act+count(len(p.managed), "managed device")+": "+names(p.managed))
	}
	return strings.Join(parts, "; ")
}

func (p devicePlan) details() map[string]any {
	d := map[string]any{"devices": ids(p.devices)}
	if p.action != entraspec.ManagedNone {
		d["managedAction"] = p.action
		d["managedDevices"] = ids(p.managed)
	}
	return d
}

func (s *disableDevicesStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	s.checked = nil
	p, err := planDevices(ctx, call, true)
	if err != nil {
		return steps.Change{}, err
	}
	if p.empty() {
		s := "no enabled devices"
		if p.action != entraspec.ManagedNone {
			s += ", no managed device left to " + p.action
		}
		return steps.Change{Satisfied: true, Summary: s, Details: p.details()}, nil
	}
	s.checked = &p
	return steps.Change{Summary: p.summary(false), Details: p.details()}, nil
}

// Apply acts on every device, several at once, even when one fails
// (cutting off more is safer than stopping), and returns the first
// failure; a retry re-plans and acts only on what is left.
func (s *disableDevicesStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, err := connOf(call)
	if err != nil {
		return steps.Change{}, err
	}
	var p devicePlan
	if s.checked != nil {
		p, s.checked = *s.checked, nil
	} else if p, err = planDevices(ctx, call, true); err != nil {
		return steps.Change{}, err
	}
	actions := make([]func(context.Context) error, 0, len(p.devices)+len(p.managed))
	for _, d := range p.devices {
		actions = append(actions, func(ctx context.Context) error {
			off := false
			body := &objectPatch{odataType: "#microsoft.graph.device", accountEnabled: &off}
			_, err := send[graphObject](ctx, c, c.withBody(ctx, abs.PATCH, &c.graph.Devices().ByDeviceId(d.id).BaseRequestBuilder, body))
			return classify(ctx, "disable device "+d.name+" ("+d.id+")", err, disableDevicesErrors)
		})
	}
	for _, m := range p.managed {
		actions = append(actions, func(ctx context.Context) error { return c.managedAction(ctx, p.action, m) })
	}
	// Apply was charged one directory write; the devices' other PATCHes
	// are spent before they go (the Intune actions are not the
	// directory's).
	if err := call.Charge(ctx, len(p.devices)-1); err != nil {
		return steps.Change{}, err
	}
	ok := make([]bool, len(actions))
	var first error
	failed := 0
	// Progress is reported from this goroutine, as each action ends.
	runBounded(ctx, actions, maxDeviceActions, func(i int, err error) {
		if err != nil {
			failed++
			first = cmp.Or(first, err)
			return
		}
		ok[i] = true
		if i < len(p.devices) {
			d := p.devices[i]
			call.Report("disabled device "+d.name, map[string]any{"device": d.id})
			return
		}
		m := p.managed[i-len(p.devices)]
		call.Report(pastTense(p.action)+" managed device "+m.name, map[string]any{"managed_device": m.id, "action": p.action})
	})
	done := devicePlan{action: p.action}
	for i, d := range p.devices {
		if ok[i] {
			done.devices = append(done.devices, d)
		}
	}
	for i, m := range p.managed {
		if ok[len(p.devices)+i] {
			done.managed = append(done.managed, m)
		}
	}
	change := steps.Change{Summary: done.summary(true), Details: done.details()}
	if first != nil {
		return change, fmt.Errorf("%w (%d of %d device actions failed)", first, failed, len(actions))
	}
	if done.empty() {
		change.Summary = "no enabled devices"
	}
	return change, nil
}

// runBounded runs the actions, at most limit at once, and calls ended from
// the calling goroutine as each one returns, in the order they end.
func runBounded(ctx context.Context, actions []func(context.Context) error, limit int, ended func(i int, err error)) {
	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(actions))
	slots := make(chan struct{}, limit)
	for i, act := range actions {
		go func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			results <- result{i, act(ctx)}
		}()
	}
	for range actions {
		r := <-results
		ended(r.i, r.err)
	}
}

func (*disableDevicesStep) Verify(ctx context.Context, call *steps.Call) error {
	p, err := planDevices(ctx, call, false)
	if err != nil {
		return err
	}
	if !p.empty() {
		return fmt.Errorf("entra: still to do after Apply: %s", p.summary(false))
	}
	return nil
}

// planDevices lists the subject's devices and keeps those still to act on.
// listed says it may start from the listing disable_user's batch made
// after the disable (Check and Apply may; Verify, which reads back, lists
// again).
func planDevices(ctx context.Context, call *steps.Call, listed bool) (devicePlan, error) {
	c, id, err := target(call)
	if err != nil {
		return devicePlan{}, err
	}
	p := devicePlan{action: call.With.String(entraspec.ParamManagedAction)}
	if p.action == "" {
		p.action = entraspec.ManagedNone
	}
	// The managed devices are listed alongside the directory ones: one
	// round trip, not two, on the way to containment.
	var (
		managed    []*graphManagedDevice
		managedErr error
		wg         sync.WaitGroup
	)
	if p.action != entraspec.ManagedNone {
		wg.Go(func() { managed, managedErr = c.managedDevices(ctx, id) })
	}
	runID := ""
	if listed {
		runID = call.RunID
	}
	devices, err := c.userDevices(ctx, id, runID, listed)
	wg.Wait()
	if err != nil {
		return devicePlan{}, err
	}
	if managedErr != nil {
		return devicePlan{}, managedErr
	}
	for _, d := range devices {
		if e := d.accountEnabled; e == nil || *e {
			// An unknown state counts as enabled: disabling twice is harmless.
			p.devices = append(p.devices, object{id: deref(d.id), name: nameOr(d.displayName, d.id)})
		}
	}
	for _, m := range managed {
		if !managedDone(p.action, m.managementState) {
			p.managed = append(p.managed, object{id: deref(m.id), name: nameOr(m.deviceName, m.id)})
		}
	}
	return p, nil
}

// userDevices lists the devices the user registered or owns, each once.
// Both relations hold directoryObjects; only #microsoft.graph.device ones
// (the SDK would decode as models.Device) are devices. The two lists
// are fetched at once: this step sits on the containment path, and each
// round trip is time the attacker keeps.
func (c *Conn) userDevices(ctx context.Context, id, runID string, listed bool) ([]*graphObject, error) {
	user := c.graph.Users().ByUserId(id)
	// The first pages disable_user's batch listed after the disable,
	// when asked for and there.
	var first deviceListing
	if listed {
		first, listed = c.takeListing(runID, id)
	}
	list := func(what string, get func(next string) (*collection[graphObject, *graphObject], error)) ([]*graphObject, error) {
		var objs []*graphObject
		err := eachPage(ctx, what+" of "+id, disableDevicesErrors, get,
			func(p *collection[graphObject, *graphObject]) { objs = append(objs, p.value...) })
		return objs, err
	}
	reg, own := user.RegisteredDevices(), user.OwnedDevices()
	var (
		wg     sync.WaitGroup
		owned  []*graphObject
		ownErr error
	)
	wg.Go(func() {
		owned, ownErr = list("list owned devices", func(next string) (*collection[graphObject, *graphObject], error) {
			if next == "" && listed {
				return first.owned, nil
			}
			if next != "" {
				return sendPage[graphObject](ctx, c, req(own.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphObject](ctx, c, req(own.ToGetRequestInformation(ctx, nil)))
		})
	})
	registered, regErr := list("list registered devices", func(next string) (*collection[graphObject, *graphObject], error) {
		if next == "" && listed {
			return first.registered, nil
		}
		if next != "" {
			return sendPage[graphObject](ctx, c, req(reg.WithUrl(next).ToGetRequestInformation(ctx, nil)))
		}
		return sendPage[graphObject](ctx, c, req(reg.ToGetRequestInformation(ctx, nil)))
	})
	wg.Wait()
	if regErr != nil {
		return nil, regErr
	}
	if ownErr != nil {
		return nil, ownErr
	}
	seen := map[string]bool{}
	var out []*graphObject
	for _, d := range append(registered, owned...) {
		if d == nil || deref(d.odataType) != "#microsoft.graph.device" || d.id == nil || seen[*d.id] {
			continue
		}
		seen[*d.id] = true
		out = append(out, d)
	}
	return out, nil
}

// managedDevices lists the user's Intune managed devices.
func (c *Conn) managedDevices(ctx context.Context, id string) ([]*graphManagedDevice, error) {
	var out []*graphManagedDevice
	b := c.graph.Users().ByUserId(id).ManagedDevices()
	err := eachPage(ctx, "list managed devices of "+id, errorContext{permission: entraspec.PermManagedRead},
		func(next string) (*collection[graphManagedDevice, *graphManagedDevice], error) {
			if next != "" {
				return sendPage[graphManagedDevice](ctx, c, req(b.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphManagedDevice](ctx, c, req(b.ToGetRequestInformation(ctx, nil)))
		},
		func(p *collection[graphManagedDevice, *graphManagedDevice]) {
			for _, m := range p.value {
				if m.id != nil {
					out = append(out, m)
				}
			}
		})
	return out, err
}

// managedAction retires or wipes one managed device.
func (c *Conn) managedAction(ctx context.Context, action string, m object) error {
	item := c.graph.DeviceManagement().ManagedDevices().ByManagedDeviceId(m.id)
	var err error
	switch action {
	case entraspec.ManagedRetire:
		err = item.Retire().Post(ctx, nil)
	case entraspec.ManagedWipe:
		body := devicemanagement.NewManagedDevicesItemWipePostRequestBody()
		keep := false
		body.SetKeepEnrollmentData(&keep)
		body.SetKeepUserData(&keep)
		err = item.Wipe().Post(ctx, body, nil)
	default:
		return steps.Errorf(steps.Invalid, "entra: unknown managed_action %q", action)
	}
	return classify(ctx, action+" managed device "+m.name+" ("+m.id+")", err, errorContext{permission: entraspec.PermManagedAction})
}

// managedDone reports whether a managed device's state already reflects
// the action: a pending or issued retire or wipe (a wipe also ends a
// device's management, so it satisfies retire too). A failed or cancelled
// one is done again.
func managedDone(action string, state *string) bool {
	if state == nil {
		return false
	}
	switch *state {
	case "wipePending", "wipeIssued":
		return true
	case "retirePending", "retireIssued":
		return action == entraspec.ManagedRetire
	}
	return false
}

func pastTense(action string) string {
	if action == entraspec.ManagedWipe {
		return "wiped"
	}
	return "retired"
}

// names lists up to five names, then "…".
func names(objs []object) string {
	var s []string
	for i, o := range objs {
		if i == 5 {
			s = append(s, "…")
			break
		}
		s = append(s, o.name)
	}
	return strings.Join(s, ", ")
}

func ids(objs []object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.id
	}
	return out
}

func nameOr(name, id *string) string {
	if n := deref(name); n != "" {
		return n
	}
	return deref(id)
}

// count is steps.Count, under the short name the summaries here use.
var count = steps.Count
