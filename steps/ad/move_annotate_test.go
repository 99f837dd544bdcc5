package ad

import (
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

func TestFirstRDNKeepsEscapedCommas(t *testing.T) {
	for _, tt := range []struct{ dn, want string }{
		{"CN=Adele Vance,OU=Staff,DC=contoso,DC=test", "CN=Adele Vance"},
		{`CN=Vance\, Adele,OU=Staff,DC=contoso,DC=test`, `CN=Vance\, Adele`},
		{`CN=back\\,OU=Staff`, `CN=back\\`},
		{"DC=test", "DC=test"},
	} {
		if got := firstRDN(tt.dn); got != tt.want {
			t.Errorf("firstRDN(%q) = %q, want %q", tt.dn, got, tt.want)
		}
	}
}

func TestAnnotationText(t *testing.T) {
	started := time.Date(2025, 3, 4, 23, 30, 0, 0, time.FixedZone("X", -3*3600))
	full := &steps.Call{RunID: "r-1", RunStarted: started, RequestedBy: "hr@contoso.test", Ticket: "INC42", Reason: "leaver"}
	tests := []struct {
		name, text string
		call       *steps.Call
		want, err  string
	}{
		{"the default names the run, its UTC date, requester, ticket and reason", defaultAnnotation, full,
			"Disabled by revoke run r-1 on 2025-03-05 for hr@contoso.test; ticket INC42; reason: leaver", ""},
		{"what the request lacks is none", "{ticket}/{reason}/{requested_by}", &steps.Call{RunID: "r-2"},
			"none/none/none", ""},
		{"an unknown placeholder is refused", "{run} {password} {secret}", full,
			"", "text has unknown placeholders {password}, {secret}: use {run}, {date}, {requested_by}, {ticket}, {reason}"},
		{"an empty text is refused", "   ", full, "", "text is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.call.With = steps.Values{paramText: tt.text, paramAttribute: attrInfo}
			got, err := annotation(tt.call)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || steps.ClassOf(err) != steps.Invalid {
					t.Fatalf("annotation = %q, %v; want Invalid %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("annotation = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
