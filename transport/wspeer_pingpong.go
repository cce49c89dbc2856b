package transport

// The parts of a client's control frame header that pingPong reads (RFC 6455, 5.2): the
// first byte holds FIN, the three RSV bits and the opcode; the second holds MASK and a
// 7-bit payload length. A client's frames are masked: a 4-byte key follows the length.
const (
	frameFin       = 0x80
	frameRSV       = 0x70
	frameOpcode    = 0x0f
	frameMasked    = 0x80
	opcodePing     = 0x9
	opcodePong     = 0xa
	maskKeySize    = 4
	maxControlSize = 125
)

// pingPong reads the complete pings and pongs at the head of the read buffer, filling it
// first if it is empty (the socket is readable: that does not block for long), and answers
// them with the handlers gorilla would call. It reports idle when it has used up every byte
// received, so that read can park. Anything else at the head (a data or close frame, a
// frame not complete yet, a frame gorilla would refuse, a read error) is left to gorilla:
// then idle is false and read calls ReadMessage, which reads it exactly as before.
func (p *wsPeer) pingPong() (idle bool, err error) {
	if _, err := p.br.Peek(1); err != nil {
		return false, nil
	}
	for p.br.Buffered() > 0 {
		head, _ := p.br.Peek(min(p.br.Buffered(), 2+maskKeySize+maxControlSize))
		op, payload, ok := pingOrPong(head)
		if !ok {
			return false, nil
		}
		data := string(payload)
		_, _ = p.br.Discard(2 + maskKeySize + len(payload))
		if op == opcodePing {
			err = p.onPing(data)
		} else {
			err = p.onPong(data)
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// pingOrPong reads the frame at the head of b: ok when it is a complete, well-formed ping or
// pong from a client, whose payload it unmasks in place.
func pingOrPong(b []byte) (op byte, payload []byte, ok bool) {
	if len(b) < 2 {
		return 0, nil, false
	}
	op = b[0] & frameOpcode
	size := int(b[1] &^ frameMasked)
	end := 2 + maskKeySize + size
	if b[0]&(frameFin|frameRSV) != frameFin || (op != opcodePing && op != opcodePong) ||
		b[1]&frameMasked == 0 || size > maxControlSize || len(b) < end {
		return 0, nil, false
	}
	key, payload := b[2:2+maskKeySize], b[2+maskKeySize:end]
	for i := range payload {
		payload[i] ^= key[i%maskKeySize]
	}
	return op, payload, true
}
