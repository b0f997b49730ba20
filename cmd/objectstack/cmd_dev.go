package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/objectstack-ai/terraform-provider-objectstack/internal/devserver"
)

// newDevCmd runs the local development server (a Turso stand-in) until interrupted.
func newDevCmd() *cobra.Command {
	var listen, dataDir, apiToken, advertise string
	var debug bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local DEVELOPMENT server that stands in for Turso (Platform API + Hrana over HTTP)",
		Long: `Run a local DEVELOPMENT server that speaks the Turso Platform API subset and Hrana v2 over HTTP,
so the Turso backend, libsql-client-go and the Terraform provider work offline exactly as against Turso.

This is a development server, not a production database: no TLS, one process, databases are plain
SQLite files under --data-dir. Listen on loopback only unless you know what you are doing.

  Platform API base URL:  http://<listen>            (e.g. --api-url http://127.0.0.1:8080)
  Database Hostname:      <address>, the same for every database (e.g. 127.0.0.1:8080); Turso's clients
                          use it as-is: http://<Hostname> or libsql://<Hostname>?tls=0 with the database
                          token, which routes the request to its database
  Database URL:           http://<address>/db/<name>  (the older path form; Hrana: POST /db/<name>/v2/pipeline)
  API token:              --api-token, or $OBJECTSTACK_DEV_API_TOKEN; when unset any bearer token is accepted
  Database tokens:        minted by POST /v1/organizations/<org>/databases/<name>/auth/tokens

<address> is --advertise when given (use it behind a proxy or a port mapping, e.g. a container
published on another port), otherwise the host:port each Platform API request was sent to.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" {
				return usagef("--data-dir is required")
			}
			if _, _, err := net.SplitHostPort(listen); err != nil {
				return usagef("--listen %q: %v", listen, err)
			}
			if advertise != "" {
				canonical, err := devserver.CheckAdvertiseAddr(advertise)
				if err != nil {
					return usagef("--advertise: %v", err)
				}
				advertise = canonical
			}
			if apiToken == "" {
				apiToken = os.Getenv("OBJECTSTACK_DEV_API_TOKEN")
			}
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			srv, err := devserver.New(devserver.Options{DataDir: dataDir, Logger: logger, APIToken: apiToken, AdvertiseAddr: advertise})
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("dev server: listen %s: %w", listen, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "objectstack dev (development server) listening on http://%s — data in %s\n", ln.Addr(), dataDir)
			fmt.Fprintf(cmd.OutOrStdout(), "  Platform API: http://%s/v1   databases: http://%s/db/<name>\n", ln.Addr(), ln.Addr())
			if advertise != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "  database Hostname (advertised): %s   (libsql://%s?tls=0 with the database token)\n", advertise, advertise)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "  database Hostname: the host:port each API call is sent to, e.g. %s   (libsql://<Hostname>?tls=0 with the database token)\n", ln.Addr())
			}
			return srv.Serve(cmd.Context(), ln)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on (host:port)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "folder for the server's registry and database files (required)")
	cmd.Flags().StringVar(&apiToken, "api-token", "", "Platform API token clients must present (default: accept any; or $OBJECTSTACK_DEV_API_TOKEN)")
	cmd.Flags().StringVar(&advertise, "advertise", "", "host:port clients reach this server at, handed out as every database's Hostname (default: the address each API request was sent to)")
	cmd.Flags().BoolVar(&debug, "debug", false, "log every request (never tokens)")
	return cmd
}
