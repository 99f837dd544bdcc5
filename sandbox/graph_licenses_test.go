package sandbox

import (
	"fmt"
	"strings"
	"testing"
)

// The tenant's subscriptions name the seed's skus as Microsoft does, with
// the users holding each (directly or through a group) as consumed units;
// reading them needs a licence or organization read permission.
func TestSubscribedSkus(t *testing.T) {
	tn := startTenant(t, Options{})
	status, _, body := do(t, tn, token(t, tn, revokeClientID, revokeSecret), "GET", "/subscribedSkus?$select=skuId,skuPartNumber,consumedUnits", "")
	if status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	var got []string
	for _, v := range body["value"].([]any) {
		s := v.(map[string]any)
		got = append(got, fmt.Sprintf("%v %v %v", s["skuId"], s["skuPartNumber"], s["consumedUnits"]))
	}
	want := []string{
		"6fd2c87f-b296-42f0-b197-1e91e994b900 ENTERPRISEPACK 5",
		"b05e124f-c7cc-45a0-a6aa-8cf78c946968 EMSPREMIUM 1",
		"f8a1db68-be16-40ed-86d5-cb42ce701560 POWER_BI_PRO 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("skus:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	status, _, body = do(t, tn, token(t, tn, readonlyClientID, readonlySecret), "GET", "/subscribedSkus", "")
	if status != 403 || errCode(body) != "Authorization_RequestDenied" {
		t.Errorf("User.Read.All alone: %d %v", status, body)
	}
}
