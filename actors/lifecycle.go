package actors

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/whalecast/whalecast/internal/alert"
	"github.com/whalecast/whalecast/internal/bitcoin"
)

// Defaults of LifecycleConfig.
const (
	DefaultSettleBlocks = 6
	DefaultRemovalGrace = 3 * time.Second
	DefaultMaxTracked   = 100_000
)

// MaxTrackedInputs bounds the inputs of one alert whose outpoints the lifecycle indexes (and
// stores with each of its records): a replacement or a double spend that conflicts only
// through a later input of a larger transaction is not seen. Real transactions rarely have
// more; the bound keeps one alert's memory and stored state small (about 70 KB).
const MaxTrackedInputs = 1000

// LifecycleConfig tunes the lifecycle of alerts. The zero value of each field picks its
// default.
type LifecycleConfig struct {
	// SettleBlocks is K: an alert's outcome is final once the block that decided it
	// (mining it, or mining a conflict) has K confirmations, or K blocks after a mempool
	// verdict (replaced, dropped); the engine then stops following it.
	SettleBlocks int64
	// RemovalGrace is how long a transaction that left the mempool, or whose inputs another
	// mempool transaction spends, waits for the block that would explain it: a mined
	// conflict makes it conflicted; otherwise it is replaced (a conflict was seen) or
	// dropped.
	RemovalGrace time.Duration
	// MaxTracked bounds the alerts followed at once; beyond it the oldest is forgotten.
	MaxTracked int
}

func (c LifecycleConfig) withDefaults() LifecycleConfig {
	if c.SettleBlocks <= 0 {
		c.SettleBlocks = DefaultSettleBlocks
	}
	if c.RemovalGrace <= 0 {
		c.RemovalGrace = DefaultRemovalGrace
	}
	if c.MaxTracked <= 0 {
		c.MaxTracked = DefaultMaxTracked
	}
	return c
}

// Change is one status change the lifecycle decided: the update to store and the tracker
// state to store with it (Forget when the alert settled).
type Change struct {
	Update alert.Update
	State  []byte
	Forget bool
	// Outcome is set on the final change of an alert: how it ended.
	Outcome alert.Status
}

// tracked is what the lifecycle knows about one alerted transaction. The exported fields are
// the state stored with each record, so that a restart goes on where the engine stopped.
type tracked struct {
	TxID     string       `json:"txid"`
	Detector string       `json:"detector"`
	ValueSat int64        `json:"value_sat"`
	Status   alert.Status `json:"status"`
	Spends   []string     `json:"spends"`
	// Height and BlockHash: the block that mined it (confirmed), mined its conflict
	// (conflicted) or was disconnected (reorged).
	Height    int64  `json:"height,omitempty"`
	BlockHash string `json:"block_hash,omitempty"`
	By        string `json:"by,omitempty"`
	// Changed is the chain height when the status last changed, for settling.
	Changed int64 `json:"changed"`
	// Order is the tracking order, for evicting the oldest.
	Order uint64 `json:"order"`

	removedAt  time.Time // left the mempool; zero when not
	conflict   string    // a mempool transaction spending one of its inputs
	conflictAt time.Time
}

// Lifecycle follows alerted transactions through the mempool and the chain and decides their
// status changes. It is a plain state machine: the tracker actor owns it and feeds it events
// in order; every method returns the changes to persist, in order. Not safe for concurrent
// use.
type Lifecycle struct {
	cfg LifecycleConfig
	txs map[string]*tracked
	// waiting holds the alerts with a removal or a conflict whose grace runs.
	waiting map[string]*tracked
	spends  map[wire.OutPoint]string // outpoint -> tracked txid spending it
	tip     int64                    // height of the best block seen; 0 when unknown
	order   uint64
	blocks  map[string]int64 // hashes of recently connected blocks -> height
	recent  []string         // the same hashes in connection order, bounded
	// queue holds the followed txids in tracking order, for evicting the oldest; it may
	// hold txids already forgotten, skipped when met. queueSorted is false after a
	// restore, whose states come in any order.
	queue       []string
	queueSorted bool
}

// maxRecentBlocks bounds the connected block hashes remembered to ignore a block seen twice.
const maxRecentBlocks = 1000

// NewLifecycle returns an empty lifecycle.
func NewLifecycle(cfg LifecycleConfig) *Lifecycle {
	return &Lifecycle{cfg: cfg.withDefaults(), txs: map[string]*tracked{},
		waiting: map[string]*tracked{},
		spends:  map[wire.OutPoint]string{}, blocks: map[string]int64{}}
}

