package entra

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Granted fetches a Graph token from the connection's credential and
// returns what it grants: the application permissions of its roles claim
// (app-only credentials) and the delegated permissions of its scp claim
// (device code, Azure CLI), each sorted. The token is decoded, not
// verified: revoke is its holder, not its audience, and only compares the
// claims with the permissions its steps need before a run.
func (c *Conn) Granted(ctx context.Context) (roles []string, scopes []string, err error) {
	tok, err := c.token(ctx, "fetch a token for "+c.scope)
	if err != nil {
		return nil, nil, err
	}
	roles, scopes, err = tokenPermissions(tok.Token)
	if err != nil {
		return nil, nil, fmt.Errorf("entra: fetch a token for %s: %w", c.scope, err)
	}
	return roles, scopes, nil
}

// token returns the credential's Graph token, from its cache or fetched;
// a failure is classified and named op.
func (c *Conn) token(ctx context.Context, op string) (azcore.AccessToken, error) {
	// EnableCAE as the SDK's auth provider asks: azidentity caches CAE and
	// non-CAE tokens apart, and a different kind would cost a second token
	// request right before the run.
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.scope}, EnableCAE: true})
	if err != nil {
		return tok, classify(ctx, op, err, errorContext{})
	}
	return tok, nil
}

// tokenPermissions decodes a JWT's payload without verifying it and returns
// its roles and scp claims.
func tokenPermissions(token string) (roles []string, scopes []string, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("the access token is not a JWT")
	}
	// base64url without padding per RFC 7515; tolerate padding anyway.
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, nil, fmt.Errorf("the access token's payload is not base64url: %v", err)
	}
	var claims struct {
		Roles []string `json:"roles"`
		Scp   string   `json:"scp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, nil, fmt.Errorf("the access token's payload: %v", err)
	}
	roles = append([]string{}, claims.Roles...)
	scopes = append([]string{}, strings.Fields(claims.Scp)...)
	sort.Strings(roles)
	sort.Strings(scopes)
	return roles, scopes, nil
}
