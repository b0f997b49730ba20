// Package notifytest owns the notification receivers of the reconciler's tests: one HTTP server on
// loopback that imitates GitHub's statuses API, GitLab's commit status API, a generic webhook receiver that
// verifies the HMAC signature, and a Slack incoming webhook — checking each request as the real service
// would (credentials, states, description length) and recording what it accepted, in arrival order.
package notifytest

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/notify"
)

// Status is one commit status a fake accepted.
type Status struct {
	Provider    string // github | gitlab
	Repo        string // owner/name, or the GitLab project id as sent (unescaped)
	SHA         string
	Context     string // GitHub context, GitLab name
	State       string
	Description string
	TargetURL   string
}

// Delivery is one webhook request the fake accepted.
type Delivery struct {
	Event      notify.Event
	EventHdr   string
	DeliveryID string
}

// Fault decides how the server answers request n (1-based, counted per route kind: "github", "gitlab",
// "webhook", "slack"): 0 means normally; hang blocks until the client gives up.
type Fault func(kind string, n int) (code int, hang bool)

// Server is the fake.
type Server struct {
	URL    string
	Token  string // GitHub Bearer token and GitLab PRIVATE-TOKEN
	Secret string // webhook HMAC secret
	// SlackPath is the secret path of the Slack incoming webhook (URL+SlackPath is the secret URL).
	SlackPath string
	// Fault, if set, is consulted before every request is checked.
	Fault Fault

	mu       sync.Mutex
	statuses []Status
	webhooks []Delivery
	slack    []string
	rejected []string
	requests map[string]int
	release  chan struct{}
}

// New starts the server on 127.0.0.1; it stops (and hanging handlers return) when the test ends.
func New(t testing.TB, token, secret string) *Server {
	t.Helper()
	s := &Server{Token: token, Secret: secret, SlackPath: "/slack/services/T000/B000/" + strings.Repeat("x", 24),
		requests: map[string]int{}, release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /repos/{owner}/{repo}/statuses/{sha}", s.github)
	mux.HandleFunc("POST /api/v4/projects/{id}/statuses/{sha}", s.gitlab)
	mux.HandleFunc("POST /hook", s.webhook)
	mux.HandleFunc("POST "+s.SlackPath, s.slackHook)
	srv := httptest.NewServer(mux) // httptest listens on 127.0.0.1
	s.URL = srv.URL
	t.Cleanup(func() {
		close(s.release)
		srv.Close()
	})
	return s
}

// fault applies the Fault for this request; it reports true when the request was answered.
func (s *Server) fault(kind string, w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	s.requests[kind]++
	n := s.requests[kind]
	f := s.Fault
	s.mu.Unlock()
	if f == nil {
		return false
	}
	code, hang := f(kind, n)
	if hang {
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
		return true
	}
	if code != 0 {
		http.Error(w, http.StatusText(code), code)
		return true
	}
	return false
}

func (s *Server) reject(w http.ResponseWriter, code int, why string) {
	s.mu.Lock()
	s.rejected = append(s.rejected, why)
	s.mu.Unlock()
	http.Error(w, why, code)
}

func (s *Server) github(w http.ResponseWriter, r *http.Request) {
	if s.fault("github", w, r) {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		s.reject(w, http.StatusUnauthorized, "github: bad credentials")
		return
	}
	var body struct {
		State, TargetURL, Description, Context string
	}
	var raw map[string]string
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		s.reject(w, http.StatusBadRequest, "github: body is not JSON")
		return
	}
	body.State, body.TargetURL, body.Description, body.Context = raw["state"], raw["target_url"], raw["description"], raw["context"]
	switch {
	case body.State != "pending" && body.State != "success" && body.State != "failure" && body.State != "error":
		s.reject(w, http.StatusUnprocessableEntity, "github: bad state "+body.State)
		return
	case utf8.RuneCountInString(body.Description) > 140:
		s.reject(w, http.StatusUnprocessableEntity, "github: description over 140 characters")
		return
	case body.Context == "":
		s.reject(w, http.StatusUnprocessableEntity, "github: no context")
		return
	}
	s.mu.Lock()
	s.statuses = append(s.statuses, Status{Provider: "github", Repo: r.PathValue("owner") + "/" + r.PathValue("repo"), SHA: r.PathValue("sha"),
		Context: body.Context, State: body.State, Description: body.Description, TargetURL: body.TargetURL})
	s.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(`{"id":1}`))
}

