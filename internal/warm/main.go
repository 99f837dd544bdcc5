package main

import (
	_ "github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	_ "github.com/go-ldap/ldap/v3"
	_ "github.com/jimlambrt/gldap"
	_ "github.com/microsoft/kiota-http-go"
	_ "github.com/microsoftgraph/msgraph-sdk-go"
	_ "github.com/microsoftgraph/msgraph-sdk-go-core"
	_ "github.com/oklog/ulid/v2"
	_ "github.com/open-policy-agent/opa/v1/rego"
	_ "github.com/open-policy-agent/opa/v1/tester"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/spf13/pflag"
	_ "gopkg.in/yaml.v3"
)

func main() {}
