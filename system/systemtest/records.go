package systemtest

// Record is what tests compare of a whale_alert or an alert_update message. The fields an
// alert_update alone carries (Previous, AlertSeq, Height, Confirmations, Final) are zero for
// a whale_alert.
type Record struct {
	Type          string
	Seq           uint64
	TxID          string
	ValueSat      int64
	Status        string
	Previous      string
	AlertSeq      uint64
	Height        int64
	Confirmations int64
	Final         bool
}

// Whales277647 are the whales of mainnet block 277647 at the default threshold of 100 BTC,
// in block order.
var Whales277647 = []string{
	"d385205568e5420bc73b190ede001678730d42744d0716d2c5c2b6467cf73082",
	"5143ba5524d21b646de5cd5a1ab6ee7b7823a59c87a347d3b5339e9f977e7dcd",
	"712db987272743dd6e02bdd00fd8a0718bbfd04d13495a97eb70cdc42c010b1e",
}

// Block277647 returns the records a replay of block 277647 stores into a fresh data
// directory: its three whales in block order, then the block's connection confirms each of
// them, in the same order. No final update follows: one block is short of the default
// --settle-blocks.
func Block277647() []Record {
	values := []int64{10_302_775_338, 92_700_000_000, 13_330_798_472}
	out := make([]Record, 0, 2*len(values))
	for i, v := range values {
		out = append(out, Record{Type: "whale_alert", Seq: uint64(i + 1),
			TxID: Whales277647[i], ValueSat: v, Status: "mempool"})
	}
	for i, v := range values {
		out = append(out, Record{Type: "alert_update", Seq: uint64(len(values) + i + 1),
			TxID: Whales277647[i], ValueSat: v, Status: "confirmed", Previous: "mempool",
			AlertSeq: uint64(i + 1), Height: 277647, Confirmations: 1})
	}
	return out
}
