// Command gpgsign writes a detached binary OpenPGP signature of one file, the way `gpg --detach-sig`
// would, from an armored private key held in the environment. GoReleaser calls it to sign
// SHA256SUMS (.goreleaser.yaml, signs.cmd): no gpg binary, keyring or agent is needed on the release
// machine, and the key never touches the disk.
//
//	GPG_PRIVATE_KEY  armored private key (required: without it gpgsign fails rather than leave a release unsigned)
//	GPG_PASSPHRASE   its passphrase, when the key is encrypted
//
//	gpgsign --output FILE.sig FILE
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
)

const (
	keyEnv        = "GPG_PRIVATE_KEY"
	passphraseEnv = "GPG_PASSPHRASE"
)

func main() {
	out := flag.String("output", "", "where to write the detached signature (default FILE.sig)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gpgsign [--output FILE.sig] FILE")
		os.Exit(2)
	}
	file := flag.Arg(0)
	if *out == "" {
		*out = file + ".sig"
	}
	if err := sign(file, *out, os.Getenv(keyEnv), os.Getenv(passphraseEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "gpgsign:", err)
		os.Exit(1)
	}
}

func sign(file, out, armoredKey, passphrase string) error {
	if strings.TrimSpace(armoredKey) == "" {
		return fmt.Errorf("%s is empty: export an armored private key to sign %s (or skip signing with goreleaser --skip=sign)", keyEnv, file)
	}
	keys, err := openpgp.ReadArmoredKeyRing(strings.NewReader(armoredKey))
	if err != nil {
		return fmt.Errorf("read the key in %s: %w", keyEnv, err)
	}
	var signer *openpgp.Entity
	for _, e := range keys {
		if e.PrivateKey != nil {
			signer = e
			break
		}
	}
	if signer == nil {
		return fmt.Errorf("%s holds no private key (a public key was given?)", keyEnv)
	}
	if signer.PrivateKey.Encrypted {
		if passphrase == "" {
			return fmt.Errorf("the key in %s is encrypted: set %s", keyEnv, passphraseEnv)
		}
		if err := signer.DecryptPrivateKeys([]byte(passphrase)); err != nil {
			return fmt.Errorf("decrypt the key in %s with %s: %w", keyEnv, passphraseEnv, err)
		}
	}
	msg, err := os.Open(file)
	if err != nil {
		return err
	}
	defer msg.Close()
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, signer, msg, nil); err != nil {
		return fmt.Errorf("sign %s: %w", file, err)
	}
	if sig.Len() == 0 {
		return errors.New("empty signature")
	}
	return os.WriteFile(out, sig.Bytes(), 0o644)
}
