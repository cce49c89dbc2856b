package corerpc

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestRawMempool(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(f *fakeNode)
		wantLen int
		wantSeq uint64
		wantErr error
	}{
		{name: "block 277647 in the mempool", setup: func(f *fakeNode) {
			f.mempool, f.sequence = f.blk.txids[1:], 4242
		}, wantLen: 212, wantSeq: 4242},
		{name: "empty mempool", setup: func(f *fakeNode) {
			f.mempool, f.sequence = []string{}, 1
		}, wantLen: 0, wantSeq: 1},
		{name: "node without mempool_sequence", setup: func(f *fakeNode) {
			f.mempool, f.noSequence = f.blk.txids, true
		}, wantErr: ErrBadResponse},
		{name: "bad txid", setup: func(f *fakeNode) {
			f.mempool = []string{f.blk.txids[0], "00"}
		}, wantErr: ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			node := newFakeNode(t)
			node.set(tt.setup)
			c := node.client(t, Config{})

			txids, seq, err := c.RawMempool(testCtx(t))
			if tt.wantErr != nil {
				checkErr(t, err, tt.wantErr, 0, 0, "")
				return
			}
			if err != nil || len(txids) != tt.wantLen || seq != tt.wantSeq {
				t.Fatalf("got %d txids, sequence %d, %v; want %d, %d", len(txids), seq, err,
					tt.wantLen, tt.wantSeq)
			}
			if tt.wantLen > 0 && !slices.Equal(txids, node.blk.txids[1:]) {
				t.Error("txids differ from the block's")
			}
		})
	}
}

func TestRawTransactionsRealBlock(t *testing.T) {
	node := newFakeNode(t)
	c := node.client(t, Config{})
	gone := strings.Repeat("ab", 32)
	txids := slices.Insert(slices.Clone(node.blk.txids), 150, gone)

	got, err := c.RawTransactions(testCtx(t), txids)
	if err != nil {
		t.Fatalf("RawTransactions: %v", err)
	}

	if len(got) != len(txids) {
		t.Fatalf("got %d transactions, want %d", len(got), len(txids))
	}
	for i, txid := range txids {
		switch {
		case txid == gone && got[i] != nil:
			t.Errorf("tx %d (%s): got %d bytes, want nil", i, txid, len(got[i]))
		case txid != gone && !bytes.Equal(got[i], node.txs[txid]):
			t.Errorf("tx %d (%s): bytes differ from the block's", i, txid)
		case txid != gone && txidOf(got[i]) != txid:
			t.Errorf("tx %d: hashes to %s, want %s", i, txidOf(got[i]), txid)
		}
	}
	if _, sizes := node.stats(); !slices.Equal(sizes, []int{100, 100, 14}) {
		t.Errorf("batch sizes %v, want [100 100 14]", sizes)
	}
}

func TestRawTransactionsRefuses(t *testing.T) {
	valid := strings.Repeat("0", 64)
	tests := []struct {
		name         string
		txids        []string
		setup        func(f *fakeNode)
		wantIs       error
		wantCode     int
		wantRequests int
	}{
		{name: "short txid", txids: []string{valid, "abc"}, wantIs: ErrInvalidArgument},
		{name: "long txid", txids: []string{valid + "0"}, wantIs: ErrInvalidArgument},
		{name: "not hex", txids: []string{strings.Repeat("g", 64)},
			wantIs: ErrInvalidArgument},
		{name: "item error other than not found", txids: []string{valid},
			setup: func(f *fakeNode) {
				f.itemErrors[valid] = &fakeError{Code: -1, Message: "internal bug"}
			}, wantCode: -1, wantRequests: 1},
		{name: "warming up", txids: []string{valid},
			setup:    func(f *fakeNode) { f.warmup = "Verifying blocks…" },
			wantCode: CodeInWarmup, wantRequests: 1},
		{name: "not hex answer", txids: []string{valid}, setup: func(f *fakeNode) {
			f.txs[valid] = nil
		}, wantIs: ErrBadResponse, wantRequests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			node := newFakeNode(t)
			if tt.setup != nil {
				node.set(tt.setup)
			}
			c := node.client(t, Config{})

			got, err := c.RawTransactions(testCtx(t), tt.txids)
			if got != nil {
				t.Errorf("got %d transactions with the error", len(got))
			}
			checkErr(t, err, tt.wantIs, tt.wantCode, 0, "")
			if n, _ := node.stats(); n != tt.wantRequests {
				t.Errorf("requests: got %d, want %d", n, tt.wantRequests)
			}
		})
	}
}

func TestBatchOfNothing(t *testing.T) {
	node := newFakeNode(t)
	c := node.client(t, Config{})

	txs, err := c.RawTransactions(testCtx(t), nil)
	if err != nil || len(txs) != 0 {
		t.Errorf("RawTransactions(nil): got %d, %v; want none", len(txs), err)
	}
	entries, err := c.MempoolEntries(testCtx(t), []string{})
	if err != nil || len(entries) != 0 {
		t.Errorf("MempoolEntries(empty): got %d, %v; want none", len(entries), err)
	}
	if n, _ := node.stats(); n != 0 {
		t.Errorf("requests: got %d, want 0", n)
	}
}

