package storetest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whalecast/whalecast/persistence"
)

// SharedStore is what RunSecurityContract checks: the alert store and the security store on
// one database, as the engine holds them. *persistence.Badger and *persistence.Memory are
// both.
type SharedStore interface {
	persistence.Store
	persistence.SecurityStore
}

// AuditEvent returns a realistic auth failure event; i varies its time, jti and detail.
func AuditEvent(i int) persistence.AuditEvent {
	return persistence.AuditEvent{
		Time:    seenAt.Add(time.Duration(i) * time.Second),
		Type:    persistence.AuditAuthFailure,
		Client:  "desk-7@fund.example",
		Remote:  "203.0.113.7",
		Reason:  "bad_signature",
		KeyID:   "hs-2024-04",
		TokenID: fmt.Sprintf("%032x", i),
		Detail:  "websocket auth message " + strconv.Itoa(i),
	}
}

// AuditEvents returns n events built by AuditEvent, from first.
func AuditEvents(first, n int) []persistence.AuditEvent {
	out := make([]persistence.AuditEvent, n)
	for i := range out {
		out[i] = AuditEvent(first + i)
	}
	return out
}

// JWTLike returns a well-formed HS256 token over claims, signed with a throwaway key: what a
// token leaking into a record would look like. With none set, it returns an unsigned alg
// none token instead.
func JWTLike(claims string, none bool) string {
	enc := base64.RawURLEncoding
	if none {
		return enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
			enc.EncodeToString([]byte(claims)) + "."
	}
	signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"hs-2024-04"}`)) +
		"." + enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, []byte("storetest throwaway key, signs nothing real"))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// RunSecurityContract runs the SecurityStore contract against the stores that open returns.
// open must return an empty store and close it when the test ends; the suite calls it once
// per case.
func RunSecurityContract(t *testing.T, open func(t *testing.T) SharedStore) {
	t.Helper()

	cases := []struct {
		name string
		run  func(t *testing.T, s SharedStore)
	}{
		{"AuditEmpty", testAuditEmpty},
		{"AuditDenseAcrossBatches", testAuditDense},
		{"AuditSeparateFromAlerts", testAuditSeparate},
		{"AuditFieldsRoundTrip", testAuditRoundTrip},
		{"AuditRangePaging", testAuditPaging},
		{"AuditRangeWalk", testAuditWalk},
		{"AuditGuard", testAuditGuard},
		{"AuditRedacted", testAuditRedacted},
		{"AuditConcurrent", testAuditConcurrent},
		{"RevocationStored", testRevocationStored},
		{"RevocationIdempotent", testRevocationIdempotent},
		{"RevocationExpires", testRevocationExpires},
		{"RevocationInvalid", testRevocationInvalid},
		{"APIKeyLifecycle", testAPIKeyLifecycle},
		{"APIKeyConflicts", testAPIKeyConflicts},
		{"APIKeyInvalid", testAPIKeyInvalid},
		{"APIKeyOwnership", testAPIKeyOwnership},
		{"SecurityClose", testSecurityClose},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
	}
}

func testAuditEmpty(t *testing.T, s SharedStore) {
	if got := MustRangeAudit(t, s, 0, 10); len(got) != 0 {
		t.Errorf("RangeAudit(0, 10) on an empty store = %d events, want 0", len(got))
	}
	got, err := s.AppendAudit(nil)
	if err != nil || len(got) != 0 {
		t.Errorf("AppendAudit(nil) = %d events, %v; want 0, nil", len(got), err)
	}
	if got := MustAppendAudit(t, s, AuditEvents(0, 1)); got[0].Seq != 1 {
		t.Errorf("first audit event has seq %d, want 1", got[0].Seq)
	}
}

func testAuditDense(t *testing.T, s SharedStore) {
	var want uint64
	for i, n := range []int{1, 3, 0, 5, 2} {
		batch := AuditEvents(int(want), n)
		for j := range batch {
			batch[j].Seq = 99 // ignored
		}
		got := MustAppendAudit(t, s, batch)
		if len(got) != n {
			t.Fatalf("batch %d: stored %d events, want %d", i, len(got), n)
		}
		for _, e := range got {
			want++
			if e.Seq != want {
				t.Fatalf("batch %d: seq %d, want %d", i, e.Seq, want)
			}
		}
	}
	if all := MustRangeAudit(t, s, 0, 100); uint64(len(all)) != want {
		t.Errorf("RangeAudit found %d events, want %d", len(all), want)
	}
}

func testAuditSeparate(t *testing.T, s SharedStore) {
	mustAppend(t, s, Alerts("sep", 3))
	if got := MustAppendAudit(t, s, AuditEvents(0, 2)); got[0].Seq != 1 {
		t.Errorf("first audit seq after 3 alerts = %d, want 1", got[0].Seq)
	}
	checkSeqs(t, s, 3, 3)

	if got := mustAppend(t, s, Alerts("sep2", 1)); got[0].Seq != 4 {
		t.Errorf("alert seq after 2 audit events = %d, want 4", got[0].Seq)
	}
	if got := MustAppendAudit(t, s, AuditEvents(2, 1)); got[0].Seq != 3 {
		t.Errorf("audit seq = %d, want 3", got[0].Seq)
	}
	if page := mustRange(t, s, 0, 100); len(page) != 4 {
		t.Errorf("Range found %d alerts, want 4", len(page))
	}
}

func testAuditRoundTrip(t *testing.T, s SharedStore) {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	full := persistence.AuditEvent{
		Time:    time.Date(2025, 3, 4, 5, 6, 7, 123456789, zone),
		Type:    persistence.AuditAPIKeyRevoked,
		Client:  "Zürich desk ✓",
		Remote:  "2001:db8::7",
		Reason:  "operator_request",
		KeyID:   "0f1e2d3c4b5a6978",
		TokenID: "6f2c1f0e-8d9b-4a7c-9e3d-2b1a0c9d8e7f",
		Detail:  strings.Repeat("d", persistence.MaxAuditFieldLen),
	}
	minimal := persistence.AuditEvent{Type: persistence.AuditKeyRotated}

	before := time.Now()
	stored := MustAppendAudit(t, s, []persistence.AuditEvent{full, minimal})
	after := time.Now()
	ranged := MustRangeAudit(t, s, 0, 10)
	if len(ranged) != 2 {
		t.Fatalf("RangeAudit = %d events, want 2", len(ranged))
	}

	want := full
	want.Seq, want.Time = 1, full.Time.UTC()
	for name, got := range map[string]persistence.AuditEvent{
		"AppendAudit": stored[0], "RangeAudit": ranged[0],
	} {
		if !sameEvent(got, want) {
			t.Errorf("%s = %+v, want %+v", name, got, want)
		}
		if got.Time.Location() != time.UTC {
			t.Errorf("%s time in %v, want UTC", name, got.Time.Location())
		}
	}

	for name, got := range map[string]persistence.AuditEvent{
		"AppendAudit": stored[1], "RangeAudit": ranged[1],
	} {
		if got.Time.Before(before.Add(-time.Millisecond)) || got.Time.After(after) {
			t.Errorf("%s stamped a zero time with %v, want between %v and %v",
				name, got.Time, before, after)
		}
		if got.Seq != 2 || got.Type != minimal.Type || got.Client != "" {
			t.Errorf("%s minimal event = %+v", name, got)
		}
	}
}

func testAuditPaging(t *testing.T, s SharedStore) {
	MustAppendAudit(t, s, AuditEvents(0, 6))
	MustAppendAudit(t, s, AuditEvents(6, 4))

	cases := []struct {
		name         string
		after        uint64
		limit        int
		first, count uint64
	}{
		{"from start", 0, 3, 1, 3},
		{"middle", 4, 3, 5, 3},
		{"across batches", 5, 2, 6, 2},
		{"tail shorter than limit", 8, 5, 9, 2},
		{"whole log", 0, 1 << 30, 1, 10},
		{"at end", 10, 5, 0, 0},
		{"past end", 15, 5, 0, 0},
		{"zero limit", 0, 0, 0, 0},
		{"negative limit", 0, -1, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := MustRangeAudit(t, s, c.after, c.limit)
			if uint64(len(got)) != c.count {
				t.Fatalf("RangeAudit(%d, %d) = %d events, want %d",
					c.after, c.limit, len(got), c.count)
			}
			for i, e := range got {
				want := c.first + uint64(i)
				if e.Seq != want || e.TokenID != AuditEvent(int(want-1)).TokenID {
					t.Errorf("event %d: seq %d jti %s, want seq %d jti %s", i, e.Seq,
						e.TokenID, want, AuditEvent(int(want-1)).TokenID)
				}
			}
		})
	}
}

func testAuditWalk(t *testing.T, s SharedStore) {
	MustAppendAudit(t, s, AuditEvents(0, 17))

	for _, limit := range []int{1, 3, 17, 100} {
		var seqs []uint64
		for after := uint64(0); ; {
			page := MustRangeAudit(t, s, after, limit)
			if len(page) == 0 {
				break
			}
			if len(page) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page))
			}
			for _, e := range page {
				seqs = append(seqs, e.Seq)
			}
			after = page[len(page)-1].Seq
		}
		if len(seqs) != 17 {
			t.Fatalf("limit %d: walked %d events, want 17", limit, len(seqs))
		}
		for i, seq := range seqs {
			if seq != uint64(i+1) {
				t.Fatalf("limit %d: event %d has seq %d, want %d", limit, i, seq, i+1)
			}
		}
	}
}

func testAuditConcurrent(t *testing.T, s SharedStore) {
	const writers, batches, perBatch = 4, 15, 3
	var wg, reader sync.WaitGroup
	errs := make(chan error, writers+1)
	done := make(chan struct{})

	reader.Go(func() { errs <- readAuditUntil(s, done) })
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				if _, err := s.AppendAudit(AuditEvents(w*1000+b*perBatch, perBatch)); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	reader.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	all := MustRangeAudit(t, s, 0, 1000)
	if len(all) != writers*batches*perBatch {
		t.Fatalf("stored %d events, want %d", len(all), writers*batches*perBatch)
	}
	seen := make(map[string]bool)
	for i, e := range all {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d, want %d", i, e.Seq, i+1)
		}
		if seen[e.TokenID] {
			t.Fatalf("event %s stored twice", e.TokenID)
		}
		seen[e.TokenID] = true
	}
}

// readAuditUntil pages through the audit log while it grows, checking that every page is
// dense from after+1.
func readAuditUntil(s SharedStore, done <-chan struct{}) error {
	var after uint64
	for {
		select {
		case <-done:
			return nil
		default:
		}
		page, err := s.RangeAudit(after, 7)
		if err != nil {
			return fmt.Errorf("RangeAudit(%d, 7): %w", after, err)
		}
		for i, e := range page {
			if want := after + uint64(i) + 1; e.Seq != want {
				return fmt.Errorf("RangeAudit(%d, 7)[%d].Seq = %d, want %d", after, i, e.Seq,
					want)
			}
		}
		if len(page) > 0 {
			after = page[len(page)-1].Seq
		}
	}
}

func testSecurityClose(t *testing.T, s SharedStore) {
	MustAppendAudit(t, s, AuditEvents(0, 1))
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	key, id := persistence.NewAPIKey()
	now := time.Now()
	calls := []struct {
		name string
		call func() error
	}{
		{"AppendAudit", func() error { _, err := s.AppendAudit(AuditEvents(1, 1)); return err }},
		{"AppendAudit empty", func() error { _, err := s.AppendAudit(nil); return err }},
		{"RangeAudit", func() error { _, err := s.RangeAudit(0, 10); return err }},
		{"PutRevocation", func() error {
			return s.PutRevocation(persistence.Revocation{Kind: persistence.RevokeJTI,
				Value: "j", At: now, Until: now.Add(time.Hour)})
		}},
		{"Revocations", func() error { _, err := s.Revocations(); return err }},
		{"PutAPIKey", func() error { return s.PutAPIKey(APIKey(id, now), key.Hash()) }},
		{"APIKeyByHash", func() error { _, err := s.APIKeyByHash(key.Hash()); return err }},
		{"APIKeys", func() error { _, err := s.APIKeys(); return err }},
		{"RevokeAPIKey", func() error { return s.RevokeAPIKey(id) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, persistence.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", c.name, err)
		}
	}
}

// sameEvent compares events, times with Equal.
func sameEvent(a, b persistence.AuditEvent) bool {
	at, bt := a.Time, b.Time
	a.Time, b.Time = time.Time{}, time.Time{}
	return a == b && at.Equal(bt)
}

// MustAppendAudit appends events and fails the test on an error.
func MustAppendAudit(t testing.TB, s persistence.SecurityStore,
	events []persistence.AuditEvent) []persistence.AuditEvent {
	t.Helper()
	got, err := s.AppendAudit(events)
	if err != nil {
		t.Fatalf("AppendAudit(%d events): %v", len(events), err)
	}
	return got
}

// MustRangeAudit reads a page of the audit log and fails the test on an error.
func MustRangeAudit(t testing.TB, s persistence.SecurityStore, after uint64,
	limit int) []persistence.AuditEvent {
	t.Helper()
	got, err := s.RangeAudit(after, limit)
	if err != nil {
		t.Fatalf("RangeAudit(%d, %d): %v", after, limit, err)
	}
	return got
}
