package devserver

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// This file decides what a database's Hostname is and which database a Hrana request on the
// server's root (POST /v2/pipeline, no database in the path) is for.
//
// Turso's own clients take only the Hostname: @libsql/client opens "libsql://<Hostname>" and
// libsql-client-go the same, with no way to add a path. On Turso every database has its own DNS
// name; a local server cannot mint DNS names without hosts-file changes, so every database
// shares the server's own address as its Hostname and the request is routed by the database
// token instead: a database token names exactly one database (claim "id"), and a client of
// that database must send it anyway. The signature is verified before the claim is believed,
// and the pipeline handler then checks the token against that database's incarnation and
// rotation generation, so routing by token can never let a token for database A reach B.

// CheckAdvertiseAddr validates an Options.AdvertiseAddr and returns it in canonical form
// (lower-case host, IPv6 in brackets); New applies it, and the CLI calls it to report a bad
// --advertise as a usage error. A port is required: both Turso clients refuse
// "libsql://host?tls=0" without one, and the server has no scheme default to fall back on.
func CheckAdvertiseAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && host == "" {
		err = fmt.Errorf("missing host")
	}
	if err == nil && strings.ContainsAny(host, "/@?#") {
		err = fmt.Errorf("host %q is not a host name or IP address", host)
	}
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 {
			err = fmt.Errorf("port %q is not a number from 1 to 65535", port)
		}
	}
	if err != nil {
		return "", fmt.Errorf("advertise address %q must be host:port, e.g. 127.0.0.1:8080 (no scheme, no path): %v", addr, err)
	}
	return net.JoinHostPort(strings.ToLower(host), port), nil
}

// advertisedAddr is the address this server tells the caller of r to reach it at, verbatim:
// Options.AdvertiseAddr, else the Host the request came in on (a client, or a proxy that
// preserves Host, gets back the address it already uses), else the listener's own address.
func (s *Server) advertisedAddr(r *http.Request) string {
	if s.opts.AdvertiseAddr != "" {
		return s.opts.AdvertiseAddr
	}
	if r.Host != "" {
		return r.Host
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return "127.0.0.1"
}

// hostnameFor is the Hostname every database reports to the caller of r: the advertised
// address with an explicit port (":80" when the Host header had none, since this server speaks
// plain HTTP), so that "libsql://<Hostname>?tls=0" — which both Turso clients accept only with
// a port — works as well as "http://<Hostname>". It is the same for every database; requests
// to it are routed by the database token (databaseForToken).
func (s *Server) hostnameFor(r *http.Request) string {
	addr := strings.ToLower(s.advertisedAddr(r))
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]"), "80")
	}
	return addr
}

// baseURL is the server's base URL as the caller of r should use it; the "Url" extension field
// of a database is baseURL + "/db/<name>".
func (s *Server) baseURL(r *http.Request) string { return "http://" + s.advertisedAddr(r) }

// legacyHostname is the Hostname earlier versions handed out ("<db>-<org>.local"). It resolves
// nowhere; it is still routed when sent as the Host header (libsql-client-go WithProxy), so
// callers that stored it keep working.
func legacyHostname(e *dbEntry) string { return e.name + "-" + e.org + ".local" }

// databaseForHost routes a root Hrana request by its Host header, for callers of the old
// scheme that send the old Hostname as Host (libsql-client-go WithProxy): "<db>-<org>.local",
// or any host whose first label is "<db>-<org>". A Host naming a database wins over the token,
// so a token for another database is refused rather than silently used elsewhere. An IP
// address, "localhost", a single label or the advertised host names no database: requests to
// the shared Hostname always fall through to token routing. (Earlier versions also routed
// sqld's bare "<db>.<anything>"; that could capture the server's own DNS name whenever a
// database shared its first label, and token routing now serves those clients anyway.)
func (s *Server) databaseForHost(host string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" || host == "localhost" || net.ParseIP(host) != nil || !strings.Contains(host, ".") {
		return "", false
	}
	if adv, _, err := net.SplitHostPort(s.opts.AdvertiseAddr); err == nil && host == adv {
		return "", false
	}
	label, _, _ := strings.Cut(host, ".")
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.dbs {
		if legacyHostname(e) == host || e.name+"-"+e.org == label {
			return e.name, true
		}
	}
	return "", false
}

// databaseForToken routes a root Hrana request by its database token: it verifies the token's
// signature and expiry and returns the database its "id" claim names. On failure it has
// answered with Hrana's HTTP error body (401, as sqld answers a bad token) and returns false.
// The caller still runs handlePipeline's full check (incarnation and rotation generation).
func (s *Server) databaseForToken(w http.ResponseWriter, r *http.Request) (string, bool) {
	tok := bearer(r)
	if tok == "" {
		hranaHTTPError(w, http.StatusUnauthorized, "AUTH_HEADER_NOT_FOUND",
			"Unauthorized: authorization header with a Bearer token is required (requests to the server's own address are routed by the database token; "+
				"or use http://<server>/db/<database>)")
		return "", false
	}
	claims, err := s.tokens.verify(tok)
	if err != nil {
		hranaHTTPError(w, http.StatusUnauthorized, "AUTH_JWT_INVALID", "Unauthorized: "+err.Error())
		return "", false
	}
	if claims.DB == "" {
		hranaHTTPError(w, http.StatusUnauthorized, "AUTH_JWT_INVALID", "Unauthorized: the token names no database (a group token opens every database of its group: use http://<server>/db/<database>)")
		return "", false
	}
	return claims.DB, true
}
