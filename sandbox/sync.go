package sandbox

import "time"

// Sync copies the AD face of every synced user to its Entra face, as Entra
// Connect does on each cycle:
//   - accountEnabled follows AD: an AD-disabled account is disabled in the
//     cloud, and an account enabled in AD but blocked only in the cloud is
//     re-enabled — the revert that makes disabling on-premises matter;
//   - a password set in AD since the last cycle (pwdLastSet moved) is
//     recorded as synced (password hash sync). It does not move
//     signInSessionsValidFromDateTime: PHS does not revoke sessions.
//
// It takes the directory lock.
func (d *Directory) Sync(now time.Time) {
	d.Lock()
	defer d.Unlock()
	for _, u := range d.Users {
		if !u.InCloud || !u.OnPremisesSyncEnabled || u.AD == nil {
			continue
		}
		u.AccountEnabled = !u.AD.Disabled()
		if u.AD.PwdLastSet.After(u.LastSyncedPasswordAt) {
			u.LastSyncedPasswordAt = u.AD.PwdLastSet
		}
	}
	d.lastSync = now
}
