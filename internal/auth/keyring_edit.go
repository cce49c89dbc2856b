package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Rotate adds a fresh HS256 key with a random kid, makes it the signing key and keeps the
// previous signing key as a verify-only key, so that tokens it signed keep verifying until
// it is retired. It returns the new kid. On a data directory without keys.json, the ring
// LoadRing would create is written and its own new key (or k0, migrated from secret.key, then
// rotated) is the answer.
func (r *Ring) Rotate() (kid string, err error) {
	_, err = r.edit(func(f *ringFile, setup RingSetup) (bool, error) {
		if setup == RingCreated {
			kid = f.Keys[f.signingIndex()].KID
			return false, nil
		}
		k, err := newHS256Key(f, time.Now().UTC().Truncate(time.Second))
		if err != nil {
			return false, err
		}
		if i := f.signingIndex(); i >= 0 {
			f.Keys[i].State = KeyVerify
		}
		f.Keys = append(f.Keys, k)
		kid = k.KID
		return true, nil
	})
	if err != nil {
		return "", fmt.Errorf("auth: rotate: %w", err)
	}
	return kid, nil
}

// Retire stops the key kid from verifying anything, for good: its state becomes retired and
// its key material is erased from keys.json; the kid stays reserved. Retiring the signing
// key hands signing to the newest HS256 key still in use, and is refused when there is none
// (ErrLastSigningKey): rotate first. An unknown kid fails with ErrUnknownKey, a retired one
// with ErrKeyRetired; the env key is not in the file and cannot be retired (unset
// WEBSOCKET_SECRET_KEY instead).
func (r *Ring) Retire(kid string) error {
	if kid == EnvKeyID {
		return fmt.Errorf("auth: retire %s: %w: it is %s, which lives only in memory; "+
			"unset the variable to stop using it", kid, ErrUnknownKey, EnvSecretKey)
	}
	_, err := r.edit(func(f *ringFile, _ RingSetup) (bool, error) {
		i := f.index(kid)
		if i < 0 {
			return false, ErrUnknownKey
		}
		k := &f.Keys[i]
		if k.State == KeyRetired {
			return false, ErrKeyRetired
		}
		if k.State == KeySigning {
			next := -1
			for j := range f.Keys {
				if j != i && f.Keys[j].Alg == AlgHS256 && f.Keys[j].State == KeyVerify {
					next = j // keys are in the order they were added: the last is newest
				}
			}
			if next < 0 {
				return false, ErrLastSigningKey
			}
			f.Keys[next].State = KeySigning
		}
		now := time.Now().UTC().Truncate(time.Second)
		clear(k.Secret)
		k.State, k.Retired, k.Secret, k.PublicKey = KeyRetired, &now, nil, nil
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("auth: retire %.64q: %w", kid, err)
	}
	return nil
}

// ImportPublic adds an Ed25519 public key under kid, as a verify-only EdDSA key: tokens an
// outside issuer signs with the matching private key, and whose header names kid, verify.
//
// data is a PEM block "PUBLIC KEY" holding a PKIX Ed25519 key (as `openssl pkey -pubout`
// writes it), or the raw 32-byte key in hex or base64 (standard or URL alphabet, padded or
// not); surrounding white space is ignored. Any other key type, a private key, or a
// small-order point, for which anyone could forge signatures, fails with ErrKeyType. kid must
// be 1 to MaxKeyIDLen bytes of ASCII letters, digits and . _ - and not env (ErrInvalidKeyID),
// and not used already, even by a retired key (ErrKeyExists).
func (r *Ring) ImportPublic(kid string, data []byte) error {
	if !validKeyID(kid) || kid == EnvKeyID {
		return fmt.Errorf("auth: import public key %.64q: %w: want 1 to %d of "+
			"[A-Za-z0-9._-], not %s", kid, ErrInvalidKeyID, MaxKeyIDLen, EnvKeyID)
	}
	pub, err := parseEd25519Public(data)
	if err != nil {
		return fmt.Errorf("auth: import public key %s: %w", kid, err)
	}
	_, err = r.edit(func(f *ringFile, _ RingSetup) (bool, error) {
		if f.index(kid) >= 0 {
			return false, ErrKeyExists
		}
		f.Keys = append(f.Keys, fileKey{
			KID:       kid,
			Alg:       AlgEdDSA,
			State:     KeyVerify,
			Created:   time.Now().UTC().Truncate(time.Second),
			PublicKey: hexBytes(pub),
		})
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("auth: import public key %s: %w", kid, err)
	}
	return nil
}

// parseEd25519Public decodes an Ed25519 public key in one of the forms ImportPublic takes.
// Its errors wrap ErrKeyType and never quote data.
func parseEd25519Public(data []byte) (ed25519.PublicKey, error) {
	text := bytes.TrimSpace(data)
	var raw []byte
	if bytes.HasPrefix(text, []byte("-----BEGIN")) {
		block, rest := pem.Decode(text)
		switch {
		case block == nil:
			return nil, fmt.Errorf("%w: unreadable PEM", ErrKeyType)
		case len(bytes.TrimSpace(rest)) != 0:
			return nil, fmt.Errorf("%w: more than one PEM block", ErrKeyType)
		case strings.Contains(block.Type, "PRIVATE"):
			return nil, fmt.Errorf("%w: this is a private key; give the public key only "+
				"(openssl pkey -pubout), and keep the private key with its issuer", ErrKeyType)
		case block.Type != "PUBLIC KEY":
			return nil, fmt.Errorf("%w: PEM block %.32q, want \"PUBLIC KEY\"", ErrKeyType,
				block.Type)
		case len(block.Headers) != 0:
			return nil, fmt.Errorf("%w: PEM block with headers", ErrKeyType)
		}
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: not a PKIX public key", ErrKeyType)
		}
		ed, ok := key.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: a %T, want Ed25519", ErrKeyType, key)
		}
		raw = ed
	} else {
		raw = decodeRawKey(string(text))
		if raw == nil {
			return nil, fmt.Errorf("%w: neither PEM nor a %d-byte key in hex or base64",
				ErrKeyType, ed25519.PublicKeySize)
		}
	}
	if err := checkEd25519Public(raw); err != nil {
		return nil, err
	}
	return ed25519.PublicKey(bytes.Clone(raw)), nil
}

