package transport

import (
	"runtime"
	"testing"
)

// TestLiveConnsSweep checks the set behind CutConns: it reports only the connections that
// have not ended, sweeps ended ones as it grows, and keeps none alive.
func TestLiveConnsSweep(t *testing.T) {
	var l liveConns
	kept := make([]*wsPeer, 0, 300)
	for i := range 300 {
		p := &wsPeer{}
		if i%3 != 0 {
			p.ended.Store(true)
		}
		kept = append(kept, p)
		l.add(p)
	}
	if got, want := len(l.open()), 100; got != want {
		t.Errorf("open: got %d, want %d (the peers not ended)", got, want)
	}
	if n := len(l.peers); n > 2*len(l.open())+minSweep {
		t.Errorf("set holds %d entries for %d open peers: ended ones are not swept", n,
			len(l.open()))
	}

	// An ended peer nobody holds any more is not kept alive by the set.
	for _, p := range kept {
		p.ended.Store(true)
	}
	runtime.KeepAlive(kept)
	runtime.GC()
	runtime.GC()
	alive := 0
	for wp := range l.peers {
		if wp.Value() != nil {
			alive++
		}
	}
	if alive != 0 {
		t.Errorf("%d peers still reachable through the set after they ended and were dropped",
			alive)
	}
	l.add(&wsPeer{})
	if got := len(l.open()); got != 1 {
		t.Errorf("open after a new peer: got %d, want 1", got)
	}
}
