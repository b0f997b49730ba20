package webhook

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzWebhookRequest drives every receiver with arbitrary methods, signature headers and bodies (the
// seeds, run by plain `go test`, include the exact signature, near misses in its last byte, its length
// and its encoding, and oversized bodies). The receiver must answer one of its documented statuses, and
// accept — wake the reconciler — exactly when an independent check of the request says it is genuine:
// for the HMAC kinds, "sha256=" followed by the hex of HMAC-SHA256(secret, body) in either case; for
// GitLab, the token itself.
func FuzzWebhookRequest(f *testing.F) {
	body := []byte(`{"ref":"refs/heads/main"}`)
	good := hex.EncodeToString(Sign(secret, body))
	lastByte := good[:62] + "00"
	if lastByte == good {
		lastByte = good[:62] + "01"
	}
	for _, k := range []uint8{0, 1, 2} {
		for _, sig := range []string{"sha256=" + good, "sha256=" + strings.ToUpper(good), "sha256=" + lastByte, "sha256=" + good[:62],
			"sha256=" + good + "00", "sha1=" + good[:40], "sha256=", "", string(secret), "hook-secreT", "sha256=zz" + good[2:]} {
			f.Add(k, "POST", sig, body)
		}
		f.Add(k, "GET", "sha256="+good, body)
		f.Add(k, "POST", "sha256="+hex.EncodeToString(Sign(secret, nil)), []byte{})
		f.Add(k, "POST", "sha256="+good, bytes.Repeat([]byte("x"), MaxBody+1))
	}
	f.Fuzz(func(t *testing.T, kindSel uint8, method, header string, body []byte) {
		kinds := []Kind{GitHub, GitLab, Generic}
		kind := kinds[int(kindSel)%len(kinds)]
		woke := 0
		rc, err := NewReceiver(kind, secret, func() { woke++ })
		if err != nil {
			t.Fatal(err)
		}
		if !validMethod(method) {
			method = "POST"
		}
		req := httptest.NewRequest(method, "/hook/"+string(kind), bytes.NewReader(body))
		name := map[Kind]string{GitHub: "X-Hub-Signature-256", GitLab: "X-Gitlab-Token", Generic: "X-Signature"}[kind]
		req.Header[name] = []string{header}
		w := httptest.NewRecorder()
		rc.ServeHTTP(w, req)

		genuine := false
		switch {
		case method != http.MethodPost || len(body) > MaxBody:
		case kind == GitLab:
			genuine = header == string(secret)
		default:
			hexSig, ok := strings.CutPrefix(header, "sha256=")
			want := hex.EncodeToString(Sign(secret, body))
			genuine = ok && len(hexSig) == len(want) && hmac.Equal([]byte(strings.ToLower(hexSig)), []byte(want))
		}
		switch w.Code {
		case http.StatusAccepted:
			if !genuine || woke != 1 {
				t.Fatalf("%s %s accepted (woke %d) a request that is not genuine: header %q, %d-byte body", method, kind, woke, header, len(body))
			}
		case http.StatusUnauthorized, http.StatusRequestEntityTooLarge, http.StatusMethodNotAllowed, http.StatusBadRequest:
			if genuine || woke != 0 {
				t.Fatalf("%s refused a genuine request (%d, woke %d): header %q", kind, w.Code, woke, header)
			}
		default:
			t.Fatalf("status %d", w.Code)
		}
	})
}

// validMethod reports whether m is a token net/http accepts as a method.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, c) {
			return false
		}
	}
	return true
}