// decodeRawKey decodes text as 32 bytes in hex or one of the base64 alphabets, or returns
// nil.
func decodeRawKey(text string) []byte {
	if len(text) == hex.EncodedLen(ed25519.PublicKeySize) {
		if b, err := hex.DecodeString(text); err == nil {
			return b
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.Strict().DecodeString(text)
		if err == nil && len(b) == ed25519.PublicKeySize {
			return b
		}
	}
	return nil
}

// checkEd25519Public refuses a key of the wrong size and the small-order points. For such a
// key A, [k]A takes at most 8 values whatever k, so a signature (R, 0) with R one of them
// verifies for a fair share of all messages: crypto/ed25519 accepts it, so the ring must
// refuse the key. The point's y coordinate is compared modulo p, which also catches its
// non-canonical encodings; the sign bit of x does not matter.
func checkEd25519Public(pub []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrKeyType, len(pub),
			ed25519.PublicKeySize)
	}
	le := make([]byte, len(pub))
	for i, b := range pub {
		le[len(pub)-1-i] = b
	}
	le[0] &= 0x7f
	y := new(big.Int).SetBytes(le)
	y.Mod(y, fieldP)
	for _, bad := range smallOrderY {
		if y.Cmp(bad) == 0 {
			return fmt.Errorf("%w: a small-order point, for which anyone can forge "+
				"signatures", ErrKeyType)
		}
	}
	return nil
}

// fieldP is 2^255 - 19, the prime of Curve25519's field.
var fieldP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))

// smallOrderY holds the y coordinates of the eight points of order 1, 2, 4 and 8: 1 (the
// identity), -1 (order 2), 0 (the two of order 4), and ±y8 (the four of order 8).
var smallOrderY = func() []*big.Int {
	// y8 in little-endian bytes, as an encoded point of order 8 holds it.
	const y8LE = "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"
	b, _ := hex.DecodeString(y8LE)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	y8 := new(big.Int).SetBytes(b)
	return []*big.Int{
		big.NewInt(0),
		big.NewInt(1),
		new(big.Int).Sub(fieldP, big.NewInt(1)),
		y8,
		new(big.Int).Sub(fieldP, y8),
	}
}()
