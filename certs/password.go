package certs

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/avatar-project/avatar-sync/spec"
)

// ErrPasswordDoesNotOpen: a keystore or truststore in tls.dir rejects the keystore password. The
// brokers read that password from the kafka-tls-password Secret, so applying it would leave every
// broker unable to open its stores at its next restart (issue 21).
var ErrPasswordDoesNotOpen = errors.New("the keystore password does not open the stores in tls.dir")

// CheckPassword opens every keystore and truststore tls.dir holds for the spec's brokers and
// clients with pw, and names each one whose integrity check rejects it. Stores not written yet are
// not checked (certs inspect reports them missing); neither are PEM stores, which hold no password.
// It only reads what Load gathered, so it is as pure as Status.
func CheckPassword(s *spec.Spec, src Source, pw Password) error {
	kt := SettingsOf(s).KeystoreType
	if kt == spec.KeystorePEM {
		return nil
	}
	leaves, err := Leaves(s)
	if err != nil {
		return err
	}
	var locked []string
	for _, l := range leaves {
		for _, name := range []string{KeystoreFile(l.Name, kt), TruststoreFile(l.Name, kt)} {
			data, _, err := readOptional(src.Dir, name)
			if err != nil {
				return fmt.Errorf("read %s: %w", joinDir(src.DirPath, name), err)
			}
			if data != nil && rejectsPassword(kt, data, pw.Value) {
				locked = append(locked, name)
			}
		}
	}
	if len(locked) == 0 {
		return nil
	}
	return fmt.Errorf("%w: the password from %s does not open %s in %s; the brokers would fail to start with it. Give the password the stores were written with, or re-key them on purpose with `avatar-sync certs generate --force`",
		ErrPasswordDoesNotOpen, pw.From, strings.Join(locked, ", "), src.DirPath)
}

// rejectsPassword reports whether a store's integrity check fails with password. A file that is not
// a store at all is not a password problem; it is left to the tools that write and inspect stores.
func rejectsPassword(keystoreType string, data []byte, password string) bool {
	if keystoreType == spec.KeystoreJKS {
		err := keystore.New().Load(bytes.NewReader(data), []byte(password))
		// keystore-go has no sentinel: a wrong password fails the store's SHA-1 digest.
		return err != nil && strings.Contains(err.Error(), "invalid digest")
	}
	_, err := pkcs12.DecodeTrustStore(data, password)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return true
	}
	if err == nil {
		return false
	}
	// A keystore is not a trust store: decode it as a key and chain.
	_, _, _, err = pkcs12.DecodeChain(data, password)
	return errors.Is(err, pkcs12.ErrIncorrectPassword)
}

func joinDir(dir, name string) string {
	if dir == "" {
		return name
	}
	return strings.TrimSuffix(dir, "/") + "/" + name
}