// Tracked returns how many alerts are followed.
func (l *Lifecycle) Tracked() int { return len(l.txs) }

// Tip returns the height of the best block seen, 0 when none was.
func (l *Lifecycle) Tip() int64 { return l.tip }

// Status returns the status of a followed alert.
func (l *Lifecycle) Status(txid string) (alert.Status, bool) {
	t, ok := l.txs[txid]
	if !ok {
		return "", false
	}
	return t.Status, true
}

// Track starts following a new alert; it returns the state to store with the alert, and
// false when the transaction is already followed (an alert raised again after a restart).
func (l *Lifecycle) Track(a alert.Alert, tx *wire.MsgTx) ([]byte, bool) {
	if _, ok := l.txs[a.TxID]; ok || a.Test {
		return nil, false
	}
	l.order++
	t := &tracked{TxID: a.TxID, Detector: a.Detector, ValueSat: a.ValueSat,
		Status: alert.StatusMempool, Changed: l.tip, Order: l.order}
	for _, in := range tx.TxIn[:min(len(tx.TxIn), MaxTrackedInputs)] {
		t.Spends = append(t.Spends, in.PreviousOutPoint.String())
	}
	l.add(t)
	return l.encode(t), true
}

// Restore adds a tracker state loaded from the store at start.
func (l *Lifecycle) Restore(state []byte) error {
	var t tracked
	if err := json.Unmarshal(state, &t); err != nil {
		return fmt.Errorf("lifecycle: restore state: %w", err)
	}
	if _, ok := alert.ParseStatus(string(t.Status)); !ok || t.TxID == "" {
		return fmt.Errorf("lifecycle: restore state of %q: bad status %q", t.TxID, t.Status)
	}
	l.order = max(l.order, t.Order)
	l.tip = max(l.tip, t.Changed, t.Height)
	l.queueSorted = false
	l.add(&t)
	return nil
}

// add indexes t, forgetting the oldest alert when the bound is reached.
func (l *Lifecycle) add(t *tracked) {
	if len(l.txs) >= l.cfg.MaxTracked {
		l.evictOldest()
	}
	l.txs[t.TxID] = t
	if len(l.queue) > 2*len(l.txs)+1024 {
		// Most of the queue was forgotten (settled): keep it proportional to what is
		// followed.
		l.queue = slices.DeleteFunc(l.queue, func(id string) bool {
			_, ok := l.txs[id]
			return !ok
		})
	}
	l.queue = append(l.queue, t.TxID)
	for _, s := range t.Spends {
		if op, err := parseOutPoint(s); err == nil {
			l.spends[op] = t.TxID
		}
	}
}

// evictOldest forgets the alert followed longest. Restored states may come in any order, so
// the queue is sorted once when the first eviction needs it.
func (l *Lifecycle) evictOldest() {
	if !l.queueSorted {
		slices.SortFunc(l.queue, func(a, b string) int {
			return cmp.Compare(l.orderOf(a), l.orderOf(b))
		})
		l.queueSorted = true
	}
	for len(l.queue) > 0 {
		txid := l.queue[0]
		l.queue = l.queue[1:]
		if t, ok := l.txs[txid]; ok {
			l.remove(t)
			return
		}
	}
}

// orderOf returns the tracking order of a followed txid; forgotten ones sort first.
func (l *Lifecycle) orderOf(txid string) uint64 {
	if t, ok := l.txs[txid]; ok {
		return t.Order
	}
	return 0
}

func (l *Lifecycle) remove(t *tracked) {
	delete(l.txs, t.TxID)
	delete(l.waiting, t.TxID)
	for _, s := range t.Spends {
		if op, err := parseOutPoint(s); err == nil && l.spends[op] == t.TxID {
			delete(l.spends, op)
		}
	}
}

// Observe handles a transaction seen in the mempool (or announced again). A followed one that
// had left the mempool is back; one that spends a followed alert's input is evidence of a
// replacement, decided after the grace (a block may show it mined instead).
func (l *Lifecycle) Observe(tx *wire.MsgTx, txid string, now time.Time) []Change {
	var out []Change
	if t, ok := l.txs[txid]; ok {
		t.removedAt = time.Time{}
		if t.conflict == "" {
			delete(l.waiting, txid)
		}
		// A reorged transaction is already back in the mempool as far as anyone knows; a
		// dropped or replaced one seen again has returned.
		if t.Status == alert.StatusDropped || t.Status == alert.StatusReplaced {
			out = append(out, l.change(t, alert.StatusMempool, now, nil))
		}
	}
	for _, in := range tx.TxIn {
		owner, ok := l.spends[in.PreviousOutPoint]
		if !ok || owner == txid {
			continue
		}
		t := l.txs[owner]
		if t.conflict == "" && canBeReplaced(t.Status) {
			t.conflict, t.conflictAt = txid, now
			l.waiting[t.TxID] = t
		}
	}
	return out
}

