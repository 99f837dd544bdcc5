package sandbox

import (
	"net/http"
	"strings"
)

// Inbox rules: an attacker's favourite foothold, since mail flow is not
// sign-in and a rule forwarding or deleting mail keeps working on a
// disabled account. Graph shows the inbox's rules under
// /users/{id}/mailFolders/inbox/messageRules (rules hidden at the MAPI
// level never show in Graph; the sandbox has none).

// Mailbox is a user's Exchange Online mailbox: its folders and the
// inbox's rules.
type Mailbox struct {
	Folders []*MailFolder
	Rules   []*MessageRule
}

// MailFolder is a mail folder; WellKnown its well-known name (inbox,
// archive, deleteditems, rssfeeds), by which Graph also finds it.
type MailFolder struct {
	ID, WellKnown, DisplayName, ParentID string
}

// MessageRule is an inbox rule: the predicates in its conditions and the
// actions it takes (addresses as plain email addresses; MoveToFolder a
// folder id).
type MessageRule struct {
	ID, DisplayName string
	Sequence        int
	Enabled         bool
	// Conditions.
	SubjectContains, BodyContains, FromAddresses []string
	// Actions.
	ForwardTo, ForwardAsAttachmentTo, RedirectTo        []string
	Delete, PermanentDelete, MarkAsRead, StopProcessing bool
	MoveToFolder                                        string
}

// mailFolderNames are the folders every mailbox starts with, by
// well-known name.
var mailFolderNames = []struct{ wellKnown, name string }{
	{"inbox", "Inbox"}, {"archive", "Archive"}, {"deleteditems", "Deleted Items"}, {"rssfeeds", "RSS Feeds"},
}

// newMailbox makes a user's mailbox with the standard folders, their ids
// stable for the user.
func newMailbox(userID string) *Mailbox {
	root := stableID("mailFolder", userID+"/msgfolderroot")
	mb := &Mailbox{}
	for _, f := range mailFolderNames {
		mb.Folders = append(mb.Folders, &MailFolder{ID: stableID("mailFolder", userID+"/"+f.wellKnown), WellKnown: f.wellKnown, DisplayName: f.name, ParentID: root})
	}
	return mb
}

// folder finds a folder by id or well-known name.
func (mb *Mailbox) folder(ref string) *MailFolder {
	for _, f := range mb.Folders {
		if strings.EqualFold(f.ID, ref) || strings.EqualFold(f.WellKnown, ref) {
			return f
		}
	}
	return nil
}

