package load

import (
	"slices"
)

// MaxTrackedSeqs bounds the seqs one client tracks after its welcome: its bitmap of
// receipts is at most MaxTrackedSeqs/8 bytes (512 KiB). A load alert further on is
// counted as untracked, and the run's lost count no longer covers it.
const MaxTrackedSeqs = 1 << 22

// receipts records which of the load tool's alerts one client received, by seq: one bit
// per seq after the client's welcome seq, whose alerts the server must deliver live. Only
// the client's reader goroutine uses it until the reader has returned.
type receipts struct {
	// base is the seq of the client's welcome: every alert with a higher seq is owed.
	base uint64
	bits []uint64

	unique     uint64 // seqs received
	duplicates uint64 // receipts of a seq already received
	early      uint64 // receipts of a seq at or below base, which no live session gets
	untracked  uint64 // receipts past MaxTrackedSeqs after base
	reordered  uint64 // receipts of a seq below one received before
	last       uint64
}

// add records one receipt of seq and reports whether it was the first.
func (r *receipts) add(seq uint64) bool {
	if seq <= r.base {
		r.early++
		return false
	}
	off := seq - r.base - 1
	if off >= MaxTrackedSeqs {
		r.untracked++
		return false
	}
	word, bit := int(off/64), uint64(1)<<(off%64)
	for len(r.bits) <= word {
		r.bits = append(r.bits, 0)
	}
	if r.bits[word]&bit != 0 {
		r.duplicates++
		return false
	}
	r.bits[word] |= bit
	r.unique++
	if seq < r.last {
		r.reordered++
	}
	r.last = max(r.last, seq)
	return true
}

// has reports whether seq was received.
func (r *receipts) has(seq uint64) bool {
	if seq <= r.base || seq-r.base-1 >= MaxTrackedSeqs {
		return false
	}
	off := seq - r.base - 1
	word := int(off / 64)
	return word < len(r.bits) && r.bits[word]&(1<<(off%64)) != 0
}

// owed counts the seqs of published (sorted, increasing) that the client must receive:
// those after its welcome, within the tracked span.
func (r *receipts) owed(published []uint64) uint64 {
	from, _ := slices.BinarySearch(published, r.base+1)
	to, _ := slices.BinarySearch(published, r.base+1+MaxTrackedSeqs)
	return uint64(to - from)
}

// missing counts the seqs the client owed (see owed) but never received.
func (r *receipts) missing(published []uint64) uint64 {
	from, _ := slices.BinarySearch(published, r.base+1)
	var n uint64
	for _, seq := range published[from:] {
		if seq-r.base-1 >= MaxTrackedSeqs {
			break
		}
		if !r.has(seq) {
			n++
		}
	}
	return n
}

// tally is what the run's clients received, summed over them.
type tally struct {
	Owed       uint64
	Lost       uint64
	Unique     uint64
	Duplicates uint64
	Early      uint64
	Untracked  uint64
	Reordered  uint64
	// Unpublished counts receipts of seqs that no publish call reported: their call failed
	// or timed out after the server stored them.
	Unpublished uint64
}

// account compares what each client received with the published seqs (sorted,
// increasing, without repeats).
func account(published []uint64, clients []*receipts) tally {
	var t tally
	for _, r := range clients {
		owed, lost := r.owed(published), r.missing(published)
		t.Owed += owed
		t.Lost += lost
		t.Unique += r.unique
		t.Unpublished += r.unique - (owed - lost)
		t.Duplicates += r.duplicates
		t.Early += r.early
		t.Untracked += r.untracked
		t.Reordered += r.reordered
	}
	return t
}