// canBeReplaced reports whether a transaction in status s can still lose its inputs to a
// mempool replacement.
func canBeReplaced(s alert.Status) bool {
	return s == alert.StatusMempool || s == alert.StatusReorged || s == alert.StatusDropped
}

// Removed handles a transaction leaving the mempool for a reason other than a block (Bitcoin
// Core's sequence "R"). The verdict waits for the grace.
func (l *Lifecycle) Removed(txid string, now time.Time) {
	if t, ok := l.txs[txid]; ok && (t.Status == alert.StatusMempool ||
		t.Status == alert.StatusReorged) && t.removedAt.IsZero() {
		t.removedAt = now
		l.waiting[t.TxID] = t
	}
}

// MempoolSnapshot handles the full list of mempool txids read after a resync: followed
// alerts waiting in the mempool but missing from it left it; dropped or replaced ones
// present are back, as when Observe sees them again.
func (l *Lifecycle) MempoolSnapshot(txids map[string]struct{}, now time.Time) []Change {
	var out []Change
	for _, t := range l.sorted() {
		_, present := txids[t.TxID]
		switch {
		case present && (t.Status == alert.StatusDropped || t.Status == alert.StatusReplaced):
			out = append(out, l.change(t, alert.StatusMempool, now, nil))
		case !present:
			l.Removed(t.TxID, now)
		}
	}
	return out
}

// Connect handles a block joining the best chain at height (0 when unknown: the tip plus
// one). Followed alerts it mines are confirmed; those whose inputs it spends otherwise are
// conflicted. A block already connected is ignored.
func (l *Lifecycle) Connect(b *wire.MsgBlock, hash chainhash.Hash, height int64,
	now time.Time) []Change {
	h := hash.String()
	if _, seen := l.blocks[h]; seen {
		return nil
	}
	if height <= 0 && hash != bitcoin.MainnetGenesis {
		height = l.tip + 1
	}
	l.remember(h, height)
	if l.tip == 0 {
		// The first block of the run: changes made while no height was known count from
		// the block before it.
		for _, t := range l.txs {
			if t.Changed == 0 {
				t.Changed = height - 1
			}
		}
	}
	l.tip = height

	var out []Change
	for _, tx := range b.Transactions {
		txid := tx.TxHash().String()
		if t, ok := l.txs[txid]; ok && t.Status != alert.StatusConfirmed {
			t.Height, t.BlockHash = height, h
			out = append(out, l.change(t, alert.StatusConfirmed, now, nil))
		}
		if bitcoin.IsCoinbase(tx) {
			continue
		}
		for _, in := range tx.TxIn {
			owner, ok := l.spends[in.PreviousOutPoint]
			if !ok || owner == txid {
				continue
			}
			t := l.txs[owner]
			if t.Status == alert.StatusConflicted || t.Status == alert.StatusConfirmed ||
				(t.Status == alert.StatusReplaced && t.By == txid) {
				// Its replacement being mined leaves a replaced alert replaced.
				continue
			}
			t.Height, t.BlockHash, t.By = height, h, txid
			out = append(out, l.change(t, alert.StatusConflicted, now, nil))
		}
	}
	return append(out, l.settle(now)...)
}

// Connected reports whether the block is among the recently connected ones.
func (l *Lifecycle) Connected(hash chainhash.Hash) bool {
	_, ok := l.blocks[hash.String()]
	return ok
}

// Disconnect handles the best block leaving the chain: alerts it confirmed, or whose
// conflict it mined, are reorged.
func (l *Lifecycle) Disconnect(hash chainhash.Hash, now time.Time) []Change {
	h := hash.String()
	height, known := l.blocks[h]
	delete(l.blocks, h)
	if known && height == l.tip {
		l.tip = height - 1
	}

	var out []Change
	for _, t := range l.sorted() {
		if t.BlockHash != h || (t.Status != alert.StatusConfirmed &&
			t.Status != alert.StatusConflicted) {
			continue
		}
		t.By = ""
		out = append(out, l.change(t, alert.StatusReorged, now, nil))
	}
	return out
}