// withMailbox runs f with the directory locked, the path's user's mailbox
// and the folder segment 3 names: Graph's 404s for a user without a
// mailbox (not licensed for Exchange) and for an unknown folder.
func (c *call) withMailbox(f func(d *Directory, u *User, mb *Mailbox, folder *MailFolder) *response) *response {
	return c.withUser(func(d *Directory, u *User) *response {
		mb := d.Mailboxes[u.ID]
		if mb == nil {
			return c.err(http.StatusNotFound, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")
		}
		folder := mb.folder(c.segs[3])
		if folder == nil {
			return c.itemNotFound()
		}
		return f(d, u, mb, folder)
	})
}

// itemNotFound is Exchange's 404, which Graph passes on for mailbox items.
func (c *call) itemNotFound() *response {
	return c.err(http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
}

func getMailFolder(c *call) *response {
	return c.withMailbox(func(d *Directory, u *User, mb *Mailbox, f *MailFolder) *response {
		j := mailFolderJSON(f)
		j["@odata.context"] = metadata + "users('" + u.ID + "')/mailFolders/$entity"
		return jsonResp(http.StatusOK, j)
	})
}

func mailFolderJSON(f *MailFolder) map[string]any {
	return map[string]any{
		"id": f.ID, "displayName": f.DisplayName, "parentFolderId": f.ParentID, "childFolderCount": 0,
		"unreadItemCount": 0, "totalItemCount": 0, "isHidden": false,
	}
}

var messageRuleProps = &propSet{typeName: "microsoft.graph.messageRule",
	names: []string{"id", "displayName", "sequence", "isEnabled", "hasError", "isReadOnly", "conditions", "actions", "exceptions"}}

// messageRuleJSON renders a rule with the predicates and actions it has
// (Graph leaves the others out).
func messageRuleJSON(r *MessageRule) map[string]any {
	cond := map[string]any{}
	if len(r.SubjectContains) > 0 {
		cond["subjectContains"] = r.SubjectContains
	}
	if len(r.BodyContains) > 0 {
		cond["bodyContains"] = r.BodyContains
	}
	if len(r.FromAddresses) > 0 {
		cond["fromAddresses"] = recipients(r.FromAddresses)
	}
	act := map[string]any{}
	for k, v := range map[string][]string{"forwardTo": r.ForwardTo, "forwardAsAttachmentTo": r.ForwardAsAttachmentTo, "redirectTo": r.RedirectTo} {
		if len(v) > 0 {
			act[k] = recipients(v)
		}
	}
	for k, v := range map[string]bool{"delete": r.Delete, "permanentDelete": r.PermanentDelete, "markAsRead": r.MarkAsRead, "stopProcessingRules": r.StopProcessing} {
		if v {
			act[k] = true
		}
	}
	if r.MoveToFolder != "" {
		act["moveToFolder"] = r.MoveToFolder
	}
	return map[string]any{
		"id": r.ID, "displayName": r.DisplayName, "sequence": r.Sequence, "isEnabled": r.Enabled,
		"hasError": false, "isReadOnly": false, "conditions": cond, "actions": act,
	}
}

// recipients renders addresses as Graph's recipient objects.
func recipients(addrs []string) []any {
	out := make([]any, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, map[string]any{"emailAddress": map[string]any{"name": a, "address": a}})
	}
	return out
}

// listMessageRules lists the inbox's rules, by sequence. Only the inbox
// has rules in Exchange; another folder's list is empty.
func listMessageRules(c *call) *response {
	return c.withMailbox(func(d *Directory, u *User, mb *Mailbox, f *MailFolder) *response {
		out := []map[string]any{}
		if f.WellKnown == "inbox" {
			for _, r := range mb.Rules {
				out = append(out, messageRuleJSON(r))
			}
		}
		return c.pageSelected("users('"+u.ID+"')/mailFolders('"+c.segs[3]+"')/messageRules", messageRuleProps, out)
	})
}

// messageRule finds the path's rule (segment 5) in the inbox.
func (c *call) messageRule(mb *Mailbox, f *MailFolder) int {
	if f.WellKnown != "inbox" {
		return -1
	}
	for i, r := range mb.Rules {
		if r.ID == c.segs[5] {
			return i
		}
	}
	return -1
}

func getMessageRule(c *call) *response {
	return c.withMailbox(func(d *Directory, u *User, mb *Mailbox, f *MailFolder) *response {
		i := c.messageRule(mb, f)
		if i < 0 {
			return c.itemNotFound()
		}
		j := messageRuleJSON(mb.Rules[i])
		j["@odata.context"] = metadata + "users('" + u.ID + "')/mailFolders('" + c.segs[3] + "')/messageRules/$entity"
		return jsonResp(http.StatusOK, j)
	})
}

// deleteMessageRule deletes an inbox rule; one already gone is 404.
func deleteMessageRule(c *call) *response {
	return c.withMailbox(func(d *Directory, u *User, mb *Mailbox, f *MailFolder) *response {
		i := c.messageRule(mb, f)
		if i < 0 {
			return c.itemNotFound()
		}
		mb.Rules = append(mb.Rules[:i:i], mb.Rules[i+1:]...)
		r := noContent()
		r.detail = "delete inbox rule"
		return r
	})
}