func (s *Server) gitlab(w http.ResponseWriter, r *http.Request) {
	if s.fault("gitlab", w, r) {
		return
	}
	if r.Header.Get("PRIVATE-TOKEN") != s.Token {
		s.reject(w, http.StatusUnauthorized, "gitlab: 401 Unauthorized")
		return
	}
	var raw map[string]string
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		s.reject(w, http.StatusBadRequest, "gitlab: body is not JSON")
		return
	}
	st := Status{Provider: "gitlab", Repo: r.PathValue("id"), SHA: r.PathValue("sha"), Context: raw["name"], State: raw["state"],
		Description: raw["description"], TargetURL: raw["target_url"]}
	switch st.State {
	case "pending", "running", "success", "failed", "canceled":
	default:
		s.reject(w, http.StatusBadRequest, "gitlab: state does not have a valid value")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// GitLab refuses to move a status to the state it is already in.
	for i := len(s.statuses) - 1; i >= 0; i-- {
		p := s.statuses[i]
		if p.Provider == "gitlab" && p.SHA == st.SHA && p.Context == st.Context {
			if p.State == st.State {
				s.rejected = append(s.rejected, "gitlab: Cannot transition status via :"+st.State+" from :"+p.State)
				http.Error(w, `{"message":"Cannot transition status"}`, http.StatusBadRequest)
				return
			}
			break
		}
	}
	s.statuses = append(s.statuses, st)
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(`{"id":1}`))
}

func (s *Server) webhook(w http.ResponseWriter, r *http.Request) {
	if s.fault("webhook", w, r) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		s.reject(w, http.StatusBadRequest, "webhook: read body")
		return
	}
	if !hmac.Equal([]byte(r.Header.Get(notify.HeaderSignature)), []byte(notify.Sign([]byte(s.Secret), body))) {
		s.reject(w, http.StatusUnauthorized, "webhook: bad signature")
		return
	}
	var ev notify.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		s.reject(w, http.StatusBadRequest, "webhook: body is not an event")
		return
	}
	s.mu.Lock()
	s.webhooks = append(s.webhooks, Delivery{Event: ev, EventHdr: r.Header.Get(notify.HeaderEvent), DeliveryID: r.Header.Get(notify.HeaderDelivery)})
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) slackHook(w http.ResponseWriter, r *http.Request) {
	if s.fault("slack", w, r) {
		return
	}
	var msg struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil || msg.Text == "" {
		s.reject(w, http.StatusBadRequest, "slack: invalid_payload")
		return
	}
	s.mu.Lock()
	s.slack = append(s.slack, msg.Text)
	s.mu.Unlock()
	_, _ = w.Write([]byte("ok"))
}

// Statuses returns the accepted commit statuses of provider on sha, in arrival order.
func (s *Server) Statuses(provider, sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Status
	for _, st := range s.statuses {
		if st.Provider == provider && (sha == "" || st.SHA == sha) {
			out = append(out, st)
		}
	}
	return out
}

// Sequence renders the statuses of provider on sha per context: context → ["pending", "running", ...].
func (s *Server) Sequence(provider, sha string) map[string][]string {
	out := map[string][]string{}
	for _, st := range s.Statuses(provider, sha) {
		out[st.Context] = append(out[st.Context], st.State)
	}
	return out
}

// Webhooks returns the accepted (signature-verified) webhook deliveries in arrival order.
func (s *Server) Webhooks() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.webhooks...)
}

// Slack returns the accepted Slack message texts.
func (s *Server) Slack() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.slack...)
}

// Rejected returns why requests were refused (bad credentials, bad signature, invalid body).
func (s *Server) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejected...)
}

// Requests is how many requests of kind arrived (faulted ones included).
func (s *Server) Requests(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[kind]
}

// Reset forgets everything recorded.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses, s.webhooks, s.slack, s.rejected = nil, nil, nil, nil
	s.requests = map[string]int{}
}
