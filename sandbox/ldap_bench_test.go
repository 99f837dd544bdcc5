package sandbox

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// BenchmarkLDAPSearch measures revoke's account lookup (by
// sAMAccountName, subtree from the domain root) from parallel clients,
// each on its own bound LDAPS connection, against a directory of ~100
// people. Reports ops/s across all clients.
func BenchmarkLDAPSearch(b *testing.B) {
	f := newLDAPFixture(b)
	f.dir.Lock()
	for i := range 100 {
		f.dir.Users = append(f.dir.Users, &User{ID: fmt.Sprintf("u-%d", i), AD: &ADAccount{
			DN:             fmt.Sprintf("CN=User %03d,OU=Staff,DC=contoso,DC=test", i),
			SAMAccountName: fmt.Sprintf("user%03d", i), UserPrincipalName: fmt.Sprintf("user%03d@contoso.com", i),
			UserAccountControl: 512, Password: "Bench-Pa55word-1",
		}})
	}
	f.dir.Unlock()
	var n atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := f.bindSvc(b, "ldaps")
		i := n.Add(1)
		for pb.Next() {
			sam := fmt.Sprintf("user%03d", i%100)
			i++
			res, err := c.Search(ldap.NewSearchRequest(baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
				"(&(objectCategory=person)(objectClass=user)(sAMAccountName="+ldap.EscapeFilter(sam)+"))",
				[]string{"distinguishedName", "userAccountControl", "memberOf", "adminCount"}, nil))
			if err != nil || len(res.Entries) != 1 {
				b.Errorf("search %s: %v %v", sam, res, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}
