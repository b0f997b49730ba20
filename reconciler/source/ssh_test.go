package source

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/objectstack-ai/terraform-provider-objectstack/reconciler/internal/gittest"
)

// sshGitServer is a minimal SSH server on loopback that accepts one client key and runs git-upload-pack for
// exec requests, like a Git host does.
func sshGitServer(t *testing.T, clientKey ssh.PublicKey, root string) (addr string, hostKey ssh.PublicKey) {
	t.Helper()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if string(k.Marshal()) == string(clientKey.Marshal()) {
			return nil, nil
		}
		return nil, fmt.Errorf("unknown key")
	}}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveSSH(c, cfg, root)
			}()
		}
	}()
	return ln.Addr().String(), signer.PublicKey()
}

func serveSSH(c net.Conn, cfg *ssh.ServerConfig, root string) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		for req := range chReqs {
			if req.Type != "exec" || len(req.Payload) < 4 {
				_ = req.Reply(false, nil)
				continue
			}
			n := binary.BigEndian.Uint32(req.Payload)
			command := string(req.Payload[4 : 4+n])
			svc, repoPath, _ := strings.Cut(command, " ")
			if svc != "git-upload-pack" {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			repoPath = strings.Trim(repoPath, "'")
			cmd := exec.Command("git", "upload-pack", filepath.Join(root, filepath.Base(repoPath)))
			cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, io.Discard
			code := 0
			if err := cmd.Run(); err != nil {
				code = 1
			}
			_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(code)))
			ch.Close()
			break
		}
	}
}

// TestFetchOverSSH authenticates with a key file and verifies the host against a known_hosts file; an
// unknown host key is refused.
func TestFetchOverSSH(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	remote := gittest.New(t)
	remote.Write(map[string][]byte{"objectstack.yaml": []byte("v: 1\n")})
	c1 := remote.Commit("v1")

	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, _ := ssh.NewPublicKey(pub)
	addr, hostKey := sshGitServer(t, sshPub, filepath.Dir(remote.Bare))
	url := fmt.Sprintf("ssh://git@%s/%s", addr, filepath.Base(remote.Bare))

	known := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(known, []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, hostKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{URL: url, SSHKeyFile: keyFile, KnownHostsFile: known, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rev, _, err := s.Fetch(context.Background())
	if err != nil || rev.Commit != c1 {
		t.Fatalf("fetch over ssh: %+v %v", rev, err)
	}

	// A known_hosts file that does not list this host: refused, never trusted on first use.
	other := filepath.Join(dir, "other_known_hosts")
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(otherPriv)
	if err := os.WriteFile(other, []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, otherSigner.PublicKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = New(Options{URL: url, SSHKeyFile: keyFile, KnownHostsFile: other, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Fetch(context.Background()); err == nil {
		t.Fatal("a host key not in known_hosts must be refused")
	}
}
