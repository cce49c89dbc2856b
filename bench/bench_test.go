package bench

import (
	"bytes"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/actors"
	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/bitcoin"
	"github.com/whalecast/whalecast/internal/chaintest"
	"github.com/whalecast/whalecast/internal/clock"
	"github.com/whalecast/whalecast/persistence"
)

// realBlock returns the transactions of mainnet block 277647.
func realBlock(tb testing.TB) []*wire.MsgTx {
	tb.Helper()
	b, _, _ := chaintest.Block277647(tb)
	return b.Transactions
}

func serialize(tb testing.TB, tx *wire.MsgTx) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkDecodeTx decodes and summarizes the 927 BTC transaction of block 277647.
func BenchmarkDecodeTx(b *testing.B) {
	var raw []byte
	for _, tx := range realBlock(b) {
		if tx.TxHash().String() == "5143ba5524d21b646de5cd5a1ab6ee7b7823a59c87a347d3b5339e9f977e7dcd" {
			raw = serialize(b, tx)
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		tx, err := bitcoin.DecodeTx(raw)
		if err != nil {
			b.Fatal(err)
		}
		_ = bitcoin.Summarize(tx)
	}
}

// BenchmarkDetectBlock decodes, summarizes and applies the large_value rule to every
// non-coinbase transaction of block 277647 (212 transactions per op).
func BenchmarkDetectBlock(b *testing.B) {
	var raws [][]byte
	for _, tx := range realBlock(b)[1:] {
		raws = append(raws, serialize(b, tx))
	}
	rule := actors.LargeValue{MinSat: 100 * alert.SatPerBTC}
	b.ReportAllocs()
	for b.Loop() {
		whales := 0
		for _, raw := range raws {
			tx, err := bitcoin.DecodeTx(raw)
			if err != nil {
				b.Fatal(err)
			}
			if rule.Match(actors.Transaction{Msg: tx, Summary: bitcoin.Summarize(tx)}) {
				whales++
			}
		}
		if whales != 3 {
			b.Fatalf("whales = %d, want 3", whales)
		}
	}
	b.ReportMetric(float64(len(raws)), "txs/op")
}

func sampleAlert(i int) alert.Alert {
	return alert.Alert{
		TxID:             bitcoinLikeID(i),
		ValueSat:         92_700_000_000,
		Outputs:          2,
		LargestOutputSat: 91_700_000_000,
		VSize:            225,
		FirstSeen:        time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC),
		Detector:         "large_value",
	}
}

func bitcoinLikeID(i int) string {
	const hex = "0123456789abcdef"
	id := []byte("5143ba5524d21b646de5cd5a1ab6ee7b7823a59c87a347d3b5339e9f00000000")
	for j := len(id) - 1; i > 0; j-- {
		id[j] = hex[i%16]
		i /= 16
	}
	return string(id)
}

// BenchmarkEncodeAlert encodes one alert and its whale_alert frame: the work done once per
// alert, whatever the number of clients.
func BenchmarkEncodeAlert(b *testing.B) {
	a := sampleAlert(1)
	b.ReportAllocs()
	for b.Loop() {
		data, err := alert.EncodeData(a)
		if err != nil {
			b.Fatal(err)
		}
		_ = alert.Frame(alert.Stored{Seq: 42, Data: data})
	}
}

// BenchmarkPersistAlert appends one alert per durable (fsynced) Badger transaction.
func BenchmarkPersistAlert(b *testing.B) {
	store, err := persistence.OpenBadger(persistence.BadgerOptions{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := store.Append(alert.AlertRecords([]alert.Alert{sampleAlert(i)})); err != nil {
			b.Fatal(err)
		}
	}
}

// frameCounter counts frames across sessions and signals when a target is reached.
type frameCounter struct {
	n      atomic.Int64
	target atomic.Int64
	done   chan struct{}
}

// expect sets the count to wait for; wait blocks until it is reached, for at most 30 s.
func (c *frameCounter) expect(n int64) { c.target.Store(n) }

func (c *frameCounter) wait(b *testing.B) {
	b.Helper()
	if c.n.Load() >= c.target.Load() {
		return
	}
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		b.Fatalf("frames = %d, want %d", c.n.Load(), c.target.Load())
	}
}

// countingPeer is a connection that counts the frames it is given and never fills up.
type countingPeer struct {
	frames *frameCounter
}

func (p countingPeer) Send([]byte) bool {
	if p.frames.n.Add(1) == p.frames.target.Load() {
		p.frames.done <- struct{}{}
	}
	return true
}
func (countingPeer) Close(int, string)             {}
func (countingPeer) CloseWith([]byte, int, string) {}
func (countingPeer) Released()                     {}
func (countingPeer) Queued() int                   { return 0 }
func (countingPeer) Remote() string                { return "bench" }
func (countingPeer) Closed() bool                  { return false }

// BenchmarkFanout publishes one alert to n authenticated in-process sessions per op and
// waits until every connection has it (the broadcaster hands it to each session's outlet).
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 1_000, 10_000} {
		b.Run(sizeName(n), func(b *testing.B) { benchFanout(b, n) })
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1000:
		return "sessions=" + itoa(n/1000) + "k"
	default:
		return "sessions=" + itoa(n)
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func benchFanout(b *testing.B, n int) {
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	defer system.Shutdown()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	stats := actors.NewStats(time.Now())
	mem := persistence.NewMemory()
	broadcaster := system.Root.Spawn(actors.NewBroadcasterProps(mem, stats, log))
	sessions := system.Root.Spawn(actors.NewSessionsProps(&actors.SessionDeps{
		Config:      actors.SessionConfig{NoAuth: true},
		Broadcaster: broadcaster,
		Alerts:      mem,
		Clock:       clock.Real{},
		Stats:       stats,
		Logger:      log,
	}))

	frames := &frameCounter{done: make(chan struct{}, 1)}
	frames.expect(int64(2 * n))
	for range n {
		_, err := system.Root.RequestFuture(sessions,
			&actors.StartSession{Peer: countingPeer{frames: frames}}, 5*time.Second).Result()
		if err != nil {
			b.Fatal(err)
		}
	}
	// Each session sends auth_success and welcome once subscribed.
	frames.wait(b)
	drain(frames.done)

	b.ReportAllocs()
	seq := uint64(0)
	want := int64(2 * n)
	frames.expect(0)
	for b.Loop() {
		seq++
		data, _ := alert.EncodeData(sampleAlert(int(seq)))
		system.Root.Send(broadcaster, &actors.Published{Entries: []actors.Entry{{
			Stored: alert.Stored{Seq: seq, Data: data},
			Meta:   actors.Meta{ValueSat: 92_700_000_000}}}})
		want += int64(n)
		frames.expect(want)
		frames.wait(b)
		drain(frames.done)
	}
	b.ReportMetric(float64(n), "deliveries/op")
}

func drain(c chan struct{}) {
	select {
	case <-c:
	default:
	}
}
