package bitcoin

import "github.com/btcsuite/btcd/wire/v2"

// spendKind is the type of output a simulated transaction spends; one wallet spends one
// kind in all its inputs.
type spendKind uint8

const (
	spendP2WPKH spendKind = iota
	spendP2TR
	spendP2SHP2WPKH
	spendP2WSH // 2-of-3 multisig, as exchanges and custodians use
	spendP2PKH
)

// outKind is the type of an output script.
type outKind uint8

const (
	outP2WPKH outKind = iota
	outP2TR
	outP2SH
	outP2WSH
	outP2PKH
)

// Shares in percent of the kinds spent and paid to; see docs/simulator.md.
var (
	simSpendKinds = []weighted[spendKind]{
		{50, spendP2WPKH}, {14, spendP2TR}, {13, spendP2SHP2WPKH}, {10, spendP2WSH},
		{13, spendP2PKH},
	}
	simPayKinds = []weighted[outKind]{
		{40, outP2WPKH}, {18, outP2TR}, {22, outP2SH}, {6, outP2WSH}, {14, outP2PKH},
	}
)

// change returns the output kind a wallet of this kind sends its change to.
func (k spendKind) change() outKind {
	switch k {
	case spendP2TR:
		return outP2TR
	case spendP2SHP2WPKH:
		return outP2SH
	case spendP2WSH:
		return outP2WSH
	case spendP2PKH:
		return outP2PKH
	}
	return outP2WPKH
}

// input returns an input of the given kind with a fresh outpoint and a signature script
// and witness of the right shape and plausible sizes.
func (s *Sim) input(kind spendKind) *wire.TxIn {
	in := &wire.TxIn{PreviousOutPoint: s.outpoint()}
	switch kind {
	case spendP2WPKH:
		in.Witness = wire.TxWitness{s.ecdsaSig(), s.pubKey()}
	case spendP2TR:
		in.Witness = wire.TxWitness{s.random(64)}
	case spendP2SHP2WPKH:
		redeem := append([]byte{0x00, 0x14}, s.random(20)...)
		in.SignatureScript = push(redeem)
		in.Witness = wire.TxWitness{s.ecdsaSig(), s.pubKey()}
	case spendP2WSH:
		script := []byte{0x52} // OP_2
		for range 3 {
			script = append(script, push(s.pubKey())...)
		}
		script = append(script, 0x53, 0xae) // OP_3 OP_CHECKMULTISIG
		in.Witness = wire.TxWitness{{}, s.ecdsaSig(), s.ecdsaSig(), script}
	case spendP2PKH:
		in.SignatureScript = append(push(s.ecdsaSig()), push(s.pubKey())...)
	}
	return in
}

// outputScript returns a standard output script of the given kind to a random key or
// script hash.
func (s *Sim) outputScript(kind outKind) []byte {
	switch kind {
	case outP2TR: // OP_1 <32-byte key>
		return append([]byte{0x51, 0x20}, s.random(32)...)
	case outP2SH: // OP_HASH160 <20> OP_EQUAL
		return append(append([]byte{0xa9, 0x14}, s.random(20)...), 0x87)
	case outP2WSH: // OP_0 <32>
		return append([]byte{0x00, 0x20}, s.random(32)...)
	case outP2PKH: // OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG
		return append(append([]byte{0x76, 0xa9, 0x14}, s.random(20)...), 0x88, 0xac)
	}
	return append([]byte{0x00, 0x14}, s.random(20)...) // OP_0 <20>
}

// opReturn returns an OP_RETURN script carrying 20 to 75 bytes of data.
func (s *Sim) opReturn() []byte {
	return append([]byte{0x6a}, push(s.random(20+s.intn(56)))...)
}

// ecdsaSig returns a DER-encoded ECDSA signature with a low S value and SIGHASH_ALL, 71
// or 72 bytes long like most signatures on chain.
func (s *Sim) ecdsaSig() []byte {
	r := s.random(32)
	r[0] |= 0x01 // no zero leading byte, so the 32-byte encoding stays minimal
	if r[0]&0x80 != 0 {
		r = append([]byte{0x00}, r...) // DER integers are signed
	}
	sv := s.random(32)
	sv[0] = sv[0]&0x7f | 0x01 // low S (BIP62/BIP146) and minimal
	sig := []byte{0x30, byte(4 + len(r) + len(sv)), 0x02, byte(len(r))}
	sig = append(sig, r...)
	sig = append(sig, 0x02, byte(len(sv)))
	sig = append(sig, sv...)
	return append(sig, 0x01) // SIGHASH_ALL
}

// pubKey returns a 33-byte compressed public key.
func (s *Sim) pubKey() []byte {
	key := s.random(33)
	key[0] = 0x02 | key[0]&0x01
	return key
}

func (s *Sim) random(n int) []byte {
	b := make([]byte, n)
	s.fill(b)
	return b
}

// push returns data preceded by its direct push opcode (data must be 1 to 75 bytes).
func push(data []byte) []byte {
	return append([]byte{byte(len(data))}, data...)
}