// Tick decides the removals and replacements whose grace ended.
func (l *Lifecycle) Tick(now time.Time) []Change {
	var out []Change
	for _, t := range sortedByOrder(l.waiting) {
		switch {
		case t.conflict != "" && now.Sub(t.conflictAt) >= l.cfg.RemovalGrace &&
			canBeReplaced(t.Status):
			t.By = t.conflict
			out = append(out, l.change(t, alert.StatusReplaced, now, nil))
		case t.conflict == "" && !t.removedAt.IsZero() &&
			now.Sub(t.removedAt) >= l.cfg.RemovalGrace:
			out = append(out, l.change(t, alert.StatusDropped, now, nil))
		}
	}
	return out
}

// settle ends the alerts whose outcome is K blocks old: a final update repeats their status.
func (l *Lifecycle) settle(now time.Time) []Change {
	var out []Change
	for _, t := range l.sorted() {
		// A block decided it (confirmed, conflicted): final at K confirmations of that
		// block. The mempool decided it (replaced, dropped): final K blocks later.
		since := t.Changed
		if t.Status == alert.StatusConfirmed || t.Status == alert.StatusConflicted {
			since = t.Height - 1
		}
		switch t.Status {
		case alert.StatusMempool, alert.StatusReorged:
			continue
		}
		if l.tip-since < l.cfg.SettleBlocks {
			continue
		}
		final := true
		out = append(out, l.change(t, t.Status, now, &final))
	}
	return out
}

// change moves t to status and returns the change to store. final ends the alert.
func (l *Lifecycle) change(t *tracked, status alert.Status, now time.Time,
	final *bool) Change {
	prev := t.Status
	t.Status, t.Changed = status, l.tip
	t.conflict, t.removedAt = "", time.Time{}
	delete(l.waiting, t.TxID)
	if status != alert.StatusConflicted && status != alert.StatusReplaced {
		t.By = ""
	}
	if status == alert.StatusMempool || status == alert.StatusDropped ||
		status == alert.StatusReplaced {
		t.Height, t.BlockHash = 0, ""
	}
	u := alert.Update{TxID: t.TxID, Status: status, Previous: prev, Detector: t.Detector,
		ValueSat: t.ValueSat, Height: t.Height, BlockHash: t.BlockHash, At: now.UTC()}
	switch status {
	case alert.StatusConfirmed:
		u.Confirmations = max(l.tip-t.Height+1, 1)
	case alert.StatusReplaced:
		u.ReplacedBy = t.By
	case alert.StatusConflicted:
		u.ConflictedBy = t.By
	}
	if final != nil {
		u.Final = true
		l.remove(t)
		return Change{Update: u, Forget: true, Outcome: status}
	}
	return Change{Update: u, State: l.encode(t)}
}

// sorted returns the followed alerts in tracking order, so that changes come out in a
// deterministic order.
func (l *Lifecycle) sorted() []*tracked { return sortedByOrder(l.txs) }

func sortedByOrder(set map[string]*tracked) []*tracked {
	out := make([]*tracked, 0, len(set))
	for _, t := range set {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *tracked) int { return cmp.Compare(a.Order, b.Order) })
	return out
}

func (l *Lifecycle) remember(hash string, height int64) {
	if len(l.recent) >= maxRecentBlocks {
		delete(l.blocks, l.recent[0])
		l.recent = l.recent[1:]
	}
	l.blocks[hash] = height
	l.recent = append(l.recent, hash)
}

func (l *Lifecycle) encode(t *tracked) []byte {
	data, _ := json.Marshal(t)
	return data
}

// parseOutPoint reads the "txid:vout" form of wire.OutPoint.String.
func parseOutPoint(s string) (wire.OutPoint, error) {
	txid, vout, ok := strings.Cut(s, ":")
	if !ok {
		return wire.OutPoint{}, fmt.Errorf("outpoint %q: want txid:vout", s)
	}
	h, err := chainhash.NewHashFromStr(txid)
	if err != nil {
		return wire.OutPoint{}, fmt.Errorf("outpoint %q: %w", s, err)
	}
	n, err := strconv.ParseUint(vout, 10, 32)
	if err != nil {
		return wire.OutPoint{}, fmt.Errorf("outpoint %q: %w", s, err)
	}
	return wire.OutPoint{Hash: *h, Index: uint32(n)}, nil
}
