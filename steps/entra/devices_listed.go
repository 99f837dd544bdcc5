package entra

import (
	"context"
	"errors"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// disable_devices must list the user's devices after the user is
// disabled: listed before, a device the attacker registers in between is
// missed. That ordering cost a round trip on the way to containment (the
// disable, then the listing, then the devices' PATCHes). Now disable_user
// sends its PATCH in a $batch with the two listings, each dependsOn the
// PATCH, so Graph runs them after it, in the same round trip; the
// listings wait in the Conn for disable_devices, whose Check then starts
// from them instead of listing again (docs/benchmarks.md, "The floor").

// listingFresh bounds how long a listing made after the disable is kept:
// disable_devices follows disable_user at once in a run; one that comes
// later lists afresh.
const listingFresh = time.Minute

// devicePage is one page of a user's registeredDevices or ownedDevices.
type devicePage = collection[graphObject, *graphObject]

// deviceListing is the first page of each of a user's two device
// listings, made after the user was disabled.
type deviceListing struct {
	registered, owned *devicePage
	at                time.Time
}

// disableThenList sends patch, the user's disable, in one $batch with the
// listings of the user's registered and owned devices, which depend on it:
// Graph runs them only after the disable succeeded. It returns the
// disable's error, the same as for the PATCH sent alone (classify reads
// it); listings that came back whole are kept for takeListing, others are
// dropped (disable_devices lists again).
func (c *Conn) disableThenList(ctx context.Context, runID, id string, patch request) error {
	if patch.err != nil {
		return patch.err
	}
	user := c.graph.Users().ByUserId(id)
	regInfo, regErr := user.RegisteredDevices().ToGetRequestInformation(ctx, nil)
	ownInfo, ownErr := user.OwnedDevices().ToGetRequestInformation(ctx, nil)
	batch := msgraphgocore.NewBatchRequest(c.graph.GetAdapter())
	var items [3]msgraphgocore.BatchItem
	err := errors.Join(regErr, ownErr)
	for i, info := range []*abs.RequestInformation{patch.info, regInfo, ownInfo} {
		if err == nil {
			items[i], err = batch.AddBatchRequestStep(*info)
		}
	}
	if err != nil {
		// Nothing was sent: the disable goes alone, and disable_devices
		// lists the devices itself.
		_, err := send[graphUser](ctx, c, patch)
		return err
	}
	disable, reg, own := items[0], items[1], items[2]
	reg.DependsOnItem(disable)
	own.DependsOnItem(disable)
	answers, err := c.postBatch(ctx, batch)
	if err != nil {
		return err
	}
	if err := itemError(answers[*disable.GetId()]); err != nil {
		return err
	}
	r, rok := pageOf(answers[*reg.GetId()])
	o, ook := pageOf(answers[*own.GetId()])
	if rok && ook {
		now := time.Now()
		c.listedMu.Lock()
		if c.listed == nil {
			c.listed = map[string]deviceListing{}
		}
		// Listings no run took (its plan had no disable_devices, or the
		// run ended first) go once stale, so a long-lived connection
		// (revoke serve, a bulk) keeps at most a minute's worth.
		for k, l := range c.listed {
			if now.Sub(l.at) >= listingFresh {
				delete(c.listed, k)
			}
		}
		c.listed[listingKey(runID, id)] = deviceListing{registered: r, owned: o, at: now}
		c.listedMu.Unlock()
	}
	return nil
}

// listingKey keys a listing by run and user: only the run that disabled
// the user takes it, never a later run for the same user.
func listingKey(runID, id string) string { return runID + "\x00" + id }

// pageOf decodes a batch item's answer as a page of devices; false when
// it is not a 200 with one.
func pageOf(a *batchAnswer) (*devicePage, bool) {
	if a == nil || a.status != 200 || len(a.body) == 0 {
		return nil, false
	}
	node, err := jsonser.NewJsonParseNode(a.body)
	if err != nil {
		return nil, false
	}
	v, err := node.GetObjectValue(factory[devicePage])
	if err != nil || v == nil {
		return nil, false
	}
	return v.(*devicePage), true
}

// takeListing returns, once, the listing run runID's disable_user batch
// made for user id, if it is fresh.
func (c *Conn) takeListing(runID, id string) (deviceListing, bool) {
	c.listedMu.Lock()
	defer c.listedMu.Unlock()
	k := listingKey(runID, id)
	l, ok := c.listed[k]
	delete(c.listed, k)
	return l, ok && time.Since(l.at) < listingFresh
}