func TestMempoolEntries(t *testing.T) {
	tests := []struct {
		name    string
		fee     string // JSON text of fees.base; "" leaves the tx out of the mempool
		vsize   int64
		want    MempoolEntry
		wantErr string
	}{
		{name: "1000 sat as Core writes it", fee: "0.00001000", vsize: 141,
			want: MempoolEntry{Found: true, FeeSat: 1000, VSize: 141}},
		{name: "1000 sat short", fee: "0.00001", vsize: 141,
			want: MempoolEntry{Found: true, FeeSat: 1000, VSize: 141}},
		{name: "one satoshi", fee: "0.00000001", vsize: 110,
			want: MempoolEntry{Found: true, FeeSat: 1, VSize: 110}},
		{name: "all the money", fee: "21000000", vsize: 250,
			want: MempoolEntry{Found: true, FeeSat: 2_100_000_000_000_000, VSize: 250}},
		{name: "zero fee", fee: "0.00000000", vsize: 200,
			want: MempoolEntry{Found: true, VSize: 200}},
		{name: "no longer in the mempool", want: MempoolEntry{}},
		{name: "too many decimals", fee: "0.000000001", vsize: 141,
			wantErr: "more than 8 decimals"},
		{name: "exponent", fee: "1e-8", vsize: 141, wantErr: "plain"},
		{name: "negative", fee: "-0.0001", vsize: 141, wantErr: "plain"},
		{name: "fee as a string", fee: `"0.0001"`, vsize: 141, wantErr: "plain"},
		{name: "no fee", fee: "null", vsize: 141, wantErr: "plain"},
		{name: "no vsize", fee: "0.0001", wantErr: "vsize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			node := newFakeNode(t)
			txid := node.blk.txids[7]
			if tt.fee != "" {
				node.set(func(f *fakeNode) { f.entries[txid] = fakeEntry{tt.fee, tt.vsize} })
			}
			c := node.client(t, Config{})

			got, err := c.MempoolEntries(testCtx(t), []string{txid})
			if tt.wantErr != "" {
				checkErr(t, err, ErrBadResponse, 0, 0, "")
				if err != nil && !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != 1 || got[0] != tt.want {
				t.Errorf("got %+v, %v; want [%+v]", got, err, tt.want)
			}
		})
	}
}

func TestMempoolEntriesOrder(t *testing.T) {
	node := newFakeNode(t)
	txids := node.blk.txids[1:]
	node.set(func(f *fakeNode) {
		for i, txid := range txids {
			if i%3 != 0 {
				f.entries[txid] = fakeEntry{"0.0000" + strings.Repeat("1", 1+i%4), int64(100 + i)}
			}
		}
		f.editBatch = func(r []fakeReply) []fakeReply {
			slices.Reverse(r)
			return r
		}
	})
	c := node.client(t, Config{})

	got, err := c.MempoolEntries(testCtx(t), txids)
	if err != nil {
		t.Fatalf("MempoolEntries: %v", err)
	}
	wantFees := []int64{1_000, 1_100, 1_110, 1_111}
	for i, e := range got {
		want := MempoolEntry{}
		if i%3 != 0 {
			want = MempoolEntry{Found: true, FeeSat: wantFees[i%4], VSize: int64(100 + i)}
		}
		if e != want {
			t.Errorf("entry %d: got %+v, want %+v", i, e, want)
		}
	}
}

func TestBlocks(t *testing.T) {
	node := newFakeNode(t)
	c := node.client(t, Config{})
	ctx := testCtx(t)
	const wantHash = "0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8"

	best, err := c.BestBlockHash(ctx)
	if err != nil || best != wantHash {
		t.Errorf("BestBlockHash: got %s, %v; want %s", best, err, wantHash)
	}
	hash, err := c.BlockHash(ctx, 277647)
	if err != nil || hash != wantHash {
		t.Errorf("BlockHash(277647): got %s, %v; want %s", hash, err, wantHash)
	}

	raw, err := c.Block(ctx, wantHash)
	if err != nil || !bytes.Equal(raw, node.blk.raw) {
		t.Errorf("Block: got %d bytes, %v; want the %d bytes of block 277647", len(raw), err,
			len(node.blk.raw))
	}

	header, err := c.BlockHeader(ctx, wantHash)
	want := BlockHeader{Hash: wantHash, Height: 277647, PreviousBlockHash: node.blk.prev,
		Confirmations: 1}
	if err != nil || header != want {
		t.Errorf("BlockHeader: got %+v, %v; want %+v", header, err, want)
	}

	node.set(func(f *fakeNode) { f.stale[wantHash] = true })
	header, err = c.BlockHeader(ctx, wantHash)
	if err != nil || header.Confirmations != -1 {
		t.Errorf("stale BlockHeader: got %+v, %v; want confirmations -1", header, err)
	}

	_, err = c.BlockHeader(ctx, strings.Repeat("1", 64))
	if !IsNotFound(err) {
		t.Errorf("unknown header: got %v, want code %d", err, CodeNotFound)
	}
}

func TestBlockHeaderChecks(t *testing.T) {
	hash := strings.Repeat("a", 64)
	height := func(h int64) *int64 { return &h }
	tests := []struct {
		name    string
		got     string
		height  *int64
		prev    string
		confs   *int64
		wantErr string
	}{
		{"ok", hash, height(5), hash, height(1), ""},
		{"genesis", hash, height(0), "", height(900_000), ""},
		{"upper case asked", strings.ToUpper(hash), height(5), hash, height(-1), ""},
		{"other block", strings.Repeat("b", 64), height(5), hash, height(1), "header of"},
		{"no height", hash, nil, hash, height(1), "no height"},
		{"negative height", hash, height(-1), hash, height(1), "no height"},
		{"no confirmations", hash, height(5), hash, nil, "no confirmations"},
		{"confirmations -2", hash, height(5), hash, height(-2), "no confirmations"},
		{"no parent", hash, height(5), "", height(1), "previousblockhash"},
		{"bad parent", hash, height(5), "zz", height(1), "previousblockhash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkHeader(hash, tt.got, tt.height, tt.prev, tt.confs)
			if tt.wantErr == "" && err != nil {
				t.Errorf("got %v, want no error", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
