//go:build objectstack_pin

// Package main pins dependencies that packages under construction will import,
// so that parallel work does not race on go.mod. Removed once every one is used.
package main

import (
	_ "github.com/coder/websocket"
	_ "github.com/go-git/go-git/v5"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/hashicorp/go-retryablehttp"
	_ "github.com/hashicorp/golang-lru/v2"
	_ "github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	_ "github.com/hashicorp/terraform-plugin-framework/providerserver"
	_ "github.com/hashicorp/terraform-plugin-go/tfprotov6"
	_ "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "github.com/tursodatabase/libsql-client-go/libsql"
	_ "golang.org/x/mod/semver"
	_ "golang.org/x/sync/errgroup"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
	_ "pgregory.net/rapid"
)
