package sandbox

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestBatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		throttle *ThrottleConfig
		faults   []FaultRule
		body     string
		status   int
		message  string         // of a 400
		items    map[string]int // id → status
	}{
		{
			name: "dependsOn order and 424 for dependents of a failure",
			body: `{"requests":[
				{"id":"2","method":"POST","url":"/users/` + adeleID + `/revokeSignInSessions","dependsOn":["1"]},
				{"id":"1","method":"PATCH","url":"/users/` + adeleID + `","headers":{"Content-Type":"application/json"},"body":{"accountEnabled":false}},
				{"id":"3","method":"GET","url":"/users/ghost@contoso.test"},
				{"id":"4","method":"GET","url":"users/` + adeleID + `?$select=accountEnabled","dependsOn":["3"]}]}`,
			status: 200, items: map[string]int{"1": 204, "2": 200, "3": 404, "4": 424},
		},
		{
			name: "a fault for an item answers it inside the batch; a dropped connection is not for items",
			faults: []FaultRule{{Path: "/v1.0/users/" + adeleID, Method: "PATCH", Status: 429, RetryAfter: time.Second},
				{Path: "/v1.0/users/" + adeleID + "/revokeSignInSessions", Reset: true}},
			body: `{"requests":[
				{"id":"1","method":"PATCH","url":"/users/` + adeleID + `","headers":{"Content-Type":"application/json"},"body":{"accountEnabled":false}},
				{"id":"2","method":"POST","url":"/users/` + adeleID + `/revokeSignInSessions"}]}`,
			status: 200, items: map[string]int{"1": 429, "2": 200},
		},
		{
			name:     "items are throttled on their own",
			throttle: &ThrottleConfig{RU: 1, Per: time.Minute},
			body:     `{"requests":[{"id":"a","method":"GET","url":"/users/` + adeleID + `"},{"id":"b","method":"GET","url":"/users/` + adeleID + `"}]}`,
			status:   200, items: map[string]int{"a": 200, "b": 429},
		},
		{name: "duplicate ids", body: `{"requests":[{"id":"1","method":"GET","url":"/users"},{"id":"1","method":"GET","url":"/users"}]}`, status: 400, message: "Batch request contains duplicate id '1'."},
		{name: "body without Content-Type", body: `{"requests":[{"id":"1","method":"PATCH","url":"/users/x","body":{"accountEnabled":false}}]}`, status: 400, message: "Write request id : 1 does not contain Content-Type header or body."},
		{name: "unknown dependency", body: `{"requests":[{"id":"1","method":"GET","url":"/users","dependsOn":["9"]}]}`, status: 400, message: "Request '1' depends on unknown request '9'."},
		{name: "cycle", body: `{"requests":[{"id":"1","method":"GET","url":"/users","dependsOn":["2"]},{"id":"2","method":"GET","url":"/users","dependsOn":["1"]}]}`, status: 400, message: "Batch request contains a dependsOn cycle."},
		{name: "not JSON", body: `{"requests":`, status: 400, message: "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."},
		{name: "nested batch", body: `{"requests":[{"id":"1","method":"POST","url":"/$batch","headers":{"Content-Type":"application/json"},"body":{}}]}`, status: 200, items: map[string]int{"1": 400}},
	}
	var many []string
	for i := 0; i < 21; i++ {
		many = append(many, fmt.Sprintf(`{"id":"%d","method":"GET","url":"/users"}`, i))
	}
	tests = append(tests, struct {
		name     string
		throttle *ThrottleConfig
		faults   []FaultRule
		body     string
		status   int
		message  string
		items    map[string]int
	}{name: "21 requests", body: `{"requests":[` + strings.Join(many, ",") + `]}`, status: 400, message: "Number of batch request steps exceeds the maximum of 20."})

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tn := startTenant(t, Options{Throttle: tc.throttle, Faults: tc.faults})
			tok := token(t, tn, revokeClientID, revokeSecret)
			status, _, body := do(t, tn, tok, "POST", "/$batch", tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body)
			}
			if tc.message != "" {
				if errCode(body) != "BadRequest" || errMessage(body) != tc.message {
					t.Errorf("error %s %q, want BadRequest %q", errCode(body), errMessage(body), tc.message)
				}
				return
			}
			b, _ := json.Marshal(body["responses"])
			var rs []batchResponse
			json.Unmarshal(b, &rs)
			got := map[string]int{}
			for _, r := range rs {
				got[r.ID] = r.Status
				if r.Status == 429 && r.Headers["Retry-After"] == "" {
					t.Errorf("item %s: 429 without Retry-After", r.ID)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.items) {
				t.Errorf("items %v, want %v", got, tc.items)
			}
		})
	}
}
